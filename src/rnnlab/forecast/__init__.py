"""Forecasting: the estimators (:class:`Forecaster` for one series, :class:`PanelForecaster` for many; neither
writes files but through ``save``) and the command's run (:mod:`rnnlab.forecast.run`: run directory, table,
report)."""

from rnnlab.forecast.estimator import Forecaster
from rnnlab.forecast.settings import ForecastConfig
from rnnlab.forecast.panel import PanelForecaster

__all__ = ["ForecastConfig", "Forecaster", "PanelForecaster"]
