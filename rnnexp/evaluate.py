"""Scoring a run's checkpoint on a split or a file, next to the majority-class baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from . import checkpoint
from .data import Preprocessor, load_splits, read_table
from .errors import DataError, RunDirError
from .metrics import classification_scores
from .model import model_from_checkpoint, predict_logits, resolve_device
from .rundir import RunDir, write_json


def evaluate(
    run_path: str | Path, which: str = "auto", split: str = "test", data_file: str | Path | None = None
) -> dict[str, Any]:
    """Score a checkpoint of the run (best, last, or auto = as early_stopping.restore_best says),
    write eval_<split>.json (eval_file-<stem>.json for --data) and return the report."""
    run = RunDir.open(run_path)
    cfg = run.load_config()
    meta = run.read_json(run.meta)
    if which == "auto":
        which = "best" if cfg.train.early_stopping.restore_best and run.best.is_file() else "last"
    ckpt_path = run.best if which == "best" else run.last
    state = checkpoint.load(ckpt_path)
    prep = Preprocessor.from_dict(state["preprocessing"])

    if data_file is not None:
        table = read_table(Path(data_file), cfg.data)
        name, recorded = f"file-{Path(data_file).stem}", None
    else:
        if split not in ("test", "val"):
            raise RunDirError(f"--split {split!r}: expected test or val")
        table = load_splits(cfg.data).get(split)
        name, recorded = split, meta.get("data", {}).get("fingerprints", {}).get(split)
    if len(table) == 0:
        raise DataError(f"{table.source}: no examples to evaluate")

    device = resolve_device(cfg.train.device)
    model = model_from_checkpoint(state, device)
    x = torch.from_numpy(prep.encode_texts(table.texts)).to(device)
    y = torch.from_numpy(prep.encode_labels(table)).to(device)
    logits = predict_logits(model, x, padding=prep.padding if cfg.data.bucket else None)
    loss = float(F.cross_entropy(logits, y).item())
    pred = logits.argmax(dim=1).cpu().numpy()
    truth = y.cpu().numpy()

    positive = prep.positive_index(cfg.data.positive_label)
    scores = classification_scores(truth, pred, prep.num_classes, positive)
    train_counts = meta["data"]["class_counts"]["train"]
    report = {
        "run_dir": str(run.path),
        "checkpoint": which,
        "checkpoint_epoch": int(state["epoch"]),
        "split": name,
        "source": table.source,
        "examples": len(table),
        "data_matches_training": None if recorded is None else recorded == table.fingerprint(),
        "loss": loss,
        **_headline(scores),
        "average": scores["average"],
        "positive_label": prep.labels[positive] if positive is not None else None,
        "macro": {k: scores[f"macro_{k}"] for k in ("precision", "recall", "f1")},
        "per_class": {
            label: {k: scores["per_class"][k][i] for k in ("precision", "recall", "f1", "support")}
            for i, label in enumerate(prep.labels)
        },
        "confusion_matrix": {"labels": prep.labels, "rows_true_cols_pred": scores["confusion_matrix"]},
        "baseline": majority_baseline(train_counts, prep, truth, positive),
    }
    write_json(run.eval_file(name), report)
    return report


def _headline(scores: dict[str, Any]) -> dict[str, float]:
    return {k: scores[k] for k in ("accuracy", "precision", "recall", "f1")}


def majority_baseline(
    train_counts: dict[str, int], prep: Preprocessor, truth: np.ndarray, positive: int | None
) -> dict[str, Any]:
    """What always predicting the training set's most frequent class scores on the same examples."""
    majority = max(prep.labels, key=lambda label: (train_counts.get(label, 0), -prep.labels.index(label)))
    cls = prep.labels.index(majority)
    scores = classification_scores(truth, np.full_like(truth, cls), prep.num_classes, positive)
    return {"kind": "majority_class", "predicts": majority, **_headline(scores)}
