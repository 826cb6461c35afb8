"""The training recipe, in fixed phases: setup (new run or resume) -> fit -> finish.

Exact resume rests on three facts:
  * the batches of an epoch, and any augmentation of them, are pure functions of (seed, epoch,
    batch) (each task's batches(), built on data.epoch_batches / bucket_batches / augment_batch);
  * last.pt holds model, optimizer, early stopping, every RNG state, the position inside the
    epoch and the running loss sums, so nothing the next batch depends on is lost;
  * metrics.csv is rewritten from the history stored in the checkpoint, so a crash between
    writing the checkpoint and the CSV can neither lose nor duplicate a row.
"""

from __future__ import annotations

import math
import os
import platform
import random
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import ValidationError

from . import __version__, checkpoint, faults
from .config import Config, direction_of, dump_config, flatten
from .errors import ConfigError, DivergedError, RnnexpError, RunDirError, StorageError, TrainingError, clip, no_room
from .model import build_model, count_parameters, model_spec, resolve_device
from .rundir import RunDir, RunLock, write_json, write_text
from .tasks import create_task, restore_task, validation_baselines

FINISHED = ("completed", "early_stopped")


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Reporter:
    """Receives progress events; the CLI's subclass draws them. The base class ignores them."""

    def setup(self, info: dict[str, Any]) -> None: ...
    def epoch_start(self, epoch: int, epochs: int, batches: int, done: int) -> None: ...
    def batch_end(self, loss: float) -> None: ...
    def epoch_end(self, row: dict[str, Any], improved: bool) -> str | None:
        """Called after each epoch, before its checkpoint (which records the decision). Returning a
        reason stops the run here with status "pruned" (a sweep's pruner does this); early stopping
        or the last epoch, when due as well, takes precedence."""

    def note(self, text: str) -> None: ...

    def placed(self, run_dir: str) -> None:
        """Where the run's folder goes, said just before it is renamed into place (and again if
        another run took that name meanwhile): a sweep records it on its trial, so that a retry finds
        the folder whenever the worker dies."""


class EarlyStopping:
    """Tracks the best value of the monitored metric; says when patience has run out."""

    def __init__(self, monitor: str, mode: str, patience: int, min_delta: float, enabled: bool):
        self.monitor, self.mode, self.patience, self.min_delta, self.enabled = monitor, mode, patience, min_delta, enabled
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.wait = 0

    def step(self, value: float, epoch: int) -> bool:
        """Record one epoch's value; True when it is a new best."""
        if self.best is None:
            better = True
        elif self.mode == "min":
            better = value < self.best - self.min_delta
        else:
            better = value > self.best + self.min_delta
        if better:
            self.best, self.best_epoch, self.wait = value, epoch, 0
        else:
            self.wait += 1
        return better

    @property
    def should_stop(self) -> bool:
        # As Keras: checked after an epoch without improvement; patience 0 stops at the first one.
        return self.enabled and self.wait > 0 and self.wait >= self.patience

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]


def train(
    cfg: Config,
    runs_dir: str | Path,
    argv: list[str] | None = None,
    reporter: Reporter | None = None,
    stop: threading.Event | None = None,
    config_dir: Path | None = None,
) -> TrainResult:
    """Start a new run folder under ``runs_dir`` and train it."""
    session = _Session(reporter or Reporter(), stop or threading.Event())
    try:
        session.setup_new(cfg, runs_dir, argv or [], config_dir)
        return session.run()
    finally:
        session.unlock()


def resume(
    run_path: str | Path,
    epochs: int | None = None,
    argv: list[str] | None = None,
    reporter: Reporter | None = None,
    stop: threading.Event | None = None,
    settle: bool = False,
) -> TrainResult:
    """Continue a stopped run (or extend a finished one to ``epochs`` in total) from last.pt.

    settle: the checkpoint records how the run ended (its process died before the files said so);
    write metrics.csv, curves.png and summary.json for that end and train nothing. A plain resume
    does this by itself for a completed or early-stopped run; a pruned one it trains on."""
    session = _Session(reporter or Reporter(), stop or threading.Event())
    try:
        session.setup_resume(RunDir.open(run_path), epochs, argv or [], settle=settle)
        return session.run()
    finally:
        session.unlock()


def recorded(run_path: str | Path) -> dict[str, Any] | None:
    """What a run's checkpoint says of its progress: {"epoch", "batch", "end", "history"} (end:
    {"status", "reason"} once the run has ended, else None); None before its first checkpoint."""
    run = RunDir.open(run_path)
    state, _ = _read_last(run, run.read_json(run.meta).get("run_id"))
    if state is None:
        return None
    return {"epoch": int(state["epoch"]), "batch": int(state["batch"]), "end": state.get("end"), "history": state["history"]}


def _read_last(run: RunDir, run_id: str | None) -> tuple[dict[str, Any] | None, str | None]:
    """(last.pt, or last.prev.pt when last.pt fails a check; a warning when it did), or (None, None)
    before the run's first checkpoint."""
    if not (run.last.is_file() or checkpoint.previous_path(run.last).is_file()):
        return None, None
    return checkpoint.load_with_fallback(run.last, run_id)


def _check_same_config(run_dir: RunDir, cfg: Config, recorded: dict[str, Any] | None) -> None:
    """config.yaml edited after the run started would train on with settings its checkpoint was not
    made with (or fail to load it): refuse, naming the keys. train.epochs may change: `resume
    --epochs N` sets it to extend a run."""
    if recorded is None:
        return
    try:
        # Read through today's schema, as config.yaml is: a key added since the run started takes its
        # default there too (it was chosen to keep the old behaviour), and older spellings are read alike.
        recorded = Config.model_validate(recorded).model_dump(mode="json")
    except ValidationError:
        pass  # a key removed since: compared as written, and named below
    now, then = flatten(cfg.model_dump(mode="json")), flatten(recorded)
    absent = "(absent)"
    keys = sorted(k for k in now.keys() | then.keys() if k != "train.epochs" and now.get(k, absent) != then.get(k, absent))
    if not keys:
        return
    shown = ", ".join(f"{k} ({clip(repr(then.get(k)), 40)} -> {clip(repr(now.get(k)), 40)})" for k in keys[:5])
    more = f" and {len(keys) - 5} more" if len(keys) > 5 else ""
    raise RunDirError(
        f"{run_dir.config}: changed since the run started: {shown}{more}; a run resumes only with the settings it "
        f"was trained with (only train.epochs may change). To train with the new settings, start a new run: "
        f"rnnexp train {run_dir.config}"
    )


class _Session:
    def __init__(self, reporter: Reporter, stop: threading.Event):
        self.reporter, self.stop = reporter, stop
        self.epoch = 0  # completed epochs
        self.batch = 0  # completed batches of the epoch in progress
        self.loss_sum, self.seen, self.seconds = 0.0, 0, 0.0
        self.history: list[dict[str, Any]] = []
        self.end: tuple[str, str] | None = None  # (status, reason) once the run has ended; in every last.pt
        self._lock_fd: RunLock | None = None
        self.writer = checkpoint.BackgroundWriter()
        self.board = None  # TensorBoard SummaryWriter, with train.tensorboard

    # -- setup ---------------------------------------------------------------------------------

    def setup_new(self, cfg: Config, runs_dir: str | Path, argv: list[str], config_dir: Path | None) -> None:
        self.cfg = cfg
        _check_tensorboard(cfg)
        self.device = resolve_device(cfg.train.device)
        self.task = create_task(cfg, self.device)
        pretrained = _load_pretrained(cfg, self.task)
        _seed_everything(cfg.train.seed)
        self._build()
        self._copy_pretrained(pretrained)
        self.meta = {
            "run_id": uuid.uuid4().hex,  # every checkpoint carries it: another run's last.pt is refused
            "argv": argv,
            "rnnexp": __version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
            "device": str(self.device),
            "threads": torch.get_num_threads(),
            "seed": cfg.train.seed,
            "git": _git_state(config_dir or Path.cwd()),
            "started_at": _now(),
            "config": cfg.model_dump(mode="json"),  # what config.yaml must still say at resume
            "data": self.task.summary(),
            "model": {"parameters": count_parameters(self.model), "pretrained": _pretrained_summary(pretrained)},
            "resumes": [],
        }
        # The folder is built aside and renamed into place with its identity files in it, so that at
        # every instant it is either absent or resumable (a kill or a full disk mid-setup leaves
        # nothing behind but a hidden folder, cleared by a later run).
        staged = RunDir.stage(runs_dir, cfg.name)
        try:
            self.run_dir = staged.run
            self._lock()
            write_text(self.run_dir.config, dump_config(cfg))
            write_json(self.run_dir.preprocessing, self.task.preprocessing)
            write_json(self.run_dir.meta, self.meta)
            faults.hit("setup:files")
            intended = staged.intended_name()
            self.reporter.placed(str(staged.runs_dir / intended))
            self.run_dir = staged.publish()
            if self.run_dir.path.name != intended:
                self.reporter.placed(str(self.run_dir.path))
        except BaseException as e:
            self.unlock()
            staged.discard()
            if isinstance(e, StorageError):
                raise e.next_step("train again (nothing of this run was kept)") from None
            raise
        faults.hit("setup:published")
        try:
            self._write_summary("running", "")
        except StorageError as e:
            raise e.next_step(f"rnnexp resume {self.run_dir.path}") from None  # the folder is whole: it resumes
        faults.hit("setup:done")
        self.reporter.setup(self._info())

    def setup_resume(self, run_dir: RunDir, epochs: int | None, argv: list[str], settle: bool = False) -> None:
        """Check everything a resume depends on, then write. Every decision comes from the checkpoint
        (the position, whether the run had already ended and how), never from files written after
        it: a kill between last.pt and summary.json must not change what the resume does."""
        self.run_dir = run_dir
        self._lock()
        cfg = run_dir.load_config()
        self.meta = run_dir.read_json(run_dir.meta)
        summary = run_dir.read_json(run_dir.summary) if run_dir.summary.is_file() else {}
        state = self._load_last()
        recorded = state["config"] if state else self.meta.get("config")
        _check_same_config(run_dir, cfg, recorded)
        done = int(state["epoch"]) if state else 0
        end = state.get("end") if state else None
        # An extension: --epochs now, or config.yaml's train.epochs (which only --epochs writes) no
        # longer the checkpoint's: a `resume --epochs N` killed before its first checkpoint goes on to N.
        extending = epochs is not None or (state is not None and cfg.train.epochs != int(state["config"]["train"]["epochs"]))
        if settle and end is None:
            raise RunDirError(f"{run_dir.path}: the checkpoint records no end to settle (it stopped after epoch {done})")
        if end is not None and not extending and (settle or end["status"] in FINISHED):
            if not settle and summary.get("status") == end["status"]:
                raise RunDirError(
                    f"{run_dir.path}: run already finished ({end['status']} after {done} epochs); "
                    f"to train further, extend it: rnnexp resume {run_dir.path} --epochs N (N > {done})"
                )
            self.end = (end["status"], end["reason"])  # ended before its files said so: finish them, train nothing
        if extending:
            target = epochs if epochs is not None else cfg.train.epochs
            if target <= done:
                given = f"--epochs {target}" if epochs is not None else f"{run_dir.config}: train.epochs {target}"
                raise RunDirError(f"{given}: the run has already trained {done} epochs; give a larger total")
            cfg.train.epochs = target
        self.cfg = cfg
        _check_tensorboard(cfg)
        self.device = resolve_device(cfg.train.device)
        self.task = restore_task(cfg, run_dir.read_json(run_dir.preprocessing), self.device)
        recorded = self.meta.get("data", {}).get("fingerprints", {})
        if recorded.get("train") != self.task.train_fingerprint:
            raise RunDirError(
                f"{run_dir.path}: the training data differs from when this run started "
                f"({self.meta['data']['sources']}); an exact resume needs the same data"
            )
        if state is None:
            _seed_everything(cfg.train.seed)
        self._build(state.get("input") if state else None)
        if state is None:
            self._copy_pretrained(_load_pretrained(cfg, self.task))
        else:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.early.load_state_dict(state["early_stopping"])
            self.schedule.load_state_dict(state["schedule"])
            if extending and end is not None and end["status"] == "early_stopped":
                self.early.wait = 0  # an extension gets a fresh patience, or it would stop at once
            self.epoch, self.batch = done, int(state["batch"])
            self.loss_sum, self.seen, self.seconds = float(state["loss_sum"]), int(state["seen"]), float(state["seconds"])
            self.history = [dict(r) for r in state["history"]]
            _set_rng_state(state["rng"])
        faults.hit("resume:checked")
        # Every check has passed: only now is anything in the folder written.
        if epochs is not None:
            write_text(run_dir.config, dump_config(cfg))
        # The checkpoint's history is the truth: drop any row written after it.
        run_dir.write_metrics(self.history, self.task.metric_columns)
        faults.hit("resume:metrics")
        self.meta["resumes"].append(
            {
                "at": _now(),
                "argv": argv,
                "from_epoch": done,
                "from_batch": self.batch,
                "hostname": socket.gethostname(),
                "pid": os.getpid(),
                "device": str(self.device),
                "epochs": cfg.train.epochs,
            }
        )
        write_json(run_dir.meta, self.meta)
        faults.hit("resume:meta")
        if self.end is None:
            self._write_summary("running", "")
            faults.hit("resume:done")
        if self.meta.get("threads") not in (None, torch.get_num_threads()):
            self.reporter.note(
                f"this run started with {self.meta['threads']} CPU threads and resumes with {torch.get_num_threads()}; "
                "results can differ in the last bits from an uninterrupted run (set train.threads to pin it)"
            )
        self.reporter.setup(self._info(resumed_from=(done, self.batch)))

    def _load_last(self) -> dict[str, Any] | None:
        """last.pt (or last.prev.pt when last.pt fails a check), or None before the first checkpoint."""
        state, warning = _read_last(self.run_dir, self.meta.get("run_id"))
        if state is None:
            # Stopped before its first checkpoint: the start is a pure function of the config and
            # seed, so starting over from epoch 1 is still exactly the uninterrupted run.
            self.reporter.note("no checkpoint yet (stopped during epoch 1): starting the run again from the beginning")
        elif warning:
            self.reporter.note(warning)
        return state

    def _build(self, input_spec: dict[str, Any] | None = None) -> None:
        """The model, optimizer and training state objects; ``input_spec``: a checkpoint's, on resume,
        so the model is rebuilt as it trained, whatever this version would build for a new run."""
        cfg = self.cfg
        if cfg.train.threads:
            torch.set_num_threads(cfg.train.threads)
        self.input_spec = input_spec or self.task.input_spec  # what every checkpoint records
        self.model = build_model(cfg.model, self.input_spec, self.task.output_size).to(self.device)
        if cfg.model.embedding.freeze:
            self.model.embedding.weight.requires_grad_(False)
        self.optimizer = _make_optimizer(self.model, cfg)
        self.params = [p for p in self.model.parameters() if p.requires_grad]  # what clipping acts on
        es = cfg.train.early_stopping
        self.early = EarlyStopping(es.monitor, es.resolved_mode, es.patience, es.min_delta, es.enabled)
        self.schedule = LRSchedule(cfg.train.lr_schedule, cfg.train.lr, cfg.train.epochs)

    def _copy_pretrained(self, pretrained) -> None:
        if pretrained is not None:
            with torch.no_grad():
                self.model.embedding.weight.copy_(torch.from_numpy(pretrained.matrix))

    def _info(self, resumed_from: tuple[int, int] | None = None) -> dict[str, Any]:
        return {
            "run_dir": str(self.run_dir.path),
            "device": str(self.device),
            "data": self.meta["data"],
            "parameters": self.meta["model"]["parameters"],
            "pretrained": self.meta["model"].get("pretrained"),
            "epochs": self.cfg.train.epochs,
            "resumed_from": resumed_from,
            "history": [dict(r) for r in self.history],  # the epochs the checkpoint holds
        }

    def _lock(self) -> None:
        self._lock_fd = self.run_dir.lock()

    def _board(self, row: dict[str, Any]) -> None:
        if not self.cfg.train.tensorboard:
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

    def unlock(self) -> None:
        if self.board is not None:
            self.board.close()
            self.board = None
        self.writer.close()
        if self._lock_fd is not None:
            self._lock_fd.release()
            self._lock_fd = None

    # -- fit -----------------------------------------------------------------------------------

    def run(self) -> TrainResult:
        try:
            status, reason = self._fit()
            self.writer.wait()  # the last checkpoint is on disk before the run reports its end
            self.baselines = self._baselines()
            self._plot_curves()  # before the summary: a run whose summary says it ended is complete
            faults.hit("end:curves")
            result = self._write_summary(status, reason)
        except DivergedError as e:
            self._drain()
            self._summary_after_error("diverged", str(e))
            raise
        except KeyboardInterrupt:
            self._drain()
            self._summary_after_error("interrupted", f"interrupted hard; resumes from the checkpoint of epoch {self.epoch}")
            raise
        except (StorageError, OSError) as e:
            self._drain()
            if not isinstance(e, StorageError):
                if not no_room(e):
                    self._summary_after_error("failed", f"{type(e).__name__}: {e}")
                    raise
                # A full disk met by a library's write (TensorBoard's, a plot's): the same failure.
                e = StorageError(e.filename or self.run_dir.path, "write", e.strerror or str(e))
            e = e.next_step(f"rnnexp resume {self.run_dir.path}")
            self._summary_after_error("failed", str(e))
            raise e from None
        except BaseException as e:
            self._drain()
            self._summary_after_error("failed", f"{type(e).__name__}: {e}")
            raise
        faults.hit("end:summary")
        return result

    def _summary_after_error(self, status: str, reason: str) -> None:
        """Record how the run ended. On a full disk this write can fail too; the error that stopped
        the run is the one the user must see, so a failure here is dropped."""
        try:
            self._write_summary(status, reason)
        except RnnexpError:
            pass

    def _baselines(self) -> dict[str, dict[str, float]]:
        """The baselines' validation scores for curves.png and summary.json. Like the plot, one that
        cannot be fitted costs a note, never the run."""
        if not (self.cfg.train.baselines and self.history):
            return {}
        try:
            return validation_baselines(self.task)
        except Exception as e:
            self.reporter.note(f"could not fit the baselines: {type(e).__name__}: {e}")
            return {}

    def _plot_curves(self) -> None:
        """curves.png: the run's learning curves, for a look without any command. A plot that fails
        (no disk space, a broken font cache) costs a warning, never the run."""
        if not self.history:
            return
        from .report import plot_curves

        try:
            plot_curves([self.run_dir.path], self.run_dir.path / "curves.png", baselines=[self.baselines])
        except Exception as e:
            self.reporter.note(f"could not draw curves.png: {type(e).__name__}: {e}")

    def _drain(self) -> None:
        """Finish pending checkpoint writes while another error is on its way out (it matters more)."""
        try:
            self.writer.wait()
        except Exception:
            pass

    def _fit(self) -> tuple[str, str]:
        tc = self.cfg.train
        scheduled = self.schedule.active
        if self.end is not None:  # resumed after the end was decided and checkpointed
            return self.end
        while self.epoch < tc.epochs:
            epoch_no = self.epoch + 1
            batches = self.task.batches(self.epoch)
            self.reporter.epoch_start(epoch_no, tc.epochs, len(batches), self.batch)
            self.model.train()
            started = time.perf_counter()
            for b in range(self.batch, len(batches)):
                if scheduled:
                    lr = self.schedule.lr(self.epoch, b, len(batches))
                    for group in self.optimizer.param_groups:
                        group["lr"] = lr
                value = self._step(*self.task.batch(batches[b], self.epoch, b))
                if not math.isfinite(value):
                    raise DivergedError(
                        f"loss is not finite ({value}) at epoch {epoch_no}, batch {b + 1}; lower train.lr or set "
                        f"train.clip_norm and train again (the checkpoint of epoch {self.epoch} is intact)"
                    )
                self.loss_sum += value * len(batches[b])
                self.seen += len(batches[b])
                self.batch = b + 1
                self.reporter.batch_end(value)
                faults.hit(f"batch:{epoch_no}:{self.batch}")
                if self.stop.is_set() and self.batch < len(batches):
                    self.seconds += time.perf_counter() - started
                    self._save_last()
                    return "interrupted", f"interrupted during epoch {epoch_no} after batch {self.batch}/{len(batches)}"
            self.seconds += time.perf_counter() - started
            row = self._epoch_row(epoch_no)
            improved = self.early.step(row[self.early.monitor], epoch_no)
            self.schedule.epoch_end(row)
            self.history.append(row)
            self.epoch, self.batch = epoch_no, 0
            self.loss_sum, self.seen, self.seconds = 0.0, 0, 0.0
            # Every decision about this epoch is taken before its checkpoint, and recorded in it:
            # a resume after a kill anywhere below decides nothing again.
            prune = self.reporter.epoch_end(row, improved)
            self.end = self._decide_end(prune)
            self.writer.wait()  # at most one epoch's checkpoints in flight
            if improved:
                self._save_best(row)
            self._save_last()
            faults.hit(f"epoch:{epoch_no}")
            self.run_dir.write_metrics(self.history, self.task.metric_columns)
            faults.hit(f"metrics:{epoch_no}")
            self._board(row)
            if self.end is None:
                self._write_summary("running", "")
                faults.hit(f"summary:{epoch_no}")
            if tc.plateau_warning == epoch_no and self._plateau_warning():
                self.reporter.note(self._plateau_warning())
            if self.end is not None:
                return self.end
            if self.stop.is_set():
                return "interrupted", f"interrupted after epoch {epoch_no}"
        return "completed", f"trained all {tc.epochs} epochs"

    def _decide_end(self, prune: str | None) -> tuple[str, str] | None:
        """How the run ends after the epoch just finished, or None if it goes on."""
        if self.early.should_stop:
            return "early_stopped", (
                f"no improvement of {self.early.monitor} for {self.early.wait} epochs "
                f"(patience {self.early.patience}); best epoch {self.early.best_epoch}"
            )
        if self.epoch >= self.cfg.train.epochs:
            return "completed", f"trained all {self.cfg.train.epochs} epochs"
        if prune:
            return "pruned", prune
        return None

    def _step(self, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        """One optimizer step; returns the batch's loss (without l1/l2 penalties)."""
        tc = self.cfg.train
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.task.loss(self.model(inputs), targets)
        total = loss
        if tc.l1 or tc.l2:
            # Penalties join the gradient but not the reported loss, which stays comparable to val_loss.
            weights = self.model.regularized_weights()
            if tc.l1:
                total = total + tc.l1 * sum(w.abs().sum() for w in weights)
            if tc.l2:
                total = total + tc.l2 * sum(w.pow(2).sum() for w in weights)
        total.backward()
        if tc.clip_value is not None:
            torch.nn.utils.clip_grad_value_(self.params, tc.clip_value)
        if tc.clip_norm is not None:
            # RNN gradients can explode over long sequences; cap their global norm.
            torch.nn.utils.clip_grad_norm_(self.params, tc.clip_norm)
        self.optimizer.step()
        return loss.item()

    def _plateau_warning(self) -> str | None:
        """Derived from the history alone, so a resumed run warns exactly as an uninterrupted one."""
        k = self.cfg.train.plateau_warning
        if k is None or len(self.history) < k:
            return None
        prior = self.task.prior_loss
        if all(row["train_loss"] >= 0.98 * prior for row in self.history[:k]):
            baseline = "the class frequencies" if self.task.kind != "forecasting" else "the training mean"
            return (
                f"after {k} epochs the training loss ({self.history[k - 1]['train_loss']:.4f}) is still within 2% of "
                f"{prior:.4f}, the loss of predicting {baseline}: the model has not started "
                f"learning. Try a larger train.lr (rnnexp lr-find suggests one)"
            )
        return None

    def _epoch_row(self, epoch_no: int) -> dict[str, Any]:
        row: dict[str, Any] = {"epoch": epoch_no, "train_loss": self.loss_sum / max(1, self.seen)}
        row.update(self.task.validate(self.model))
        row["lr"] = float(self.optimizer.param_groups[0]["lr"])
        row["seconds"] = round(self.seconds, 3)
        return row

    # -- save ----------------------------------------------------------------------------------

    def _model_part(self) -> dict[str, Any]:
        """What rebuilding and using the model needs, without the run folder."""
        return {
            "run_id": self.meta["run_id"],
            **model_spec(self.model, self.cfg.model, self.input_spec, self.task.output_size),
            "preprocessing": self.task.preprocessing,
            "config": self.cfg.model_dump(mode="json"),
        }

    def _save_best(self, row: dict[str, Any]) -> None:
        state = {"kind": "best", "epoch": row["epoch"], "monitor": self.early.monitor, "score": row[self.early.monitor]}
        self.writer.submit({**self._model_part(), **state}, self.run_dir.best, fault=f"best:{row['epoch']}")

    def _save_last(self) -> None:
        state = {
            "kind": "last",
            "optimizer": self.optimizer.state_dict(),
            "early_stopping": self.early.state_dict(),
            "schedule": self.schedule.state_dict(),
            "epoch": self.epoch,
            "batch": self.batch,
            "loss_sum": self.loss_sum,
            "seen": self.seen,
            "seconds": self.seconds,
            "history": self.history,
            "rng": _get_rng_state(),
            "end": None if self.end is None else {"status": self.end[0], "reason": self.end[1]},
        }
        label = self.epoch if self.batch == 0 else f"{self.epoch + 1}.{self.batch}"
        self.writer.submit({**self._model_part(), **state}, self.run_dir.last, fault=f"last:{label}")

    def _write_summary(self, status: str, reason: str) -> TrainResult:
        result = TrainResult(
            run_dir=str(self.run_dir.path),
            status=status,
            epochs_run=self.epoch,
            epochs_planned=self.cfg.train.epochs,
            best_epoch=self.early.best_epoch if hasattr(self, "early") else None,
            best_score=self.early.best if hasattr(self, "early") else None,
            monitor=self.cfg.train.early_stopping.monitor,
            stop_reason=reason,
            last=self.history[-1] if self.history else {},
            warnings=[w for w in [self._plateau_warning() if hasattr(self, "task") else None] if w],
            baselines=getattr(self, "baselines", {}),
        )
        write_json(self.run_dir.summary, {**result.to_dict(), "updated_at": _now()})
        return result


# ---------------------------------------------------------------------------------------------


def _check_tensorboard(cfg: Config) -> None:
    import importlib.util

    if cfg.train.tensorboard and importlib.util.find_spec("tensorboard") is None:
        raise ConfigError(
            "train.tensorboard is true but the tensorboard package is not installed: "
            "pip install 'rnnexp[tensorboard]' (or pip install tensorboard), or set train.tensorboard: false"
        )


def _load_pretrained(cfg: Config, task):
    """Read pretrained vectors for the fitted vocabulary; fixes model.embedding_dims from the file if unset."""
    path = cfg.model.embedding.pretrained
    if path is None:
        return None
    from .embeddings import load_pretrained

    prep = task.prep
    found = load_pretrained(
        path, prep.vocab, lowercase=prep.lowercase, seed=cfg.train.seed, expected_dim=cfg.model.embedding_dims
    )
    if cfg.model.embedding_dims is None:
        cfg.model.embedding_dims = found.dim  # recorded in config.yaml, so resume and evaluate build the same model
    return found


def _pretrained_summary(found) -> dict[str, Any] | None:
    if found is None:
        return None
    return {
        "dim": found.dim,
        "found": found.found,
        "coverage": round(found.coverage, 4),
        "missing_examples": found.missing_examples,
    }


class LRSchedule:
    """Learning rate as a function of (epoch, batch), plus the reduce-on-plateau state."""

    def __init__(self, cfg, base_lr: float, epochs: int):
        self.cfg, self.base, self.epochs = cfg, base_lr, epochs
        self.factor, self.best, self.wait = 1.0, None, 0

    @property
    def active(self) -> bool:
        return self.cfg.kind != "none" or self.cfg.warmup_epochs > 0

    def lr(self, epoch: int, batch: int, batches: int) -> float:
        c = self.cfg
        step, warm = epoch * batches + batch, c.warmup_epochs * batches
        if step < warm:
            return self.base * (step + 1) / warm
        e = epoch - c.warmup_epochs  # epochs since warmup ended
        if c.kind == "time":
            return self.base / (1.0 + c.decay * e)
        if c.kind == "step":
            return self.base * c.gamma ** (e // c.step_size)
        if c.kind == "exponential":
            return self.base * c.gamma**e
        if c.kind == "cosine":
            span = max(1, self.epochs - c.warmup_epochs)
            return c.min_lr + (self.base - c.min_lr) * (1 + math.cos(math.pi * min(e, span) / span)) / 2
        if c.kind == "plateau":
            return max(c.min_lr, self.base * self.factor)
        return self.base

    def epoch_end(self, row: dict[str, Any]) -> None:
        c = self.cfg
        if c.kind != "plateau" or row.get(c.monitor) is None:
            return
        value, minimize = row[c.monitor], direction_of(c.monitor) == "min"
        if self.best is None or (value < self.best if minimize else value > self.best):
            self.best, self.wait = value, 0
        else:
            self.wait += 1
            if self.wait >= max(1, c.patience):
                self.factor *= c.gamma
                self.wait = 0

    def state_dict(self) -> dict[str, Any]:
        return {"factor": self.factor, "best": self.best, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.factor, self.best, self.wait = state["factor"], state["best"], state["wait"]


def _make_optimizer(model: torch.nn.Module, cfg: Config) -> torch.optim.Optimizer:
    tc = cfg.train
    params = model.parameters()
    if tc.optimizer == "adam":
        return torch.optim.Adam(params, lr=tc.lr, weight_decay=tc.weight_decay)
    if tc.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=tc.lr, weight_decay=tc.weight_decay)
    if tc.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=tc.lr, momentum=tc.momentum, weight_decay=tc.weight_decay)
    return torch.optim.SGD(params, lr=tc.lr, momentum=tc.momentum, weight_decay=tc.weight_decay)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _get_rng_state() -> dict[str, Any]:
    # Only tensors and plain values: the checkpoint must load with weights_only=True.
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


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
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def dry_run(cfg: Config) -> dict[str, Any]:
    """Everything a run would set up (data, preprocessing, model), without a run folder or training."""
    device = resolve_device(cfg.train.device)
    task = create_task(cfg, device)
    pretrained = _load_pretrained(cfg, task)
    model = build_model(cfg.model, task.input_spec, task.output_size)
    return {
        "device": str(device),
        "data": task.summary(),
        "pretrained": _pretrained_summary(pretrained),
        "parameters": count_parameters(model),
        "epochs": cfg.train.epochs,
    }


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
    session = _Session(reporter, threading.Event())
    session.cfg = cfg
    session.device = resolve_device(cfg.train.device)
    session.task = create_task(cfg, session.device)
    pretrained = _load_pretrained(cfg, session.task)
    _seed_everything(cfg.train.seed)
    session._build()
    session._copy_pretrained(pretrained)
    session.model.train()
    lrs, losses, smoothed = [], [], []
    avg, best, beta = 0.0, math.inf, 0.98
    batches: list[np.ndarray] = []
    b = 0
    reporter.epoch_start(1, 1, steps, 0)
    for i in range(steps):
        if b == len(batches):  # next epoch of batches, as training would see them
            batches, b = session.task.batches(session.epoch), 0
            session.epoch += 1
        lr = min_lr * (max_lr / min_lr) ** (i / (steps - 1))
        for group in session.optimizer.param_groups:
            group["lr"] = lr
        loss = session._step(*session.task.batch(batches[b], session.epoch - 1, b))
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
        "prior_loss": session.task.prior_loss,
        "config": cfg.model_dump(mode="json"),
    }
