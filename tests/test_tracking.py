"""train.mlflow: what MLflow itself reads back (its client, the runs folder's own SQLite store), after
a plain run, an evaluate, kills at every kind of instant followed by a resume, and a sweep."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import metrics_without_time
from rnnexp.config import MlflowConfig, flatten, parse_config
from rnnexp.tracking import new_entry, tracking_uri

KILLED = -9
MLFLOW = ("mlflow.tracking",)  # imported once by the forkrun server, not by every child


def client_of(runs: Path):
    pytest.importorskip("mlflow", reason="needs the mlflow extra (make install)")
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{runs.absolute() / 'mlflow.db'}")


def mlflow_runs(client, rnnexp_run_id: str) -> list:
    experiment = client.get_experiment_by_name("rnnexp")
    return client.search_runs([experiment.experiment_id], filter_string=f"tags.`rnnexp.run_id` = '{rnnexp_run_id}'")


def run_folder(runs: Path) -> Path:
    (folder,) = [p for p in runs.iterdir() if p.is_dir() and (p / "config.yaml").is_file()]
    return folder


def assert_mirrors(client, folder: Path) -> object:
    """One MLflow run for the run folder, and each metrics.csv column as its metric: one value per
    epoch, the CSV's."""
    meta = json.loads((folder / "meta.json").read_text())
    (run,) = mlflow_runs(client, meta["run_id"])
    assert meta["mlflow"]["run_id"] == run.info.run_id
    rows = metrics_without_time(folder)
    assert rows, folder
    for key in rows[0]:
        if key == "epoch":
            continue
        history = client.get_metric_history(run.info.run_id, key)
        assert [m.step for m in history] == [int(r["epoch"]) for r in rows], key  # no epoch twice, none missing
        assert [m.value for m in history] == pytest.approx([float(r[key]) for r in rows], rel=1e-6), key
    seconds = client.get_metric_history(run.info.run_id, "seconds")
    assert sorted(m.step for m in seconds) == [int(r["epoch"]) for r in rows]
    return run


def test_train_and_evaluate_log_params_every_epoch_and_artifacts(write_config, tmp_path, forkrun):
    config, runs = write_config(train={"threads": 1}), tmp_path / "runs"
    rc, out = forkrun("train", config, "--runs-dir", runs, "--set", "train.mlflow=true", "--quiet", imports=MLFLOW)
    assert rc == 0, out
    assert "mlflow.store" not in out  # MLflow's own INFO lines are not rnnexp's output
    folder = run_folder(runs)
    rc, out = forkrun("evaluate", folder, imports=MLFLOW)
    assert rc == 0, out
    client = client_of(runs)
    run = assert_mirrors(client, folder)
    assert run.info.status == "FINISHED" and run.data.tags["rnnexp.status"] == "completed"
    assert run.data.tags["rnnexp.run_dir"] == str(folder)
    saved = yaml.safe_load((folder / "config.yaml").read_text())
    expected = {k: "null" if v is None else str(v).lower() if isinstance(v, bool) else str(v) for k, v in flatten(saved).items()}
    assert run.data.params == expected  # the whole flattened config
    assert {a.path for a in client.list_artifacts(run.info.run_id)} == {"curves.png", "config.yaml", "eval_test.json"}
    report = json.loads((folder / "eval_test.json").read_text())
    for key, value in (("test_accuracy", report["accuracy"]), ("test_loss", report["loss"])):
        assert [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, key)] == [(3, pytest.approx(value))]
    for name, scores in report["baselines"].items():
        logged = client.get_metric_history(run.info.run_id, f"test_baseline_{name}_accuracy")
        assert [m.value for m in logged] == [pytest.approx(scores["accuracy"])]
    rc, _ = forkrun("evaluate", folder, imports=MLFLOW)  # again: no score twice
    assert rc == 0 and len(client.get_metric_history(run.info.run_id, "test_accuracy")) == 1


# A kill after an epoch's metrics row (its checkpoint on disk, MLflow not told), mid-epoch, after the
# summary (MLflow told); and as the MLflow run is made, "lost-id": before meta.json had its id.
KILLS = ["metrics:1", "batch:2:5", "summary:1", "mlflow:start/lost-id"]


def test_a_kill_and_resume_leave_one_mlflow_run_with_one_value_per_epoch(write_config, tmp_path, forkrun):
    config = write_config(train={"threads": 1, "epochs": 2, "mlflow": True})
    runs = tmp_path / "runs"  # one store for every case, two processes writing to it at a time

    def case(run, kill: str) -> None:
        point, _, variant = kill.partition("/")
        rc, out = run(
            "train",
            config,
            "--runs-dir",
            runs,
            "--name",
            f"k{KILLS.index(kill)}",
            "-q",
            env={"RNNEXP_FAULT": point},
            imports=MLFLOW,
        )
        assert rc == KILLED, (kill, out)
        (folder,) = runs.glob(f"*_k{KILLS.index(kill)}")
        if variant == "lost-id":
            meta = json.loads((folder / "meta.json").read_text())
            meta["mlflow"]["run_id"] = None
            (folder / "meta.json").write_text(json.dumps(meta))
        rc, out = run("resume", folder, "-q", imports=MLFLOW)
        assert rc == 0, (kill, out)
        run_ = assert_mirrors(client_of(runs), folder)
        assert run_.info.status == "FINISHED", kill

    forkrun.each(case, KILLS)


@pytest.mark.parametrize("store", ["the runs folder's", "a sqlite URI's"])
def test_trainings_started_together_on_a_new_store_are_each_tracked(write_config, tmp_path, forkrun, store):
    """The first processes to open a SQLite store create it (tables, then MLflow's migrations):
    two at once, forked at the same instant, must not break each other's creation, and neither
    goes on untracked. Both for the runs folder's own store and for a tracking_uri sqlite file."""
    runs, elsewhere = tmp_path / "runs", tmp_path / "elsewhere"
    elsewhere.mkdir()
    uri = f"sqlite:///{elsewhere / 'tracking.db'}" if store == "a sqlite URI's" else None
    config = write_config(train={"threads": 1, "epochs": 1, "mlflow": {"enabled": True, "tracking_uri": uri}})

    def case(run, name: str) -> None:  # in tmp_path: MLflow puts a sqlite URI's artifacts in ./mlruns
        rc, out = run("train", config, "--runs-dir", runs, "--name", name, imports=MLFLOW, cwd=str(tmp_path))
        assert rc == 0 and "MLflow" not in out, out  # no "going on without MLflow tracking"

    forkrun.each(case, ["first", "second"])
    if uri:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=uri)
    else:
        client = client_of(runs)
    for name in ("first", "second"):
        (folder,) = runs.glob(f"*_{name}")
        assert assert_mirrors(client, folder).info.status == "FINISHED", name


def test_mlflow_down_costs_a_warning_not_the_run(write_config, tmp_path, forkrun):
    config = write_config(train={"threads": 1, "epochs": 2, "mlflow": {"enabled": True, "tracking_uri": "http://127.0.0.1:9"}})
    env = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}
    rc, out = forkrun("train", config, "--runs-dir", tmp_path, env=env, imports=MLFLOW)
    assert rc == 0, out
    assert "MLflow (http://127.0.0.1:9)" in out and "going on without MLflow tracking" in out
    summary = json.loads((run_folder(tmp_path) / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_run"] == 2


def test_a_sweep_is_one_parent_run_with_a_nested_run_per_trial(write_config, tmp_path, forkrun):
    from rnnexp import sweep as sweeps

    client = client_of(tmp_path / "runs")
    base = write_config(train={"threads": 1, "epochs": 1, "mlflow": True})
    sweep = tmp_path / "sweep.yaml"
    doc = {"name": "s", "base": str(base), "objective": {"metric": "val_accuracy"}, "sampler": {"kind": "grid"}}
    sweep.write_text(yaml.safe_dump({**doc, "space": {"model.num_neurons": [8, 12]}}))
    sw = sweeps.create(sweep, tmp_path / "runs")
    assert not sw.notes and sweeps.work(sw).stopped_by
    experiment = client.get_experiment_by_name("rnnexp")
    found = client.search_runs([experiment.experiment_id])
    (parent,) = [r for r in found if r.data.tags.get("rnnexp.kind") == "sweep"]
    trials = [r for r in found if r is not parent]
    assert len(trials) == 2 and all(r.data.tags["mlflow.parentRunId"] == parent.info.run_id for r in trials)
    assert sorted(r.data.params["model.num_neurons"] for r in trials) == ["12", "8"]
    assert parent.info.status == "FINISHED" and all(r.info.status == "FINISHED" for r in trials)
    rc, out = forkrun("sweep", "status", sw.path, "--json")
    assert rc == 0 and f"optuna-dashboard {sw.path / 'journal.log'}" in out  # the hint, for journal storage


# -- the config and where a run logs (no mlflow needed) --------------------------------------------


@pytest.mark.parametrize(
    "given, expected",
    [
        ("true", MlflowConfig(enabled=True)),
        ("false", MlflowConfig()),
        ("{enabled: true, experiment: team}", MlflowConfig(enabled=True, experiment="team")),
        ("{tracking_uri: 'http://mlflow:5000'}", MlflowConfig(tracking_uri="http://mlflow:5000")),
    ],
)
def test_train_mlflow_is_a_switch_or_a_section(given, expected):
    text = "data: {dataset: digits, task: sequence_classification}\n"
    assert parse_config(text, overrides=[f"train.mlflow={given}"]).train.mlflow == expected
    assert parse_config(text + f"train: {{mlflow: {given}}}\n").train.mlflow == expected


def test_the_config_uri_wins_over_the_environment_which_wins_over_the_runs_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    own = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert tracking_uri(MlflowConfig(enabled=True), tmp_path) == own
    assert tracking_uri(MlflowConfig(enabled=True), tmp_path, "http://before:5000") == "http://before:5000"
    assert tracking_uri(MlflowConfig(enabled=True), tmp_path, "postgresql://u:***@db/x") == own  # no password kept
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://env:5000")
    assert tracking_uri(MlflowConfig(enabled=True), tmp_path, "http://before:5000") == "http://env:5000"
    assert tracking_uri(MlflowConfig(enabled=True, tracking_uri="http://cfg:5000"), tmp_path) == "http://cfg:5000"
    entry = new_entry(
        MlflowConfig(enabled=True, tracking_uri="postgresql://u:secret@db/x"), tmp_path, tmp_path / "sweep" / "trials"
    )
    assert entry["tracking_uri"] == "postgresql://u:***@db/x" and entry["store"] == "../../.."
    assert new_entry(MlflowConfig(), tmp_path, tmp_path) is None


def test_mlflow_is_imported_only_when_tracking_is_on(tmp_path, monkeypatch, tiny_data, write_config):
    config = write_config(train={"mlflow": True})
    code = (
        "import sys; from typer.testing import CliRunner; from rnnexp.cli import app; import rnnexp.tracking; "
        f"r = CliRunner().invoke(app, ['validate', r'{config}']); assert r.exit_code == 0, r.output; "
        "print('mlflow' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_mlflow_missing_is_a_config_error_before_any_folder(tiny_data, tmp_path, monkeypatch):
    import importlib.util

    from conftest import tiny_config_dict
    from rnnexp import training
    from rnnexp.config import Config
    from rnnexp.errors import ConfigError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))
    cfg = Config.model_validate(tiny_config_dict(tiny_data, train={"mlflow": True}))
    with pytest.raises(
        ConfigError, match=r"train.mlflow is true but the mlflow package is not installed: pip install 'rnnexp\[mlflow\]'"
    ):
        training.train(cfg, tmp_path)
    assert not list(tmp_path.iterdir())
