"""What the study's trials say, read once per decision: which trials count toward the total, the
epochs spent, whether the sweep has ended, which earlier trial a new one repeats, continues or
contends with."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import counted
from .names import REPEAT_LIMIT, Attr, SystemAttr, best_of
from .pruning import Halving, promoted_as

if TYPE_CHECKING:
    from .study import Sweep


def local_run(trial) -> Path | None:
    """A trial's run folder, if it is on this machine and was set up."""
    path = trial.user_attrs.get(Attr.RUN_DIR)
    if path and trial.user_attrs.get(Attr.HOST) == socket.gethostname() and Path(path, "config.yaml").is_file():
        return Path(path)
    return None


def retries_of(t) -> int | None:
    """The trial that ``t`` retries, if it is a retry."""
    return (t.system_attrs.get(SystemAttr.RETRY_HISTORY) or [None])[-1]


def promotes_of(t) -> int | None:
    """The paused trial that ``t`` promotes, if it is a promotion."""
    return t.user_attrs.get(Attr.PROMOTES)


def _surplus(t) -> bool:
    return bool(t.user_attrs.get(Attr.SURPLUS))


class TrialLedger:
    """A sweep's trials as the study holds them now: one read (``get_trials``) when built, every
    question of one decision answered from it. Build a new one for the next decision: other
    workers write meanwhile."""

    def __init__(self, sw: Sweep):
        self.sw = sw
        self.trials = sw.study.get_trials(deepcopy=False)
        # a dead trial -> its retry (re-queued: the retry counts instead, and continues its run)
        self.retried_as = {n: t.number for t in self.trials for n in t.system_attrs.get(SystemAttr.RETRY_HISTORY, [])}
        # a paused trial -> the trial that resumed its run
        self.promoted_as = promoted_as(self.trials)

    def __getitem__(self, number: int):
        return self.trials[number]

    def in_state(self, *states) -> list:
        return [t for t in self.trials if t.state in states]

    def counted(self, below: int | None = None) -> int:
        """Trials that count toward the total: all but surplus ones, repeats, and dead ones that were
        re-queued (their retry counts instead), and promotions. A trial that failed on its own (diverged, say) counts as done."""
        return sum(1 for t in self.trials if self._counts(t) and (below is None or t.number < below))

    def _counts(self, t) -> bool:
        return (
            not _surplus(t)
            and t.user_attrs.get(Attr.SAME) is None
            and t.user_attrs.get(Attr.PROMOTES) is None  # continues a configuration already counted
            and t.number not in self.retried_as
        )

    def done(self) -> int:
        """Counted trials that have ended (complete, pruned or failed on their own): a sweep's progress."""
        from optuna.trial import TrialState

        ended = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
        return sum(1 for t in self.trials if self._counts(t) and t.state in ended)

    def best(self) -> tuple[int, float] | None:
        """The sweep's best trial so far, (its number, its value): the trial whose run reached the best
        objective at any epoch, complete or stopped early (paused by halving, pruned, or stopped by the
        epoch budget: its run holds that epoch, and its config trains on to it again, bit for bit). A
        configuration is one trial here: a paused one that was promoted is its promotion, a repeat is
        the trial it repeats, a dead one is its retry; a trial that failed has no value. On a tie, the
        earlier trial. None before any trial has a value.

        Why not the best complete trial (Optuna's best_trial): a sweep that pauses trials ends with
        few complete ones, and a configuration that peaks early and was paused after its peak would be
        passed over for a worse one that ran to the end (bench/sweep.py --replay-only measures it)."""
        from optuna.trial import TrialState

        direction = self.sw.direction
        found = []
        for t in self.trials:
            if not self.represents(t):
                continue
            if t.state == TrialState.COMPLETE and t.value is not None:
                found.append((t.number, t.value))
            elif t.state == TrialState.PRUNED and t.intermediate_values:
                found.append((t.number, best_of(direction)(t.intermediate_values.values())))
        return best_of(direction)(found, key=lambda nv: nv[1]) if found else None

    def represents(self, t) -> bool:
        """A trial that stands for its configuration's run: not surplus, not a repeat, not one that another
        trial went on with (its promotion or retry does)."""
        return (
            not _surplus(t)
            and t.user_attrs.get(Attr.SAME) is None
            and t.number not in self.promoted_as
            and t.number not in self.retried_as
        )

    def epochs_spent(self) -> int:
        """Epochs the sweep's trials have trained, all workers together (repeats trained none; a queued
        retry only carries a copy of its dead predecessor's count until it starts)."""
        from optuna.trial import TrialState

        return sum(int(t.user_attrs.get(Attr.TRAINED) or 0) for t in self.trials if t.state != TrialState.WAITING)

    def repeat_streak(self) -> int:
        """How many of the latest trials in a row were repeats of trained configurations."""
        streak = 0
        for t in reversed(self.trials):
            if _surplus(t):
                continue
            if t.user_attrs.get(Attr.SAME) is None:
                break
            streak += 1
        return streak

    def budget_spent(self) -> str | None:
        budget = self.sw.sweep.epoch_budget
        if budget is not None:
            spent = self.epochs_spent()
            if spent >= budget:
                return f"epoch budget spent ({spent} of {counted(budget, 'epoch')})"
        return None

    def ended(self) -> str | None:
        """Why no new trial may start, other than the total being reached; None while trials may start."""
        if spent := self.budget_spent():
            return spent
        if not self.sw.sweep.sampler.exhaustive and self.repeat_streak() >= REPEAT_LIMIT:
            return f"converged: the sampler proposed only configurations already trained, {REPEAT_LIMIT} times in a row"
        return None

    def same_configuration(self, trial):
        """An earlier trial with exactly these parameters that finished (complete first, else pruned by
        the pruner and not promoted since), or None."""
        from optuna.trial import TrialState

        pruned = None
        for t in self.trials:
            if t.state not in (TrialState.COMPLETE, TrialState.PRUNED) or t.number in self.promoted_as:
                continue
            if t.number >= trial.number or t.params != trial.params or t.user_attrs.get(Attr.BUDGET):
                continue
            if t.state == TrialState.COMPLETE:
                return t
            pruned = pruned or t
        return pruned

    def previous_run(self, stored) -> Path | None:
        """The run folder a trial continues (``stored``: its stored view): the dead trial's it
        retries, or the paused trial's it promotes, if it is on this machine."""
        for number in reversed(stored.system_attrs.get(SystemAttr.RETRY_HISTORY) or []):
            if (run := local_run(self.trials[number])) is not None:
                return run
        number = promotes_of(stored)
        return local_run(self.trials[number]) if number is not None else None

    def promotable(self, final: bool) -> Any:
        """A paused trial of this machine that the pruner would now let go on, or None (final: see Halving.promotion)."""
        pruner = self.sw.study.pruner
        if not isinstance(pruner, Halving) or self.budget_spent():
            return None
        eligible = lambda t: local_run(t) is not None
        return pruner.promotion(self.sw.study, eligible=eligible, final=final, trials=self.trials)

    def claimed_before(self, trial, stored, claim, value: int) -> bool:
        """An earlier live trial, not one of this trial's own dead predecessors (``stored``: its stored
        view), already claims ``value`` (``claim(t) == value``): the same paused trial to promote, or the
        same trial to retry (two workers queued a retry of one orphan at once). Then this one is surplus."""
        mine = set(stored.system_attrs.get(SystemAttr.RETRY_HISTORY) or [])
        return any(claim(t) == value and not _surplus(t) and t.number not in mine for t in self.trials if t.number < trial.number)

    def orphans(self) -> list:
        """Failed trials that no retry continues, though they did not fail on their own: their worker was
        killed (or its disk filled up) between failing them and queuing their retry."""
        from optuna.trial import TrialState

        max_retry = self.sw.sweep.heartbeat.max_retry
        return [
            t
            for t in self.trials
            if t.state == TrialState.FAIL
            and t.number not in self.retried_as
            and t.user_attrs.get(Attr.ERROR) is None
            and not _surplus(t)
            and t.user_attrs.get(Attr.SAME) is None
            and len(t.system_attrs.get(SystemAttr.RETRY_HISTORY, [])) < max_retry
        ]


def epochs_spent(sw: Sweep) -> int:
    """Epochs the sweep's trials have trained, all workers together (see TrialLedger.epochs_spent)."""
    return TrialLedger(sw).epochs_spent()
