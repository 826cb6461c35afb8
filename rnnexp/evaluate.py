"""Scoring a run's checkpoint on a split or a file, next to the baselines a model must beat:
the majority class for classification; persistence ("tomorrow = today") and, with a season,
seasonal naive for forecasting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from . import baselines as simple_models
from . import checkpoint
from .config import direction_of
from .data import Preprocessor
from .errors import DataError, RunDirError
from .metrics import classification_scores
from .model import model_from_checkpoint, predict_logits, resolve_device
from .rundir import RunDir, write_json, write_text
from .series import (
    Scaler,
    load_series,
    read_sequences,
    regression_scores,
    target_steps,
    window_arrays,
)
from .tasks import ForecastTask, cut_sequences, restore_task, sequence_inputs


def evaluate(
    run_path: str | Path,
    which: str = "auto",
    split: str = "test",
    data_file: str | Path | None = None,
    predictions: str | Path | None = None,
    fit_baselines: bool | None = None,
) -> dict[str, Any]:
    """Score a checkpoint of the run (best, last, or auto = as early_stopping.restore_best says),
    write eval_<split>.json (eval_file-<stem>.json for --data) and return the report. With
    ``predictions``, also a CSV of every example's prediction (classification). ``fit_baselines``
    (default: train.baselines) fits the simple models of rnnexp/baselines.py on the training split."""
    run = RunDir.open(run_path)
    cfg = run.load_config()
    meta = run.read_json(run.meta)
    which, state = load_checkpoint(run, cfg, which)
    if split not in ("test", "val"):
        raise RunDirError(f"--split {split!r}: expected test or val")
    device = resolve_device(cfg.train.device)
    task = restore_task(cfg, state["preprocessing"], device)
    model = model_from_checkpoint(state, device)
    head = {"run_dir": str(run.path), "checkpoint": which, "checkpoint_epoch": int(state["epoch"])}
    fit = cfg.train.baselines if fit_baselines is None else fit_baselines
    if isinstance(task, ForecastTask):
        if data_file is not None or predictions is not None:
            raise RunDirError(
                "--data and --predictions are for classification runs; a forecasting run is scored on its own series' splits"
            )
        report = {**head, **_forecast_report(task, model, split, meta, fit)}
    else:
        scored, rows = _classification_report(task, model, split, data_file, meta, fit)
        report = {**head, **scored}
        if predictions is not None:
            write_predictions(Path(predictions), rows, task.labels)
            report["predictions_file"] = str(predictions)
    write_json(run.eval_file(report["split"]), report)
    return report


def load_checkpoint(run: RunDir, cfg, which: str) -> tuple[str, dict[str, Any]]:
    """(best|last, its state): auto is best when train.early_stopping.restore_best says so. The
    checkpoint must pass its checksum and belong to this run (meta.json's run_id): a damaged best.pt
    is an error naming it, never a score of other weights."""
    if which not in ("auto", "best", "last"):
        raise RunDirError(f"--checkpoint {which!r}: expected auto, best or last")
    if which == "auto":
        which = "best" if cfg.train.early_stopping.restore_best and run.best.is_file() else "last"
    run_id = run.read_json(run.meta).get("run_id") if run.meta.is_file() else None
    return which, checkpoint.load(run.best if which == "best" else run.last, run_id)


def predict(
    run_path: str | Path, texts: list[str] | None = None, series_file: str | Path | None = None, which: str = "auto"
) -> dict[str, Any]:
    """Apply a run's checkpoint to new inputs with the run's saved preprocessing: texts -> label and
    class probabilities (text classification); a long-format CSV or a folder of CSV files ->
    label per sequence (sequence classification; no label column needed); a CSV of the series ->
    the next values after its last row (forecasting). The training data is not needed."""
    run = RunDir.open(run_path)
    cfg = run.load_config()
    which, state = load_checkpoint(run, cfg, which)
    prep = state["preprocessing"]
    device = resolve_device(cfg.train.device)
    model = model_from_checkpoint(state, device)
    head = {"run_dir": str(run.path), "checkpoint": which, "checkpoint_epoch": int(state["epoch"]), "task": prep["task"]}
    if prep["task"] == "text_classification":
        if texts is None:
            raise RunDirError("a text classification run predicts texts: give them as arguments, with --file, or on stdin")
        pre = Preprocessor.from_dict(prep)
        x = torch.from_numpy(pre.encode_texts(texts)).to(device)
        logits = predict_logits(model, x, padding=pre.padding if cfg.data.bucket else None)
        rows = []
        for row in prediction_rows(texts, logits, pre.labels):
            text = row.pop("id")
            rows.append({"text": text, **row, **pre.reading(text)})
        return {**head, "labels": pre.labels, "maxlen": pre.maxlen, "predictions": rows}
    if prep["task"] == "sequence_classification":
        if series_file is None:
            raise RunDirError(
                "a sequence classification run predicts sequences: give a long-format CSV or a folder of CSV files with --file"
            )
        examples = read_sequences(Path(series_file), cfg.data, labelled=False)
        logits = predict_logits(model, sequence_inputs(examples, prep, device))
        rows = prediction_rows(examples.ids, logits, list(prep["labels"]))
        cut = cut_sequences(examples, prep)
        return {
            **head,
            "source": examples.source,
            "labels": list(prep["labels"]),
            "predictions": rows,
            "truncated": cut,
            "notes": examples.notes,
        }
    if prep["task"] == "forecasting":
        if series_file is None:
            raise RunDirError("a forecasting run predicts from a CSV of the series: give it with --file")
        return {**head, **_forecast_next(cfg, prep, model, Path(series_file), device)}
    raise RunDirError(f"this run's task {prep['task']!r} is not one predict knows")


def _forecast_next(cfg, prep: dict[str, Any], model, path: Path, device) -> dict[str, Any]:
    """The next horizon values after the last row of the CSV, from its last lookback rows."""
    columns, target = prep["columns"], prep["target"]
    features = [c for c in columns if c != target] or None
    data = cfg.data.model_copy(
        update={"dataset": None, "train_file": str(path), "target": target, "features": [target, *(features or [])]}
    )
    series = load_series(data)
    lookback = int(prep["lookback"])
    if len(series.values) < lookback:
        raise DataError(f"{path}: {len(series.values)} rows, but the model reads the last {lookback} (data.lookback)")
    scaler = Scaler.from_dict(prep["scaler"])
    window = scaler.transform(series.values[-lookback:])[None].astype(np.float32)
    out = predict_logits(model, torch.from_numpy(window).to(device)).cpu().numpy().astype(np.float64)
    values = scaler.inverse_column(out, columns.index(target))[0]
    steps = target_steps(int(prep["horizon"]), bool(prep["multi_output"]))
    return {
        "source": str(path),
        "target": target,
        "last_time": series.time[-1] if series.time else None,
        "rows_used": lookback,
        "forecast": [{"steps_ahead": int(h), "value": float(v)} for h, v in zip(steps, values)],
    }


def _classification_report(task, model, split: str, data_file, meta: dict[str, Any], fit: bool) -> tuple[dict[str, Any], list]:
    """Text or sequence classification: scores beside the majority class on the same examples."""
    if data_file is not None:
        table = task.file_examples(Path(data_file))
        name, recorded = f"file-{Path(data_file).stem}", None
    else:
        table = task.split_examples(split)
        name, recorded = split, meta.get("data", {}).get("fingerprints", {}).get(split)
    if len(table) == 0:
        raise DataError(f"{table.source}: no examples to evaluate")
    x, y = task.tensors(table)
    logits = task.predict(model, x)
    pred, truth = logits.argmax(dim=1).cpu().numpy(), y.cpu().numpy()
    labels = task.labels
    positive = task.positive_index(task.cfg.data.positive_label)
    scores = classification_scores(truth, pred, len(labels), positive)
    train_counts = meta["data"]["class_counts"]["train"]
    majority = majority_baseline(train_counts, labels, truth, positive)
    stratified = stratified_baseline(train_counts, labels, truth)
    simple = {"majority_class": majority, "stratified": {**stratified, "accuracy": stratified["expected_accuracy"]}}
    if fit:
        trained = sum(train_counts.values())
        simple[task.baseline] = {
            "kind": task.baseline,
            # A sample of the training split on very large data (baselines.fit_sample).
            "training_examples": trained,
            "fitted_on": simple_models.fit_size(trained),
            **_headline(classification_scores(truth, task.baseline_predict(table), len(labels), positive)),
        }
    rows = prediction_rows(example_ids(table), logits, labels)
    for row, label in zip(rows, table.labels):
        row["true"] = label
    report = {
        "task": task.kind,
        "split": name,
        "source": table.source,
        "examples": len(table),
        "data_matches_training": None if recorded is None else recorded == table.fingerprint(),
        "loss": float(F.cross_entropy(logits, y).item()),
        **_headline(scores),
        "average": scores["average"],
        "positive_label": labels[positive] if positive is not None else None,
        "macro": {k: scores[f"macro_{k}"] for k in ("precision", "recall", "f1")},
        "per_class": {
            label: {k: scores["per_class"][k][i] for k in ("precision", "recall", "f1", "support")}
            for i, label in enumerate(labels)
        },
        "confusion_matrix": {"labels": labels, "rows_true_cols_pred": scores["confusion_matrix"]},
        "baseline": majority,
        "stratified_baseline": stratified,
        "baselines": simple,
        "verdict": verdict(scores["accuracy"], {k: b["accuracy"] for k, b in simple.items()}, "accuracy"),
        "truncated": truncated(task, table),
    }
    return report, rows


def truncated(task, examples) -> dict[str, Any] | None:
    """How many of these examples are longer than the model reads, and were cut."""
    if task.kind == "sequence_classification":
        return cut_sequences(examples, task.preprocessing)
    lengths = task.prep.summary(examples)
    if not lengths["truncated"]:
        return None
    keeps = "last" if task.prep.truncating == "pre" else "first"
    n, maxlen = lengths["truncated"], task.prep.maxlen
    return {
        "texts": n,
        "of": lengths["examples"],
        "maxlen": maxlen,
        "note": f"{n} of {lengths['examples']} texts have more than data.maxlen = {maxlen} tokens: the model read only "
        f"the {keeps} {maxlen} of each (data.truncating {task.prep.truncating})",
    }


def example_ids(examples) -> list[str]:
    """What names an example in a predictions file: the sequence's id, or the text itself."""
    return list(examples.ids) if hasattr(examples, "ids") else list(examples.texts)


def prediction_rows(ids: list[str], logits: torch.Tensor, labels: list[str]) -> list[dict[str, Any]]:
    """One row per example: the predicted label, its probability, and every class's. predict and
    evaluate --predictions both write these."""
    probs = F.softmax(logits.float(), dim=1).cpu().numpy()
    return [
        {
            "id": name,
            "label": labels[int(p.argmax())],
            "probability": float(p.max()),
            "probabilities": {label: float(v) for label, v in zip(labels, p)},
        }
        for name, p in zip(ids, probs)
    ]


def write_predictions(path: Path, rows: list[dict[str, Any]], labels: list[str]) -> None:
    """A CSV of prediction rows (id, true label when known, predicted label, probability, one column per class)."""
    import csv
    import io

    buffer = io.StringIO(newline="")
    truth = any("true" in row for row in rows)
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", *(["true"] if truth else []), "predicted", "probability", *(f"p_{label}" for label in labels)])
    for row in rows:
        probs = [repr(row["probabilities"][label]) for label in labels]
        writer.writerow([row["id"], *([row["true"]] if truth else []), row["label"], repr(row["probability"]), *probs])
    write_text(path, buffer.getvalue())


def _headline(scores: dict[str, Any]) -> dict[str, float]:
    return {k: scores[k] for k in ("accuracy", "precision", "recall", "f1")}


def majority_baseline(train_counts: dict[str, int], labels: list[str], truth: np.ndarray, positive: int | None) -> dict[str, Any]:
    """What always predicting the training set's most frequent class scores on the same examples.
    Classes tied for most frequent are named: the baseline predicts the first of them in label
    order, and a tie is where that choice changes its score."""
    predicts, tied = simple_models.majority(train_counts, labels)
    scores = classification_scores(truth, np.full_like(truth, labels.index(predicts)), len(labels), positive)
    return {"kind": "majority_class", "predicts": predicts, "tied_with": tied, **_headline(scores)}


def stratified_baseline(train_counts: dict[str, int], labels: list[str], truth: np.ndarray) -> dict[str, Any]:
    """The expected accuracy of guessing each class at random with its training frequency: the sum
    over classes of (training share) x (share in these examples). Exact, not sampled."""
    total = sum(train_counts.get(label, 0) for label in labels)
    here = np.bincount(truth, minlength=len(labels)) / max(len(truth), 1)
    expected = sum(train_counts.get(label, 0) / total * float(here[i]) for i, label in enumerate(labels))
    return {"kind": "stratified", "expected_accuracy": expected}


def verdict(value: float, baselines: dict[str, float], metric: str) -> dict[str, Any]:
    """Whether the model beats the strongest baseline on the main metric (a tie does not beat it)."""
    higher_is_better = direction_of(metric) == "max"
    pick = max if higher_is_better else min
    strongest = pick(baselines, key=baselines.get)
    best = baselines[strongest]
    return {
        "metric": metric,
        "model": value,
        "strongest": strongest,
        "strongest_value": best,
        "beats": bool(value > best if higher_is_better else value < best),
    }


def _forecast_report(task: ForecastTask, model, split: str, meta: dict[str, Any], fit: bool) -> dict[str, Any]:
    d = task.cfg.data
    if split not in task.windows:
        raise DataError(f"this run has no {split} split (set data.{split}_split > 0)")
    starts = task.windows[split].starts
    x, y = window_arrays(task.normalized, starts, d.lookback, task.steps, task.series.target_index)
    pred = task.predict(model, torch.from_numpy(x).to(task.device)).cpu().numpy()
    truth_units, pred_units = task.to_units(y), task.to_units(pred)
    baselines = task.baseline_scores(split, truth_units, fit)
    scores = regression_scores(truth_units, pred_units)
    per_step = [
        {"steps_ahead": int(h), **regression_scores(truth_units[:, i], pred_units[:, i])} for i, h in enumerate(task.steps)
    ]
    recorded = meta.get("data", {}).get("fingerprints", {}).get("train")
    return {
        "task": task.kind,
        "split": split,
        "source": task.series.source,
        "target": task.series.target,
        "windows": int(len(starts)),
        "steps_ahead": task.steps.tolist(),
        "data_matches_training": recorded == task.series.fingerprint() if recorded else None,
        "loss": float(task.loss_fn(torch.from_numpy(pred), torch.from_numpy(y)).item()),
        **scores,
        "per_step": per_step,
        "baselines": baselines,
        "beats_persistence": scores["mae"] < baselines["persistence"]["mae"],
        "verdict": verdict(scores["mae"], {k: b["mae"] for k, b in baselines.items()}, "mae"),
    }
