"""Configuration: defaults < TOML file < flags; unknown keys and wrong types are named."""

from dataclasses import dataclass

import pytest

from rnnlab.config import resolve, to_dict


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
    with pytest.raises(ValueError, match="config: unknown key 'hiden_size' for Cfg; valid keys: cell, hidden_size, lr, minutes"):
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
