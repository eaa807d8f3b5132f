"""Data: univariate series (built-in, bundled, CSV) and generated ones; see :mod:`rnnlab.data.series`."""

from rnnlab.data.series import BUILTIN, BUNDLED, Scaler, as_series, describe, describe_line, load, windows
from rnnlab.data.synthetic import sine

__all__ = ["BUILTIN", "BUNDLED", "Scaler", "as_series", "describe", "describe_line", "load", "sine", "windows"]
