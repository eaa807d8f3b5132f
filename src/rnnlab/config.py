"""Typed configuration: frozen dataclasses, a TOML file as a small diff over the defaults, flags on top.

Every task (forecast, text, training) describes its settings as a frozen dataclass with a comment on
each field. :func:`resolve` builds one from the defaults, then a TOML file, then explicit overrides (the
command-line flags the user actually gave), in that order, and rejects any key the dataclass does not
have, naming it. :func:`to_dict` gives the fully resolved configuration that every run stores.

A setting is declared once, in its task's dataclass. What other parts take from it is derived, not copied
field by field: :func:`project` hands the fields two dataclasses share from one to the other (a task's
config to the training loop's :class:`~rnnlab.train.TrainConfig`), and the tests check that each estimator's
parameters and each command's flags are fields of its config (``tests/test_config.py``).

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Cfg:
    ...     hidden_size: int = 32  # units in the hidden state
    >>> resolve(Cfg, overrides={"hidden_size": 64}).hidden_size
    64
    >>> @dataclass(frozen=True)
    ... class Part:
    ...     hidden_size: int = 8  # the part's own default, overridden by the task's
    ...     bias: bool = True  # a field the task does not have keeps its default
    >>> project(Cfg(hidden_size=64), Part)
    Part(hidden_size=64, bias=True)
"""

from __future__ import annotations

import dataclasses
import sys
import typing
from pathlib import Path
from typing import Any, Mapping, TypeVar

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib

C = TypeVar("C")


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file into a dict; a missing or malformed file is a ``ValueError`` that names it."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"config: file not found: {path}")
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"config: {path} is not valid TOML: {e}") from None


def given(file: str | Path | Mapping[str, Any] | None, overrides: Mapping[str, Any] | None = None,
          section: str | None = None, strict_for: str | None = None) -> dict[str, Any]:
    """The settings a user gave — a TOML file's (its ``[section]`` winning), then ``overrides`` — without defaults.

    Other tables of the file (another command's settings) are skipped; with ``strict_for`` (the config's name,
    as :func:`resolve` passes it) they are a ``ValueError`` naming the table.
    """
    data: dict[str, Any] = {}
    if file is not None:
        raw = read_toml(file) if isinstance(file, (str, Path)) else dict(file)
        nested = raw.pop(section, None) if section else None
        data.update({k: v for k, v in raw.items() if not isinstance(v, dict)})
        if isinstance(nested, dict):
            data.update(nested)
        stray_tables = [k for k, v in raw.items() if isinstance(v, dict)]
        if stray_tables and strict_for is not None:
            raise ValueError(f"config: unknown section [{stray_tables[0]}] for {strict_for}")
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return data


def resolve(
    cls: type[C],
    file: str | Path | Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    section: str | None = None,
) -> C:
    """Build ``cls`` from its defaults, then ``file`` (a TOML path or a dict), then ``overrides``.

    Args:
        cls: a dataclass type whose fields are the settings.
        file: a TOML path or an already-read mapping; ``None`` for none. Keys may sit at the top level
            or, when ``section`` is given, under ``[section]`` (both are read; the section wins).
        overrides: settings given explicitly (e.g. the flags a user typed); ``None`` values are ignored.
        section: the table name of this task inside a shared TOML file (e.g. ``"forecast"``).

    Raises:
        ValueError: a key that is not a field of ``cls`` (the message names it and lists the valid
            keys), a table other than ``[section]``, or a value of the wrong type.
    """
    data = given(file, overrides, section, strict_for=cls.__name__)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(
            f"config: unknown key '{unknown[0]}' for {cls.__name__}; valid keys: {', '.join(sorted(fields))}"
        )
    hints = typing.get_type_hints(cls)
    values = {name: _coerce(name, value, hints.get(name)) for name, value in data.items()}
    return cls(**values)


def to_dict(config: Any) -> dict[str, Any]:
    """The configuration as plain JSON-able values."""
    return dataclasses.asdict(config)


def project(config: Any, cls: type[C], **values: Any) -> C:
    """``cls`` built from the fields ``config`` shares with it by name, then ``values``.

    So that a part (the training loop, a model) takes a task's settings without the task copying them one by
    one: a field added to both is handed on, and one the task lacks keeps ``cls``'s default.

    Args:
        config: a dataclass instance (the task's settings).
        cls: the dataclass to build.
        **values: fields of ``cls`` to set besides (or instead of) the shared ones.
    """
    names = {f.name for f in dataclasses.fields(cls)}
    shared = {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name in names}
    return cls(**(shared | values))


def _coerce(name: str, value: Any, hint: Any) -> Any:
    """Accept ints for floats; reject a value whose type plainly disagrees with the field."""
    if hint is None:
        return value
    allowed = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, _union_type()) else (hint,)
    if value is None and type(None) in allowed:
        return None
    if float in allowed and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    plain = tuple(t for t in allowed if isinstance(t, type))
    if plain and not isinstance(value, plain):
        expected = " or ".join(t.__name__ for t in plain)
        raise ValueError(f"config: '{name}' must be {expected}, got {value!r}")
    return value


def _union_type() -> Any:
    import types

    return getattr(types, "UnionType", typing.Union)


# ---------------------------------------------------------------- resuming a run

RESUMABLE = ("lr", "steps", "minutes", "epochs", "patience", "eval_every", "device", "quiet")  # may change


def resume_with(cls: type[C], stored: Mapping[str, Any], settings: Mapping[str, Any], task: str,
                may_change: tuple[str, ...] = RESUMABLE) -> tuple[C, dict[str, list]]:
    """A stored run's configuration with the settings given again on resume applied where they may change.

    A resumed run continues as it was: the model, the data and the seed stay. The budget (``steps``,
    ``minutes``, ``epochs``), the learning rate, ``patience``, ``eval_every``, the ``device`` and ``quiet``
    may change; a setting given with the value the run already has is no change.

    Args:
        cls: the task's config dataclass.
        stored: the run's resolved configuration (``config.json``'s ``"config"``).
        settings: what the user gave (:func:`given`).
        task: the command, for the message (``"text"``).
        may_change: the names that may change.

    Returns:
        ``(config, changed)``: the configuration to continue with, and ``{name: [before, after]}`` for each
        setting that changed (``quiet`` is not recorded).

    Raises:
        ValueError: an unknown key; or settings that differ from the run and may not change, every one named
            with both values.
    """
    before = resolve(cls, stored)
    wanted = resolve(cls, stored, settings)  # checks names and types
    differ = [f.name for f in dataclasses.fields(cls) if getattr(wanted, f.name) != getattr(before, f.name)]
    refused = [name for name in differ if name not in may_change]
    if refused:
        shown = ", ".join(f"`{n}` (the run has {getattr(before, n)!r}, given {getattr(wanted, n)!r})" for n in refused)
        allowed = ", ".join(f"`{n}`" for n in may_change if n in {f.name for f in dataclasses.fields(cls)})
        raise ValueError(f"{task}: `resume` continues the run as it was, so {shown} cannot change; only {allowed} "
                         f"may (start a new run with `out` to change the rest)")
    return wanted, {name: [getattr(before, name), getattr(wanted, name)] for name in differ if name != "quiet"}
