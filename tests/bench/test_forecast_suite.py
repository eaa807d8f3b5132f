"""rnnlab bench forecast --suite NAME hands the other arguments to rnnlab.bench.NAME's main."""

import sys
import types

import pytest

from rnnlab.bench import forecast


def test_suite_dispatches_to_its_module(monkeypatch):
    seen = {}
    module = types.ModuleType("rnnlab.bench.fake_suite")
    module.main = lambda argv: seen.setdefault("argv", argv) and 0
    monkeypatch.setitem(sys.modules, "rnnlab.bench.fake_suite", module)
    assert forecast.main(["--suite", "fake_suite", "--quick", "--json", "x.json"]) == 0
    assert seen["argv"] == ["--quick", "--json", "x.json"]
    with pytest.raises(ValueError, match="unknown suite 'nosuch'"):
        forecast.main(["--suite=nosuch"])
