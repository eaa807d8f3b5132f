"""The checkpoint format: weights and exact-resume checkpoints as safetensors + JSON, atomic, never pickle.

Decisions:

* **Weights** (``model.safetensors``) are safetensors files of contiguous CPU tensors, so a model trained on a
  GPU loads on a CPU and nothing is ever unpickled.
* **A checkpoint** is a directory holding

  - ``tensors.safetensors`` — every tensor (model, best weights, optimizer moments, RNG states as uint8
    tensors, the carried recurrent state), keyed by a readable path such as ``optimizer.state.0.exp_avg``;
  - ``meta.json`` — everything else (step, epoch, position in the epoch, history, …).

  One format (DESIGN.md): no second copy as a ``torch.save`` file; a safetensors file is read by any
  framework without running pickled code.
* **Atomic writes.** A weights file goes through :func:`rnnlab.rundir.atomic_write` (a temporary file in the
  same directory, ``os.replace``-d over the target). A checkpoint directory is written whole into
  ``.<name>.tmp-<pid>`` beside it; the old directory is renamed to ``.<name>.old-<pid>``, the new one renamed
  into place, the old one deleted. A crash at any moment leaves either the complete old or the complete new
  checkpoint (if it strikes between the two renames, :func:`load_checkpoint` finds the old one under its
  ``.old`` name).
* **Checksums.** Every safetensors file written here carries the SHA-256 of its tensor bytes in its header's
  metadata (``sha256``), and a checkpoint's tensors file also that of its ``meta.json`` (``meta_sha256``);
  loading verifies them, so one flipped byte is a ``ValueError`` that says the file is damaged, never a model
  that loads and forecasts 1.5e+39. Files from before checksums load unchecked.
* **Nested state** (an optimizer's ``state_dict``, an LSTM's ``(h, c)``) is split by :func:`flatten` into
  tensors plus a JSON skeleton in which every container is a one-key marker (``{"dict": [[key, value], …]}``,
  ``{"tuple": […]}``, ``{"list": […]}``, ``{"tensor": name}``), so integer dict keys and tuples survive the
  round trip; :func:`unflatten` rebuilds it.

Example:
    >>> import tempfile, torch
    >>> d = Path(tempfile.mkdtemp()) / "checkpoint"
    >>> save_checkpoint(d, {"w": torch.ones(2)}, {"step": 3})
    >>> tensors, meta = load_checkpoint(d)
    >>> meta["step"], tensors["w"].tolist()
    (3, [1.0, 1.0])
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Mapping

from safetensors import SafetensorError
from safetensors.torch import load, save
from torch import Tensor, nn

from rnnlab.rundir import atomic_write, check_owned

TENSORS_FILE = "tensors.safetensors"
META_FILE = "meta.json"
CHECKSUM = "sha256"  # metadata key: SHA-256 of a safetensors file's tensor bytes (all that follows the header)
META_CHECKSUM = "meta_sha256"  # metadata key of a checkpoint's tensors file: SHA-256 of its meta.json


def _cpu_tensors(tensors: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Detached, contiguous CPU copies (safetensors refuses shared or strided storage)."""
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in tensors.items()}


def save_weights(path: str | Path, state_dict: Mapping[str, Tensor], metadata: Mapping[str, str] | None = None) -> None:
    """Save a ``state_dict`` as a safetensors file (CPU tensors) with its checksum, atomically."""
    atomic_write(path, _checksummed(_cpu_tensors(state_dict), metadata))


def load_weights(path: str | Path) -> dict[str, Tensor]:
    """Load a safetensors file onto the CPU, its checksum verified (when it has one).

    Raises:
        ValueError: a missing file, one that is not safetensors, or a damaged one (the checksum differs).
    """
    return read_checked(path)[0]


def read_checked(path: str | Path) -> tuple[dict[str, Tensor], dict[str, str]]:
    """``(tensors, metadata)`` of a safetensors file, after checking the SHA-256 of its tensor bytes.

    Files written before checksums existed (no ``sha256`` in the metadata) load unchecked.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"checkpoint: weights file not found: {path}")
    try:
        raw = path.read_bytes()
        size = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8 : 8 + size])
        metadata = header.get("__metadata__") or {}
        tensors = load(raw)
    except (SafetensorError, OSError, ValueError, AttributeError) as e:
        raise ValueError(f"checkpoint: {path} is not a readable safetensors file ({e})") from None
    want = metadata.get(CHECKSUM)
    if want is not None:
        got = hashlib.sha256(raw[8 + size :]).hexdigest()
        if got != want:
            raise ValueError(f"checkpoint: {path} is damaged: the SHA-256 of its tensors ({got[:12]}…) does not "
                             f"match the one stored in it ({want[:12]}…); use an intact copy, or train again")
    return {k: v.to("cpu") for k, v in tensors.items()}, metadata


def _checksummed(tensors: Mapping[str, Tensor], metadata: Mapping[str, str] | None = None) -> bytes:
    """The safetensors bytes of ``tensors``, with the SHA-256 of the tensor bytes in the header's metadata.

    The tensor bytes (everything after the header) do not depend on the metadata, so they are serialised
    once to hash them, then again with the hash.
    """
    plain = save(dict(tensors))
    size = int.from_bytes(plain[:8], "little")
    return save(dict(tensors), metadata={**(metadata or {}), CHECKSUM: hashlib.sha256(plain[8 + size :]).hexdigest()})


def load_state_into(module: nn.Module, state_dict: Mapping[str, Tensor], source: str | Path) -> None:
    """``module.load_state_dict(state_dict)``, but a mismatch is a ``ValueError`` that names it.

    Args:
        module: the model to fill.
        state_dict: tensors read from ``source``.
        source: where they came from, for the message.

    Raises:
        ValueError: keys missing or unexpected, or a shape that differs (e.g. a checkpoint of another model).
    """
    own = module.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    shapes = [f"{k} is {tuple(own[k].shape)} in the model but {tuple(state_dict[k].shape)} in the file"
              for k in own if k in state_dict and own[k].shape != state_dict[k].shape]
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}")
    if unexpected:
        problems.append(f"unexpected {', '.join(unexpected[:5])}{' …' if len(unexpected) > 5 else ''}")
    problems += shapes[:3]
    if problems:
        raise ValueError(f"checkpoint: {source} holds weights of another model: {'; '.join(problems)}")
    module.load_state_dict(dict(state_dict))


def flatten(obj: Any, prefix: str, tensors: dict[str, Tensor]) -> Any:
    """Move every tensor in the nested ``obj`` into ``tensors`` (keys under ``prefix``); return a JSON skeleton.

    Containers become one-key markers: ``{"dict": [[k, v], …]}``, ``{"list": […]}``, ``{"tuple": […]}``,
    ``{"tensor": key}``; ``int``, ``float``, ``str``, ``bool`` and ``None`` stay as they are.
    """
    if isinstance(obj, Tensor):
        tensors[prefix] = obj
        return {"tensor": prefix}
    if isinstance(obj, Mapping):
        return {"dict": [[k, flatten(v, f"{prefix}.{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        kind = "tuple" if isinstance(obj, tuple) else "list"
        return {kind: [flatten(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"checkpoint: cannot store a {type(obj).__name__} at {prefix}")


def unflatten(skeleton: Any, tensors: Mapping[str, Tensor]) -> Any:
    """Inverse of :func:`flatten`."""
    if not isinstance(skeleton, dict):
        return skeleton
    (kind, value), = skeleton.items()
    if kind == "tensor":
        return tensors[value]
    if kind == "dict":
        return {k: unflatten(v, tensors) for k, v in value}
    items = [unflatten(v, tensors) for v in value]
    return tuple(items) if kind == "tuple" else items


def save_checkpoint(directory: str | Path, tensors: Mapping[str, Tensor], meta: Mapping[str, Any]) -> None:
    """Write a checkpoint directory atomically: tensors.safetensors + meta.json.

    Args:
        directory: e.g. ``run_dir / "checkpoint"``; replaced whole if it exists.
        tensors: flat name -> tensor (any device; saved as CPU copies).
        meta: JSON-serialisable settings and counters.
    """
    directory = Path(directory)
    check_owned(directory)  # a run directory deleted while training is not re-created
    directory.parent.mkdir(parents=True, exist_ok=True)
    cpu = _cpu_tensors(tensors)
    meta_text = json.dumps(dict(meta), indent=1) + "\n"
    tmp = directory.with_name(f".{directory.name}.tmp-{os.getpid()}")
    old = directory.with_name(f".{directory.name}.old-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        meta_sum = hashlib.sha256(meta_text.encode("utf-8")).hexdigest()  # meta.json is checked too
        (tmp / TENSORS_FILE).write_bytes(_checksummed(cpu, {META_CHECKSUM: meta_sum}))
        (tmp / META_FILE).write_text(meta_text, encoding="utf-8")
        if directory.exists():
            os.replace(directory, old)
        os.replace(tmp, directory)
    except BaseException as error:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(error, FileNotFoundError):
            check_owned(directory)  # the run directory went away mid-write: say that, not the OS's words
        raise
    shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(directory: str | Path) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Read a checkpoint directory written by :func:`save_checkpoint`.

    Returns:
        ``(tensors, meta)``, tensors on the CPU.

    Raises:
        ValueError: no checkpoint there, or its files are unreadable.
    """
    directory = Path(directory)
    if not (directory / META_FILE).is_file():
        # a crash between the two renames of save_checkpoint leaves the previous checkpoint under .old
        survivors = sorted(directory.parent.glob(f".{directory.name}.old-*")) if directory.parent.is_dir() else []
        if not survivors:
            raise ValueError(f"checkpoint: no checkpoint in {directory} (expected {META_FILE} and {TENSORS_FILE})")
        directory = survivors[-1]
    tensors, metadata = read_checked(directory / TENSORS_FILE)
    try:
        meta_bytes = (directory / META_FILE).read_bytes()
        meta = json.loads(meta_bytes.decode("utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"checkpoint: {directory / META_FILE} is unreadable ({e})") from None
    want = metadata.get(META_CHECKSUM)
    if want is not None and hashlib.sha256(meta_bytes).hexdigest() != want:
        raise ValueError(f"checkpoint: {directory / META_FILE} is damaged: its SHA-256 does not match the one "
                         f"stored in {TENSORS_FILE}; use an intact copy, or start the run again")
    return tensors, meta
