"""The training recipe, in fixed phases: setup (a new run, or a resume) -> train -> save the end.

Exact resume rests on three facts: the batches are pure functions of (seed, epoch, batch)
(loop.py); last.pt holds everything the next batch depends on (progress.py); metrics.csv is
rewritten from the history the checkpoint holds (record.py)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import torch

from .. import faults
from ..config import Config
from ..devices import resolve_device, run_device, set_numerics
from ..errors import StorageError
from ..rundir import RunDir, Status
from ..tasks import create_task, restore_task
from ..tracking import Parent, new_entry
from .checks import ResumePlan, check_same_data, plan_resume
from .events import Prune, Reporter
from .loop import Hooks, fit
from .parts import Parts, build_parts, check_packages, load_pretrained, pretrained_summary
from .progress import Progress
from .record import Record, TrainResult, new_meta


def train(
    cfg: Config,
    runs_dir: str | Path,
    argv: list[str] | None = None,
    reporter: Reporter | None = None,
    stop: threading.Event | None = None,
    config_dir: Path | None = None,
    prune: Prune | None = None,
    parent: Parent | None = None,
) -> TrainResult:
    """Start a new run folder under ``runs_dir`` and train it.

    prune: called after each epoch with its row; a reason it returns stops the run there with
    status "pruned" (early stopping or the last epoch, when due as well, takes precedence).
    parent: with train.mlflow, the MLflow run this one nests under, and the runs folder whose
    store holds it (a sweep's); by default the run logs to the store of ``runs_dir``."""
    reporter = reporter or Reporter()
    check_packages(cfg)
    device = resolve_device(cfg.train.device)
    numerics = numerics_of(cfg, device)
    task = create_task(cfg, device, reporter)
    faults.hit("setup:data")
    pretrained = load_pretrained(cfg, task)
    parts = build_parts(cfg, task, pretrained)
    faults.hit("setup:model")
    progress = Progress()
    meta = new_meta(cfg, parts, pretrained, argv or [], config_dir, numerics)
    tracking = new_entry(cfg.train.mlflow, parent.store if parent else Path(runs_dir), Path(runs_dir))
    if tracking is not None:
        meta["mlflow"] = tracking
    with Record.create(cfg, task, meta, runs_dir, reporter) as record:
        faults.hit("setup:published")
        try:
            record.write_summary(Status.RUNNING, "", parts, progress)
        except StorageError as e:
            raise e.next_step(f"rnnexp resume {record.run_dir.path}") from None  # the folder is whole: it resumes
        faults.hit("setup:done")
        record.track(parts, progress, parent.run_id if parent else None)
        reporter.setup(record.info(parts, progress))
        return _train(parts, progress, record, stop or threading.Event(), prune)


def resume(
    run_path: str | Path,
    epochs: int | None = None,
    argv: list[str] | None = None,
    reporter: Reporter | None = None,
    stop: threading.Event | None = None,
    settle: bool = False,
    prune: Prune | None = None,
    device: str | None = None,
) -> TrainResult:
    """Continue a stopped run (or extend a finished one to ``epochs`` in total) from last.pt.

    settle: the checkpoint records how the run ended (its process died before the files said so);
    write metrics.csv, curves.png and summary.json for that end and train nothing. A plain resume
    does this by itself for a completed or early-stopped run; a pruned one it trains on.
    prune: as for train. device: --device, over the run's train.device (devices.run_device)."""
    with Record.open(RunDir.open(run_path), reporter or Reporter()) as record:
        parts, progress = _setup_resume(record, epochs, argv or [], settle, device)
        return _train(parts, progress, record, stop or threading.Event(), prune)


def dry_run(cfg: Config, events=None) -> dict[str, Any]:
    """Everything a run would set up (data, preprocessing, model), without a run folder or training.
    ``events``: a data.Events that hears how preparing the data goes."""
    device = resolve_device(cfg.train.device)
    numerics = numerics_of(cfg, device)
    task = create_task(cfg, device, events)
    pretrained = load_pretrained(cfg, task)
    parts = build_parts(cfg, task, pretrained, fresh=False)
    return {
        "device": str(parts.device),
        "numerics": numerics,
        "data": task.summary(),
        "pretrained": pretrained_summary(pretrained),
        # every weight, frozen ones too, as the dry run has always counted (meta.json counts what trains)
        "parameters": sum(p.numel() for p in parts.model.parameters()),
        "epochs": cfg.train.epochs,
    }


def _setup_resume(
    record: Record, epochs: int | None, argv: list[str], settle: bool, device: str | None
) -> tuple[Parts, Progress]:
    """Check everything a resume depends on, then write."""
    run_dir, reporter = record.run_dir, record.reporter
    cfg = run_dir.load_config()
    record.meta = run_dir.read_json(run_dir.meta)
    summary = run_dir.read_json(run_dir.summary) if run_dir.summary.is_file() else {}  # a torn one is an error
    state = record.load_last()
    plan = plan_resume(run_dir, cfg, record.meta, state, summary, epochs, settle)
    check_packages(cfg)
    where, device_note = run_device(cfg.train.device, device)
    numerics = numerics_of(cfg, where)  # the run's own settings again, before its first CUDA call
    notes = [device_note, _device_change(record.meta, where)]  # before this resume joins meta.json
    task = restore_task(cfg, run_dir.read_json(run_dir.preprocessing), where, reporter)
    check_same_data(run_dir, record.meta, task)
    parts, progress = _restore(cfg, task, state, plan)
    faults.hit("resume:checked")
    # Every check has passed: only now is anything in the folder written.
    record.resumed(parts, progress, argv, numerics, write_config=epochs is not None)
    if progress.end is None:
        record.write_summary(Status.RUNNING, "", parts, progress)
        faults.hit("resume:done")
    record.track(parts, progress)
    for note in notes:
        if note:
            reporter.note(note)
    threads = record.meta.get("threads")
    if threads not in (None, torch.get_num_threads()):
        reporter.note(
            f"this run started with {threads} CPU threads and resumes with {torch.get_num_threads()}; "
            "results can differ in the last bits from an uninterrupted run (set train.threads to pin it)"
        )
    reporter.setup(record.info(parts, progress, resumed_from=(plan.done, progress.batch)))
    return parts, progress


def numerics_of(cfg: Config, device: torch.device) -> dict[str, Any]:
    """Set train.precision and train.deterministic for computing on ``device``; what is in effect (meta.json)."""
    return set_numerics(cfg.train.precision, cfg.train.deterministic, device)


def _device_change(meta: dict[str, Any], device) -> str | None:
    """A note when the run last trained on another kind of device: the kernels (cuDNN or the CPU's)
    and random streams differ, so the bits do (a CPU-started run has no CUDA random state to restore)."""
    trained = (meta["resumes"][-1] if meta["resumes"] else meta).get("device")
    if trained is None or torch.device(trained).type == device.type:
        return None
    return (
        f"this run trained on {trained} and resumes on {device}: the same training from the same checkpoint, "
        "but not the same bits as an uninterrupted run on one device"
    )


def _restore(cfg: Config, task, state: dict[str, Any] | None, plan: ResumePlan) -> tuple[Parts, Progress]:
    """The parts and progress the run goes on with: last.pt's, or (before the first checkpoint) the
    run's start, built again from the seed."""
    progress = Progress(end=plan.settled)
    if state is None:
        return build_parts(cfg, task, load_pretrained(cfg, task)), progress
    parts = build_parts(cfg, task, input_spec=state.get("input"), fresh=False)
    parts.model.load_state_dict(state["model"])
    progress.load_state_dict(state, parts)
    if plan.extending and plan.end is not None and plan.end[0] == Status.EARLY_STOPPED:
        parts.early.wait = 0  # an extension gets a fresh patience, or it would stop at once
    return parts, progress


def _train(parts: Parts, progress: Progress, record: Record, stop: threading.Event, prune: Prune | None) -> TrainResult:
    hooks = Hooks(
        reporter=record.reporter,
        stop=stop,
        prune=prune,
        save_last=lambda: record.save_last(parts, progress),
        epoch_saved=lambda row, improved: record.epoch_saved(parts, progress, row, improved),
        settle=record.writer.wait,
    )
    with record.ending(parts, progress):
        status, reason = fit(parts, progress, hooks)
        result = record.finish(status, reason, parts, progress)
    faults.hit("end:summary")
    return result
