"""What differs between tasks: inputs, targets, loss, validation metrics, and what is saved.

The training recipe is the same loop for every task; it asks its task for the batches of an
epoch, the tensors of a batch, the loss, and the validation row. Batches (and any augmentation)
are pure functions of (seed, epoch, batch), which is what makes resume exact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from . import baselines
from .config import Config
from .data import (
    Preprocessor,
    Splits,
    Table,
    _label_sort_key,
    augment_batch,
    bucket_batches,
    class_counts,
    epoch_batches,
    load_splits,
    padded_share,
    positive_index,
    read_table,
    sequence_lengths,
    split_three,
    trim_padding,
)
from .errors import DataError
from .metrics import macro_f1
from .model import check_memory, predict_logits
from .series import (
    Scaler,
    SequenceSet,
    Series,
    load_sequence_sets,
    load_series,
    pad_sequences,
    persistence,
    read_sequences,
    regression_scores,
    seasonal_naive,
    split_bounds,
    target_steps,
    window_arrays,
    window_starts,
)

REGRESSION_LOSSES = {"mse": F.mse_loss, "mae": F.l1_loss, "huber": F.huber_loss}


def _task_class(cfg: Config):
    return {"text_classification": TextTask, "forecasting": ForecastTask, "sequence_classification": SequenceTask}[cfg.data.task]


def create_task(cfg: Config, device: torch.device):
    """A new run: read the data and fit preprocessing on the training split."""
    return _task_class(cfg).create(cfg, device)


def restore_task(cfg: Config, preprocessing: dict[str, Any], device: torch.device):
    """A resumed or evaluated run: read the data, reuse the run's saved preprocessing."""
    return _task_class(cfg).restore(cfg, preprocessing, device)


def prior_entropy(targets: torch.Tensor, num_classes: int) -> float:
    """The loss of predicting the class frequencies: where a classifier that learned nothing else sits."""
    counts = np.bincount(targets.cpu().numpy(), minlength=num_classes) / max(1, len(targets))
    return float(-(counts[counts > 0] * np.log(counts[counts > 0])).sum())


def classification_metrics(logits: torch.Tensor, targets: torch.Tensor, num_classes: int) -> dict[str, float]:
    pred, truth = logits.argmax(dim=1).cpu().numpy(), targets.cpu().numpy()
    return {
        "val_loss": float(F.cross_entropy(logits, targets).item()),
        "val_accuracy": float((pred == truth).mean()),
        "val_f1": macro_f1(truth, pred, num_classes),
    }


class TextTask:
    kind = "text_classification"
    metric_columns = ["val_accuracy", "val_f1"]

    def __init__(self, cfg: Config, splits: Splits, prep: Preprocessor, device: torch.device, fits: bool = False):
        self.cfg, self.splits, self.prep, self.device = cfg, splits, prep, device
        if fits:  # a new run: before the padded arrays are made
            examples = len(splits.train) + (len(splits.val) if splits.val is not None else 0)
            check_memory(cfg, self.input_spec, self.output_size, examples * prep.maxlen * 8, device)
        self.train_np = prep.encode_texts(splits.train.texts)
        self.train_lengths = sequence_lengths(self.train_np)
        self.train_x = torch.from_numpy(self.train_np).to(device)
        self.train_y = torch.from_numpy(prep.encode_labels(splits.train)).to(device)
        self.val = self.tensors(splits.val) if splits.val is not None else None
        self.prior_loss = prior_entropy(self.train_y, prep.num_classes)

    @classmethod
    def create(cls, cfg: Config, device: torch.device) -> TextTask:
        splits = load_splits(cfg.data)
        prep = Preprocessor.fit(splits.train, cfg.data)
        prep.positive_index(cfg.data.positive_label)  # a wrong data.positive_label fails now, not at evaluate
        return cls(cfg, splits, prep, device, fits=True)

    @classmethod
    def restore(cls, cfg: Config, preprocessing: dict[str, Any], device: torch.device) -> TextTask:
        return cls(cfg, load_splits(cfg.data), Preprocessor.from_dict(preprocessing), device)

    @property
    def preprocessing(self) -> dict[str, Any]:
        return {"task": self.kind, **self.prep.to_dict()}

    @property
    def input_spec(self) -> dict[str, Any]:
        return {"kind": "tokens", "vocab_size": len(self.prep.vocab), "seq_len": self.prep.maxlen}

    @property
    def output_size(self) -> int:
        return self.prep.num_classes

    @property
    def train_fingerprint(self) -> str:
        return self.splits.train.fingerprint()

    @property
    def labels(self) -> list[str]:
        return self.prep.labels

    def positive_index(self, positive_label: str | None) -> int | None:
        return self.prep.positive_index(positive_label)

    def split_examples(self, split: str) -> Table:
        return self.splits.get(split)

    def file_examples(self, path: Path) -> Table:
        return read_table(path, self.cfg.data)

    baseline = "tfidf_logreg"

    def baseline_predict(self, table: Table) -> np.ndarray:
        """Class indices from TF-IDF + logistic regression fitted on this run's training split."""
        return baselines.tfidf_logreg(self.splits.train.texts, self.train_y.cpu().numpy(), table.texts, self.prep.lowercase)

    def validation_baselines(self) -> dict[str, dict[str, float]]:
        """The baselines' val_accuracy: the lines curves.png draws beside the model's."""
        return {} if self.val is None else _classification_lines(self, self.splits.val, self.val[1])

    def tensors(self, table: Table) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.from_numpy(self.prep.encode_texts(table.texts)).to(self.device)
        return x, torch.from_numpy(self.prep.encode_labels(table)).to(self.device)

    def batches(self, epoch: int) -> list[np.ndarray]:
        tc = self.cfg.train
        if self.cfg.data.bucket:
            return bucket_batches(self.train_lengths, tc.batch_size, tc.seed, epoch)
        return epoch_batches(len(self.train_lengths), tc.batch_size, tc.seed, epoch)

    def batch(self, rows: np.ndarray, epoch: int, b: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets of one training batch: augmented and, when bucketing, cut to its longest example."""
        data, prep = self.cfg.data, self.prep
        idx = torch.from_numpy(rows).to(self.device)
        aug = data.augment
        if aug.enabled:
            rng = np.random.default_rng([self.cfg.train.seed, epoch, b, 2])  # a pure function of the position
            arr = augment_batch(
                self.train_np[rows], prep.padding, prep.truncating, len(prep.vocab), aug.insert, aug.delete, aug.swap, rng
            )
            if data.bucket:
                arr = trim_padding(arr, sequence_lengths(arr).max(), prep.padding)
            return torch.from_numpy(np.ascontiguousarray(arr)).to(self.device), self.train_y[idx]
        tokens = self.train_x[idx]
        if data.bucket:
            tokens = trim_padding(tokens, self.train_lengths[rows].max(), prep.padding)
        return tokens, self.train_y[idx]

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(outputs, targets)

    def predict(self, model, x: torch.Tensor) -> torch.Tensor:
        return predict_logits(model, x, padding=self.prep.padding if self.cfg.data.bucket else None)

    def validate(self, model) -> dict[str, float]:
        if self.val is None:
            return {}
        vx, vy = self.val
        return classification_metrics(self.predict(model, vx), vy, self.prep.num_classes)

    def summary(self) -> dict[str, Any]:
        splits, prep, cfg = self.splits, self.prep, self.cfg
        tables = {k: t for k, t in {"train": splits.train, "val": splits.val, "test": splits.test}.items() if t is not None}
        lengths = {k: prep.summary(t) for k, t in tables.items()}
        if cfg.data.bucket:
            batches = bucket_batches(self.train_lengths, cfg.train.batch_size, cfg.train.seed, 0)
            lengths["train"]["padding_share_bucketed"] = padded_share(self.train_lengths, batches, prep.maxlen)
        return {
            "task": self.kind,
            "sources": {k: t.source for k, t in tables.items()},
            "vocab_size": len(prep.vocab),
            "labels": prep.labels,
            "class_counts": {k: class_counts(t) for k, t in tables.items()},
            "fingerprints": {k: t.fingerprint() for k, t in tables.items()},
            "lengths": lengths,
        }


class _WholeTensors:
    """Batches for tasks whose training inputs are one tensor (windows, padded sequences): plain
    shuffled batches, rows picked by index, no padding games at prediction."""

    def batches(self, epoch: int) -> list[np.ndarray]:
        return epoch_batches(len(self.train_y), self.cfg.train.batch_size, self.cfg.train.seed, epoch)

    def batch(self, rows: np.ndarray, epoch: int, b: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.from_numpy(rows).to(self.device)
        return self.train_x[idx], self.train_y[idx]

    def predict(self, model, x: torch.Tensor) -> torch.Tensor:
        return predict_logits(model, x)


class ForecastTask(_WholeTensors):
    kind = "forecasting"
    metric_columns = ["val_mae", "val_rmse"]

    def __init__(self, cfg: Config, series: Series, scaler: Scaler, device: torch.device, fits: bool = False):
        d = cfg.data
        self.cfg, self.series, self.scaler, self.device = cfg, series, scaler, device
        self.bounds = split_bounds(len(series.values), d.val_split, d.test_split)
        self.windows = {name: window_starts(b, d.lookback, d.horizon, d.stride, name) for name, b in self.bounds.items()}
        self.steps = target_steps(d.horizon, d.multi_output)
        if fits:  # a new run: before the windows are cut (float64, then a float32 copy)
            windows = sum(len(self.windows[k]) for k in ("train", "val") if k in self.windows)
            check_memory(cfg, self.input_spec, self.output_size, windows * d.lookback * len(series.columns) * 12, device)
        self.normalized = scaler.transform(series.values)
        self.train_x, self.train_y = self.tensors("train")
        self.val = self.tensors("val") if "val" in self.windows else None
        self.loss_fn = REGRESSION_LOSSES[cfg.loss]
        # The loss of always predicting the training mean: where a model that learned nothing sits.
        self.prior_loss = float(self.loss_fn(torch.full_like(self.train_y, float(self.train_y.mean())), self.train_y))

    @classmethod
    def create(cls, cfg: Config, device: torch.device) -> ForecastTask:
        series = load_series(cfg.data)
        train_rows = split_bounds(len(series.values), cfg.data.val_split, cfg.data.test_split)["train"]
        scaler = Scaler.fit(series.values[train_rows[0] : train_rows[1]], cfg.data.normalize)  # train rows only: no leakage
        return cls(cfg, series, scaler, device, fits=True)

    @classmethod
    def restore(cls, cfg: Config, preprocessing: dict[str, Any], device: torch.device) -> ForecastTask:
        return cls(cfg, load_series(cfg.data), Scaler.from_dict(preprocessing["scaler"]), device)

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
        }

    @property
    def input_spec(self) -> dict[str, Any]:
        return {"kind": "features", "num_features": len(self.series.columns), "seq_len": self.cfg.data.lookback}

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
        return torch.from_numpy(x).to(self.device), torch.from_numpy(y).to(self.device)

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.loss_fn(outputs, targets)

    baseline = "linear_ar"

    def baseline_forecast(self, split: str) -> np.ndarray:
        """Forecasts in the target's units of a ridge regression on the lookback window, fitted on the training windows."""
        x, y = (t.cpu().numpy() for t in (self.train_x, self.train_y))
        ex, _ = window_arrays(
            self.normalized, self.windows[split].starts, self.cfg.data.lookback, self.steps, self.series.target_index
        )
        return self.to_units(baselines.linear_autoregressive(x.astype(np.float64), y.astype(np.float64), ex.astype(np.float64)))

    def baseline_scores(self, split: str, truth: np.ndarray, fit: bool = True) -> dict[str, dict[str, Any]]:
        """Persistence, seasonal naive (with data.season) and, with ``fit``, the linear model, scored
        against ``truth`` (the split's targets in their units): what evaluate reports and the
        validation lines of curves.png show."""
        d, starts = self.cfg.data, self.windows[split].starts
        raw = self.series.values[:, self.series.target_index]
        scores: dict[str, dict[str, Any]] = {
            "persistence": regression_scores(truth, persistence(raw, starts, d.lookback, self.steps))
        }
        if d.season:
            seasonal = seasonal_naive(raw, starts, d.lookback, self.steps, d.season)
            scores["seasonal_naive"] = {"season": d.season, **regression_scores(truth, seasonal)}
        if fit:
            scores[self.baseline] = regression_scores(truth, self.baseline_forecast(split))
        return scores

    def validation_baselines(self) -> dict[str, dict[str, float]]:
        """The baselines' val_mae: the lines curves.png draws beside the model's."""
        if self.val is None:
            return {}
        scores = self.baseline_scores("val", self.to_units(self.val[1].cpu().numpy()))
        return {"val_mae": {name: s["mae"] for name, s in scores.items()}}

    def to_units(self, values: np.ndarray) -> np.ndarray:
        """Normalized target values back in the target column's own units."""
        return self.scaler.inverse_column(values.astype(np.float64), self.series.target_index)

    def validate(self, model) -> dict[str, float]:
        if self.val is None:
            return {}
        vx, vy = self.val
        pred = self.predict(model, vx)
        scores = regression_scores(self.to_units(vy.cpu().numpy()), self.to_units(pred.cpu().numpy()))
        return {"val_loss": float(self.loss_fn(pred, vy).item()), "val_mae": scores["mae"], "val_rmse": scores["rmse"]}

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


class SequenceTask(_WholeTensors):
    """Label whole multichannel numeric sequences (variable length: padded with NaN, which the model masks)."""

    kind = "sequence_classification"
    metric_columns = ["val_accuracy", "val_f1"]

    def __init__(
        self,
        cfg: Config,
        splits: tuple,
        labels: list[str],
        seq_len: int,
        scaler: Scaler,
        device: torch.device,
        fits: bool = False,
    ):
        self.cfg, self.device, self.labels, self.seq_len, self.scaler = cfg, device, labels, seq_len, scaler
        self.splits = dict(zip(("train", "val", "test"), splits))
        self._index = {y: i for i, y in enumerate(labels)}
        self.channels = self.splits["train"].channels
        if fits:  # a new run: before the padded arrays are made
            examples = sum(len(self.splits[k]) for k in ("train", "val") if self.splits[k] is not None)
            check_memory(cfg, self.input_spec, self.output_size, examples * seq_len * len(self.channels) * 4, device)
        self.train_x, self.train_y = self.tensors(self.splits["train"])
        self.val = self.tensors(self.splits["val"]) if self.splits["val"] is not None else None
        self.prior_loss = prior_entropy(self.train_y, len(labels))

    @classmethod
    def create(cls, cfg: Config, device: torch.device) -> SequenceTask:
        d = cfg.data
        splits = _sequence_splits(cfg)
        train = splits[0]
        labels = sorted(set(train.labels), key=_label_sort_key)
        if len(labels) < 2:
            raise DataError(f"{train.source}: a single class {labels!r}; classification needs two or more")
        seq_len = min(d.maxlen, max(len(s) for s in train.sequences))
        scaler = Scaler.fit(np.concatenate(train.sequences), d.normalize)  # training steps only: no leakage
        return cls(cfg, splits, labels, seq_len, scaler, device, fits=True)

    @classmethod
    def restore(cls, cfg: Config, preprocessing: dict[str, Any], device: torch.device) -> SequenceTask:
        p = preprocessing
        return cls(cfg, _sequence_splits(cfg), list(p["labels"]), int(p["seq_len"]), Scaler.from_dict(p["scaler"]), device)

    @property
    def preprocessing(self) -> dict[str, Any]:
        d = self.cfg.data
        return {
            "task": self.kind,
            "channels": self.channels,
            "labels": self.labels,
            "seq_len": self.seq_len,
            "padding": "post",
            "truncating": d.truncating,
            "scaler": self.scaler.to_dict(),
        }

    @property
    def input_spec(self) -> dict[str, Any]:
        # padded: NaN steps after each sequence's own (the model reads the real steps only).
        return {"kind": "features", "num_features": len(self.channels), "seq_len": self.seq_len, "padded": True}

    @property
    def output_size(self) -> int:
        return len(self.labels)

    @property
    def train_fingerprint(self) -> str:
        return self.splits["train"].fingerprint()

    def positive_index(self, positive_label: str | None) -> int | None:
        return positive_index(self.labels, positive_label)

    def split_examples(self, split: str) -> SequenceSet:
        if self.splits.get(split) is None:
            raise DataError(f"this run has no {split} split (set data.{split}_split > 0 or data.{split}_file)")
        return self.splits[split]

    def file_examples(self, path: Path) -> SequenceSet:
        return read_sequences(path, self.cfg.data)

    baseline = "summary_logreg"

    def baseline_predict(self, examples: SequenceSet) -> np.ndarray:
        """Class indices from logistic regression on per-channel summaries, fitted on this run's training split."""
        return baselines.summary_logreg(self.splits["train"].sequences, self.train_y.cpu().numpy(), examples.sequences)

    def validation_baselines(self) -> dict[str, dict[str, float]]:
        """The baselines' val_accuracy: the lines curves.png draws beside the model's."""
        return {} if self.val is None else _classification_lines(self, self.splits["val"], self.val[1])

    def tensors(self, examples: SequenceSet) -> tuple[torch.Tensor, torch.Tensor]:
        x = sequence_inputs(examples, self.preprocessing, self.device)
        try:
            y = torch.tensor([self._index[label] for label in examples.labels], dtype=torch.long, device=self.device)
        except KeyError as e:
            raise DataError(
                f"{examples.source}: label {e.args[0]!r} not seen in training (known: {', '.join(self.labels)})"
            ) from None
        return x, y

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(outputs, targets)

    def validate(self, model) -> dict[str, float]:
        if self.val is None:
            return {}
        vx, vy = self.val
        return classification_metrics(self.predict(model, vx), vy, len(self.labels))

    def summary(self) -> dict[str, Any]:
        sets = {k: v for k, v in self.splits.items() if v is not None}
        notes = list(dict.fromkeys(note for v in sets.values() for note in v.notes))
        lengths = {}
        for name, v in sets.items():
            n = np.array([len(seq) for seq in v.sequences])
            cut = cut_sequences(v, self.preprocessing)
            lengths[name] = {
                "min": int(n.min()),
                "median": int(np.median(n)),
                "max": int(n.max()),
                "truncated": cut["sequences"] if cut else 0,
            }
            if cut:
                notes.append(f"{name} split: {cut['note']}")
        return {
            "task": self.kind,
            "sources": {k: v.source for k, v in sets.items()},
            "channels": self.channels,
            "labels": self.labels,
            "seq_len": self.seq_len,
            "class_counts": {k: {y: v.labels.count(y) for y in self.labels if y in v.labels} for k, v in sets.items()},
            "lengths": lengths,
            "fingerprints": {k: v.fingerprint() for k, v in sets.items()},
            "notes": notes,
        }


_FITTED: dict[tuple[str, str, str], dict[str, dict[str, float]]] = {}


def validation_baselines(task) -> dict[str, dict[str, float]]:
    """task.validation_baselines(), fitted once per process for the same data: a sweep's trials share
    their data, so a worker fits the baselines once, not once per trial."""
    key = (task.kind, task.train_fingerprint, json.dumps(task.cfg.data.model_dump(mode="json"), sort_keys=True))
    if key not in _FITTED:
        _FITTED[key] = task.validation_baselines()
    return {metric: dict(lines) for metric, lines in _FITTED[key].items()}


def _classification_lines(task, examples, truth: torch.Tensor) -> dict[str, dict[str, float]]:
    truth = truth.cpu().numpy()
    counts = np.bincount(task.train_y.cpu().numpy(), minlength=len(task.labels))
    predicts, _ = baselines.majority({label: int(n) for label, n in zip(task.labels, counts)}, task.labels)
    lines = {"majority_class": float((truth == task.labels.index(predicts)).mean())}
    lines[task.baseline] = float((task.baseline_predict(examples) == truth).mean())
    return {"val_accuracy": lines}


def sequence_inputs(examples: SequenceSet, preprocessing: dict[str, Any], device: torch.device) -> torch.Tensor:
    """The model's input for sequences, made from the run's saved preprocessing alone: training,
    evaluate and predict all make it here, so the same sequences get the same answers."""
    channels = list(preprocessing["channels"])
    if examples.channels != channels:
        raise DataError(f"{examples.source}: channels {examples.channels} differ from the run's {channels}")
    scaler = Scaler.from_dict(preprocessing["scaler"])
    scaled = [scaler.transform(s) for s in examples.sequences]
    # Padded at the end, always: the model masks padded steps, and with post-padding the forward
    # state at a sequence's last real step is exactly the unpadded one.
    padded = pad_sequences(scaled, int(preprocessing["seq_len"]), "post", preprocessing["truncating"])
    return torch.from_numpy(padded).to(device)


def cut_sequences(examples: SequenceSet, preprocessing: dict[str, Any]) -> dict[str, Any] | None:
    """How many sequences are longer than the model's steps, and so were cut (data.truncating)."""
    seq_len = int(preprocessing["seq_len"])
    cut = sum(len(s) > seq_len for s in examples.sequences)
    if not cut:
        return None
    keeps = "last" if preprocessing["truncating"] == "pre" else "first"
    return {
        "sequences": int(cut),
        "of": len(examples),
        "seq_len": seq_len,
        "longest": max(len(s) for s in examples.sequences),
        "note": f"{cut} of {len(examples)} sequences are longer than the model's {seq_len} steps: each was cut to "
        f"its {keeps} {seq_len} (data.truncating {preprocessing['truncating']}; seq_len is the longest training "
        "sequence, at most data.maxlen)",
    }


def _sequence_splits(cfg: Config) -> tuple:
    d = cfg.data
    train, test = load_sequence_sets(d)
    read_val = (lambda: read_sequences(Path(d.val_file), d)) if d.val_file else None
    return split_three(train, test, d, read_val)
