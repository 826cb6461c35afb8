"""The training policies: early stopping and the learning-rate schedule."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..config import direction_of


class EarlyStopping:
    """Tracks the best value of the monitored metric; says when patience has run out."""

    def __init__(self, monitor: str, mode: str, patience: int, min_delta: float, enabled: bool):
        self.monitor, self.mode, self.patience, self.min_delta, self.enabled = monitor, mode, patience, min_delta, enabled
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.wait = 0

    def step(self, value: float, epoch: int) -> bool:
        """Record one epoch's value; True when it is a new best."""
        if self.best is None:
            better = True
        elif self.mode == "min":
            better = value < self.best - self.min_delta
        else:
            better = value > self.best + self.min_delta
        if better:
            self.best, self.best_epoch, self.wait = value, epoch, 0
        else:
            self.wait += 1
        return better

    @property
    def should_stop(self) -> bool:
        # As Keras: checked after an epoch without improvement; patience 0 stops at the first one.
        return self.enabled and self.wait > 0 and self.wait >= self.patience

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]


def _cosine(s: LRSchedule, e: int) -> float:
    c = s.cfg
    span = max(1, s.epochs - c.warmup_epochs)
    return c.min_lr + (s.base - c.min_lr) * (1 + math.cos(math.pi * min(e, span) / span)) / 2


# The learning rate after warmup, by lr_schedule.kind, of (schedule, epochs since warmup ended);
# a kind not named here ("none") keeps the base rate.
_AFTER_WARMUP: dict[str, Callable[[LRSchedule, int], float]] = {
    "time": lambda s, e: s.base / (1.0 + s.cfg.decay * e),
    "step": lambda s, e: s.base * s.cfg.gamma ** (e // s.cfg.step_size),
    "exponential": lambda s, e: s.base * s.cfg.gamma**e,
    "cosine": _cosine,
    "plateau": lambda s, e: max(s.cfg.min_lr, s.base * s.factor),
}


class LRSchedule:
    """Learning rate as a function of (epoch, batch), plus the reduce-on-plateau state."""

    def __init__(self, cfg, base_lr: float, epochs: int):
        self.cfg, self.base, self.epochs = cfg, base_lr, epochs
        self.factor, self.best, self.wait = 1.0, None, 0

    @property
    def active(self) -> bool:
        return self.cfg.kind != "none" or self.cfg.warmup_epochs > 0

    def lr(self, epoch: int, batch: int, batches: int) -> float:
        c = self.cfg
        step, warm = epoch * batches + batch, c.warmup_epochs * batches
        if step < warm:
            return self.base * (step + 1) / warm
        after = _AFTER_WARMUP.get(c.kind)
        return self.base if after is None else after(self, epoch - c.warmup_epochs)

    def epoch_end(self, row: dict[str, Any]) -> None:
        c = self.cfg
        if c.kind != "plateau" or row.get(c.monitor) is None:
            return
        value, minimize = row[c.monitor], direction_of(c.monitor) == "min"
        if self.best is None or (value < self.best if minimize else value > self.best):
            self.best, self.wait = value, 0
        else:
            self.wait += 1
            if self.wait >= max(1, c.patience):
                self.factor *= c.gamma
                self.wait = 0

    def state_dict(self) -> dict[str, Any]:
        return {"factor": self.factor, "best": self.best, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.factor, self.best, self.wait = state["factor"], state["best"], state["wait"]
