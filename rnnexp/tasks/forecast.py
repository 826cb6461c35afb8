"""Forecasting: windows of a numeric series, the next values of its target column."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .. import baselines
from ..baselines import statistical
from ..config import FORECASTING_METRICS, Config
from ..data.calendar import calendar_columns
from ..data.prepared import series_of
from ..data.series import (
    Scaler,
    Series,
    load_series,
    persistence,
    regression_scores,
    seasonal_naive,
    split_bounds,
    target_steps,
    time_column_of,
    window_arrays,
    window_starts,
)
from ..data.timestamps import step_times
from ..devices import data_home
from ..errors import DataError, RunDirError
from ..framing import frame_spec
from ..metrics import verdict
from ..model import check_memory, predict_logits
from .common import WholeTensors

REGRESSION_LOSSES = {"mse": F.mse_loss, "mae": F.l1_loss, "huber": F.huber_loss}


def step_factors(targets: torch.Tensor, persisted: np.ndarray) -> torch.Tensor | None:
    """train.balance_steps' factor per step ahead: one over persistence's mean absolute error at that
    step (``persisted``: data.series.persistence's forecasts of ``targets``, the training windows;
    MASE's scale; a step a flat series never moves counts as the smallest that moves), over the
    factors' geometric mean, so the loss keeps its size and a single step is left as it was (None).
    Near steps err least: unbalanced, an MSE over half an hour to two hours ahead was nearly all the
    far steps' error (measured: docs/benchmarks.md)."""
    if targets.shape[1] < 2:
        return None
    scale = (targets.double().cpu() - torch.from_numpy(persisted).double()).abs().mean(0)
    moved = scale[scale > 0]
    scale = scale.clamp_min(float(moved.min()) if len(moved) else 1.0)
    factor = 1.0 / scale
    return (factor / factor.log().mean().exp()).float()


class ForecastTask(WholeTensors):
    kind = "forecasting"
    facts_folder = None  # its baselines are cheap: fitted again in each process
    metric_columns = list(FORECASTING_METRICS)
    prior_name = "the training mean"  # what prior_loss predicts

    def __init__(self, cfg: Config, series: Series, scaler: Scaler, device: torch.device, fits: bool = False):
        d = cfg.data
        self.cfg, self.series, self.scaler, self.device = cfg, series, scaler, device
        self.bounds = split_bounds(len(series.values), d.val_split, d.test_split)
        self.windows = {name: window_starts(b, d.lookback, d.horizon, d.stride, name) for name, b in self.bounds.items()}
        self.steps = target_steps(d.horizon, d.multi_output)
        windows = sum(len(self.windows[k]) for k in ("train", "val") if k in self.windows)
        # what the device holds: the float32 windows (a new run's check: the float64 ones as well)
        self.home = data_home(device, windows * d.lookback * len(series.columns) * 4)
        if fits:  # a new run: before the windows are cut (float64, then a float32 copy)
            check_memory(
                cfg, self.input_spec, self.output_size, windows * d.lookback * len(series.columns) * 12, device, self.home
            )
        self.normalized = scaler.transform(series.values)
        self.train_x, self.train_y = self.tensors("train")
        self.val = self.tensors("val") if "val" in self.windows else None
        self.loss_fn = REGRESSION_LOSSES[cfg.loss]
        self.step_factor = None
        if cfg.balances_steps:  # on the float32 values the windows hold
            target = self.normalized[:, series.target_index].astype(np.float32)
            persisted = persistence(target, self.windows["train"].starts, d.lookback, self.steps)
            self.step_factor = step_factors(self.train_y, persisted)
        # The loss of always predicting the training mean: where a model that learned nothing sits.
        self.prior_loss = float(self.loss(torch.full_like(self.train_y, float(self.train_y.mean())), self.train_y))

    @classmethod
    def create(cls, cfg: Config, device: torch.device, events=None) -> ForecastTask:
        series = series_of(cfg.data, events=events)
        train_rows = split_bounds(len(series.values), cfg.data.val_split, cfg.data.test_split)["train"]
        scaler = Scaler.fit(series.values[train_rows[0] : train_rows[1]], cfg.data.normalize)  # train rows only: no leakage
        return cls(cfg, series, scaler, device, fits=True)

    @classmethod
    def restore(cls, cfg: Config, preprocessing: dict[str, Any], device: torch.device, events=None) -> ForecastTask:
        return cls(cfg, series_of(cfg.data, events=events), Scaler.from_dict(preprocessing["scaler"]), device)

    @property
    def preprocessing(self) -> dict[str, Any]:
        d = self.cfg.data
        return {
            "task": self.kind,
            "columns": self.series.columns,
            "target": self.series.target,
            "lookback": d.lookback,
            "horizon": d.horizon,
            "multi_output": d.multi_output,
            "scaler": self.scaler.to_dict(),
            "residual": d.residual,  # inside the model (framing.py): what its outputs add to the network's
            "window_scale": d.scales_window,
            "seasonal_input": d.seasonal_input,  # a channel the model adds (framing.py)
            "calendar": d.calendar,  # the last columns: from the time column (data/calendar.py)
        }

    @property
    def input_spec(self) -> dict[str, Any]:
        d = self.cfg.data
        spec = {"kind": "features", "num_features": len(self.series.columns), "seq_len": d.lookback}
        frame = frame_spec(
            self.series.target_index, d.lookback, self.steps.tolist(), d.residual, d.season, d.scales_window, d.seasonal_input
        )
        return spec if frame is None else {**spec, "frame": frame}  # without: built as every run before the keys

    @property
    def output_size(self) -> int:
        return len(self.steps)

    @property
    def train_fingerprint(self) -> str:
        return self.series.fingerprint()

    def tensors(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = window_arrays(
            self.normalized, self.windows[split].starts, self.cfg.data.lookback, self.steps, self.series.target_index
        )
        return torch.from_numpy(x).to(self.home), torch.from_numpy(y).to(self.home)

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """train.loss on normalized values; with train.balance_steps, each step ahead's outputs and
        targets first multiplied by its factor (step_factors)."""
        if self.step_factor is None:
            return self.loss_fn(outputs, targets)
        factor = self.step_factor.to(outputs.device)
        return self.loss_fn(outputs * factor, targets * factor)

    baseline = "linear_ar"

    def baseline_forecast(self, split: str) -> np.ndarray:
        """Forecasts in the target's units of a ridge regression on the lookback window, fitted on the training windows."""
        x, y = (t.cpu().numpy() for t in (self.train_x, self.train_y))
        ex, _ = window_arrays(
            self.normalized, self.windows[split].starts, self.cfg.data.lookback, self.steps, self.series.target_index
        )
        return self.to_units(baselines.linear_autoregressive(x.astype(np.float64), y.astype(np.float64), ex.astype(np.float64)))

    def baseline_scores(self, split: str, truth: np.ndarray, fit: bool = True) -> dict[str, dict[str, Any]]:
        """Persistence, seasonal naive (with data.season) and, with ``fit``, the linear model,
        exponential smoothing and a seasonal ARIMA (fitted on the training rows, then run with
        their parameters fixed), each scored against ``truth`` (the split's targets in their units)
        over all its steps and per step ahead: what evaluate reports and the validation lines of
        curves.png show."""
        return {
            name: {**facts, **regression_scores(truth, forecast), "per_step": self.per_step(truth, forecast)}
            for name, (forecast, facts) in self.baseline_forecasts(split, fit).items()
        }

    def baseline_forecasts(self, split: str, fit: bool = True) -> dict[str, tuple[np.ndarray, dict[str, Any]]]:
        """Each baseline's forecasts [windows, steps] of the split, in the target's units, and the
        facts evaluate records beside its scores (a season, the form statsmodels chose)."""
        d, starts = self.cfg.data, self.windows[split].starts
        raw = self.series.values[:, self.series.target_index]
        found: dict[str, tuple[np.ndarray, dict[str, Any]]] = {
            "persistence": (persistence(raw, starts, d.lookback, self.steps), {})
        }
        if d.season:
            found["seasonal_naive"] = (seasonal_naive(raw, starts, d.lookback, self.steps, d.season), {"season": d.season})
        if fit:
            found[self.baseline] = (self.baseline_forecast(split), {})
            origins, train_end = starts + d.lookback - 1, self.bounds["train"][1]
            for name, method in (("ets", statistical.ets), ("sarima", statistical.sarima)):
                started = time.perf_counter()
                made = method(raw, train_end, origins, self.steps, d.season)
                if made is not None:  # a training part too short to fit it: left out
                    found[name] = (made.values, {"model": made.spec, "fit_seconds": round(time.perf_counter() - started, 3)})
        return found

    def per_step(self, truth: np.ndarray, forecast: np.ndarray) -> list[dict[str, Any]]:
        """The scores of each step ahead (a column of ``truth`` and ``forecast``)."""
        return [{"steps_ahead": int(h), **regression_scores(truth[:, i], forecast[:, i])} for i, h in enumerate(self.steps)]

    def validation_baselines(self) -> dict[str, dict[str, float]]:
        """The baselines' val_mae and val_rmse: the lines curves.png draws beside the model's curve of
        the same metric."""
        if self.val is None:
            return {}
        scores = self.baseline_scores("val", self.to_units(self.val[1].cpu().numpy()))
        return {f"val_{m}": {name: s[m] for name, s in scores.items()} for m in ("mae", "rmse")}

    def to_units(self, values: np.ndarray) -> np.ndarray:
        """Normalized target values back in the target column's own units."""
        return self.scaler.inverse_column(values.astype(np.float64), self.series.target_index)

    def validate(self, model) -> dict[str, float]:
        if self.val is None:
            return {}
        vx, vy = self.val
        pred = self.predict(model, vx)
        scores = regression_scores(self.to_units(vy.cpu().numpy()), self.to_units(pred.cpu().numpy()))
        return {"val_loss": float(self.loss(pred, vy).item()), "val_mae": scores["mae"], "val_rmse": scores["rmse"]}

    def summary(self) -> dict[str, Any]:
        return {
            "task": self.kind,
            "sources": {"series": self.series.source},
            "columns": self.series.columns,
            "target": self.series.target,
            "rows": {name: b[1] - b[0] for name, b in self.bounds.items()},
            "windows": {name: len(w) for name, w in self.windows.items()},
            "time_range": {name: [self.series.time[b[0]], self.series.time[b[1] - 1]] for name, b in self.bounds.items()}
            if self.series.time
            else None,
            "scaler": self.scaler.to_dict(),
            "fingerprints": {"train": self.series.fingerprint()},
        }

    @staticmethod
    def describe(summary: dict[str, Any]) -> list[str]:
        """What the CLI shows of the data when a run starts (from summary())."""
        rows = ", ".join(f"{k} {n} rows / {summary['windows'][k]} windows" for k, n in summary["rows"].items())
        span = summary.get("time_range") or {}
        when = f"; train {span['train'][0]} .. {span['train'][1]}" if "train" in span else ""
        return [f"series: {rows}; target {summary['target']}, inputs {', '.join(summary['columns'])}{when}"]

    def evaluate(self, model, split: str, meta: dict[str, Any], fit: bool, data_file=None, want_rows: bool = False):
        """Scores on a split's windows, in the target's units, beside persistence, seasonal naive and,
        with ``fit``, the linear model; no per-example rows."""
        if data_file is not None or want_rows:
            raise RunDirError(
                "--data and --predictions are for classification runs; a forecasting run is scored on its own series' splits"
            )
        d = self.cfg.data
        if split not in self.windows:
            raise DataError(f"this run has no {split} split (set data.{split}_split > 0)")
        starts = self.windows[split].starts
        x, y = window_arrays(self.normalized, starts, d.lookback, self.steps, self.series.target_index)
        pred = self.predict(model, torch.from_numpy(x).to(self.home)).cpu().numpy()
        truth_units, pred_units = self.to_units(y), self.to_units(pred)
        simple = self.baseline_scores(split, truth_units, fit)
        scores = regression_scores(truth_units, pred_units)
        per_step = self.per_step(truth_units, pred_units)
        recorded = meta.get("data", {}).get("fingerprints", {}).get("train")
        report = {
            "task": self.kind,
            "split": split,
            "source": self.series.source,
            "target": self.series.target,
            "windows": int(len(starts)),
            "steps_ahead": self.steps.tolist(),
            "data_matches_training": recorded == self.series.fingerprint() if recorded else None,
            "loss": float(self.loss(torch.from_numpy(pred), torch.from_numpy(y)).item()),
            **scores,
            "per_step": per_step,
            "baselines": simple,
            "beats_persistence": scores["mae"] < simple["persistence"]["mae"],
            "verdict": verdict(scores["mae"], {k: b["mae"] for k, b in simple.items()}, "mae"),
        }
        return report, None

    @staticmethod
    def predict_inputs(cfg: Config, prep: dict[str, Any], model, device, texts=None, file=None) -> dict[str, Any]:
        """The next horizon values after the last row of the CSV ``file``, from its last lookback rows,
        each with its timestamp when the run has a time column (timestamps.step_times)."""
        if file is None:
            raise RunDirError("a forecasting run predicts from a CSV of the series: give it with --file")
        path = Path(file)
        columns, target = prep["columns"], prep["target"]
        made = calendar_columns(prep.get("calendar", []))  # from the time column, not read from the file
        features = [c for c in columns if c != target and c not in made] or None
        time_column = time_column_of(cfg.data)
        update = {"dataset": None, "train_file": str(path), "target": target, "features": [target, *(features or [])]}
        data = cfg.data.model_copy(update={**update, "time_column": time_column})
        # A built-in series' run never asked for a time column: a file without one has no timestamps.
        series = load_series(data, time_optional=cfg.data.dataset is not None)
        lookback = int(prep["lookback"])
        if len(series.values) < lookback:
            raise DataError(f"{path}: {len(series.values)} rows, but the model reads the last {lookback} (data.lookback)")
        scaler = Scaler.from_dict(prep["scaler"])
        window = scaler.transform(series.values[-lookback:])[None].astype(np.float32)
        out = predict_logits(model, torch.from_numpy(window).to(device)).cpu().numpy().astype(np.float64)
        values = scaler.inverse_column(out, columns.index(target))[0]
        steps = [int(h) for h in target_steps(int(prep["horizon"]), bool(prep["multi_output"]))]
        res = {
            "source": str(path),
            "target": target,
            "last_time": series.time[-1] if series.time else None,
            "rows_used": lookback,
            "forecast": [{"steps_ahead": h, "value": float(v)} for h, v in zip(steps, values)],
        }
        if series.time:
            when = step_times(series.time, steps, f"{path} column {time_column!r}")
            res["notes"] = [when.note] if when.note else []
            if when.times is not None:
                res["time_step"] = {"column": time_column, "step": when.step, "inferred_by": when.inferred_by}
                res["forecast"] = [{"timestamp": t, **row} for t, row in zip(when.times, res["forecast"])]
        return res
