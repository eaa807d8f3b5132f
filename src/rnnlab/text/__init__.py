"""Character-level text: the estimator (:class:`CharModel`), generation one step per character
(:mod:`rnnlab.text.generate`), and the command's run."""

from rnnlab.text.estimator import CharModel, TextConfig

__all__ = ["CharModel", "TextConfig"]
