"""Forecasting: the estimator (:class:`Forecaster`, which never writes files) and the command's run
(:mod:`rnnlab.forecast.run`: run directory, table, report)."""

from rnnlab.forecast.estimator import ForecastConfig, Forecaster

__all__ = ["ForecastConfig", "Forecaster"]
