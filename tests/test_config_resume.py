"""config.given and config.resume_with: what a resumed run may change, applied and reported; the rest refused."""

from dataclasses import dataclass

import pytest

from rnnlab import config


@dataclass(frozen=True)
class Cfg:
    hidden_size: int = 8  # units
    lr: float = 1e-3  # learning rate
    steps: int | None = None  # budget
    seed: int = 0  # seed
    quiet: bool = False  # no bar


STORED = {"hidden_size": 16, "lr": 0.01, "steps": 100, "seed": 3, "quiet": False}


def test_given_reads_the_file_then_the_flags_without_defaults(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("lr = 0.5\n[text]\nsteps = 7\n[other]\nseed = 1\n")
    assert config.given(path, {"steps": 9, "seed": None}, section="text") == {"lr": 0.5, "steps": 9}
    assert config.given(None) == {}


def test_what_may_change_is_applied_and_reported():
    resumed, changed = config.resume_with(Cfg, STORED, {"lr": 0.001, "steps": 200, "quiet": True}, "text")
    assert (resumed.lr, resumed.steps, resumed.quiet, resumed.hidden_size) == (0.001, 200, True, 16)
    assert changed == {"lr": [0.01, 0.001], "steps": [100, 200]}  # quiet is not a training setting


def test_the_same_value_is_no_change():
    resumed, changed = config.resume_with(Cfg, STORED, {"hidden_size": 16, "seed": 3, "lr": 0.01}, "text")
    assert resumed == Cfg(**STORED) and changed == {}


def test_everything_else_is_refused_by_name_with_both_values():
    with pytest.raises(ValueError, match=r"^text: `resume` continues the run as it was, so `hidden_size` \(the run has "
                                         r"16, given 32\), `seed` \(the run has 3, given 4\) cannot change; only `lr`, "
                                         r"`steps`, `quiet` may"):
        config.resume_with(Cfg, STORED, {"hidden_size": 32, "seed": 4, "lr": 0.5}, "text")
    with pytest.raises(ValueError, match="unknown key 'hiden'"):
        config.resume_with(Cfg, STORED, {"hiden": 3}, "text")


def test_library_messages_name_parameters_and_the_cli_spells_them_as_flags():
    import re
    from pathlib import Path

    from rnnlab.cli import build_parser, flag_spelling

    parser = build_parser()
    assert flag_spelling("use `fill='interpolate'` or a smaller `batch_size`; `nonesuch`", parser) == \
        "use --fill interpolate or a smaller --batch-size; nonesuch"
    assert flag_spelling("give `encoding='utf-16-le'` (`hidden_size`)", parser) == \
        "give --encoding utf-16-le (--hidden)"
    # the kind: no message of the library's data, models and locks names a command-line flag itself
    src = Path(__file__).resolve().parent.parent / "src" / "rnnlab"
    for path in [*(src / "data").glob("*.py"), src / "models.py", src / "lock.py"]:
        found = re.findall(r"f?\"[^\"\n]*(?<![\w-])--[a-z][\w-]*", path.read_text(encoding="utf-8"))
        assert found == [], (path.name, found)
