"""The names a sweep stores: its files, the study's and trials' attributes, and its limits."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from ..errors import RnnexpError

SWEEP_FILE = "sweep.json"
JOURNAL = "journal.log"
FINISHED_STATES = ("COMPLETE", "PRUNED")
REPEAT_LIMIT = 20
BUDGET_REASON = "the sweep's epoch budget"  # in the stop reason a run's checkpoint records


def best_of(direction: str):
    """max or min: the better end of the objective (``maximize`` or ``minimize``), for every pick of a best."""
    return max if direction == "maximize" else min


def shown(value: float | None) -> str:
    """An objective value in a progress line or a stop reason: 4 significant digits (the stored
    values keep every digit)."""
    return "-" if value is None else f"{value:.4g}"


class Attr(StrEnum):
    """The user attributes rnnexp writes: the study's spec, and per trial. The values are the keys
    in the storage, so journals and databases written before keep reading."""

    SPEC = "rnnexp_sweep"  # the study's: the sweep spec and resolved base config
    MLFLOW = "mlflow_run_id"  # the study's, with train.mlflow: the sweep's MLflow run, the trials' parent
    TRAINED = "epochs_trained"  # epochs a trial trained itself (a retry's inherited ones are its predecessor's)
    SAME = "same_as"  # a repeat: the number of the trial whose result it took
    BUDGET = "budget_stop"  # stopped because the sweep's epoch_budget was spent
    BRACKET = "bracket"  # hyperband / successive_halving: the bracket of the trial's configuration
    PROMOTES = "promotes"  # a promotion: the number of the paused trial whose run it resumes
    SURPLUS = "surplus"  # asked for when the total was reached (or its claim taken): never trained, never counted
    RUN_DIR = "run_dir"  # the trial's run folder
    HOST = "host"  # the machine of the worker running it
    PID = "pid"  # ... and that worker's process
    DIED = "died"  # why it was reaped: its worker died
    ERROR = "error"  # why it failed on its own (diverged, no metric)


class SystemAttr(StrEnum):
    """Optuna's own trial system attributes that the sweep reads (enqueue_trial and the retry callback write them)."""

    RETRY_HISTORY = "retry_history"  # a retry: the numbers of the dead trials it continues, oldest first
    FAILED_TRIAL = "failed_trial"  # a retry: the first dead trial of its chain
    FIXED_PARAMS = "fixed_params"  # taken from the queue: a grid point, a retry or a promotion


# The names tests and benchmarks use.
SAME_ATTR = Attr.SAME
BUDGET_ATTR = Attr.BUDGET
BRACKET_ATTR = Attr.BRACKET
PROMOTES_ATTR = Attr.PROMOTES


class SweepError(RnnexpError):
    """A sweep folder or storage cannot be used for what was asked."""

    exit_code = 2


def config_key(params: dict[str, Any]) -> str:
    """One configuration's parameters as one comparable string."""
    return json.dumps(params, sort_keys=True)
