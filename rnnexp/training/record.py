"""The run folder's life while this process trains it: its lock, meta.json, the checkpoints
(written in the background), metrics.csv, TensorBoard, MLflow, curves.png, and summary.json,
including the status an error ends the run with.

metrics.csv is rewritten from the history stored in the checkpoint, so a crash between writing the
checkpoint and the CSV can neither lose nor duplicate a row."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from .. import __version__, checkpoint, faults
from ..config import Config, dump_config
from ..errors import DivergedError, RnnexpError, StorageError, no_room
from ..model import count_parameters
from ..rundir import RunDir, RunLock, Status, write_json, write_text
from ..tasks import validation_baselines
from ..tracking import Tracker, open_run
from .events import Reporter
from .loop import plateau_warning
from .parts import Parts, pretrained_summary
from .progress import Progress, read_last


@dataclass
class TrainResult:
    run_dir: str
    status: str  # completed | early_stopped | pruned | interrupted (diverged and failed runs raise)
    epochs_run: int
    epochs_planned: int
    best_epoch: int | None
    best_score: float | None
    monitor: str
    stop_reason: str
    last: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)  # metric -> baseline -> its validation score
    # A resume that found last.pt damaged and went on from last.prev.pt (Record.load_last): what it
    # used, from where, and why; the work saved after that checkpoint was trained again. None otherwise.
    checkpoint_fallback: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Record:
    """One run folder, locked by this process until ``close`` (a context manager: ``with``)."""

    def __init__(self, run_dir: RunDir, reporter: Reporter, meta: dict[str, Any] | None = None):
        self.run_dir, self.reporter, self.meta = run_dir, reporter, meta or {}
        self.baselines: dict[str, dict[str, float]] = {}  # fitted when the run ends
        self.writer = checkpoint.BackgroundWriter()
        self.board = None  # TensorBoard SummaryWriter, with train.tensorboard
        self.tracker: Tracker | None = None  # the MLflow run, with train.mlflow
        self._lock: RunLock | None = None
        self.fallback: dict[str, Any] | None = None  # TrainResult.checkpoint_fallback, set by load_last

    @classmethod
    def open(cls, run_dir: RunDir, reporter: Reporter) -> Record:
        """An existing run folder, locked (its meta.json is read by the caller, after its config)."""
        record = cls(run_dir, reporter)
        record._lock = run_dir.lock()
        return record

    @classmethod
    def create(cls, cfg: Config, task, meta: dict[str, Any], runs_dir: str | Path, reporter: Reporter) -> Record:
        """A new run folder with its identity files (config.yaml, preprocessing.json, meta.json)."""
        # The folder is built aside and renamed into place with its identity files in it, so that at
        # every instant it is either absent or resumable (a kill or a full disk mid-setup leaves
        # nothing behind but a hidden folder, cleared by a later run).
        staged = RunDir.stage(runs_dir, cfg.run_name)
        record = cls(staged.run, reporter, meta)
        try:
            record._lock = record.run_dir.lock()
            write_text(record.run_dir.config, dump_config(cfg))
            write_json(record.run_dir.preprocessing, task.preprocessing)
            write_json(record.run_dir.meta, meta)
            faults.hit("setup:files")
            intended = staged.intended_name()
            reporter.placed(str(staged.runs_dir / intended))
            record.run_dir = staged.publish()
            if record.run_dir.path.name != intended:
                reporter.placed(str(record.run_dir.path))
        except BaseException as e:
            record.close()
            staged.discard()
            if isinstance(e, StorageError):
                raise e.next_step("train again (nothing of this run was kept)") from None
            raise
        return record

    def __enter__(self) -> Record:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.board is not None:
            self.board.close()
            self.board = None
        self.writer.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    # -- checkpoints ---------------------------------------------------------------------------

    def load_last(self) -> dict[str, Any] | None:
        """last.pt (or last.prev.pt when last.pt fails a check: said in a note, and kept in
        ``fallback`` for the resume's meta.json entry and its result), or None before the first checkpoint."""
        state, warning = read_last(self.run_dir, self.meta.get("run_id"))
        if state is None:
            # Stopped before its first checkpoint: the start is a pure function of the config and
            # seed, so starting over from epoch 1 is still exactly the uninterrupted run.
            self.reporter.note("no checkpoint yet (stopped during epoch 1): starting the run again from the beginning")
        elif warning:
            used = checkpoint.previous_path(self.run_dir.last)
            epoch, batch = int(state["epoch"]), int(state["batch"])
            where = f"after epoch {epoch}" if batch == 0 else f"in epoch {epoch + 1} after batch {batch}"
            self.fallback = {
                "used": str(used.relative_to(self.run_dir.path)),
                "epoch": epoch,
                "batch": batch,
                "why": warning,
            }
            self.reporter.note(f"{warning}: going on from {where}; the work saved after it is trained again")
        return state

    def save_best(self, parts: Parts, row: dict[str, Any]) -> None:
        monitor = parts.early.monitor
        state = {"kind": "best", "epoch": row["epoch"], "monitor": monitor, "score": row[monitor]}
        self.writer.submit({**parts.model_entries(self.meta["run_id"]), **state}, self.run_dir.best, fault=f"best:{row['epoch']}")

    def save_last(self, parts: Parts, progress: Progress) -> None:
        state = progress.state_dict(parts)
        label = progress.epoch if progress.batch == 0 else f"{progress.epoch + 1}.{progress.batch}"
        self.writer.submit({**parts.model_entries(self.meta["run_id"]), **state}, self.run_dir.last, fault=f"last:{label}")

    def epoch_saved(self, parts: Parts, progress: Progress, row: dict[str, Any], improved: bool) -> None:
        """The files of the epoch just finished: its checkpoints, metrics.csv, TensorBoard, summary."""
        epoch_no = row["epoch"]
        self.writer.wait()  # at most one epoch's checkpoints in flight
        # Before the hand-off, not after it: a kill here must find the same files on disk every time
        # (after it, the writer thread may or may not have finished; write:/saved: cover that instant).
        faults.hit(f"epoch:{epoch_no}")
        if improved:
            self.save_best(parts, row)
        self.save_last(parts, progress)
        self.run_dir.write_metrics(progress.history, parts.task.metric_columns)
        faults.hit(f"metrics:{epoch_no}", self.writer.wait)
        self._board(parts.cfg, row)
        if self.tracker is not None:
            self.writer.wait()  # MLflow gets an epoch once its checkpoint is on disk: never one a resume drops
            self.tracker.log_epochs(progress.history)
            faults.hit(f"mlflow:{epoch_no}")
        if progress.end is None:
            self.write_summary(Status.RUNNING, "", parts, progress)
            faults.hit(f"summary:{epoch_no}", self.writer.wait)

    def _board(self, cfg: Config, row: dict[str, Any]) -> None:
        if not cfg.train.tensorboard:
            return
        if self.board is None:
            from torch.utils.tensorboard import SummaryWriter

            # purge_step: events a crashed run wrote after its checkpoint are dropped on resume,
            # as metrics.csv drops its rows, so the curves have no doubled epochs either.
            self.board = SummaryWriter(log_dir=str(self.run_dir.path / "tensorboard"), purge_step=int(row["epoch"]))
        for key, value in row.items():
            if key != "epoch" and value is not None:
                self.board.add_scalar(key, value, int(row["epoch"]))
        self.board.flush()

    def track(self, parts: Parts, progress: Progress, parent: str | None = None) -> None:
        """With train.mlflow: the run's MLflow run (a new one nested under ``parent``, or the one it
        continues), its id kept in meta.json, and every epoch of the checkpoint's history it lacks
        logged (what a kill kept from it)."""
        self.tracker = open_run(parts.cfg.train.mlflow, self.meta, self.run_dir.path, self.reporter.note, parent)
        if self.tracker is None:
            return
        if self.meta.get("mlflow") != self.tracker.entry:
            self.meta["mlflow"] = self.tracker.entry
            write_json(self.run_dir.meta, self.meta)
        faults.hit("mlflow:start")
        self.tracker.log_epochs(progress.history)

    def _track_end(self, result: TrainResult, progress: Progress) -> None:
        """The MLflow run's end: the last epochs, the baselines' validation scores at the last epoch
        (val_baseline_<name>_<metric>), curves.png and config.yaml, and its status."""
        if self.tracker is None:
            return
        self.tracker.log_epochs(progress.history)
        scores = {
            metric.replace("val_", f"val_baseline_{name}_", 1): value
            for metric, by_name in result.baselines.items()
            for name, value in by_name.items()
        }
        if scores:
            self.tracker.log_scores(scores, result.epochs_run)
        self.tracker.log_artifacts([self.run_dir.path / "curves.png", self.run_dir.config])
        self.tracker.end(result.status)

    # -- setup and summary ---------------------------------------------------------------------

    def resumed(self, parts: Parts, progress: Progress, argv: list[str], numerics: dict[str, Any], write_config: bool) -> None:
        """The files a resume rewrites once every check has passed: config.yaml (given a new
        train.epochs), metrics.csv and meta.json (``numerics``: devices.set_numerics' record)."""
        if write_config:
            write_text(self.run_dir.config, dump_config(parts.cfg))
        # The checkpoint's history is the truth: drop any row written after it.
        self.run_dir.write_metrics(progress.history, parts.task.metric_columns)
        faults.hit("resume:metrics")
        self.meta["resumes"].append(
            {
                "at": _now(),
                "argv": argv,
                "from_epoch": progress.epoch,
                "from_batch": progress.batch,
                "hostname": socket.gethostname(),
                "pid": os.getpid(),
                "device": str(parts.device),
                "threads": torch.get_num_threads(),
                "numerics": numerics,
                "epochs": parts.cfg.train.epochs,
                "checkpoint_fallback": self.fallback,
            }
        )
        write_json(self.run_dir.meta, self.meta)
        faults.hit("resume:meta")

    def info(self, parts: Parts, progress: Progress, resumed_from: tuple[int, int] | None = None) -> dict[str, Any]:
        """What Reporter.setup is told."""
        return {
            "run_dir": str(self.run_dir.path),
            "device": str(parts.device),
            "data": self.meta["data"],
            "parameters": self.meta["model"]["parameters"],
            "pretrained": self.meta["model"].get("pretrained"),
            "epochs": parts.cfg.train.epochs,
            "resumed_from": resumed_from,
            "history": [dict(r) for r in progress.history],  # the epochs the checkpoint holds
        }

    def write_summary(self, status: Status, reason: str, parts: Parts, progress: Progress) -> TrainResult:
        return self._write_summary(self._result(status, reason, parts, progress))

    def _write_summary(self, result: TrainResult) -> TrainResult:
        write_json(self.run_dir.summary, {**result.to_dict(), "updated_at": _now()})
        return result

    def _result(self, status: Status, reason: str, parts: Parts, progress: Progress) -> TrainResult:
        warning = plateau_warning(parts, progress.history)
        return TrainResult(
            run_dir=str(self.run_dir.path),
            status=status,
            epochs_run=progress.epoch,
            epochs_planned=parts.cfg.train.epochs,
            best_epoch=parts.early.best_epoch,
            best_score=parts.early.best,
            monitor=parts.cfg.train.early_stopping.monitor,
            stop_reason=reason,
            last=progress.history[-1] if progress.history else {},
            warnings=[warning] if warning else [],
            baselines=self.baselines,
            checkpoint_fallback=self.fallback,
        )

    # -- the end -------------------------------------------------------------------------------

    def finish(self, status: Status, reason: str, parts: Parts, progress: Progress) -> TrainResult:
        """The files of a run that has ended: baselines and curves.png, then the summary."""
        self.writer.wait()  # the last checkpoint is on disk before the run reports its end
        self.baselines = self._baselines(parts, progress)
        result = self._result(status, reason, parts, progress)
        self._plot_curves(progress, result)  # before the summary: a run whose summary says it ended is complete
        self._track_end(result, progress)
        faults.hit("end:curves")
        return self._write_summary(result)

    def _baselines(self, parts: Parts, progress: Progress) -> dict[str, dict[str, float]]:
        """The baselines' validation scores for curves.png and summary.json. Like the plot, one that
        cannot be fitted costs a note, never the run."""
        if not (parts.cfg.train.baselines and progress.history):
            return {}
        try:
            return validation_baselines(parts.task)
        except Exception as e:
            self.reporter.note(f"could not fit the baselines: {type(e).__name__}: {e}")
            return {}

    def _plot_curves(self, progress: Progress, result: TrainResult) -> None:
        """curves.png: the run's learning curves, for a look without any command, drawn from the
        summary about to be written (how the run ended, its best epoch, the baselines). A plot that
        fails (no disk space, a broken font cache) costs a warning, never the run."""
        if not progress.history:
            return
        from ..plots import plot_curves

        try:
            plot_curves([self.run_dir.path], self.run_dir.path / "curves.png", summaries=[result.to_dict()])
        except Exception as e:
            self.reporter.note(f"could not draw curves.png: {type(e).__name__}: {e}")

    @contextmanager
    def ending(self, parts: Parts, progress: Progress) -> Iterator[None]:
        """An error out of the block ends the run: summary.json says how, and the error goes on (a
        full disk met by a library's write as the StorageError that names the resume)."""
        try:
            yield
        except DivergedError as e:
            self._drain()
            self._summary_after_error(Status.DIVERGED, str(e), parts, progress)
            raise
        except KeyboardInterrupt:
            self._drain()
            reason = f"interrupted hard; resumes from the checkpoint of epoch {progress.epoch}"
            self._summary_after_error(Status.INTERRUPTED, reason, parts, progress)
            raise
        except (StorageError, OSError) as e:
            self._drain()
            if not isinstance(e, StorageError):
                if not no_room(e):
                    self._summary_after_error(Status.FAILED, f"{type(e).__name__}: {e}", parts, progress)
                    raise
                # A full disk met by a library's write (TensorBoard's, a plot's): the same failure.
                e = StorageError(e.filename or self.run_dir.path, "write", e.strerror or str(e))
            e = e.next_step(f"rnnexp resume {self.run_dir.path}")
            self._summary_after_error(Status.FAILED, str(e), parts, progress)
            raise e from None
        except BaseException as e:
            self._drain()
            self._summary_after_error(Status.FAILED, f"{type(e).__name__}: {e}", parts, progress)
            raise

    def _summary_after_error(self, status: Status, reason: str, parts: Parts, progress: Progress) -> None:
        """Record how the run ended. On a full disk this write can fail too; the error that stopped
        the run is the one the user must see, so a failure here is dropped."""
        try:
            self.write_summary(status, reason, parts, progress)
        except RnnexpError:
            pass
        if self.tracker is not None:
            self.tracker.end(status)

    def _drain(self) -> None:
        """Finish pending checkpoint writes while another error is on its way out (it matters more)."""
        try:
            self.writer.wait()
        except Exception:
            pass


def new_meta(
    cfg: Config, parts: Parts, pretrained, argv: list[str], config_dir: Path | None, numerics: dict[str, Any]
) -> dict[str, Any]:
    """meta.json of a new run: who trained it where, with what (``numerics``: devices.set_numerics'
    record), on which data."""
    return {
        "run_id": uuid.uuid4().hex,  # every checkpoint carries it: another run's last.pt is refused
        "argv": argv,
        "rnnexp": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "device": str(parts.device),
        "threads": torch.get_num_threads(),
        "numerics": numerics,
        "seed": cfg.train.seed,
        "optimizer": cfg.train.optimizer_settings(),  # its rule and every value it steps with, nulls resolved
        "git": _git_state(config_dir or Path.cwd()),
        "started_at": _now(),
        "config": cfg.model_dump(mode="json"),  # what config.yaml must still say at resume
        "data": parts.task.summary(),
        "model": {
            "parameters": count_parameters(parts.model),
            "pretrained": pretrained_summary(pretrained),
            "recurrence": parts.model.recurrence(parts.device),
        },
        "resumes": [],
    }


def _git_state(folder: Path) -> dict[str, Any] | None:
    """Commit of the repository holding the config, if any (never fails a run)."""
    try:
        commit = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(folder), "status", "--porcelain"], capture_output=True, text=True, timeout=5)
        return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
