"""Test hygiene shared by every test file."""

import os
import sys

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")  # figures are files here; no display
# engine="auto" takes the fused engine only once its kernels are on disk (rnnlab.engines.fused.cache): decide
# that once for the whole session, subprocesses included, so no test sees its engine change half-way
if "RNNLAB_FUSED_AUTO" not in os.environ:
    from rnnlab.engines.fused import cache

    os.environ["RNNLAB_FUSED_AUTO"] = "1" if cache.stamp().exists() else "0"
    if os.environ["RNNLAB_FUSED_AUTO"] == "0":
        # a fresh clone: build the kernels beside the tests (low priority), so that the fused engine's own
        # tests, which compile in the foreground, find most of them on disk by the time they run
        cache.build_in_background()


@pytest.fixture(autouse=True)
def _close_figures():
    """Close any matplotlib figure a test left open, so figures do not pile up across the suite."""
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
