"""The run folder: naming, and reading/writing the small files in it.

runs/<UTC YYYYmmdd-HHMMSS>_<name>[-N]/
    config.yaml  meta.json  preprocessing.json  metrics.csv  summary.json
    checkpoints/last.pt  checkpoints/best.pt  eval_<split>.json
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from enum import StrEnum
from pathlib import Path
from typing import Any

from .config import Config, load_config
from .errors import ConfigError, OutputPathError, RunDirError, StorageError, clip, no_room


class Status(StrEnum):
    """A run's status in summary.json. A StrEnum: it is written and compared as its plain string."""

    RUNNING = "running"
    COMPLETED = "completed"
    EARLY_STOPPED = "early_stopped"
    PRUNED = "pruned"
    INTERRUPTED = "interrupted"
    DIVERGED = "diverged"
    FAILED = "failed"
    # Shown, never written: summary.json says running, but no process holds the run's lock (the
    # process was killed, by SIGKILL, the OOM killer or a power cut); resume continues it.
    STALE = "stale"

    @property
    def finished(self) -> bool:
        """Trained to its end: a resume of it trains nothing unless its epochs are extended."""
        return self in (Status.COMPLETED, Status.EARLY_STOPPED)


LOCK_FILE = ".lock"


def metric_columns(task_columns: list[str]) -> list[str]:
    """metrics.csv columns: the same frame for every task, the task's own validation metrics inside."""
    return ["epoch", "train_loss", "val_loss", *task_columns, "lr", "seconds"]


class RunDir:
    """Paths of one run folder."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    config = property(lambda self: self.path / "config.yaml")
    meta = property(lambda self: self.path / "meta.json")
    preprocessing = property(lambda self: self.path / "preprocessing.json")
    metrics = property(lambda self: self.path / "metrics.csv")
    summary = property(lambda self: self.path / "summary.json")
    checkpoints = property(lambda self: self.path / "checkpoints")
    last = property(lambda self: self.path / "checkpoints" / "last.pt")
    best = property(lambda self: self.path / "checkpoints" / "best.pt")

    @property
    def in_place(self) -> bool:
        """A run folder in place: config.yaml and meta.json in it (summary.json follows a moment
        later), not hidden (hidden folders are runs still being built)."""
        return not self.path.name.startswith(".") and self.config.is_file() and (self.meta.is_file() or self.summary.is_file())

    def lock(self) -> RunLock:
        """One process per run folder: a second `resume` of a run still training would corrupt it.
        The flock goes with the process, so a killed run leaves no stale lock."""
        return RunLock(self.path / LOCK_FILE)

    def lock_held(self) -> bool:
        return lock_held(self.path)

    def status(self, summary: dict[str, Any] | None = None) -> str:
        """The run's status as rnnexp shows it (runs, compare, evaluate): summary.json's, except
        that a run it calls running (or that has none yet) whose lock no process holds is stale."""
        status = (self.read_summary() if summary is None else summary).get("status")
        if status in (None, Status.RUNNING) and not self.lock_held():
            return Status.STALE
        return status or Status.RUNNING

    def read_summary(self) -> dict[str, Any]:
        """summary.json, or {} while it is absent or torn (a run starting, or one a kill interrupted)."""
        try:
            return json.loads(self.summary.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def eval_file(self, split: str) -> Path:
        return self.path / f"eval_{split}.json"

    @classmethod
    def create(
        cls, runs_dir: str | Path, name: str, now: float | None = None, checkpoints: bool = True, prefix: str = ""
    ) -> RunDir:
        """A new, empty run folder, in place at once (`stage` + `publish`): two runs started in the
        same second, even in different processes, get distinct folders (the second a -2 suffix)."""
        return cls.stage(runs_dir, name, checkpoints, prefix).publish(now)

    @classmethod
    def stage(cls, runs_dir: str | Path, name: str, checkpoints: bool = True, prefix: str = "") -> Staged:
        """A new folder built aside under a hidden name until `Staged.publish` renames it into place
        whole: a run folder is either absent or complete, whenever the process dies."""
        runs_dir = _runs_folder(runs_dir, name)
        _clear_stale_stages(runs_dir)
        path = runs_dir / f"{STAGE_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}"
        try:
            path.mkdir()
            if checkpoints:
                (path / "checkpoints").mkdir()
        except OSError as e:
            shutil.rmtree(path, ignore_errors=True)
            raise cannot(path, "create the run folder", e) from None
        return Staged(cls(path), runs_dir, name, prefix)

    @classmethod
    def open(cls, path: str | Path) -> RunDir:
        run = cls(path)
        if not run.path.is_dir():
            raise RunDirError(f"{run.path}: no such run folder")
        if not run.config.is_file():
            raise RunDirError(f"{run.path}: not a run folder (no config.yaml)")
        return run

    def load_config(self) -> Config:
        try:
            return load_config(self.config, recorded=True)
        except ConfigError as e:
            raise RunDirError(f"{self.config}: the run's saved config is invalid: {e.messages[0]}") from None

    def read_json(self, path: Path) -> dict[str, Any]:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RunDirError(f"{path}: missing from the run folder") from None
        except (OSError, ValueError) as e:
            raise RunDirError(f"{path}: unreadable ({e})") from None

    def read_metrics(self) -> list[dict[str, float | None]]:
        """metrics.csv as rows of floats (None where empty); [] before the first epoch."""
        if not self.metrics.is_file():
            return []
        with open(self.metrics, newline="", encoding="utf-8") as f:
            return [{k: float(v) if v not in ("", None) else None for k, v in row.items()} for row in csv.DictReader(f)]

    def write_metrics(self, rows: list[dict[str, Any]], task_columns: list[str]) -> None:
        """Rewrite metrics.csv from the full history (so a resume never duplicates a row)."""
        columns = metric_columns(task_columns)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _fmt(row.get(k)) for k in columns})
        write_text(self.metrics, buf.getvalue())


STAGE_PREFIX = ".staging-"  # a folder being built; hidden, and never listed as a run


class Staged:
    """A run folder under construction (see RunDir.stage)."""

    def __init__(self, run: RunDir, runs_dir: Path, name: str, prefix: str):
        self.run, self.runs_dir, self.name, self.prefix = run, runs_dir, name, prefix

    def intended_name(self, now: float | None = None) -> str:
        """The name `publish` will give the folder, unless another process takes it first."""
        return next(p for p in _candidates(self.runs_dir, self.name, now, self.prefix) if not p.exists()).name

    def publish(self, now: float | None = None) -> RunDir:
        """Rename the folder into place as <stamp>_<name> (-2, -3, ... when taken): one atomic step,
        so the run folder appears with every file already in it."""
        for path in _candidates(self.runs_dir, self.name, now, self.prefix):
            try:
                os.rename(self.run.path, path)  # fails on an existing folder that is not empty
            except OSError as e:
                if e.errno in (errno.EEXIST, errno.ENOTEMPTY):
                    continue
                raise cannot(path, "create the run folder", e) from None
            fsync_dir(self.runs_dir)
            self.run = RunDir(path)
            return self.run
        raise RunDirError(f"{self.runs_dir}: too many runs named {self.name!r} in one second")

    def discard(self) -> None:
        """Remove the folder that was never published (setup failed: nothing of the run is kept)."""
        shutil.rmtree(self.run.path, ignore_errors=True)


def _runs_folder(runs_dir: str | Path, name: str) -> Path:
    if "/" in name or "\\" in name or name.startswith("."):  # a path, or hidden (".", ".." among them)
        raise RunDirError(f"run name {clip(name)!r} must be a plain folder name (letters, digits, . _ -)")
    return output_folder(Path(runs_dir).absolute(), "--runs-dir")  # scripts get a path that works from any directory


def _candidates(runs_dir: Path, name: str, now: float | None, prefix: str):
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
    for n in range(1, 10_000):
        yield runs_dir / (f"{prefix}{stamp}_{name}" if n == 1 else f"{prefix}{stamp}_{name}-{n}")


class RunLock:
    """The exclusive flock on a run folder's .lock, held until `release`."""

    def __init__(self, path: Path):
        import fcntl

        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise cannot(path, "create", e) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunDirError(f"{path.parent}: another rnnexp process is training this run") from None
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def lock_held(folder: Path) -> bool:
    """Whether a process holds ``folder``'s .lock (the flock a training run takes; it goes with the
    process that held it). No .lock: no process ever took it. A lock that cannot be opened counts as
    held: hands off. (Read only: asking writes nothing in the folder.)"""
    import fcntl

    try:
        fd = os.open(folder / LOCK_FILE, os.O_RDONLY)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def _clear_stale_stages(runs_dir: Path, age: float = 600.0) -> None:
    """Remove folders that a setup killed outright left half built: older than ``age`` seconds, and
    with no process holding their .lock."""
    try:
        staged = [p for p in runs_dir.iterdir() if p.name.startswith(STAGE_PREFIX)]
    except OSError:
        return
    for path in staged:
        try:
            old = time.time() - path.stat().st_mtime >= age
        except OSError:
            continue
        if old and not lock_held(path):
            shutil.rmtree(path, ignore_errors=True)


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: some file systems refuse it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # shortest repr that round-trips: the exact float, no rounding
    return str(value)


def cannot(path: Path, what: str, e: OSError) -> StorageError | RunDirError:
    """The error for a failed file operation: a full disk is a failed run (exit 1, free space and go
    on); anything else (permissions, a file where a folder should be) is a bad path (exit 2)."""
    if no_room(e):
        return StorageError(path, what, e.strerror or str(e))
    return RunDirError(f"{path}: cannot {what} ({e.strerror or e})")


# ---------------------------------------------------------------------------------------------
# Paths the user chose to write at: one rule for every command


def output_file(path: str | Path, option: str, example: str) -> Path:
    """Check, before any work, a file path a command writes at (--out, --predictions, or its default
    in a run folder): the folders up to it are created when missing (as --runs-dir's always were; the
    command's `written:` line says where it went). A folder at the path, a file where a folder should
    be, or a place this process cannot write is an OutputPathError (exit 2): one line naming
    ``option``, the path, what is wrong and what to do (``example``: a file name to suggest inside a
    folder given by mistake). A full disk is a StorageError (exit 1)."""
    path = Path(path)
    if path.is_dir():
        raise _bad_output(option, path, "is a folder, not a file", f"give a file path, e.g. {option} {path / example}")
    _writable_folder(path.parent, option, path, "give a path in a folder you can write to")
    return path


def output_folder(path: str | Path, option: str) -> Path:
    """output_file's rule for a folder a command writes in (--runs-dir): created when missing; a file
    there, or a place this process cannot write, is an OutputPathError naming ``option``."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise _bad_output(option, path, "is a file, not a folder", "give a folder (it is created when missing)")
    _writable_folder(path, option, path, "give a folder you can write to")
    return path


def _writable_folder(folder: Path, option: str, given: Path, elsewhere: str) -> None:
    """``folder`` exists (created when missing) and this process can create a file in it: tried, as
    permissions alone do not say it (root, read-only mounts, ACLs). ``elsewhere``: what to do instead."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        if no_room(e):
            raise StorageError(folder, "create the folder", e.strerror or str(e)) from None
        blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            raise _bad_output(option, given, f"{blocker} is a file, not a folder", elsewhere) from None
        raise _bad_output(option, given, f"cannot create the folder {folder} ({e.strerror or e})", elsewhere) from None
    probe = folder / f".rnnexp-probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as e:
        if no_room(e):
            raise StorageError(given, "write", e.strerror or str(e)) from None
        raise _bad_output(option, given, f"cannot write in {folder} ({e.strerror or e})", elsewhere) from None
    _remove(probe)


def _bad_output(option: str, path: Path, problem: str, todo: str) -> OutputPathError:
    return OutputPathError(f"{option} {path}: {problem}; {todo}")


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A file written whole or not at all: the block writes the yielded temp path beside ``path``
    (with its suffix, for writers that read the format from the name), renamed over ``path`` when the
    block ends, removed when it raises (nothing half written; an earlier file there stays)."""
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as e:
        _remove(tmp)
        raise cannot(path, "write", e) from None
    except BaseException:
        _remove(tmp)
        raise


def _remove(path: Path) -> None:
    with suppress(OSError):  # already gone, or its folder never was
        path.unlink()


def write_text(path: Path, text: str) -> None:
    """Atomic small-file write: temp file, then rename."""
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")
