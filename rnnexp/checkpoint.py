"""Checkpoints: plain dicts of state_dicts and simple values, written atomically, read with
weights_only=True (a checkpoint can never run code when loaded)."""

from __future__ import annotations

import io
import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch

from . import faults
from .errors import CheckpointError

FORMAT = "rnnexp-checkpoint"
VERSION = 1


def previous_path(path: Path) -> Path:
    return path.with_name(path.stem + ".prev" + path.suffix)


def serialize(obj: dict[str, Any]) -> bytes:
    """The checkpoint file's bytes: a snapshot, so the tensors may change right after."""
    buf = io.BytesIO()
    torch.save({"format": FORMAT, "version": VERSION, **obj}, buf)
    return buf.getvalue()


def save(obj: dict[str, Any], path: Path, fault: str | None = None) -> None:
    """Write ``obj`` to ``path`` so that a crash at any moment leaves a complete file."""
    write_bytes(serialize(obj), Path(path), fault)


def write_bytes(data: bytes, path: Path, fault: str | None = None) -> None:
    """The new file is written and fsynced under a temp name, the current file is kept as
    ``<name>.prev.pt`` (the fallback if the new one is ever unreadable), then the temp file is
    renamed over ``path`` (atomic on POSIX)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if fault:
            faults.hit(fault)
        if path.exists():
            prev, prev_tmp = previous_path(path), path.with_name(f".{path.name}.prev-{os.getpid()}")
            if prev_tmp.exists():
                prev_tmp.unlink()
            os.link(path, prev_tmp)  # a second name for the current file: path itself never goes missing
            os.replace(prev_tmp, prev)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise CheckpointError(
            f"{path}: cannot write checkpoint ({e.strerror or e}); the previous checkpoint is left as it was. "
            "Free disk space or fix permissions, then `rnnexp resume`"
        ) from None


class BackgroundWriter:
    """Writes checkpoints on one background thread, in submission order. The training thread pays
    only for the in-memory snapshot; the disk write and its fsync overlap the next epoch."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[Future] = []

    def submit(self, obj: dict[str, Any], path: Path, fault: str | None = None) -> None:
        data = serialize(obj)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rnnexp-checkpoint")
        self._pending.append(self._pool.submit(write_bytes, data, Path(path), fault))

    def wait(self) -> None:
        """Block until everything submitted is on disk; re-raises a write's CheckpointError."""
        pending, self._pending = self._pending, []
        for future in pending:
            future.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def _fsync_dir(folder: Path) -> None:
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


def load(path: Path) -> dict[str, Any]:
    """Read a checkpoint; CheckpointError (one line) when it is missing, corrupt or not ours."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds for truncated, garbage or unsafe pickles
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated, corrupt or unsafe: {first[:160]})") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an rnnexp checkpoint")
    if obj.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {obj.get('version')} is not supported (expected {VERSION})")
    return obj


def load_with_fallback(path: Path) -> tuple[dict[str, Any], str | None]:
    """Load ``path``, or its kept previous version if ``path`` is unreadable.

    Returns the checkpoint and a warning line when the fallback was used.
    """
    try:
        return load(path), None
    except CheckpointError as first:
        prev = previous_path(Path(path))
        if not prev.is_file():
            raise
        obj = load(prev)
        return obj, f"{first}; using the previous checkpoint {prev.name} instead"
