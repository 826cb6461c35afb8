"""What classification tasks share: their validation metrics, the baselines they are scored beside,
and the evaluation report (text and sequence classification differ only in their examples)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .. import baselines
from ..config import CLASSIFICATION_METRICS
from ..errors import ConfigError, DataError
from ..metrics import classification_scores, verdict

RANKING = ("val_roc_auc", "val_pr_auc")  # undefined on a validation split of one class


def prior_entropy(targets: torch.Tensor, num_classes: int, weights: list[float] | None = None) -> float:
    """The loss of predicting the class frequencies, each weighted by its class weight when there
    are any (the best constant prediction of a weighted cross-entropy): where a classifier that
    learned nothing else sits."""
    counts = np.bincount(targets.cpu().numpy(), minlength=num_classes).astype(float)
    if weights is not None:
        counts *= np.asarray(weights)
    counts /= max(counts.sum(), 1e-12)
    return float(-(counts[counts > 0] * np.log(counts[counts > 0])).sum())


def class_weights(setting, labels: list[str], train_y: np.ndarray) -> list[float] | None:
    """One weight per class from train.class_weight: None for none; balanced from the training
    split's class counts (n / (classes x count), as scikit-learn's compute_class_weight); a mapping
    by label, 1 for a label it leaves out. A label the data does not have is a ConfigError."""
    if setting == "none":
        return None
    if setting == "balanced":
        counts = np.bincount(train_y, minlength=len(labels))
        return [float(len(train_y) / (len(labels) * n)) for n in counts]
    unknown = [label for label in setting if label not in labels]
    if unknown:
        raise ConfigError(
            f"train.class_weight names {', '.join(map(repr, unknown))}, not a class of the training data "
            f"(classes: {', '.join(labels)}); name those, or use balanced"
        )
    return [float(setting.get(label, 1.0)) for label in labels]


def validation_scores(truth: np.ndarray, probs: np.ndarray, num_classes: int, positive: int | None) -> dict[str, float | None]:
    """Every classification column of metrics.csv but val_loss (config.CLASSIFICATION_METRICS), of
    class probabilities [N, classes]: the model's each epoch and the baselines' lines beside it.
    val_f1 is macro; ROC-AUC and PR-AUC are None where undefined (one class in the split)."""
    s = classification_scores(truth, probs.argmax(axis=1), num_classes, positive, probs)
    values = {
        "val_accuracy": s["accuracy"],
        "val_f1": s["macro_f1"],
        "val_balanced_accuracy": s["balanced_accuracy"],
        "val_roc_auc": s["roc_auc"],
        "val_pr_auc": s["pr_auc"],
    }
    return {k: values[k] for k in CLASSIFICATION_METRICS}


def classification_metrics(logits: torch.Tensor, targets: torch.Tensor, num_classes: int, positive: int | None) -> dict:
    probs = F.softmax(logits.float(), dim=1).cpu().numpy()
    return {
        "val_loss": float(F.cross_entropy(logits, targets).item()),
        **validation_scores(targets.cpu().numpy(), probs, num_classes, positive),
    }


def split_sizes(summary: dict[str, Any]) -> str:
    """ "train 160, val 40, test 50": each split's examples, from a summary's class counts."""
    return ", ".join(f"{k} {sum(v.values())}" for k, v in summary["class_counts"].items())


def weights_line(summary: dict[str, Any]) -> list[str]:
    """The setup line of train.class_weight's weights, when the run has any."""
    weights = summary.get("class_weights")
    if not weights:
        return []
    return ["class weights (train.class_weight, training loss only): " + ", ".join(f"{k} {w:.3g}" for k, w in weights.items())]


def constant_probs(train_counts: dict[str, int], labels: list[str], n: int) -> np.ndarray:
    """[n, classes]: every example given the training class frequencies (what the majority and
    stratified baselines know): ROC-AUC 0.5, PR-AUC the positive class's share."""
    freq = np.array([train_counts.get(label, 0) for label in labels], dtype=float)
    return np.tile(freq / freq.sum(), (n, 1))


class Classifier:
    """The classification half of a task: class weights, the loss, validation, evaluate() and the
    baselines' validation lines. A subclass gives labels, positive_index, split_examples,
    file_examples, tensors, predict, baseline, baseline_predict (class probabilities), example_ids
    and truncated, and calls fit_weights() once its training targets are in train_y."""

    metric_columns = list(CLASSIFICATION_METRICS)
    prior_name = "the class frequencies"  # what prior_loss predicts

    def fit_weights(self) -> list[float] | None:
        """train.class_weight's weights (from the training split alone: the same on every resume),
        once train_y and val are set. Refuses a ROC-AUC or PR-AUC monitor on a validation split of
        one class, where they are undefined."""
        train_y = self.train_y.cpu().numpy()
        self.weights = class_weights(self.cfg.train.class_weight, self.labels, train_y)
        self._weight = None if self.weights is None else torch.tensor(self.weights, dtype=torch.float32, device=self.device)
        if self.weights is not None:
            self.prior_name = "the class frequencies, weighted by train.class_weight"
        tc = self.cfg.train
        for key, monitor in (
            ("early_stopping.monitor", tc.early_stopping.monitor),
            ("lr_schedule.monitor", tc.lr_schedule.monitor),
        ):
            if monitor in RANKING and self.val is not None and len(torch.unique(self.val[1])) < 2:
                raise ConfigError(
                    f"train.{key} is {monitor}, but every validation example is of one class, where it is "
                    "undefined; monitor val_loss or val_accuracy, or give a validation split with several classes"
                )
        return self.weights

    def weights_summary(self) -> dict[str, Any]:
        """What summary() (meta.json's data) records of the class weights: {label: weight}, or nothing."""
        return {} if self.weights is None else {"class_weights": dict(zip(self.labels, self.weights))}

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Cross-entropy, weighted by class with train.class_weight (PyTorch's weighted mean)."""
        return F.cross_entropy(outputs, targets, weight=self._weight)

    def validate(self, model) -> dict[str, float]:
        if self.val is None:
            return {}
        vx, vy = self.val
        return classification_metrics(
            self.predict(model, vx), vy, len(self.labels), self.positive_index(self.cfg.data.positive_label)
        )

    def evaluate(self, model, split: str, meta: dict[str, Any], fit: bool, data_file=None, want_rows: bool = False):
        """Scores on a split (or a file) beside the majority class, the stratified guess and, with
        ``fit``, the task's fitted baseline; and one prediction row per example."""
        return _classification_report(self, model, split, data_file, meta, fit)

    def validation_lines(self, examples, truth: torch.Tensor) -> dict[str, dict[str, float]]:
        """The baselines' score of every validation column (val_f1 macro, as the run's own): the
        lines curves.png draws beside the model's curve of the same metric. The majority class
        knows only the training frequencies (its constant probabilities' argmax is its class)."""
        truth = truth.cpu().numpy()
        counts = np.bincount(self.train_y.cpu().numpy(), minlength=len(self.labels))
        frequencies = constant_probs({label: int(n) for label, n in zip(self.labels, counts)}, self.labels, len(truth))
        positive = self.positive_index(self.cfg.data.positive_label)
        scored = {
            name: validation_scores(truth, probs, len(self.labels), positive)
            for name, probs in (("majority_class", frequencies), (self.baseline, self.baseline_predict(examples)))
        }
        return {metric: {name: s[metric] for name, s in scored.items()} for metric in CLASSIFICATION_METRICS}


HEADLINE = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc")


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
    probs = F.softmax(logits.float(), dim=1).cpu().numpy()
    pred, truth = logits.argmax(dim=1).cpu().numpy(), y.cpu().numpy()
    labels = task.labels
    positive = task.positive_index(task.cfg.data.positive_label)
    scores = classification_scores(truth, pred, len(labels), positive, probs)
    train_counts = meta["data"]["class_counts"]["train"]
    simple, stratified = _baselines(task, table, truth, train_counts, positive, fit)
    rows = prediction_rows(task.example_ids(table), logits, labels)
    for row, label in zip(rows, table.labels):
        row["true"] = label
    report = {
        "task": task.kind,
        "split": name,
        "source": table.source,
        "examples": len(table),
        "data_matches_training": None if recorded is None else recorded == table.fingerprint(),
        "loss": float(F.cross_entropy(logits, y).item()),  # unweighted, whatever train.class_weight
        **_headline(scores),
        "average": scores["average"],
        "positive_label": labels[positive] if positive is not None else None,
        "macro": {k: scores[f"macro_{k}"] for k in ("precision", "recall", "f1")},
        "per_class": {
            label: {k: scores["per_class"][k][i] for k in ("precision", "recall", "f1", "support")}
            for i, label in enumerate(labels)
        },
        "confusion_matrix": {"labels": labels, "rows_true_cols_pred": scores["confusion_matrix"]},
        "baseline": simple["majority_class"],
        "stratified_baseline": stratified,
        "baselines": simple,
        "verdict": verdict(scores["accuracy"], {k: b["accuracy"] for k, b in simple.items()}, "accuracy"),
        "truncated": task.truncated(table),
        "notes": [scores["note"]] if scores.get("note") else [],
    }
    return report, rows


def _baselines(task, table, truth: np.ndarray, train_counts: dict[str, int], positive: int | None, fit: bool):
    """The baselines' scores on the evaluated examples, {name: headline scores} (majority,
    stratified and, with ``fit``, the task's fitted one, its ROC-AUC and PR-AUC from its
    predict_proba), and the stratified guess's expected scores. The stratified guess's
    probabilities are the majority's, the training frequencies: the same ROC-AUC and PR-AUC."""
    labels = task.labels
    majority = majority_baseline(train_counts, labels, truth, positive)
    stratified = {**stratified_baseline(train_counts, labels, truth), **{k: majority[k] for k in ("roc_auc", "pr_auc")}}
    expected = {"accuracy": stratified["expected_accuracy"], "balanced_accuracy": stratified["expected_balanced_accuracy"]}
    simple = {"majority_class": majority, "stratified": {**stratified, **expected}}
    if fit:
        trained = sum(train_counts.values())
        probs = task.baseline_predict(table)
        simple[task.baseline] = {
            "kind": task.baseline,
            # A sample of the training split on very large data (baselines.fit_sample).
            "training_examples": trained,
            "fitted_on": baselines.fit_size(trained),
            **_headline(classification_scores(truth, probs.argmax(axis=1), len(labels), positive, probs)),
        }
    return simple, stratified


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
    return {k: scores.get(k) for k in HEADLINE}


def majority_baseline(train_counts: dict[str, int], labels: list[str], truth: np.ndarray, positive: int | None) -> dict[str, Any]:
    """What always predicting the training set's most frequent class scores on the same examples
    (its probabilities: the training frequencies). Classes tied for most frequent are named: the
    baseline predicts the first of them in label order, and a tie is where that choice changes its
    score."""
    predicts, tied = baselines.majority(train_counts, labels)
    probs = constant_probs(train_counts, labels, len(truth))
    scores = classification_scores(truth, np.full_like(truth, labels.index(predicts)), len(labels), positive, probs)
    return {"kind": "majority_class", "predicts": predicts, "tied_with": tied, **_headline(scores)}


def stratified_baseline(train_counts: dict[str, int], labels: list[str], truth: np.ndarray) -> dict[str, Any]:
    """The expected accuracy of guessing each class at random with its training frequency: the sum
    over classes of (training share) x (share in these examples); and the expected balanced
    accuracy, the mean over the classes present of their training share (each one's expected
    recall). Exact, not sampled."""
    total = sum(train_counts.get(label, 0) for label in labels)
    share = [train_counts.get(label, 0) / total for label in labels]
    here = np.bincount(truth, minlength=len(labels)) / max(len(truth), 1)
    expected = sum(share[i] * float(here[i]) for i in range(len(labels)))
    present = [share[i] for i in range(len(labels)) if here[i] > 0]
    balanced = float(np.mean(present)) if present else 0.0
    return {"kind": "stratified", "expected_accuracy": expected, "expected_balanced_accuracy": balanced}
