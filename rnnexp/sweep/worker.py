"""A worker: pulls trials until the sweep has its total, first taking back the trials of workers
that died."""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import faults
from ..errors import StorageError
from .held import Events, HeldTrial
from .ledger import TrialLedger, promotes_of, retries_of
from .local import WORKER_NAME
from .names import Attr, SystemAttr
from .storage import Retry, heartbeats, storage_of, stored_trial
from .study import end_sweep_run
from .trial import run_trial

if TYPE_CHECKING:
    from .study import Sweep

_WAIT = ""  # _before_asking: others run the last trials


@dataclass
class WorkerResult:
    trials: list[dict[str, Any]] = field(default_factory=list)  # what this worker did, one entry per trial
    reaped: list[int] = field(default_factory=list)  # trial numbers found dead and re-queued
    stopped_by: str = ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a reused PID belongs to some other program (a forked worker is named by its comm: _name_worker)
        proc = Path(f"/proc/{pid}")
        return b"rnnexp" in (proc / "cmdline").read_bytes() or (proc / "comm").read_text().startswith(WORKER_NAME)
    except OSError:
        return True


def reap(sw: Sweep, unowned: dict[int, float] | None = None) -> list[int]:
    """Fail and re-queue the trials whose worker died: with heartbeats (PostgreSQL), those silent
    for heartbeat.grace (Optuna's check); else those whose process on this host is gone; and with
    either, those a worker was killed while claiming (_unowned_too_long). ``unowned``: when this
    worker first saw each trial without an owner (the worker loop keeps it from one call to the
    next). Returns the reaped trial numbers."""
    import optuna
    from optuna.trial import TrialState

    reaped = []
    beats = heartbeats(sw.study)
    if beats:
        before = {t.number for t in TrialLedger(sw).in_state(TrialState.FAIL)}
        optuna.storages.fail_stale_trials(sw.study)
        after = TrialLedger(sw).in_state(TrialState.FAIL)
        reaped += [t.number for t in after if t.number not in before and not t.user_attrs.get(Attr.SURPLUS)]
    seen = {} if unowned is None else unowned
    running = TrialLedger(sw).in_state(TrialState.RUNNING)
    for number in set(seen) - {t.number for t in running if not _owned(t)}:
        del seen[number]  # owned or ended since
    host = socket.gethostname()
    for t in running:
        pid = t.user_attrs.get(Attr.PID)
        if not _owned(t):
            why = "its worker died while claiming it" if _unowned_too_long(sw, t, seen) else None
        elif beats or t.user_attrs.get(Attr.HOST) != host or pid == os.getpid() or _alive(pid):
            why = None  # its heartbeats tell (Optuna's check, above), or another machine's, or alive
        else:
            why = f"worker {host}:{pid} died"
        if why is not None and _fail_dead(sw, t, why):
            reaped.append(t.number)
    return sorted(reaped)


def _owned(t) -> bool:
    """Whether a running trial has its owner: the pid its worker writes last when claiming it (_own)."""
    return isinstance(t.user_attrs.get(Attr.PID), int)


def _unowned_too_long(sw: Sweep, t, seen: dict[int, float]) -> bool:
    """Whether a running trial without an owner has been so for longer than heartbeat.grace: its
    worker was killed while claiming it (a claim takes milliseconds). How long: since it started,
    by the journal (which records the start in UTC, one clock for every machine); with a database
    (which records the claiming machine's local time), since this worker first saw it so."""
    now = time.monotonic()
    age = now - seen.setdefault(t.number, now)
    if sw.storage_url is None and t.datetime_start is not None:
        age = max(age, (datetime.now() - t.datetime_start).total_seconds())
    return age > sw.sweep.heartbeat.grace


def _fail_dead(sw: Sweep, t, why: str) -> bool:
    """Fail a trial whose worker died, saying why, and queue its retry; False when another worker did first."""
    import optuna
    from optuna.trial import TrialState

    storage = storage_of(sw.study)
    try:
        storage.set_trial_user_attr(t._trial_id, Attr.DIED, why)
        storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False  # another worker reaped it first
    Retry(sw.sweep.heartbeat.max_retry)(sw.study, stored_trial(sw.study, t))
    return True


def _requeue_orphans(sw: Sweep) -> list[int]:
    """Handing a trial back (or reaping it) is two writes: fail it, then queue its retry. A process
    killed between them, or a disk that filled up, leaves a failed trial that no retry continues and
    that counts as done: queue its retry now. (A trial that failed on its own carries its error.
    Two workers doing this at once queue two retries; the second one taken is surplus.)"""
    orphans = TrialLedger(sw).orphans()
    retry = Retry(sw.sweep.heartbeat.max_retry)
    for t in orphans:
        retry(sw.study, t)
    return [t.number for t in orphans]


def work(
    sw: Sweep, runs_dir: Path | None = None, events: Events | None = None, stop: threading.Event | None = None
) -> WorkerResult:
    """Pull trials until the sweep has its total. Returns what this worker did. A full disk stops the
    worker (StorageError): its trial is handed back, or left running for the next worker to reap,
    and retried from its checkpoint once the sweep is resumed."""
    try:
        return _work(sw, runs_dir, events, stop)
    except StorageError as e:
        raise e.next_step(f"rnnexp sweep resume {sw.path}" if sw.path else "start the sweep's workers again") from None


def _work(sw: Sweep, runs_dir: Path | None, events: Events | None, stop: threading.Event | None) -> WorkerResult:
    from .. import training

    events = events or Events()
    stop = stop or threading.Event()
    trials_dir = runs_dir or (sw.path / "trials" if sw.path else Path("runs"))
    result = WorkerResult()
    unowned: dict[int, float] = {}
    while not stop.is_set():
        reaped = reap(sw, unowned)
        result.reaped += reaped
        for number in reaped:
            events.note(f"trial {number}: its worker died; queued again, to resume from its last checkpoint")
        for number in _requeue_orphans(sw):
            result.reaped.append(number)
            events.note(f"trial {number}: stopped without its retry queued; queued again, to resume from its last checkpoint")
        done = _before_asking(sw)
        if done == _WAIT:
            # Others run the last trials: stay, to take over any of them whose worker dies.
            stop.wait(1.0)
            continue
        if done is not None:
            result.stopped_by = done
            break
        trial = _take(sw)
        if trial is not None:
            result.trials.append(run_trial(sw, trial, trials_dir, events, stop, training))
    if stop.is_set() and not result.stopped_by:
        result.stopped_by = "interrupted"
    elif result.stopped_by:
        end_sweep_run(sw, trials_dir, events)  # with train.mlflow: the sweep's MLflow run is finished
    return result


def _before_asking(sw: Sweep) -> str | None:
    """Before this worker asks for a trial: queue a paused trial to promote, if there is one. None
    when a trial may be asked for; _WAIT when nothing new may start but others still run trials;
    else why this worker is done."""
    from optuna.trial import TrialState

    ledger = TrialLedger(sw)
    over = ledger.ended()
    nothing_new = not ledger.in_state(TrialState.WAITING) and (
        sw.sweep.sampler.exhaustive or ledger.counted() >= sw.total or bool(over)
    )
    running = nothing_new and bool(ledger.in_state(TrialState.RUNNING))
    paused = ledger.promotable(final=nothing_new and not running)
    if paused is not None:  # before any new configuration, and also once the total is reached
        sw.study.enqueue_trial(
            paused.params, user_attrs={Attr.PROMOTES: paused.number, Attr.BRACKET: paused.user_attrs.get(Attr.BRACKET, 0)}
        )
        return None
    if nothing_new:
        return _WAIT if running else (over or "all trials done")
    return None


def _take(sw: Sweep) -> HeldTrial | None:
    """Ask the study for a trial and make it this worker's; None when it is surplus (failed at once, never trained)."""
    from optuna.trial import TrialState

    trial = HeldTrial(sw, sw.study.ask())
    inherited = stored_trial(sw.study, trial)
    _own(sw, trial, _claim_kind(inherited))
    # A retry starts with its dead predecessor's attributes: these are its own now.
    for stale in (Attr.DIED, Attr.ERROR, Attr.TRAINED, Attr.BUDGET, Attr.SAME):
        if stale in inherited.user_attrs:
            trial.set_user_attr(stale, None)
    if _surplus(sw, trial, stored_trial(sw.study, trial)):
        trial.set_user_attr(Attr.SURPLUS, True)  # lost the race for the last slot (or a promotion): never trained
        trial.tell(state=TrialState.FAIL)
        return None
    return trial


def _claim_kind(stored) -> str:
    """What a trial just asked for is, for the fault points of its claim: retry, promotion, queued (a grid point) or new."""
    if retries_of(stored) is not None:
        return "retry"
    if promotes_of(stored) is not None:
        return "promotion"
    return "queued" if SystemAttr.FIXED_PARAMS in stored.system_attrs else "new"


def _own(sw: Sweep, trial: HeldTrial, kind: str) -> None:
    """Write the owner of a trial this worker just asked for (RUNNING from then on): its first
    heartbeat where the storage keeps them, its host, and last its pid. A worker killed before the
    pid is written leaves a trial without an owner, which reap retries once it has been so for
    heartbeat.grace; one killed after it, a trial whose worker is dead (its pid, its heartbeats)."""
    faults.hit(f"claim:{kind}:asked")
    if heartbeats(sw.study):
        storage_of(sw.study).record_heartbeat(trial._trial_id)
    trial.set_user_attr(Attr.HOST, socket.gethostname())
    faults.hit(f"claim:{kind}:host")
    trial.set_user_attr(Attr.PID, os.getpid())
    faults.hit(f"claim:{kind}:owned")


def _surplus(sw: Sweep, trial: HeldTrial, stored) -> bool:
    """Whether a trial just asked for must not run (``stored``: its stored view): the total is reached,
    the sweep has ended, or an earlier live trial already claims the trial it retries or promotes."""
    ledger = TrialLedger(sw)
    from_queue = SystemAttr.FIXED_PARAMS in stored.system_attrs  # a grid point, a retry or a promotion
    promotes = promotes_of(stored)
    retries = retries_of(stored)
    if retries is not None and ledger.claimed_before(trial, stored, retries_of, retries):
        return True
    if promotes is not None:
        return bool(ledger.budget_spent()) or ledger.claimed_before(trial, stored, promotes_of, promotes)
    return ledger.counted(below=trial.number) >= sw.total or (
        not from_queue and (sw.sweep.sampler.exhaustive or bool(ledger.ended()))
    )


def worker_devices(sw: Sweep, workers: int) -> list[str]:
    """Where each of ``workers`` local workers (numbers 0 to workers - 1, as run_workers starts them)
    trains trials of the base config's train.device: devices.worker_device, auto shown resolved."""
    from ..devices import gpu_count, resolve_device, worker_device

    gpus = gpu_count()
    placed = [worker_device(sw.base.train.device, i, gpus) for i in range(workers)]
    return [str(resolve_device("auto")) if name == "auto" else name for name in placed]
