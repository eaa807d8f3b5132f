"""The shape of the house (DESIGN.md, "The house"), read from the source with ``ast``: imports point down the
floors only, no module imports another module's private name, and no function in the training loop or the
task packages runs over 80 lines. Run as a script, it prints the picture of the imports:

    python tests/test_house.py
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "rnnlab"

# DESIGN.md: cli -> forecast/text/explain -> train, models, data, rundir -> nn -> engines. A part may import
# parts on its own floor or below. The package itself (``rnnlab``: ``__version__``, the lazy ``load``) sits
# outside the floors; its faces' imports inside functions are the one way up.
FLOORS = {
    "cli": 5, "__main__": 5,
    "forecast": 4, "text": 4, "explain": 4, "lesson": 4, "bench": 4,
    "train": 3, "models": 3, "data": 3, "rundir": 3, "lock": 3, "checkpoint": 3, "distributed": 3, "config": 3,
    "report": 3, "drawing": 3, "metrics": 3, "threads": 3, "optim": 3,
    "nn": 2,
    "engines": 1,
}
LONGEST = 80  # lines a function may have in train.py, forecast/ and text/
LENGTH_CHECKED = ("train.py", "forecast/", "text/")

# Known exceptions, each owned by the issue that removes it (delete an entry once its test passes without it).
# ALLOWLIST_PRIVATE: private names reached from outside their module (none since engines/fused/ has a public
# surface and a sampler() for text).
ALLOWLIST_PRIVATE: set[tuple[str, str]] = set()
# ALLOWLIST_LONG: functions over LONGEST lines in the checked parts (none today).
ALLOWLIST_LONG: set[tuple[str, str]] = set()


def _modules() -> dict[str, ast.Module]:
    """Every module of the package: its path relative to ``src/rnnlab`` -> its syntax tree."""
    return {path.relative_to(SRC).as_posix(): ast.parse(path.read_text(encoding="utf-8"))
            for path in sorted(SRC.rglob("*.py"))}


def _dotted(path: str) -> str:
    """``text/run.py`` -> ``rnnlab.text.run``; ``text/__init__.py`` -> ``rnnlab.text``."""
    parts = ["rnnlab", *path[:-3].split("/")]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _part(module: str) -> str | None:
    """The floor's part a dotted module belongs to (``rnnlab.text.run`` -> ``text``); None for the package."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "rnnlab" else None


def _imports(path: str, tree: ast.Module):
    """``(imported module, names, line, lazy)`` for each rnnlab import (lazy: inside a function)."""
    lazy_lines = {n.lineno for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                  for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}
    typing_only = {n.lineno for f in ast.walk(tree) if isinstance(f, ast.If) and "TYPE_CHECKING" in ast.unparse(f.test)
                   for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in typing_only:  # annotations only: nothing is imported at run time
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "rnnlab":
                    yield alias.name, [], node.lineno, node.lineno in lazy_lines
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != "rnnlab":
                continue
            names = [a.name for a in node.names]
            if node.module == "rnnlab":  # `from rnnlab import train, __version__`: each name a module or the face's
                for name in names:
                    target = f"rnnlab.{name}" if name in FLOORS else "rnnlab"
                    yield target, [] if target != "rnnlab" else [name], node.lineno, node.lineno in lazy_lines
            else:
                yield node.module, names, node.lineno, node.lineno in lazy_lines


def arrows() -> list[tuple[str, str, str, int, bool]]:
    """Every import between parts: ``(importer path, importer part, imported part, line, lazy)``."""
    found = []
    for path, tree in _modules().items():
        here = _part(_dotted(path))
        for target, _, line, lazy in _imports(path, tree):
            there = _part(target)
            if here is not None and there is not None and here != there:
                found.append((path, here, there, line, lazy))
    return found


def upward_arrows() -> list[str]:
    """Imports from a part to a part on a higher floor, except the package faces' lazy ones."""
    bad = []
    for path, here, there, line, lazy in arrows():
        face = path.endswith("__init__.py")
        if FLOORS[there] > FLOORS[here] and not (face and lazy):
            bad.append(f"{path}:{line}: {here} (floor {FLOORS[here]}) imports {there} (floor {FLOORS[there]})")
    return bad


def private_imports(allowed: set = ALLOWLIST_PRIVATE) -> list[tuple[str, str, str]]:
    """Imports of another module's ``_private`` name, and ``module._private`` read through an imported module:
    ``(importer path, imported module, what)``."""
    bad = []
    for path, tree in _modules().items():
        me = _dotted(path)
        bound = {}  # local name -> the rnnlab module it is bound to
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "rnnlab":
                for alias in node.names:
                    private = alias.name.startswith("_") and not alias.name.startswith("__")
                    if private and node.module != me and (path, node.module) not in allowed:
                        bad.append((path, node.module, f"{path}:{node.lineno}: imports {alias.name}"))
                    bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "rnnlab" and alias.asname:
                        bound[alias.asname] = alias.name
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                module = bound[node.value.id]
                if module != me and (path, module) not in allowed:
                    bad.append((path, module, f"{path}:{node.lineno}: reads {node.value.id}.{node.attr}"))
    return bad


def long_functions() -> list[str]:
    """Functions over LONGEST lines (decorators excluded) in train.py, forecast/ and text/."""
    bad = []
    for path, tree in _modules().items():
        if not path.startswith(LENGTH_CHECKED):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > LONGEST and (path, node.name) not in ALLOWLIST_LONG:
                    bad.append(f"{path}:{node.lineno}: {node.name} has {lines} lines")
    return bad


def picture() -> str:
    """The imports between parts, floor by floor (``~name``: imported only inside functions)."""
    edges: dict[str, dict[str, bool]] = defaultdict(dict)
    for _, here, there, _, lazy in arrows():
        edges[here][there] = edges[here].get(there, True) and lazy
    lines = []
    for floor in sorted(set(FLOORS.values()), reverse=True):
        for part in sorted(p for p, f in FLOORS.items() if f == floor):
            targets = sorted(edges[part], key=lambda t: (-FLOORS[t], t))
            shown = ", ".join(f"{'~' if edges[part][t] else ''}{t}" for t in targets) or "(no rnnlab import)"
            lines.append(f"{floor}  {part:<12} -> {shown}")
    return "\n".join(lines)


def test_every_part_has_a_floor():
    parts = {_part(_dotted(path)) for path in _modules()} - {None}
    assert parts - set(FLOORS) == set(), "a new part: give it a floor in FLOORS (and DESIGN.md's picture)"


def test_no_import_points_up_the_house():
    assert upward_arrows() == []


def test_no_module_imports_another_modules_private_name():
    assert [what for _, _, what in private_imports()] == []


def test_allowlisted_private_imports_are_still_there():
    """An allowlist entry whose import is gone must go too, so the list only ever shrinks."""
    assert ALLOWLIST_PRIVATE - {(path, module) for path, module, _ in private_imports(allowed=set())} == set()


def test_no_long_functions_in_the_loop_and_the_tasks():
    assert long_functions() == []


if __name__ == "__main__":
    print(picture())
    problems = upward_arrows() + [what for _, _, what in private_imports()] + long_functions()
    print("\n".join(problems) if problems else "no arrow up, no private import, no long function")
    sys.exit(1 if problems else 0)
