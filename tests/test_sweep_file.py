"""The sweep file and `sweep CONFIG --grid`, as config: the sweep schema's specs (config/sweep.py),
--grid items (config/grid.py) and loading's sweep half, each error naming its file, line or flag.
In-process, so that `make mutation`'s config target meets them (test_sweep.py runs sweeps)."""

from __future__ import annotations

import pytest
import yaml

from conftest import ROOT, run_cli
from rnnexp.config import (
    Config,
    ParamSpec,
    SweepConfig,
    explain_sweep,
    grid_sweep,
    is_sweep_file,
    load_config,
    load_sweep,
    objective_of,
    parse_grid,
    sweep_document,
    sweep_parts,
    trial_config,
)
from rnnexp.errors import ConfigError

# -- the sweep file ------------------------------------------------------------------------------


def test_sweep_file_errors_name_file_line_and_key(tmp_path, write_config):
    base = write_config()
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        f"name: bad\nbase: {base}\nsampeler: {{kind: grid}}\nspace:\n  model.celll: [gru]\n  model.cell: [gru, lstmm]\n"
        "  train.lr: {kind: loguniform, low: 0.1, high: 0.01}\n"
    )
    proc = run_cli("sweep", "create", bad, "--runs-dir", tmp_path / "runs")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert any("bad.yaml:3: unknown key sampeler (did you mean sampler?)" in line for line in lines), lines
    assert any("space.train.lr" in line and "low (0.1) is above high (0.01)" in line for line in lines), lines
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "runs").exists()  # nothing is created from a bad file

    # Keys and values are checked against the base config's schema, with the sweep file's line.
    bad.write_text(
        f"name: bad\nbase: {base}\nsampler: {{kind: grid}}\nspace:\n  model.celll: [gru]\n  model.cell: [gru, lstmm]\n"
    )
    with pytest.raises(ConfigError) as e:
        load_sweep(bad)
    text = "\n".join(e.value.messages)
    assert "bad.yaml:5: space model.celll='gru': unknown key model.celll (did you mean model.cell?)" in text
    assert "bad.yaml:6: space model.cell='lstmm'" in text and "did you mean 'lstm'" in text


# Sweep files with problems in several parts (sweep keys, set, space keys and values, the base
# config), each line of the file and every error it must give: {line} is the line, {base} the base.
SEVERAL_PROBLEMS = {
    "trials and a space key": (
        ["base: {base}", "sampler: {{kind: tpe}}", "space:", "  model.celll: [gru]"],
        [],
        ["s.yaml: trials: required with sampler tpe", "s.yaml:4: space model.celll='gru': unknown key model.celll (did you"],
    ),
    "a sweep key, a set entry, a space value": (
        ["base: {base}", "sampeler: {{kind: grid}}", "set:", "  train.epoch: 2", "space:", "  model.cell: [gru, lstmm]"],
        [],
        [
            "s.yaml:2: unknown key sampeler (did you mean sampler?)",
            "s.yaml: trials: required with sampler tpe",  # the default sampler, as the key is misspelled
            "s.yaml:4: set train.epoch=2: unknown key train.epoch (did you mean train.epochs?)",
            "s.yaml:6: space model.cell='lstmm': model.cell: Input should be",
        ],
    ),
    "a spec, a set value, the objective": (
        [
            "base: {base}",
            "set: {{train.lr: -1}}",
            "space:",
            "  train.dropout: {{kind: uniform, low: 0.5, high: 0.1}}",
            "  model.num_neurons: [8, 16]",
            "objective: {{metric: val_mae}}",
            "sampler: {{kind: grid}}",
        ],
        [],
        [
            "s.yaml:4: space.train.dropout: low (0.5) is above high (0.1)",
            "s.yaml:2: set train.lr=-1: train.lr: Input should be greater than 0",
            "s.yaml:6: objective.metric val_mae does not apply to text_classification",
        ],
    ),
    "the base config, a space key, trials": (
        ["base: bad_base.yaml", "trials: 0", "space:", "  model.celll: [gru]", "  model.cell: [gru]"],
        [],
        [
            "s.yaml:2: trials: Input should be greater than or equal to 1, got 0",
            "bad_base.yaml:3: unknown key model.cel (did you mean model.cell?)",
            "s.yaml:4: space model.celll='gru': unknown key model.celll (did you mean model.cell?)",
        ],
    ),
    "a missing base, set and space keys": (
        ["base: nowhere.yaml", "set: {{train: {{epochz: 1}}}}", "space:", "  model.celll: [gru]", "sampler: {{kind: grid}}"],
        [],
        [
            "nowhere.yaml: config file not found",
            "s.yaml:2: set train={{'epochz': 1}}: unknown key train.epochz (did you mean train.epochs?)",
            "s.yaml:4: space model.celll='gru': unknown key model.celll (did you mean model.cell?)",
        ],
    ),
    "--set of a sweep key, a set entry and a space key": (
        ["base: {base}", "sampler: {{kind: grid}}", "space:", "  model.cell: [gru]"],
        ["trials=0", "set.train.epochz=1", "space.model.celll=[gru]"],
        [
            "--set trials=0: trials: Input should be greater than or equal to 1, got 0",
            "--set set.train.epochz=1: set train.epochz=1: unknown key train.epochz (did you mean train.epochs?)",
            "--set space.model.celll=[gru]: space model.celll='gru': unknown key model.celll (did you mean model.cell?)",
        ],
    ),
}


@pytest.mark.parametrize("case", list(SEVERAL_PROBLEMS))
@pytest.mark.parametrize("command", ["validate", "sweep"])
def test_every_problem_of_a_sweep_file_is_reported_at_once(tmp_path, write_config, case, command):
    lines, overrides, expected = SEVERAL_PROBLEMS[case]
    base = write_config()
    (tmp_path / "bad_base.yaml").write_text(f"base: {base.name}\nmodel:\n  cel: gru\n")
    path = tmp_path / "s.yaml"
    path.write_text("\n".join(lines).format(base=base.name) + "\n")
    extra = ["--runs-dir", tmp_path / "runs"] if command == "sweep" else []
    proc = run_cli(*([command] if command == "validate" else ["sweep"]), path, *extra, *(f"--set={o}" for o in overrides))
    errors = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and all(line.startswith("error: ") for line in errors), proc.stderr
    for message in expected:
        message = message.format().replace("s.yaml", str(path)).replace("bad_base.yaml", str(tmp_path / "bad_base.yaml"))
        message = message.replace("nowhere.yaml", str(tmp_path / "nowhere.yaml"))
        assert any(line.startswith(f"error: {message}") for line in errors), (message, errors)
    assert len(errors) == len(expected) and not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "top, expected",
    [
        (
            {"space": {"train.lr": {"kind": "loguniform", "low": 1e-4, "high": 1e-2}}, "sampler": {"kind": "grid"}},
            "sampler: grid needs",
        ),
        ({"space": {"train.lr": [0.1, 0.2]}, "sampler": {"kind": "tpe"}}, "trials: required with sampler tpe"),
        ({"space": {"train.lr": [0.1, 0.2]}, "sampler": {"kind": "grid"}, "trials": 3}, "more than the grid has points (2)"),
        ({"space": {"train.lr": [0.1]}, "objective": {"metric": "val_mae"}}, "objective.metric val_mae does not apply"),
        ({"space": {"train.lr": [0.1]}, "set": {"train.epoch": 2}}, "unknown key train.epoch (did you mean train.epochs?)"),
    ],
)
def test_sweep_file_consistency(write_sweep, top, expected):
    top = {"sampler": {"kind": "grid"}, **top}
    with pytest.raises(ConfigError) as e:
        load_sweep(write_sweep(**top))
    assert any(expected in m for m in e.value.messages), e.value.messages


@pytest.mark.parametrize(
    "grid, overrides, message",
    [
        (["model.cel=gru,lstm"], [], "--grid model.cel: unknown key (did you mean model.cell?)"),
        (["model=gru"], [], "--grid model: a section, not a key; give one of its keys, e.g. model.cell"),
        (["model.cell"], [], "--grid 'model.cell': expected KEY=V1,V2,..., e.g. --grid model.cell=gru,lstm"),
        (["model.cell="], [], "--grid 'model.cell=': expected KEY=V1,V2,..., e.g. --grid model.cell=gru,lstm"),
        (["model.cell=gru", "model.cell=lstm"], [], "--grid model.cell: given twice; give all its values in one"),
        (["model.cell=gru,gru"], [], "--grid model.cell: 'gru' given twice (each value once)"),
        (["model.cell=gru,xyz"], [], "--grid model.cell='xyz': model.cell: Input should be 'rnn', 'gru' or 'lstm'"),
        (["train.lr=0.1,0"], [], "--grid train.lr=0: train.lr: Input should be greater than 0, got 0"),
        (["train.lr=0.1"], ["train.epochz=1"], "--set train.epochz=1: unknown key train.epochz (did you mean"),
    ],
)
def test_a_bad_grid_is_one_line_naming_it(write_config, grid, overrides, message):
    with pytest.raises(ConfigError) as e:
        grid_sweep(write_config(), grid, overrides)
    (msg,) = e.value.messages
    assert msg.startswith(message), msg


def test_bad_grids_and_sets_are_reported_together(write_config):
    with pytest.raises(ConfigError) as e:
        grid_sweep(write_config(), ["model.cel=gru,lstm", "train.lr=0.1,0.1"], ["train.epochz=1"])
    assert [m.split(":")[0] for m in e.value.messages] == ["--set train.epochz=1", "--grid model.cel", "--grid train.lr"]


def test_grid_on_a_sweep_file_and_a_config_without_grid_are_refused(write_sweep, write_config, tmp_path):
    sweep = write_sweep(space={"model.cell": ["gru"]}, sampler={"kind": "grid"})
    with pytest.raises(ConfigError, match="is a sweep file; --grid takes a config"):
        grid_sweep(sweep, ["train.lr=0.1"])
    config = write_config()
    with pytest.raises(ConfigError, match=r"a config, not a sweep file \(it has no space\): give the values to try with --grid"):
        load_sweep(config)


def test_epoch_budget_is_refused_for_a_grid(write_sweep):
    path = write_sweep(space={"train.lr": [0.01, 0.02]}, sampler={"kind": "grid"}, epoch_budget=3)
    with pytest.raises(ConfigError, match="epoch_budget: needs sampler random or tpe"):
        load_sweep(path)


def test_shipped_sweep_config_loads():
    sweep, _, base = load_sweep(ROOT / "configs" / "sweep_quick.yaml")
    assert sweep.sampler.kind == "grid" and sweep.total_trials == 8 and base.data.dataset == "amazon-food"


@pytest.mark.parametrize("case", list(SEVERAL_PROBLEMS))
def test_every_problem_of_a_sweep_file_is_one_message_of_its_config_error(tmp_path, write_config, case):
    """load_sweep's ConfigError holds exactly the lines the CLI prints (the test above), in order of
    the sweep file's checks: its keys, its base, then `set` and `space` against the base."""
    lines, overrides, expected = SEVERAL_PROBLEMS[case]
    base = write_config()
    (tmp_path / "bad_base.yaml").write_text(f"base: {base.name}\nmodel:\n  cel: gru\n")
    path = tmp_path / "s.yaml"
    path.write_text("\n".join(lines).format(base=base.name) + "\n")
    with pytest.raises(ConfigError) as e:
        load_sweep(path, overrides)
    messages = e.value.messages
    named = {
        "s.yaml": str(path),
        "bad_base.yaml": str(tmp_path / "bad_base.yaml"),
        "nowhere.yaml": str(tmp_path / "nowhere.yaml"),
    }
    for message in expected:
        message = message.format()
        for short, full in named.items():
            message = message.replace(short, full)
        assert sum(m.startswith(message) for m in messages) == 1, (message, messages)
    assert len(messages) == len(expected), messages


def test_a_sweep_file_without_a_base_names_each_unknown_key_of_set_and_space(tmp_path):
    """With no base config to check against, `set` and `space` keys are checked against the schema:
    each unknown one once, at its line or --set, with the value that was given."""
    path = tmp_path / "s.yaml"
    path.write_text(
        "trials: 2\nset:\n  train.epochz: 1\n  model: {cel: gru}\n  train.lr: 0.1\n"
        "space:\n  model.celll: [gru, lstm]\n  model.dropout: {kind: uniform, low: 0.1, high: 0.5}\n"
        "  data.xx.yy: {kind: int, low: 2, high: 4}\n"
    )
    with pytest.raises(ConfigError) as e:
        load_sweep(path, ["set.train.foo=3"])
    known = lambda section: ", ".join(
        type(getattr(Config(data={"dataset": "digits", "task": "sequence_classification"}), section)).model_fields
    )
    assert e.value.messages == [
        f"{path}: missing required key base",
        f"{path}:3: set train.epochz=1: unknown key train.epochz (did you mean train.epochs?)",
        f"{path}:4: set model={{'cel': 'gru'}}: unknown key model.cel (did you mean model.cell?)",
        f"--set set.train.foo=3: set train.foo=3: unknown key train.foo (known keys here: {known('train')})",
        f"{path}:7: space model.celll='gru': unknown key model.celll (did you mean model.cell?)",
        f"{path}:9: space data.xx.yy=2: unknown key data.xx (known keys here: {known('data')})",
    ]


def test_where_names_the_line_of_an_entry_or_the_set_that_gave_it(tmp_path, write_config):
    path = tmp_path / "s.yaml"
    base = write_config()
    path.write_text(f"base: {base.name}\ntrials: 2\nset:\n  train.lr: -1\nspace:\n  train.epochs: [0, 2]\n")
    with pytest.raises(ConfigError) as e:
        load_sweep(path, ["space.model.num_neurons=[0]"])
    assert [m.split(": ")[0] + ": " + m.split(": ")[1] for m in e.value.messages] == [
        f"{path}:4: set train.lr=-1",
        f"{path}:6: space train.epochs=0",
        "--set space.model.num_neurons=[0]: space model.num_neurons=0",
    ]


def test_a_sweep_file_is_one_with_a_space_and_anything_else_is_not(tmp_path):
    cases = {
        "s.yaml": ("space: {train.lr: [0.1]}\n", True),
        "c.yaml": ("data: {dataset: amazon-food}\n", False),
        "list.yaml": ("- space\n", False),
        "bad.yaml": ("space: [\n", False),  # unreadable YAML: loading it as a config says why
        "latin.yaml": (b"space: \xff\n", False),
    }
    for name, (text, expected) in cases.items():
        path = tmp_path / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        assert is_sweep_file(path) is expected, name
    assert is_sweep_file(tmp_path / "missing.yaml") is False


# -- specs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec, grid, largest, edges",
    [
        ({"kind": "choice", "values": [3, 1, 2]}, [3, 1, 2], 3, [3, 1, 2]),
        ({"kind": "int", "low": 2, "high": 8, "step": 3}, [2, 5, 8], 8, [2, 8]),
        ({"kind": "int", "low": 2, "high": 9, "step": 3}, [2, 5, 8], 9, [2, 9]),
        ({"kind": "int", "low": 4, "high": 6}, [4, 5, 6], 6, [4, 6]),
        ({"kind": "int", "low": 5, "high": 5}, [5], 5, [5, 5]),
        ({"kind": "uniform", "low": 0.1, "high": 0.5, "step": 0.2}, [0.1, 0.3, 0.5], 0.5, [0.1, 0.5]),
        ({"kind": "uniform", "low": 0.0, "high": 0.5, "step": 0.2}, [0.0, 0.2, 0.4], 0.5, [0.0, 0.5]),
        ({"kind": "uniform", "low": 0.0, "high": 0.3, "step": 0.1}, [0.0, 0.1, 0.2, 0.3], 0.3, [0.0, 0.3]),
        ({"kind": "uniform", "low": 0.0, "high": 0.7, "step": 0.2}, [0.0, 0.2, 0.4, 0.6], 0.7, [0.0, 0.7]),  # 3.5 steps
        ({"kind": "uniform", "low": -0.5, "high": 0.5, "step": 0.25}, [-0.5, -0.25, 0.0, 0.25, 0.5], 0.5, [-0.5, 0.5]),
        # 2.86 steps round up to 3: the third step (1.05) lies past high and is left out
        ({"kind": "uniform", "low": 0.0, "high": 1.0, "step": 0.35}, [0.0, 0.35, 0.7], 1.0, [0.0, 1.0]),
        # the values are the step's decimals, not the float error of low + k * step (1000.3000000000001)
        (
            {"kind": "uniform", "low": 1000.1, "high": 1000.5, "step": 0.1},
            [1000.1, 1000.2, 1000.3, 1000.4, 1000.5],
            1000.5,
            [1000.1, 1000.5],
        ),
        ({"kind": "uniform", "low": 0.1, "high": 0.5}, None, 0.5, [0.1, 0.5]),
        ({"kind": "loguniform", "low": 1e-4, "high": 1e-2}, None, 1e-2, [1e-4, 1e-2]),
    ],
)
def test_a_spec_s_grid_largest_value_and_edges(spec, grid, largest, edges):
    parsed = ParamSpec.model_validate(spec)
    assert parsed.grid() == grid and parsed.largest() == largest and parsed.edges() == edges
    assert all(type(a) is type(b) for a, b in zip(parsed.grid() or [], grid or []))  # an int spec's values are ints
    assert type(parsed.edges()[0]) is type(edges[0])


def test_a_sweep_s_grid_size_and_total_trials():
    space = {"model.cell": ["gru", "lstm"], "model.num_neurons": {"kind": "int", "low": 8, "high": 32, "step": 8}}
    grid = SweepConfig.model_validate({"base": "b.yaml", "space": space, "sampler": {"kind": "grid"}})
    assert grid.grid_size() == 8 and grid.total_trials == 8
    assert (
        SweepConfig.model_validate({"base": "b.yaml", "space": space, "sampler": {"kind": "grid"}, "trials": 5}).total_trials == 5
    )
    searched = SweepConfig.model_validate(
        {"base": "b.yaml", "space": {**space, "train.lr": {"kind": "loguniform", "low": 1e-4, "high": 1e-2}}, "trials": 3}
    )
    assert searched.grid_size() == 0 and searched.total_trials == 3  # a continuous key: no grid


def test_a_sweep_document_loads_back_to_the_sweep_with_every_key_written(tmp_path, write_config):
    base = write_config()
    sweep, _, _ = load_sweep(
        _write(
            tmp_path,
            {
                "base": str(base),
                "trials": 4,
                "space": {
                    "model.cell": ["gru", "lstm"],
                    "train.lr": {"kind": "loguniform", "low": 0.001, "high": 0.01},
                    "model.num_neurons": {"kind": "int", "low": 8, "high": 16, "step": 8},
                },
            },
        )
    )
    doc = sweep_document(sweep, "base.yaml")
    assert doc["base"] == "base.yaml"
    assert doc["space"] == {
        "model.cell": ["gru", "lstm"],
        "train.lr": {"kind": "loguniform", "low": 0.001, "high": 0.01},
        "model.num_neurons": {"kind": "int", "low": 8.0, "high": 16.0, "step": 8.0},
    }
    assert {k: v for k, v in doc.items() if k not in ("base", "space")} == {
        k: v for k, v in sweep.model_dump(mode="json").items() if k not in ("base", "space")
    }
    assert "sampler" in doc and "pruner" in doc and "objective" in doc  # defaults written too
    doc["base"] = str(base)
    again, _, _ = load_sweep(_write(tmp_path, doc, "again.yaml"))
    assert again == sweep


def test_the_parts_of_an_invalid_sweep_file_that_can_still_be_checked():
    parts = sweep_parts(
        {
            "set": {"train.lr": 0.1, 3: "a key YAML read as a number"},
            "space": {
                "model.cell": ["gru"],
                "train.lr": {"kind": "uniform", "low": 1, "high": 0},  # invalid: left out
                "train.epochs": {"kind": "int", "low": 1, "high": 3},
            },
            "objective": {"metric": "val_accuracy", "direction": "maximize"},
        }
    )
    assert parts.set == {"train.lr": 0.1}
    assert list(parts.specs()) == ["model.cell", "train.epochs"] and parts.space["model.cell"].values == ["gru"]
    assert parts.objective.metric == "val_accuracy" and parts.objective.direction == "maximize"
    empty = sweep_parts({"set": ["not", "a", "mapping"], "space": "nor this", "objective": {"direction": "sideways"}})
    assert empty.set == {} and empty.space == {} and empty.objective is None
    assert sweep_parts({}).objective.metric is None  # no objective: the default one


@pytest.mark.parametrize(
    "objective, monitor, expected",
    [
        ({}, "val_loss", ("val_loss", "minimize")),
        ({}, "val_accuracy", ("val_accuracy", "maximize")),
        ({"metric": "val_f1"}, "val_loss", ("val_f1", "maximize")),
        ({"metric": "val_loss", "direction": "maximize"}, "val_accuracy", ("val_loss", "maximize")),
        ({"direction": "minimize"}, "val_accuracy", ("val_accuracy", "minimize")),
    ],
)
def test_the_objective_is_the_sweep_s_metric_else_the_base_s_monitor_and_its_direction(objective, monitor, expected):
    from rnnexp.config import parse_config

    base = parse_config(f"data: {{dataset: amazon-food}}\ntrain: {{early_stopping: {{monitor: {monitor}}}}}\n")
    sweep = SweepConfig.model_validate({"base": "b.yaml", "space": {"train.lr": [0.1]}, "trials": 1, "objective": objective})
    assert objective_of(sweep, base) == expected


# -- --grid ----------------------------------------------------------------------------------------


def test_grid_items_become_the_space_with_numbers_as_numbers():
    space = parse_grid([" model.cell = gru,lstm ", "train.lr=1e-3,2.5E-2,0.5", "model.num_neurons=8,16", "data.maxlen=-1e2"])
    assert space == {
        "model.cell": ["gru", "lstm"],
        "train.lr": [0.001, 0.025, 0.5],
        "model.num_neurons": [8, 16],
        "data.maxlen": [-100.0],
    }
    assert [type(v) for v in space["model.num_neurons"]] == [int, int]
    assert parse_grid(["data.text_column=e5,1e,a=b"]) == {"data.text_column": ["e5", "1e", "a=b"]}  # not numbers
    assert parse_grid([]) == {}


@pytest.mark.parametrize(
    "items, messages",
    [
        (["=gru"], ["--grid '=gru': expected KEY=V1,V2,..., e.g. --grid model.cell=gru,lstm"]),
        (["model.cell= "], ["--grid 'model.cell= ': expected KEY=V1,V2,..., e.g. --grid model.cell=gru,lstm"]),
        (
            ["train.early_stopping=1"],
            ["--grid train.early_stopping: a section, not a key; give one of its keys, e.g. train.early_stopping.enabled"],
        ),
        (["qqqq.zzz=1"], ["--grid qqqq.zzz: unknown key (rnnexp schema lists the keys)"]),
        (
            ["model.cell=gru", "model.cel=gru", "model.cell=lstm"],
            [
                "--grid model.cel: unknown key (did you mean model.cell?)",
                "--grid model.cell: given twice; give all its values in one --grid model.cell=V1,V2,...",
            ],
        ),
        (["train.lr=0.1,1e-1"], ["--grid train.lr: 0.1 given twice (each value once)"]),
    ],
)
def test_every_bad_grid_item_is_named_at_once(items, messages):
    with pytest.raises(ConfigError) as e:
        parse_grid(items)
    assert e.value.messages == messages


def test_a_grid_sweep_over_a_config_is_a_grid_with_set_from_the_overrides(write_config):
    config = write_config()
    sweep, raw, base = grid_sweep(
        config, ["model.cell=gru,lstm"], ["train.epochs=2", "model.num_neurons=8", "data.val_file=v.csv"]
    )
    assert sweep.sampler.kind == "grid" and sweep.base == str(config.resolve()) and sweep.name == base.run_name
    assert sweep.set == {"train.epochs": 2, "model.num_neurons": 8, "data.val_file": str(config.parent / "v.csv")}
    assert base.train.epochs == 2 and raw["model"]["num_neurons"] == 8 and raw == base.model_dump(mode="json")
    plain, _, _ = grid_sweep(config, ["model.cell=gru,lstm"])
    assert plain.set == {} and plain.total_trials == 2
    with pytest.raises(ConfigError) as e:
        grid_sweep(config, ["train.lr=0.1,-1"], ["train.lr=0.2"])
    assert e.value.messages == ["--grid train.lr=-1: train.lr: Input should be greater than 0, got -1"]


def test_explain_sweep_credits_set_entries_to_the_sweep_file_or_the_set(tmp_path, write_config):
    base = write_config()
    path = _write(tmp_path, {"base": str(base), "trials": 1, "set": {"train.epochs": 3}, "space": {"train.lr": [0.1]}})
    text = explain_sweep(path, ["set.model.num_neurons=12"])
    lines = {line.split(":")[0].strip(): line for line in text.splitlines()}
    assert lines["epochs"].endswith(f"# {path}:4") and "3" in lines["epochs"]
    assert lines["num_neurons"].endswith("# --set") and "12" in lines["num_neurons"]
    assert yaml.safe_load(text)["train"]["epochs"] == 3


def test_a_trial_config_is_the_base_with_the_trial_s_values(write_config):
    base_raw = load_config(write_config()).model_dump(mode="json")
    cfg = trial_config(base_raw, {"train.lr": 0.25, "model.cell": "lstm"}, "trial 3")
    assert cfg.train.lr == 0.25 and cfg.model.cell == "lstm" and base_raw["train"]["lr"] != 0.25  # the base untouched
    with pytest.raises(ConfigError) as e:
        trial_config(base_raw, {"train.lr": 0, "model.cell.x": 1, "train.batch_size": 0}, "trial 3")
    assert e.value.messages == ["trial 3 model.cell.x: model.cell is a value, not a section"]
    with pytest.raises(ConfigError) as e:
        trial_config(base_raw, {"train.lr": 0, "train.batch_size": 0}, "trial 3")
    assert e.value.messages == [
        "trial 3 train.batch_size=0: train.batch_size: Input should be greater than or equal to 1, got 0",
        "trial 3 train.lr=0: train.lr: Input should be greater than 0, got 0",
    ]


def _write(folder, doc: dict, name: str = "s.yaml"):
    path = folder / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.mark.parametrize("section", ["data", "model", "train"])
def test_a_config_given_as_a_sweep_file_says_to_use_grid(tmp_path, section):
    path = tmp_path / "c.yaml"
    path.write_text(f"{section}: {{}}\n")
    with pytest.raises(ConfigError) as e:
        load_sweep(path)
    assert e.value.messages == [
        f"{path}: a config, not a sweep file (it has no space): give the values to try with --grid KEY=V1,V2,... "
        "(e.g. --grid model.cell=gru,lstm), or write a sweep file with base: c.yaml and a space"
    ]


@pytest.mark.parametrize("section", ["data", "model", "train"])
def test_a_sweep_file_with_a_space_and_a_config_section_is_told_of_that_key_alone(tmp_path, section):
    """A space makes it a sweep file: a config section beside it is an unknown key at its line, not a config."""
    path = tmp_path / "s.yaml"
    base = ROOT / "configs" / "quickstart.yaml"
    path.write_text(f"name: s\nbase: {base}\ntrials: 2\n{section}: {{}}\nspace:\n  train.lr: [0.001, 0.01]\n")
    with pytest.raises(ConfigError) as e:
        load_sweep(path)
    assert len(e.value.messages) == 1
    assert e.value.messages[0].startswith(f"{path}:4: unknown key {section} (known keys here: name, base, set, space,")


def test_a_sweep_file_that_is_no_mapping_or_has_neither_space_nor_sections_is_named(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("- base\n- space\n")
    with pytest.raises(ConfigError) as e:
        load_sweep(path)
    assert e.value.messages == [f"{path}: expected a mapping (base, space, sampler, ...) at the top"]
    path.write_text("name: x\n")
    with pytest.raises(ConfigError) as e:
        load_sweep(path)
    assert sorted(e.value.messages) == [
        f"{path}: missing required key base",
        f"{path}: missing required key space",
        f"{path}: trials: required with sampler tpe (only a grid has a natural size)",
    ]


def test_set_entries_fine_alone_but_not_together_are_named_as_the_set(tmp_path):
    (tmp_path / "b.yaml").write_text("data: {dataset: amazon-food}\ntrain: {early_stopping: {monitor: train_loss}}\n")
    path = tmp_path / "s.yaml"
    path.write_text(
        "base: b.yaml\ntrials: 1\nset:\n  train.early_stopping.monitor: val_loss\n  data.val_split: 0.0\n"
        "space:\n  train.lr: [0.1]\n"
    )
    with pytest.raises(ConfigError) as e:
        load_sweep(path)
    assert e.value.messages == [
        f"{path}: set: train.early_stopping.monitor is 'val_loss' but there is no validation data; set data.val_split > 0, "
        "data.val_file, or monitor train_loss"
    ]


def test_a_key_yaml_reads_as_a_value_in_a_sweep_section_lists_that_section_s_keys(tmp_path, write_config):
    path = tmp_path / "s.yaml"
    path.write_text(f"base: {write_config()}\ntrials: 1\npruner:\n  ~: 1\nspace:\n  train.lr: [0.1]\n")
    with pytest.raises(ConfigError) as e:
        load_sweep(path)
    assert e.value.messages == [
        f"{path}:4: a key in pruner is read by YAML as null (~, null or an empty key), not as a name: write one of kind, "
        "warmup_epochs, startup_trials, min_epochs, reduction_factor (quote a name that looks like a value)"
    ]


def test_a_missing_sweep_file_is_named_as_one(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_sweep(tmp_path / "nope.yaml")
    assert e.value.messages == [f"{tmp_path / 'nope.yaml'}: sweep file not found"]


def test_explain_sweep_credits_each_key_of_a_mapping_set_entry_to_its_line(tmp_path, write_config):
    path = tmp_path / "s.yaml"
    path.write_text(
        f"base: {write_config()}\ntrials: 1\nset:\n  train.early_stopping:\n    patience: 7\n    min_delta: 0.5\n"
        "space:\n  train.lr: [0.1]\n"
    )
    lines = explain_sweep(path).splitlines()
    start = lines.index("  early_stopping:")
    section = lines[start + 1 : start + 7]
    assert f"    patience: 7  # {path}:5" in section and f"    min_delta: 0.5  # {path}:6" in section


def test_an_unknown_key_without_a_base_is_shown_whole_up_to_120_characters(tmp_path):
    path = tmp_path / "s.yaml"
    key = "train." + "x" * 115  # 121 characters
    path.write_text(f"trials: 1\nspace:\n  {key}: [1]\n")
    with pytest.raises(ConfigError) as e:
        load_sweep(path)
    (message,) = [m for m in e.value.messages if "unknown key" in m]
    assert message.startswith(f"{path}:3: space {key}=1: unknown key {key[:120]}... (121 characters) (known keys here: ")


def test_a_data_path_a_sweep_sets_is_relative_to_the_sweep_file(tmp_path, write_config):
    (tmp_path / "sweeps").mkdir()
    path = _write(
        tmp_path / "sweeps",
        {"base": str(write_config()), "trials": 1, "set": {"data.val_file": "v.csv"}, "space": {"train.lr": [0.1]}},
    )
    _, raw, base = load_sweep(path)
    assert base.data.val_file == raw["data"]["val_file"] == str(tmp_path / "sweeps" / "v.csv")


def test_an_objective_that_does_not_apply_is_named_at_its_line_or_its_set(tmp_path, write_config):
    path = tmp_path / "s.yaml"
    path.write_text(f"base: {write_config()}\ntrials: 1\nspace:\n  train.lr: [0.1]\nobjective:\n  metric: val_mae\n")
    with pytest.raises(ConfigError) as e:
        load_sweep(path)
    assert e.value.messages == [f"{path}:6: objective.metric val_mae does not apply to text_classification"]
    path.write_text(f"base: {write_config()}\ntrials: 1\nspace:\n  train.lr: [0.1]\n")
    with pytest.raises(ConfigError) as e:
        load_sweep(path, ["objective.metric=val_rmse"])
    assert e.value.messages == [f"{path}: objective.metric val_rmse does not apply to text_classification"]
    forecast = tmp_path / "f.yaml"
    forecast.write_text("data: {task: forecasting, dataset: vic-elec}\n")
    path.write_text(f"base: {forecast}\ntrials: 1\nspace:\n  train.lr: [0.1]\nobjective: {{metric: val_accuracy}}\n")
    with pytest.raises(ConfigError) as e:
        load_sweep(path)
    assert e.value.messages == [f"{path}:5: objective.metric val_accuracy does not apply to forecasting"]
