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

import importlib

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
