"""rnnlab.report: the page parses, every figure it names exists beside it as a PNG, nothing external."""

from __future__ import annotations

from html.parser import HTMLParser

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from rnnlab.report import Section, save_figure, write_report  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Page(HTMLParser):
    """Collects tags, attributes and text of an HTML page."""

    def __init__(self):
        super().__init__()
        self.tags, self.imgs, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "img":
            self.imgs.append(dict(attrs))

    def handle_data(self, data):
        self.text.append(data)


def _figure(run_dir, name):
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [1, 0, 1])
    return save_figure(fig, run_dir, name)


def test_report_is_self_contained_and_names_existing_pngs(tmp_path):
    open_before = set(plt.get_fignums())  # other tests may leave figures open
    loss = _figure(tmp_path, "loss.png")
    hidden = _figure(tmp_path, "hidden_states.png")
    assert set(plt.get_fignums()) == open_before  # save_figure closed them
    path = write_report(tmp_path, "text run <1>", [
        Section("Metrics", "Bits per char on held-out text.\n\nSecond paragraph.",
                table=[{"model": "lstm", "bpc": 1.23456789}, {"model": "gru", "bpc": float("nan"), "note": "a&b"}]),
        Section("Training", figures=[loss, hidden]),
    ])
    assert path == tmp_path / "report.html"
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    assert len(page.imgs) == 2
    for img in page.imgs:
        assert (tmp_path / img["src"]).read_bytes()[:8] == PNG_SIGNATURE
        assert img["alt"].strip()
    tags = [t for t, _ in page.tags]
    assert "script" not in tags and "link" not in tags and "style" in tags
    for _, attrs in page.tags:
        for value in attrs.values():
            assert "://" not in (value or "")  # no external assets or links
    text = "".join(page.text)
    assert "text run <1>" in text and "1.235" in text and "a&b" in text and "Second paragraph." in text
    assert tags.count("tr") == 3 and tags.count("th") == 3  # header + 2 rows; columns model, bpc, note


def test_missing_figure_and_bad_name(tmp_path):
    with pytest.raises(ValueError, match="figure 'absent.png' of section 'S' is not in"):
        write_report(tmp_path, "t", [Section("S", figures=["absent.png"])])
    assert not (tmp_path / "report.html").exists()
    fig = plt.figure()
    with pytest.raises(ValueError, match="plain file name ending in .png, got 'sub/x.png'"):
        save_figure(fig, tmp_path, "sub/x.png")
    plt.close(fig)


def test_preformatted_text_keeps_its_whitespace_and_is_escaped(tmp_path):
    sample = "def f(x):\n    return x < 1\n\n\n  # done"
    path = write_report(tmp_path, "samples", [Section("Sample", pre=sample)])
    page = path.read_text(encoding="utf-8")
    assert "<pre>def f(x):\n    return x &lt; 1\n\n\n  # done</pre>" in page


def test_log_scale_labels_decades_in_plain_text_and_no_stray_minor_labels():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rnnlab.report import log_scale

    fig, (wide, narrow) = plt.subplots(1, 2)
    wide.plot([1, 2], [5e-4, 3])
    log_scale(wide)
    wide.set_ylim(5e-4, 3)
    narrow.plot([1, 2], [0.5, 0.9])
    log_scale(narrow)
    fig.canvas.draw()

    def shown(ax, minor=False):  # the labels of the ticks in view
        low, high = ax.get_ylim()
        return [t.get_text() for t in ax.yaxis.get_ticklabels(minor=minor)
                if t.get_text() and low <= t.get_position()[1] <= high]

    assert shown(wide) == ["10⁻³", "10⁻²", "10⁻¹", "10⁰"]  # plain text, no mathtext
    assert shown(wide, minor=True) == []  # no "3×10⁰"
    minors = shown(narrow, minor=True)
    assert "0.5" in minors and "0.9" in minors  # less than a decade in view: the axis still has numbers
    plt.close(fig)


def test_log_scale_across_a_decade_in_a_narrow_view_labels_numbers_that_do_not_touch():
    import matplotlib

    matplotlib.use("Agg")
    from rnnlab.report import log_scale, new_figure

    fig, ax = new_figure(4, 3)
    ax.plot([1, 2], [0.37, 1.7])  # the panel report's MASE scatter: 0.66 decades around 1
    log_scale(ax)
    ax.set_ylim(0.37, 1.7)
    fig.savefig(__import__("io").BytesIO(), format="png")
    low, high = ax.get_ylim()
    shown = [t.get_text() for minor in (False, True) for t in ax.yaxis.get_ticklabels(minor=minor)
             if t.get_text() and low <= t.get_position()[1] <= high]
    assert "1" in shown and "10⁰" not in shown  # one format on the axis
    assert "0.9" not in shown and {"0.4", "0.5", "0.8"} <= set(shown)  # 0.9 would touch the 1
