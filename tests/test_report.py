"""Looking at runs: the runs table, compare, learning-curve plots, predict (same answers as
evaluate), export (TorchScript equal to the checkpoint), and the config JSON schema."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from conftest import ROOT, run_cli, tiny_config_dict
from rnnexp import training
from rnnexp.config import Config
from rnnexp.plots import legend_labels
from rnnexp.report import run_row
from rnnexp.scoring import evaluate, predict


def _train(tiny_data, runs, **sections):
    cfg = Config.model_validate(tiny_config_dict(tiny_data, **sections))
    return training.train(cfg, runs)


@pytest.fixture(scope="module")
def three_runs(tiny_data, tmp_path_factory):
    """Three tiny runs that differ only in train.lr."""
    runs = tmp_path_factory.mktemp("runs")
    return runs, [_train(tiny_data, runs, train={"lr": lr, "epochs": 2}).run_dir for lr in (0.001, 0.005, 0.02)]


def test_each_run_draws_its_curves(three_runs):
    import matplotlib.image

    _, paths = three_runs
    for path in paths:
        image = matplotlib.image.imread(f"{path}/curves.png")
        assert image.shape[0] > 300 and image.shape[1] > 800 and image.std() > 0.01  # a drawing, not a blank


def test_runs_table_filters_sorts_and_exports(three_runs):
    runs, paths = three_runs
    listed = json.loads(run_cli("runs", "--json", env={"RNNEXP_RUNS_DIR": str(runs)}).stdout)["runs"]
    assert [r["path"] for r in listed] == paths  # oldest first; the folder from RNNEXP_RUNS_DIR
    assert {r["lr"] for r in listed} == {0.001, 0.005, 0.02} and all(r["epochs"] == 2 for r in listed)
    one = json.loads(run_cli("runs", runs, "--filter", "train.lr=0.005", "--filter", "status=completed", "--json").stdout)
    assert [r["lr"] for r in one["runs"]] == [0.005]
    ordered = json.loads(run_cli("runs", runs, "--sort", "-lr", "--json").stdout)["runs"]
    assert [r["lr"] for r in ordered] == [0.02, 0.005, 0.001]
    rows = list(csv.DictReader(io.StringIO(run_cli("runs", runs, "--csv").stdout)))
    assert len(rows) == 3 and rows[0]["path"] == paths[0] and rows[0]["monitor"] == "val_loss"
    table = run_cli("runs", runs)
    assert table.returncode == 0 and "3 runs in" in table.stderr and "completed" in table.stdout
    bad = run_cli("runs", runs, "--sort", "nosuchkey")
    assert bad.returncode == 2 and "no column or config key 'nosuchkey'" in bad.stderr


def test_compare_lists_only_the_keys_that_differ(three_runs, tiny_data, tmp_path):
    _, paths = three_runs
    res = json.loads(run_cli("compare", *paths[:2], "--json").stdout)
    assert res["differences"] == {"train.lr": [0.001, 0.005]}
    assert [m["epochs"] for m in res["metrics"]] == [2, 2] and all(m["best"] is not None for m in res["metrics"])
    text = run_cli("compare", *paths)
    assert text.returncode == 0 and "train.lr" in text.stdout and "best val_loss" in text.stdout
    other = _train(tiny_data, tmp_path, model={"cell": "lstm"}, train={"lr": 0.001, "epochs": 2}).run_dir
    assert set(json.loads(run_cli("compare", paths[0], other, "--json").stdout)["differences"]) == {"model.cell"}
    assert run_cli("compare", paths[0]).returncode == 2


def test_runs_and_compare_keep_each_runs_metric_with_its_best(three_runs, tiny_data, tmp_path):
    """Runs monitoring different metrics: --sort best groups them by metric and puts the best first
    by that metric's direction; the table and compare name each run's own metric."""
    import shutil

    from typer.testing import CliRunner

    from rnnexp.cli import app

    def cli(*args):
        result = CliRunner().invoke(app, [str(a) for a in args])
        assert result.exit_code == 0, result.output
        return result

    runs, paths = three_runs
    mixed = tmp_path / "mixed"
    for path in paths:
        shutil.copytree(path, mixed / Path(path).name)
    accuracy = [
        _train(tiny_data, mixed, train={"lr": lr, "epochs": 2, "early_stopping": {"monitor": "val_accuracy"}}).run_dir
        for lr in (0.001, 0.02)
    ]
    listed = json.loads(cli("runs", mixed, "--sort", "best", "--json").stdout)["runs"]
    assert [r["monitor"] for r in listed] == ["val_accuracy"] * 2 + ["val_loss"] * 3
    by_accuracy, by_loss = [r["best"] for r in listed[:2]], [r["best"] for r in listed[2:]]
    assert by_accuracy == sorted(by_accuracy, reverse=True) and by_loss == sorted(by_loss)  # the best first
    worst_first = json.loads(cli("runs", mixed, "--sort", "-best", "--json").stdout)["runs"]
    assert [(r["monitor"], r["best"]) for r in worst_first] == [(r["monitor"], r["best"]) for r in reversed(listed)]
    table = cli("runs", mixed).output
    assert "monitor" in table and "val_accuracy" in table, table
    res = json.loads(cli("compare", paths[0], accuracy[0], "--json").stdout)
    assert [m["monitor"] for m in res["metrics"]] == ["val_loss", "val_accuracy"]
    text = cli("compare", paths[0], accuracy[0]).output
    assert "best (of its monitor)" in text and "best val_loss" not in text, text


def test_plot_of_three_runs_has_a_legend_naming_the_lr(three_runs, tmp_path):
    import matplotlib.image

    _, paths = three_runs
    out = tmp_path / "three.png"
    proc = run_cli("plot", *paths, "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert matplotlib.image.imread(out).shape[1] > 800
    rows = [run_row(p) for p in paths]
    assert legend_labels(rows) == ["train.lr=0.001", "train.lr=0.005", "train.lr=0.02"]
    assert legend_labels(rows[:1]) == [""]  # one run: its title names it, the legend names the lines
    assert run_cli("plot", *paths).returncode == 2  # several runs need --out


def _row(run: str, task: str = "text_classification", **config) -> dict:
    """A run_row as the plot decisions read it."""
    return {"run": run, "task": task, "monitor": config.get("train.early_stopping.monitor"), "config": {"name": "x", **config}}


@pytest.mark.parametrize(
    "configs, expected",
    [
        # two GRU runs differing only in train.lr (the first three keys alphabetically hold them equal)
        (
            [{"model.cell": "gru", "train.lr": 0.001}, {"model.cell": "gru", "train.lr": 0.005}],
            ["train.lr=0.001", "train.lr=0.005"],
        ),
        # the fourth differing key alone tells the last two apart
        (
            [
                {"a.a": 1, "a.b": 1, "a.c": 1, "a.d": 1},
                {"a.a": 2, "a.b": 2, "a.c": 2, "a.d": 1},
                {"a.a": 2, "a.b": 2, "a.c": 2, "a.d": 2},
            ],
            ["a.a=1, a.b=1, a.c=1, a.d=1", "a.a=2, a.b=2, a.c=2, a.d=1", "a.a=2, a.b=2, a.c=2, a.d=2"],
        ),
        # the same config (the name aside): folder names
        ([{"train.lr": 0.001}, {"train.lr": 0.001}], ["r0", "r1"]),
        # two alike and one not: the alike are named by their folders too
        ([{"train.seed": 1}, {"train.seed": 1}, {"train.seed": 2}], ["r0: train.seed=1", "r1: train.seed=1", "train.seed=2"]),
        # values as --set spells them; a key one run lacks is null
        (
            [{"data.bucket": True, "x.l": [1, 2]}, {"data.bucket": False}],
            ["data.bucket=true, x.l=[1, 2]", "data.bucket=false, x.l=null"],
        ),
    ],
)
def test_legend_labels_tell_every_run_apart_by_every_differing_key(configs, expected):
    rows = [_row(f"r{i}", **c) | {"config": {"name": f"n{i}", **c}} for i, c in enumerate(configs)]
    labels = legend_labels(rows)
    assert labels == expected and len(set(labels)) == len(rows)


@pytest.mark.parametrize(
    "monitor, mode, task, metric, why",
    [
        ("val_f1", "auto", "text_classification", "val_f1", "the monitored metric\n★ best epoch: highest val_f1"),
        (
            "val_accuracy",
            "auto",
            "sequence_classification",
            "val_accuracy",
            "monitored metric\n★ best epoch: highest val_accuracy",
        ),
        ("val_accuracy", "min", "text_classification", "val_accuracy", "best epoch: lowest val_accuracy"),
        (
            "val_loss",
            "auto",
            "text_classification",
            "val_accuracy",
            "main validation metric\n★ best epoch: lowest val_loss (the monitor, starred in the loss panel)",
        ),
        (
            "train_loss",
            "auto",
            "text_classification",
            "val_accuracy",
            "lowest train_loss (the monitor, starred in the loss panel)",
        ),
        ("val_loss", "auto", "forecasting", "val_mae", "main validation metric\n★ best epoch: lowest val_loss"),
        ("val_rmse", "auto", "forecasting", "val_rmse", "the monitored metric\n★ best epoch: lowest val_rmse"),
    ],
)
def test_the_metric_panel_shows_the_monitor_or_when_it_is_a_loss_the_tasks_main_metric(monitor, mode, task, metric, why):
    from rnnexp.plots import metric_panel

    row = _row("r", task, **{"train.early_stopping.monitor": monitor, "train.early_stopping.mode": mode})
    shown, title = metric_panel([row])
    assert shown == metric and title.startswith(metric) and why in title


def test_the_metric_panel_of_runs_with_different_monitors_names_each():
    from rnnexp.plots import metric_panel

    rows = lambda *monitors: [_row(f"r{i}", **{"train.early_stopping.monitor": m}) for i, m in enumerate(monitors)]
    # val_loss runs draw val_accuracy: one metric for all, each star by its own monitor
    assert metric_panel(rows("val_loss", "val_accuracy")) == (
        "val_accuracy",
        "val_accuracy\n★ each run's best epoch by its own monitor (val_accuracy, val_loss)",
    )
    assert metric_panel(rows("val_f1", "val_loss"))[0] == "val_accuracy"  # no one metric of theirs: the task's
    assert metric_panel(rows("val_f1", "val_f1"))[0] == "val_f1"


def test_the_real_runs_plot_their_monitor_and_the_baselines_of_the_metric_drawn(three_runs):
    from rnnexp.plots import baseline_lines, lr_changes, metric_panel
    from rnnexp.rundir import RunDir

    _, paths = three_runs
    rows = [run_row(p) for p in paths]
    assert metric_panel(rows)[0] == "val_accuracy"  # they monitor val_loss, drawn in the loss panel
    assert not lr_changes([RunDir(p).read_metrics() for p in paths])
    accuracy = {"val_accuracy": {"majority_class": 0.6, "tfidf_logreg": 0.8}, "val_f1": {"majority_class": 0.37}}
    assert baseline_lines([accuracy, accuracy], "val_f1") == [(None, "majority_class", 0.37)]  # same data: drawn once
    assert baseline_lines([accuracy, accuracy], "val_accuracy") == [(None, "majority_class", 0.6), (None, "tfidf_logreg", 0.8)]
    other = {"val_accuracy": {"majority_class": 0.5}}
    assert baseline_lines([accuracy, other], "val_accuracy") == [
        (0, "majority_class", 0.6),
        (0, "tfidf_logreg", 0.8),
        (1, "majority_class", 0.5),
    ]
    assert baseline_lines([accuracy], "val_mae") == []  # never a line of another metric


@pytest.mark.parametrize(
    "lrs, changes, note",
    [
        ([[0.001] * 4], False, "lr 0.001, constant"),
        ([[0.001] * 3, [0.005] * 3], False, "lr 0.001, 0.005, constant in each run"),
        ([[0.001, 0.0005, 0.00025]], True, None),  # step / exponential
        ([[0.0004, 0.001, 0.001]], True, None),  # a warmup
        ([[0.001] * 3, [0.001, 0.001, 0.0001]], True, None),  # one run of several with a schedule
        ([[0.001]], False, "lr 0.001, constant"),
    ],
)
def test_the_lr_is_drawn_only_when_it_changes(lrs, changes, note):
    from rnnexp.plots import constant_lr_note, lr_changes

    histories = [[{"epoch": i + 1, "lr": lr} for i, lr in enumerate(run)] for run in lrs]
    assert lr_changes(histories) is changes
    if note:
        assert constant_lr_note(histories) == note


def test_sweep_plot_decisions():
    from rnnexp.sweep_plot import IMPORTANCE_MIN_TRIALS, best_so_far, complete_trials, importance_title, param_axis, sweep_grid

    assert IMPORTANCE_MIN_TRIALS == 20
    for n in (0, 1, 2, 8, 19):
        title, warning = importance_title(n)
        only = "only 1 trial (" if n == 1 else f"only {n} trials ("
        assert f"from {n} complete trial" in title and only in warning and "20" in warning
    for n in (20, 21, 200):
        title, warning = importance_title(n)
        assert f"from {n} complete trials" in title and warning is None
    trials = [
        {"number": 0, "state": "PRUNED", "value": 0.9},  # stopped early: its run reached 0.9 all the same
        {"number": 1, "state": "COMPLETE", "value": 0.6},
        {"number": 2, "state": "COMPLETE", "value": 0.7},
        {"number": 3, "state": "PRUNED", "value": 0.1},
        {"number": 4, "state": "COMPLETE", "value": 0.65},
        {"number": 5, "state": "COMPLETE", "value": 0.5, "same_as": 1},  # a repeat: a complete trial to Optuna, no new value
        {"number": 6, "state": "FAIL", "value": None},
    ]
    assert best_so_far(trials, "maximize") == [(n, 0.9) for n in range(7)]
    assert best_so_far(trials, "minimize") == [(0, 0.9), (1, 0.6), (2, 0.6), (3, 0.1), (4, 0.1), (5, 0.1), (6, 0.1)]
    assert complete_trials({"trials": trials}) == 4
    assert param_axis(["gru", "lstm"]) == param_axis([16, 32, 16]) == param_axis([True, False]) == "category"
    assert param_axis([1e-4, 3e-4, 1e-3, 5e-3, 1e-2, 2e-2]) == "log"
    assert param_axis([0.1, 0.2, 0.25, 0.3, 0.4, 0.45]) == "linear"
    for panels in range(1, 16):  # a grid, never a strip
        rows, cols = sweep_grid(panels)
        assert rows * cols >= panels and cols <= 4 and (rows - 1) * cols < panels and (panels < 4 or rows >= 2)


@pytest.mark.parametrize("bucket", [False, True])
def test_predict_gives_the_answers_evaluate_scores(tiny_data, tmp_path, bucket):
    run = _train(tiny_data, tmp_path, data={"bucket": bucket}, train={"epochs": 2}).run_dir
    report = evaluate(run)
    with open(tiny_data["test"], newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    texts, truth = [r["text"] for r in rows], [r["label"] for r in rows]
    res = predict(run, texts=texts)
    labels = res["labels"]
    predicted = [p["label"] for p in res["predictions"]]
    assert len(predicted) == report["examples"] == len(texts)
    assert np.mean([p == t for p, t in zip(predicted, truth)]) == pytest.approx(report["accuracy"], abs=0)
    matrix = [[sum(1 for p, t in zip(predicted, truth) if t == a and p == b) for b in labels] for a in labels]
    assert matrix == report["confusion_matrix"]["rows_true_cols_pred"]
    for p in res["predictions"]:
        assert sum(p["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert p["probability"] == max(p["probabilities"].values())
    # What the model read of each text, counted by hand: texts of plain lowercase words, some from
    # the run's vocabulary, some made up, one longer than maxlen.
    vocab = json.loads(Path(run, "preprocessing.json").read_text())["vocab"]
    known = [w for w in vocab[2:] if w.isalpha() and w.islower()][:3]
    made_up = ["qzxvwk", "wqqjzzv"]
    assert not set(made_up) & set(vocab)
    maxlen = res["maxlen"]
    counted = [(known + made_up, 2, 0), ([known[0]] * (maxlen + 7), 0, 7), (made_up * 2 + known, 4, 0), (known[:1], 0, 0)]
    read = predict(run, texts=[" ".join(words) for words, _, _ in counted])["predictions"]
    assert [(p["tokens"], p["unknown"], p["cut"]) for p in read] == [(len(w), u, c) for w, u, c in counted]
    as_json = json.loads(run_cli("predict", run, *[" ".join(words) for words, _, _ in counted], "--json").stdout)
    assert [(p["unknown"], p["cut"]) for p in as_json["predictions"]] == [(u, c) for _, u, c in counted]
    # The command line: arguments, stdin, --file; the same answers.
    first = res["predictions"][:3]
    args = run_cli("predict", run, *[p["text"] for p in first], "--json")
    assert [p["label"] for p in json.loads(args.stdout)["predictions"]] == [p["label"] for p in first]
    one_line = [t for t in texts if "\n" not in t][:4]
    piped = subprocess.run(
        [sys.executable, "-m", "rnnexp", "predict", str(run)], input="\n".join(one_line), capture_output=True, text=True
    )
    assert piped.returncode == 0, piped.stderr
    lines = [line.split("\t") for line in piped.stdout.strip().splitlines()]
    assert [line[2] for line in lines] == one_line and all(line[0] in labels for line in lines)
    listed = tmp_path / "texts.txt"
    listed.write_text("\n".join(one_line) + "\n")
    assert run_cli("predict", run, "--file", listed).stdout == piped.stdout


def test_predict_forecast_from_a_csv(tmp_path):
    vega = pytest.importorskip("vega_datasets", reason="needs the datasets extra (make install)")
    from test_tasks import weather_cfg

    from rnnexp.data.series import window_arrays
    from rnnexp.model import model_from_checkpoint
    from rnnexp.rundir import RunDir
    from rnnexp.tasks import restore_task

    result = training.train(weather_cfg(epochs=2), tmp_path / "runs")
    run = RunDir(result.run_dir)
    cfg = run.load_config()
    state = torch.load(run.last, weights_only=True)
    task = restore_task(cfg, state["preprocessing"], torch.device("cpu"))
    start = int(task.windows["test"].starts[-1])
    # The series up to the end of the last test window's input, as a user's CSV.
    frame = vega.local_data.seattle_weather().iloc[: start + cfg.data.lookback]
    path = tmp_path / "weather.csv"
    frame.to_csv(path, index=False)
    proc = run_cli("predict", run.path, "--file", path, "--json", "--checkpoint", "last")
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert [f["steps_ahead"] for f in res["forecast"]] == [1, 2] and res["target"] == "temp_max"
    x, _ = window_arrays(task.normalized, np.array([start]), cfg.data.lookback, task.steps, task.series.target_index)
    expected = task.to_units(task.predict(model_from_checkpoint(state), torch.from_numpy(x)).numpy())[0]
    np.testing.assert_allclose([f["value"] for f in res["forecast"]], expected, rtol=1e-6)
    last = frame["date"].iloc[-1]
    days = [str((last + np.timedelta64(h, "D")).date()) for h in (1, 2)]  # a daily series: the next days
    assert [f["timestamp"] for f in res["forecast"]] == days and res["last_time"] == str(last.date())
    assert res["time_step"] == {"column": "date", "step": "D", "inferred_by": "infer_freq"}
    _forecast_timestamps_follow_the_file(run.path, frame, days, tmp_path)
    short = tmp_path / "short.csv"
    frame.head(5).to_csv(short, index=False)
    proc = run_cli("predict", run.path, "--file", short)
    assert proc.returncode == 2 and "reads the last 14 (data.lookback)" in proc.stderr


def _forecast_timestamps_follow_the_file(run, frame, days, tmp_path):
    """With gaps in its dates, the median step and a note; without its time column, no timestamps."""
    import pandas as pd
    from typer.testing import CliRunner

    from rnnexp.cli import app

    gapped, plain = tmp_path / "gapped.csv", tmp_path / "plain.csv"
    frame.drop(index=frame.index[[3, 10, 11, 40]]).to_csv(gapped, index=False)  # dates missing here and there
    frame.drop(columns=["date"]).to_csv(plain, index=False)
    out = CliRunner().invoke(app, ["predict", str(run), "--file", str(gapped), "--checkpoint", "last"])
    assert out.exit_code == 0, out.output
    assert [line.split("\t")[:2] for line in out.stdout.splitlines()] == [[days[0], "1"], [days[1], "2"]]
    day = pd.tseries.frequencies.to_offset(pd.Timedelta(days=1)).freqstr  # pandas' name for it: "24h" (pandas 3), "D" before
    assert "not evenly spaced (3 of " in out.stderr and f"median, {day}" in out.stderr
    out = CliRunner().invoke(app, ["predict", str(run), "--file", str(plain), "--checkpoint", "last"])
    assert out.exit_code == 0, out.output
    assert [line.split("\t")[0] for line in out.stdout.splitlines()] == ["1", "2"]  # steps_ahead<TAB>value, as before
    assert all(len(line.split("\t")) == 2 for line in out.stdout.splitlines())
    res = predict(run, series_file=plain, which="last")
    assert "time_step" not in res and all("timestamp" not in f for f in res["forecast"]) and res["last_time"] is None


@pytest.mark.parametrize(
    "model",
    [
        {},
        {"cell": "lstm", "bidirectional": True, "head": "mean", "num_layers": 2},
        {"cell": "rnn", "head": "max", "recurrent_dropout": 0.2},  # evaluated at fused speed, traced the same
        {"mask": True, "head": "mean", "bidirectional": True},  # the front-aligning scatter and packing
    ],
)
def test_torchscript_export_matches_the_checkpoint(tiny_data, tmp_path, model):
    from rnnexp.model import model_from_checkpoint

    run = _train(tiny_data, tmp_path, model=model, train={"epochs": 1}).run_dir
    proc = run_cli("export", run, "--format", "torchscript", "--json")
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert res["max_abs_difference"] <= 1e-6
    exported = torch.jit.load(res["path"])
    state = torch.load(f"{run}/checkpoints/last.pt", weights_only=True)
    reference = model_from_checkpoint(state).eval()
    prep = json.loads(open(res["preprocessing"]).read())
    assert prep["vocab"] == state["preprocessing"]["vocab"] and "token ids" in prep["input"]
    # Real texts of the test split, encoded as rnnexp encodes them.
    from rnnexp.data import Preprocessor

    texts = [r["text"] for r in csv.DictReader(open(tiny_data["test"], newline="", encoding="utf-8"))]
    tokens = torch.from_numpy(Preprocessor.from_dict(state["preprocessing"]).encode_texts(texts))
    with torch.no_grad():
        assert (exported(tokens) - reference(tokens)).abs().max() <= 1e-6


@pytest.mark.parametrize(
    "model", [{}, {"cell": "lstm", "bidirectional": True, "head": "mean"}, {"mask": True}, {"mask": True, "bidirectional": True}]
)
def test_onnx_export_matches_the_checkpoint(tiny_data, tmp_path, model):
    onnxruntime = pytest.importorskip("onnxruntime", reason="needs the onnx extra (make install)")
    pytest.importorskip("onnx", reason="needs the onnx extra (make install)")
    from rnnexp.data import Preprocessor
    from rnnexp.model import model_from_checkpoint

    run = _train(tiny_data, tmp_path, model=model, train={"epochs": 1}).run_dir
    proc = run_cli("export", run, "--format", "onnx", "--json")
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert res["path"].endswith("model.onnx") and res["max_abs_difference"] <= 1e-6
    state = torch.load(f"{run}/checkpoints/last.pt", weights_only=True)
    texts = [r["text"] for r in csv.DictReader(open(tiny_data["test"], newline="", encoding="utf-8"))]
    tokens = Preprocessor.from_dict(state["preprocessing"]).encode_texts(texts)
    session = onnxruntime.InferenceSession(res["path"], providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"inputs": tokens})
    with torch.no_grad():
        expected = model_from_checkpoint(state).eval()(torch.from_numpy(tokens)).numpy()
    assert np.abs(got - expected).max() <= 1e-5  # all 80 test texts in one batch, not the checked 7


def test_onnx_export_says_what_to_install(tiny_data, tmp_path, monkeypatch):
    run = _train(tiny_data, tmp_path, train={"epochs": 1}).run_dir
    import importlib.util

    from rnnexp.export import export

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    from rnnexp.errors import RunDirError

    with pytest.raises(RunDirError, match=r"--format onnx needs the onnxruntime package\(s\): pip install onnxruntime"):
        export(run, "onnx")
    assert run_cli("export", run, "--format", "keras").returncode == 2


def test_schema_describes_configs_and_sweeps(tmp_path):
    code = (
        "import sys; from typer.testing import CliRunner; from rnnexp.cli import app; "
        "r = CliRunner().invoke(app, ['schema']); assert r.exit_code == 0, r.output; "
        "print('torch' in sys.modules); print(r.stdout)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    imported_torch, text = out.split("\n", 1)
    assert imported_torch == "False"
    schema = json.loads(text)
    assert {"data", "model", "train"} <= set(schema["properties"]) and schema["additionalProperties"] is False
    sweep = json.loads(run_cli("schema", "--sweep").stdout)
    assert {"base", "space", "sampler"} <= set(sweep["properties"])
    out_file = tmp_path / "rnnexp.schema.json"
    assert run_cli("schema", "-o", out_file).returncode == 0 and json.loads(out_file.read_text()) == schema
    # The shipped quickstart validates against it (keys and enum values).
    quick = yaml.safe_load((ROOT / "configs" / "quickstart.yaml").read_text())
    defs = schema["$defs"]
    for section in ("data", "model", "train"):
        prop = schema["properties"][section]  # a $ref, or (older pydantic) an allOf of one
        ref = (prop.get("$ref") or prop["allOf"][0]["$ref"]).split("/")[-1]
        assert set(quick[section]) <= set(defs[ref]["properties"]), section


def test_runs_started_in_the_same_second_list_in_creation_order(tmp_path):
    from rnnexp.report import find_runs
    from rnnexp.rundir import RunDir

    made = [RunDir.create(tmp_path, "same-name", now=1_700_000_000).path for _ in range(11)]
    for path in made:
        (path / "config.yaml").write_text("{}")
        (path / "summary.json").write_text("{}")
    assert find_runs(tmp_path) == made  # ..._same-name, -2, ..., -10, -11 (not -10 before -2)


def test_curves_png_is_drawn_from_how_the_run_ended(tiny_data, tmp_path, monkeypatch):
    """The end of training draws curves.png before it writes summary.json: the picture reads the
    summary it is about to write (early stopped, all its epochs, its best), not the last epoch's."""
    from rnnexp import plots

    drawn = []
    monkeypatch.setattr(plots, "run_row", lambda path, summary=None: drawn.append(run_row(path, summary)) or drawn[-1])
    es = {"enabled": True, "monitor": "val_loss", "patience": 1, "min_delta": 10.0}
    result = _train(tiny_data, tmp_path, train={"epochs": 4, "early_stopping": es})
    (row,) = drawn
    assert (row["status"], row["epochs"], row["best_epoch"]) == ("early_stopped", 2, 1) == (result.status, 2, result.best_epoch)


def test_curves_png_draws_what_the_run_folder_says(tiny_data, tmp_path, monkeypatch):
    """The figure curves.png is saved from, read back artist by artist against metrics.csv and
    summary.json: each loss and the metric per epoch, the best epoch starred at its value on the
    metric's curve (and on val_loss's, the monitor), a horizontal line at each baseline's
    validation value, and the early stop marked at the last epoch."""
    import numpy as np

    from rnnexp import plots

    figures = _figures(monkeypatch, plots)
    es = {"enabled": True, "monitor": "val_loss", "patience": 1, "min_delta": 10.0}
    result = _train(tiny_data, tmp_path, train={"epochs": 4, "early_stopping": es, "baselines": True})
    run = Path(result.run_dir)
    with open(run / "metrics.csv", newline="") as f:
        rows = [{k: float(v) for k, v in r.items() if v != ""} for r in csv.DictReader(f)]
    summary = json.loads((run / "summary.json").read_text())
    (fig,) = figures
    epochs = [r["epoch"] for r in rows]
    lines = [line for ax in fig.axes for line in ax.get_lines()]

    def drawn(xs, ys) -> list:
        return [
            line
            for line in lines
            if len(line.get_xdata()) == len(xs)
            and np.allclose(np.asarray(line.get_xdata(), float), xs)
            and np.allclose(np.asarray(line.get_ydata(), float), ys)
        ]

    for column in ("train_loss", "val_loss", "val_accuracy"):
        assert drawn(epochs, [r[column] for r in rows]), f"{column} per epoch is not drawn"
    best = summary["best_epoch"]
    at_best = next(r for r in rows if r["epoch"] == best)
    for column in ("val_accuracy", "val_loss"):
        stars = [line for line in drawn([best], [at_best[column]]) if line.get_marker() == "*"]
        assert stars, f"no star at epoch {best} on {column}"
    baselines = summary["baselines"]["val_accuracy"]
    assert baselines, "the run has baselines to draw"
    for name, value in baselines.items():
        flat = [
            line
            for line in lines
            if np.allclose(np.asarray(line.get_ydata(), float), [value, value]) and line.get_linestyle() != "None"
        ]
        assert flat, f"no horizontal line at the {name} baseline ({value})"
    assert summary["status"] == "early_stopped"
    ends = [
        line
        for line in lines
        if np.allclose(np.asarray(line.get_xdata(), float), [epochs[-1], epochs[-1]]) and line.get_linestyle() == "-."
    ]
    assert ends and any(t.get_text().strip() == "early stop" for ax in fig.axes for t in ax.texts)


@pytest.mark.parametrize("case", ["one run", "one run with a schedule", "three runs", "three runs with long labels"])
def test_every_part_of_curves_png_lies_inside_it_and_none_covers_another(three_runs, tiny_data, tmp_path, monkeypatch, case):
    """curves.png's fixed layout (plots.curve_boxes), read back from the drawn figure: the title, each
    panel with its tick labels and titles, and each legend lie inside the picture, and no two of the
    panels and legends overlap; with an lr panel, and with several runs whose labels fill the legend
    of runs with wrapped lines."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.legend import Legend

    from rnnexp import plots

    _, paths = three_runs
    if case == "one run with a schedule":
        schedule = {"lr": 0.01, "epochs": 3, "lr_schedule": {"kind": "cosine", "warmup_epochs": 1}}
        paths = [_train(tiny_data, tmp_path / "runs", train=schedule).run_dir]
    elif case.startswith("one run"):
        paths = paths[:1]
    if case.endswith("long labels"):
        words = lambda i: ", ".join(f"model.key_{k}=value_{i}_{k}" for k in range(12))
        monkeypatch.setattr(plots, "legend_labels", lambda rows: [words(i) for i in range(len(rows))])
    figures = _figures(monkeypatch, plots)
    plots.plot_curves(paths, tmp_path / "curves.png")
    (fig,) = figures
    canvas = FigureCanvasAgg(fig)  # saved and closed: drawn again as it was saved
    canvas.draw()
    renderer = canvas.get_renderer()
    inside = fig.bbox.padded(0.5)
    panels = [ax for ax in fig.axes if ax.axison]
    assert len(panels) == (3 if case == "one run with a schedule" else 2)
    legends = [leg for ax in fig.axes for leg in ax.get_children() if isinstance(leg, Legend)] + fig.legends
    assert len(legends) == 2 + case.startswith("three")  # the line styles of each panel; the runs
    parts = [ax.get_tightbbox(renderer) for ax in panels] + [leg.get_window_extent(renderer) for leg in legends]
    for box in [*parts, fig._suptitle.get_window_extent(renderer)]:
        assert inside.contains(box.x0, box.y0) and inside.contains(box.x1, box.y1), (case, box, fig.bbox)
    for i, a in enumerate(parts):
        for b in parts[i + 1 :]:
            assert not a.overlaps(b), (case, a, b)


def _figures(monkeypatch, module) -> list:
    """The figures ``module`` saves from now on (its save_figure still writes them)."""
    figures, original = [], module.save_figure
    monkeypatch.setattr(module, "save_figure", lambda fig, path: figures.append(fig) or original(fig, path))
    return figures


def test_the_lr_find_plot_draws_the_result(tmp_path, monkeypatch):
    """lr_find.png from a hand-made result: the raw and smoothed losses against the lrs, the prior
    loss as a horizontal line, and vertical lines at the suggested lr and at the lowest loss, each
    named in the legend with its value."""
    import numpy as np

    from rnnexp import plots

    lrs = list(np.geomspace(1e-5, 1.0, 30))
    losses = [0.7 - 0.01 * i + (0.3 if i > 25 else 0.0) for i in range(30)]
    result = {"lrs": lrs, "losses": losses, "smoothed": [x - 0.005 for x in losses], "prior_loss": 0.69}
    result.update(min_loss_lr=lrs[25], suggested_lr=lrs[25] / 10)
    figures = _figures(monkeypatch, plots)
    plots.plot_lr_find(result, tmp_path / "lr_find.png")
    (fig,) = figures
    (ax,) = fig.axes
    found = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.get_lines()}
    assert found["loss per batch"] == (lrs, losses) and found["smoothed loss"] == (lrs, result["smoothed"])
    assert found["predicting class frequencies"][1] == [0.69, 0.69]
    assert found[f"suggested lr {lrs[25] / 10:.2g}"][0] == [lrs[25] / 10] * 2
    assert found[f"lowest loss at {lrs[25]:.2g}"][0] == [lrs[25]] * 2
    assert ax.get_xscale() == "log" and (tmp_path / "lr_find.png").stat().st_size > 10_000


def test_the_sweep_plot_stars_the_best_trial_and_steps_through_the_best_so_far(tmp_path, monkeypatch):
    """sweep.png from hand-made results: every trial with a value at its number, the best trial
    (results' best) starred at its value, and the best-so-far line stepping through best_so_far."""
    from rnnexp import sweep_plot

    trials = [
        {"number": 0, "state": "COMPLETE", "value": 0.7, "same_as": None, "train.lr": 0.01, "run_dir": None},
        {"number": 1, "state": "PRUNED", "value": 0.8, "same_as": None, "train.lr": 0.02, "run_dir": None},
        {"number": 2, "state": "COMPLETE", "value": 0.75, "same_as": None, "train.lr": 0.03, "run_dir": None},
        {"number": 3, "state": "FAIL", "value": None, "same_as": None, "train.lr": 0.04, "run_dir": None},
    ]
    counts = {"COMPLETE": 2, "PRUNED": 1, "RUNNING": 0, "WAITING": 0, "FAIL": 1}
    res = {"study": "s", "metric": "val_accuracy", "direction": "maximize", "counts": counts, "params": ["train.lr"]}
    res.update(trials=trials, best=trials[1])
    figures = _figures(monkeypatch, sweep_plot)
    sweep_plot.plot_sweep(res, None, tmp_path / "sweep.png")
    (fig,) = figures
    history = fig.axes[0]
    marks = [(c.get_sizes()[0], tuple(p)) for c in history.collections for p in c.get_offsets().tolist()]
    dots, stars = sorted(p for size, p in marks if size == 30), [p for size, p in marks if size == 220]
    assert dots == [(0.0, 0.7), (1.0, 0.8), (2.0, 0.75)]  # the trial with no value is not drawn
    assert stars == [(1.0, 0.8)]  # the best: the paused trial's best epoch
    (step,) = history.get_lines()
    drawn = [t for t in trials if t["value"] is not None]
    steps = list(zip(step.get_xdata(), step.get_ydata()))
    assert steps == sweep_plot.best_so_far(drawn, "maximize") == [(0, 0.7), (1, 0.8), (2, 0.8)]


def test_runs_lists_the_trials_inside_sweep_folders_only_with_trials(three_runs, tmp_path):
    """`rnnexp runs` lists the run folders of the runs folder; --trials adds each sweep folder's
    trial runs (trials/), and nothing else of a sweep folder (its other files, a half-built trial)."""
    import shutil

    from rnnexp.report import find_runs

    _, paths = three_runs
    here = tmp_path / "runs"
    plain = shutil.copytree(paths[0], here / Path(paths[0]).name)
    sweep = here / "sweep_20991231-235959_s"
    trial = shutil.copytree(paths[1], sweep / "trials" / "20991231-235959_s-trial-0000")
    shutil.copytree(paths[2], sweep / "trials" / ".staging-20991231-235959_s-trial-0001")  # not in place yet
    (sweep / "sweep.json").write_text("{}")
    assert find_runs(here) == [plain]
    assert find_runs(here, trials=True) == [plain, trial]
    for args, names in ((["runs", here], [plain.name]), (["runs", here, "--trials"], [plain.name, trial.name])):
        proc = run_cli(*args)
        assert proc.returncode == 0, proc.stderr
        listed = [line.split()[0] for line in proc.stdout.splitlines()[1:] if line.strip()]
        assert listed == names, proc.stdout
