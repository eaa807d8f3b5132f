"""The HTML report of a run: one self-contained page, readable offline.

``report.html`` has its CSS inline and no scripts, fonts or links to anything outside the run directory.
Figures are PNG files beside it (written by :func:`save_figure`), referenced as ``<img src="name.png">``
with alt text, so the page, its figures and the rest of the run directory travel together as one folder.
Tables are built from lists of dicts (the columns are the keys, in order of first appearance); floats are
shown with 4 significant digits. All text is HTML-escaped.

Example:
    >>> import tempfile
    >>> run = Path(tempfile.mkdtemp())
    >>> page = write_report(run, "demo", [Section("Metrics", table=[{"model": "rnn", "mse": 0.1234567}])])
    >>> "0.1235" in page.read_text()
    True
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from rnnlab import __version__
from rnnlab.rundir import atomic_write_text

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; color: #222; line-height: 1.5; }
h1 { border-bottom: 2px solid #444; padding-bottom: .3rem; }
h2 { margin-top: 2rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 1rem 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ccc; padding: .25rem .6rem; text-align: right; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; }
figure { margin: 1rem 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #666; font-size: .9rem; }
footer { margin-top: 3rem; color: #888; font-size: .85rem; }
"""


@dataclass
class Section:
    """One part of the page: a heading, a paragraph (blank lines split paragraphs), a table, figures."""

    heading: str
    text: str = ""
    table: list[dict] | None = None  # rows; columns are the keys
    figures: Sequence[str] = ()  # PNG file names in the run directory (from save_figure)
    pre: str = ""  # preformatted text (samples, code), shown verbatim with its whitespace


def new_figure(width: float, height: float) -> tuple[Any, Any]:
    """``(figure, axes)``: one axes on a ``width`` x ``height`` inch figure made without ``pyplot``.

    For the figures of a run's report: no pyplot import and figure manager, and :func:`save_figure` gives it
    fixed margins (in inches, wider where the axes has a label or a title) instead of measuring every text
    with ``bbox_inches="tight"``, which draws the figure twice. Together ~0.4 s of CPU in the three figures
    of a default ``rnnlab forecast`` (issue 19). Nothing to close: it is freed with its last reference.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    return fig, fig.add_subplot()


def save_figure(fig: Any, run_dir: str | Path, name: str) -> str:
    """Save a matplotlib figure as ``run_dir/name`` (PNG) and return ``name`` for a Section.

    A pyplot figure is cropped to its contents (``bbox_inches="tight"``) and closed; one from
    :func:`new_figure` gets fixed margins.
    """
    if not name.endswith(".png") or "/" in name or "\\" in name:
        raise ValueError(f"report: figure name must be a plain file name ending in .png, got {name!r}")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if getattr(fig.canvas, "manager", None) is None:  # not pyplot's: see new_figure
        _fixed_margins(fig)
        fig.savefig(run_dir / name, format="png", dpi=110)
        return name
    import matplotlib.pyplot as plt

    try:
        fig.savefig(run_dir / name, format="png", dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    return name


def _fixed_margins(fig: Any) -> None:
    """Margins in inches for a one-axes figure: room for the tick labels, and for labels and a title if any."""
    ax = fig.axes[0]
    width, height = fig.get_size_inches()
    left = 0.7 + (0.25 if ax.get_ylabel() else 0.0)
    bottom = 0.4 + (0.25 if ax.get_xlabel() else 0.0)
    top = 0.35 if ax.get_title() else 0.15
    fig.subplots_adjust(left=left / width, right=1 - 0.2 / width, bottom=bottom / height, top=1 - top / height)


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def log_scale(ax: Any, axis: str = "y") -> None:
    """Put ``ax``'s ``axis`` ("x" or "y") on a log scale labelled in plain text: decades as 10⁻³, 10⁻², …; the
    ticks between them unlabelled, unless the view spans less than a decade: then every tick as a number
    (0.5, 0.6, 1, 2), except a 0.9 (9, 90) next to its decade's label, which it would touch.

    matplotlib's own labels are mathtext (its parser costs ~0.2 s of a figure's first draw) and label some
    minor ticks when a decade is only partly in view (a stray "3×10⁰" at the top of an axis).
    """
    from matplotlib.ticker import FuncFormatter

    target = ax.yaxis if axis == "y" else ax.xaxis
    (ax.set_yscale if axis == "y" else ax.set_xscale)("log")

    def narrow() -> bool:  # less than a decade in view
        low, high = sorted(target.get_view_interval())
        return low > 0 and math.log10(high / low) < 1

    def major(value: float, _position: int) -> str:
        exponent = math.log10(value) if value > 0 else math.nan
        if not math.isfinite(exponent) or abs(exponent - round(exponent)) > 1e-9 or narrow():
            return f"{value:g}"
        return "10" + str(round(exponent)).translate(_SUPERSCRIPT)

    def minor(value: float, _position: int) -> str:
        if not narrow() or value <= 0:
            return ""
        decade = 10.0 ** math.floor(math.log10(value) + 1e-9)
        if round(value / decade) == 9 and 10 * decade <= max(target.get_view_interval()):
            return ""
        return f"{value:g}"

    target.set_major_formatter(FuncFormatter(major))
    target.set_minor_formatter(FuncFormatter(minor))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.4g}"
    return html.escape("" if value is None else str(value))


def _table(rows: list[dict]) -> str:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(row.get(c))}</td>" for c in columns) + "</tr>\n" for row in rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>"


def _section(section: Section, run_dir: Path) -> str:
    parts = [f"<section>\n<h2>{html.escape(section.heading)}</h2>"]
    for paragraph in section.text.split("\n\n"):
        if paragraph.strip():
            parts.append(f"<p>{html.escape(paragraph.strip())}</p>")
    if section.pre:
        parts.append(f"<pre>{html.escape(section.pre)}</pre>")
    if section.table:
        parts.append(_table(section.table))
    for name in section.figures:
        if not (run_dir / name).is_file():
            raise ValueError(f"report: figure {name!r} of section {section.heading!r} is not in {run_dir}")
        alt = html.escape(f"{section.heading}: {Path(name).stem.replace('_', ' ')}", quote=True)
        parts.append(f'<figure><img src="{html.escape(name, quote=True)}" alt="{alt}">'
                     f"<figcaption>{html.escape(name)}</figcaption></figure>")
    parts.append("</section>")
    return "\n".join(parts)


def write_report(run_dir: str | Path, title: str, sections: list[Section]) -> Path:
    """Write ``run_dir/report.html`` (atomically) and return its path.

    Raises:
        ValueError: a section names a figure that is not in ``run_dir``.
    """
    run_dir = Path(run_dir)
    body = "\n".join(_section(s, run_dir) for s in sections)
    page = (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n{body}\n"
        f"<footer>Written by rnnlab {__version__}.</footer>\n</body>\n</html>\n"
    )
    path = run_dir / "report.html"
    atomic_write_text(path, page)
    return path
