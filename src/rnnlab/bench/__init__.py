"""``rnnlab bench``: the performance tables of DESIGN.md, one module per table.

Each benchmark is a module ``rnnlab.bench.<name>`` with ``main(argv) -> int`` that prints a table and,
with ``--json FILE``, writes its figures; ``--quick`` is a sub-minute subset. ``benchmarks/<name>.py``
are thin scripts calling the same ``main``.

Example:
    >>> from rnnlab import bench
    >>> bench.NAMES
    ('layer', 'forecast', 'text', 'sample', 'contention')
"""

from __future__ import annotations

import argparse
import importlib
import json

NAMES = ("layer", "forecast", "text", "sample", "contention")


def run(name: str, argv: list[str] | None = None) -> int:
    """Run benchmark ``name`` with its own command-line arguments ``argv``; returns the exit status.

    An unknown name, or a benchmark whose module is not part of this installation, is a ``ValueError``.
    """
    if name not in NAMES:
        raise ValueError(f"bench: unknown benchmark '{name}'; choose one of {', '.join(NAMES)}")
    module_name = f"{__name__}.{name}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name != module_name:
            raise
        raise ValueError(f"bench: the '{name}' benchmark is not available in this installation "
                         f"({module_name} is missing)") from None
    return int(module.main(list(argv or [])) or 0)


def add_common_arguments(parser: argparse.ArgumentParser, threads: bool = True) -> None:
    """The flags every table's command shares: ``--json FILE`` and, where the table trains, ``--threads N``."""
    parser.add_argument("--json", metavar="FILE", help="write the figures here")
    if threads:
        parser.add_argument("--threads", type=int, help="torch CPU threads (default: auto, the cores other "
                                                         "processes leave free: rnnlab.threads)")


def finish(args: argparse.Namespace, result: dict) -> int:
    """Write ``result`` to ``args.json`` when asked (UTF-8, indented); the exit status of a finished table."""
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2, default=str)
    return 0
