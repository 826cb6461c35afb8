"""Classification scores from labels and predictions (numpy only), and the verdict of a model
against its baselines."""

from __future__ import annotations

from typing import Any

import numpy as np

from .config import direction_of


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """[true class, predicted class] counts."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def per_class_scores(cm: np.ndarray) -> dict[str, np.ndarray]:
    tp = np.diag(cm).astype(float)
    predicted = cm.sum(axis=0).astype(float)
    actual = cm.sum(axis=1).astype(float)
    # A class never predicted (or never present) scores 0, as sklearn's zero_division=0.
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": actual.astype(np.int64)}


def classification_scores(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int, positive: int | None = None) -> dict:
    """Accuracy and precision/recall/F1: of the positive class when binary, macro-averaged otherwise."""
    cm = confusion_matrix(y_true, y_pred, num_classes)
    pc = per_class_scores(cm)
    total = cm.sum()
    out = {
        "accuracy": float(np.trace(cm) / total) if total else 0.0,
        "macro_precision": float(pc["precision"].mean()),
        "macro_recall": float(pc["recall"].mean()),
        "macro_f1": float(pc["f1"].mean()),
    }
    if positive is not None:
        out.update(
            average="binary",
            precision=float(pc["precision"][positive]),
            recall=float(pc["recall"][positive]),
            f1=float(pc["f1"][positive]),
        )
    else:
        out.update(average="macro", precision=out["macro_precision"], recall=out["macro_recall"], f1=out["macro_f1"])
    out["confusion_matrix"] = cm.tolist()
    out["per_class"] = {k: v.tolist() for k, v in pc.items()}
    return out


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> float:
    return float(per_class_scores(confusion_matrix(y_true, y_pred, num_classes))["f1"].mean())


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
