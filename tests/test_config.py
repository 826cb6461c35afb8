from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rnnexp.config import Config, ParamSpec, SweepConfig, dump_config, iter_keys, load_config, load_sweep, parse_config
from rnnexp.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
MINIMAL = "data:\n  dataset: amazon-food\n"


def errors_of(text: str, overrides=()) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="c.yaml", overrides=overrides)
    return info.value.messages


def test_defaults_fill_in():
    cfg = parse_config(MINIMAL)
    assert cfg.model.cell == "gru" and cfg.train.optimizer == "adam" and cfg.data.padding == "pre"
    assert cfg.train.early_stopping.resolved_mode == "min"


def test_misspelled_key_and_negative_lr_reported_together_with_lines():
    text = "data:\n  dataset: amazon-food\nmodel:\n  num_nuerons: 64\ntrain:\n  lr: -0.01\n"
    msgs = errors_of(text)
    assert msgs == [
        "c.yaml:4: unknown key model.num_nuerons (did you mean model.num_neurons?)",
        "c.yaml:6: train.lr: Input should be greater than 0, got -0.01",
    ]


def test_unknown_key_without_close_match_lists_known_keys():
    (msg,) = errors_of(MINIMAL + "train:\n  zzzz: 1\n")
    assert "unknown key train.zzzz" in msg and "batch_size" in msg


def test_unknown_section():
    (msg,) = errors_of(MINIMAL + "trian:\n  lr: 1\n")
    assert "unknown key trian (did you mean train?)" in msg


def test_bad_choice_suggests_value():
    (msg,) = errors_of(MINIMAL + "model:\n  cell: lstn\n")
    assert msg.startswith("c.yaml:4: model.cell:") and "did you mean 'lstm'" in msg


def test_nested_key_line():
    (msg,) = errors_of(MINIMAL + "train:\n  early_stopping:\n    patience: -1\n")
    assert msg.startswith("c.yaml:5: train.early_stopping.patience:")


def test_overrides_parse_yaml_and_name_the_flag():
    cfg = parse_config(MINIMAL, overrides=["train.lr=0.01", "model.bidirectional=true", "data.max_vocab=null"])
    assert cfg.train.lr == 0.01 and cfg.model.bidirectional is True and cfg.data.max_vocab is None
    (msg,) = errors_of(MINIMAL, ["train.batch_sz=8"])
    assert msg == "--set train.batch_sz=8: unknown key train.batch_sz (did you mean train.batch_size?)"
    (msg,) = errors_of(MINIMAL, ["train.lr=fast"])
    assert msg.startswith("--set train.lr=fast: train.lr:")


@pytest.mark.parametrize("bad", ["train.lr", "=3", "train..lr=1", "train.lr.x=1"])
def test_malformed_overrides(bad):
    (msg,) = errors_of(MINIMAL, [bad])
    assert msg.startswith("--set")


def test_yaml_syntax_error_names_line():
    (msg,) = errors_of("data:\n  dataset: [amazon\n")
    assert msg.startswith("c.yaml:") and "invalid YAML" in msg


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "42\n"])
def test_top_level_must_be_mapping_with_data(text):
    msgs = errors_of(text)
    assert msgs and all(m.startswith("c.yaml") for m in msgs)


def test_exactly_one_data_source():
    (msg,) = errors_of("data:\n  dataset: amazon-food\n  train_file: x.csv\n")
    assert "exactly one of data.dataset or data.train_file" in msg


def test_monitoring_val_without_validation_data_is_an_error():
    (msg,) = errors_of(MINIMAL + "  val_split: 0\n")
    assert "train.early_stopping.monitor" in msg
    cfg = parse_config(MINIMAL + "  val_split: 0\ntrain:\n  early_stopping:\n    monitor: train_loss\n")
    assert cfg.train.early_stopping.monitor == "train_loss"


def test_run_name_cannot_escape_runs_dir():
    for name in ("../x", "a/b", ".hidden", ""):
        (msg,) = errors_of(MINIMAL + f"name: '{name}'\n")
        assert "name" in msg


def test_relative_data_paths_resolve_against_config_file(tmp_path):
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "c.yaml"
    path.write_text("data:\n  train_file: data/train.csv\n")
    cfg = load_config(path)
    assert cfg.data.train_file == str(tmp_path / "sub" / "data" / "train.csv")


def test_dump_roundtrip(tmp_path):
    cfg = parse_config(MINIMAL, overrides=["model.cell=lstm"])
    path = tmp_path / "c.yaml"
    path.write_text(dump_config(cfg))
    assert load_config(path) == cfg


def test_missing_file():
    with pytest.raises(ConfigError, match="config file not found"):
        load_config("/nonexistent/c.yaml")


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_load(path):
    if path.name.startswith("sweep_"):
        assert load_sweep(path)[0].space  # a sweep file, over a base config that must load too
    else:
        assert isinstance(load_config(path), Config)


def test_every_key_is_documented_in_schema_and_readme():
    from readme_keys import tables

    readme = (ROOT / "README.md").read_text()
    for model in (Config, SweepConfig, ParamSpec):
        for key, field in iter_keys(model):
            assert field.description, f"{model.__name__}: {key} has no description"
    for header, generated in tables():
        assert generated in readme, f"README's table under {header!r} is stale: run python tests/readme_keys.py"


@pytest.mark.parametrize("name", ["quickstart.yaml", "sweep_tpe.yaml"])
def test_validate_does_not_import_torch(name):
    code = (
        "import sys; from typer.testing import CliRunner; from rnnexp.cli import app; "
        f"r = CliRunner().invoke(app, ['validate', r'{ROOT / 'configs' / name}']); "
        "assert r.exit_code == 0, r.output; print('torch' in sys.modules, 'optuna' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"
