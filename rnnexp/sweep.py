"""Hyperparameter sweeps on Optuna: each trial an ordinary run folder, and workers that may die.

Layout of a sweep folder ``runs/sweep_<UTC stamp>_<name>/``:
  sweep.json      study name, storage (password removed), objective, total trials, epoch budget, creation time
  sweep.yaml      the sweep file as given; base.yaml: the resolved base config
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
    RetryHeartbeatStaleTrialCallback). With the journal file, a worker reaps RUNNING trials whose
    process on this host is gone. Either way the retry resumes the dead trial's run folder from
    its last checkpoint, so no finished epoch is trained twice.
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
"""

from __future__ import annotations

import copy
import csv
import itertools
import json
import math
import os
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import faults
from .config import Config, SweepConfig, load_sweep, objective_of, trial_config
from .errors import RnnexpError, StorageError, clip
from .rundir import RunDir, cannot, lock_held, write_json, write_text

SWEEP_FILE = "sweep.json"
JOURNAL = "journal.log"
SPEC_ATTR = "rnnexp_sweep"
FINISHED_STATES = ("COMPLETE", "PRUNED")
TRAINED_ATTR = "epochs_trained"  # epochs a trial trained itself (a retry's inherited ones are its predecessor's)
SAME_ATTR = "same_as"  # a repeat: the number of the trial whose result it took
BUDGET_ATTR = "budget_stop"  # stopped because the sweep's epoch_budget was spent
BRACKET_ATTR = "bracket"  # hyperband / successive_halving: the bracket of the trial's configuration
PROMOTES_ATTR = "promotes"  # a promotion: the number of the paused trial whose run it resumes
REPEAT_LIMIT = 20
BUDGET_REASON = "the sweep's epoch budget"  # in the stop reason a run's checkpoint records


class SweepError(RnnexpError):
    """A sweep folder or storage cannot be used for what was asked."""

    exit_code = 2


# ---------------------------------------------------------------------------------------------
# Storage and study


def redact(url: str) -> str:
    """A storage URL without its password, for files and screens."""
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else url


def open_storage(url: str | None, sweep_dir: Path | None, workers: int = 1, heartbeat=None):
    """Optuna storage: the journal file in the sweep folder by default, else an RDB URL."""
    import optuna

    if url is None:
        if sweep_dir is None:
            raise SweepError("no storage: give a sweep folder or --storage URL")
        path = (sweep_dir / JOURNAL).absolute()
        try:
            return optuna.storages.JournalStorage(_journal_backend(path))
        except RnnexpError:
            raise
        except OSError as e:
            raise cannot(path, "open the sweep's journal", e) from None
        except ValueError as e:  # a record that is not JSON, other than a torn last one (Optuna skips that)
            raise SweepError(f"{path}: not a readable Optuna journal ({clip(e, 120)})") from None
    if url.startswith("sqlite"):
        if workers > 1:
            raise SweepError(
                f"--storage {redact(url)}: SQLite runs queued trials twice with several workers; use the default "
                "journal file (no --storage) or PostgreSQL"
            )
    elif not url.startswith("postgresql"):
        raise SweepError(f"--storage {redact(url)}: expected postgresql://... or postgresql+psycopg2://... (or none)")
    kwargs: dict[str, Any] = {}
    if heartbeat is not None and url.startswith("postgresql"):
        kwargs = {
            "heartbeat_interval": heartbeat.interval,
            "grace_period": heartbeat.grace,
            "heartbeat_stale_trial_callback": optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=heartbeat.max_retry),
        }
    last_error: Exception | None = None
    for attempt in range(5):  # fresh workers may race to create the schema; the loser retries
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs={"pool_pre_ping": True}, **kwargs)
        except Exception as e:  # sqlalchemy's errors: connection refused, duplicate table while racing
            last_error = e
            time.sleep(0.5 * (attempt + 1))
    raise SweepError(f"--storage {redact(url)}: cannot open the storage ({str(last_error).splitlines()[0]})")


def _journal_backend(path: Path):
    """Optuna's journal file, appended to safely when the disk fills up.

    Optuna's reader already skips a torn last record (one without its newline: the write of a
    process that died or hit a full disk); but its writer appends after it, gluing the next record
    to the torn bytes, and from then on the journal no longer parses. Here an append first cuts a
    torn tail off (under the journal's lock: no writer is mid-record then, and no reader has taken
    a record without its newline), and a failed append cuts its own bytes back off. A full disk is
    a StorageError naming the journal."""
    from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock

    class SafeAppend(JournalFileBackend):
        def __init__(self, file_path: str):
            self.journal_lock = JournalFileSymlinkLock(file_path)  # Optuna's default lock, held here too
            super().__init__(file_path, lock_obj=self.journal_lock)

        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            data = ("\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n").encode("utf-8")
            try:
                self.journal_lock.acquire()
            except OSError as e:
                raise cannot(Path(f"{path}.lock"), "create the journal's lock", e) from None
            try:
                with open(path, "r+b") as f:
                    end = _whole_records(f)
                    try:
                        f.truncate(end)
                        f.seek(end)
                        f.write(data)
                        f.flush()
                        os.fsync(f.fileno())
                    except OSError:
                        try:
                            f.truncate(end)  # leave no part of this record behind
                        except OSError:
                            pass  # the next append cuts it off
                        raise
            except OSError as e:
                raise cannot(path, "write the sweep's journal", e) from None
            finally:
                self.journal_lock.release()

    return SafeAppend(str(path))


def _whole_records(f) -> int:
    """Where the journal's last complete record ends: its size, less any torn tail."""
    end = f.seek(0, os.SEEK_END)
    pos = end
    while pos > 0:
        step = min(pos, 1 << 16)
        f.seek(pos - step)
        chunk = f.read(step)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            return pos - step + newline + 1
        pos -= step
    return 0


def _quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    import warnings

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def _sampler(sweep: SweepConfig, worker: int | None = 0):
    """The sampler of one worker. Every worker process has its own sampler: with one seed they would
    all draw the same parameters (the random sampler, and TPE's startup trials), so worker i draws
    from seed + i; a worker without a number (None) from a random stream."""
    import optuna

    seed = (sweep.sampler.seed + (worker if worker is not None else int.from_bytes(os.urandom(3), "big"))) % 2**32
    if sweep.sampler.kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=sweep.sampler.startup_trials)
    # grid trials are all enqueued; the random sampler is never consulted for them
    return optuna.samplers.RandomSampler(seed=seed)


def max_epochs(sweep: SweepConfig, base: Config) -> int:
    """The most epochs a trial can train (hyperband's full resource): the base config's, or the
    largest train.epochs the space offers."""
    spec = sweep.specs().get("train.epochs")
    if spec is None:
        return base.train.epochs
    return int(max(spec.values) if spec.kind == "choice" else spec.high)


def _pruner(sweep: SweepConfig, base: Config):
    import optuna

    pc = sweep.pruner
    if pc.kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=pc.startup_trials, n_warmup_steps=pc.warmup_epochs)
    if pc.kind in ("hyperband", "successive_halving"):
        return Halving(pc.min_epochs, max_epochs(sweep, base), pc.reduction_factor, brackets=pc.kind == "hyperband")
    return optuna.pruners.NopPruner()


def _key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)


def promoted_trials(trials) -> set[int]:
    """Numbers of the paused trials some live trial has taken up (promoted)."""
    return {
        t.user_attrs[PROMOTES_ATTR]
        for t in trials
        if t.user_attrs.get(PROMOTES_ATTR) is not None and not t.user_attrs.get("surplus")
    }


class Halving:
    """Asynchronous successive halving whose pruned trials are paused, not dropped (ASHA, Li et al.
    2020), in hyperband's brackets. Optuna calls ``prune(study, trial)`` after each epoch's report.

    Bracket b has rungs at epochs min_epochs * eta**k for k >= b, below max_epochs (hyperband:
    Optuna's brackets and their shares of new configurations; successive_halving: bracket 0 only).
    At a rung, a trial goes on if it is among the best n // eta of the n configurations of its
    bracket that have reached the rung, itself included; otherwise it is paused: it ends pruned and
    its run keeps its checkpoint. When later trials make a paused one among the best at its rung,
    `promotion` names it and a worker resumes its run in a new trial, exactly as if it had trained
    on, before any new configuration starts. Once none can start, a rung reached by fewer than eta
    configurations lets its best go on, or the sweep could end with nothing complete.

    Why not Optuna's pruners: an Optuna trial cannot be resumed, so they decide at once, letting the
    first trials at a rung through only if they beat every trial before them, and never revisit one
    they pruned. With the dozen trials a sweep can afford, one noisy epoch then drops good
    configurations for good; here a run resumes bit-identically, so the decision can wait."""

    def __init__(self, min_epochs: int, max_epochs: int, eta: int, brackets: bool = True):
        self.eta = eta
        ladder = [min_epochs]
        while ladder[-1] * eta <= max_epochs:
            ladder.append(ladder[-1] * eta)
        count = len(ladder) if brackets else 1  # Optuna's floor(log_eta(max / min)) + 1 brackets
        # A rung at the last epoch decides nothing: the trial has finished.
        self.brackets = [[r for r in ladder[b:] if r < max_epochs] for b in range(count)]
        # Hyperband's shares of new configurations, as Optuna's HyperbandPruner (after Li et al. 2018).
        self.shares = [math.ceil(count * eta ** (count - 1 - b) / (count - b)) for b in range(count)]

    def rungs(self, bracket: int) -> list[int]:
        return self.brackets[min(bracket, len(self.brackets) - 1)]

    def new_bracket(self, study) -> int:
        """The bracket for a new configuration: the one furthest below its share so far."""
        if len(self.shares) == 1:
            return 0
        seen: dict[str, int] = {}
        for t in study.get_trials(deepcopy=False):
            if t.user_attrs.get(BRACKET_ATTR) is not None and t.params and not t.user_attrs.get("surplus"):
                seen[_key(t.params)] = int(t.user_attrs[BRACKET_ATTR])
        counts = [list(seen.values()).count(b) for b in range(len(self.shares))]
        total = sum(self.shares)
        return max(range(len(self.shares)), key=lambda b: (self.shares[b] / total * (len(seen) + 1) - counts[b], -b))

    def _goes_on(self, study, trial, step: int, value: float, trials=None, final: bool = False) -> bool:
        """Whether a trial of this value is among the best n // eta at the rung `step` of its bracket
        (final: at least the best one, as no more configurations will come to tell)."""
        bracket = trial.user_attrs.get(BRACKET_ATTR, 0)
        values = {_key(trial.params): value}
        for t in trials if trials is not None else study.get_trials(deepcopy=False):
            if t.user_attrs.get(BRACKET_ATTR, 0) == bracket and step in t.intermediate_values and t.params:
                values.setdefault(_key(t.params), t.intermediate_values[step])
        keep = max(len(values) // self.eta, 1 if final else 0)
        if keep == 0:
            return False  # too few at this rung to tell yet: paused, maybe promoted later
        maximize = study.direction.name == "MAXIMIZE"
        cut = sorted(values.values(), reverse=maximize)[keep - 1]
        return value >= cut if maximize else value <= cut

    def prune(self, study, trial) -> bool:
        step = trial.last_step
        if step is None or step not in self.rungs(trial.user_attrs.get(BRACKET_ATTR, 0)):
            return False
        return not self._goes_on(study, trial, step, trial.intermediate_values[step])

    def promotion(self, study, eligible=lambda trial: True, final: bool = False):
        """The paused trial to resume first, or None: one now among the best at the rung where it was
        paused (the highest such rung, then the best value), not yet taken up by another trial.
        final: no new configuration will start and none is training, so a rung with fewer than eta
        configurations will never fill: its best goes on, and the sweep finishes its best ones."""
        from optuna.trial import TrialState

        trials = study.get_trials(deepcopy=False)
        taken = promoted_trials(trials)
        found = []
        for t in trials:
            step = t.last_step
            if (
                t.state != TrialState.PRUNED
                or t.number in taken
                or t.user_attrs.get(SAME_ATTR) is not None
                or t.user_attrs.get(BUDGET_ATTR)
                or step not in self.rungs(t.user_attrs.get(BRACKET_ATTR, 0))
                or not eligible(t)
            ):
                continue
            if self._goes_on(study, t, step, t.intermediate_values[step], trials, final):
                found.append((step, t.intermediate_values[step], t))
        if not found:
            return None
        sign = 1 if study.direction.name == "MAXIMIZE" else -1
        return max(found, key=lambda f: (f[0], sign * f[1], -f[2].number))[2]


def _encode(value: Any) -> Any:
    """Optuna's categorical choices must be scalars: lists and mappings travel as JSON text."""
    return value if value is None or isinstance(value, (bool, int, float, str)) else json.dumps(value)


def _decode(value: Any, choices: list[Any]) -> Any:
    for choice in choices:
        if _encode(choice) == value:
            return choice
    return value


def grid_points(sweep: SweepConfig) -> list[dict[str, Any]]:
    """Every point of a grid sweep (or the seeded sample of `trials` of them), in a fixed order."""
    specs = sweep.specs()
    keys = list(specs)
    points = [dict(zip(keys, combo)) for combo in itertools.product(*(specs[k].grid() for k in keys))]
    if sweep.trials is not None and sweep.trials < len(points):
        points = random.Random(sweep.sampler.seed).sample(points, sweep.trials)
    return points


# ---------------------------------------------------------------------------------------------
# Create


@dataclass
class Sweep:
    """An opened sweep: its spec, base config and Optuna study."""

    sweep: SweepConfig
    base_raw: dict[str, Any]
    base: Config
    study: Any
    storage_url: str | None
    path: Path | None  # the sweep folder, where this machine has one
    metric: str = ""
    direction: str = ""

    def __post_init__(self) -> None:
        self.metric, self.direction = objective_of(self.sweep, self.base)

    @property
    def total(self) -> int:
        return self.sweep.total_trials


def create(
    sweep_file: str | Path,
    runs_dir: str | Path,
    overrides: list[str] | tuple[str, ...] = (),
    storage_url: str | None = None,
    workers: int | None = None,
) -> Sweep:
    """Make the sweep folder and its study, named after the folder (unique), with the grid enqueued.
    Workers never create anything, so fresh workers cannot race to make the schema or the study."""
    import optuna

    _quiet_optuna()
    sweep, base_raw, base = load_sweep(sweep_file, overrides)
    if workers is not None:
        sweep.workers = workers
    # A server that cannot be reached is found out before any folder is made.
    storage = open_storage(storage_url, None, sweep.workers, sweep.heartbeat) if storage_url else None
    # Built aside and renamed into place with sweep.json in it: a sweep folder is either absent or
    # whole, whenever the process dies (a journal's study moves with its folder: it has no path inside).
    staged = RunDir.stage(runs_dir, sweep.name, checkpoints=False, prefix="sweep_")
    folder = staged.run.path
    try:
        (folder / "trials").mkdir()
        write_text(folder / "sweep.yaml", Path(sweep_file).read_text(encoding="utf-8"))
        write_text(folder / "base.yaml", yaml.safe_dump(base_raw, sort_keys=False))
        study_name = staged.intended_name()  # the folder's name, unless another takes it in the same second
        metric, direction = objective_of(sweep, base)
        try:
            study = optuna.create_study(
                storage=storage or open_storage(None, folder),
                study_name=study_name,
                direction=direction,
                sampler=_sampler(sweep),
                pruner=_pruner(sweep, base),
            )
        except optuna.exceptions.DuplicatedStudyError:
            raise SweepError(f"study {study_name} already exists in {redact(storage_url or '')}") from None
        study.set_user_attr(SPEC_ATTR, {"sweep": sweep.model_dump(mode="json"), "base": base_raw})
        if sweep.sampler.kind == "grid":
            for point in grid_points(sweep):
                study.enqueue_trial({k: _encode(v) for k, v in point.items()})
        write_json(
            folder / SWEEP_FILE,
            {
                "study": study_name,
                "storage": redact(storage_url) if storage_url else "journal",
                "sweep_file": str(Path(sweep_file).absolute()),
                "metric": metric,
                "direction": direction,
                "trials": sweep.total_trials,
                "epoch_budget": sweep.epoch_budget,
                "sampler": sweep.sampler.kind,
                "pruner": sweep.pruner.kind,
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
        )
        faults.hit("sweep:files")
        folder = staged.publish().path
    except BaseException:
        staged.discard()
        raise
    return open_sweep(folder, storage_url)


def open_sweep(
    path: str | Path | None = None, storage_url: str | None = None, study_name: str | None = None, worker: int | None = 0
) -> Sweep:
    """An existing sweep, from its folder (journal storage) or from --storage and --study, for worker
    number ``worker`` (its sampler's stream; see _sampler)."""
    import optuna

    _quiet_optuna()
    folder = Path(path) if path is not None else None
    if folder is not None:
        info_file = folder / SWEEP_FILE
        if not info_file.is_file():
            raise SweepError(f"{folder}: not a sweep folder (no {SWEEP_FILE})")
        info = json.loads(info_file.read_text(encoding="utf-8"))
        study_name = study_name or info["study"]
        if info["storage"] != "journal" and storage_url is None:
            raise SweepError(f"{folder}: this sweep's study lives in {info['storage']}; give --storage URL (with the password)")
    elif study_name is None or storage_url is None:
        raise SweepError("give a sweep folder, or both --storage URL and --study NAME")
    storage = open_storage(storage_url, folder)
    try:
        summaries = {s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)}
    except Exception as e:
        raise SweepError(f"cannot read studies from {redact(storage_url or str(folder))}: {str(e).splitlines()[0]}") from None
    if study_name not in summaries:
        raise SweepError(
            f"no study {study_name!r} in {redact(storage_url or str(folder))}; known: {', '.join(sorted(summaries)) or 'none'}"
        )
    study = optuna.load_study(study_name=study_name, storage=storage)
    spec = study.user_attrs.get(SPEC_ATTR)
    if spec is None:
        raise SweepError(f"study {study_name!r} was not made by rnnexp sweep (no {SPEC_ATTR} attribute)")
    sweep = SweepConfig.model_validate(spec["sweep"])
    base = Config.model_validate(spec["base"])
    if storage_url is not None and storage_url.startswith("postgresql"):
        storage = open_storage(storage_url, folder, heartbeat=sweep.heartbeat)
    study = optuna.load_study(
        study_name=study_name, storage=storage, sampler=_sampler(sweep, worker), pruner=_pruner(sweep, base)
    )
    return Sweep(sweep, spec["base"], base, study, storage_url, folder)


# ---------------------------------------------------------------------------------------------
# Worker


@dataclass
class WorkerResult:
    trials: list[dict[str, Any]] = field(default_factory=list)  # what this worker did, one entry per trial
    reaped: list[int] = field(default_factory=list)  # trial numbers found dead and re-queued
    stopped_by: str = ""


class _Held:
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
            if not self.sw.study._storage.get_trial(self.trial._trial_id).state.is_finished():
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
        return self.write(_suggest, self.trial, sweep)

    def tell(self, **kwargs) -> None:
        self.write(self.sw.study.tell, self.trial, **kwargs)


class _TrialReporter:
    """Training events for one trial: remember the run folder, report each epoch, ask the pruner."""

    def __init__(self, sw: Sweep, trial, events, replayed: set[int] = frozenset()):
        self.sw, self.trial, self.events = sw, trial, events
        self.inherited = 0
        self.epochs = 0
        self.reported: set[int] = set(replayed)  # epochs a repeat already showed the pruner

    def setup(self, info: dict[str, Any]) -> None:
        self.epochs = int(info["epochs"])
        self.trial.set_user_attr("run_dir", info["run_dir"])
        self.events.note(f"trial {self.trial.number}: {info['run_dir']}")
        # A resumed run's checkpoint holds the epochs its predecessor trained: this trial reports them
        # again (from the checkpoint, not metrics.csv, which a kill may have left a row behind).
        history = info.get("history") or []
        self.inherited = len(history)
        for row in history:
            if int(row["epoch"]) not in self.reported:
                self._report(row)
                self.reported.add(int(row["epoch"]))

    def placed(self, run_dir: str) -> None:
        self.trial.set_user_attr("run_dir", run_dir)

    def epoch_start(self, *args) -> None: ...
    def batch_end(self, loss: float) -> None: ...

    def note(self, text: str) -> None:
        self.events.note(f"trial {self.trial.number}: {text}")

    def _report(self, row: dict[str, Any]) -> None:
        value = row.get(self.sw.metric)
        if value is not None and value == value:  # NaN is never reported
            self.trial.report(float(value), int(row["epoch"]))

    def epoch_end(self, row: dict[str, Any], improved: bool) -> None:
        epoch = int(row["epoch"])
        if epoch not in self.reported:
            self._report(row)
        self.trial.set_user_attr(TRAINED_ATTR, epoch - self.inherited)

    def prune(self, row: dict[str, Any]) -> str | None:
        """training's prune hook, called after epoch_end: a reason to stop the run, or None."""
        epoch = int(row["epoch"])
        if self.trial.lost.is_set():
            return None  # not this worker's trial any more: its retry decides; the run stops now
        if self.trial.should_prune():
            value = row.get(self.sw.metric)
            if isinstance(self.sw.study.pruner, Halving):
                return (
                    f"paused by the {self.sw.sweep.pruner.kind} pruner after epoch {epoch} ({self.sw.metric} {value}); "
                    "the sweep resumes it if later trials rank it among the best"
                )
            return f"pruned by the {self.sw.sweep.pruner.kind} pruner after epoch {epoch} ({self.sw.metric} {value})"
        budget = self.sw.sweep.epoch_budget
        if budget is not None and epoch < self.epochs and epochs_spent(self.sw) >= budget:
            self.trial.set_user_attr(BUDGET_ATTR, True)
            return f"stopped after epoch {epoch}: {BUDGET_REASON} ({budget}) is spent"
        return None


class Events:
    """What a worker tells the person watching; the CLI's subclass prints it."""

    def note(self, text: str) -> None: ...


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a reused PID belongs to some other program
        return b"rnnexp" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True


def reap(sw: Sweep) -> list[int]:
    """Fail and re-queue trials whose worker died. Returns the reaped trial numbers."""
    import optuna
    from optuna.trial import TrialState

    if sw.storage_url is not None:  # RDB: heartbeats decide, with Optuna's own check
        before = {t.number for t in sw.study.get_trials(deepcopy=False, states=(TrialState.FAIL,))}
        optuna.storages.fail_stale_trials(sw.study)
        after = sw.study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
        return sorted(t.number for t in after if t.number not in before and not t.user_attrs.get("surplus"))
    host = socket.gethostname()
    retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=sw.sweep.heartbeat.max_retry)
    reaped = []
    for t in sw.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid = t.user_attrs.get("pid")
        if t.user_attrs.get("host") != host or not isinstance(pid, int) or pid == os.getpid() or _alive(pid):
            continue
        try:
            sw.study._storage.set_trial_user_attr(t._trial_id, "died", f"worker {host}:{pid} died")
            sw.study._storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another worker reaped it first
        retry(sw.study, copy.deepcopy(sw.study._storage.get_trial(t._trial_id)))
        reaped.append(t.number)
    return reaped


def _requeue_orphans(sw: Sweep) -> list[int]:
    """Handing a trial back (or reaping it) is two writes: fail it, then queue its retry. A process
    killed between them, or a disk that filled up, leaves a failed trial that no retry continues and
    that counts as done: queue its retry now. (A trial that failed on its own carries its error.
    Two workers doing this at once queue two retries; the second one taken is surplus.)"""
    import optuna
    from optuna.trial import TrialState

    trials = sw.study.get_trials(deepcopy=False)
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
    max_retry = sw.sweep.heartbeat.max_retry
    orphans = [
        t
        for t in trials
        if t.state == TrialState.FAIL
        and t.number not in retried
        and t.user_attrs.get("error") is None
        and not t.user_attrs.get("surplus")
        and t.user_attrs.get(SAME_ATTR) is None
        and len(t.system_attrs.get("retry_history", [])) < max_retry
    ]
    for t in orphans:
        optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=max_retry)(sw.study, copy.deepcopy(t))
    return [t.number for t in orphans]


def _counted(sw: Sweep, below: int | None = None) -> int:
    """Trials that count toward the total: all but surplus ones, repeats, and dead ones that were
    re-queued (their retry counts instead), and promotions. A trial that failed on its own (diverged, say) counts as done."""
    trials = sw.study.get_trials(deepcopy=False)
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
    return sum(
        1
        for t in trials
        if not t.user_attrs.get("surplus")
        and t.user_attrs.get(SAME_ATTR) is None
        and t.user_attrs.get(PROMOTES_ATTR) is None  # continues a configuration already counted
        and t.number not in retried
        and (below is None or t.number < below)
    )


def epochs_spent(sw: Sweep) -> int:
    """Epochs the sweep's trials have trained, all workers together (repeats trained none; a queued
    retry only carries a copy of its dead predecessor's count until it starts)."""
    from optuna.trial import TrialState

    return sum(
        int(t.user_attrs.get(TRAINED_ATTR) or 0) for t in sw.study.get_trials(deepcopy=False) if t.state != TrialState.WAITING
    )


def _repeat_streak(sw: Sweep) -> int:
    """How many of the latest trials in a row were repeats of trained configurations."""
    streak = 0
    for t in reversed(sw.study.get_trials(deepcopy=False)):
        if t.user_attrs.get("surplus"):
            continue
        if t.user_attrs.get(SAME_ATTR) is None:
            break
        streak += 1
    return streak


def _budget_spent(sw: Sweep) -> str | None:
    budget = sw.sweep.epoch_budget
    if budget is not None:
        spent = epochs_spent(sw)
        if spent >= budget:
            return f"epoch budget spent ({spent} of {budget} epochs)"
    return None


def ended(sw: Sweep) -> str | None:
    """Why no new trial may start, other than the total being reached; None while trials may start."""
    if spent := _budget_spent(sw):
        return spent
    if sw.sweep.sampler.kind != "grid" and _repeat_streak(sw) >= REPEAT_LIMIT:
        return f"converged: the sampler proposed only configurations already trained, {REPEAT_LIMIT} times in a row"
    return None


def _suggest(trial, sweep: SweepConfig) -> dict[str, Any]:
    params = {}
    for key, spec in sweep.specs().items():
        if spec.kind == "choice":
            choices = [_encode(v) for v in spec.values]
            params[key] = _decode(trial.suggest_categorical(key, choices), spec.values)
        elif spec.kind == "int":
            params[key] = trial.suggest_int(key, int(spec.low), int(spec.high), step=int(spec.step or 1))
        elif spec.kind == "uniform":
            params[key] = trial.suggest_float(key, spec.low, spec.high, step=spec.step)
        else:
            params[key] = trial.suggest_float(key, spec.low, spec.high, log=True)
    return params


def _frozen(sw: Sweep, trial):
    """The stored view of a live trial (its system attributes: queue origin, retry history).
    Optuna offers no public accessor for a study's storage; study._storage is what its own
    heartbeat helpers use."""
    return sw.study._storage.get_trial(trial._trial_id)


def _local_run(trial) -> Path | None:
    """A trial's run folder, if it is on this machine and was set up."""
    path = trial.user_attrs.get("run_dir")
    if path and trial.user_attrs.get("host") == socket.gethostname() and Path(path, "config.yaml").is_file():
        return Path(path)
    return None


def _previous_run(sw: Sweep, trial) -> Path | None:
    """The run folder this trial continues: the dead trial's it retries, or the paused trial's it
    promotes, if it is on this machine."""
    frozen = _frozen(sw, trial)
    trials = sw.study.get_trials(deepcopy=False)
    for number in reversed(frozen.system_attrs.get("retry_history") or []):
        if (run := _local_run(trials[number])) is not None:
            return run
    promotes = frozen.user_attrs.get(PROMOTES_ATTR)
    return _local_run(trials[promotes]) if promotes is not None else None


def _promotable(sw: Sweep, final: bool) -> Any:
    """A paused trial of this machine that the pruner would now let go on, or None (final: see Halving.promotion)."""
    pruner = sw.study.pruner
    if not isinstance(pruner, Halving) or _budget_spent(sw):
        return None
    return pruner.promotion(sw.study, eligible=lambda t: _local_run(t) is not None, final=final)


def _claimed_before(sw: Sweep, trial, claim, value: int) -> bool:
    """An earlier live trial, not one of this trial's own dead predecessors, already claims ``value``
    (``claim(t) == value``): the same paused trial to promote, or the same trial to retry (two
    workers queued a retry of one orphan at once). Then this one is surplus."""
    mine = set(_frozen(sw, trial).system_attrs.get("retry_history") or [])
    return any(
        claim(t) == value and not t.user_attrs.get("surplus") and t.number not in mine
        for t in sw.study.get_trials(deepcopy=False)
        if t.number < trial.number
    )


def _retries(t) -> int | None:
    """The trial that ``t`` retries, if it is a retry."""
    return (t.system_attrs.get("retry_history") or [None])[-1]


def _promotes(t) -> int | None:
    """The paused trial that ``t`` promotes, if it is a promotion."""
    return t.user_attrs.get(PROMOTES_ATTR)


def _history(run: Path) -> list[dict[str, Any]]:
    return RunDir(run).read_metrics()


def _best(history: list[dict[str, Any]], metric: str, direction: str) -> float | None:
    values = [r[metric] for r in history if r.get(metric) is not None and r[metric] == r[metric]]
    if not values:
        return None
    return max(values) if direction == "maximize" else min(values)


class _Heartbeat:
    """While a trial trains: sends its heartbeats (RDB storage), passes a worker stop on to the run,
    and looks whether the trial was failed behind the worker's back before any write finds out."""

    def __init__(self, sw: Sweep, held: _Held, outer: threading.Event):
        self.sw, self.held, self.outer = sw, held, outer
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _Heartbeat:
        self._thread = threading.Thread(target=self._loop, name="rnnexp-heartbeat", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        from optuna.trial import TrialState

        storage = self.sw.study._storage
        interval = self.sw.sweep.heartbeat.interval if self.sw.storage_url else 2.0
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
                if self.sw.storage_url:
                    storage.record_heartbeat(self.held._trial_id)
            except Exception:
                continue  # a storage hiccup: try again at the next beat

    def __exit__(self, *exc) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()


def _wait_for_lock(run: Path, seconds: float) -> bool:
    """The dead trial's folder may still be locked by a paused worker that is letting it go."""
    deadline = time.monotonic() + seconds
    while lock_held(run):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


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
    from optuna.trial import TrialState

    from . import training

    events = events or Events()
    stop = stop or threading.Event()
    trials_dir = runs_dir or (sw.path / "trials" if sw.path else Path("runs"))
    result = WorkerResult()
    grid = sw.sweep.sampler.kind == "grid"
    while not stop.is_set():
        reaped = reap(sw)
        result.reaped += reaped
        for number in reaped:
            events.note(f"trial {number}: its worker died; queued again, to resume from its last checkpoint")
        for number in _requeue_orphans(sw):
            result.reaped.append(number)
            events.note(f"trial {number}: stopped without its retry queued; queued again, to resume from its last checkpoint")
        waiting = sw.study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        over = ended(sw)
        nothing_new = not waiting and (grid or _counted(sw) >= sw.total or bool(over))
        running = nothing_new and bool(sw.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
        paused = _promotable(sw, final=nothing_new and not running)
        if paused is not None:  # before any new configuration, and also once the total is reached
            sw.study.enqueue_trial(
                paused.params, user_attrs={PROMOTES_ATTR: paused.number, BRACKET_ATTR: paused.user_attrs.get(BRACKET_ATTR, 0)}
            )
        elif nothing_new:
            if not running:
                result.stopped_by = over or "all trials done"
                break
            # Others run the last trials: stay, to take over any of them whose worker dies.
            stop.wait(1.0)
            continue
        trial = _Held(sw, sw.study.ask())
        # A retry starts with its dead predecessor's attributes: these are its own now.
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("pid", os.getpid())
        for stale in ("died", "error", TRAINED_ATTR, BUDGET_ATTR, SAME_ATTR):
            if stale in _frozen(sw, trial).user_attrs:
                trial.set_user_attr(stale, None)
        frozen = _frozen(sw, trial)
        from_queue = "fixed_params" in frozen.system_attrs  # a grid point, a retry or a promotion
        promotes = frozen.user_attrs.get(PROMOTES_ATTR)
        retries = _retries(frozen)
        if retries is not None and _claimed_before(sw, trial, _retries, retries):
            surplus = True
        elif promotes is not None:
            surplus = bool(_budget_spent(sw)) or _claimed_before(sw, trial, _promotes, promotes)
        else:
            surplus = _counted(sw, below=trial.number) >= sw.total or (not from_queue and (grid or bool(ended(sw))))
        if surplus:
            trial.set_user_attr("surplus", True)  # lost the race for the last slot (or a promotion): never trained
            trial.tell(state=TrialState.FAIL)
            continue
        result.trials.append(_run_trial(sw, trial, trials_dir, events, stop, training))
    if stop.is_set() and not result.stopped_by:
        result.stopped_by = "interrupted"
    return result


def _run_trial(sw: Sweep, trial: _Held, trials_dir: Path, events: Events, stop: threading.Event, training) -> dict[str, Any]:
    from optuna.trial import TrialState

    params = trial.suggest(sw.sweep)
    if trial.lost.is_set():
        return _unless_lost(trial, {"number": trial.number})
    cfg = trial_config(sw.base_raw, params, source=f"trial {trial.number}:")
    cfg.name = f"trial-{trial.number:04d}"
    previous = _previous_run(sw, trial)
    frozen = _frozen(sw, trial)
    promotes = frozen.user_attrs.get(PROMOTES_ATTR)
    entry: dict[str, Any] = {"number": trial.number, "params": params, "resumed_from": str(previous) if previous else None}
    replayed: set[int] = set()
    original = _same_configuration(sw, trial) if previous is None and sw.sweep.sampler.kind != "grid" else None
    pruner = sw.study.pruner
    if isinstance(pruner, Halving) and BRACKET_ATTR not in frozen.user_attrs:
        # a repeat is judged in its configuration's bracket
        trial.set_user_attr(BRACKET_ATTR, original.user_attrs.get(BRACKET_ATTR, 0) if original else pruner.new_bracket(sw.study))
    if original is not None:
        if _take_result(sw, trial, original, entry, events):
            return _unless_lost(trial, entry)
        replayed = set(original.intermediate_values)
        run = _local_run(original)
        if run is not None:  # let through now: it goes on from where it stopped, as a promotion
            previous, promotes = run, original.number
            trial.set_user_attr(PROMOTES_ATTR, promotes)
            entry["resumed_from"] = str(run)
    reporter = _TrialReporter(sw, trial, events, replayed)
    beat = _Heartbeat(sw, trial, stop)
    trial_stop = trial.stop
    argv = ["sweep", f"trial {trial.number}"]
    try:
        with beat:
            # What the run did comes from its checkpoint, never from files written after it.
            if previous is not None and not _wait_for_lock(previous, 2 * sw.sweep.heartbeat.grace + 10):
                previous = None  # still held by a worker that will not let go: start the configuration afresh
            state = training.recorded(previous) if previous is not None else None
            end = state["end"] if state else None
            if end is not None and promotes is not None and state["epoch"] <= (_trial(sw, promotes).last_step or 0):
                end = None  # the pause it is promoted from, not an end
            if end is not None:
                # Its worker died after the run ended, before telling the study: write the run's files
                # for that end (training nothing) and conclude as the run did.
                if end["status"] == "pruned" and BUDGET_REASON in end["reason"]:
                    trial.set_user_attr(BUDGET_ATTR, True)
                run = training.resume(previous, reporter=reporter, stop=trial_stop, argv=argv, settle=True)
            elif previous is not None:
                retry = frozen.system_attrs.get("retry_history") is not None
                why = "retry of a dead trial" if retry or promotes is None else f"promotes paused trial {promotes}"
                where = f"after epoch {state['epoch']}" if state else "from its start (no checkpoint yet)"
                events.note(f"trial {trial.number}: {why}, resuming {previous} {where}")
                trial.set_user_attr("run_dir", str(previous))
                run = training.resume(previous, reporter=reporter, stop=trial_stop, argv=argv, prune=reporter.prune)
            else:
                run = training.train(cfg, trials_dir, reporter=reporter, stop=trial_stop, argv=argv, prune=reporter.prune)
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
        trial.set_user_attr("error", str(e)[:500])
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


def _unless_lost(trial: _Held, entry: dict[str, Any]) -> dict[str, Any]:
    """What this worker did with a trial; LOST when another worker failed the trial meanwhile."""
    if trial.lost.is_set():
        entry.update(state="LOST", error="failed by another worker while this one was paused; its retry continues the run")
    return entry


def _trial(sw: Sweep, number: int):
    return sw.study.get_trials(deepcopy=False)[number]


def _hand_back(sw: Sweep, trial: _Held) -> None:
    """Fail a trial that did not finish (stopped, or its disk filled up) and queue its retry, which
    resumes its run folder from the checkpoint."""
    import optuna
    from optuna.trial import TrialState

    trial.tell(state=TrialState.FAIL)
    if trial.lost.is_set():
        return  # failed by another worker, which queued the retry
    frozen = copy.deepcopy(sw.study._storage.get_trial(trial._trial_id))  # the callback edits what it is given
    optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=sw.sweep.heartbeat.max_retry)(sw.study, frozen)


def _same_configuration(sw: Sweep, trial):
    """An earlier trial with exactly these parameters that finished (complete first, else pruned by
    the pruner and not promoted since), or None."""
    from optuna.trial import TrialState

    trials = sw.study.get_trials(deepcopy=False)
    taken = promoted_trials(trials)
    pruned = None
    for t in trials:
        if t.state not in (TrialState.COMPLETE, TrialState.PRUNED) or t.number in taken:
            continue
        if t.number >= trial.number or t.params != trial.params or t.user_attrs.get(BUDGET_ATTR):
            continue
        if t.state == TrialState.COMPLETE:
            return t
        pruned = pruned or t
    return pruned


def _take_result(sw: Sweep, trial, original, entry: dict[str, Any], events: Events) -> bool:
    """A repeat of a finished configuration takes its result instead of training (the run is seeded
    and deterministic, so training again would give the same epochs). A pruned one is shown to the
    pruner again epoch by epoch; False when the pruner now lets it through, and it must train."""
    from optuna.trial import TrialState

    if original.state == TrialState.COMPLETE:
        trial.set_user_attr(SAME_ATTR, original.number)
        trial.tell(values=original.value)
        entry.update(state="COMPLETE", epochs=0, value=original.value, same_as=original.number)
        events.note(f"trial {trial.number}: same configuration as trial {original.number}, not trained again")
        return True
    for step, value in sorted(original.intermediate_values.items()):
        trial.report(value, step)
        if trial.should_prune():
            trial.set_user_attr(SAME_ATTR, original.number)
            trial.tell(state=TrialState.PRUNED)
            entry.update(state="PRUNED", epochs=0, value=None, same_as=original.number)
            events.note(f"trial {trial.number}: same configuration as trial {original.number}, pruned again after epoch {step}")
            return True
    events.note(f"trial {trial.number}: same configuration as pruned trial {original.number}; the pruner lets it through now")
    return False


def _conclude(sw: Sweep, trial, entry: dict[str, Any], run: Path, status: str, epochs: int, events: Events) -> dict[str, Any]:
    """Tell the study how a trial's run ended: pruned, complete with its best value, or failed."""
    from optuna.trial import TrialState

    value = _best(_history(run), sw.metric, sw.direction)
    entry.update(run_dir=str(run), status=status, epochs=epochs, value=value)
    if status == "pruned":
        entry["state"] = "PRUNED"
        trial.tell(state=TrialState.PRUNED)
    elif value is None:
        entry["state"] = "FAIL"
        trial.set_user_attr("error", f"no {sw.metric} in metrics.csv")
        trial.tell(state=TrialState.FAIL)
    else:
        entry["state"] = "COMPLETE"
        trial.tell(values=value)
    events.note(f"trial {trial.number}: {entry['state'].lower()} after {epochs} epochs, best {sw.metric} {value}")
    return entry


# ---------------------------------------------------------------------------------------------
# Results


def results(sw: Sweep) -> dict[str, Any]:
    """Every counted trial (surplus ones left out) with params, state, best value, epochs and run folder;
    the best trial; and the best trial's config. Writes results.csv and best_config.yaml when the
    sweep has a folder here."""
    rows = []
    specs = sw.sweep.specs()
    trials = sw.study.get_trials(deepcopy=False)
    retried_as = {n: t.number for t in trials for n in t.system_attrs.get("retry_history", [])}
    promoted_as = {  # a paused trial -> the trial that resumed its run (the latest of a retried chain)
        t.user_attrs[PROMOTES_ATTR]: t.number
        for t in trials
        if t.user_attrs.get(PROMOTES_ATTR) is not None and not t.user_attrs.get("surplus")
    }
    for t in trials:
        if t.user_attrs.get("surplus"):
            continue
        run = t.user_attrs.get("run_dir")
        moved_on = t.number in retried_as or t.number in promoted_as  # its run continues in another trial
        history = _history(Path(run)) if run and not moved_on else []
        retry_of = t.system_attrs.get("failed_trial")
        same_as = t.user_attrs.get(SAME_ATTR)
        promoted_from = t.user_attrs.get(PROMOTES_ATTR)
        if same_as is not None:
            note = f"same configuration as #{same_as}: its result, not trained again"
        elif t.number in retried_as:
            note = f"{t.user_attrs.get('died') or 'stopped'}; retried as #{retried_as[t.number]}"
        elif t.number in promoted_as:
            note = f"paused after epoch {t.last_step}; promoted as #{promoted_as[t.number]}"
        elif retry_of is not None:
            note = f"retry of #{retry_of}, resumed its run"
        elif promoted_from is not None:
            note = f"promoted #{promoted_from}: resumed its run after epoch {trials[promoted_from].last_step}"
        elif t.user_attrs.get(BUDGET_ATTR) and t.state.name == "PRUNED":
            note = "stopped: the sweep's epoch budget was spent"
        else:
            note = t.user_attrs.get("error") or ""
        rows.append(
            {
                "number": t.number,
                "state": t.state.name,
                "value": t.value if t.state.name == "COMPLETE" else _best(history, sw.metric, sw.direction),
                "same_as": same_as,
                "epochs": len(history),
                **{k: _decode(v, specs[k].values or []) for k, v in (t.params or t.system_attrs.get("fixed_params", {})).items()},
                "retry_of": retry_of,
                "promoted_from": promoted_from,
                "run_dir": run,
                "host": t.user_attrs.get("host"),
                "note": note,
            }
        )
    repeats = [r for r in rows if r["same_as"] is not None]
    counted = [r for r in rows if r["number"] not in retried_as and r["number"] not in promoted_as and r["same_as"] is None]
    complete = [r for r in counted if r["state"] == "COMPLETE" and r["value"] is not None]
    best = None
    if complete:
        best = (max if sw.direction == "maximize" else min)(complete, key=lambda r: r["value"])
    counts = {s: sum(1 for r in counted if r["state"] == s) for s in ("COMPLETE", "PRUNED", "RUNNING", "WAITING", "FAIL")}
    counts["RETRIED"] = len(retried_as)
    counts["REPEATED"] = len(repeats)
    counts["PROMOTED"] = len(promoted_as)
    grid_dupes = 0
    if sw.sweep.sampler.kind == "grid":
        seen = [
            tuple(json.dumps(r.get(k), sort_keys=True) for k in sw.sweep.space) for r in counted if r["state"] in FINISHED_STATES
        ]
        grid_dupes = len(seen) - len(set(seen))
    out: dict[str, Any] = {
        "study": sw.study.study_name,
        "metric": sw.metric,
        "direction": sw.direction,
        "total": sw.total,
        "counts": counts,
        "duplicates": grid_dupes,
        "epochs_trained": sum(r["epochs"] for r in rows if r["state"] in FINISHED_STATES),
        "epoch_budget": sw.sweep.epoch_budget,
        "ended": ended(sw),
        "trials": rows,
        "best": best,
        "params": list(sw.sweep.space),
    }
    if sw.path is not None:
        _write_results(sw, rows, best, out)
    return out


def _write_results(sw: Sweep, rows: list[dict[str, Any]], best: dict[str, Any] | None, out: dict[str, Any]) -> None:
    columns = [
        "number",
        "state",
        "value",
        "epochs",
        *sw.sweep.space,
        "retry_of",
        "same_as",
        "promoted_from",
        "run_dir",
        "host",
        "note",
    ]
    lines = [columns] + [[_cell(r.get(c)) for c in columns] for r in rows]
    import io

    buf = io.StringIO()
    csv.writer(buf).writerows(lines)
    write_text(sw.path / "results.csv", buf.getvalue())
    out["results_csv"] = str(sw.path / "results.csv")
    if best is not None:
        cfg = trial_config(sw.base_raw, {k: best[k] for k in sw.sweep.space}, source="best trial")
        cfg.name = f"{sw.sweep.name}-best"
        from .config import dump_config

        header = f"# best trial {best['number']} of {sw.study.study_name}: {sw.metric} {best['value']}\n"
        write_text(sw.path / "best_config.yaml", header + dump_config(cfg))
        out["best_config"] = str(sw.path / "best_config.yaml")


def _cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (list, dict)) else ("" if value is None else value)


def importances(sw: Sweep) -> dict[str, float] | None:
    """Optuna's parameter importances over complete trials, by a seeded random forest's mean decrease
    in impurity (Optuna's default fANOVA returns equal shares on sweeps as small as ours); None when
    they cannot be computed (fewer than two complete trials, a parameter that never varied)."""
    import optuna

    try:
        evaluator = optuna.importance.MeanDecreaseImpurityImportanceEvaluator(seed=0)
        return {k: float(v) for k, v in optuna.importance.get_param_importances(sw.study, evaluator=evaluator).items()}
    except (RuntimeError, ValueError, ImportError, ZeroDivisionError):
        return None
