from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from conftest import run_cli
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


def test_every_key_is_documented_in_the_schema():
    """The schema is the documentation of every key (docs/reference/config.md is generated from it,
    tests/test_docs.py checks that page): one short description each."""
    for model in (Config, SweepConfig, ParamSpec):
        for key, field in iter_keys(model):
            assert field.description, f"{model.__name__}: {key} has no description"
            # one short sentence: the how-to pages explain, the reference names (and editors show it in a tooltip)
            assert len(field.description) <= 200, f"{model.__name__}: {key}'s description is over 200 characters"


@pytest.mark.parametrize("name", ["quickstart.yaml", "sweep_tpe.yaml"])
def test_validate_does_not_import_torch(name):
    code = (
        "import sys; from typer.testing import CliRunner; from rnnexp.cli import app; "
        f"r = CliRunner().invoke(app, ['validate', r'{ROOT / 'configs' / name}']); "
        "assert r.exit_code == 0, r.output; print('torch' in sys.modules, 'optuna' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


# -- configs are never silently misread ------------------------------------------------------------


@pytest.mark.parametrize(
    "text, key, lines",
    [
        (MINIMAL + "train:\n  lr: 0.5\nmodel:\n  cell: gru\ntrain:\n  epochs: 3\n", "train", (3, 7)),
        (MINIMAL + "train:\n  lr: 0.5\n  epochs: 2\n  lr: 0.001\n", "train.lr", (4, 6)),
        (MINIMAL + "train:\n  early_stopping:\n    patience: 1\n    patience: 5\n", "train.early_stopping.patience", (5, 6)),
        ("data:\n  dataset: amazon-food\n  maxlen: 50\ndata:\n  maxlen: 60\n", "data", (1, 4)),
        (MINIMAL + "train: {lr: 0.5, lr: 0.1}\n", "train.lr", (3, 3)),
    ],
)
def test_a_repeated_key_is_an_error_naming_both_lines(text, key, lines):
    (msg,) = errors_of(text)
    assert msg == (
        f"c.yaml:{lines[1]}: duplicate key {key} (first at line {lines[0]}); YAML keeps only one: merge the two into one"
    )


def test_a_repeated_key_in_a_sweep_file_or_a_set_value_is_an_error_too(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text(MINIMAL)
    sweep = tmp_path / "s.yaml"
    sweep.write_text("base: base.yaml\nspace:\n  train.lr: [0.1, 0.2]\nsampler: {kind: grid}\nspace:\n  model.cell: [gru]\n")
    with pytest.raises(ConfigError, match=r"s.yaml:5: duplicate key space \(first at line 2\)"):
        load_sweep(sweep)
    (msg,) = errors_of(MINIMAL, ["train={lr: 0.1, lr: 0.2}"])
    assert "duplicate key lr" in msg and msg.startswith("--set 'train={lr: 0.1, lr: 0.2}'")


@pytest.mark.parametrize(
    "override, changed",
    [
        ("train={epochs: 1}", {"train.epochs": 1}),
        ("train.early_stopping={patience: 9}", {"train.early_stopping.patience": 9}),
        ("model={cell: lstm, embedding: {freeze: true}}", {"model.cell": "lstm", "model.embedding.freeze": True}),
    ],
)
def test_a_mapping_override_merges_into_the_section_never_replaces_it(override, changed):
    from rnnexp.config import flatten

    text = MINIMAL + "model:\n  num_neurons: 48\n  cell: gru\n"
    text += "train:\n  lr: 0.5\n  clip_norm: 1.0\n  early_stopping: {monitor: val_accuracy}\n"
    before, after = (flatten(parse_config(text, overrides=o).model_dump(mode="json")) for o in ([], [override]))
    assert {k: v for k, v in after.items() if before[k] != v} == changed


def test_sweep_set_overrides_keep_the_rest_of_the_base_section(tmp_path):
    """--set set.train.epochs=1 is the key train.epochs of the sweep's `set`, and a mapping in `set`
    merges into the base section: lr and clip_norm stay the base file's."""
    base = tmp_path / "base.yaml"
    base.write_text(MINIMAL + "train:\n  lr: 0.5\n  clip_norm: 1.0\n  epochs: 9\n")
    sweep = tmp_path / "s.yaml"
    sweep.write_text("base: base.yaml\nset: {train.epochs: 4}\nspace:\n  model.cell: [gru, lstm]\nsampler: {kind: grid}\n")
    for overrides, epochs in ((["set.train.epochs=1"], 1), (["set.train={epochs: 2}"], 2), ([], 4)):
        _, raw, cfg = load_sweep(sweep, overrides)
        assert (cfg.train.epochs, cfg.train.lr, cfg.train.clip_norm) == (epochs, 0.5, 1.0), overrides
    sweep.write_text("base: base.yaml\nset:\n  train: {epochs: 3}\nspace:\n  train.early_stopping: [{patience: 7}]\n")
    sweep.write_text(sweep.read_text() + "sampler: {kind: grid}\n")
    _, raw, cfg = load_sweep(sweep)
    assert (cfg.train.epochs, cfg.train.lr, cfg.train.clip_norm) == (3, 0.5, 1.0)
    from rnnexp.config import trial_config

    trial = trial_config(raw, {"train.early_stopping": {"patience": 7}})
    assert trial.train.early_stopping.patience == 7 and trial.train.early_stopping.monitor == "val_loss"
    assert trial.train.lr == 0.5


# -- sizes no machine can hold, seeds numpy and torch refuse, non-finite floats ---------------------

_FIELDS = [(key, field) for key, field in iter_keys(Config)]


def _number_kinds(field) -> set[type]:
    import types as pytypes
    import typing

    found, stack = set(), [field.annotation]
    while stack:
        a = stack.pop()
        if typing.get_origin(a) in (typing.Union, pytypes.UnionType):
            stack.extend(typing.get_args(a))
        elif a in (int, float):
            found.add(a)
    return found


def _doc_with(key: str, value) -> str:
    import yaml

    raw: dict = {"data": {"dataset": "amazon-food"}}
    target = raw
    parts = key.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value
    return yaml.safe_dump(raw)


@pytest.mark.parametrize("key", [k for k, f in _FIELDS if int in _number_kinds(f)])
def test_every_integer_key_has_an_upper_bound(key):
    """10**30 of anything (units, epochs, a seed) is exit 2 at validate, naming the key."""
    msgs = errors_of(_doc_with(key, 10**30))
    assert any(f": {key}" in m for m in msgs), msgs


@pytest.mark.parametrize("key", [k for k, f in _FIELDS if float in _number_kinds(f)])
@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_every_float_key_refuses_inf_and_nan(key, value):
    msgs = errors_of(_doc_with(key, value))
    assert any(f": {key}" in m for m in msgs), msgs


@pytest.mark.parametrize("key", ["train.seed", "data.split_seed"])
@pytest.mark.parametrize("value", [-1, 2**32, 10**23])
def test_seeds_are_what_numpy_and_torch_take(key, value):
    (msg,) = errors_of(_doc_with(key, value))
    assert f": {key}:" in msg


_SWEEP_FIELDS = [(key, field) for key, field in iter_keys(SweepConfig)] + list(iter_keys(ParamSpec, "space.train.lr."))


@pytest.mark.parametrize(
    "key, value",
    [(k, 10**30) for k, f in _SWEEP_FIELDS if int in _number_kinds(f)]
    + [(k, v) for k, f in _SWEEP_FIELDS if float in _number_kinds(f) for v in (float("inf"), float("nan"))],
)
def test_sweep_keys_are_bounded_and_finite_too(key, value):
    import yaml

    doc = {"base": "b.yaml", "space": {"train.lr": {"kind": "uniform", "low": 0.1, "high": 0.2}}}
    if key.startswith("space.train.lr."):
        doc["space"]["train.lr"][key.rsplit(".", 1)[1]] = value
    else:
        target = doc
        for part in key.split(".")[:-1]:
            target = target.setdefault(part, {})
        target[key.split(".")[-1]] = value
    with pytest.raises(ValidationError) as info:
        SweepConfig.model_validate(yaml.safe_load(yaml.safe_dump(doc)))
    assert any(".".join(map(str, e["loc"])).replace("train.lr.uniform", "train.lr") == key for e in info.value.errors()), info


# -- what an error echoes is bounded ------------------------------------------------------------------


def _alias_bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("where", ["config", "sweep", "set"])
def test_an_alias_bomb_is_refused_in_one_line(tmp_path, where):
    from typer.testing import CliRunner

    from rnnexp.cli import app

    bomb = _alias_bomb()
    assert len(bomb) < 600  # 9**9 = 387 million strings once expanded
    config = tmp_path / "c.yaml"
    config.write_text(MINIMAL + (bomb if where == "config" else ""))
    args = ["validate", str(config)]
    if where == "sweep":
        config.write_text("base: base.yaml\nspace:\n  train.lr: [0.1]\n" + bomb)
        (tmp_path / "base.yaml").write_text(MINIMAL)
    if where == "set":
        args += ["--set", "name=" + "[" + bomb.replace("\n", ", ").replace("a0: ", "").strip(", ") + "]"]
        args[-1] = "train.lr=[&x [1,1,1,1,1,1,1,1,1], &y [*x,*x,*x,*x,*x,*x,*x,*x,*x], &z [*y,*y,*y,*y,*y,*y,*y,*y,*y], "
        args[-1] += "&w [*z,*z,*z,*z,*z,*z,*z,*z,*z], &v [*w,*w,*w,*w,*w,*w,*w,*w,*w], [*v,*v,*v,*v,*v,*v,*v,*v,*v]]"
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "YAML aliases expand" in lines[0] and len(result.output) < 400, result.output[:500]


@pytest.mark.parametrize("key", ["name", "model.cell", "data.text_column"])
def test_a_huge_value_is_echoed_clipped(key):
    from typer.testing import CliRunner

    from rnnexp.cli import app

    huge = "x" * 200_000
    result = CliRunner().invoke(app, ["validate", str(ROOT / "configs" / "quickstart.yaml"), "--set", f"{key}={huge}"])
    if key == "data.text_column":  # any string is a valid column name: it is the data that will say no
        assert result.exit_code == 0
        return
    assert result.exit_code == 2 and len(result.output) < 600, result.output[:300]
    assert result.output.count("characters)") == 2  # the --set and the value, each clipped with its length


def test_thousands_of_problems_print_a_screenful(tmp_path):
    from typer.testing import CliRunner

    from rnnexp.cli import app

    config = tmp_path / "many-problems.yaml"
    config.write_text(MINIMAL + "".join(f"bad_key_{i}: 1\n" for i in range(5000)))
    result = CliRunner().invoke(app, ["validate", str(config)])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 21 and lines[-1] == "error: ... and 4980 more problems"


def test_one_rule_decides_whether_a_metric_rises_or_falls():
    """config.direction_of is the rule; early stopping's auto mode and a sweep's auto direction are it."""
    from typing import get_args

    from rnnexp.config import EarlyStoppingConfig, Monitor, SweepConfig, direction_of, objective_of

    up = {"val_accuracy", "val_f1", "accuracy", "f1", "test_accuracy", "precision", "recall"}
    up |= {"val_balanced_accuracy", "val_roc_auc", "val_pr_auc", "balanced_accuracy", "roc_auc", "pr_auc", "test_roc_auc"}
    up |= {"train_accuracy", "train_f1"}  # every prefix is read off, train_ too
    for metric in up:
        assert direction_of(metric) == "max", metric
    for metric in ("val_loss", "train_loss", "val_mae", "val_rmse", "mae", "rmse", "loss"):
        assert direction_of(metric) == "min", metric
    base = Config.model_validate({"data": {"dataset": "amazon-food"}})
    for monitor in get_args(Monitor):
        assert EarlyStoppingConfig(monitor=monitor).resolved_mode == direction_of(monitor)
        sweep = SweepConfig.model_validate(
            {"base": "x.yaml", "space": {"train.lr": [0.1]}, "trials": 1, "objective": {"metric": monitor}}
        )
        assert objective_of(sweep, base)[1] == {"max": "maximize", "min": "minimize"}[direction_of(monitor)]


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:0", "cuda:12"])
def test_every_device_spelling_loads(device):
    assert parse_config(MINIMAL, overrides=[f"train.device={device}"]).train.device == device


@pytest.mark.parametrize("device", ["gpu", "cuda:", "cuda:x", "CPU", "mps", "cpu:0"])
def test_a_device_spelled_otherwise_names_the_key(device):
    (msg,) = errors_of(MINIMAL + f"train:\n  device: '{device}'\n")
    assert msg.startswith("c.yaml:4: train.device:"), msg


# ---------------------------------------------------------------------------------------------
# The run name: {key} fields


def _named(name, **sections) -> Config:
    return Config.model_validate({"name": name, "data": {"dataset": "amazon-food"}, **sections})


@pytest.mark.parametrize(
    "template, sections, expected",
    [
        ("uci-{cell}", {"model": {"cell": "gru"}}, "uci-gru"),
        ("{model.cell}-{num_neurons}", {"model": {"cell": "rnn", "num_neurons": 48}}, "rnn-48"),
        ("lr{lr}", {"train": {"lr": 0.0005}}, "lr0.0005"),
        ("lr{ lr }", {"train": {"lr": 1e-05}}, "lr1e-05"),  # spaces inside the braces are ignored
        ("b{bidirectional}", {"model": {"bidirectional": True}}, "btrue"),
        ("t{threads}", {}, "tnone"),
        ("{dataset}_{seed}", {"train": {"seed": 3}}, "amazon-food_3"),
        ("plain", {}, "plain"),
    ],
)
def test_a_name_template_fills_in_config_values(template, sections, expected):
    assert _named(template, **sections).run_name == expected


@pytest.mark.parametrize(
    "template, message",
    [
        ("x-{monitor}", "{monitor} is several keys; write one of {train.lr_schedule.monitor}, {train.early_stopping.monitor}"),
        ("x-{celll}", "{celll} is not a config key"),
        ("x-{name}", "{name} is not a config key"),  # the name cannot hold itself
        ("x-{model}", "{model} is not a config key"),
        ("x-{space}", "{space} is not a config key"),
        ("{cell}" + "x" * 70, "a run name is 1 to 64 letters"),  # too long once expanded
        ("-{cell}", "a run name is 1 to 64 letters"),
        ("a b", "a run name is 1 to 64 letters"),
    ],
)
def test_a_name_template_that_cannot_be_filled_is_a_config_error_naming_the_key(template, message):
    with pytest.raises(ValidationError) as e:
        _named(template)
    assert "name: " in str(e.value) and message in str(e.value)


def test_a_value_with_characters_a_folder_cannot_hold_becomes_dashes(tmp_path):
    cfg = Config.model_validate({"name": "f-{train_file}", "data": {"train_file": "data/my reviews.csv"}})
    assert cfg.run_name == "f-data-my-reviews.csv"


def test_an_unquoted_template_in_yaml_says_to_quote_it(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: {cell}\ndata:\n  dataset: amazon-food\n")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert 'must be quoted in YAML: name: "{cell}-run"' in str(e.value)
    path.write_text('name: "{cell}-run"\ndata:\n  dataset: amazon-food\n')
    assert load_config(path).run_name == "gru-run" and load_config(path).name == "{cell}-run"


@pytest.mark.parametrize(
    "task_data, train, message",
    [
        (
            {"dataset": "vic-elec", "task": "forecasting"},
            {"class_weight": "balanced"},
            "train.class_weight is for classification",
        ),
        (
            {"dataset": "vic-elec", "task": "forecasting"},
            {"class_weight": {"a": 2.0}},
            "train.class_weight is for classification",
        ),
        ({"dataset": "amazon-food"}, {"class_weight": {"great": 0.0}}, "every weight must be > 0, got great: 0.0"),
        ({"dataset": "amazon-food"}, {"class_weight": {}}, "an empty mapping"),
        ({"dataset": "amazon-food"}, {"class_weight": "heavy"}, "train.class_weight"),
        ({"dataset": "vic-elec", "task": "forecasting"}, {"early_stopping": {"monitor": "val_roc_auc"}}, "does not apply"),
        ({"dataset": "amazon-food"}, {"lr_schedule": {"monitor": "val_rmse"}}, "it has val_accuracy, val_f1"),
    ],
)
def test_class_weight_and_metric_monitors_are_checked_with_the_config(task_data, train, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(yaml.safe_dump({"data": task_data, "train": train}), source="c.yaml")


def test_class_weight_keys_read_as_the_data_reads_labels():
    """YAML {0: 1, 1: 3} names the labels '0' and '1', as a CSV's or JSON's 0/1/true/1.0 become."""
    for keys, labels in (({0: 1.0, 1: 3.0}, ["0", "1"]), ({True: 2.0}, ["1"]), ({1.0: 2.0, "great ": 1.5}, ["1", "great"])):
        cfg = parse_config(yaml.safe_dump({"data": {"dataset": "amazon-food"}, "train": {"class_weight": keys}}), source="c")
        assert sorted(cfg.train.class_weight) == labels


# -- base: config inheritance ----------------------------------------------------------------------


def _chain(tmp_path: Path, child: str, base: str, root: str) -> list[Path]:
    """child.yaml (in a/) on ../b/base.yaml on root.yaml beside it: three files in two folders."""
    (tmp_path / "a").mkdir(exist_ok=True)
    (tmp_path / "b").mkdir(exist_ok=True)
    paths = [tmp_path / "a" / "child.yaml", tmp_path / "b" / "base.yaml", tmp_path / "b" / "root.yaml"]
    for path, text in zip(paths, (child, base, root)):
        path.write_text(text)
    return paths


CHILD = "base: ../b/base.yaml\nname: child\ntrain:\n  lr: 0.01\n"
BASE = "base: root.yaml\nmodel:\n  cell: lstm\n  num_neurons: [16, 8]\ntrain:\n  lr: 0.5\n  epochs: 4\n"
ROOT_CFG = "data:\n  dataset: amazon-food\n  maxlen: 50\nmodel:\n  cell: rnn\n  bidirectional: true\n"


def test_a_chain_of_bases_merges_below_each_file_and_set_wins(tmp_path, monkeypatch):
    child, _, _ = _chain(tmp_path, CHILD, BASE, ROOT_CFG)
    monkeypatch.chdir(tmp_path / "b")  # bases are found relative to the file naming them, never the cwd
    cfg = load_config(child, ["train.epochs=2"])
    assert (cfg.name, cfg.train.lr, cfg.train.epochs) == ("child", 0.01, 2)  # the child's lr, --set's epochs
    assert (cfg.model.cell, cfg.model.num_neurons, cfg.model.bidirectional) == ("lstm", [16, 8], True)
    assert (cfg.data.dataset, cfg.data.maxlen) == ("amazon-food", 50)  # only in the base's base
    # a list replaces the base's whole (never merged item by item); a section merges key by key
    child.write_text(CHILD + "model:\n  num_neurons: [4]\n")
    cfg = load_config(child)
    assert cfg.model.num_neurons == [4] and cfg.model.cell == "lstm" and cfg.model.bidirectional
    # the run folder's config.yaml is the merged config: it loads without any base
    dumped = tmp_path / "run.yaml"
    dumped.write_text(dump_config(cfg))
    assert "base" not in yaml.safe_load(dumped.read_text()) and load_config(dumped) == cfg


@pytest.mark.parametrize("layer", [0, 1, 2], ids=["child", "base", "base-of-base"])
@pytest.mark.parametrize(
    "section, bad, message",
    [
        ("train", "epochz: 3", "unknown key train.epochz (did you mean train.epochs?)"),
        ("train", "batch_size: 0", "train.batch_size: Input should be greater than or equal to 1, got 0"),
        ("model", "head: avg", "model.head: Input should be 'last', 'mean', 'max' or 'flatten', got 'avg'"),
    ],
)
def test_an_error_names_the_file_and_line_of_the_chain_that_wrote_the_key(tmp_path, layer, section, bad, message):
    texts = [CHILD, BASE, ROOT_CFG]
    text = texts[layer]
    header = f"{section}:\n"
    texts[layer] = text.replace(header, f"{header}  {bad}\n") if header in text else f"{text}{header}  {bad}\n"
    line = texts[layer].splitlines().index(f"  {bad}") + 1
    paths = _chain(tmp_path, *texts)
    with pytest.raises(ConfigError) as e:
        load_config(paths[0])
    shown = [str(paths[0]), *(os.path.normpath(p) for p in (paths[0].parent / "../b/base.yaml", paths[1].parent / "root.yaml"))]
    assert e.value.messages == [f"{shown[layer]}:{line}: {message}"]


def test_a_value_a_base_wrote_and_the_child_overrides_is_judged_as_the_child_wrote_it(tmp_path):
    child, base, _ = _chain(tmp_path, CHILD.replace("0.01", "-1"), BASE, ROOT_CFG)
    with pytest.raises(ConfigError) as e:
        load_config(child)
    assert e.value.messages == [f"{child}:4: train.lr: Input should be greater than 0, got -1"]
    with pytest.raises(ConfigError) as e:
        load_config(child, ["train.lr=-2"])
    assert e.value.messages == ["--set train.lr=-2: train.lr: Input should be greater than 0, got -2"]


@pytest.mark.parametrize(
    "bases",
    [["a.yaml"], ["b.yaml", "a.yaml"], ["b.yaml", "c.yaml", "a.yaml"]],
    ids=["itself", "cycle-of-2", "cycle-of-3"],
)
def test_a_cycle_of_bases_is_refused_naming_every_file(tmp_path, bases):
    names = ["a.yaml", *bases[:-1]]
    for name, base in zip(names, bases):
        (tmp_path / name).write_text(f"base: {base}\n{MINIMAL}")
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path / "a.yaml")
    (msg,) = e.value.messages
    cycle = " -> ".join(str(tmp_path / n) for n in [*names, "a.yaml"])
    assert f"makes a cycle: {cycle} (remove one of these bases)" in msg, msg
    assert msg.startswith(f"{tmp_path / names[-1]}:1: base a.yaml")


@pytest.mark.parametrize(
    "base, message",
    [
        ("nope.yaml", "{dir}/c.yaml:1: base: {dir}/nope.yaml: base config not found"),
        ("5", "{dir}/c.yaml:1: base: expected a config path (relative to this file) or null, got 5"),
        (
            "[a.yaml, b.yaml]",
            "{dir}/c.yaml:1: base: expected a config path (relative to this file) or null, got ['a.yaml', 'b.yaml']",
        ),
        (
            "sweep.yaml",
            "{dir}/c.yaml:1: base sweep.yaml: {dir}/sweep.yaml is a sweep file (it has space); a config's base must be a config",
        ),
    ],
)
def test_a_base_that_is_missing_not_a_path_or_a_sweep_file_is_an_error_at_its_line(tmp_path, base, message):
    (tmp_path / "sweep.yaml").write_text("base: c.yaml\nspace:\n  model.cell: [gru]\n")
    (tmp_path / "c.yaml").write_text(f"base: {base}\n{MINIMAL}")
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path / "c.yaml")
    assert e.value.messages == [message.format(dir=tmp_path)]


def test_base_null_is_no_base_and_data_paths_are_relative_to_the_file_that_wrote_them(tmp_path):
    (tmp_path / "c.yaml").write_text(f"base: null\n{MINIMAL}")
    assert load_config(tmp_path / "c.yaml") == parse_config(MINIMAL)
    child, _, _ = _chain(tmp_path, CHILD + "data:\n  test_file: test.csv\n", BASE, "data:\n  train_file: data/train.csv\n")
    cfg = load_config(child, ["data.val_file=val.csv"])
    assert cfg.data.train_file == str(tmp_path / "b" / "data" / "train.csv")  # the base's, beside the base
    assert cfg.data.test_file == str(tmp_path / "a" / "test.csv")
    assert cfg.data.val_file == str(tmp_path / "a" / "val.csv")  # --set: relative to the config given


def test_a_sweep_s_base_config_may_have_a_base(tmp_path):
    child, _, _ = _chain(tmp_path, CHILD, BASE, ROOT_CFG)
    sweep = tmp_path / "a" / "s.yaml"
    sweep.write_text("base: child.yaml\nset:\n  train.epochs: 1\nspace:\n  model.cell: [gru, lstm]\nsampler:\n  kind: grid\n")
    _, raw, cfg = load_sweep(sweep)
    assert cfg == load_config(child, ["train.epochs=1"]) and raw["data"]["maxlen"] == 50


def test_the_shipped_uci_gru_plateau_resolves_as_it_did_before_it_had_a_base():
    before = """name: uci-gru
data:
  dataset: uci-sentiment
  maxlen: 40
  test_split: 0.15
model:
  cell: gru
  embedding_dims: 32
  num_neurons: 32
train:
  epochs: 6
  batch_size: 32
  lr: 0.0001
  plateau_warning: 3
  early_stopping:
    enabled: false
"""  # configs/uci_gru_plateau.yaml's keys before it used base: uci_sentiment.yaml
    path = ROOT / "configs" / "uci_gru_plateau.yaml"
    assert "base: uci_sentiment.yaml" in path.read_text()
    assert load_config(path) == parse_config(before, base_dir=path.parent)


def test_validate_print_names_where_each_value_came_from_and_loads_back(tmp_path):
    from rnnexp.config import explain_config

    child, base, _ = _chain(tmp_path, CHILD, BASE, ROOT_CFG)
    text = explain_config(child, ["train.epochs=2", "model={dropout: 0.5}"])
    shown_base = os.path.normpath(tmp_path / "a" / ".." / "b")  # as the child names it, made plain
    origins = {line.split(":")[0].strip(): line.rsplit("# ", 1)[1] for line in text.splitlines() if "#" in line}
    assert origins["name"] == f"{child}:2" and origins["lr"] == f"{child}:4"
    assert origins["epochs"] == "--set" and origins["dropout"] == "--set"
    assert origins["num_neurons"] == f"{shown_base}/base.yaml:4" and origins["cell"] == f"{shown_base}/base.yaml:3"
    assert origins["maxlen"] == f"{shown_base}/root.yaml:3" and origins["bidirectional"] == f"{shown_base}/root.yaml:6"
    assert origins["batch_size"] == "default" and origins["patience"] == "default"
    assert all(line.endswith(":") or "  # " in line for line in text.splitlines())  # every value says
    again = tmp_path / "printed.yaml"
    again.write_text(text)
    assert load_config(again) == load_config(child, ["train.epochs=2", "model={dropout: 0.5}"])


def _origins(text: str) -> dict[str, str]:
    """{dotted key: its origin comment} of validate --print's output."""
    out, path = {}, []
    for line in text.splitlines():
        depth = (len(line) - len(line.lstrip())) // 2
        key = line.strip().split(":")[0]
        path = [*path[:depth], key]
        if "  # " in line:
            out[".".join(path)] = line.rsplit("  # ", 1)[1]
    return out


@pytest.mark.parametrize(
    "child, overrides, expected",
    [
        # a scalar that a validator expands into a section: it gives only what it says (enabled)
        ("", ["train.mlflow=true"], {"enabled": "--set", "tracking_uri": "default", "experiment": "default"}),
        ("train:\n  mlflow: true\n", [], {"enabled": "c:4", "tracking_uri": "default", "experiment": "default"}),
        ("train:\n  mlflow: true\n", ["train.mlflow=false"], {"enabled": "--set", "experiment": "default"}),
        # a mapping over a file's scalar replaces it: enabled is no longer given
        ("train:\n  mlflow: true\n", ["train.mlflow={experiment: x}"], {"enabled": "default", "experiment": "--set"}),
        ("train:\n  mlflow: {experiment: x}\n", ["train.mlflow=true"], {"enabled": "--set", "experiment": "default"}),
        # a mapping merges: only the keys in it are its own
        ("train:\n  mlflow:\n    experiment: x\n", ["train.mlflow={}"], {"enabled": "default", "experiment": "c:5"}),
        ("train:\n  mlflow:\n    experiment: x\n", ["train.mlflow={enabled: true}"], {"enabled": "--set", "experiment": "c:5"}),
    ],
)
def test_validate_print_credits_each_value_to_what_gave_it(tmp_path, child, overrides, expected):
    from rnnexp.config import explain_config

    path = tmp_path / "c"
    path.write_text(MINIMAL + child)
    origins = _origins(explain_config(path, overrides))
    assert {k: origins[f"train.mlflow.{k}"] for k in expected} == {k: v.replace("c:", f"{path}:") for k, v in expected.items()}


def test_validate_print_credits_a_mapping_set_and_a_set_over_a_base_key(tmp_path):
    from rnnexp.config import explain_config

    child, base, root = _chain(tmp_path, CHILD, BASE, ROOT_CFG)
    base_file, root_file = os.path.normpath(base), os.path.normpath(root)
    origins = _origins(explain_config(child, ["train={lr: 0.1}", "model.cell=gru", "model.embedding={freeze: true}"]))
    assert origins["train.lr"] == "--set" and origins["train.epochs"] == f"{base_file}:7"  # only what the mapping holds
    assert origins["train.batch_size"] == "default" and origins["train.mlflow.enabled"] == "default"
    assert origins["model.cell"] == "--set" and origins["model.num_neurons"] == f"{base_file}:4"  # over the base's key
    assert origins["model.bidirectional"] == f"{root_file}:6" and origins["data.maxlen"] == f"{root_file}:3"
    assert origins["model.embedding.freeze"] == "--set" and origins["model.embedding.pretrained"] == "default"


def test_validate_print_of_a_sweep_file_credits_set_entries_to_their_lines(tmp_path):
    from rnnexp.config import explain_sweep

    child, base, root = _chain(tmp_path, CHILD, BASE, ROOT_CFG)
    base_file = os.path.normpath(base)
    sweep = tmp_path / "a" / "s.yaml"
    sweep.write_text(
        "base: child.yaml\nset:\n  train.epochs: 1\n  train.mlflow: true\n  model:\n    dropout: 0.25\n"
        "space:\n  model.cell: [gru, lstm]\nsampler: {kind: grid}\n"
    )
    text = explain_sweep(sweep, ["set.data.maxlen=30", "set.train.early_stopping={patience: 9}"])
    origins = _origins(text)
    assert origins["train.epochs"] == f"{sweep}:3" and origins["model.dropout"] == f"{sweep}:6"
    assert origins["train.mlflow.enabled"] == f"{sweep}:4" and origins["train.mlflow.experiment"] == "default"
    assert origins["data.maxlen"] == "--set" and origins["train.early_stopping.patience"] == "--set"
    assert origins["train.early_stopping.enabled"] == "default" and origins["train.lr"] == f"{child}:4"
    assert origins["model.cell"] == f"{base_file}:3" and origins["name"] == f"{child}:2"
    printed = tmp_path / "printed.yaml"  # what every trial starts from, loadable
    printed.write_text(text)
    assert load_config(printed) == load_sweep(sweep, ["set.data.maxlen=30", "set.train.early_stopping={patience: 9}"])[2]
    proc = run_cli("validate", sweep, "--print", "--set", "set.data.maxlen=30")
    assert proc.returncode == 0 and "  maxlen: 30  # --set" in proc.stdout and f"  epochs: 1  # {sweep}:3" in proc.stdout


def test_the_json_schema_accepts_base():
    from rnnexp.config import config_json_schema

    schema = config_json_schema()
    assert schema["additionalProperties"] is False and "string" in str(schema["properties"]["base"])
    assert set(schema["properties"]) == {"base", *Config.model_fields}


VALUE_KEYS = [  # (how the key is written, what YAML reads it as)
    ("?", "null"),
    ("~", "null"),
    ("null", "null"),
    ("yes", "a true/false value (true)"),
    ("off", "a true/false value (false)"),
    ("1", "a number (1)"),
    ("2.5", "a number (2.5)"),
    ("2024-01-01", "a date (2024-01-01)"),
]


@pytest.mark.parametrize("written,read_as", VALUE_KEYS, ids=[w for w, _ in VALUE_KEYS])
@pytest.mark.parametrize("place", ["the top level", "a section", "a sweep's space"])
def test_a_key_yaml_reads_as_a_value_is_named_with_its_line_and_what_belongs_there(tmp_path, written, read_as, place):
    """A key YAML reads as null, true/false, a number or a date, where a name belongs: one line with
    the file and line, where the key is, what YAML made of it, and what names go there (never
    pydantic's "Keys should be strings" with no line)."""
    # ? starts an explicit key (here an empty one): its ':' follows on the next line, at its indent
    key = lambda indent: f"?\n{indent}:" if written == "?" else f"{written}:"
    if place == "a sweep's space":
        (tmp_path / "base.yaml").write_text("data: {dataset: uci-sentiment}\n")
        path = tmp_path / "sweep.yaml"
        path.write_text(
            f"base: base.yaml\nobjective: {{metric: val_accuracy}}\nsampler: {{kind: grid}}\nspace:\n  {key('  ')} [1, 2]\n"
        )
        line, within, names = 5, "in space", "write a name"
        with pytest.raises(ConfigError) as caught:
            load_sweep(path)
    else:
        section = "train" if place == "a section" else None
        path = tmp_path / "config.yaml"
        indent = "  " if section else ""
        body = f"train:\n{indent}epochs: 2\n{indent}{key(indent)} 3\n" if section else f"{key('')} 3\n"
        path.write_text("data: {dataset: uci-sentiment}\n" + body)
        line = 4 if section else 2
        within = "in train" if section else "at the top level"
        names = "write one of epochs, batch_size, lr" if section else "write one of name, data, model, train"
        with pytest.raises(ConfigError) as caught:
            load_config(path)
    (message,) = [m for m in caught.value.messages if "read by YAML" in m]
    assert message.startswith(f"{path}:{line}: a key {within} is read by YAML as {read_as}")
    assert "not as a name" in message and names in message and "\n" not in message, message
    assert not any("Keys should be strings" in m or "valid string" in m for m in caught.value.messages), caught.value.messages


@pytest.mark.parametrize("written,read_as", VALUE_KEYS[1:], ids=[w for w, _ in VALUE_KEYS[1:]])
def test_a_value_key_given_by_set_is_named_as_that_set(tmp_path, written, read_as):
    path = tmp_path / "config.yaml"
    path.write_text("data: {dataset: uci-sentiment}\n")
    given = f"model={{{written}: 3}}"
    with pytest.raises(ConfigError) as caught:
        load_config(path, [given])
    (message,) = caught.value.messages
    assert message.startswith(f"--set {given}: a key in model is read by YAML as {read_as}") and "write one of cell," in message


@pytest.mark.parametrize("written", ["~0/train.csv", "~no-such-user-rnnexp/train.csv"])
def test_a_tilde_naming_no_user_stays_a_path_as_a_shell_leaves_it(tmp_path, written):
    """~name expands to a user's home folder; a ~name that names no user is kept as written (bash does
    the same), so the file is looked for there and a missing one is named, never an internal error."""
    from rnnexp.config import parse_config

    cfg = parse_config(f"data: {{task: text_classification, train_file: '{written}'}}\n", base_dir=tmp_path)
    assert cfg.data.train_file == str(tmp_path / written)
    assert parse_config("data: {task: text_classification, train_file: '~/t.csv'}\n", base_dir=tmp_path).data.train_file == str(
        Path.home() / "t.csv"
    )


# -- each kind of schema error, as one line naming where and what -----------------------------------

DESCRIBED = [  # (config text, --set items, the one message)
    (
        "data: {dataset: amazon-food}\ntrain: {early_stopping: {monitor: val_loss}}\n",
        ["data.val_split=0"],
        "c.yaml: train.early_stopping.monitor is 'val_loss' but there is no validation data; set data.val_split > 0, "
        "data.val_file, or monitor train_loss",
    ),
    (
        "data: {dataset: amazon-food, task: forecasting}\n",
        [],
        "c.yaml:1: data: data.dataset amazon-food is text; forecasting takes vic-elec, seattle-weather, us-births or a CSV",
    ),
    (
        "data: {dataset: amazon-food}\nmodel: {cell: lsxx}\n",
        [],
        "c.yaml:2: model.cell: Input should be 'rnn', 'gru' or 'lstm', got 'lsxx' (did you mean 'lstm'?)",
    ),
    (
        "data: {dataset: amazon-food}\nmodel: {cell: xyz}\n",
        [],
        "c.yaml:2: model.cell: Input should be 'rnn', 'gru' or 'lstm', got 'xyz'",
    ),
    (
        "data: {dataset: amazon-food}\nmodel: {cell: [gru]}\n",
        [],
        "c.yaml:2: model.cell: Input should be 'rnn', 'gru' or 'lstm', got list",
    ),
    (
        "data: {dataset: amazon-food}\nmodel: {cell: {a: 1}}\n",
        [],
        "c.yaml:2: model.cell: Input should be 'rnn', 'gru' or 'lstm', got dict",
    ),
    (
        "data: {dataset: amazon-food}\n",
        ["model={cell: 3}"],
        "--set model={cell: 3}: model.cell: Input should be 'rnn', 'gru' or 'lstm', got 3",
    ),
    (
        "data: {dataset: amazon-food}\nmodel: {cell: 3}\n",
        ["model.num_neurons=8"],
        "c.yaml:2: model.cell: Input should be 'rnn', 'gru' or 'lstm', got 3",
    ),
    (
        "data: {dataset: amazon-food}\n",
        ["train.optimizer=rmsprp"],
        "--set train.optimizer=rmsprp: train.optimizer: Input should be 'adam', 'adamw', 'rmsprop' or 'sgd', got 'rmsprp' "
        "(did you mean 'rmsprop'?)",
    ),
    (
        "data: {dataset: amazon-food, padding: pos}\n",
        [],
        "c.yaml:1: data.padding: Input should be 'pre' or 'post', got 'pos' (did you mean 'post'?)",
    ),
    (
        "data: {dataset: amazon-food}\ntrain: {early_stopping: {mode: mx}}\n",
        [],
        "c.yaml:2: train.early_stopping.mode: Input should be 'auto', 'min' or 'max', got 'mx' (did you mean 'max'?)",
    ),
    (
        "data: {dataset: amazon-fod}\n",
        [],
        "c.yaml:1: data.dataset: Input should be 'amazon-food', 'uci-sentiment', 'vic-elec', 'seattle-weather', 'us-births' "
        "or 'digits', got 'amazon-fod' (did you mean 'amazon-food'?)",
    ),
    (
        "data: {dataset: amazon-food}\nmodel: {recurrent_init: orthogonl}\n",
        [],
        "c.yaml:2: model.recurrent_init: Input should be 'orthogonal', 'xavier_uniform', 'xavier_normal' or 'torch', got "
        "'orthogonl' (did you mean 'orthogonal'?)",
    ),
    ("model: {cell: gru}\n", [], "c.yaml: missing required key data"),
    ("data: {dataset: amazon-food}\ndata2: 3\n", [], "c.yaml:2: unknown key data2 (did you mean data?)"),
    ("data: {dataset: amazon-food}\n", ["data2=3"], "--set data2=3: unknown key data2 (did you mean data?)"),
    (
        "data: {dataset: amazon-food}\ntrain:\n  early_stopping:\n    null: 1\n",
        [],
        "c.yaml:4: a key in train.early_stopping is read by YAML as null (~, null or an empty key), not as a name: write one "
        "of enabled, monitor, mode, patience, min_delta, restore_best (quote a name that looks like a value)",
    ),
    (
        "data: {dataset: amazon-food}\n",
        ["train.early_stopping={1: 3}"],
        "--set train.early_stopping={1: 3}: a key in train.early_stopping is read by YAML as a number (1), not as a name: "
        "write one of enabled, monitor, mode, patience, min_delta, restore_best (quote a name that looks like a value)",
    ),
]


@pytest.mark.parametrize("text, overrides, message", DESCRIBED)
def test_each_kind_of_schema_error_is_one_line_naming_where_and_what(text, overrides, message):
    assert errors_of(text, overrides) == [message]


def test_a_sweep_file_s_own_unknown_key_is_hinted_from_the_sweep_schema(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("base: b.yaml\nspace: {train.lr: [0.1]}\ntrails: 3\npruner: {kindd: none}\nsampler: {kind: tpee}\n")
    with pytest.raises(ConfigError) as e:
        load_sweep(path)
    assert sorted(e.value.messages) == [
        f"{tmp_path / 'b.yaml'}: config file not found",
        f"{path}:3: unknown key trails (did you mean trials?)",
        f"{path}:4: unknown key pruner.kindd (did you mean pruner.kind?)",
        f"{path}:5: sampler.kind: Input should be 'grid', 'random' or 'tpe', got 'tpee' (did you mean 'tpe'?)",
    ]


# -- forecasting's window keys (config/forecasting.py) ---------------------------------------------


@pytest.mark.parametrize("step, season, lag", [(1, 7, 7), (6, 7, 7), (7, 7, 7), (8, 7, 14), (14, 7, 14), (15, 7, 21), (3, 1, 3)])
def test_a_step_s_seasonal_value_lies_the_fewest_whole_seasons_back_that_reach_the_window(step, season, lag):
    from rnnexp.config.forecasting import season_lag

    assert season_lag(step, season) == lag


@pytest.mark.parametrize(
    "steps, season, rows",
    [
        ([1], 7, 7),
        ([7], 7, 1),
        ([8], 7, 7),
        ([1, 2, 3, 4, 5, 6, 7, 8], 7, 7),
        ([3], 2, 2),
        ([2, 3], 2, 2),
        ([4], 3, 3),
        ([5, 6], 3, 2),
    ],
)
def test_the_rows_seasonal_naive_residuals_need_are_the_most_any_step_reads(steps, season, rows):
    from rnnexp.config.forecasting import seasonal_rows_needed

    assert seasonal_rows_needed(steps, season) == rows


WINDOW_KEYS = [  # (data keys over a weekly CSV's defaults, the message, or None: accepted)
    (
        {"residual": "seasonal_naive", "season": None},
        "data.residual seasonal_naive needs data.season (the season's length in rows)",
    ),
    ({"residual": "seasonal_naive", "season": 7, "lookback": 7}, None),
    (
        {"residual": "seasonal_naive", "season": 7, "lookback": 6},
        "data.residual seasonal_naive reads the value one season before each step from the window: data.lookback 6 must be "
        "at least 7 with data.season 7; raise data.lookback, or use data.residual persistence",
    ),
    ({"residual": "seasonal_naive", "season": 7, "lookback": 6, "horizon": 7}, None),  # step 7 reads the window's last row
    (
        {"residual": "seasonal_naive", "season": 7, "lookback": 6, "horizon": 7, "multi_output": True},
        "data.residual seasonal_naive reads the value one season before each step from the window: data.lookback 6 must be "
        "at least 7 with data.season 7; raise data.lookback, or use data.residual persistence",
    ),
    ({"residual": "seasonal_naive", "season": 4, "lookback": 3, "horizon": 2}, None),
    (
        {"residual": "seasonal_naive", "season": 4, "lookback": 3, "horizon": 2, "multi_output": True},
        (
            "data.residual seasonal_naive reads the value one season before each step from the window: data.lookback 3 must "
            "be at least 4 with data.season 4; raise data.lookback, or use data.residual persistence"
        ),
    ),
    ({"seasonal_input": True, "season": None}, "data.seasonal_input needs data.season (the season's length in rows)"),
    ({"seasonal_input": True, "season": 7, "lookback": 7}, None),
    (
        {"seasonal_input": True, "season": 7, "lookback": 6},
        "data.seasonal_input reads the value one season back from the window: data.lookback 6 must be at least data.season 7; "
        "raise data.lookback",
    ),
    ({"calendar": ["month", "day_of_week"]}, None),
    ({"calendar": ["month", "day_of_week", "month"]}, "data.calendar names a cycle twice: ['month', 'day_of_week', 'month']"),
    (
        {"calendar": ["month"], "time_column": None},
        "data.calendar reads the time column: set data.time_column to the column of timestamps",
    ),
    ({"calendar": [], "time_column": None}, None),
    (
        {"calendar": ["month"], "time_column": None, "train_file": None, "dataset": "vic-elec"},
        None,
    ),  # a built-in's own timestamps
]


@pytest.mark.parametrize("keys, message", WINDOW_KEYS)
def test_a_window_key_the_data_cannot_serve_is_refused_naming_it(keys, message):
    from rnnexp.config import DataConfig
    from rnnexp.config.forecasting import check_window_keys

    data = DataConfig.model_construct(**{**_forecast_data(), **keys})  # the checks alone, no other validator
    if message is None:
        check_window_keys(data)
    else:
        with pytest.raises(ValueError) as e:
            check_window_keys(data)
        assert str(e.value) == message
        (shown,) = errors_of(yaml.safe_dump({"data": {**_forecast_data(), **keys}}))
        assert shown.endswith(str(e.value))  # and validation says it, naming the file


def _forecast_data() -> dict:
    return {"task": "forecasting", "train_file": "w.csv", "time_column": "week", "target": "y", "lookback": 8, "season": None}


# -- what rnnexp recorded under an older version (config/recorded.py) -----------------------------


def test_a_recorded_config_lacking_a_changed_default_reads_with_its_old_value():
    from rnnexp.config import as_recorded
    from rnnexp.config.recorded import CHANGED_DEFAULTS

    raw = {"data": {"dataset": "amazon-food"}, "train": {"lr": 0.1}}
    recorded = as_recorded(raw)
    assert recorded == {
        "data": {"dataset": "amazon-food", "window_scale": False},
        "train": {"lr": 0.1, "optimizer_defaults": "torch", "balance_steps": False},
    }
    assert raw == {"data": {"dataset": "amazon-food"}, "train": {"lr": 0.1}}  # the caller's dict untouched
    assert set(CHANGED_DEFAULTS) == {"train.optimizer_defaults", "data.window_scale", "train.balance_steps"}
    written = {"data": {"window_scale": True}, "train": {"optimizer_defaults": "keras", "balance_steps": True}}
    assert as_recorded(written) == written  # a value it wrote is kept
    assert as_recorded({}) == {"data": {"window_scale": False}, "train": {"optimizer_defaults": "torch", "balance_steps": False}}
    wrong = {"data": "a text", "train": None}
    assert as_recorded(wrong) == wrong  # sections written wrongly: validation names them
    assert as_recorded(["not", "a", "mapping"]) == ["not", "a", "mapping"]  # validation names it
    nested = {"train": {"lr": [1, 2]}}
    out = as_recorded(nested)
    out["train"]["lr"].append(3)
    assert nested == {"train": {"lr": [1, 2]}}  # a deep copy


def test_a_run_folder_s_config_from_before_a_default_changed_loads_as_it_ran(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("data: {dataset: amazon-food}\n")
    assert load_config(path, recorded=True).train.optimizer_defaults == "torch"
    assert load_config(path).train.optimizer_defaults == "keras"


def test_headline_metric_is_mae_for_forecasting_and_accuracy_otherwise():
    from rnnexp.config import headline_metric

    assert [headline_metric(t) for t in ("forecasting", "text_classification", "sequence_classification")] == [
        "mae",
        "accuracy",
        "accuracy",
    ]


def test_the_json_schema_s_base_key_is_a_path_or_null():
    from rnnexp.config import BASE_DESCRIPTION, config_json_schema

    schema = config_json_schema()
    assert list(schema["properties"])[0] == "base"
    assert schema["properties"]["base"] == {
        "anyOf": [{"type": "string"}, {"type": "null"}],
        "default": None,
        "description": BASE_DESCRIPTION,
    }
    assert {k: v for k, v in schema["properties"].items() if k != "base"} == Config.model_json_schema()["properties"]


def test_data_paths_in_a_sweep_s_set_and_space_are_relative_to_the_sweep_file(tmp_path):
    from rnnexp.config.inherit import resolve_entry_paths

    raw = {
        "set": {"data.train_file": "a.csv", "data": {"val_file": "v.csv"}, "train.lr": 0.1, 3: "x"},
        "space": {
            "data.train_file": ["b.csv", "/abs/c.csv"],
            "data.test_file": {"kind": "choice", "values": ["t.csv"]},
            "train.lr": {"kind": "uniform", "low": 0.1, "high": 0.2},
            "model.cell": "not a spec",
        },
    }
    resolve_entry_paths(raw, tmp_path)
    assert raw["set"] == {
        "data.train_file": str(tmp_path / "a.csv"),
        "data": {"val_file": str(tmp_path / "v.csv")},
        "train.lr": 0.1,
        3: "x",
    }
    assert raw["space"]["data.train_file"] == [str(tmp_path / "b.csv"), "/abs/c.csv"]
    assert raw["space"]["data.test_file"] == {"kind": "choice", "values": [str(tmp_path / "t.csv")]}
    assert raw["space"]["train.lr"] == {"kind": "uniform", "low": 0.1, "high": 0.2} and raw["space"]["model.cell"] == "not a spec"
    empty = {"set": None, "space": ["a list"]}
    resolve_entry_paths(empty, tmp_path)
    assert empty == {"set": None, "space": ["a list"]}


def test_iter_keys_walks_every_leaf_of_the_schema_through_optional_sections():
    keys = [key for key, _ in iter_keys()]
    assert len(keys) == len(set(keys))
    assert {
        "model.embedding.pretrained",
        "model.embedding.freeze",
        "train.early_stopping.patience",
    } <= set(keys)
    assert any(key.startswith("data.augment.") for key in keys)
    assert not {"model", "model.embedding", "train.early_stopping", "data.augment"} & set(keys)  # sections are walked into
    assert all(key.count(".") >= 1 for key in keys if key != "name")
    cfg = Config.model_validate({"data": {"dataset": "amazon-food"}, "model": {"embedding": {"pretrained": "v.txt"}}})
    from rnnexp.config import flatten

    assert set(flatten(cfg.model_dump(mode="json"))) == set(keys)
    sweep_keys = [key for key, _ in iter_keys(SweepConfig)]
    assert "sampler.kind" in sweep_keys and "pruner.min_epochs" in sweep_keys and "space" in sweep_keys


def test_a_dumped_config_keeps_the_schema_s_order_and_loads_back():
    cfg = parse_config("data: {dataset: amazon-food}\ntrain: {lr: 0.5}\nmodel: {cell: lstm}\n")
    dumped = yaml.safe_load(dump_config(cfg))
    assert list(dumped) == list(Config.model_fields) and list(dumped["train"]) == list(type(cfg.train).model_fields)
    assert parse_config(dump_config(cfg)) == cfg


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["data.dataset.x=1"], "--set 'data.dataset.x=1': data.dataset is a value, not a section"),
        (
            ["train.early_stopping.patience.x.y=1"],
            "--set 'train.early_stopping.patience.x.y=1': train.early_stopping.patience is a value, not a section",
        ),
        (["train..lr=1"], "--set 'train..lr=1': expected KEY.PATH=VALUE, e.g. --set train.lr=0.01"),
        (["=1"], "--set '=1': expected KEY.PATH=VALUE, e.g. --set train.lr=0.01"),
        (["train.lr"], "--set 'train.lr': expected KEY.PATH=VALUE, e.g. --set train.lr=0.01"),
    ],
)
def test_a_set_that_cannot_be_placed_is_named(overrides, message):
    assert errors_of(MINIMAL + "train: {early_stopping: {patience: 3}}\n", overrides) == [message]


def test_a_set_value_that_is_not_yaml_stays_text_and_an_empty_one_is_null():
    from rnnexp.config import parse_value

    assert parse_value("[1, 2", "--set x") == "[1, 2" and parse_value("  ", "--set x") is None
    assert parse_value("{a: 1}", "--set x") == {"a": 1} and parse_value("1e-3", "--set x") == "1e-3"
    with pytest.raises(ConfigError, match="--set x"):
        parse_value("{a: 1, a: 2}", "--set x")  # a repeated key is an error, not text


def test_a_set_mapping_is_copied_not_shared():
    from rnnexp.config import set_path

    raw, value = {}, {"weights": [1, 2]}
    set_path(raw, ["train", "class_weight"], value)
    value["weights"].append(3)
    assert raw == {"train": {"class_weight": {"weights": [1, 2]}}}


def test_a_bad_device_says_what_it_takes():
    assert errors_of(MINIMAL + "train: {device: gpu}\n") == ["c.yaml:3: train.device: expected auto, cpu, cuda or cuda:N"]


@pytest.mark.parametrize(
    "template, message",
    [
        ("{columns}", "name: {columns} is data.columns, which holds several values; name a single key in it"),
        ("a b", "name: 'a b'; a run name is 1 to 64 letters, digits, . _ or -, starting with a letter or digit"),
        (
            "-{cell}",
            "name: '-{cell}' gives '-gru'; a run name is 1 to 64 letters, digits, . _ or -, starting with a letter or digit",
        ),
    ],
)
def test_a_name_template_error_is_the_whole_sentence(template, message):
    text = "data: {dataset: amazon-food, columns: [text, label]}\n"
    (msg,) = errors_of(text + f"name: {template!r}\n")
    assert msg.endswith(message), msg


@pytest.mark.parametrize(
    "template, sections, expected",
    [
        ("r-{train.lr}", {}, "r-0.001"),
        ("{threads}-{bidirectional}", {"model": {"bidirectional": False}}, "none-false"),
        ("{text_column}", {"data": {"dataset": "amazon-food", "text_column": "A b/c"}}, "A-b-c"),
        ("x{text_column}", {"data": {"dataset": "amazon-food", "text_column": "--"}}, "x-"),
        ("x{label_column}", {"data": {"dataset": "amazon-food", "label_column": "-Lab-"}}, "xLab"),
        ("x{label_column}", {"data": {"dataset": "amazon-food", "label_column": "-LabX-"}}, "xLabX"),
    ],
)
def test_a_name_template_value_keeps_its_case_and_loses_what_a_folder_cannot_hold(template, sections, expected):
    assert _named(template, **sections).run_name == expected


# -- reading YAML (config/yamlio.py) and a config's chain (config/inherit.py), in-process ------------


@pytest.mark.parametrize(
    "text, message",
    [
        ("a: [\n", "c.yaml:2: invalid YAML: expected the node content, but found '<stream end>'"),
        ("a: b\n  c: d\n", "c.yaml:2: invalid YAML: mapping values are not allowed here"),
        ("\t- a\n", "c.yaml:1: invalid YAML: found character '\\t' that cannot start any token"),
        (
            "a: 1\nb:\n  c: 1\n  c: 2\n",
            "c.yaml:4: duplicate key b.c (first at line 3); YAML keeps only one: merge the two into one",
        ),
        (
            "a:\n  - {x: 1, x: 2}\n",
            "c.yaml:2: duplicate key a.0.x (first at line 2); YAML keeps only one: merge the two into one",
        ),
        ("a: &x [1, *x]\n", "c.yaml:1: invalid YAML: an alias refers to its own anchor"),
        ("\n\nb: &y {c: [*y]}\n", "c.yaml:3: invalid YAML: an alias refers to its own anchor"),
        ("[" * 3000 + "]" * 3000, "c.yaml: invalid YAML: nested too deeply"),
        ("a: \x07\n", "c.yaml: invalid YAML: unacceptable character #x0007: special characters are not allowed"),  # no line
    ],
)
def test_text_that_is_not_a_yaml_document_is_one_line_at_its_line(text, message):
    from rnnexp.config.yamlio import read_yaml

    with pytest.raises(ConfigError) as e:
        read_yaml(text, "c.yaml")
    assert e.value.messages == [message]


def test_a_long_key_in_a_duplicate_s_path_is_clipped():
    from rnnexp.config.yamlio import read_yaml
    from rnnexp.errors import clip

    section = "s" * 60
    with pytest.raises(ConfigError) as e:
        read_yaml(f"{section}:\n  c: 1\n  c: 2\n", "c.yaml")
    assert e.value.messages == [
        f"c.yaml:3: duplicate key {clip(section, 40)}.c (first at line 2); YAML keeps only one: merge the two into one"
    ]
    assert clip(section, 40) != section


def test_merge_keys_may_repeat_and_an_empty_document_is_nothing():
    from rnnexp.config.yamlio import read_yaml

    node, value = read_yaml("x: &a {p: 1}\ny: &b {q: 2}\nz:\n  <<: *a\n  <<: *b\n", "c.yaml")
    assert value["z"] == {"p": 1, "q": 2} and node is not None
    assert read_yaml("", "c.yaml") == (None, None) and read_yaml("# a comment\n", "c.yaml") == (None, None)


def test_aliases_count_every_value_they_expand_to(monkeypatch):
    """The limit counts values once aliases are expanded: a document of exactly the limit is read,
    one more value is refused at the node that passed it."""
    from rnnexp.config import yamlio

    monkeypatch.setattr(yamlio, "YAML_NODES_MAX", 10)
    # 1 (the document) + 1 + 4 (a: [1, 2, 3]) + 2 + 2: ten values
    assert yamlio.read_yaml("a: [1, 2, 3]\nb: 1\nc: 2\n", "c.yaml")[1] == {"a": [1, 2, 3], "b": 1, "c": 2}
    assert yamlio.read_yaml("a: &x [1, 2]\nb: *x\n", "c.yaml")[1] == {"a": [1, 2], "b": [1, 2]}  # nine
    refused = (
        "YAML aliases expand this document past 10 values; refusing it (no config needs that many: use fewer anchors and aliases)"
    )
    for text, line in [
        ("a: [1, 2, 3]\nb: 1\nc: 2\nd: 3\n", 1),
        ("a: &x [1, 2]\nb: [*x, *x]\n", 1),
        ("\na: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n", 2),
        ("[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n", 1),
    ]:
        with pytest.raises(ConfigError) as e:
            yamlio.read_yaml(text, "c.yaml")
        assert e.value.messages == [f"c.yaml:{line}: {refused}"], text


def test_a_file_that_cannot_be_read_is_named_with_why(tmp_path):
    from rnnexp.config.yamlio import read_file

    assert read_file(_written(tmp_path / "u.yaml", "a: é\n".encode()), "config file") == "a: é\n"
    with pytest.raises(ConfigError) as e:
        read_file(tmp_path / "missing.yaml", "base config")
    assert e.value.messages == [f"{tmp_path / 'missing.yaml'}: base config not found"]
    with pytest.raises(ConfigError) as e:
        read_file(tmp_path, "config file")
    assert e.value.messages == [f"{tmp_path}: cannot read config file ([Errno 21] Is a directory: '{tmp_path}')"]
    latin = _written(tmp_path / "l.yaml", "a: é\n".encode("latin-1"))
    with pytest.raises(ConfigError) as e:
        read_file(latin, "sweep file")
    assert e.value.messages[0].startswith(f"{latin}: cannot read sweep file ('utf-8' codec can't decode byte 0xe9")


def _written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "text, message",
    [
        ("[1, 2]\n", "c.yaml: expected a mapping of sections (data, model, train) at the top, got list"),
        ("just text\n", "c.yaml: expected a mapping of sections (data, model, train) at the top, got str"),
        (
            "base: 3\ndata: {dataset: amazon-food}\n",
            "c.yaml:1: base: expected a config path (relative to this file) or null, got 3",
        ),
        (
            "data: {dataset: amazon-food}\nbase: '  '\n",
            "c.yaml:2: base: expected a config path (relative to this file) or null, got '  '",
        ),
    ],
)
def test_a_config_that_is_not_a_mapping_or_names_no_base_file_is_refused(text, message):
    with pytest.raises(ConfigError) as e:
        parse_config(text, "c.yaml")
    assert e.value.messages == [message]


def test_an_empty_config_is_one_without_data():
    assert errors_of("") == ["c.yaml: missing required key data"]


def test_data_and_embedding_paths_are_relative_to_the_config_file(tmp_path):
    from rnnexp.config.inherit import resolve_paths

    raw = {
        "data": {"train_file": "t.csv", "val_file": "/abs/v.csv", "test_file": "", "text_column": "t.csv"},
        "model": {"embedding": {"pretrained": "vec/glove.txt"}},
    }
    resolve_paths(raw, tmp_path)
    assert raw == {
        "data": {"train_file": str(tmp_path / "t.csv"), "val_file": "/abs/v.csv", "test_file": "", "text_column": "t.csv"},
        "model": {"embedding": {"pretrained": str(tmp_path / "vec" / "glove.txt")}},
    }
    only_model = {"data": None, "model": {"embedding": {"pretrained": "g.txt"}}}
    resolve_paths(only_model, tmp_path)  # a section that is no mapping is skipped, not the rest
    assert only_model["model"]["embedding"]["pretrained"] == str(tmp_path / "g.txt")
    odd = {"data": {"train_file": 3}, "model": "gru"}
    resolve_paths(odd, tmp_path)
    assert odd == {"data": {"train_file": 3}, "model": "gru"}


def test_validate_print_shows_defaults_and_long_values_on_one_line(tmp_path):
    from rnnexp.config import explain_config

    long_name = "c" * 120
    path = tmp_path / "c.yaml"
    path.write_text(
        f"data: {{dataset: amazon-food, columns: [{long_name}, label]}}\ntrain:\n  class_weight: {{b: 2.0, a: 1.0}}\n"
    )
    text = explain_config(path)
    lines = text.splitlines()
    assert f"  columns: [{long_name}, label]  # {path}:1" in lines  # one line however long
    at = lines.index("  class_weight:")
    assert lines[at + 1 : at + 3] == [f"    b: 2.0  # {path}:3", f"    a: 1.0  # {path}:3"]  # as written, not sorted
    assert "  lr: 0.001  # default" in lines and "  optimizer: adam  # default" in lines
    assert yaml.safe_load(text)["data"]["columns"] == [long_name, "label"]


def test_every_bad_set_is_named_and_a_value_may_hold_an_equals_sign():
    assert errors_of(MINIMAL, ["train..lr=1", "data.dataset.x=1", "=2"]) == [
        "--set 'train..lr=1': expected KEY.PATH=VALUE, e.g. --set train.lr=0.01",
        "--set 'data.dataset.x=1': data.dataset is a value, not a section",
        "--set '=2': expected KEY.PATH=VALUE, e.g. --set train.lr=0.01",
    ]
    cfg = parse_config(MINIMAL, overrides=["data.text_column=a=b", "name=x"])
    assert cfg.data.text_column == "a=b" and cfg.name == "x"


def test_a_value_set_from_code_is_written_as_json_yaml_reads_back():
    from rnnexp.config import override

    assert override("name", "{cell}-x") == 'name="{cell}-x"'
    assert parse_config(MINIMAL, overrides=[override("name", "{cell}-x"), override("train.lr", 0.5)]).run_name == "gru-x"
    assert override("model.mask", None) == "model.mask=null" and override("train.device", "cuda:1") == 'train.device="cuda:1"'


@pytest.mark.parametrize("length, shown", [(120, None), (121, "... (121 characters)"), (100, None)])
def test_an_unknown_key_is_shown_whole_up_to_120_characters(length, shown):
    key = "x" * (length - len("train."))
    (message,) = errors_of(MINIMAL + f"train:\n  {key}: 1\n")
    dotted = f"train.{key}"
    expected = dotted if shown is None else dotted[:120] + shown
    assert message.startswith(f"c.yaml:4: unknown key {expected} (known keys here: epochs, "), message


def test_a_config_s_text_is_named_config_unless_told_and_its_paths_are_relative_to_base_dir(tmp_path):
    with pytest.raises(ConfigError) as e:
        parse_config("model: {}\n")
    assert e.value.messages == ["<config>: missing required key data"]
    (tmp_path / "b.yaml").write_text("model: {cell: lstm}\n")
    cfg = parse_config("base: b.yaml\ndata: {train_file: t.csv}\n", base_dir=tmp_path)
    assert cfg.model.cell == "lstm" and cfg.data.train_file == str(tmp_path / "t.csv")
    assert parse_config("data: {train_file: t.csv}\n").data.train_file == "t.csv"  # no base_dir: as written


def test_a_union_with_a_section_is_walked_into():
    from typing import Optional

    from rnnexp.config import EmbeddingConfig
    from rnnexp.config.loading import _unwrap_model

    assert _unwrap_model(Optional[EmbeddingConfig]) is EmbeddingConfig  # noqa: UP045  (typing.Union's spelling)
    assert _unwrap_model(EmbeddingConfig | None) is EmbeddingConfig and _unwrap_model(None | EmbeddingConfig) is EmbeddingConfig
    assert _unwrap_model(int | None) is None and _unwrap_model(list[EmbeddingConfig]) is None


def test_a_mapping_repeated_by_an_alias_is_reported_once():
    from rnnexp.config.yamlio import read_yaml

    with pytest.raises(ConfigError) as e:
        read_yaml("a: &x {k: 1, k: 2}\nb: *x\nc: *x\n", "c.yaml")
    assert e.value.messages == ["c.yaml:1: duplicate key a.k (first at line 1); YAML keeps only one: merge the two into one"]
