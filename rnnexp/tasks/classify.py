"""What classification tasks share: their validation metrics, the baselines they are scored beside,
and the evaluation report (text and sequence classification differ only in their examples)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .. import baselines
from ..errors import DataError
from ..metrics import classification_scores, macro_f1, verdict


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


def split_sizes(summary: dict[str, Any]) -> str:
    """ "train 160, val 40, test 50": each split's examples, from a summary's class counts."""
    return ", ".join(f"{k} {sum(v.values())}" for k, v in summary["class_counts"].items())


class Classifier:
    """The classification half of a task: evaluate() and the baselines' validation lines. A subclass
    gives labels, positive_index, split_examples, file_examples, tensors, predict, baseline,
    baseline_predict, example_ids and truncated."""

    metric_columns = ["val_accuracy", "val_f1"]
    prior_name = "the class frequencies"  # what prior_loss predicts

    def evaluate(self, model, split: str, meta: dict[str, Any], fit: bool, data_file=None, want_rows: bool = False):
        """Scores on a split (or a file) beside the majority class, the stratified guess and, with
        ``fit``, the task's fitted baseline; and one prediction row per example."""
        return _classification_report(self, model, split, data_file, meta, fit)

    def validation_lines(self, examples, truth: torch.Tensor) -> dict[str, dict[str, float]]:
        """The baselines' val_accuracy and val_f1 (macro, as the run's own): the lines curves.png
        draws beside the model's curve of the same metric."""
        truth = truth.cpu().numpy()
        counts = np.bincount(self.train_y.cpu().numpy(), minlength=len(self.labels))
        predicts, _ = baselines.majority({label: int(n) for label, n in zip(self.labels, counts)}, self.labels)
        guesses = {
            "majority_class": np.full_like(truth, self.labels.index(predicts)),
            self.baseline: self.baseline_predict(examples),
        }
        return {
            "val_accuracy": {name: float((pred == truth).mean()) for name, pred in guesses.items()},
            "val_f1": {name: macro_f1(truth, pred, len(self.labels)) for name, pred in guesses.items()},
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
            "fitted_on": baselines.fit_size(trained),
            **_headline(classification_scores(truth, task.baseline_predict(table), len(labels), positive)),
        }
    rows = prediction_rows(task.example_ids(table), logits, labels)
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
        "truncated": task.truncated(table),
    }
    return report, rows


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


def _headline(scores: dict[str, Any]) -> dict[str, float]:
    return {k: scores[k] for k in ("accuracy", "precision", "recall", "f1")}


def majority_baseline(train_counts: dict[str, int], labels: list[str], truth: np.ndarray, positive: int | None) -> dict[str, Any]:
    """What always predicting the training set's most frequent class scores on the same examples.
    Classes tied for most frequent are named: the baseline predicts the first of them in label
    order, and a tie is where that choice changes its score."""
    predicts, tied = baselines.majority(train_counts, labels)
    scores = classification_scores(truth, np.full_like(truth, labels.index(predicts)), len(labels), positive)
    return {"kind": "majority_class", "predicts": predicts, "tied_with": tied, **_headline(scores)}


def stratified_baseline(train_counts: dict[str, int], labels: list[str], truth: np.ndarray) -> dict[str, Any]:
    """The expected accuracy of guessing each class at random with its training frequency: the sum
    over classes of (training share) x (share in these examples). Exact, not sampled."""
    total = sum(train_counts.get(label, 0) for label in labels)
    here = np.bincount(truth, minlength=len(labels)) / max(len(truth), 1)
    expected = sum(train_counts.get(label, 0) / total * float(here[i]) for i, label in enumerate(labels))
    return {"kind": "stratified", "expected_accuracy": expected}
