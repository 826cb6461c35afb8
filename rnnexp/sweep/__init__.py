"""Hyperparameter sweeps on Optuna: each trial an ordinary run folder, and workers that may die.

Layout of a sweep folder ``runs/sweep_<UTC stamp>_<name>/``:
  sweep.json      study name, storage (password removed), objective, total trials, epoch budget, creation time
  sweep.yaml      the sweep as it runs (--set applied, every key), over base: base.yaml, the config every
                  trial starts from (its base config resolved, `set` applied); it runs again from anywhere
  journal.log     Optuna's journal (the default storage: a file, safe for several local processes)
  trials/         one run folder per trial, <UTC stamp>_trial-<number>
  results.csv, best_config.yaml   written by `rnnexp sweep results`

What the study itself holds (so a worker on another machine needs only --storage and --study):
the sweep spec and resolved base config as study user attributes; per trial, the run folder, host
and PID of the worker running it.

Robustness, in the order a worker meets it:
  * exact totals: every trial is counted once whatever the number of workers. A grid enqueues each
    point once at creation; workers take queued trials first. A trial asked for when the total is
    already reached (two workers racing for the last slot) is marked failed as "surplus" at once,
    before any training, and left out of every count and table.
  * dead workers: with PostgreSQL, running trials send heartbeats; a trial silent for longer than
    heartbeat.grace is failed by the next worker that looks and re-queued (Optuna's
    RetryHeartbeatStaleTrialCallback). With the journal file (or SQLite), a worker reaps RUNNING
    trials whose process on this host is gone. A claim (ask, then the owner: heartbeat, host, pid)
    is several writes: a trial still without an owner after heartbeat.grace was claimed by a worker
    killed meanwhile, and is reaped too. Either way the retry resumes the dead trial's run folder
    from its last checkpoint, so no finished epoch is trained twice.
  * stopping: sweep run / resume start their workers in sessions of their own and stop them by
    closing their stdin (after a signal, or when killed): a terminal's Ctrl-C reaches each worker
    once, and each hands its trial back at a checkpoint.
  * a worker paused past the grace period finds its trial taken away when it wakes: it stops that
    run at the next batch (the checkpoint stays), releases the folder for the retry, and goes on.

Spending (random and TPE samplers):
  * no configuration is trained twice. Samplers propose repeats (TPE more so as it converges), and
    training is seeded and deterministic, so a repeat takes the earlier trial's result: a complete
    one its value, a pruned one its recorded epochs, shown to the pruner again (if the pruner now
    lets it through, its run goes on from its checkpoint). Repeats do not count toward the total; a
    sampler that proposes nothing but repeats REPEAT_LIMIT times in a row has converged, and the sweep ends.
  * hyperband, successive_halving: a trial the pruner stops at a rung is paused, not dropped; before
    starting a new configuration a worker promotes any paused trial of its machine that later trials
    have made one of the best at its rung, resuming its run from the checkpoint (see Halving).
    Promotions continue configurations already counted, so they do not count toward the total.
  * epoch_budget: every trial records the epochs it trained itself; once the sweep's sum reaches
    the budget no trial starts, and the one training stops at its epoch's end (pruned, resumable).

Modules, one job each: names (files, attribute names, limits), storage (journal and PostgreSQL),
pruning (samplers, pruners, Halving), ledger (TrialLedger: what the trials say, read once per
decision), study (create and open a sweep, the search space), held (a trial in a worker's hands),
trial (one trial run), worker (the worker loop, reaping, local worker processes), results.
"""

from ..config import objective_of
from .held import Events
from .ledger import TrialLedger, epochs_spent
from .local import WORKER_NAME, WORKER_START, Watch, WorkersEnd, follow_parent, forks_workers, run_workers, worker_start
from .names import (
    BRACKET_ATTR,
    BUDGET_ATTR,
    BUDGET_REASON,
    FINISHED_STATES,
    JOURNAL,
    PROMOTES_ATTR,
    REPEAT_LIMIT,
    SAME_ATTR,
    SWEEP_FILE,
    Attr,
    SweepError,
    SystemAttr,
)
from .pruning import Halving, max_epochs, promoted_trials
from .results import compute_results, importances, results, write_results
from .storage import open_storage, redact
from .study import Sweep, create, grid_points, open_sweep
from .trial import take_result as _take_result
from .worker import WorkerResult, reap, work, worker_devices

__all__ = [
    "BRACKET_ATTR",
    "BUDGET_ATTR",
    "BUDGET_REASON",
    "FINISHED_STATES",
    "JOURNAL",
    "PROMOTES_ATTR",
    "REPEAT_LIMIT",
    "SAME_ATTR",
    "SWEEP_FILE",
    "Attr",
    "Events",
    "Halving",
    "Sweep",
    "SweepError",
    "SystemAttr",
    "TrialLedger",
    "Watch",
    "WorkerResult",
    "WorkersEnd",
    "compute_results",
    "create",
    "epochs_spent",
    "follow_parent",
    "grid_points",
    "importances",
    "max_epochs",
    "objective_of",
    "open_sweep",
    "open_storage",
    "promoted_trials",
    "reap",
    "redact",
    "results",
    "run_workers",
    "forks_workers",
    "worker_start",
    "WORKER_NAME",
    "WORKER_START",
    "work",
    "worker_devices",
    "write_results",
    "_take_result",
]
