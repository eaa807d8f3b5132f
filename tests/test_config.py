"""Configuration: defaults < TOML file < flags; unknown keys and wrong types are named; and each estimator's
settings declared once, in its config dataclass: its parameters, its command's flags and what it hands the
training loop agree with that dataclass."""

import argparse
import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest

from rnnlab import cli, train
from rnnlab.config import project, resolve, to_dict


@dataclass(frozen=True)
class Cfg:
    hidden_size: int = 32  # units
    lr: float = 1e-3  # learning rate
    cell: str = "rnn"  # cell type
    minutes: float | None = None  # budget


def test_defaults_file_flags_in_that_order(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('hidden_size = 64\ncell = "lstm"\n[forecast]\nlr = 0.01\n')
    cfg = resolve(Cfg, path, {"cell": "gru", "lr": None}, section="forecast")
    assert cfg == Cfg(hidden_size=64, lr=0.01, cell="gru")
    assert to_dict(cfg) == {"hidden_size": 64, "lr": 0.01, "cell": "gru", "minutes": None}


def test_int_accepted_for_float_and_none_for_optional():
    assert resolve(Cfg, {"lr": 1, "minutes": 2}).lr == 1.0
    assert isinstance(resolve(Cfg, {"minutes": 2}).minutes, float)


def test_unknown_key_is_named_with_the_valid_ones():
    with pytest.raises(ValueError,
                       match="config: unknown key 'hiden_size' for Cfg; valid keys: cell, hidden_size, lr, minutes"):
        resolve(Cfg, {"hiden_size": 3})


def test_wrong_type_is_named():
    with pytest.raises(ValueError, match="config: 'hidden_size' must be int, got '64'"):
        resolve(Cfg, {"hidden_size": "64"})


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ValueError, match="config: file not found"):
        resolve(Cfg, tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("hidden_size = = 3")
    with pytest.raises(ValueError, match="is not valid TOML"):
        resolve(Cfg, bad)


def test_unknown_section_is_an_error(tmp_path):
    with pytest.raises(ValueError, match=r"config: unknown section \[text\] for Cfg"):
        resolve(Cfg, {"text": {"lr": 1.0}}, section="forecast")


def test_project_hands_on_the_shared_fields():
    @dataclass(frozen=True)
    class Part:
        hidden_size: int = 8
        bias: bool = True

    assert project(Cfg(hidden_size=64), Part) == Part(hidden_size=64, bias=True)
    assert project(Cfg(hidden_size=64), Part, bias=False) == Part(hidden_size=64, bias=False)


# ---------------------------------------------------------------- each setting declared once


@dataclass
class Estimator:
    """How to reach an estimator's settings, for the checks below."""

    config: type  # the dataclass that declares every setting
    make: Callable[[dict], Any]  # parameters -> an unfitted estimator
    fit: Callable[[Any], Any]  # a fit on small data (it stops where it calls train.fit)
    command: str  # the CLI command whose flags set the config
    run_only: frozenset = frozenset()  # config fields only the command's run reads (the data), not the estimator
    refused_flags: frozenset = frozenset()  # flags the command rejects with an error (text: --epochs)
    not_training: frozenset = frozenset()  # TrainConfig fields the task has no use for (their default stands)


def _text() -> Estimator:
    from rnnlab.text.estimator import CharModel, TextConfig

    text = "the cat sat on the mat. the dog sat on the log.\n" * 300
    return Estimator(TextConfig, lambda params: CharModel(**params), lambda m: m.fit(text), "text",
                     refused_flags=frozenset({"epochs"}), not_training=frozenset({"epochs"}))


def _forecast() -> Estimator:
    from rnnlab.forecast.estimator import Forecaster
    from rnnlab.forecast.settings import DATA_FIELDS, PANEL_FIELDS, ForecastConfig

    # the data fields, and the panel-only ones (PanelForecaster reads them), are not Forecaster's parameters
    return Estimator(ForecastConfig, lambda params: Forecaster(**params),
                     lambda f: f.fit(np.sin(np.arange(300) / 4.0)), "forecast",
                     run_only=frozenset(DATA_FIELDS + PANEL_FIELDS))


ESTIMATORS = {"text": _text, "forecast": _forecast}
# a value other than TrainConfig's default for each of its fields
OTHER = {"epochs": 3, "steps": 11, "minutes": 1.5, "lr": 0.0123, "min_lr_ratio": 0.2, "warmup_steps": 3,
         "weight_decay": 0.01, "clip": 2.5, "eval_every": 7, "patience": 5, "seed": 3, "device": "cpu", "quiet": True}
CLI_ONLY = {"help", "config", "out", "resume"}  # flags of the command line itself, not settings


def _fields(cls) -> dict:
    return {f.name: f.default for f in dataclasses.fields(cls)}


def _subparser(command: str) -> argparse.ArgumentParser:
    parser = cli.build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices[command]


@pytest.mark.parametrize("name", ESTIMATORS)
def test_estimator_parameters_are_the_config_fields_with_their_defaults(name):
    spec = ESTIMATORS[name]()
    params = spec.make({}).get_params()
    fields = _fields(spec.config)
    assert set(params) == set(fields) - spec.run_only
    assert {k: v for k, v in params.items() if v != fields[k]} == {}


@pytest.mark.parametrize("name", ESTIMATORS)
def test_each_flag_sets_its_config_field(name):
    spec = ESTIMATORS[name]()
    fields = _fields(spec.config)
    options = [a for a in _subparser(spec.command)._actions if a.option_strings and a.dest not in CLI_ONLY]
    for action in options:
        assert action.default is None, f"{action.option_strings}: a default would hide the config's"
        if action.dest in spec.refused_flags:
            continue
        assert action.dest in fields, f"{action.option_strings} sets {action.dest}, not a field of {spec.config}"
        if action.nargs == 0:  # --quiet
            argv, expected = [action.option_strings[0]], True
        else:
            text = action.choices[-1] if action.choices else {int: "7", float: "0.25"}.get(action.type, "x")
            argv, expected = [action.option_strings[0], text], (action.type or str)(text)
        args = _subparser(spec.command).parse_args(argv)
        config = resolve(spec.config, overrides=cli.overrides(args, *CLI_ONLY, *spec.refused_flags))
        assert getattr(config, action.dest) == expected, action.option_strings


@pytest.mark.parametrize("name", ESTIMATORS)
def test_training_loop_gets_the_config_settings_and_no_hidden_default(name, monkeypatch):
    spec = ESTIMATORS[name]()
    fields = _fields(spec.config)
    train_fields = _fields(train.TrainConfig)
    other = dict(OTHER, schedule="constant" if fields.get("schedule") == "cosine" else "cosine")
    captured = {}

    class Reached(Exception):
        pass

    def fake_fit(model, task, config, run_dir=None, resume=False):
        captured["config"] = config
        raise Reached

    monkeypatch.setattr(train, "fit", fake_fit)
    shared = {k: v for k, v in other.items() if k in fields}
    with pytest.raises(Reached):
        spec.fit(spec.make(shared))
    got = dataclasses.asdict(captured["config"])
    assert {k: got[k] for k in shared} == shared  # every shared setting reaches the loop
    hidden = {k: v for k, v in got.items() if k not in fields and k not in spec.not_training}
    assert hidden == {}, "TrainConfig settings the task's config does not declare (not in its config.json)"
    assert {k: got[k] for k in spec.not_training} == {k: train_fields[k] for k in spec.not_training}
