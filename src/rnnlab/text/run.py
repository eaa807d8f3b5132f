"""One ``rnnlab text`` run: encode the text, fit a :class:`~rnnlab.text.CharModel`, measure, sample, write the run.

Everything a user can get wrong (a setting, a missing or undecodable file, a text too short for the batch)
is checked before the run directory is created. Under torchrun every rank trains; only rank 0 writes files.

The run directory (DESIGN.md): ``config.json`` (settings, vocabulary, data description, versions; written
before training, so that an interrupted run can be resumed), ``corpus.bin`` (the encoded text, so that
``resume`` needs nothing else), ``checkpoint/``, then ``model.safetensors``, ``metrics.json``,
``history.csv``, ``samples.txt``, ``report.html`` with ``loss.png``.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

from rnnlab import distributed, rundir
from rnnlab.config import resume_with, to_dict
from rnnlab.data.text import SPLIT, Corpus, Vocab
from rnnlab.text.estimator import LN2, CharModel, TextConfig, check_settings, check_task, config_json

RESUMABLE = ("lr", "steps", "minutes", "patience", "eval_every", "device", "quiet")  # may change on resume
SAMPLE_TEMPERATURES = (0.5, 0.8, 1.0)  # samples.txt and the report
SAMPLE_LENGTH = 400  # characters per sample


@dataclass
class TextRun:
    """What a run produced: its directory, ``metrics.json``'s content, the printed table, the model, samples."""

    run_dir: Path
    metrics: dict
    table: list[dict]  # one row per split: nats and bits per character
    model: CharModel
    samples: dict[float, str]  # temperature -> sample
    writer: bool = True  # False on the ranks other than 0 under torchrun: they neither write nor print


def run(config: TextConfig, out: str | Path | None = None, resume: str | Path | None = None,
        data: str | Path | None = None, given: Mapping[str, Any] | None = None) -> TextRun:
    """Train and evaluate a character model as ``config`` says and write its run directory.

    Args:
        config: the resolved settings.
        out: the run directory (default ``runs/text-<timestamp>``).
        resume: a run directory to continue from its checkpoint, with its stored settings and corpus
            (``config`` is not used).
        given: with ``resume``, settings given again: those that may change (:data:`RESUMABLE`) are applied
            and recorded in ``config.json``; any other that differs from the run is a ``ValueError`` naming it.
        data: the text itself, or a path, instead of ``config.data`` (see
            :meth:`rnnlab.data.text.Corpus.build`).
    """
    writer = distributed.rank() == 0  # under torchrun only rank 0 owns and writes the run directory
    if resume is not None:
        run_dir = Path(resume)
    else:
        run_dir = rundir.check_new(rundir.new_run_dir("text", out))  # an existing run is never overwritten
        check_settings(CharModel(config).resolved())  # a bad setting: no directory is made
    with rundir.claim(run_dir, resume=resume is not None) if writer else nullcontext():
        return _run(config, run_dir, resume, data, writer, given or {})


def _run(config: TextConfig, run_dir: Path, resume, data, writer: bool, given: Mapping[str, Any]) -> TextRun:
    """:func:`run` once the run directory is this process's."""
    if resume is not None:
        model, corpus = _stored(run_dir, given, writer)
    else:
        model = CharModel(config)
        corpus = model.build_corpus(data, out=run_dir / "corpus.bin" if writer else None)
        if writer:
            settings = replace(model.resolved(), data=corpus.source)
            rundir.atomic_write_json(run_dir / "config.json", config_json(settings, corpus.vocab, corpus))
    model.fit(corpus, run_dir=run_dir, resume=resume is not None)
    m, seed = model.metrics_, model.config.seed
    table = [{"split": "validation", "nats/char": m["val_loss"], "bits/char": m["val_bpc"]},
             {"split": "test", "nats/char": m["test_loss"], "bits/char": m["test_bpc"]}]
    if not writer:
        return TextRun(run_dir, m, table, model, {}, writer=False)
    samples = {t: model.sample(SAMPLE_LENGTH, temperature=t, seed=seed) for t in SAMPLE_TEMPERATURES}
    model.save(run_dir)
    rundir.atomic_write_json(run_dir / "metrics.json", m)
    rundir.write_history_csv(run_dir / "history.csv", model.result_.history)
    rundir.atomic_write_text(run_dir / "samples.txt",
                             "".join(f"--- temperature {t} ---\n{s}\n\n" for t, s in samples.items()))
    write_report(run_dir, model, table, samples)
    return TextRun(run_dir, m, table, model, samples)


def _stored(run_dir: Path, given: Mapping[str, Any], writer: bool) -> tuple[CharModel, Corpus]:
    """The model (unfitted, with the run's settings and the changes ``given`` that may be made) and the
    encoded corpus of an interrupted run."""
    stored = rundir.read_run_config(run_dir)
    check_task(stored, run_dir)
    config, changed = resume_with(TextConfig, stored["config"], given, "text", RESUMABLE)
    data = stored.get("data") or {}
    corpus = Corpus.open(run_dir / "corpus.bin", Vocab(stored["vocab"]), data.get("source", ""),
                         tuple(data.get("split", SPLIT)), data.get("n_chars"), data.get("sha256"),
                         data.get("encoding"))  # a grown or changed corpus.bin is refused
    if changed and writer:
        rundir.record_resume(run_dir, to_dict(config), changed)
    return CharModel(config), corpus


def format_table(rows: list[dict]) -> str:
    """The table of :attr:`TextRun.table` as aligned text: nats and bits per character of each split."""
    lines = [f"{'split':<12}{'nats/char':>10}{'bits/char':>10}"]
    lines += [f"{row['split']:<12}{row['nats/char']:>10.4f}{row['bits/char']:>10.4f}" for row in rows]
    return "\n".join(lines)


def write_report(run_dir: Path, model: CharModel, table: list[dict], samples: dict[float, str]) -> Path:
    """``report.html``: the result table, the loss curves (``loss.png``) and the samples."""
    from rnnlab import report

    m, c = model.metrics_, model.config
    summary = (f"{model.corpus_.describe()}. {m['steps']} steps in {m['train_seconds']:.0f} s "
               f"({m['chars_per_second']:,.0f} chars/s), {m['parameters']:,} parameters, "
               f"{c.cell} {c.num_layers}x{c.hidden_size}.")
    rounded = [{k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()} for row in table]
    sections = [report.Section("Result", summary, table=rounded),
                report.Section("Loss curves", figures=[_loss_figure(model.result_.history, run_dir)])]
    sections += [report.Section(f"Sample, temperature {t}", pre=s) for t, s in samples.items()]
    return report.write_report(run_dir, "rnnlab text", sections)


def _loss_figure(history: list[dict], run_dir: Path) -> str:
    from rnnlab import report

    fig, ax = report.new_figure(7, 4)
    steps = [row["step"] for row in history]
    for key, label in (("train_loss", "train"), ("val_loss", "validation")):
        ax.plot(steps, [row[key] / LN2 if row.get(key) is not None else math.nan for row in history],
                marker="o", ms=3, label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("bits per character")
    ax.legend()
    ax.grid(alpha=0.3)
    return report.save_figure(fig, run_dir, "loss.png")
