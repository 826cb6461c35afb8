"""Checkpoints: plain dicts of state_dicts and simple values, written atomically, read with
weights_only=True (a checkpoint can never run code when loaded), and checked when read: each
carries a checksum of everything in it and the id of the run it belongs to."""

from __future__ import annotations

import contextlib
import io
import os
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch

from . import faults
from .errors import CheckpointError, StorageError, no_room
from .rundir import fsync_dir

FORMAT = "rnnexp-checkpoint"
VERSION = 2  # 2: checksum and run_id


def previous_path(path: Path) -> Path:
    return path.with_name(path.stem + ".prev" + path.suffix)


def digest(obj: Any) -> str:
    """A checksum of a checkpoint's contents: CRC-32 (as zip uses) over every tensor's dtype, shape
    and bytes and every plain value, in key order. torch.save's zip stores tensors without a check
    torch.load makes, so one flipped bit would otherwise load as a different weight (or an inf)
    without a word. (CRC-32 catches every single-bit flip and every burst up to 32 bits; a checkpoint
    is not a secret to guard, only data to keep intact, and it costs a few ms per checkpoint.)"""
    return f"crc32:{_feed(0, obj):08x}"


def _feed(crc: int, obj: Any) -> int:
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        crc = zlib.crc32(f"T{t.dtype}{tuple(t.shape)}:".encode(), crc)
        return zlib.crc32(memoryview(t.reshape(-1).view(torch.uint8).numpy()), crc)
    if isinstance(obj, dict):
        crc = zlib.crc32(b"{", crc)
        for key in sorted(obj, key=repr):
            crc = _feed(zlib.crc32(repr(key).encode() + b"=", crc), obj[key])
        return zlib.crc32(b"}", crc)
    if isinstance(obj, (list, tuple)):  # a tuple may come back a list: the same value
        crc = zlib.crc32(b"[", crc)
        for item in obj:
            crc = _feed(crc, item)
        return zlib.crc32(b"]", crc)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return zlib.crc32(f"{type(obj).__name__}:{obj!r};".encode(), crc)
    raise TypeError(f"a checkpoint holds only tensors and plain values, not {type(obj).__name__}")


def serialize(obj: dict[str, Any]) -> bytes:
    """The checkpoint file's bytes, with the checksum of its contents."""
    body = {"format": FORMAT, "version": VERSION, **obj}
    body["checksum"] = digest(body)
    buf = io.BytesIO()
    torch.save(body, buf)
    return buf.getvalue()


def save(obj: dict[str, Any], path: Path, fault: str | None = None) -> None:
    """Write ``obj`` to ``path`` so that a crash at any moment leaves a complete file."""
    write_bytes(serialize(obj), Path(path), fault)


def write_bytes(data: bytes, path: Path, fault: str | None = None) -> None:
    """The new file is written and fsynced under a temp name, the current file is kept as
    ``<name>.prev.pt`` (the fallback if the new one is ever unreadable), then the temp file is
    renamed over ``path`` (atomic on POSIX). ``fault`` labels the crash points "write:<fault>"
    (temp file complete, not yet renamed) and "saved:<fault>" (in place)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    prev_tmp = path.with_name(f".{path.name}.prev-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if fault:
            faults.hit(f"write:{fault}")
        if path.exists():
            prev = previous_path(path)
            if prev_tmp.exists():
                prev_tmp.unlink()
            os.link(path, prev_tmp)  # a second name for the current file: path itself never goes missing
            os.replace(prev_tmp, prev)
        os.replace(tmp, path)
        fsync_dir(path.parent)
        if fault:
            faults.hit(f"saved:{fault}")
    except OSError as e:
        for leftover in (tmp, prev_tmp):  # the names this write made aside; path and its .prev are as they were
            with contextlib.suppress(OSError):  # a read-only file system refuses even this: the error is e
                leftover.unlink(missing_ok=True)
        if no_room(e):
            raise StorageError(path, "write checkpoint", e.strerror or str(e)) from None
        raise CheckpointError(
            f"{path}: cannot write checkpoint ({e.strerror or e}); the previous checkpoint is left as it was. "
            "Fix the folder's permissions, then `rnnexp resume`"
        ) from None


class BackgroundWriter:
    """Writes checkpoints on one background thread, in submission order. The training thread pays
    only for the in-memory snapshot; the disk write and its fsync overlap the next epoch."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[Future] = []

    def submit(self, obj: dict[str, Any], path: Path, fault: str | None = None) -> None:
        data = serialize(obj)  # the snapshot, checksummed: training may change the tensors right after
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


def load(path: Path, run_id: str | None = None) -> dict[str, Any]:
    """Read a checkpoint; CheckpointError (one line) when it is missing, corrupt, changed since it
    was written (checksum), not ours, or (given ``run_id``) another run's."""
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
    stored = obj.pop("checksum", None)
    try:
        actual = digest(obj)
    except (TypeError, RuntimeError):
        actual = None  # a value no checkpoint of ours holds
    if stored is None or stored != actual:  # no checksum at all is no match either
        raise CheckpointError(
            f"{path}: checksum mismatch: the file was damaged or changed after rnnexp wrote it (a disk or copy error, or an edit)"
        )
    if run_id is not None and obj.get("run_id") != run_id:
        raise CheckpointError(
            f"{path}: belongs to another run (run id {obj.get('run_id')}; this folder's meta.json says {run_id}); "
            "put back this run's own checkpoint"
        )
    return obj


def load_with_fallback(path: Path, run_id: str | None = None) -> tuple[dict[str, Any], str | None]:
    """Load ``path``, or its kept previous version if ``path`` fails any check of ``load``.

    Returns the checkpoint and a warning line when the fallback was used.
    """
    try:
        return load(path, run_id), None
    except CheckpointError as first:
        prev = previous_path(Path(path))
        if not prev.is_file():
            raise
        try:
            obj = load(prev, run_id)
        except CheckpointError as second:
            raise CheckpointError(f"{first}; and its previous version: {second}") from None
        return obj, f"{first}; using the previous checkpoint {prev.name} instead"
