"""Test hygiene shared by every test file."""

import os
import sys

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")  # figures are files here; no display
# engine="auto" takes the fused engine only once its kernels are on disk (rnnlab.engines.fused.cache): decide
# that once for the whole session, subprocesses included, so no test sees its engine change half-way
_COLD = False
if "RNNLAB_FUSED_AUTO" not in os.environ:
    from rnnlab.engines.fused import cache

    _COLD = not cache.stamp().exists()
    os.environ["RNNLAB_FUSED_AUTO"] = "0" if _COLD else "1"

# the test files that run the fused engine's kernels; they run last, so that on a fresh clone the build
# below is done by the time they start
_KERNEL_USERS = ("tests/engines/fused/", "tests/nn/", "tests/bench/test_bench.py")


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: item.nodeid.startswith(_KERNEL_USERS))  # stable: the order within each kept
    if _COLD and any(item.nodeid.startswith(_KERNEL_USERS) for item in items):
        _build_the_kernels_beside_the_tests()


def _build_the_kernels_beside_the_tests():
    """A fresh clone: one build compiles every kernel the tests use (float64 and the LSTM too), once, at
    normal priority on the other core while the tests that need no kernels run; a test about to load the
    kernels waits for it instead of compiling the same ones a second time beside it."""
    from rnnlab.engines import fused
    from rnnlab.engines.fused import cache, engine

    directory = cache._directory()  # the real one: tests of the cache point it elsewhere for a while
    if not cache.build_in_background(every=True, idle=False):
        return
    load_kernels, waited = engine.load_kernels, []

    def load_kernels_after_the_build():
        if not waited:
            cache.wait_for_build(directory=directory)
            waited.append(True)
        return load_kernels()

    engine.load_kernels = fused.load_kernels = load_kernels_after_the_build


@pytest.fixture(autouse=True)
def _close_figures():
    """Close any matplotlib figure a test left open, so figures do not pile up across the suite."""
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
