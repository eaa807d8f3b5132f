"""Character-level text: the estimator (:class:`CharModel`, which writes no run directory), generation one
step per character (:mod:`rnnlab.text.generate`), and the command's run (:mod:`rnnlab.text.run`: run
directory, table, samples, report)."""

from rnnlab.text.estimator import CharModel, TextConfig

__all__ = ["CharModel", "TextConfig"]
