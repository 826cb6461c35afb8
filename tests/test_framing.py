"""rnnexp/framing.py and data.residual / data.window_scale: the forecast is the reference value the
key names plus the network's output (on the window's own level and scale with window_scale), all
inside the model; a framed run resumes exactly, exports and predicts what evaluate scores; a config
the framing cannot serve is refused naming the key. And train.balance_steps, the loss that weighs
each step ahead by persistence's error there (tasks/forecast.py's step_factors)."""

from __future__ import annotations

import json
import math
import signal
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from conftest import StopAt, assert_same_run, run_cli
from rnnexp import training
from rnnexp.checkpoint import save as save_checkpoint
from rnnexp.config import Config, ModelConfig
from rnnexp.export import export
from rnnexp.framing import SPREAD_FLOOR, frame_spec
from rnnexp.model import build_model, model_from_checkpoint
from rnnexp.tasks.forecast import ForecastTask, step_factors


def test_each_steps_reference_is_read_from_the_window_row_one_season_before_it():
    # lookback 10, season 4: the target at t+h is compared with t+h-4 (h <= 4), t+h-8 (5 <= h <= 8)
    spec = frame_spec(0, 10, [1, 2, 4, 5, 8], "seasonal_naive", 4, False)
    last = 9
    assert spec["base"] == [last + 1 - 4, last + 2 - 4, last + 4 - 4, last + 5 - 8, last + 8 - 8]
    assert frame_spec(2, 10, [1, 3], "persistence", None, True) == {"target": 2, "base": [9, 9], "scale": True}
    assert frame_spec(0, 10, [1], "none", 4, False) is None


def scaled_by_hand(x: torch.Tensor, target: int, scale: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The window as the network should read it (with ``scale``, the target channel minus its window
    mean, over its window deviation floored at SPREAD_FLOOR), and that mean and deviation."""
    series = x[..., target]
    level = series.mean(1, keepdim=True)
    spread = series.std(1, unbiased=False, keepdim=True).clamp_min(SPREAD_FLOOR)
    fed = x.clone()
    if scale:
        fed[..., target] = (series - level) / spread
    return fed, level, spread


@pytest.mark.parametrize(
    ("residual", "scale"),
    [("none", True), ("persistence", False), ("persistence", True), ("seasonal_naive", False), ("seasonal_naive", True)],
)
def test_the_output_is_the_reference_plus_the_networks_on_the_framed_window(residual, scale):
    """The framed model against the same weights unframed, fed the window framed by hand."""
    torch.manual_seed(0)
    steps, lookback, season, target = [1, 2, 3], 8, 3, 1
    spec = frame_spec(target, lookback, steps, residual, season, scale)
    cfg = ModelConfig(cell="gru", num_neurons=5)
    framed = build_model(cfg, {"kind": "features", "num_features": 3, "seq_len": lookback, "frame": spec}, 3).eval()
    plain = build_model(cfg, {"kind": "features", "num_features": 3, "seq_len": lookback}, 3).eval()
    plain.load_state_dict(framed.state_dict())  # the frame has no weights of its own
    x = torch.randn(6, lookback, 3, dtype=torch.float64).float()
    x[0, :, target] = 0.25  # a flat window: its spread is the floor, never a division by zero
    series = x[..., target]
    fed, level, spread = scaled_by_hand(x, target, scale)
    reference = {
        "none": level if scale else torch.zeros(6, 1),
        "persistence": series[:, [lookback - 1] * 3],
        "seasonal_naive": series[:, [lookback - 1 + h - season * math.ceil(h / season) for h in steps]],
    }[residual]
    expected = reference + (spread if scale else 1.0) * plain(fed)
    with torch.no_grad():
        torch.testing.assert_close(framed(x), expected, rtol=1e-5, atol=1e-5)
        assert torch.isfinite(framed(x)).all()


@pytest.mark.parametrize("scale", [False, True])
@pytest.mark.parametrize(("season", "lookback"), [(1, 5), (3, 8), (8, 8)])
def test_the_seasonal_channel_is_the_target_one_season_before_the_row_after_each_row(scale, season, lookback):
    """data.seasonal_input: the framed model against the same weights unframed with one more input
    channel, fed the channel built by hand (the target as the network reads it, at row t + 1 - season,
    0 before the window)."""
    torch.manual_seed(0)
    target = 1
    spec = frame_spec(target, lookback, [1], "none", season, scale, seasonal_input=True)
    assert spec == {"target": 1, "base": None, "scale": scale, "lag": season}
    assert frame_spec(target, lookback, [1], "none", season, scale) in ({"target": 1, "base": None, "scale": True}, None)
    cfg = ModelConfig(cell="gru", num_neurons=5)
    framed = build_model(cfg, {"kind": "features", "num_features": 3, "seq_len": lookback, "frame": spec}, 1).eval()
    plain = build_model(cfg, {"kind": "features", "num_features": 4, "seq_len": lookback}, 1).eval()
    plain.load_state_dict(framed.state_dict())  # the channel has no weights of its own: the input size is one more
    x = torch.randn(5, lookback, 3)
    fed, level, spread = scaled_by_hand(x, target, scale)
    lagged = torch.zeros(5, lookback)
    for t in range(lookback):
        if t + 1 - season >= 0:
            lagged[:, t] = fed[:, t + 1 - season, target]
    fed = torch.cat([fed, lagged.unsqueeze(-1)], dim=-1)
    expected = level + spread * plain(fed) if scale else plain(fed)
    with torch.no_grad():
        torch.testing.assert_close(framed(x), expected, rtol=1e-5, atol=1e-5)


def test_a_network_that_outputs_zero_forecasts_the_seasonal_naive_value():
    spec = frame_spec(0, 7, [1, 2], "seasonal_naive", 7, True)
    model = build_model(
        ModelConfig(cell="lstm", num_neurons=4), {"kind": "features", "num_features": 1, "seq_len": 7, "frame": spec}, 2
    )
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.zero_()
        x = torch.arange(14, dtype=torch.float32).reshape(2, 7, 1)
        assert model(x).tolist() == [[0.0, 1.0], [7.0, 8.0]]  # the values at t+1-7 and t+2-7


def forecast_config(path, train=None, **data) -> dict:
    return {
        "name": "framed",
        "data": {"task": "forecasting", "train_file": str(path), "target": "y", "features": ["y", "x"], "time_column": "t",
                 "lookback": 14, "horizon": 3, "multi_output": True, "season": 7, "val_split": 0.2, "test_split": 0.2, **data},
        "model": {"cell": "gru", "num_neurons": 8},
        "train": {"epochs": 3, "batch_size": 16, "lr": 0.01, "seed": 1, "baselines": False,  # tests/test_statistical.py's
                  **(train or {})},
    }  # fmt: skip


@pytest.fixture(scope="module")
def weekly(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weekly")
    rng = np.random.default_rng(0)
    n = 300
    level = 100 + np.cumsum(rng.normal(0, 1, n))
    y = level + 10 * np.sin(2 * np.pi * np.arange(n) / 7) + rng.normal(0, 0.5, n)
    x = rng.normal(0, 1, n)
    days = np.datetime64("2020-01-01") + np.arange(n)
    path = folder / "weekly.csv"
    path.write_text("t,y,x\n" + "".join(f"{d},{a:.5f},{b:.5f}\n" for d, a, b in zip(days, y, x)))
    return path


def test_a_framed_run_resumes_bit_identically_and_exports_what_it_scores(weekly, tmp_path):
    cfg = Config.model_validate(forecast_config(weekly, residual="seasonal_naive", window_scale=True))
    whole = training.train(cfg, tmp_path / "whole")
    stop = threading.Event()
    first = training.train(cfg, tmp_path / "cut", reporter=StopAt(stop, 20), stop=stop)  # in epoch 2
    assert first.status == "interrupted"
    assert_same_run(Path(whole.run_dir), Path(training.resume(first.run_dir).run_dir))
    state = torch.load(f"{whole.run_dir}/checkpoints/best.pt", weights_only=True)
    assert state["input"]["frame"] == {"target": 0, "base": [7, 8, 9], "scale": True}
    assert state["preprocessing"]["residual"] == "seasonal_naive" and state["preprocessing"]["window_scale"] is True
    done = export(whole.run_dir, "torchscript")  # checked against the checkpoint's outputs, or an error
    served = torch.jit.load(done["path"])
    prep = json.loads(open(f"{whole.run_dir}/model.preprocessing.json").read())
    assert prep["residual"] == "seasonal_naive" and prep["window_scale"] is True
    # The exported model alone, fed the file's last window scaled by the JSON's scaler, forecasts
    # what predict prints.
    rows = np.loadtxt(weekly, delimiter=",", skiprows=1, usecols=(1, 2))[-14:]
    offset, scale = np.array(prep["scaler"]["offset"]), np.array(prep["scaler"]["scale"])
    out = served(torch.from_numpy(((rows - offset) / scale)[None]).float()).detach().numpy()[0]
    values = out * scale[0] + offset[0]
    proc = run_cli("predict", whole.run_dir, "--file", weekly, "--json")
    assert proc.returncode == 0, proc.stderr
    got = [step["value"] for step in json.loads(proc.stdout)["forecast"]]
    np.testing.assert_allclose(got, values, rtol=1e-5)


def test_the_framing_changes_what_is_trained(weekly, tmp_path):
    """Each key changes the weights a run ends with (a key that were ignored would not), and a
    forecast scales its window unless told not to."""
    ends = {}
    keys_of = {
        "none": {"window_scale": False},
        "residual": {"residual": "persistence", "window_scale": False},
        "scale": {"window_scale": True},
        "default": {},
    }
    for name, keys in keys_of.items():
        run = training.train(Config.model_validate(forecast_config(weekly, **keys)), tmp_path / name)
        ends[name] = torch.load(f"{run.run_dir}/checkpoints/last.pt", weights_only=True)["model"]
    for name in ("residual", "scale"):
        assert any(not torch.equal(ends["none"][k], ends[name][k]) for k in ends["none"])
    assert all(torch.equal(ends["scale"][k], ends["default"][k]) for k in ends["none"])


def calendar_by_hand(days: list[str]) -> np.ndarray:
    """data.calendar [day_of_week, month] of ISO dates, from Python's own date arithmetic."""
    import datetime as dt

    dates = [dt.date.fromisoformat(d) for d in days]
    shares = [(d.weekday() / 7, (d.month - 1) / 12) for d in dates]
    return np.array([[f(2 * np.pi * p) for p in row for f in (np.sin, np.cos)] for row in shares])


def test_a_run_with_seasonal_and_calendar_inputs_resumes_exactly_and_exports_what_predict_prints(weekly, tmp_path):
    cfg = Config.model_validate(forecast_config(weekly, seasonal_input=True, calendar=["day_of_week", "month"]))
    whole = training.train(cfg, tmp_path / "whole")
    stop = threading.Event()
    first = training.train(cfg, tmp_path / "cut", reporter=StopAt(stop, 20), stop=stop)  # in epoch 2
    assert first.status == "interrupted"
    assert_same_run(Path(whole.run_dir), Path(training.resume(first.run_dir).run_dir))
    state = torch.load(f"{whole.run_dir}/checkpoints/best.pt", weights_only=True)
    assert state["input"]["frame"]["lag"] == 7 and state["input"]["num_features"] == 6
    assert state["model"]["rnn.weight_ih_l0"].shape[1] == 7  # y, x, 4 calendar columns, the seasonal channel
    done = export(whole.run_dir, "torchscript")
    served = torch.jit.load(done["path"])
    prep = json.loads(open(f"{whole.run_dir}/model.preprocessing.json").read())
    assert prep["calendar"] == ["day_of_week", "month"] and prep["seasonal_input"] is True
    assert prep["columns"] == ["y", "x", "day_of_week.sin", "day_of_week.cos", "month.sin", "month.cos"]
    assert "day_of_week.sin, day_of_week.cos, month.sin, month.cos" in prep["input"]
    lines = weekly.read_text().splitlines()[1:]
    days = [line.split(",")[0] for line in lines][-14:]
    rows = np.loadtxt(weekly, delimiter=",", skiprows=1, usecols=(1, 2))[-14:]
    window = np.hstack([rows, calendar_by_hand(days)])
    offset, scale = np.array(prep["scaler"]["offset"]), np.array(prep["scaler"]["scale"])
    out = served(torch.from_numpy(((window - offset) / scale)[None]).float()).detach().numpy()[0]
    proc = run_cli("predict", whole.run_dir, "--file", weekly, "--json")
    assert proc.returncode == 0, proc.stderr
    got = [step["value"] for step in json.loads(proc.stdout)["forecast"]]
    np.testing.assert_allclose(got, out * scale[0] + offset[0], rtol=1e-5)
    bare = tmp_path / "bare.csv"  # the same rows without their timestamps: nothing to read the calendar from
    bare.write_text("y,x\n" + "".join(",".join(line.split(",")[1:]) + "\n" for line in lines))
    proc = run_cli("predict", whole.run_dir, "--file", bare, "--json")
    assert proc.returncode == 2 and f"{bare}: no column 't'; columns are: y, x" in proc.stderr, proc.stderr


def test_the_seasonal_and_calendar_inputs_change_what_is_trained(weekly, tmp_path):
    """Each key changes the weights a run ends with: the recurrent and output weights, whose shapes
    the keys leave as they are."""
    ends = {}
    for name, keys in {"none": {}, "seasonal": {"seasonal_input": True}, "calendar": {"calendar": ["day_of_week"]}}.items():
        run = training.train(Config.model_validate(forecast_config(weekly, **keys)), tmp_path / name)
        ends[name] = torch.load(f"{run.run_dir}/checkpoints/last.pt", weights_only=True)["model"]
    for name in ("seasonal", "calendar"):
        for key in ("rnn.weight_hh_l0", "head.weight"):
            assert not torch.equal(ends["none"][key], ends[name][key]), (name, key)


def test_balanced_steps_weigh_each_steps_error_by_persistences_error_there():
    """step_factors against a hand computation: steps whose persistence errors are 1, 2 and 4 (mean
    absolute, over the windows) get factors 2, 1 and 1/2 (one over each, over their geometric mean
    1/2), and the loss is the MSE of the errors times those factors."""
    rng = np.random.default_rng(3)
    x = torch.from_numpy(rng.normal(0, 1, (40, 6, 2))).float()
    last = x[:, -1, 1:2]
    signs = torch.from_numpy(rng.choice([-1.0, 1.0], (40, 3))).float()
    y = last + signs * torch.tensor([1.0, 2.0, 4.0])
    persisted = last.repeat(1, 3).numpy()  # "tomorrow = today" at every step
    factor = step_factors(y, persisted)
    torch.testing.assert_close(factor, torch.tensor([2.0, 1.0, 0.5]))
    assert step_factors(y[:, :1], persisted[:, :1]) is None  # one step: the loss as it was
    # a step persistence never misses (a flat stretch) counts as the smallest error that moves
    flat = torch.cat([last, y[:, 1:]], dim=1)
    torch.testing.assert_close(step_factors(flat, persisted), torch.tensor([2 ** (1 / 3), 2 ** (1 / 3), 2 ** (-2 / 3)]))


def test_balanced_steps_change_training_and_the_loss_is_the_weighted_one(weekly, tmp_path):
    """The default for a forecast several steps ahead balances them; false trains other weights, and
    the run's val_loss is the MSE with each step's errors times its factor, computed here from the
    model's own validation forecasts."""
    ends, losses, runs = {}, {}, {}
    for name, train in {"off": {"balance_steps": False}, "on": {"balance_steps": True}, "default": {}}.items():
        run = runs[name] = training.train(Config.model_validate(forecast_config(weekly, train=train)), tmp_path / name)
        ends[name] = torch.load(f"{run.run_dir}/checkpoints/last.pt", weights_only=True)["model"]
        losses[name] = float(open(f"{run.run_dir}/metrics.csv").read().splitlines()[-1].split(",")[2])
    assert any(not torch.equal(ends["off"][k], ends["on"][k]) for k in ends["off"])
    assert all(torch.equal(ends["on"][k], ends["default"][k]) for k in ends["on"])
    cfg = Config.model_validate(forecast_config(weekly))
    task = ForecastTask.create(cfg, torch.device("cpu"))
    model = model_from_checkpoint(torch.load(f"{runs['on'].run_dir}/checkpoints/last.pt", weights_only=True)).eval()
    vx, vy = task.val
    with torch.no_grad():
        errors = (model(vx) - vy).double()
    raw = (task.train_y.double() - task.train_x[:, -1:, 0].double()).abs().mean(0)  # on the training windows
    weight = (1 / raw) / (1 / raw).log().mean().exp()
    assert losses["on"] == pytest.approx(float(((errors * weight) ** 2).mean()), rel=1e-5)
    assert losses["on"] != pytest.approx(float((errors**2).mean()), rel=1e-3)


@pytest.mark.parametrize("fault", ["batch:2:5", "batch:1:3"])  # with a checkpoint; before the first one
def test_a_forecasting_run_from_before_the_framing_keys_resumes_evaluates_and_exports_as_it_trained(weekly, tmp_path, fault):
    """A run folder written before data.residual, data.window_scale and train.balance_steps existed
    trained unframed and unbalanced; its config.yaml, meta.json and checkpoints lack the keys, and it
    must resume, evaluate and export as it trained, not under today's defaults (window_scale and
    balance_steps on for forecasting)."""
    config = tmp_path / "c.yaml"
    config.write_text(json.dumps(forecast_config(weekly, train={"balance_steps": False}, window_scale=False)))
    ref = json.loads(run_cli("train", config, "--runs-dir", tmp_path / "ref", "--json", "--quiet").stdout)["run_dir"]
    proc = run_cli("train", config, "--runs-dir", tmp_path / "runs", "--quiet", env={"RNNEXP_FAULT": fault})
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    (run,) = list((tmp_path / "runs").iterdir())
    written = yaml.safe_load((run / "config.yaml").read_text())
    del written["data"]["residual"], written["data"]["window_scale"], written["train"]["balance_steps"]
    (run / "config.yaml").write_text(yaml.safe_dump(written, sort_keys=False))
    meta = json.loads((run / "meta.json").read_text())
    del meta["config"]["data"]["residual"], meta["config"]["data"]["window_scale"], meta["config"]["train"]["balance_steps"]
    (run / "meta.json").write_text(json.dumps(meta))
    for checkpoint in (run / "checkpoints").glob("*.pt"):
        state = torch.load(checkpoint, weights_only=True)
        del state["config"]["data"]["residual"], state["config"]["data"]["window_scale"], state["checksum"]
        del state["config"]["train"]["balance_steps"]
        del state["preprocessing"]["residual"], state["preprocessing"]["window_scale"]
        assert "frame" not in state["input"]
        save_checkpoint({k: v for k, v in state.items() if k not in ("format", "version")}, checkpoint)
    proc = run_cli("resume", run, "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert_same_run(Path(ref), run)
    scores = [json.loads(run_cli("evaluate", r, "--json").stdout) for r in (ref, run)]
    assert scores[0]["mae"] == scores[1]["mae"] and scores[0]["per_step"] == scores[1]["per_step"]
    assert export(run, "torchscript")["path"]  # checked against the checkpoint's outputs, or an error


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"residual": "seasonal_naive", "season": None}, "data.residual seasonal_naive needs data.season"),
        ({"residual": "seasonal_naive", "lookback": 5}, "data.lookback 5 must be at least 7 with data.season 7"),
        (
            {"residual": "seasonal_naive", "lookback": 6, "horizon": 8, "multi_output": False},
            "data.lookback 6 must be at least 7",
        ),
        ({"seasonal_input": True, "season": None}, "data.seasonal_input needs data.season"),
        ({"seasonal_input": True, "lookback": 6}, "data.lookback 6 must be at least data.season 7"),
        ({"calendar": ["month", "month"]}, "data.calendar names a cycle twice"),
        ({"calendar": ["week"]}, "data.calendar.0"),
        ({"calendar": ["month"], "time_column": None}, "data.calendar reads the time column: set data.time_column"),
    ],
)
def test_a_framing_the_window_cannot_serve_is_refused_naming_the_key(weekly, tmp_path, data, fragment):
    path = tmp_path / "c.yaml"
    path.write_text(json.dumps(forecast_config(weekly, **data)))  # JSON is YAML
    proc = run_cli("validate", path)
    assert proc.returncode == 2 and fragment in proc.stderr and str(path) in proc.stderr, proc.stderr
    path.write_text(json.dumps({"data": {"dataset": "amazon-food", "residual": "persistence"}}))
    proc = run_cli("validate", path)
    assert proc.returncode == 2 and "data.residual, data.window_scale, data.seasonal_input and data.calendar are for" in (
        proc.stderr
    ), proc.stderr
    path.write_text(json.dumps({"data": {"dataset": "amazon-food"}, "train": {"balance_steps": True}}))
    proc = run_cli("validate", path)
    assert proc.returncode == 2 and "train.balance_steps is for forecasting" in proc.stderr, proc.stderr
