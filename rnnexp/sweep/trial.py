"""One trial, from its parameters to what the study is told: a repeat takes its earlier result, a
retry or promotion resumes the run folder it continues, anything else trains afresh."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Config, trial_config
from ..errors import RnnexpError, StorageError, counted
from .held import Events, Heartbeat, HeldTrial, TrialReporter, wait_for_lock
from .ledger import TrialLedger, local_run
from .names import BUDGET_REASON, Attr, SystemAttr, shown
from .pruning import Halving
from .results import best_value, history
from .storage import Retry, stored_trial
from .study import mlflow_parent

if TYPE_CHECKING:
    from .study import Sweep


@dataclass
class _Start:
    """Where a trial's run starts: afresh from its config, or from the run folder it continues."""

    cfg: Config
    stored: Any  # the trial's stored view when it started
    device: str | None = None  # where this worker places the run, when not its config's train.device
    previous: Path | None = None  # the run folder it continues
    promotes: int | None = None  # the paused trial it promotes
    paused_at: int = 0  # ... and the epoch that trial was paused after
    replayed: set[int] = field(default_factory=set)  # epochs a repeat already showed the pruner


def run_trial(sw: Sweep, trial: HeldTrial, trials_dir: Path, events: Events, stop: threading.Event, training) -> dict[str, Any]:
    """Run one trial this worker took and tell the study how it ended. Returns what this worker did with it."""
    from optuna.trial import TrialState

    params = trial.suggest(sw.sweep)
    if trial.lost.is_set():
        return _unless_lost(trial, {"number": trial.number})
    entry: dict[str, Any] = {"number": trial.number, "params": params}
    start = _start(sw, trial, params, entry, events)
    if start is None:  # a repeat: it took its earlier result
        return _unless_lost(trial, entry)
    try:
        run = _train(sw, trial, start, trials_dir, events, stop, training)
    except StorageError as e:
        # A full disk: the trial is not done, only stopped. Hand it back to be retried from its
        # checkpoint, and stop this worker: every trial it started would hit the same full disk.
        entry.update(state="FAIL", error=str(e))
        if not trial.lost.is_set():
            try:
                _hand_back(sw, trial)
            except RnnexpError:
                pass  # the journal is on the full disk too: the trial stays RUNNING; a later worker reaps it
        raise
    except Exception as e:
        trial.set_user_attr(Attr.ERROR, str(e)[:500])
        trial.tell(state=TrialState.FAIL)
        entry.update(state="FAIL", error=f"{type(e).__name__}: {e}")
        return _unless_lost(trial, entry)
    if trial.lost.is_set():
        return _unless_lost(trial, entry)
    if run.status == "interrupted":
        # Stopped by a signal: hand the trial back for a retry that resumes this folder.
        _hand_back(sw, trial)
        entry.update(state="INTERRUPTED", run_dir=run.run_dir)
        return _unless_lost(trial, entry)
    return _unless_lost(trial, _conclude(sw, trial, entry, Path(run.run_dir), run.status, run.epochs_run, events))


def _start(sw: Sweep, trial: HeldTrial, params: dict[str, Any], entry: dict[str, Any], events: Events) -> _Start | None:
    """Where the trial's run starts; None when it is a repeat that took its earlier result instead."""
    cfg = trial_config(sw.base_raw, params, source=f"trial {trial.number}:")
    cfg.name = f"trial-{trial.number:04d}"
    ledger = TrialLedger(sw)
    stored = stored_trial(sw.study, trial)
    start = _Start(cfg, stored, previous=ledger.previous_run(stored), promotes=stored.user_attrs.get(Attr.PROMOTES))
    start.device = _place(sw, cfg)
    entry["resumed_from"] = str(start.previous) if start.previous else None
    original = ledger.same_configuration(trial) if start.previous is None and not sw.sweep.sampler.exhaustive else None
    pruner = sw.study.pruner
    if isinstance(pruner, Halving) and Attr.BRACKET not in stored.user_attrs:
        # a repeat is judged in its configuration's bracket
        bracket = original.user_attrs.get(Attr.BRACKET, 0) if original else pruner.new_bracket(sw.study, ledger.trials)
        trial.set_user_attr(Attr.BRACKET, bracket)
    if original is not None:
        if take_result(sw, trial, original, entry, events):
            return None
        start.replayed = set(original.intermediate_values)
        run = local_run(original)
        if run is not None:  # let through now: it goes on from where it stopped, as a promotion
            start.previous, start.promotes = run, original.number
            trial.set_user_attr(Attr.PROMOTES, start.promotes)
            entry["resumed_from"] = str(run)
    if start.promotes is not None:
        start.paused_at = ledger[start.promotes].last_step or 0  # finished: what the ledger read stays true
    return start


def _place(sw: Sweep, cfg: Config) -> str | None:
    """Put the trial's run on this worker's device: its config's train.device says it (the run
    records where it trained, as train --device does). Returns that device when the worker chose it
    (a resumed run computes there too, whatever it trained on before), None when the config's own."""
    from ..devices import gpu_count, worker_device

    placed = worker_device(cfg.train.device, sw.worker, gpu_count(), sw.device)
    if placed == cfg.train.device:
        return None
    cfg.train.device = placed
    return placed


def _train(sw: Sweep, trial: HeldTrial, start: _Start, trials_dir: Path, events: Events, stop: threading.Event, training):
    """Train the trial's run (or end it, if it had ended) while its heartbeat runs; the run's result."""
    reporter = TrialReporter(sw, trial, events, start.replayed)
    previous, promotes = start.previous, start.promotes
    argv = ["sweep", f"trial {trial.number}"]
    with Heartbeat(sw, trial, stop):
        # What the run did comes from its checkpoint, never from files written after it.
        if previous is not None and not wait_for_lock(previous, 2 * sw.sweep.heartbeat.grace + 10):
            previous = None  # still held by a worker that will not let go: start the configuration afresh
        state = training.recorded(previous) if previous is not None else None
        end = state["end"] if state else None
        if end is not None and promotes is not None and state["epoch"] <= start.paused_at:
            end = None  # the pause it is promoted from, not an end
        if end is not None:
            # Its worker died after the run ended, before telling the study: write the run's files
            # for that end (training nothing) and conclude as the run did.
            if end["status"] == "pruned" and BUDGET_REASON in end["reason"]:
                trial.set_user_attr(Attr.BUDGET, True)
            return training.resume(previous, reporter=reporter, stop=trial.stop, argv=argv, settle=True, device=start.device)
        if previous is not None:
            history = start.stored.system_attrs.get(SystemAttr.RETRY_HISTORY)
            if history or promotes is None:
                # the trial it continues: the last of its retry chain, as `sweep status` says ("retry of #N")
                why = f"retry of trial {history[-1]}" if history else "retry of a stopped trial"
            else:
                why = f"promotes paused trial {promotes}"
            where = f"after epoch {state['epoch']}" if state else "from its start (no checkpoint yet)"
            events.note(f"trial {trial.number}: {why}, resuming {previous} {where}")
            trial.set_user_attr(Attr.RUN_DIR, str(previous))
            kw = {"prune": reporter.prune, "stop": trial.stop, "argv": argv, "device": start.device}
            return training.resume(previous, reporter=reporter, **kw)
        parent = mlflow_parent(sw, trials_dir)
        return training.train(
            start.cfg, trials_dir, reporter=reporter, prune=reporter.prune, stop=trial.stop, argv=argv, parent=parent
        )


def _unless_lost(trial: HeldTrial, entry: dict[str, Any]) -> dict[str, Any]:
    """What this worker did with a trial; LOST when another worker failed the trial meanwhile."""
    if trial.lost.is_set():
        entry.update(state="LOST", error="failed by another worker while this one was paused; its retry continues the run")
    return entry


def _hand_back(sw: Sweep, trial: HeldTrial) -> None:
    """Fail a trial that did not finish (stopped, or its disk filled up) and queue its retry, which
    resumes its run folder from the checkpoint."""
    from optuna.trial import TrialState

    trial.tell(state=TrialState.FAIL)
    if trial.lost.is_set():
        return  # failed by another worker, which queued the retry
    Retry(sw.sweep.heartbeat.max_retry)(sw.study, stored_trial(sw.study, trial))


def take_result(sw: Sweep, trial, original, entry: dict[str, Any], events: Events) -> bool:
    """A repeat of a finished configuration takes its result instead of training (the run is seeded
    and deterministic, so training again would give the same epochs). A pruned one is shown to the
    pruner again epoch by epoch; False when the pruner now lets it through, and it must train."""
    from optuna.trial import TrialState

    if original.state == TrialState.COMPLETE:
        trial.set_user_attr(Attr.SAME, original.number)
        trial.tell(values=original.value)
        entry.update(state="COMPLETE", epochs=0, value=original.value, same_as=original.number)
        events.note(f"trial {trial.number}: same configuration as trial {original.number}, not trained again")
        return True
    for step, value in sorted(original.intermediate_values.items()):
        trial.report(value, step)
        if trial.should_prune():
            trial.set_user_attr(Attr.SAME, original.number)
            trial.tell(state=TrialState.PRUNED)
            entry.update(state="PRUNED", epochs=0, value=None, same_as=original.number)
            events.note(f"trial {trial.number}: same configuration as trial {original.number}, pruned again after epoch {step}")
            return True
    events.note(f"trial {trial.number}: same configuration as pruned trial {original.number}; the pruner lets it through now")
    return False


def _conclude(sw: Sweep, trial, entry: dict[str, Any], run: Path, status: str, epochs: int, events: Events) -> dict[str, Any]:
    """Tell the study how a trial's run ended: pruned, complete with its best value, or failed."""
    from optuna.trial import TrialState

    value = best_value(history(run), sw.metric, sw.direction)
    entry.update(run_dir=str(run), status=status, epochs=epochs, value=value)
    if status == "pruned":
        entry["state"] = "PRUNED"
        trial.tell(state=TrialState.PRUNED)
    elif value is None:
        entry["state"] = "FAIL"
        trial.set_user_attr(Attr.ERROR, f"no {sw.metric} in metrics.csv")
        trial.tell(state=TrialState.FAIL)
    else:
        entry["state"] = "COMPLETE"
        trial.tell(values=value)
    ended = f"{entry['state'].lower()} after {counted(epochs, 'epoch')}"
    events.note(f"trial {trial.number}: {ended}, best {sw.metric} {shown(value)}")
    return entry
