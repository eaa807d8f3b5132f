"""``rnnlab bench layer``: forward + backward time per time step of every engine against ``torch.nn``.

For each cell (``torch.nn.RNN``, ``LSTM``, ``GRU``) and each hidden size × batch of the grid, the same
weights run through ``torch.nn`` (the reference) and through ``rnnlab.nn`` with each engine (``torch``,
``fused`` where it supports the device, ``loop`` only at small sizes: it is slow). Times are taken in the
same run, round-robin (one round of every engine, then the next round), and the fastest single call is
kept: on a shared machine it is the figure least disturbed by other work.
The *speedup* is ``time(torch.nn) / time(engine)`` (above 1: faster than torch). Before timing, each
engine's outputs and gradients (input, initial state, every parameter) are compared with ``torch.nn``'s.

A second table times one step through the layer — length 1, batch 1, no gradient, state carried — as a
loop that feeds a layer one step at a time would. (rnnlab's own generation does not go through a layer:
:mod:`rnnlab.text.generate` runs the whole network per character; ``rnnlab bench sample`` times it.)

Usage::

    rnnlab bench layer [--quick] [--cell rnn|lstm|gru|all] [--device auto|cpu|cuda] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import torch

import rnnlab.nn as rnn
from rnnlab import engines, threads

CELLS = {"rnn": (rnn.RNN, torch.nn.RNN, "rnn_tanh"), "lstm": (rnn.LSTM, torch.nn.LSTM, "lstm"),
         "gru": (rnn.GRU, torch.nn.GRU, "gru")}
HIDDEN, BATCH = (20, 64, 128, 256, 512), (1, 16, 64, 256)
QUICK_HIDDEN, QUICK_BATCH = (20, 64, 256), (64,)  # issue 7's targets
STEP_HIDDEN, STEP_INPUT = (64, 256), 64
TOL = 1e-5  # agreement: max |Δ| ≤ TOL · max(1, max |reference|), outputs and gradients alike
MIN_SECONDS = 0.02  # each round calls an engine again and again for at least this long
REFERENCE = "torch.nn"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="rnnlab bench layer", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a sub-minute subset of the grid")
    p.add_argument("--cell", choices=(*CELLS, "all"), default="all", help="which cell(s) to time")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="where to run")
    p.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    p.add_argument("--hidden", type=int, nargs="+", help="hidden sizes (default: the grid's)")
    p.add_argument("--batch", type=int, nargs="+", help="batch sizes (default: the grid's)")
    p.add_argument("--length", type=int, help="sequence length (default 50 on CPU, 100 on GPU)")
    p.add_argument("--repeats", type=int, help="timed rounds per engine (default 5, 2 with --quick)")
    p.add_argument("--threads", help="torch intra-op threads, or 'auto': the cores other processes leave free "
                                     "(rnnlab.threads; default: torch's own choice)")
    return p.parse_args(argv)


def _device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("bench layer: --device cuda was asked for but no CUDA device is available")
    return torch.device("cuda" if name == "auto" and torch.cuda.is_available() else name if name != "auto" else "cpu")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _layers(cell: str, hidden: int, input_size: int, device: torch.device, names: list[str]) -> dict:
    """``torch.nn``'s layer and one ``rnnlab.nn`` layer per engine name, all holding the same weights."""
    ours_cls, theirs_cls, _ = CELLS[cell]
    torch.manual_seed(0)
    layers = {REFERENCE: theirs_cls(input_size, hidden).to(device)}
    for name in names:
        layer = ours_cls(input_size, hidden, engine=name).to(device)
        layer.load_state_dict(layers[REFERENCE].state_dict())
        layers[name] = layer
    return layers


def _forward_backward(layer, x, hx, loss_weights=None):
    """One training-style call: forward, a scalar loss over the outputs and final state, backward."""
    for p in layer.parameters():
        p.grad = None
    out, hn = layer(x, hx)
    states = hn if isinstance(hn, tuple) else (hn,)
    if loss_weights is None:
        loss = out.sum() + sum(s.sum() for s in states)
    else:
        loss = (out * loss_weights[0]).sum() + sum((s * w).sum() for s, w in zip(states, loss_weights[1:]))
    loss.backward()
    return out, states


def _agreement(layers: dict, x, hx) -> dict:
    """Per engine, the largest |Δ| from torch.nn over outputs and over gradients, and whether both are
    within ``TOL`` of the reference's scale."""
    g = torch.Generator().manual_seed(7)
    shapes = [(x.shape[0], x.shape[1], layers[REFERENCE].hidden_size)] + [s.shape for s in hx]
    weights = [torch.randn(s, generator=g).to(x.device) for s in shapes]  # loss = Σ w ⊙ (out, h_n[, c_n])
    results = {}
    for name, layer in layers.items():
        xg = x.detach().clone().requires_grad_()
        hg = tuple(s.detach().clone().requires_grad_() for s in hx)
        out, states = _forward_backward(layer, xg, hg if len(hg) == 2 else hg[0], weights)
        grads = [xg.grad, *(h.grad for h in hg), *(p.grad for p in layer.parameters())]
        results[name] = ([out, *states], grads)
    ref_values, ref_grads = results[REFERENCE]
    report = {}
    for name, (values, grads) in results.items():
        if name == REFERENCE:
            continue
        d_out = max((a - b).abs().max().item() for a, b in zip(values, ref_values))
        d_grad = max((a - b).abs().max().item() for a, b in zip(grads, ref_grads))
        scale_out = max(1.0, max(v.abs().max().item() for v in ref_values))
        scale_grad = max(1.0, max(v.abs().max().item() for v in ref_grads))
        report[name] = {"max_diff_output": d_out, "max_diff_grad": d_grad,
                        "agree": d_out <= TOL * scale_out and d_grad <= TOL * scale_grad}
    return report


def _time_round_robin(calls: dict, repeats: int, device: torch.device) -> dict:
    """Seconds per call of each ``calls[name]()``: the fastest single call over ``repeats`` rounds, engines
    interleaved; each round calls an engine for at least ``MIN_SECONDS``. On a loaded machine most calls
    are interrupted by other work; the fastest is the one that was not."""
    for call in calls.values():  # warm up: compile, fill caches, allocate
        call()
        _sync(device)
    best = {name: float("inf") for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            deadline = time.perf_counter() + MIN_SECONDS
            while True:
                start = time.perf_counter()
                call()
                _sync(device)
                end = time.perf_counter()
                best[name] = min(best[name], end - start)
                if end >= deadline:
                    break
    return best


def _engine_names(cell: str, hidden: int, batch: int, device: torch.device, quick: bool) -> list[str]:
    """The engines worth timing here: every registered one that supports the call; ``loop`` only small."""
    probe = torch.empty(1, batch, hidden, device=device)
    names = []
    for name in engines.names():
        if name == "auto" or not engines.get(name).supports(CELLS[cell][2], probe, None):
            continue
        if name == "loop" and not (hidden <= 20 if quick else hidden <= 64 and batch <= 64):
            continue
        names.append(name)
    return names


def bench_layer(cell: str, hidden: int, batch: int, length: int, device: torch.device, repeats: int,
                quick: bool = False) -> dict:
    """One row of the table: per engine, µs per time step of forward + backward and the speedup."""
    names = _engine_names(cell, hidden, batch, device, quick)
    layers = _layers(cell, hidden, hidden, device, names)
    x = torch.randn(length, batch, hidden, device=device)
    hx = tuple(torch.randn(1, batch, hidden, device=device) for _ in range(2 if cell == "lstm" else 1))
    agreement = _agreement(layers, x, hx)
    h0 = hx if cell == "lstm" else hx[0]

    def call(layer):
        return lambda: _forward_backward(layer, x.detach().requires_grad_(), h0)

    seconds = _time_round_robin({name: call(layer) for name, layer in layers.items()}, repeats, device)
    auto = engines.select("auto", CELLS[cell][2], x, hidden).name
    row = {"cell": cell, "hidden": hidden, "batch": batch, "length": length, "auto": auto, "engines": {}}
    for name, s in seconds.items():
        entry = {"us_per_step": s / length * 1e6, "speedup": seconds[REFERENCE] / s}
        entry.update(agreement.get(name, {}))
        row["engines"][name] = entry
    return row


def bench_step(cell: str, hidden: int, device: torch.device, repeats: int) -> dict:
    """One step through the layer (length 1, batch 1, no gradient, state carried): µs per step per engine."""
    names = _engine_names(cell, hidden, 1, device, quick=True)
    layers = _layers(cell, hidden, STEP_INPUT, device, names)
    x = torch.randn(1, 1, STEP_INPUT, device=device)

    def call(layer):
        state = [None]

        def step():
            with torch.no_grad():
                _, state[0] = layer(x, state[0])
        return step

    seconds = _time_round_robin({name: call(layer) for name, layer in layers.items()}, repeats, device)
    auto = engines.select("auto", CELLS[cell][2], x, hidden).name
    return {"cell": cell, "hidden": hidden, "input": STEP_INPUT, "auto": auto,
            "engines": {name: {"us_per_step": s * 1e6, "speedup": seconds[REFERENCE] / s}
                        for name, s in seconds.items()}}


def _cpu_model() -> str | None:
    """The processor's name where the system says it (Linux: ``/proc/cpuinfo``); sessions have run on
    different machines, and the figures differ between them."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _machine(device: torch.device) -> dict:
    import numpy

    info = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_model": _cpu_model(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "numpy": numpy.__version__, "device": str(device)}
    try:
        import numba

        info["numba"] = numba.__version__
    except ImportError:
        info["numba"] = None
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    if hasattr(os, "getloadavg"):
        info["load_average_1min"] = os.getloadavg()[0]
    return info


def format_table(rows: list[dict], title: str, per: str) -> str:
    """Rows as text: µs per step of torch.nn, then each engine's µs and speedup, the ``auto`` choice and
    whether the engines agreed with torch.nn."""
    names = []
    for row in rows:
        names += [n for n in row["engines"] if n not in names and n != REFERENCE]
    head = ["cell", "hidden", "batch", "length"] if "batch" in rows[0] else ["cell", "hidden", "input"]
    cols = head + [f"{REFERENCE} {per}"] + [f"{n} {per} (x)" for n in names] + ["auto"]
    has_agree = any("agree" in e for row in rows for e in row["engines"].values())
    if has_agree:
        cols.append("agree (max |diff| out / grad)")
    lines = []
    for row in rows:
        cells = [str(row[k]) for k in head]
        cells.append(f"{row['engines'][REFERENCE]['us_per_step']:.1f}")
        for n in names:
            e = row["engines"].get(n)
            cells.append("-" if e is None else f"{e['us_per_step']:.1f} ({e['speedup']:.2f})")
        cells.append(row["auto"])
        if has_agree:
            checked = [e for n, e in row["engines"].items() if "agree" in e]
            ok = all(e["agree"] for e in checked)
            d_out = max(e["max_diff_output"] for e in checked)
            d_grad = max(e["max_diff_grad"] for e in checked)
            cells.append(f"{'yes' if ok else 'NO'} ({d_out:.1e} / {d_grad:.1e})")
        lines.append(cells)
    widths = [max(len(c), *(len(line[i]) for line in lines)) for i, c in enumerate(cols)]
    fmt = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([title, fmt(cols), *(fmt(line) for line in lines)])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = _device(args.device)
    cells = list(CELLS) if args.cell == "all" else [args.cell]
    hidden = args.hidden or (QUICK_HIDDEN if args.quick else HIDDEN)
    batch = args.batch or (QUICK_BATCH if args.quick else BATCH)
    length = args.length or (100 if device.type == "cuda" else 50)
    repeats = args.repeats or (2 if args.quick else 5)
    for what, values in (("--hidden", hidden), ("--batch", batch), ("--length", [length]), ("--repeats", [repeats])):
        if min(values) <= 0:
            raise ValueError(f"bench layer: {what} must be positive, got {min(values)}")
    if args.threads == "auto":
        threads.choose()
    elif args.threads is not None:
        if not args.threads.isdigit() or int(args.threads) <= 0:
            raise ValueError(f"bench layer: --threads must be a positive integer or 'auto', got {args.threads}")
        threads.use(int(args.threads))
    machine = _machine(device)
    started = time.perf_counter()
    rows, steps = [], []
    for cell in cells:
        for h in hidden:
            for n in batch:
                rows.append(bench_layer(cell, h, n, length, device, repeats, args.quick))
        for h in STEP_HIDDEN:
            steps.append(bench_step(cell, h, device, repeats))
    machine["seconds"] = round(time.perf_counter() - started, 1)
    if hasattr(os, "getloadavg"):
        machine["load_average_1min_end"] = os.getloadavg()[0]
    print(format_table(rows, f"forward + backward, µs per time step (speedup vs {REFERENCE}), {device}", "us"))
    print()
    print(format_table(steps, "one step through the layer (length 1, batch 1, no grad), µs per step", "us"))
    print(f"\nmachine: {machine['cpu_model'] or machine['processor']}, {machine['cpu_count']} CPUs, "
          f"torch threads {machine['torch_threads']}"
          + (f", load average {machine['load_average_1min']:.1f}" if "load_average_1min" in machine else "")
          + f"; {machine['seconds']:.0f} s")
    if args.json:
        result = {"benchmark": "layer", "machine": machine, "tolerance": TOL,
                  "settings": {"cells": cells, "hidden": list(hidden), "batch": list(batch), "length": length,
                               "repeats": repeats, "quick": args.quick},
                  "rows": rows, "step": steps}
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
