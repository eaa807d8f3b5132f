"""A fitted :class:`~rnnlab.forecast.panel.PanelForecaster` on disk: JSON + safetensors, never a pickle.

``config.json`` gets ``{"task": "forecast", "panel": state}`` (settings, sizes, ids, frequency, the
per-series choices) merged into what is already there; ``history.safetensors`` holds the fitted panel
(``values`` float32, ``offsets`` and ``starts`` int64: nanoseconds or positions) that forecasts continue
from; the global mode's network is ``model.safetensors``; the local mode's forecasters are saved by
:meth:`Forecaster.save` under ``series/<position>/``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from rnnlab import checkpoint, rundir
from rnnlab.config import resolve
from rnnlab.data.panel import Panel
from rnnlab.forecast.estimator import ForecastConfig, Forecaster


def save(f, directory: Path) -> Path:
    """Write ``f``'s state into ``directory`` (see the module docstring)."""
    directory.mkdir(parents=True, exist_ok=True)
    p = f.panel_
    state = {"params": dataclasses.asdict(f.config), "mode": f.mode_, "sizes": f.sizes_, "lookbacks": f.lookbacks_,
             "lookback": f.lookback_, "horizon": f.horizon_, "season": f.season_, "val_size": f.val_size_,
             "ids": list(p.ids), "freq": p.freq, "dated": bool(p.dated),
             "choices": dict(getattr(f, "choices_", {}) or {}), "validation": dict(getattr(f, "validation_", {}) or {})}
    starts = p.starts.astype("datetime64[ns]").astype(np.int64) if p.dated else p.starts.astype(np.int64)
    checkpoint.save_weights(directory / "history.safetensors", {
        "values": torch.from_numpy(p.values), "offsets": torch.from_numpy(p.offsets),
        "starts": torch.from_numpy(starts)})
    if getattr(f, "covariates_", None) is not None:  # names, scaling and the history's covariates
        from rnnlab.forecast.panel_covariates import save_state

        state["covariates"], tensors = save_state(f.covariates_, p)
        checkpoint.save_weights(directory / "covariates.safetensors",
                                {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in tensors.items()})
    if f.mode_ == "global":
        checkpoint.save_weights(directory / "model.safetensors", f.model_.state_dict())
    else:
        for i, name in enumerate(p.ids):  # a series too short for a network has none (seasonal naive)
            if f.forecasters_[name] is not None:
                f.forecasters_[name].save(directory / "series" / str(i))
    path = directory / "config.json"
    config = rundir.read_run_config(directory) if path.is_file() else {}
    config.update({"task": "forecast", "panel": state})
    rundir.atomic_write_json(path, config)
    return directory


def load(cls, directory: Path):
    """The PanelForecaster saved in ``directory``."""
    config = rundir.read_run_config(directory)
    state = config.get("panel")
    if config.get("task") != "forecast" or state is None:
        raise ValueError(f"forecast: {directory} holds no saved panel forecaster (task {config.get('task')!r})")
    params = {k: v for k, v in state["params"].items() if k in {f.name for f in dataclasses.fields(ForecastConfig)}}
    f = cls(resolve(ForecastConfig, {k: v for k, v in params.items() if not isinstance(v, dict)}))
    f.mode_, f.lookback_, f.horizon_, f.season_ = state["mode"], state["lookback"], state["horizon"], state["season"]
    f.val_size_, f.sizes_, f.lookbacks_ = state["val_size"], state["sizes"], state["lookbacks"]
    tensors = checkpoint.load_weights(directory / "history.safetensors")
    starts = tensors["starts"].numpy()
    f.panel_ = Panel(list(state["ids"]), tensors["values"].numpy(), tensors["offsets"].numpy(),
                     starts.astype("datetime64[ns]") if state["dated"] else starts, state["freq"], str(directory))
    if len(f.panel_.offsets) != len(f.panel_.ids) + 1:
        raise ValueError(f"forecast: {directory}: history.safetensors holds {len(f.panel_.offsets) - 1} series "
                         f"but config.json names {len(f.panel_.ids)}")
    f.covariates_ = None
    if state.get("covariates"):
        from rnnlab.forecast.panel_covariates import load_state

        tensors = {k: v.numpy() for k, v in checkpoint.load_weights(directory / "covariates.safetensors").items()}
        f.covariates_ = load_state(state["covariates"], tensors, f.panel_)
    if f.mode_ == "global":
        f.model_ = torch.nn.ModuleList([f._network(lookback) for lookback in f.lookbacks_])
        checkpoint.load_state_into(f.model_, checkpoint.load_weights(directory / "model.safetensors"), directory)
        f.model_.eval()
    else:
        f.forecasters_ = {name: Forecaster.load(directory / "series" / str(i))
                          if (directory / "series" / str(i)).is_dir() else None for i, name in enumerate(f.panel_.ids)}
        f.choices_ = {name: state["choices"].get(name, "model") for name in f.panel_.ids}
        f.validation_ = state.get("validation", {})
    return f
