"""rnnlab: recurrent neural networks on sequences — torch-exact layers, forecasting, character models,
and the lesson's "why" made visible."""

__version__ = "0.1.0"


def __getattr__(name: str):
    """The estimators, imported on first use so that ``import rnnlab`` (and the CLI) starts fast."""
    if name == "CharModel":
        from rnnlab.text import CharModel

        return CharModel
    if name == "Forecaster":
        from rnnlab.forecast import Forecaster

        return Forecaster
    raise AttributeError(f"module 'rnnlab' has no attribute {name!r}")


def load(run_dir):
    """A trained estimator from a run directory: a ``Forecaster`` or a ``CharModel``, as its ``config.json`` says.

    Raises:
        ValueError: ``run_dir`` is not a run directory, or holds a task nothing here can load.
    """
    from rnnlab.rundir import read_run_config

    task = read_run_config(run_dir).get("task")
    if task == "forecast":
        from rnnlab.forecast import Forecaster, PanelForecaster

        return (PanelForecaster if "panel" in read_run_config(run_dir) else Forecaster).load(run_dir)
    if task == "text":
        from rnnlab.text import CharModel

        return CharModel.load(run_dir)
    raise ValueError(f"load: {run_dir} holds a '{task}' run; only forecast and text runs hold a model")
