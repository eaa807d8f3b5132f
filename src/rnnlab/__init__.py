"""rnnlab: recurrent neural networks on sequences — torch-exact layers, forecasting, character models,
and the lesson's "why" made visible."""

__version__ = "0.1.0"
