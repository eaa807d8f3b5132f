"""The figures of the text and explain reports, read back from their matplotlib axes; every report in a browser.

A figure can look right and say something wrong (a curve drawn against the wrong x). These tests read the
data of every line a figure draws and check that the x-ranges line up with what was computed: the steps of
the history, the time steps of the input, the distances back from the loss, the delays. The slow test at
the end opens each kind of report in headless Chromium (Debian's ``chromium``; skipped where it is not
installed) and checks that every image loads.
"""

import csv
import shutil
import subprocess

import matplotlib
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from rnnlab import cli
from rnnlab.explain.hidden import hidden_states
from rnnlab.explain.lookback import LookbackConfig, lookback_effect
from rnnlab.explain.memory import MemoryConfig, memory_horizon
from rnnlab.explain.tasks import lesson_sine
from rnnlab.models import SequenceRegressor

matplotlib.use("Agg")

TEXT = "the quick brown fox jumps over the lazy dog. " * 60


@pytest.fixture
def saved_figures(monkeypatch):
    """Every figure saved while the test runs, with its file name, read before it is closed."""
    saved = {}
    original = Figure.savefig

    def recording(self, fname, *args, **kwargs):
        saved[getattr(fname, "name", str(fname)).rsplit("/", 1)[-1]] = [
            [(line.get_label(), np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float))
             for line in ax.get_lines()] for ax in self.axes]
        return original(self, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", recording)
    return saved


def _lines(fig):
    return [{line.get_label(): np.asarray(line.get_xdata(), float) for line in ax.get_lines()} for ax in fig.axes]


def _text_run(tmp_path, name="text-run"):
    data = tmp_path / "fox.txt"
    data.write_text(TEXT, encoding="utf-8")
    out = tmp_path / name
    assert cli.main(["text", "--data", str(data), "--hidden", "8", "--layers", "1", "--embedding", "4",
                     "--seq-len", "10", "--batch-size", "4", "--steps", "12", "--eval-every", "4", "--quiet",
                     "--out", str(out)]) == 0
    return out


def test_text_loss_curves_are_drawn_at_the_steps_of_the_history(tmp_path, saved_figures, capsys):
    out = _text_run(tmp_path)
    with open(out / "history.csv", newline="", encoding="utf-8") as f:
        steps = [float(row["step"]) for row in csv.DictReader(f)]
    assert len(steps) >= 3 and steps[-1] == 12
    (axes,) = saved_figures["loss.png"]
    lines = {label: (x, y) for label, x, y in axes}
    assert set(lines) == {"train", "validation"}
    for x, y in lines.values():
        np.testing.assert_array_equal(x, steps)  # both curves over the same steps, those of the history
        assert np.isfinite(y[-1]) and 0 < y[-1] < 10  # bits per char of a small alphabet
    assert "loss.png" in (out / "report.html").read_text(encoding="utf-8")


def test_hidden_state_traces_run_along_the_input(tmp_path):
    torch.manual_seed(0)
    model = SequenceRegressor(input_size=1, hidden_size=5, num_layers=2)
    x = torch.sin(torch.linspace(0, 6, 30))[:, None]
    fig = hidden_states(model, x, "test sine").plot()
    heat_maps = [ax for ax in fig.axes if ax.get_images()]
    assert len(heat_maps) == 2
    for ax in heat_maps:
        left, right = ax.get_images()[0].get_extent()[:2]
        assert (left, right) == (-0.5, 29.5)  # one column per time step 0..29
    traces = [lines for lines in _lines(fig) if "input x_t" in lines]
    assert len(traces) == 2  # one panel per layer
    for lines in traces:
        for label, xs in lines.items():
            np.testing.assert_array_equal(xs, np.arange(30), err_msg=label)  # every unit on the input's steps


def test_lookback_predictions_line_up_with_the_sine_and_the_test_span():
    result = lookback_effect(LookbackConfig(lookbacks=(1, 3), epochs=2, device="cpu", quiet=True))
    fig = result.plot()
    t, _ = lesson_sine()
    t = t.numpy()
    mse, predictions, errors = fig.axes[:3]
    np.testing.assert_array_equal(mse.get_lines()[0].get_xdata(), [1, 3])
    lines = _lines(fig)
    np.testing.assert_allclose(lines[1]["sin t"], t)
    for ax_lines in lines[1:3]:
        for w in (1, 3):
            np.testing.assert_allclose(ax_lines[f"lookback {w}"], t[result.targets])  # the targets' own times
            assert t[0] <= ax_lines[f"lookback {w}"][0] and ax_lines[f"lookback {w}"][-1] == t[-1]
    for ax in (predictions, errors):
        (span,) = [p for p in ax.patches if p.get_label() == "test"]
        x0, x1 = span.get_x(), span.get_x() + span.get_width()
        assert x0 == pytest.approx(t[result.test_start]) and x1 == pytest.approx(t[-1])


# The gradients and memory figures' data are checked in tests/explain/ (test_gradients.py, test_memory.py).


# -- in a real browser ----------------------------------------------------------------------------------------

# marks each image once the page has loaded: did it decode to something with a width?
_MARK_IMAGES = ("<script>window.addEventListener('load', () => { for (const img of document.images) "
                "img.setAttribute('data-loaded', img.complete && img.naturalWidth > 0 ? 'yes' : 'no'); });</script>")


def _browser():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def _images_in_browser(browser, report):
    """The ``data-loaded`` marks of every ``<img>`` of ``report`` (a copy with the marking script, beside it)."""
    page = report.with_name("_browser_check.html")
    page.write_text(report.read_text(encoding="utf-8").replace("</body>", _MARK_IMAGES + "</body>"), encoding="utf-8")
    try:
        dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
                              "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                             capture_output=True, text=True, timeout=120).stdout
    finally:
        page.unlink()
    return dom.count("<img"), dom.count('data-loaded="yes"'), dom.count('data-loaded="no"')


@pytest.mark.slow
def test_every_image_of_every_report_loads_in_a_browser(tmp_path, capsys):
    browser = _browser()
    if browser is None:
        pytest.skip("no headless browser (Debian: apt-get install chromium)")
    reports = [_text_run(tmp_path) / "report.html"]
    assert cli.main(["forecast", "--epochs", "2", "--quiet", "--out", str(tmp_path / "forecast-run")]) == 0
    reports.append(tmp_path / "forecast-run" / "report.html")
    config = MemoryConfig(cells=("rnn",), delays=(1, 2), hidden_size=4, epochs=1,
                          batches_per_epoch=2, batch_size=8, test_size=30, device="cpu", quiet=True)
    memory_horizon(config).save(tmp_path / "memory-run")
    reports.append(tmp_path / "memory-run" / "report.html")
    for report in reports:
        images, loaded, broken = _images_in_browser(browser, report)
        assert images >= 1 and loaded == images and broken == 0, (report, images, loaded, broken)
