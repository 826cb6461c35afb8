"""The learning-rate range test."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..config import Config
from ..devices import resolve_device, set_numerics
from ..errors import ConfigError, TrainingError
from ..tasks import create_task
from .events import Reporter
from .loop import step
from .parts import build_parts, load_pretrained


def lr_find(
    cfg: Config,
    steps: int = 200,
    min_lr: float = 1e-7,
    max_lr: float = 10.0,
    reporter: Reporter | None = None,
) -> dict[str, Any]:
    """Learning-rate range test (Smith 2015): train from the config's starting point while the lr
    grows exponentially from min_lr to max_lr, one batch per step, and record the smoothed loss.

    Stops early when the smoothed loss exceeds 4x its best (the lr has become far too large).
    Suggests the lr at the lowest smoothed loss divided by 10: large enough to learn fast, still
    an order of magnitude below where training breaks down.
    """
    if not 0 < min_lr < max_lr:
        raise ConfigError(f"lr-find: --min-lr ({min_lr}) must be positive and below --max-lr ({max_lr})")
    if steps < 10:
        raise ConfigError(f"lr-find: --steps {steps} is too few for a range test; use 100 or more")
    reporter = reporter or Reporter()
    device = resolve_device(cfg.train.device)
    set_numerics(cfg.train.precision, cfg.train.deterministic, device)  # as training would compute
    task = create_task(cfg, device, reporter)
    parts = build_parts(cfg, task, load_pretrained(cfg, task))
    lrs, losses, smoothed = _range_test(parts, steps, min_lr, max_lr, reporter)
    if len(smoothed) < 5:
        raise TrainingError("lr-find: the loss diverged within the first steps; lower --min-lr")
    low = int(np.argmin(smoothed))
    # Steepest descent of the smoothed loss against log(lr) before the minimum, a second opinion;
    # skipping the first tenth of the steps, where the moving average is still mostly noise.
    start = max(1, len(lrs) // 10)
    steepest = None
    if low - start >= 2:
        grads = np.gradient(np.array(smoothed[start : low + 1]), np.log(np.array(lrs[start : low + 1])))
        steepest = lrs[start + int(np.argmin(grads))]
    return {
        "lrs": lrs,
        "losses": losses,
        "smoothed": smoothed,
        "min_loss_lr": lrs[low],
        "steepest_lr": steepest,
        "suggested_lr": lrs[low] / 10,
        "steps_run": len(lrs),
        "prior_loss": task.prior_loss,
        "config": cfg.model_dump(mode="json"),
    }


def _range_test(parts, steps: int, min_lr: float, max_lr: float, reporter: Reporter) -> tuple[list, list, list]:
    """(lrs, losses, smoothed losses) of the steps taken, until the loss explodes or is not finite."""
    task = parts.task
    parts.model.train()
    lrs, losses, smoothed = [], [], []
    avg, best, beta = 0.0, math.inf, 0.98
    batches: list[np.ndarray] = []
    b = epoch = 0
    reporter.epoch_start(1, 1, steps, 0)
    for i in range(steps):
        if b == len(batches):  # next epoch of batches, as training would see them
            batches, b = task.batches(epoch), 0
            epoch += 1
        lr = min_lr * (max_lr / min_lr) ** (i / (steps - 1))
        for group in parts.optimizer.param_groups:
            group["lr"] = lr
        loss = step(parts, *task.batch(batches[b], epoch - 1, b))
        b += 1
        reporter.batch_end(loss)
        if not math.isfinite(loss):
            break
        avg = beta * avg + (1 - beta) * loss
        value = avg / (1 - beta ** (i + 1))  # bias-corrected exponential moving average
        lrs.append(lr)
        losses.append(loss)
        smoothed.append(value)
        best = min(best, value)
        if i > 10 and value > 4 * best:
            break
    return lrs, losses, smoothed
