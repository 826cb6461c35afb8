"""Scoring a run's checkpoint on a split or a file, next to the baselines a model must beat (its
task says which: the majority class and a fitted model for classification; persistence, seasonal
naive and a linear model for forecasting), and predicting new inputs with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import checkpoint, faults
from .devices import run_device
from .errors import RunDirError, counted
from .model import model_from_checkpoint
from .rundir import RunDir, Status, output_file, write_json, write_text
from .tasks import restore_task, task_class
from .tracking import open_run, scores_of


def evaluate(
    run_path: str | Path,
    which: str = "auto",
    split: str = "test",
    data_file: str | Path | None = None,
    predictions: str | Path | None = None,
    fit_baselines: bool | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    """Score a checkpoint of the run (best, last, or auto = as early_stopping.restore_best says),
    write eval_<split>.json (eval_file-<stem>.json for --data) and return the report. With
    ``predictions``, also a CSV of every example's prediction (classification). ``fit_baselines``
    (default: train.baselines) fits the simple models of rnnexp/baselines.py on the training split.
    ``device`` (--device) overrides where it computes (devices.run_device)."""
    run = RunDir.open(run_path)
    if predictions is not None:
        predictions = output_file(predictions, "--predictions", "predictions.csv")  # before the work
    cfg = run.load_config()
    meta = run.read_json(run.meta)
    which, state = load_checkpoint(run, cfg, which)
    if split not in ("test", "val"):
        raise RunDirError(f"--split {split!r}: expected test or val")
    device, note = run_device(cfg.train.device, device)
    task = restore_task(cfg, state["preprocessing"], device)
    model = model_from_checkpoint(state, device)
    head = {"run_dir": str(run.path), "checkpoint": which, "checkpoint_epoch": int(state["epoch"]), "device": str(device)}
    fit = cfg.train.baselines if fit_baselines is None else fit_baselines
    faults.hit("evaluate:loaded")
    report, rows = task.evaluate(model, split, meta, fit, data_file=data_file, want_rows=predictions is not None)
    status = run.status()
    unfinished = unfinished_note(status, run.path, cfg.train.epochs, which, int(state["epoch"]))
    notes = [n for n in (note, unfinished) if n]
    report = {**head, "run_status": str(status), **report, "notes": [*notes, *report.get("notes", [])]}
    faults.hit("evaluate:scored")
    if predictions is not None:
        write_predictions(Path(predictions), rows, task.labels)
        report["predictions_file"] = str(predictions)
    write_json(run.eval_file(report["split"]), report)
    _track(cfg, meta, run, report)
    return report


def _track(cfg, meta: dict[str, Any], run: RunDir, report: dict[str, Any]) -> None:
    """With train.mlflow: the scores and the baselines' (tracking.scores_of) at the checkpoint's
    epoch, and eval_<split>.json, logged to the run's MLflow run. MLflow failing costs a note."""
    tracker = open_run(cfg.train.mlflow, meta, run.path, report["notes"].append, training=False)
    if tracker is None:
        return
    tracker.log_scores(scores_of(report), report["checkpoint_epoch"])
    tracker.log_artifacts([run.eval_file(report["split"])])


def unfinished_note(status: str, path: Path, epochs: int, which: str, epoch: int) -> str | None:
    """What to know before reading the scores of a run (its RunDir.status) that has not finished
    training (still running, interrupted, stale, failed): None for a finished one."""
    if status in (Status.COMPLETED, Status.EARLY_STOPPED, Status.PRUNED):
        return None
    then = f"; continue it with: rnnexp resume {path}" if status in (Status.STALE, Status.INTERRUPTED) else ""
    return (
        f"this run is {status}, not finished ({counted(epochs, 'epoch')} planned): these are the scores of its {which} "
        f"checkpoint, from epoch {epoch}{then}"
    )


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


class Predictor:
    """A run's checkpoint loaded once, with its saved preprocessing, to predict new inputs as often
    as asked (the training data is not needed): texts -> label and class probabilities (text
    classification); a long-format CSV or a folder of CSV files -> label per sequence (sequence
    classification; no label column needed); a CSV of the series -> the next values after its last
    row (forecasting)."""

    def __init__(self, run_path: str | Path, which: str = "auto", device: str | None = None):
        run = RunDir.open(run_path)
        self.cfg = run.load_config()
        self.which, state = load_checkpoint(run, self.cfg, which)
        self.prep = state["preprocessing"]
        self.device, note = run_device(self.cfg.train.device, device)
        self.model = model_from_checkpoint(state, self.device)
        self.task = task_class(self.prep["task"])
        self.notes = [note] if note else []
        self.head = {
            "run_dir": str(run.path),
            "checkpoint": self.which,
            "checkpoint_epoch": int(state["epoch"]),
            "task": self.prep["task"],
            "device": str(self.device),
        }

    def predict(self, texts: list[str] | None = None, series_file: str | Path | None = None) -> dict[str, Any]:
        predicted = self.task.predict_inputs(self.cfg, self.prep, self.model, self.device, texts=texts, file=series_file)
        return {**self.head, **predicted, "notes": [*self.notes, *predicted.get("notes", [])]}


def predict(
    run_path: str | Path,
    texts: list[str] | None = None,
    series_file: str | Path | None = None,
    which: str = "auto",
    device: str | None = None,
) -> dict[str, Any]:
    """One prediction with a run's checkpoint (see Predictor)."""
    return Predictor(run_path, which, device).predict(texts=texts, series_file=series_file)


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
