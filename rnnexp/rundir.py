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
import time
from pathlib import Path
from typing import Any

from .config import Config, load_config
from .errors import ConfigError, RunDirError, StorageError


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

    def eval_file(self, split: str) -> Path:
        return self.path / f"eval_{split}.json"

    @classmethod
    def create(
        cls, runs_dir: str | Path, name: str, now: float | None = None, checkpoints: bool = True, prefix: str = ""
    ) -> RunDir:
        """A new, empty run folder. mkdir is atomic, so two runs started in the same second
        (even in different processes) get distinct folders: the second gets a -2 suffix."""
        if "/" in name or "\\" in name or name in (".", "..") or name.startswith("."):
            raise RunDirError(f"run name {name!r} must be a plain folder name (letters, digits, . _ -)")
        runs_dir = Path(runs_dir).absolute()  # scripts get a path that works from any directory
        try:
            runs_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RunDirError(f"{runs_dir}: cannot create the runs folder ({e.strerror or e})") from None
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
        for n in range(1, 10_000):
            path = runs_dir / (f"{prefix}{stamp}_{name}" if n == 1 else f"{prefix}{stamp}_{name}-{n}")
            try:
                path.mkdir()
            except FileExistsError:
                continue
            except OSError as e:
                raise RunDirError(f"{path}: cannot create the run folder ({e.strerror or e})") from None
            if checkpoints:
                (path / "checkpoints").mkdir()
            return cls(path)
        raise RunDirError(f"{runs_dir}: too many runs named {name!r} in one second")

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
            return load_config(self.config)
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


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # shortest repr that round-trips: the exact float, no rounding
    return str(value)


# Out of room, not a wrong path: the same command succeeds once space is freed.
_NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def write_text(path: Path, text: str) -> None:
    """Atomic small-file write: temp file, then rename."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        if e.errno in _NO_ROOM:
            raise StorageError(
                f"{path}: cannot write ({e.strerror or e}). Free disk space, then run again "
                "(a stopped run continues with `rnnexp resume RUN_DIR`)"
            ) from None
        raise RunDirError(f"{path}: cannot write ({e.strerror or e})") from None


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")
