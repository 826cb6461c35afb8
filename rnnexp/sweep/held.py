"""A trial in this worker's hands: every write to it (it can be failed behind the worker's back),
its heartbeats, and the training events that report its epochs and ask the pruner."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import SweepConfig
from ..data.prepared import Fifths
from ..rundir import lock_held
from .ledger import TrialLedger
from .names import BUDGET_REASON, Attr, best_of, shown
from .pruning import Halving
from .storage import heartbeats, storage_of, stored_trial
from .study import suggest

if TYPE_CHECKING:
    from .study import Sweep


class HeldTrial:
    """A trial this worker runs. Another worker can fail it behind this one's back: this one was
    paused past the heartbeat grace period, so it looked dead, and the trial's retry now owns the
    run folder. From then on the study refuses every write to the trial. Every write this worker
    makes to its trial goes through here, so that refusal is met in one place, at whatever instant
    it comes: the trial is lost, the run is stopped (its checkpoint is where the retry goes on),
    and nothing more is written to the trial. Reads are the trial's own."""

    def __init__(self, sw: Sweep, trial):
        self.sw, self.trial = sw, trial
        self.lost = threading.Event()
        self.stop = threading.Event()  # the run's own stop

    def __getattr__(self, name: str):
        return getattr(self.trial, name)  # number, _trial_id, params, should_prune

    def write(self, fn, *args, **kwargs):
        """fn(*args, **kwargs), or None once the trial is lost."""
        import optuna

        if self.lost.is_set():
            return None
        try:
            return fn(*args, **kwargs)
        except (optuna.exceptions.UpdateFinishedTrialError, ValueError):
            # study.tell says ValueError ("Cannot tell a FAIL trial"); the storage's writes say
            # UpdateFinishedTrialError. Any other ValueError is a mistake of ours: raised.
            if not stored_trial(self.sw.study, self.trial).state.is_finished():
                raise
            self.lose()
            return None

    def lose(self) -> None:
        self.lost.set()
        self.stop.set()

    def set_user_attr(self, key: str, value: Any) -> None:
        self.write(self.trial.set_user_attr, key, value)

    def report(self, value: float, step: int) -> None:
        self.write(self.trial.report, value, step)

    def suggest(self, sweep: SweepConfig) -> dict[str, Any] | None:
        return self.write(suggest, self.trial, sweep)

    def tell(self, **kwargs) -> None:
        self.write(self.sw.study.tell, self.trial, **kwargs)


class TrialReporter:
    """Training events for one trial: remember the run folder, report each epoch, ask the pruner."""

    def __init__(self, sw: Sweep, trial, events, replayed: set[int] = frozenset()):
        self.sw, self.trial, self.events = sw, trial, events
        self.inherited = 0
        self.epochs = 0
        self.reported: set[int] = set(replayed)  # epochs a repeat already showed the pruner
        self.best: float | None = None  # this trial's best objective so far
        self._fifths = Fifths(lambda line: events.note(f"trial {trial.number}: {line}"))  # preparing its data

    def setup(self, info: dict[str, Any]) -> None:
        self.epochs = int(info["epochs"])
        self.trial.set_user_attr(Attr.RUN_DIR, info["run_dir"])
        self.events.note(f"trial {self.trial.number}: {info['run_dir']}")
        # A resumed run's checkpoint holds the epochs its predecessor trained: this trial reports them
        # again (from the checkpoint, not metrics.csv, which a kill may have left a row behind).
        history = info.get("history") or []
        self.inherited = len(history)
        for row in history:
            self._keep_best(row)
            if int(row["epoch"]) not in self.reported:
                self._report(row)
                self.reported.add(int(row["epoch"]))

    def placed(self, run_dir: str) -> None:
        self.trial.set_user_attr(Attr.RUN_DIR, run_dir)

    def epoch_start(self, *args) -> None: ...
    def batch_end(self, loss: float) -> None: ...

    def note(self, text: str) -> None:
        self.events.note(f"trial {self.trial.number}: {text}")

    def info(self, text: str) -> None:
        self.events.note(f"trial {self.trial.number}: {text}")

    def progress(self, what: str, done: int, total: int) -> None:
        """Preparing the trial's data (the first trial on a file the cache lacks): a line a fifth."""
        self._fifths(what, done, total)

    def _report(self, row: dict[str, Any]) -> None:
        value = row.get(self.sw.metric)
        if value is not None and value == value:  # NaN is never reported
            self.trial.report(float(value), int(row["epoch"]))

    def _keep_best(self, row: dict[str, Any]) -> float | None:
        value = row.get(self.sw.metric)
        if value is not None and value == value:
            self.best = value if self.best is None else best_of(self.sw.direction)(self.best, value)
        return value

    def epoch_end(self, row: dict[str, Any], improved: bool) -> None:
        epoch = int(row["epoch"])
        if epoch not in self.reported:
            self._report(row)
        self.trial.set_user_attr(Attr.TRAINED, epoch - self.inherited)
        value = self._keep_best(row)
        leader = TrialLedger(self.sw).best()
        sweep_best = f"sweep best {shown(leader[1])} (trial {leader[0]})" if leader else "no trial scored yet"
        self.events.note(
            f"trial {self.trial.number} epoch {epoch}/{self.epochs}: {self.sw.metric} {shown(value)}, "
            f"trial best {shown(self.best)}, {sweep_best}"
        )

    def prune(self, row: dict[str, Any]) -> str | None:
        """The training's prune hook, after epoch_end: a reason to stop the run here (the pruner's
        verdict, or the sweep's spent epoch budget), or None to go on."""
        epoch = int(row["epoch"])
        if self.trial.lost.is_set():
            return None  # not this worker's trial any more: its retry decides; the run stops now
        if self.trial.should_prune():
            value = row.get(self.sw.metric)
            if isinstance(self.sw.study.pruner, Halving):
                return (
                    f"paused by the {self.sw.sweep.pruner.kind} pruner after epoch {epoch} ({self.sw.metric} {shown(value)}); "
                    "the sweep resumes it if later trials rank it among the best"
                )
            return f"pruned by the {self.sw.sweep.pruner.kind} pruner after epoch {epoch} ({self.sw.metric} {shown(value)})"
        budget = self.sw.sweep.epoch_budget
        if budget is not None and epoch < self.epochs and TrialLedger(self.sw).epochs_spent() >= budget:
            self.trial.set_user_attr(Attr.BUDGET, True)
            return f"stopped after epoch {epoch}: {BUDGET_REASON} ({budget}) is spent"
        return None


class Events:
    """What a worker tells the person watching; the CLI's subclass prints it."""

    def note(self, text: str) -> None: ...


class Heartbeat:
    """While a trial trains: sends its heartbeats (RDB storage), passes a worker stop on to the run,
    and looks whether the trial was failed behind the worker's back before any write finds out."""

    def __init__(self, sw: Sweep, held: HeldTrial, outer: threading.Event):
        self.sw, self.held, self.outer = sw, held, outer
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        self._thread = threading.Thread(target=self._loop, name="rnnexp-heartbeat", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        from optuna.trial import TrialState

        storage = storage_of(self.sw.study)
        beats = heartbeats(self.sw.study)
        interval = self.sw.sweep.heartbeat.interval if beats else 2.0
        next_beat = 0.0
        while not self._done.wait(0.2):
            if self.outer.is_set():
                self.held.stop.set()
            if time.monotonic() < next_beat:
                continue
            next_beat = time.monotonic() + interval
            try:
                if storage.get_trial(self.held._trial_id).state != TrialState.RUNNING:
                    self.held.lose()
                    return
                if beats:
                    storage.record_heartbeat(self.held._trial_id)
            except Exception:
                continue  # a storage hiccup: try again at the next beat

    def __exit__(self, *exc) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()


def wait_for_lock(run: Path, seconds: float) -> bool:
    """The dead trial's folder may still be locked by a paused worker that is letting it go."""
    deadline = time.monotonic() + seconds
    while lock_held(run):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True
