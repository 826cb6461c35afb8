"""training/policies.py: early stopping (when a value is a new best, when patience has run out)
and the learning-rate schedule (each kind's rate by epoch and batch, warmup, reduce on plateau),
with their state for a resume. In-process, no training: tests/test_train.py and
tests/test_train_knobs.py train with them."""

from __future__ import annotations

import math

import pytest

from rnnexp.config import ScheduleConfig
from rnnexp.training import EarlyStopping, LRSchedule


def test_early_stopping_object():
    es = EarlyStopping("val_accuracy", "max", patience=2, min_delta=0.01, enabled=True)
    assert es.state_dict() == {"best": None, "best_epoch": None, "wait": 0}  # what a run's first last.pt holds
    assert es.step(0.5, 1) and not es.step(0.505, 2) and not es.should_stop
    assert not es.step(0.4, 3) and es.should_stop
    copy = EarlyStopping("val_accuracy", "max", 2, 0.01, True)
    copy.load_state_dict(es.state_dict())
    assert copy.state_dict() == {"best": 0.5, "best_epoch": 1, "wait": 2}
    assert es.step(0.52, 4) and es.state_dict() == {"best": 0.52, "best_epoch": 4, "wait": 0}  # by more than min_delta
    zero = EarlyStopping("val_loss", "min", patience=0, min_delta=0.0, enabled=True)
    assert zero.step(1.0, 1) and not zero.should_stop
    assert not zero.step(1.0, 2) and zero.should_stop
    off = EarlyStopping("val_loss", "min", 0, 0.0, enabled=False)
    off.step(1.0, 1)
    off.step(2.0, 2)
    assert not off.should_stop
    # Lower is better when minimizing, by more than min_delta; an equal value is no improvement.
    lower = EarlyStopping("val_loss", "min", patience=2, min_delta=0.1, enabled=True)
    assert lower.step(1.0, 1) and lower.step(0.85, 2) and not lower.step(0.8, 3) and not lower.step(2.0, 4)
    assert lower.state_dict() == {"best": 0.85, "best_epoch": 2, "wait": 2} and lower.should_stop
    for mode, values in (("max", (0.5, 0.5)), ("min", (0.5, 0.5))):
        same = EarlyStopping("m", mode, patience=1, min_delta=0.0, enabled=True)
        assert same.step(values[0], 1) and not same.step(values[1], 2)


def test_lr_schedule_values():
    def lrs(batches=4, epochs=6, **kw):
        s = LRSchedule(ScheduleConfig(**kw), 1.0, epochs)
        return [s.lr(e, 0, batches) for e in range(epochs)]

    assert lrs(kind="none") == [1.0] * 6
    assert lrs(kind="time", decay=0.5) == pytest.approx([1 / (1 + 0.5 * e) for e in range(6)])
    assert lrs(kind="step", step_size=2, gamma=0.1) == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])
    assert lrs(kind="exponential", gamma=0.5) == pytest.approx([0.5**e for e in range(6)])
    cos = lrs(kind="cosine", min_lr=0.1, epochs=5)
    assert cos[0] == pytest.approx(1.0) and cos[-1] == pytest.approx(0.1 + 0.9 * (1 + math.cos(math.pi * 4 / 5)) / 2)
    # After a warmup the cosine spans the epochs that remain: here 4, from the full rate down towards min_lr.
    warm_cos = lrs(kind="cosine", min_lr=0.1, warmup_epochs=2)[2:]
    assert warm_cos == pytest.approx([0.1 + 0.9 * (1 + math.cos(math.pi * k / 4)) / 2 for k in range(4)])
    warm = LRSchedule(ScheduleConfig(kind="none", warmup_epochs=2), 1.0, 6)
    assert [warm.lr(0, b, 4) for b in range(4)] + [warm.lr(1, 3, 4)] == pytest.approx([1 / 8, 2 / 8, 3 / 8, 4 / 8, 1.0])
    assert warm.lr(2, 0, 4) == 1.0 and warm.active and not LRSchedule(ScheduleConfig(), 1.0, 3).active


@pytest.mark.parametrize("monitor", ["val_loss", "val_accuracy", "val_f1", "val_mae", "val_rmse", "train_loss"])
def test_plateau_schedule_cuts_the_lr_only_when_the_monitor_stops_improving(monitor):
    """Every monitor by its own direction (config.direction_of). The schedule used to take every
    monitor not ending in "loss" as one that should rise: on val_mae, an error falling 5 -> 1 cut
    the lr from 1.0 to 0.0625 in 5 epochs."""
    from rnnexp.config import direction_of

    sign = 1 if direction_of(monitor) == "max" else -1
    cfg = ScheduleConfig(kind="plateau", patience=1, gamma=0.5, monitor=monitor)
    better = LRSchedule(cfg, 1.0, 10)
    for value in (5, 4, 3, 2, 1):
        better.epoch_end({monitor: float(6 + sign * (6 - value))})  # improving every epoch
    assert better.lr(5, 0, 1) == 1.0
    worse = LRSchedule(cfg, 1.0, 10)
    for value in (5, 4, 3, 2, 1):
        worse.epoch_end({monitor: float(6 - sign * (6 - value))})  # getting worse every epoch
    assert worse.lr(5, 0, 1) == pytest.approx(1.0 * 0.5**4)


def test_only_a_plateau_schedule_watches_its_monitor_and_only_when_the_row_has_it():
    for kind in ("none", "time", "step", "exponential", "cosine"):  # their lr is a function of the epoch alone
        s = LRSchedule(ScheduleConfig(kind=kind, monitor="val_loss", patience=0), 1.0, 10)
        for value in (1.0, 2.0, 3.0):
            s.epoch_end({"val_loss": value})
        assert s.state_dict() == {"factor": 1.0, "best": None, "wait": 0}
    plateau = LRSchedule(ScheduleConfig(kind="plateau", monitor="val_loss", patience=0), 1.0, 10)
    plateau.epoch_end({"train_loss": 1.0})  # a row without its monitor (no validation split): nothing to judge
    plateau.epoch_end({"val_loss": None})
    assert plateau.state_dict() == {"factor": 1.0, "best": None, "wait": 0}


@pytest.mark.parametrize("monitor, sign", [("val_loss", 1), ("val_accuracy", -1)])
def test_plateau_counts_epochs_without_improvement_and_starts_again_after_a_cut(monitor, sign):
    """patience 2: the factor halves after two epochs in a row no better than the best (an equal value
    is no better), the count starts again after an improvement and after each cut."""
    s = LRSchedule(ScheduleConfig(kind="plateau", patience=2, gamma=0.5, monitor=monitor), 1.0, 20)
    seen = []
    for value in (1.0, 1.0, 0.9, 0.95, 0.95, 0.95, 0.95):
        s.epoch_end({monitor: sign * value})
        seen.append((s.state_dict()["factor"], s.state_dict()["wait"]))
    assert seen == [(1.0, 0), (1.0, 1), (1.0, 0), (1.0, 1), (0.5, 0), (0.5, 1), (0.25, 0)]
    assert s.state_dict()["best"] == sign * 0.9


def test_plateau_schedule_state_roundtrip():
    s = LRSchedule(ScheduleConfig(kind="plateau", patience=1, gamma=0.5, min_lr=0.2, monitor="val_loss"), 1.0, 10)
    for value in (1.0, 1.1, 0.9, 0.8):  # one epoch without improvement, patience 1: one halving
        s.epoch_end({"val_loss": value})
    assert s.lr(4, 0, 1) == pytest.approx(0.5)
    copy = LRSchedule(s.cfg, 1.0, 10)
    copy.load_state_dict(s.state_dict())
    assert copy.state_dict() == s.state_dict()
    for _ in range(4):
        s.epoch_end({"val_loss": 2.0})
    assert s.lr(11, 0, 1) == 0.2  # floor
