"""rnnlab: recurrent neural networks on sequences — torch-exact layers, forecasting, character models,
and the lesson's "why" made visible."""

__version__ = "0.1.0"


def __getattr__(name: str):
    """The estimators, imported on first use so that ``import rnnlab`` (and the CLI) starts fast."""
    if name == "CharModel":
        from rnnlab.text import CharModel

        return CharModel
    raise AttributeError(f"module 'rnnlab' has no attribute {name!r}")
