"""Sweeps: the sweep file's errors, exact grids with several workers, dead workers whose trials
resume from their checkpoint, exact totals, pruning, sweep resume, and PostgreSQL with SIGKILL."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import pytest
import yaml

from conftest import ROW_RUNS, assert_same_run, every_kind_of_trial, fill_disk, run_cli, tiny_config_dict, tmpfs
from rnnexp import sweep as sweeps
from rnnexp.config import grid_sweep, load_config, load_sweep, trial_config
from rnnexp.errors import ConfigError


def _assert_rows_are_their_runs(sweep_dir: Path, res: dict, cut: dict[int, int]) -> None:
    """Each trial's value and epochs, in the results (``res``), results.csv and the status table, are
    its run's metrics.csv as the trial left it: the whole file, or its first ``cut[number]`` epochs
    (a trial whose run another one went on with, a repeat that took a result there). A repeat's run is
    the earlier trial's, and it trained no epochs itself."""
    pick = max if res["direction"] == "maximize" else min
    by_number = {t["number"]: t for t in res["trials"]}
    expected = {}
    for t in res["trials"]:
        run = by_number[t["same_as"]]["run_dir"] if t["same_as"] is not None else t["run_dir"]
        with open(Path(run, "metrics.csv"), newline="") as f:
            rows = list(csv.DictReader(f))[: cut.get(t["number"])]
        expected[t["number"]] = (pick(float(r[res["metric"]]) for r in rows), 0 if t["same_as"] is not None else len(rows))
    assert {n: (t["value"], t["epochs"]) for n, t in by_number.items()} == expected
    with open(sweep_dir / "results.csv", newline="") as f:
        written = {int(r["number"]): (float(r["value"]), int(r["epochs"])) for r in csv.DictReader(f)}
    assert written == expected
    status = run_cli("sweep", "status", sweep_dir)
    assert status.returncode == 0, status.stderr
    states = ("complete", "pruned", "fail", "running", "waiting")
    shown = {int(c[0]): c[2:4] for c in (line.split() for line in status.stdout.splitlines()) if c[1:2] and c[1] in states}
    assert shown == {n: [f"{value:.4f}", str(epochs)] for n, (value, epochs) in expected.items()}, status.stdout


def _json(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def _worker(sweep_dir: Path, env: dict | None = None, storage: str | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "rnnexp", "sweep", "worker", str(sweep_dir), "--threads", "1"]
    extra = {"RNNEXP_STORAGE": storage} if storage else {}
    return subprocess.Popen(
        cmd, env={**os.environ, **extra, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_grid_points_and_spec_kinds(write_sweep):
    sweep, base_raw, base = load_sweep(
        write_sweep(
            space={"model.cell": ["gru", "lstm"], "model.num_neurons": {"kind": "int", "low": 8, "high": 16, "step": 8}},
            sampler={"kind": "grid"},
        )
    )
    points = sweeps.grid_points(sweep)
    assert len(points) == sweep.total_trials == 4
    assert {(p["model.cell"], p["model.num_neurons"]) for p in points} == {("gru", 8), ("gru", 16), ("lstm", 8), ("lstm", 16)}
    assert base_raw["data"]["maxlen"] == base.data.maxlen


def test_sqlite_is_refused_for_several_workers(write_sweep, tmp_path):
    path = write_sweep(space={"train.lr": [0.01]}, sampler={"kind": "grid"})
    proc = run_cli("sweep", path, "--workers", "2", "--storage", f"sqlite:///{tmp_path}/s.db", "--runs-dir", tmp_path / "runs")
    assert proc.returncode == 2
    assert "SQLite runs queued trials twice" in proc.stderr and "Traceback" not in proc.stderr


# -- sweep CONFIG --grid KEY=V1,V2 ------------------------------------------------------------------


@pytest.mark.parametrize("monitor, direction", [("val_loss", "minimize"), ("val_accuracy", "maximize")])
def test_a_grid_is_the_sweep_file_it_writes(write_config, tmp_path, monitor, direction):
    config = write_config(train={"early_stopping": {"enabled": False, "monitor": monitor}})
    grid = ["model.cell=gru,lstm", "train.lr=1e-3, 0.01", "model.bidirectional=true,false"]  # 1e-3: a number
    overrides = ["train.epochs=1", "data.val_file=val.csv"]
    sweep, raw, base = grid_sweep(config, grid, overrides)
    assert sweep.sampler.kind == "grid" and sweep.total_trials == 8 and sweep.name == "tiny"
    assert sweep.space["train.lr"].values == [0.001, 0.01] and sweep.space["model.bidirectional"].values == [True, False]
    assert sweeps.objective_of(sweep, base) == (monitor, direction)  # the config's own monitor
    # --set is the sweep's set: the config every trial starts from (a data path relative to the config)
    assert base.train.epochs == 1 and base.data.val_file == str(config.parent / "val.csv")
    folder = sweeps.create(config, tmp_path / "runs", overrides, grid=grid).path
    (tmp_path / "elsewhere").mkdir()
    _assert_folder_holds_the_sweep_that_ran(folder, tmp_path / "elsewhere")
    again, raw_again, _ = load_sweep(folder / "sweep.yaml")
    assert again.model_copy(update={"base": sweep.base}) == sweep and raw_again == raw


@pytest.mark.parametrize("written", [None, "keras", "torch"])
def test_a_study_made_before_a_default_changed_goes_on_as_it_ran(write_sweep, tmp_path, written):
    """train.optimizer_defaults became keras after studies were made without it: a study whose base
    lacks it runs its next trials (and names its best config) with the old value, torch; a new study
    records the value it was made with (its base is the resolved config, every key written)."""
    from rnnexp.sweep.names import Attr

    base_train = {} if written is None else {"optimizer_defaults": written}
    sw = sweeps.create(write_sweep(base_train, space={"train.lr": [0.01, 0.02]}, sampler={"kind": "grid"}), tmp_path / "runs")
    made_with = written or "keras"
    assert sw.base_raw["train"]["optimizer_defaults"] == made_with
    assert yaml.safe_load((sw.path / "base.yaml").read_text())["train"]["optimizer_defaults"] == made_with
    assert sweeps.open_sweep(sw.path).base.train.optimizer_defaults == made_with
    spec = sw.study.user_attrs[Attr.SPEC]
    del spec["base"]["train"]["optimizer_defaults"]  # as a study made before the key existed holds it
    sw.study.set_user_attr(Attr.SPEC, spec)
    old = sweeps.open_sweep(sw.path)
    assert old.base.train.optimizer_defaults == "torch"
    assert trial_config(old.base_raw, {"train.lr": 0.01}).train.optimizer_settings()["rule"] == "torch"


def _assert_folder_holds_the_sweep_that_ran(folder: Path, elsewhere: Path) -> None:
    """A sweep folder's sweep.yaml, from another working folder, is valid and is the sweep its study
    runs (the sweep and the config every trial starts from); `rnnexp sweep` on it makes that sweep again."""
    ran = sweeps.open_sweep(folder)  # the study's own spec
    checked = run_cli("validate", folder / "sweep.yaml", cwd=elsewhere)
    assert checked.returncode == 0, checked.stderr
    but_base = lambda sweep: {**sweep.model_dump(mode="json"), "base": None}
    written, base_raw, _ = load_sweep(folder / "sweep.yaml")
    assert but_base(written) == but_base(ran.sweep) and base_raw == ran.base_raw
    made = run_cli("sweep", "create", folder / "sweep.yaml", "--runs-dir", "again", "--json", cwd=elsewhere)
    again = sweeps.open_sweep(_json(made)["sweep_dir"])
    assert but_base(again.sweep) == but_base(ran.sweep) and again.base_raw == ran.base_raw
    queued = lambda sw: [t.system_attrs.get("fixed_params") for t in sw.study.get_trials(deepcopy=False)]
    assert queued(again) == queued(ran)  # a grid: the same points, in the same order
    # ... and it writes the same sweep.yaml, but for the command in its first line
    assert yaml.safe_load((again.path / "sweep.yaml").read_text()) == yaml.safe_load((folder / "sweep.yaml").read_text())


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        ["trials=2"],
        ["set.train.epochs=1", "space.model.cell=[gru]", "set.data.val_file=../data/val.csv"],
        ["sampler={kind: random, seed: 3}", "trials=3", "space.train.lr={kind: loguniform, low: 0.001, high: 0.1}"],
    ],
    ids=["as written", "trials", "set and space", "sampler and space"],
)
def test_a_sweep_folder_holds_the_sweep_as_it_ran(tmp_path, tiny_data, overrides):
    # A sweep file over a chain of configs in other folders, each naming the next and its data by
    # relative paths, run from yet another working folder.
    for folder in ("sweeps", "conf", "shared", "data", "elsewhere/deeper"):
        (tmp_path / folder).mkdir(parents=True)
    shutil.copy(tiny_data["train"], tmp_path / "data" / "train.csv")
    shutil.copy(tiny_data["test"], tmp_path / "data" / "val.csv")
    root = {k: v for k, v in tiny_config_dict(tiny_data).items() if k != "data"}
    root["data"] = {"train_file": "../data/train.csv", "maxlen": 40, "max_vocab": 2000, "val_split": 0.2}
    (tmp_path / "shared" / "root.yaml").write_text(yaml.safe_dump(root))
    (tmp_path / "conf" / "child.yaml").write_text("base: ../shared/root.yaml\nname: child\ntrain:\n  epochs: 2\n")
    (tmp_path / "sweeps" / "s.yaml").write_text(
        "name: s\nbase: ../conf/child.yaml\nset:\n  train.lr: 0.01\nspace:\n  model.cell: [gru, lstm]\n"
        "  model.num_neurons: [8, 16]\nsampler: {kind: grid}\n"
    )
    made = run_cli(
        "sweep",
        "create",
        "../../sweeps/s.yaml",
        "--runs-dir",
        "runs",
        "--json",
        *(f"--set={o}" for o in overrides),
        cwd=tmp_path / "elsewhere" / "deeper",
    )
    folder = Path(_json(made)["sweep_dir"])
    ran = sweeps.open_sweep(folder)
    assert ran.base.data.train_file == str(tmp_path / "data" / "train.csv") and ran.base.train.lr == 0.01
    if overrides[:1] == ["set.train.epochs=1"]:  # a data path in the sweep file's set: relative to the sweep file
        assert ran.base.train.epochs == 1 and ran.base.data.val_file == str(tmp_path / "data" / "val.csv")
    other = tmp_path / "other"
    other.mkdir()
    _assert_folder_holds_the_sweep_that_ran(folder, other)


def test_sweep_config_grid_runs_the_grid_as_a_sweep_and_resumes_as_one(write_config, tmp_path):
    (tmp_path / "child").mkdir()
    config = tmp_path / "child" / "c.yaml"  # a config with a base trains as its merged self
    config.write_text(f"base: ../{write_config().name}\nname: child\nmodel:\n  num_neurons: 8\n")
    runs = tmp_path / "runs"
    proc = run_cli(
        "sweep", config, "--grid", "model.cell=gru,lstm", "--set", "train.epochs=1", "--workers", "2", "--runs-dir", runs
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (folder,) = runs.iterdir()
    rows = list(csv.DictReader(open(folder / "results.csv")))
    assert sorted((r["state"], r["model.cell"]) for r in rows) == [("COMPLETE", "gru"), ("COMPLETE", "lstm")]
    table = proc.stdout.splitlines()  # the results table on stdout, the workers' lines on stderr
    assert any(line.split()[1:2] == ["complete"] and "gru" in line for line in table), proc.stdout
    assert "2 complete of 2 trials" in proc.stdout and "worker" not in proc.stdout and "epoch 1/1" in proc.stderr
    for row in rows:
        assert json.loads(Path(row["run_dir"], "summary.json").read_text())["epochs_run"] == 1  # --set train.epochs=1
        saved = Path(row["run_dir"], "config.yaml")  # the merged config: the run never needs the base again
        assert "base" not in yaml.safe_load(saved.read_text())
        trial = load_config(saved)  # named after its trial
        assert trial == load_config(config, ["train.epochs=1", f"model.cell={row['model.cell']}", f"name={trial.name}"])
    sweep, raw, _ = load_sweep(folder / "sweep.yaml")  # the equivalent sweep file
    assert sweep.space["model.cell"].values == ["gru", "lstm"] and raw["train"]["epochs"] == 1 and sweep.name == "child"
    resumed = sweeps.work(sweeps.open_sweep(folder))  # what sweep resume's workers do: here, nothing
    assert resumed.trials == [] and resumed.stopped_by == "all trials done" and len(list((folder / "trials").iterdir())) == 2


# -- running -------------------------------------------------------------------------------------


def test_grid_with_two_workers_runs_each_point_once(write_sweep, tmp_path):
    space = {"model.cell": ["gru", "lstm"], "train.lr": [0.003, 0.01]}
    path = write_sweep(space=space, sampler={"kind": "grid"}, base_train={"epochs": 2})
    proc = run_cli("sweep", path, "--workers", "2", "--runs-dir", tmp_path / "runs", "--json")
    res = _json(proc)
    assert res["counts"]["COMPLETE"] == 4 and res["duplicates"] == 0
    assert sorted((t["model.cell"], t["train.lr"]) for t in res["trials"]) == sorted(
        (c, lr) for c in space["model.cell"] for lr in space["train.lr"]
    )
    assert len({t["host"] + str(t["run_dir"]) for t in res["trials"]}) == 4
    for t in res["trials"]:
        summary = json.loads(Path(t["run_dir"], "summary.json").read_text())
        assert summary["status"] == "completed" and summary["epochs_run"] == 2
        rows = list(csv.DictReader(open(Path(t["run_dir"], "metrics.csv"))))
        assert t["value"] == pytest.approx(max(float(r["val_accuracy"]) for r in rows))
        # the workers' progress: one line per epoch per trial, its objective at 4 significant digits
        best = None
        for r in rows:
            value = float(r["val_accuracy"])
            best = value if best is None else max(best, value)
            line = f"trial {t['number']} epoch {r['epoch']}/2: val_accuracy {value:.4g}, trial best {best:.4g}, "
            assert proc.stderr.count(line) == 1, (line, proc.stderr)
    assert proc.stderr.count(" epoch ") == 8 and "sweep best" in proc.stderr
    folder = Path(res["results_csv"]).parent
    assert folder.name.startswith("sweep_") and (folder / "journal.log").is_file()
    rows = list(csv.DictReader(open(res["results_csv"])))
    assert len(rows) == 4 and {r["state"] for r in rows} == {"COMPLETE"}
    best = load_config(res["best_config"])  # ready for rnnexp train
    assert (best.model.cell, best.train.lr) == (res["best"]["model.cell"], res["best"]["train.lr"])
    assert best.train.epochs == 2
    # Every trial is an ordinary run: it evaluates like any other.
    assert run_cli("evaluate", res["best"]["run_dir"], "--json").returncode == 0


def test_killed_worker_trial_resumes_from_its_checkpoint(write_sweep, tmp_path):
    path = write_sweep(space={"train.lr": [0.003, 0.01]}, sampler={"kind": "grid"})
    created = _json(run_cli("sweep", "create", path, "--runs-dir", tmp_path / "runs", "--json"))
    folder = Path(created["sweep_dir"])
    # The first worker SIGKILLs itself in epoch 2 of its first trial (after epoch 1's checkpoint).
    dying = _worker(folder, env={"RNNEXP_FAULT": "batch:2:3"})
    assert dying.wait(timeout=300) == -signal.SIGKILL
    proc = _worker(folder)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "its worker died; queued again" in err
    sw = sweeps.open_sweep(folder)
    res = sweeps.results(sw)
    assert res["counts"]["COMPLETE"] == 2 and res["counts"]["RETRIED"] == 1 and res["duplicates"] == 0
    # What an epoch_budget counts: the dead trial's epoch once (its retry took over its folder, not its count).
    assert sweeps.epochs_spent(sw) == res["epochs_trained"] == 6
    dead = next(t for t in res["trials"] if "retried as" in t["note"])
    retry = next(t for t in res["trials"] if t["retry_of"] == dead["number"])
    assert retry["state"] == "COMPLETE" and retry["run_dir"] == dead["run_dir"]  # the same folder, resumed
    assert (dead["state"], dead["epochs"]) == ("FAIL", 1)  # as it died: after epoch 1
    _assert_rows_are_their_runs(folder, res, {dead["number"]: 1})
    meta = json.loads(Path(retry["run_dir"], "meta.json").read_text())
    assert [r["from_epoch"] for r in meta["resumes"]] == [1]
    epochs = [int(r["epoch"]) for r in csv.DictReader(open(Path(retry["run_dir"], "metrics.csv")))]
    assert epochs == [1, 2, 3]
    # ... and it ends exactly where an uninterrupted run of the same config ends.
    plain = _json(run_cli("train", Path(retry["run_dir"], "config.yaml"), "--runs-dir", tmp_path / "plain", "--json", "-q"))
    assert_same_run(Path(retry["run_dir"]), Path(plain["run_dir"]))


def test_random_sampler_total_is_exact_with_two_workers(write_sweep, tmp_path):
    path = write_sweep(
        space={"train.lr": {"kind": "loguniform", "low": 1e-3, "high": 3e-2}},
        sampler={"kind": "random", "seed": 3},
        trials=3,
        base_train={"epochs": 1},
    )
    res = _json(run_cli("sweep", path, "--workers", "2", "--runs-dir", tmp_path / "runs", "--json"))
    assert res["counts"]["COMPLETE"] == 3 and len(res["trials"]) == 3
    assert all(1e-3 <= t["train.lr"] <= 3e-2 for t in res["trials"])
    # Each worker draws from its own stream (seed + its number): with one seed both would start
    # with the same lr, and trial 0 and 1 would train the same configuration side by side.
    assert len({t["train.lr"] for t in res["trials"]}) == 3, res["trials"]
    # Resuming a finished sweep runs nothing more: the total is a total, not "that many more".
    again = _json(run_cli("sweep", "resume", Path(res["results_csv"]).parent, "--workers", "2", "--json"))
    assert again["counts"]["COMPLETE"] == 3 and len(again["trials"]) == 3


def test_stopped_sweep_resumes_to_its_total(write_sweep, tmp_path):
    path = write_sweep(
        space={"train.lr": [0.003, 0.005, 0.01]}, sampler={"kind": "random", "seed": 1}, trials=3, base_train={"epochs": 1}
    )
    sw = sweeps.create(path, tmp_path / "runs")
    stop = threading.Event()

    class StopAfterFirst(sweeps.Events):
        def note(self, text: str) -> None:
            if "complete after" in text:
                stop.set()

    done = sweeps.work(sw, events=StopAfterFirst(), stop=stop)
    assert [t["state"] for t in done.trials] == ["COMPLETE"] and done.stopped_by == "interrupted"
    res = _json(run_cli("sweep", "resume", sw.path, "--json"))
    trained = [t for t in res["trials"] if t["same_as"] is None]
    assert res["counts"]["COMPLETE"] == 3 and len(trained) == 3
    # The random sampler proposed a repeat, which took its earlier result: 3 configurations, 3 trainings.
    assert sorted(t["train.lr"] for t in trained) == [0.003, 0.005, 0.01], res["trials"]
    repeats = [t for t in res["trials"] if t["same_as"] is not None]
    assert all(t["epochs"] == 0 and t["value"] == res["trials"][t["same_as"]]["value"] for t in repeats)
    status = run_cli("sweep", "status", sw.path)
    assert status.returncode == 0 and "3 complete of 3 trials" in status.stdout


def test_pruned_trials_are_pruned_and_early_stopped_ones_complete(write_sweep, tmp_path):
    # Trial 0 learns (lr 0.02); trials 1 and 2 barely move (lr 1e-6) and fall below the median of
    # trial 0 at epoch 1, so the median pruner stops them there.
    path = write_sweep(
        space={"train.lr": [0.02, 1e-6, 2e-6]},
        sampler={"kind": "grid"},
        pruner={"kind": "median", "startup_trials": 1, "warmup_epochs": 0},
        objective={"metric": "val_loss"},
        base_train={"epochs": 3},
    )
    res = _json(run_cli("sweep", path, "--runs-dir", tmp_path / "runs", "--json"))
    by_lr = {t["train.lr"]: t for t in res["trials"]}
    assert by_lr[0.02]["state"] == "COMPLETE"
    for lr in (1e-6, 2e-6):
        assert by_lr[lr]["state"] == "PRUNED", res["trials"]
        summary = json.loads(Path(by_lr[lr]["run_dir"], "summary.json").read_text())
        assert summary["status"] == "pruned" and summary["epochs_run"] < 3 and "median pruner" in summary["stop_reason"]
    assert res["epochs_trained"] < 9
    # sweep.png of these complete and pruned trials: a grid of panels, not a strip
    import matplotlib.image

    sweep_dir = Path(by_lr[0.02]["run_dir"]).parents[1]
    plotted = run_cli("plot", sweep_dir)
    assert plotted.returncode == 0, plotted.stderr
    height, width = matplotlib.image.imread(sweep_dir / "sweep.png").shape[:2]
    assert height > 600 and width < 2 * height

    # Early stopping ends a trial as complete, never as pruned.
    es = {"enabled": True, "monitor": "val_loss", "patience": 1, "min_delta": 10.0}
    path = write_sweep(space={"train.lr": [0.01]}, sampler={"kind": "grid"}, base_train={"epochs": 4, "early_stopping": es})
    res = _json(run_cli("sweep", path, "--runs-dir", tmp_path / "runs2", "--json"))
    (trial,) = res["trials"]
    assert trial["state"] == "COMPLETE" and trial["epochs"] == 2
    assert json.loads(Path(trial["run_dir"], "summary.json").read_text())["status"] == "early_stopped"


def test_repeats_take_earlier_results_and_a_converged_sampler_ends_the_sweep(write_sweep, tmp_path):
    # Two configurations: lr 0.02 learns, lr 1e-6 does not and is pruned after epoch 1 (below the
    # median of the first). Trial 2 repeats trial 1; then the random sampler can only propose repeats,
    # and REPEAT_LIMIT of them in a row end the sweep.
    path = write_sweep(
        space={"train.lr": [0.02, 1e-6]},
        sampler={"kind": "random", "seed": 0},
        pruner={"kind": "median", "startup_trials": 1, "warmup_epochs": 0},
        objective={"metric": "val_loss"},
        trials=3,
        base_train={"epochs": 2},
    )
    sw = sweeps.create(path, tmp_path / "runs")
    for lr in (0.02, 1e-6, 1e-6):
        sw.study.enqueue_trial({"train.lr": lr})
    done = sweeps.work(sw)
    assert done.stopped_by.startswith("converged"), done.stopped_by
    first, second, third, *rest = done.trials
    assert first["state"] == "COMPLETE" and second["state"] == "PRUNED" and "same_as" not in second
    assert third == {**third, "state": "PRUNED", "epochs": 0, "same_as": second["number"]}  # pruned again, untrained
    assert len(rest) == sweeps.REPEAT_LIMIT - 1 and all(t["same_as"] in (0, 1) and t["epochs"] == 0 for t in rest)
    res = sweeps.results(sw)
    assert res["epochs_trained"] == 3 and res["counts"]["COMPLETE"] == 1 and res["counts"]["PRUNED"] == 1
    assert res["counts"]["REPEATED"] == sweeps.REPEAT_LIMIT and res["ended"] == done.stopped_by
    assert res["best"]["number"] == 0 and len(list((sw.path / "trials").iterdir())) == 2  # two run folders, no more
    # A repeat of the pruned configuration shows its value where it was pruned again, after epoch 1.
    _assert_rows_are_their_runs(sw.path, res, {t["number"]: 1 for t in res["trials"] if t["same_as"] == second["number"]})
    # Resuming asks the sampler nothing more: it has converged.
    again = _json(run_cli("sweep", "resume", sw.path, "--json"))
    assert len(again["trials"]) == len(res["trials"])
    status = run_cli("sweep", "status", sw.path)
    assert "1 complete, 1 pruned of 3 trials; 3 epochs trained" in status.stdout, status.stdout
    assert f"{sweeps.REPEAT_LIMIT} repeated configurations took their earlier results" in status.stdout
    assert "ended early: converged" in status.stdout


def test_a_pruned_configuration_the_pruner_now_lets_through_trains_again():
    from optuna.trial import TrialState

    class Trial:  # the pruner's verdict has changed since (more trials at the rung, say)
        number, reported, attrs = 5, [], {}

        def report(self, value, step):
            self.reported.append((step, value))

        def should_prune(self):
            return False

        def set_user_attr(self, key, value):
            self.attrs[key] = value

    original = types.SimpleNamespace(number=2, state=TrialState.PRUNED, intermediate_values={2: 0.6, 1: 0.5})
    trial, entry = Trial(), {}
    assert sweeps._take_result(None, trial, original, entry, sweeps.Events()) is False
    assert trial.reported == [(1, 0.5), (2, 0.6)] and trial.attrs == {} and entry == {}  # not a repeat: it trains


def test_each_kind_of_row_shows_its_run_as_the_trial_left_it(write_sweep, tmp_path):
    """Every state a trial's row can show: its value (the best val_accuracy) and epochs as of its end,
    never those of a later trial that went on with its run."""
    sw, shown = every_kind_of_trial(write_sweep, tmp_path, ROW_RUNS)
    rows = sweeps.compute_results(sw)["trials"]
    assert [(r["value"], r["epochs"]) for r in rows] == shown
    assert [r["note"] for r in rows][1:4] == [
        "paused after epoch 1; promoted as #3",
        "stopped; retried as #7",
        "paused after epoch 3; promoted as #5",
    ]


def test_paused_trial_is_promoted_and_its_run_resumes_bit_identically(write_sweep, tmp_path):
    # Successive halving with one rung, at epoch 1 of 2, keeping the best half. Trial 0 (lr 0.02,
    # learns) is alone at the rung: too few to tell, paused. Trial 1 (lr 1e-6, does not learn) is
    # the worse of two: paused. Trial 0 is now the best of two, so it is promoted before anything
    # else: trial 2 resumes its run for epoch 2.
    path = write_sweep(
        space={"train.lr": [0.02, 1e-6]},
        sampler={"kind": "grid"},
        pruner={"kind": "successive_halving", "min_epochs": 1, "reduction_factor": 2},
        objective={"metric": "val_loss"},
        base_train={"epochs": 2},
    )
    proc = run_cli("sweep", path, "--runs-dir", tmp_path / "runs")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "trial 2: promotes paused trial 0" in proc.stderr
    assert "1 paused trial was promoted later: its run resumed from its checkpoint" in proc.stdout
    assert "1 complete, 1 pruned of 2 trials" in proc.stdout
    sweep_dir = next((tmp_path / "runs").iterdir())
    res = _json(run_cli("sweep", "results", sweep_dir, "--json"))
    paused, worse, promoted = res["trials"]
    assert paused["state"] == "PRUNED" and paused["epochs"] == 1 and paused["note"] == "paused after epoch 1; promoted as #2"
    _assert_rows_are_their_runs(sweep_dir, res, {paused["number"]: 1})  # the paused trial: as of its pause
    assert worse["state"] == "PRUNED" and worse["epochs"] == 1 and worse["promoted_from"] is None
    reason = json.loads(Path(worse["run_dir"], "summary.json").read_text())["stop_reason"]
    assert reason.startswith("paused by the successive_halving pruner after epoch 1") and "resumes it" in reason
    assert promoted == {**promoted, "state": "COMPLETE", "epochs": 2, "promoted_from": 0, "run_dir": paused["run_dir"]}
    assert res["best"]["number"] == 2 and res["epochs_trained"] == 3 and res["counts"]["PROMOTED"] == 1
    meta = json.loads(Path(promoted["run_dir"], "meta.json").read_text())
    assert [r["from_epoch"] for r in meta["resumes"]] == [1]
    with open(sweep_dir / "results.csv", newline="") as f:
        assert [r["promoted_from"] for r in csv.DictReader(f)] == ["", "", "0"]
    # The paused-and-resumed run is the run that configuration gives without a pause.
    plain = run_cli("train", Path(promoted["run_dir"], "config.yaml"), "--runs-dir", tmp_path / "plain", "--json", "-q")
    assert plain.returncode == 0, plain.stderr
    assert_same_run(Path(promoted["run_dir"]), Path(json.loads(plain.stdout)["run_dir"]))


def test_a_rung_no_configuration_will_fill_lets_its_best_go_on(write_sweep, tmp_path):
    # One configuration: alone at the rung it is paused, and no other will come to rank it. Once
    # nothing else can start, its best goes on, so the sweep ends with a complete trial.
    path = write_sweep(
        space={"train.lr": [0.02]},
        sampler={"kind": "grid"},
        pruner={"kind": "successive_halving", "min_epochs": 1, "reduction_factor": 2},
        base_train={"epochs": 2},
    )
    res = _json(run_cli("sweep", path, "--runs-dir", tmp_path / "runs", "--json"))
    paused, promoted = res["trials"]
    assert paused["note"] == "paused after epoch 1; promoted as #1" and promoted["state"] == "COMPLETE"
    assert promoted["epochs"] == 2 and res["epochs_trained"] == 2 and res["best"]["number"] == 1


def test_promotions_with_two_workers_train_no_epoch_twice(write_sweep, tmp_path):
    # One rung, at epoch 1 of 2, keeping the best third. Only lr 0.02 learns; it is among the first
    # two at the rung (too few to tell: paused), so it is promoted once a third arrives, while both
    # workers look for promotions.
    path = write_sweep(
        space={"train.lr": [0.02, 1e-6, 2e-6, 3e-6, 4e-6]},
        sampler={"kind": "grid"},
        pruner={"kind": "successive_halving", "min_epochs": 1, "reduction_factor": 3},
        objective={"metric": "val_loss"},
        base_train={"epochs": 2},
    )
    proc = run_cli("sweep", path, "--runs-dir", tmp_path / "runs", "--workers", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = _json(run_cli("sweep", "results", next((tmp_path / "runs").iterdir()), "--json"))
    counted = [t for t in res["trials"] if "promoted as" not in t["note"]]
    assert len(counted) == 5 and {t["state"] for t in counted} <= {"COMPLETE", "PRUNED"}, res["trials"]
    assert res["duplicates"] == 0 and res["counts"]["PROMOTED"] >= 1 and res["counts"]["COMPLETE"] >= 1
    # Each configuration has one run folder, each of its epochs trained once, however often it was promoted.
    runs = {t["run_dir"] for t in counted}
    assert len(runs) == 5 and res["epochs_trained"] == sum(t["epochs"] for t in counted)
    for t in counted:
        meta = json.loads(Path(t["run_dir"], "meta.json").read_text())
        froms = [r["from_epoch"] for r in meta["resumes"]]  # resumed only where it paused, at the rung
        assert froms == ([1] if t["promoted_from"] is not None else [])


def test_epoch_budget_stops_the_sweep_and_the_trial_training_then(write_sweep, tmp_path):
    path = write_sweep(
        space={"train.lr": {"kind": "loguniform", "low": 1e-3, "high": 3e-2}},
        sampler={"kind": "random", "seed": 0},
        pruner={"kind": "none"},  # the budget alone stops trials here
        trials=10,
        epoch_budget=4,
        base_train={"epochs": 3},
    )
    proc = run_cli("sweep", path, "--runs-dir", tmp_path / "runs")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "4 epochs trained (budget 4)" in proc.stdout and "ended early: epoch budget spent (4 of 4 epochs)" in proc.stdout
    sweep_dir = next((tmp_path / "runs").iterdir())
    assert json.loads((sweep_dir / "sweep.json").read_text())["epoch_budget"] == 4
    res = _json(run_cli("sweep", "results", sweep_dir, "--json"))
    first, second = res["trials"]
    assert first["state"] == "COMPLETE" and first["epochs"] == 3
    assert second["state"] == "PRUNED" and second["epochs"] == 1 and "budget" in second["note"]
    summary = json.loads(Path(second["run_dir"], "summary.json").read_text())
    assert summary["status"] == "pruned" and "epoch budget (4) is spent" in summary["stop_reason"]
    # The stopped trial is an ordinary run: it can be finished by hand.
    resumed = _json(run_cli("resume", second["run_dir"], "--json", "-q"))
    assert resumed["status"] == "completed" and resumed["epochs_run"] == 3
    # A budget spent before any trial completed still leaves a best: the epoch its trial scored.
    path = write_sweep(
        space={"train.lr": [0.01, 0.02]}, sampler={"kind": "random"}, trials=2, epoch_budget=1, base_train={"epochs": 3}
    )
    proc = run_cli("sweep", path, "--runs-dir", tmp_path / "runs2", "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(proc.stdout)
    (only,) = res["trials"]
    assert res["counts"]["COMPLETE"] == 0 and only["state"] == "PRUNED" and only["epochs"] == 1 and "budget" in only["note"]
    assert res["best"]["number"] == only["number"] and res["best"]["value"] == only["value"] is not None
    assert Path(res["best_config"]).is_file()


def test_a_sweep_ends_in_failure_only_without_a_best(capsys):
    """Exit 1 when nothing is left to run and no trial scored an epoch, or trials are left; a best
    that never completed (paused, stopped by the budget) is a finished sweep."""
    import typer

    from rnnexp import cli

    ended = {"counts": {"RUNNING": 0, "WAITING": 0, "COMPLETE": 0}, "best": None, "ended": "epoch budget spent (1 of 1 epoch)"}
    with pytest.raises(typer.Exit) as exit_:
        cli._sweep_exit(ended, Path("sweep_x"))
    said = capsys.readouterr().err
    assert exit_.value.exit_code == 1 and "before any trial scored an epoch; run a new one with a larger epoch_budget" in said
    cli._sweep_exit({**ended, "best": {"number": 0, "value": 0.5}}, Path("sweep_x"))  # returns: success
    running, nothing = {"RUNNING": 1, "WAITING": 0, "COMPLETE": 3}, {"RUNNING": 0, "WAITING": 0, "COMPLETE": 0}
    for counts, best in ((running, {"number": 0}), (nothing, None)):
        with pytest.raises(typer.Exit) as exit_:
            cli._sweep_exit({"counts": counts, "best": best, "ended": None}, Path("sweep_x"))
        assert exit_.value.exit_code == 1 and "continue with: rnnexp sweep resume sweep_x" in capsys.readouterr().err


# -- PostgreSQL ----------------------------------------------------------------------------------


def test_postgres_two_workers_one_killed(write_sweep, tmp_path, pg_url):
    path = write_sweep(
        space={"train.lr": [0.002, 0.004, 0.006, 0.008]},
        sampler={"kind": "grid"},
        heartbeat={"interval": 1, "grace": 4},
        base_train={"epochs": 3},
    )
    created = _json(run_cli("sweep", "create", path, "--runs-dir", tmp_path / "runs", "--storage", pg_url, "--json"))
    folder, study = Path(created["sweep_dir"]), created["study"]
    assert "journal.log" not in os.listdir(folder)
    # Two workers started at once (schema and study already exist); one is SIGKILLed mid-trial.
    dying = _worker(folder, env={"RNNEXP_FAULT": "batch:2:3"}, storage=pg_url)
    living = _worker(folder, storage=pg_url)
    assert dying.wait(timeout=300) == -signal.SIGKILL
    out, err = living.communicate(timeout=300)
    assert living.returncode == 0, err
    sw = sweeps.open_sweep(None, pg_url, study)
    sw.path = None
    res = sweeps.results(sw)
    assert res["counts"]["COMPLETE"] == 4 and res["counts"]["RETRIED"] == 1, res["trials"]
    assert res["counts"]["FAIL"] == res["counts"]["RUNNING"] == res["counts"]["WAITING"] == 0  # nothing lost
    assert res["duplicates"] == 0
    dead = next(t for t in res["trials"] if "retried as" in t["note"])
    retry = next(t for t in res["trials"] if t["retry_of"] == dead["number"])
    assert retry["run_dir"] == dead["run_dir"]
    assert [r["from_epoch"] for r in json.loads(Path(retry["run_dir"], "meta.json").read_text())["resumes"]] == [1]


def test_postgres_paused_worker_does_not_break_the_sweep(write_sweep, tmp_path, pg_url):
    path = write_sweep(space={"train.lr": [0.003, 0.006]}, sampler={"kind": "grid"}, heartbeat={"interval": 1, "grace": 3})
    created = _json(run_cli("sweep", "create", path, "--runs-dir", tmp_path / "runs", "--storage", pg_url, "--json"))
    folder = Path(created["sweep_dir"])
    paused = _worker(folder, storage=pg_url)
    sw = sweeps.open_sweep(None, pg_url, created["study"])
    deadline = time.monotonic() + 120
    while not any(t.user_attrs.get("run_dir") for t in sw.study.get_trials()):  # it is training
        assert time.monotonic() < deadline
        time.sleep(0.2)
    os.kill(paused.pid, signal.SIGSTOP)
    living = _worker(folder, storage=pg_url)
    # Paused past the grace period until the living worker has failed the paused one's trial and
    # queued its retry (not for a fixed time: the living worker may train the other trial first).
    from rnnexp.sweep.names import SystemAttr

    deadline = time.monotonic() + 240
    while not any(t.system_attrs.get(SystemAttr.RETRY_HISTORY) for t in sw.study.get_trials()):
        assert time.monotonic() < deadline, "the paused worker's trial was never retried"
        time.sleep(0.5)
    os.kill(paused.pid, signal.SIGCONT)
    out, err = living.communicate(timeout=300)
    assert living.returncode == 0, err
    assert paused.wait(timeout=120) == 0, paused.stderr.read()
    sw.path = None
    res = sweeps.results(sw)
    assert res["counts"]["COMPLETE"] == 2 and res["counts"]["RETRIED"] == 1 and res["duplicates"] == 0, res["trials"]


_TRIAL_WRITES = (
    "set_trial_param",
    "set_trial_user_attr",
    "set_trial_system_attr",
    "set_trial_intermediate_value",
    "set_trial_state_values",
)


def _rival_fails_at(sw, write_no: int | None, monkeypatch) -> list[str]:
    """Counts the writes this worker makes to its first trial once it runs it. Just before write
    number ``write_no``, another worker fails that trial as stale and queues its retry, as a living
    worker does to a trial whose worker is paused past the grace period. Returns the writes seen."""
    import optuna
    from optuna.trial import TrialState

    storage, seen = sw.study._storage, []
    first = sw.study.get_trials(deepcopy=False)[0]._trial_id

    def counted(name):
        write = getattr(storage, name)

        def wrapper(trial_id, *args, **kwargs):
            if trial_id == first and storage.get_trial(first).state == TrialState.RUNNING:
                seen.append(name if name != "set_trial_user_attr" else f"{name}:{args[0]}")
                if len(seen) == write_no:
                    type(storage).set_trial_state_values(storage, first, TrialState.FAIL)  # not the counted one
                    frozen = storage.get_trial(first)
                    optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3)(sw.study, frozen)
            return write(trial_id, *args, **kwargs)

        return wrapper

    for name in _TRIAL_WRITES:
        monkeypatch.setattr(storage, name, counted(name))
    return seen


def test_a_trial_failed_behind_its_workers_back_at_any_write_is_resumed_by_its_retry(write_sweep, tmp_path, monkeypatch):
    """A worker paused past the heartbeat grace period finds, when it goes on, that its trial was
    failed and retried by another worker. Whichever write to the trial finds that out (a user
    attribute, an epoch's value, the final tell, ...): the worker neither crashes nor writes on,
    its run stops at a checkpoint, and the retry ends it as the uninterrupted run ends."""
    path = write_sweep(space={"train.lr": [0.01]}, sampler={"kind": "grid"}, base_train={"epochs": 2})
    reference = sweeps.create(path, tmp_path / "reference")
    seen = _rival_fails_at(reference, None, monkeypatch)
    assert sweeps.work(reference).stopped_by == "all trials done"
    monkeypatch.undo()
    (alone,) = sweeps.results(reference)["trials"]
    assert {"set_trial_intermediate_value", "set_trial_user_attr:run_dir", "set_trial_state_values"} <= set(seen), seen
    for write_no in range(1, len(seen) + 1):
        sw = sweeps.create(path, tmp_path / f"failed-at-{write_no}")
        _rival_fails_at(sw, write_no, monkeypatch)
        worked = sweeps.work(sw)
        monkeypatch.undo()
        assert worked.stopped_by == "all trials done", (write_no, seen[write_no - 1])
        first, retry = worked.trials
        assert first["state"] == "LOST", (write_no, seen[write_no - 1], first)
        res = sweeps.results(sw)
        (counted,) = [t for t in res["trials"] if t["number"] not in {r["retry_of"] for r in res["trials"]}]
        assert (counted["state"], counted["value"], counted["epochs"]) == ("COMPLETE", alone["value"], 2), (write_no, counted)
        if first.get("run_dir") or retry.get("resumed_from"):  # the run had its folder: the retry went on in it
            assert retry["resumed_from"] and counted["run_dir"] == retry["resumed_from"], (write_no, retry)
        assert_same_run(Path(alone["run_dir"]), Path(counted["run_dir"]))


# -- faults: a full disk, a torn journal, a worker killed at every point of a paused trial ------------


def _journal_sweep(write_sweep, tmp_path, **top) -> Path:
    path = write_sweep(space={"train.lr": [0.003, 0.01]}, sampler={"kind": "grid"}, **top)
    return sweeps.create(path, tmp_path / "runs").path


@pytest.mark.parametrize("tail", [b'{"op_code": 5, "worker_id": "x", "trial', b"{", b'{"op_code":0,"study_name":"z"'])
def test_a_torn_last_journal_record_never_makes_a_sweep_unreadable(write_sweep, tmp_path, tail):
    """A process that died (or hit a full disk) mid-append leaves a record without its newline.
    Optuna's reader skips it; the next append cuts it off first, where Optuna's own would glue the
    next record to it and break the journal for good."""
    folder = _journal_sweep(write_sweep, tmp_path)
    journal = folder / sweeps.JOURNAL
    whole = journal.read_bytes()
    with open(journal, "ab") as f:
        f.write(tail)
    sw = sweeps.open_sweep(folder)  # reading: the torn record is skipped
    assert len(sw.study.get_trials()) == 2
    sw.study.set_user_attr("after", 1)  # appending: the torn record is cut off first
    after = journal.read_bytes()
    assert after.startswith(whole) and all(json.loads(line)["op_code"] is not None for line in after[len(whole) :].splitlines())
    again = sweeps.open_sweep(folder)
    assert again.study.user_attrs["after"] == 1 and len(again.study.get_trials()) == 2
    assert sweeps.results(again)["counts"]["WAITING"] == 2


@pytest.mark.parametrize("fails", ["write", "fsync"])
def test_an_append_that_fails_leaves_no_part_of_its_record(write_sweep, tmp_path, monkeypatch, fails):
    import builtins
    import errno

    from rnnexp.errors import StorageError

    folder = _journal_sweep(write_sweep, tmp_path)
    journal = folder / sweeps.JOURNAL
    before = journal.read_bytes()
    sw = sweeps.open_sweep(folder)
    real_open = builtins.open

    class HalfWrite:
        """A file whose write stores half of what it is given, then reports a full disk."""

        def __init__(self, f):
            self.f = f

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.f.__exit__(*exc)

        def write(self, data):
            if fails == "write":
                self.f.write(data[: len(data) // 2])
                self.f.flush()
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.f.write(data)

    def opener(path, mode="r", *args, **kwargs):
        f = real_open(path, mode, *args, **kwargs)
        return HalfWrite(f) if str(path) == str(journal) and "+" in mode else f

    monkeypatch.setattr(builtins, "open", opener)
    if fails == "fsync":
        monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device")))
    with pytest.raises(StorageError) as info:
        sw.study.set_user_attr("x", "y" * 1000)
    monkeypatch.undo()
    assert f"{journal}: cannot write the sweep's journal (No space left on device)" in str(info.value)
    assert journal.read_bytes() == before
    assert "x" not in sweeps.open_sweep(folder).study.user_attrs


def test_a_full_disk_mid_sweep_loses_no_trial(write_sweep, tmp_path):
    """2 workers, a 4-point grid, the sweep folder on an 8 MB tmpfs filled up once the first epoch is
    done: the workers stop with exit 1 naming the file and `rnnexp sweep resume`, the journal stays
    readable, and once space is freed the resume finishes every point, each in one run folder that
    the trials hit by the full disk resumed from their checkpoints."""
    with tmpfs(tmp_path / "small-disk", "8m", "the journal tests cover the mechanism") as mount:
        space = {"model.cell": ["gru", "lstm"], "train.lr": [0.003, 0.01]}
        path = write_sweep(space=space, sampler={"kind": "grid"}, base_train={"epochs": 4})
        proc = subprocess.Popen(
            [sys.executable, "-m", "rnnexp", "sweep", str(path), "--workers", "2", "--runs-dir", str(mount / "runs")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.time() + 240
        while time.time() < deadline and not list(mount.glob("runs/sweep_*/trials/*/metrics.csv")):
            time.sleep(0.02)
        filler = fill_disk(mount)  # every byte left: the next write anywhere fails
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 1, err[-3000:]
        assert "internal error" not in err and "Traceback" not in err, err[-3000:]
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert errors and all("No space left on device" in line for line in errors), err[-3000:]
        (folder,) = (mount / "runs").glob("sweep_*")
        assert any(line.endswith(f"Free disk space, then rnnexp sweep resume {folder}") for line in errors), errors
        stopped = sweeps.open_sweep(folder)  # the journal reads, though its disk is still full
        stopped.path = None  # (results would write results.csv)
        assert sweeps.results(stopped)["counts"]["COMPLETE"] < 4  # the full disk did stop the sweep
        filler.unlink()
        res = _json(run_cli("sweep", "resume", folder, "--workers", "2", "--json"))
        _every_point_once(res, space)


def _every_point_once(res: dict, space: dict) -> None:
    counted = [t for t in res["trials"] if t["number"] not in {r["retry_of"] for r in res["trials"]}]
    assert res["counts"]["COMPLETE"] == 4 and res["duplicates"] == 0 and len(counted) == 4, res["trials"]
    assert sorted((t["model.cell"], t["train.lr"]) for t in counted) == sorted(
        (c, lr) for c in space["model.cell"] for lr in space["train.lr"]
    )
    assert res["counts"]["RETRIED"] >= 1  # the trials the full disk stopped were retried ...
    for t in res["trials"]:
        if t["retry_of"] is not None and t["run_dir"] == res["trials"][t["retry_of"]]["run_dir"]:
            assert "retry of" in t["note"]  # ... in the folder they had: resumed from its checkpoint
    assert len({t["run_dir"] for t in counted}) == 4  # one folder per point: nothing trained twice, nothing lost
    for t in counted:
        epochs = [int(r["epoch"]) for r in csv.DictReader(open(Path(t["run_dir"], "metrics.csv")))]
        assert epochs == [1, 2, 3, 4], (t, epochs)
    resumed = [t for t in counted if json.loads(Path(t["run_dir"], "meta.json").read_text())["resumes"]]
    assert resumed, "no trial was continued from its folder"


@pytest.mark.slow
def test_a_worker_killed_at_every_point_of_a_paused_and_promoted_trial(write_sweep, tmp_path, forkrun):
    """One configuration under successive halving: paused by the pruner after epoch 1 (alone at its
    rung), then promoted, its run resumed for epoch 2. The worker is killed at every point where the
    trial's files or the study change; the next worker always ends with the same run, bit for bit,
    in the one folder (a kill after the pause was checkpointed must not train epoch 2 as a plain
    retry: the pause is recorded in last.pt)."""
    path = write_sweep(
        space={"train.lr": [0.02]},
        sampler={"kind": "grid"},
        pruner={"kind": "successive_halving", "min_epochs": 1, "reduction_factor": 2},
        base_train={"epochs": 2, "batch_size": 192, "threads": 1},
        heartbeat={"grace": 2},  # a trial killed while claimed, before it has an owner, is retried this soon
    )
    rc, out = forkrun("sweep", "create", path, "--runs-dir", tmp_path / "runs")
    assert rc == 0, out
    (template,) = (tmp_path / "runs").iterdir()

    def sweep_copy(name: str) -> Path:
        return shutil.copytree(template, tmp_path / name / template.name)

    ref = sweep_copy("ref")
    trace = tmp_path / "trace"
    rc, out = forkrun("sweep", "worker", ref, "--number", "0", env={"RNNEXP_FAULT_TRACE": str(trace)})
    assert rc == 0, out
    (ref_run,) = (ref / "trials").iterdir()
    ref_res = sweeps.results(sweeps.open_sweep(ref))
    assert [t["note"] for t in ref_res["trials"]] == [
        "paused after epoch 1; promoted as #1",
        "promoted #0: resumed its run after epoch 1",
    ]
    points = list(dict.fromkeys(trace.read_text().split()))  # a kill is at a point's first pass
    assert {"epoch:1", "end:summary", "resume:checked", "epoch:2", "claim:promotion:asked"} <= set(points), points
    assert len(points) == 31, points  # faults.md

    def case(run_cli, point: str) -> None:
        folder = sweep_copy(point.replace(":", "-"))
        rc, out = run_cli("sweep", "worker", folder, "--number", "0", env={"RNNEXP_FAULT": point})
        assert rc == -signal.SIGKILL, (point, rc, out[-2000:])
        rc, out = run_cli("sweep", "worker", folder, "--number", "0")
        assert rc == 0, (point, out[-2000:])
        runs = [p for p in (folder / "trials").iterdir() if not p.name.startswith(".staging-")]
        assert len(runs) == 1, (point, runs, out[-3000:])
        (run,) = runs
        assert_same_run(ref_run, run)
        res = sweeps.results(sweeps.open_sweep(folder))
        assert res["counts"]["COMPLETE"] == 1 and res["best"]["value"] == ref_res["best"]["value"], (point, res["trials"])
        assert res["counts"]["PROMOTED"] == 1 and res["duplicates"] == 0, (point, res["trials"])

    forkrun.each(case, points)


def test_a_sweep_folder_is_absent_or_whole(write_sweep, tmp_path, forkrun):
    """`sweep create` killed before its folder is in place leaves none (only the hidden one it was
    building); one that finishes leaves a folder workers can use."""
    path = write_sweep(space={"train.lr": [0.003, 0.01]}, sampler={"kind": "grid"})
    rc, out = forkrun("sweep", "create", path, "--runs-dir", tmp_path / "runs", env={"RNNEXP_FAULT": "sweep:files"})
    assert rc == -signal.SIGKILL, out
    assert [p.name for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".staging-")] == []
    rc, out = forkrun("sweep", "create", path, "--runs-dir", tmp_path / "runs", "--json")
    assert rc == 0, out
    folder = Path(json.loads(out.splitlines()[-1])["sweep_dir"])
    assert sweeps.results(sweeps.open_sweep(folder))["counts"]["WAITING"] == 2


def test_a_sweep_on_a_terminal_draws_a_bar_over_its_trials_and_prints_the_workers_lines_above_it(write_sweep, tmp_path):
    from conftest import open_pty, read_pty

    path = write_sweep(space={"train.lr": [0.003, 0.01]}, sampler={"kind": "grid"}, base_train={"epochs": 2})
    master, slave = open_pty()
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | {"TERM": "xterm-256color", "COLUMNS": "160"}
    cmd = [sys.executable, "-m", "rnnexp", "sweep", str(path), "--workers", "1", "--runs-dir", str(tmp_path / "runs")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=slave, env=env, text=True)
    os.close(slave)
    screen = read_pty(master)
    table, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, table
    assert "trials" in screen and "━" in screen, screen[-3000:]  # the bar
    for number in (0, 1):
        for epoch in (1, 2):
            assert f"trial {number} epoch {epoch}/2: val_accuracy " in screen  # each worker line, once printed above it
    after = screen.rsplit("written: ", 1)[1]
    assert "━" not in after, after  # gone before the final lines
    assert "2 complete of 2 trials" in table and "━" not in table  # the result on stdout, plain in a pipe


def test_each_worker_places_its_trials_and_the_run_records_where(write_sweep, tmp_path, monkeypatch):
    """Worker i's trials on cuda:(i mod GPUs) when train.device is auto or cuda (two GPUs faked:
    the rule only), the worker's --device over it, a written-out device kept."""
    import torch

    from rnnexp.config import trial_config
    from rnnexp.sweep.trial import _place

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    for base_device, worker, flag, expected in [
        ("auto", 0, None, "cuda:0"),
        ("auto", 3, None, "cuda:1"),
        ("cuda", 2, None, "cuda:0"),
        ("auto", 1, "cpu", "cpu"),
        ("cpu", 1, None, None),  # kept: the config's own device
        ("cuda:1", 0, None, None),
        ("cpu", 0, "cuda:1", "cuda:1"),
    ]:
        sweep_file = write_sweep(space={"train.lr": [0.01]}, sampler={"kind": "grid"}, base_train={"device": base_device})
        _, base_raw, _ = load_sweep(sweep_file)
        cfg = trial_config(base_raw, {"train.lr": 0.01})
        assert _place(types.SimpleNamespace(worker=worker, device=flag), cfg) == expected
        assert cfg.train.device == (expected or base_device)  # what the trial's config.yaml records


def test_a_worker_trains_its_trials_on_its_device(write_sweep, tmp_path, forkrun):
    path = write_sweep(space={"train.lr": [0.01]}, sampler={"kind": "grid"}, base_train={"epochs": 1})
    rc, out = forkrun("sweep", "create", path, "--runs-dir", tmp_path / "runs", "--json")
    assert rc == 0, out
    folder = Path(json.loads(out.splitlines()[-1])["sweep_dir"])
    rc, out = forkrun("sweep", "worker", folder, "--device", "cuda:7", "--threads", "1")  # this machine has no GPU
    assert rc == 2 and "error: --device is 'cuda:7' but torch sees no CUDA device here" in out, out
    rc, out = forkrun("sweep", "worker", folder, "--device", "cpu", "--number", "1", "--threads", "1", "--quiet")
    assert rc == 0, out
    (run,) = (folder / "trials").iterdir()
    assert load_config(run / "config.yaml").train.device == "cpu"  # the base said auto; the worker chose
    assert json.loads((run / "meta.json").read_text())["device"] == "cpu"


def test_a_worker_puts_its_trials_in_its_sweep_folder_else_where_runs_go(write_sweep, tmp_path, monkeypatch):
    """sweep worker: --runs-dir; else the sweep folder's trials/ (given the folder); else, with
    --storage and --study alone, the runs folder every command uses: $RNNEXP_RUNS_DIR, else ./runs."""
    from typer.testing import CliRunner

    from rnnexp import cli

    monkeypatch.setattr(cli, "_SIGNALS", cli._Signals())  # the worker makes its stop graceful: not the suite's
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    env_runs = str(tmp_path / "env-runs")
    cases = [  # (name, storage, --runs-dir, $RNNEXP_RUNS_DIR, where the trial goes: None for the sweep folder's trials/)
        ("flag", url, tmp_path / "flag-runs", env_runs, tmp_path / "flag-runs"),
        ("env", url, None, env_runs, Path(env_runs)),
        ("cwd", url, None, "", here / "runs"),
        ("folder", None, None, env_runs, None),
    ]
    for name, storage, runs_dir, env, expected in cases:
        path = write_sweep(name=name, space={"train.lr": [0.01]}, sampler={"kind": "grid"}, base_train=CLAIM_TRAIN)
        sw = sweeps.create(path, tmp_path / "sweeps" / name, storage_url=storage)
        where = ["--storage", storage, "--study", sw.study.study_name] if storage else [str(sw.path)]
        flag = ["--runs-dir", str(runs_dir)] if runs_dir else []
        result = CliRunner().invoke(cli.app, ["sweep", "worker", *where, *flag, "--quiet"], env={"RNNEXP_RUNS_DIR": env})
        assert result.exit_code == 0, (name, result.output)
        assert "worker " in result.output and ": 1 trial, stopped: all trials done" in result.output, result.output
        (run,) = tmp_path.rglob("*_trial-0000")
        assert run.parent == (expected or sw.path / "trials"), (name, run)
        shutil.rmtree(run)


def test_sweep_messages_say_1_trial_and_2_trials(write_sweep, tmp_path, capsys):
    """Every count a sweep command prints agrees with its number: 1 trial, 1 worker, 1 epoch."""
    from rnnexp import cli
    from rnnexp.errors import counted

    assert (counted(1, "trial"), counted(0, "trial"), counted(2, "paused trial")) == ("1 trial", "0 trials", "2 paused trials")
    path = write_sweep(space={"train.lr": [0.01]}, sampler={"kind": "grid"}, base_train={"epochs": 1, "batch_size": 192})
    valid = run_cli("validate", path)
    assert valid.returncode == 0 and "(grid, 1 searched key, 1 trial; base " in valid.stdout, valid.stdout
    assert valid.stdout.rstrip().endswith(", 1 epoch)"), valid.stdout
    created = run_cli("sweep", "create", path, "--runs-dir", tmp_path / "created")
    assert created.returncode == 0 and ", 1 trial)" in created.stderr, created.stderr
    ran = run_cli("sweep", path, "--workers", "1", "--runs-dir", tmp_path / "runs")
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert ", 1 trial, 1 worker on " in ran.stderr and "trial 0: complete after 1 epoch, best " in ran.stderr, ran.stderr
    assert ": 1 trial, stopped: all trials done" in ran.stderr, ran.stderr
    assert "1 complete of 1 trial; 1 epoch trained; duplicates 0" in ran.stdout, ran.stdout
    unfinished = {"counts": {"RUNNING": 1, "WAITING": 0, "COMPLETE": 0}, "ended": None}
    with pytest.raises(cli.typer.Exit):
        cli._sweep_exit(unfinished, tmp_path)
    assert "sweep incomplete: 1 trial unfinished; continue with" in capsys.readouterr().err


def test_quiet_sweep_run_and_resume_print_only_their_result(write_sweep, tmp_path):
    """--quiet: the results on stdout and nothing on stderr, not even the workers' result lines."""
    path = write_sweep(space={"train.lr": [0.01]}, sampler={"kind": "grid"}, base_train={"epochs": 1})
    ran = run_cli("sweep", "run", path, "--runs-dir", tmp_path / "runs", "--quiet")
    assert ran.returncode == 0 and ran.stderr == "", ran.stderr
    assert ran.stdout.splitlines()[-1].startswith("best: trial 0 val_accuracy") and "worker" not in ran.stdout
    (folder,) = (tmp_path / "runs").iterdir()
    resumed = run_cli("sweep", "resume", folder, "--workers", "2", "--quiet")  # done: each worker ends at once
    assert resumed.returncode == 0 and resumed.stderr == "", resumed.stderr
    assert resumed.stdout == ran.stdout
    loud = run_cli("sweep", "resume", folder)
    assert loud.returncode == 0 and "worker " in loud.stderr and loud.stdout == ran.stdout  # without --quiet: shown


# -- stopping: a terminal's Ctrl-C, SIGTERM, twice; workers killed while claiming a trial --------------

SIGNAL_TRAIN = {"epochs": 4, "batch_size": 4, "threads": 1}
SIGNAL_SPACE = {"train.lr": [0.003, 0.01]}


@pytest.fixture(scope="module")
def signal_sweep(tmp_path_factory, tiny_data, forkrun):
    """A two-point grid (one trial per worker, several seconds of training each) and the run folder
    of each point in the sweep run without interruption: {lr: run folder}."""
    home = tmp_path_factory.mktemp("signal_sweep")
    base = home / "base.yaml"
    base.write_text(yaml.safe_dump(tiny_config_dict(tiny_data, train=SIGNAL_TRAIN)))
    path = home / "sweep.yaml"
    doc = {"name": "s", "base": str(base), "objective": {"metric": "val_accuracy"}, "space": SIGNAL_SPACE}
    path.write_text(yaml.safe_dump({**doc, "sampler": {"kind": "grid"}}))
    rc, out = forkrun("sweep", path, "--workers", "2", "--runs-dir", home / "ref", "--json", "--quiet")
    assert rc == 0, out
    res = json.loads(out.splitlines()[-1])
    assert res["counts"]["COMPLETE"] == 2, res["trials"]
    return path, {t["train.lr"]: Path(t["run_dir"]) for t in res["trials"]}


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _gone(pid: int) -> bool:
    """The process has exited (a zombie no one reaped yet included)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def _interrupt(proc: subprocess.Popen, how: str) -> None:
    """Signal a sweep started in a session of its own, as a terminal or a service manager would."""
    if how.startswith("ctrl-c"):  # a terminal sends SIGINT to its whole foreground process group
        for press in range(2 if how == "ctrl-c twice" else 1):
            time.sleep(0.05 * press)
            os.killpg(proc.pid, signal.SIGINT)
    elif how == "sigterm":  # kill PID
        os.kill(proc.pid, signal.SIGTERM)
    elif how == "sigkill":
        os.kill(proc.pid, signal.SIGKILL)
    elif how == "hangup":  # the terminal closed: SIGHUP to its foreground process group
        os.killpg(proc.pid, signal.SIGHUP)
    else:  # a service manager stopping every process of the service (systemd's KillMode=control-group)
        for pid in [proc.pid, *_children(proc.pid)]:
            os.kill(pid, signal.SIGTERM)


HUP_DEFAULT_THEN_RNNEXP = (
    "import os, signal, sys; signal.signal(signal.SIGHUP, signal.SIG_DFL); "
    "os.execv(sys.executable, [sys.executable, '-m', 'rnnexp', *sys.argv[1:]])"
)


def _run_on_a_terminal_and_interrupt(args: list, runs: Path, how: str, start: str) -> tuple[int, str]:
    """Run rnnexp ARGS with a terminal for stderr (the progress bar, the workers' lines through it),
    in a session of its own, its workers started as ``start`` says ($RNNEXP_WORKER_START: forked
    from it, or new interpreters); once each of its two workers has checkpointed an epoch, interrupt
    it (_interrupt). Returns its exit code and the screen, once its workers have exited too."""
    from conftest import open_pty, read_pty

    master, slave = open_pty()
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | {"TERM": "xterm-256color", "COLUMNS": "160"}
    env[sweeps.WORKER_START] = start
    # SIGHUP as a terminal's process has it (the default: it ends the process), even where pytest was
    # started with it ignored (nohup), which a child would inherit through exec.
    cmd = [sys.executable, "-c", HUP_DEFAULT_THEN_RNNEXP, *map(str, args)]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    screen: list[str] = []
    reader = threading.Thread(target=lambda: screen.append(read_pty(master)))
    reader.start()
    deadline = time.monotonic() + 300
    while len(list(runs.glob("*/trials/*/checkpoints/last.pt"))) < 2:
        assert proc.poll() is None and time.monotonic() < deadline, proc.returncode
        time.sleep(0.05)
    workers = _children(proc.pid)
    assert len(workers) == 2, workers
    named = {Path(f"/proc/{pid}/comm").read_text().strip() == sweeps.WORKER_NAME for pid in workers}
    assert named == {start == "fork"}, (start, [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in workers])
    _interrupt(proc, how)
    proc.communicate(timeout=120)
    while not all(_gone(pid) for pid in workers):  # after a second Ctrl-C they finish on their own
        assert time.monotonic() < deadline, "the workers did not stop"
        time.sleep(0.1)
    reader.join(timeout=60)
    return proc.returncode, screen[0]


# Each way of stopping a sweep, on `sweep run` or on `sweep resume` (one function, _run_workers,
# starts and stops the workers of both), three on each; the workers forked from the sweep's process
# (where Linux without a GPU runs them), or new interpreters (elsewhere), each three times.
SIGNAL_CASES = [
    ("ctrl-c", "run", "fork"),
    ("ctrl-c twice", "resume", "spawn"),
    ("sigterm", "run", "spawn"),
    ("sigterm to every process", "resume", "fork"),
    ("sigkill", "run", "fork"),
    ("hangup", "resume", "spawn"),
]


@pytest.mark.slow
@pytest.mark.parametrize("how,command,start", SIGNAL_CASES)
def test_a_signal_stops_every_worker_after_its_batch_and_sweep_resume_ends_as_if_uninterrupted(
    signal_sweep, tmp_path, command, how, start
):
    """Ctrl-C on a terminal (SIGINT to the whole foreground process group), pressed once or twice,
    SIGTERM to the sweep, or to it and each worker at once: every worker finishes its batch,
    checkpoints, hands its trial back and exits; the sweep exits 130. No trial is left running to be
    found dead later; `sweep resume` ends every configuration bit-identical to the sweep that was
    never interrupted. For `sweep run` and for `sweep resume`, with two workers. The same when the
    sweep itself is killed (SIGKILL) or its terminal hangs up (it dies of SIGHUP): its workers,
    which no terminal signal reaches, stop as at a Ctrl-C, neither killed nor left training."""
    path, reference = signal_sweep
    runs = tmp_path / "runs"
    if command == "run":
        args = ["sweep", path, "--workers", "2", "--runs-dir", runs]
    else:
        args = ["sweep", "resume", sweeps.create(path, runs).path, "--workers", "2"]
    rc, screen = _run_on_a_terminal_and_interrupt(args, runs, how, start)
    assert rc == {"sigkill": -signal.SIGKILL, "hangup": -signal.SIGHUP}.get(how, 130), (rc, screen[-3000:])
    (folder,) = runs.iterdir()
    res = sweeps.compute_results(sweeps.open_sweep(folder))
    handed_back = [t for t in res["trials"] if t["state"] == "FAIL"]
    assert res["counts"]["RUNNING"] == 0 and handed_back, res["trials"]
    for t in handed_back:  # handed back at a checkpoint, not left running for a later worker to reap
        assert t["note"].startswith("stopped; retried as #"), res["trials"]
    assert "Traceback" not in screen and "died" not in screen, screen[-3000:]
    if how not in ("ctrl-c twice", "sigkill", "hangup"):  # else the sweep is gone first; its workers finish unseen
        assert screen.count(": 1 trial, stopped: interrupted") == 2, screen[-3000:]
    resumed = run_cli("sweep", "resume", folder, "--json")  # one worker: trials are independent of the count
    res = _json(resumed)
    assert "died" not in resumed.stderr, resumed.stderr
    assert res["counts"]["COMPLETE"] == 2 and res["duplicates"] == 0, res["trials"]
    last = [t for t in res["trials"] if "retried as" not in t["note"]]
    assert sorted(t["train.lr"] for t in last) == SIGNAL_SPACE["train.lr"], res["trials"]
    for t in last:
        assert t["state"] == "COMPLETE" and "died" not in t["note"], res["trials"]
        assert_same_run(reference[t["train.lr"]], Path(t["run_dir"]))
    for t in handed_back:
        (retry,) = [r for r in res["trials"] if r["retry_of"] == t["number"]]
        assert retry["note"] == f"retry of #{t['number']}, resumed its run" and retry["run_dir"] == t["run_dir"]
        said = f"trial {retry['number']}: retry of trial {t['number']}, resuming "  # the worker's line names it too
        assert said in resumed.stdout + resumed.stderr, resumed.stderr[-3000:]


def test_how_workers_start_is_fork_or_spawn_and_auto_forks_only_where_it_is_safe(monkeypatch):
    """$RNNEXP_WORKER_START: fork or spawn as said; a value it does not know names the variable and
    what it takes. auto (unset or blank) forks a fresh Linux process, not one running a second Python thread
    (whose locks a child would inherit held) or one whose torch sees a GPU (CUDA does not survive a
    fork). Checked in a new interpreter: this test process runs threads of its own."""
    for value, forks in (("fork", True), ("spawn", False), (" spawn ", False)):
        monkeypatch.setenv(sweeps.WORKER_START, value)
        assert sweeps.forks_workers() is forks
    monkeypatch.setenv(sweeps.WORKER_START, "thread")
    with pytest.raises(ConfigError, match=r"^RNNEXP_WORKER_START='thread': expected auto, fork or spawn \(or leave it unset\)$"):
        sweeps.forks_workers()
    script = (
        "import sys, threading, types\n"
        "from rnnexp.sweep import forks_workers\n"
        "seen = [forks_workers()]\n"
        "gpu = types.SimpleNamespace(cuda=types.SimpleNamespace(is_available=lambda: True))\n"
        "sys.modules['torch'] = types.SimpleNamespace(cuda=types.SimpleNamespace(is_available=lambda: False))\n"
        "seen.append(forks_workers())\n"
        "sys.modules['torch'] = gpu\n"
        "seen.append(forks_workers())\n"
        "del sys.modules['torch']\n"
        "hold = threading.Event()\n"
        "thread = threading.Thread(target=hold.wait)\n"
        "thread.start()\n"
        "seen.append(forks_workers())\n"
        "hold.set(); thread.join()\n"
        "seen.append(forks_workers())\n"
        "print(seen)\n"
    )
    env = {**os.environ, sweeps.WORKER_START: " "}  # blank: as unset, auto
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    linux = sys.platform == "linux"
    assert done.stdout.split("\n")[0] == str([linux, linux, False, False, linux])


@pytest.mark.parametrize("value", ["thread", "Fork", "fork spawn"])
def test_a_bad_worker_start_is_refused_before_a_sweep_is_made_or_goes_on(write_sweep, tmp_path, value):
    """`sweep run` with a $RNNEXP_WORKER_START it does not know: one line naming the variable and
    what it takes, exit 2, and no sweep folder; `sweep resume` refuses it the same way, its sweep
    untouched."""
    path = write_sweep(space={"train.lr": [0.003, 0.01]}, sampler={"kind": "grid"})
    said = f"error: RNNEXP_WORKER_START={value!r}: expected auto, fork or spawn (or leave it unset)"
    ran = run_cli("sweep", path, "--runs-dir", tmp_path / "runs", env={sweeps.WORKER_START: value})
    assert ran.returncode == 2 and ran.stderr.strip() == said, ran.stderr
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())
    folder = sweeps.create(path, tmp_path / "made").path
    resumed = run_cli("sweep", "resume", folder, env={sweeps.WORKER_START: value})
    assert resumed.returncode == 2 and resumed.stderr.strip() == said, resumed.stderr
    assert sweeps.results(sweeps.open_sweep(folder))["counts"]["WAITING"] == 2


FORK_PROBE = """
import json, os, sys, threading
os.environ["OMP_NUM_THREADS"] = "2"  # an OpenMP pool, once it ran, is a thread more
import numpy, torch  # what the command may import before its workers start
from rnnexp import cli, sweep
from rnnexp.sweep import local

threads = lambda: len(os.listdir("/proc/self/task"))
seen = {"imported": threads()}

def instead(sw, workers, storage, graceful_stop, quiet=False, watch=None, entry=None):
    seen.update(then=threads(), python=threading.active_count(), forks=local.forks_workers(), entry=entry is not None)
    return local.WorkersEnd()

sweep.run_workers = instead
sys.argv = ["rnnexp", *sys.argv[1:]]
try:
    cli.main()
except SystemExit:
    pass
print(json.dumps(seen))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="auto forks on Linux only")
def test_the_sweep_commands_start_their_workers_from_a_process_that_is_safe_to_fork(write_sweep, tmp_path):
    """What `sweep run` and `sweep resume` do before starting their workers (read the files, make
    or open the study, place the workers) starts no thread: none of Python's, and no native pool
    (a torch operation's OpenMP threads, which a forked child would wait on for ever). Seen by the
    kernel's count of the process's threads when the workers would start, against the count once
    torch was imported; the command then forks (here, without a GPU)."""
    path = write_sweep(space={"train.lr": [0.003, 0.01]}, sampler={"kind": "grid"})
    folder = sweeps.create(path, tmp_path / "made").path
    env = {k: v for k, v in os.environ.items() if k != sweeps.WORKER_START}
    for args in (["sweep", path, "--workers", "2", "--runs-dir", tmp_path / "runs"], ["sweep", "resume", folder]):
        done = subprocess.run([sys.executable, "-c", FORK_PROBE, *map(str, args)], capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr
        seen = json.loads(done.stdout.splitlines()[-1])
        assert seen["then"] == seen["imported"] and seen["python"] == 1, (args, seen)
        assert seen["forks"] is True and seen["entry"] is True, (args, seen)


def test_a_forked_worker_is_a_process_of_its_own_that_its_name_shows_alive():
    """A worker forked by run_workers: its own session, its stdin the line from the parent (closed:
    it ends), its output piped, its environment as given, its exit code the parent's to read. Its
    command line is its parent's (here pytest's, without "rnnexp"): its name, rnnexp-worker, is how
    a liveness check (reap's) tells it from another program that reused a dead worker's pid."""
    from rnnexp.sweep import local, worker

    def entry(args: list[str]) -> int:  # the child: only system calls, as this process runs threads
        facts = [args, os.getsid(0) == os.getpid(), Path("/proc/self/comm").read_text().strip(), os.environ["RNNEXP_T"]]
        os.write(1, (json.dumps(facts) + "\n").encode())
        while os.read(0, 100):
            pass
        return 3

    proc = local._fork(["sweep", "worker"], {"RNNEXP_T": "set"}, entry, piped=True, quiet=False)
    try:
        assert json.loads(proc.stdout.readline()) == [["sweep", "worker"], True, sweeps.WORKER_NAME, "set"]
        assert b"rnnexp" not in Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        assert worker._alive(proc.pid) and proc.poll() is None
    finally:
        proc.stdin.close()
    assert proc.wait() == 3 and proc.returncode == 3
    other = subprocess.Popen(["sleep", "30"])
    try:
        assert not worker._alive(other.pid)  # a live process, but no rnnexp worker
    finally:
        other.kill()
        other.wait()


CLAIM_TRAIN = {"epochs": 2, "batch_size": 192, "threads": 1}  # one batch an epoch
CLAIM_KINDS = {  # a sweep whose next claim, after what _claim_killed_then_resumed does first, is of this kind
    "new": {
        "space": {"train.lr": {"kind": "loguniform", "low": 1e-3, "high": 3e-2}},
        "sampler": {"kind": "random", "seed": 3},
        "trials": 2,
    },
    "queued": {"space": {"train.lr": [0.003, 0.01]}, "sampler": {"kind": "grid"}},
    "retry": {"space": {"train.lr": [0.01]}, "sampler": {"kind": "grid"}},
    "promotion": {
        "space": {"train.lr": [0.02]},
        "sampler": {"kind": "grid"},
        "pruner": {"kind": "successive_halving", "min_epochs": 1, "reduction_factor": 2},
    },
}
CLAIM_LIMIT = 150  # seconds sweep resume may take: a sweep waiting for a trial no one owns is killed then
CLAIM_INSTANTS = ["asked", "host", "owned"]  # _own's fault points, in order


def _claim_killed_then_resumed(run, folder: Path, kind: str, instant: str, env: dict) -> dict:
    """A worker killed at one instant of its claim of a trial of ``kind``; then the next worker, as
    `sweep resume` runs it, ends within CLAIM_LIMIT seconds. Returns the results. A retry is claimed
    after its trial's worker died mid-epoch (the next worker reaps it first); a promotion, once its
    trial was paused."""
    point = f"claim:{kind}:{instant}"
    if kind == "retry":
        rc, out = run("sweep", "worker", folder, "--number", "0", env={**env, "RNNEXP_FAULT": "batch:1:1"})
        assert rc == -signal.SIGKILL, (point, out[-2000:])
    rc, out = run("sweep", "worker", folder, "--number", "0", env={**env, "RNNEXP_FAULT": point})
    assert rc == -signal.SIGKILL, (point, rc, out[-2000:])
    # The next worker, as `sweep resume` starts it (the command only starts workers, waits for them
    # and reads the results): forked, not a fresh interpreter.
    rc, out = run("sweep", "worker", folder, "--number", "0", "--quiet", env=env, signals=[(CLAIM_LIMIT, signal.SIGKILL)])
    assert rc == 0, (point, rc, out[-2000:])  # -9: still waiting for a trial after CLAIM_LIMIT seconds
    return sweeps.compute_results(sweeps.open_sweep(folder, env.get("RNNEXP_STORAGE")))


def _nothing_lost_or_doubled(res: dict, kind: str, point: str) -> None:
    """Every configuration trained once, to its end, in one run folder; no trial left running or queued."""
    trials = res["trials"]
    assert res["counts"]["RUNNING"] == res["counts"]["WAITING"] == 0 and res["duplicates"] == 0, (point, trials)
    last = [t for t in trials if "retried as" not in t["note"] and "promoted as" not in t["note"]]
    configurations = 2 if kind in ("new", "queued") else 1
    assert len(last) == configurations and {t["state"] for t in last} == {"COMPLETE"}, (point, trials)
    if kind != "new":
        assert sorted(t["train.lr"] for t in last) == CLAIM_KINDS[kind]["space"]["train.lr"], (point, trials)
    assert len({t["run_dir"] for t in last}) == configurations, (point, trials)
    for t in last:
        epochs = [int(r["epoch"]) for r in csv.DictReader(open(Path(t["run_dir"], "metrics.csv")))]
        assert epochs == [1, 2], (point, t, epochs)
    assert res["counts"]["PROMOTED"] == (kind == "promotion"), (point, trials)


@pytest.mark.slow
def test_a_worker_killed_at_any_instant_of_a_claim_leaves_no_trial_that_sweep_resume_waits_for(write_sweep, tmp_path, forkrun):
    """Claiming a trial is several writes: Optuna's ask marks it running, then the worker writes its
    host and, last, its pid. A worker killed after any of them leaves a running trial; whether it
    has an owner yet or not, `sweep resume` retries it (one without an owner once heartbeat.grace
    has passed) and ends with every configuration trained once, in bounded time. For a new trial,
    a queued one (a grid point), a retry and a promotion (journal storage)."""
    cases = [(kind, instant) for kind in CLAIM_KINDS for instant in CLAIM_INSTANTS]
    paths = {kind: write_sweep(**top, heartbeat={"grace": 2}, base_train=CLAIM_TRAIN) for kind, top in CLAIM_KINDS.items()}

    def case(run, item) -> None:
        kind, instant = item
        folder = sweeps.create(paths[kind], tmp_path / f"{kind}-{instant}").path
        res = _claim_killed_then_resumed(run, folder, kind, instant, {})
        point = f"claim:{kind}:{instant}"
        _nothing_lost_or_doubled(res, kind, point)
        claimed = "its worker died while claiming it" if instant != "owned" else "worker "
        assert any(t["note"].startswith(claimed) and "retried as" in t["note"] for t in res["trials"]), (point, res["trials"])

    forkrun.each(case, cases)


@pytest.mark.slow
@pytest.mark.parametrize("storage", ["sqlite", "postgresql"])
def test_a_worker_killed_at_any_instant_of_a_claim_with_a_database(write_sweep, tmp_path, forkrun, request, storage):
    """The same with a database: with PostgreSQL, Optuna's heartbeat check skips a running trial that
    never sent a heartbeat (a claim's first write is its heartbeat); SQLite keeps no heartbeats at
    all, so a dead worker's trial is found by its pid, as with the journal."""
    url = request.getfixturevalue("pg_url") if storage == "postgresql" else f"sqlite:///{tmp_path / 'study.db'}"
    top = {**CLAIM_KINDS["queued"], "heartbeat": {"interval": 1, "grace": 2}}
    paths = {instant: write_sweep(**top, name=f"t-{instant}", base_train=CLAIM_TRAIN) for instant in CLAIM_INSTANTS}

    def case(run, instant: str) -> None:  # one study name each: the database holds them all
        folder = sweeps.create(paths[instant], tmp_path / instant, storage_url=url).path
        res = _claim_killed_then_resumed(run, folder, "queued", instant, {"RNNEXP_STORAGE": url})
        _nothing_lost_or_doubled(res, "queued", f"claim:queued:{instant} ({storage})")

    forkrun.each(case, CLAIM_INSTANTS, servers=1 if storage == "sqlite" else 2)


def test_every_reporter_answers_every_training_event():
    """Training calls its reporter's methods (training.Reporter's); a reporter class of its own that
    lacks one fails the run the first time that event happens (a sweep's trials once failed on a
    file large enough to show tokenizing progress). Each answers every one, and the trial's says
    how far preparing the data is in a line at each fifth."""
    import inspect

    from rnnexp import api
    from rnnexp.sweep.held import TrialReporter
    from rnnexp.training import Reporter

    events = [name for name, f in vars(Reporter).items() if inspect.isfunction(f) and not name.startswith("_")]
    assert {"setup", "epoch_end", "note", "info", "progress", "placed"} <= set(events)

    for cls in (TrialReporter,):
        missing = [name for name in events if not callable(getattr(cls, name, None))]
        assert not missing, f"{cls.__name__} lacks {missing}"
    assert "class Callback(Reporter)" in inspect.getsource(api)

    class Trial:
        number = 3

    lines: list[str] = []

    class Lines:
        def note(self, text: str) -> None:
            lines.append(text)

    reporter = TrialReporter(None, Trial(), Lines())
    for done in range(0, 1_000_001, 50_000):
        reporter.progress("tokenizing 1,000,000 texts of big.csv", done, 1_000_000)
    assert lines == [f"trial 3: tokenizing 1,000,000 texts of big.csv: {p}%" for p in (20, 40, 60, 80, 100)]
