"""Test hygiene shared by every test file."""

import os
import sys

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")  # figures are files here; no display


@pytest.fixture(autouse=True)
def _close_figures():
    """Close any matplotlib figure a test left open, so figures do not pile up across the suite."""
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
