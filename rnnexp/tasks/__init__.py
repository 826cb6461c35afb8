"""What differs between tasks: inputs, targets, loss, validation metrics, evaluation, prediction
and what is saved. Every task implements `Task`; the rest of rnnexp asks its task and branches on
no task kind.

The training recipe is the same loop for every task; it asks its task for the batches of an
epoch, the tensors of a batch, the loss, and the validation row. Batches (and any augmentation)
are pure functions of (seed, epoch, batch), which is what makes resume exact.

text.py      TextTask (text_classification)
sequence.py  SequenceTask (sequence_classification)
forecast.py  ForecastTask (forecasting)
classify.py  what the two classification tasks share: metrics, baselines, the evaluation report
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from ..config import Config
from ..errors import RunDirError
from .forecast import ForecastTask
from .sequence import SequenceTask, cut_sequences, sequence_inputs
from .text import TextTask

__all__ = [
    "ForecastTask",
    "SequenceTask",
    "Task",
    "TextTask",
    "create_task",
    "cut_sequences",
    "restore_task",
    "sequence_inputs",
    "task_class",
    "validation_baselines",
]


class Task(Protocol):
    """The interface each task implements (the training loop, evaluate, predict and the CLI use no other)."""

    kind: str  # data.task
    cfg: Config
    metric_columns: list[str]  # its validation columns in metrics.csv
    prior_name: str  # what its prior_loss predicts ("the class frequencies")
    prior_loss: float  # the loss of a model that learned nothing but that
    preprocessing: dict[str, Any]  # saved in checkpoints: restore() and predict_inputs() rebuild from it
    input_spec: dict[str, Any]
    output_size: int
    train_fingerprint: str
    facts_folder: Path | None  # where facts about its data are kept across processes (a cache entry), or None

    def batches(self, epoch: int) -> list[np.ndarray]: ...
    def batch(self, rows: np.ndarray, epoch: int, b: int) -> tuple[torch.Tensor, torch.Tensor]: ...
    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor: ...
    def predict(self, model, x: torch.Tensor) -> torch.Tensor: ...
    def validate(self, model) -> dict[str, float]: ...
    def validation_baselines(self) -> dict[str, dict[str, float]]: ...
    def summary(self) -> dict[str, Any]: ...
    @staticmethod
    def describe(summary: dict[str, Any]) -> list[str]: ...
    def evaluate(
        self, model, split: str, meta: dict[str, Any], fit: bool, data_file=None, want_rows: bool = False
    ) -> tuple[dict[str, Any], list[dict[str, Any]] | None]: ...
    @staticmethod
    def predict_inputs(cfg: Config, prep: dict[str, Any], model, device, texts=None, file=None) -> dict[str, Any]: ...


TASKS: dict[str, type] = {"text_classification": TextTask, "forecasting": ForecastTask, "sequence_classification": SequenceTask}


def task_class(kind: str) -> type:
    """The class of the task ``kind`` (data.task, or a checkpoint's preprocessing["task"])."""
    if kind not in TASKS:
        raise RunDirError(f"this run's task {kind!r} is not one this version of rnnexp knows")
    return TASKS[kind]


def create_task(cfg: Config, device: torch.device, events=None):
    """A new run: read the data and fit preprocessing on the training split. ``events`` (a
    data.Events, such as the training Reporter) hears how preparing the data goes."""
    return task_class(cfg.data.task).create(cfg, device, events)


def restore_task(cfg: Config, preprocessing: dict[str, Any], device: torch.device, events=None):
    """A resumed or evaluated run: read the data, reuse the run's saved preprocessing."""
    return task_class(cfg.data.task).restore(cfg, preprocessing, device, events)


_FITTED: dict[tuple[str, str, str], dict[str, dict[str, float]]] = {}


def validation_baselines(task) -> dict[str, dict[str, float]]:
    """task.validation_baselines(), fitted once per process for the same data: a sweep's trials share
    their data, so a worker fits the baselines once, not once per trial. A task whose data is in the
    cache keeps them beside its entry (kept_baselines): once per machine."""
    key = (task.kind, task.train_fingerprint, json.dumps(task.cfg.data.model_dump(mode="json"), sort_keys=True))
    if key not in _FITTED:
        _FITTED[key] = kept_baselines(task, key)
    return {metric: dict(lines) for metric, lines in _FITTED[key].items()}


def kept_baselines(task, key: tuple) -> dict[str, dict[str, float]]:
    """The baselines' validation scores, kept in the memo of the cache entry that holds the task's
    training data (task.facts_folder), under a digest of everything they depend on: the data and its
    split (key), the validation split's own texts, the baselines' code and the versions of the
    libraries that fit them. A text run on a million texts fits TF-IDF in about 26 s here; every
    later run, resume and sweep worker on the same split reads the scores."""
    folder = task.facts_folder
    if folder is None or getattr(task, "val", None) is None:
        return task.validation_baselines()
    import hashlib
    from importlib.metadata import version

    from .. import baselines
    from ..data import cache

    code = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(Path(baselines.__file__).parent.glob("*.py")))).hexdigest()
    libraries = [version(name) for name in ("numpy", "scipy", "scikit-learn")]  # without importing them
    facts = [*key, task.split_examples("val").fingerprint(), code, *libraries]
    digest = hashlib.sha256(json.dumps(facts).encode()).hexdigest()
    kept = cache.memo(folder, f"baselines {digest}", lambda: json.dumps(task.validation_baselines()))
    return json.loads(kept)
