"""Forecasting: the estimators (:class:`Forecaster` for one series, :class:`PanelForecaster` for many; neither
writes files but through ``save``) and the command's run (:mod:`rnnlab.forecast.run`: run directory, table,
report).

The estimators are imported on first use, so that a module of this package that needs no torch (the report's
figures, :mod:`rnnlab.forecast.figures`, drawn in a process that never loads torch: :mod:`rnnlab.drawing`)
imports without it.
"""

__all__ = ["ForecastConfig", "Forecaster", "PanelForecaster"]


def __getattr__(name: str):
    if name == "Forecaster":
        from rnnlab.forecast.estimator import Forecaster

        return Forecaster
    if name == "ForecastConfig":
        from rnnlab.forecast.settings import ForecastConfig

        return ForecastConfig
    if name == "PanelForecaster":
        from rnnlab.forecast.panel import PanelForecaster

        return PanelForecaster
    raise AttributeError(f"module 'rnnlab.forecast' has no attribute {name!r}")
