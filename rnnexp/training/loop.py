"""The training loop: epochs of optimizer steps, and the decision how a run ends. No file I/O: what
is saved, and when, it leaves to Hooks.

The batches of an epoch, and any augmentation of them, are pure functions of (seed, epoch, batch)
(each task's batches(), built on data.epoch_batches / bucket_batches / augment_batch): with the
state of Progress restored, a resumed run takes exactly the steps an uninterrupted one does."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .. import faults
from ..errors import DivergedError, TrainingError, counted
from ..rundir import Status
from .events import Prune, Reporter
from .parts import Parts
from .progress import Progress

Ending = tuple[Status, str]


@dataclass
class Hooks:
    """What the loop calls out to."""

    reporter: Reporter
    stop: threading.Event
    prune: Prune | None
    save_last: Callable[[], None]  # last.pt, when a stop comes mid-epoch
    epoch_saved: Callable[[dict[str, Any], bool], None]  # (row, improved): the epoch's checkpoints and files
    settle: Callable[[], None]  # the checkpoints handed off are on disk (before a fault point's kill)


def fit(parts: Parts, progress: Progress, hooks: Hooks) -> Ending:
    """Train until the run ends; how it ended."""
    if progress.end is not None:  # resumed after the end was decided and checkpointed
        return progress.end
    epochs = parts.cfg.train.epochs
    while progress.epoch < epochs:
        try:
            ended = _epoch(parts, progress, hooks)
        except RuntimeError as e:
            if parts.cfg.train.deterministic and "deterministic" in str(e):
                raise _no_deterministic_kernel(e) from None
            raise
        if ended is not None:
            return ended
    return Status.COMPLETED, f"trained all {counted(epochs, 'epoch')}"


def _no_deterministic_kernel(e: RuntimeError) -> TrainingError:
    """torch's refusal of an op without a deterministic kernel, as a run's error naming the key that asked for one."""
    return TrainingError(
        f"train.deterministic is true, but {str(e).splitlines()[0]}; to train this model on this device, "
        "train again with train.deterministic: false"
    )


def step(parts: Parts, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """One optimizer step; returns the batch's loss (without l1/l2 penalties). With
    train.precision bf16/fp16 the forward pass runs under autocast, the loss on float32 outputs."""
    tc, model, scaler = parts.cfg.train, parts.model, parts.scaler
    parts.optimizer.zero_grad(set_to_none=True)
    with parts.autocast():
        loss = parts.task.loss(model(inputs).float(), targets)
    total = loss
    if tc.l1 or tc.l2:
        # Penalties join the gradient but not the reported loss, which stays comparable to val_loss.
        weights = model.regularized_weights()
        if tc.l1:
            total = total + tc.l1 * sum(w.abs().sum() for w in weights)
        if tc.l2:
            total = total + tc.l2 * sum(w.pow(2).sum() for w in weights)
    if scaler is None:
        total.backward()
    else:  # fp16: a scaled loss, so small gradients do not vanish; unscaled again before clipping
        scaler.scale(total).backward()
        scaler.unscale_(parts.optimizer)
    if tc.clip_value is not None:
        torch.nn.utils.clip_grad_value_(parts.params, tc.clip_value)
    if tc.clip_norm is not None:
        # RNN gradients can explode over long sequences; cap their global norm.
        torch.nn.utils.clip_grad_norm_(parts.params, tc.clip_norm)
    if scaler is None:
        parts.optimizer.step()
    else:  # skips the step when a gradient overflowed, and adapts the scale
        scaler.step(parts.optimizer)
        scaler.update()
    return loss.item()


def _epoch(parts: Parts, progress: Progress, hooks: Hooks) -> Ending | None:
    """The rest of the epoch in progress; how the run ends with it, or None if it goes on."""
    epoch_no, epochs = progress.epoch + 1, parts.cfg.train.epochs
    batches = parts.task.batches(progress.epoch)
    hooks.reporter.epoch_start(epoch_no, epochs, len(batches), progress.batch)
    parts.model.train()
    scheduled = parts.schedule.active
    started = time.perf_counter()
    for b in range(progress.batch, len(batches)):
        if scheduled:
            lr = parts.schedule.lr(progress.epoch, b, len(batches))
            for group in parts.optimizer.param_groups:
                group["lr"] = lr
        value = step(parts, *parts.task.batch(batches[b], progress.epoch, b))
        if not math.isfinite(value):
            raise DivergedError(
                f"loss is not finite ({value}) at epoch {epoch_no}, batch {b + 1}; lower train.lr or set "
                f"train.clip_norm and train again (the checkpoint of epoch {progress.epoch} is intact)"
            )
        progress.loss_sum += value * len(batches[b])
        progress.seen += len(batches[b])
        progress.batch = b + 1
        hooks.reporter.batch_end(value)
        faults.hit(f"batch:{epoch_no}:{progress.batch}", hooks.settle)
        if hooks.stop.is_set() and progress.batch < len(batches):
            progress.seconds += time.perf_counter() - started
            hooks.save_last()
            return Status.INTERRUPTED, f"interrupted during epoch {epoch_no} after batch {progress.batch}/{len(batches)}"
    progress.seconds += time.perf_counter() - started
    return _close_epoch(parts, progress, hooks, epoch_no)


def _close_epoch(parts: Parts, progress: Progress, hooks: Hooks, epoch_no: int) -> Ending | None:
    row = _epoch_row(parts, progress, epoch_no)
    improved = parts.early.step(row[parts.early.monitor], epoch_no)
    parts.schedule.epoch_end(row)
    progress.epoch_done(row)
    # Every decision about this epoch is taken before its checkpoint, and recorded in it:
    # a resume after a kill anywhere below decides nothing again.
    hooks.reporter.epoch_end(row, improved)
    prune = hooks.prune(row) if hooks.prune is not None else None
    progress.end = _decide_end(parts, progress, prune)
    hooks.epoch_saved(row, improved)
    k = parts.cfg.train.plateau_warning
    if k == epoch_no and plateau_warning(parts, progress.history):
        hooks.reporter.note(plateau_warning(parts, progress.history))
    if progress.end is not None:
        return progress.end
    if hooks.stop.is_set():
        return Status.INTERRUPTED, f"interrupted after epoch {epoch_no}"
    return None


def _decide_end(parts: Parts, progress: Progress, prune: str | None) -> Ending | None:
    """How the run ends after the epoch just finished, or None if it goes on."""
    early, epochs = parts.early, parts.cfg.train.epochs
    if early.should_stop:
        return Status.EARLY_STOPPED, (
            f"no improvement of {early.monitor} for {counted(early.wait, 'epoch')} "
            f"(patience {early.patience}); best epoch {early.best_epoch}"
        )
    if progress.epoch >= epochs:
        return Status.COMPLETED, f"trained all {counted(epochs, 'epoch')}"
    if prune:
        return Status.PRUNED, prune
    return None


def _epoch_row(parts: Parts, progress: Progress, epoch_no: int) -> dict[str, Any]:
    row: dict[str, Any] = {"epoch": epoch_no, "train_loss": progress.loss_sum / max(1, progress.seen)}
    row.update(parts.task.validate(parts.model))
    row["lr"] = float(parts.optimizer.param_groups[0]["lr"])
    row["seconds"] = round(progress.seconds, 3)
    return row


def plateau_warning(parts: Parts, history: list[dict[str, Any]]) -> str | None:
    """Derived from the history alone, so a resumed run warns exactly as an uninterrupted one."""
    k = parts.cfg.train.plateau_warning
    if k is None or len(history) < k:
        return None
    task = parts.task
    prior = task.prior_loss
    if all(row["train_loss"] >= 0.98 * prior for row in history[:k]):
        baseline = task.prior_name
        return (
            f"after {counted(k, 'epoch')} the training loss ({history[k - 1]['train_loss']:.4f}) is still within 2% of "
            f"{prior:.4f}, the loss of predicting {baseline}: the model has not started "
            f"learning. Try a larger train.lr (rnnexp lr-find suggests one)"
        )
    return None
