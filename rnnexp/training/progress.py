"""Where training stands, and the one shape of a checkpoint's training state (last.pt).

Exact resume rests on last.pt holding everything the next batch depends on: model, optimizer,
early stopping, schedule, fp16's gradient scaler, every RNG state, the position inside the epoch
and the running loss sums. Progress.state_dict writes those entries and Progress.load_state_dict reads them back."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import checkpoint
from ..rundir import RunDir, Status
from .parts import Parts


@dataclass
class Progress:
    epoch: int = 0  # completed epochs
    batch: int = 0  # completed batches of the epoch in progress
    loss_sum: float = 0.0
    seen: int = 0
    seconds: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)
    end: tuple[Status, str] | None = None  # (status, reason) once the run has ended; in every last.pt

    def state_dict(self, parts: Parts) -> dict[str, Any]:
        """last.pt's entries beside the model's (Parts.model_entries)."""
        return {
            "kind": "last",
            "optimizer": parts.optimizer.state_dict(),
            "early_stopping": parts.early.state_dict(),
            "schedule": parts.schedule.state_dict(),
            "epoch": self.epoch,
            "batch": self.batch,
            "loss_sum": self.loss_sum,
            "seen": self.seen,
            "seconds": self.seconds,
            "history": self.history,
            "rng": _get_rng_state(),
            "grad_scaler": parts.scaler.state_dict() if parts.scaler is not None else None,
            "end": None if self.end is None else {"status": str(self.end[0]), "reason": self.end[1]},
        }

    def load_state_dict(self, state: dict[str, Any], parts: Parts) -> None:
        """Continue from last.pt: the parts' states, the position, and every RNG (last). The end it
        records is for the resume to judge (end_of), not taken here."""
        parts.optimizer.load_state_dict(state["optimizer"])
        parts.early.load_state_dict(state["early_stopping"])
        parts.schedule.load_state_dict(state["schedule"])
        if parts.scaler is not None and state.get("grad_scaler"):
            parts.scaler.load_state_dict(state["grad_scaler"])  # fp16: the loss scale it had reached
        self.epoch, self.batch = int(state["epoch"]), int(state["batch"])
        self.loss_sum, self.seen, self.seconds = float(state["loss_sum"]), int(state["seen"]), float(state["seconds"])
        self.history = [dict(r) for r in state["history"]]
        _set_rng_state(state["rng"])

    def epoch_done(self, row: dict[str, Any]) -> None:
        """The epoch in progress is complete: its row joins the history; the sums start again."""
        self.history.append(row)
        self.epoch, self.batch = int(row["epoch"]), 0
        self.loss_sum, self.seen, self.seconds = 0.0, 0, 0.0


def end_of(state: dict[str, Any] | None) -> tuple[Status, str] | None:
    """How the run ended, as a checkpoint records it; None while it goes on (or before one)."""
    end = state.get("end") if state else None
    return None if end is None else (Status(end["status"]), end["reason"])


def read_last(run: RunDir, run_id: str | None) -> tuple[dict[str, Any] | None, str | None]:
    """(last.pt, or last.prev.pt when last.pt fails a check; a warning when it did), or (None, None)
    before the run's first checkpoint."""
    if not (run.last.is_file() or checkpoint.previous_path(run.last).is_file()):
        return None, None
    return checkpoint.load_with_fallback(run.last, run_id)


def recorded(run_path: str | Path) -> dict[str, Any] | None:
    """What a run's checkpoint says of its progress: {"epoch", "batch", "end", "history"} (end:
    {"status", "reason"} once the run has ended, else None); None before its first checkpoint."""
    run = RunDir.open(run_path)
    state, _ = read_last(run, run.read_json(run.meta).get("run_id"))
    if state is None:
        return None
    return {"epoch": int(state["epoch"]), "batch": int(state["batch"]), "end": state.get("end"), "history": state["history"]}


def _get_rng_state() -> dict[str, Any]:
    # Only tensors and plain values: the checkpoint must load with weights_only=True.
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        # One state per CUDA device the run saw; each restored where that device is here too.
        for index, device_state in enumerate(state["cuda"][: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(device_state, index)
