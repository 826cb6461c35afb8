"""Classification scores from labels, predictions and class probabilities (scikit-learn's, imported
when first scored: `rnnexp --help` and config validation never load it), and the verdict of a model
against its baselines."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .config import direction_of


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """[true class, predicted class] counts."""
    from sklearn.metrics import confusion_matrix as sk_confusion

    return sk_confusion(y_true, y_pred, labels=np.arange(num_classes)).astype(np.int64)


def per_class_scores(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support of every class; a class never predicted (or never
    present) scores 0 (zero_division=0)."""
    from sklearn.metrics import precision_recall_fscore_support

    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=np.arange(num_classes), zero_division=0)
    return {"precision": p.astype(float), "recall": r.astype(float), "f1": f.astype(float), "support": s.astype(np.int64)}


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The mean recall over the classes present in y_true (scikit-learn's balanced_accuracy_score)."""
    from sklearn.metrics import balanced_accuracy_score

    if len(y_true) == 0:
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "y_pred contains classes not in y_true": those count no recall
        return float(balanced_accuracy_score(y_true, y_pred))


def ranking_scores(y_true: np.ndarray, probs: np.ndarray, positive: int | None) -> dict[str, Any]:
    """ROC-AUC and PR-AUC (average precision) of class probabilities [N, classes]: of the positive
    class when binary, macro one-vs-rest otherwise. A class is scored only where the examples hold
    both it and another class (else its ROC-AUC is undefined): the macro mean is over the scored
    classes, None when there is none, and ``note`` says which were left out."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    classes = [positive] if positive is not None else list(range(probs.shape[1]))
    scored, left_out = [], []
    for c in classes:
        is_c = y_true == c
        (scored if 0 < is_c.sum() < len(y_true) else left_out).append(c)
    if not scored:
        return {"roc_auc": None, "pr_auc": None, "note": "every example is of one class: ROC-AUC and PR-AUC are undefined"}
    roc = [roc_auc_score(y_true == c, probs[:, c]) for c in scored]
    pr = [average_precision_score(y_true == c, probs[:, c]) for c in scored]
    note = None
    if left_out:
        note = f"classes {left_out} are absent from these examples: ROC-AUC and PR-AUC are the mean over the other classes"
    return {"roc_auc": float(np.mean(roc)), "pr_auc": float(np.mean(pr)), "note": note}


def classification_scores(
    y_true: np.ndarray, y_pred: np.ndarray, num_classes: int, positive: int | None = None, probs: np.ndarray | None = None
) -> dict:
    """Accuracy, balanced accuracy and precision/recall/F1: of the positive class when binary,
    macro-averaged otherwise; with class probabilities also ROC-AUC and PR-AUC (ranking_scores)."""
    cm = confusion_matrix(y_true, y_pred, num_classes)
    pc = per_class_scores(y_true, y_pred, num_classes)
    out = {
        "accuracy": float(np.trace(cm) / cm.sum()),  # never of no examples: confusion_matrix refuses those
        "balanced_accuracy": balanced_accuracy(y_true, y_pred),
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
    if probs is not None:
        out.update(ranking_scores(y_true, probs, positive))
    out["confusion_matrix"] = cm.tolist()
    out["per_class"] = {k: v.tolist() for k, v in pc.items()}
    return out


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> float:
    return float(per_class_scores(y_true, y_pred, num_classes)["f1"].mean())


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
