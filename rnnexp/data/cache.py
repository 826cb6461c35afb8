"""The cache of prepared data: a file read (and its texts tokenized) once, kept as flat arrays on
disk that every run, resume, evaluate and sweep trial on the same file maps into memory (the pages
are shared between processes: two workers on one machine hold them once).

An entry is a folder named by its key: the sha256 of everything that changes what it holds (the
file's bytes, the keys that say how to read it and how to tokenize it, the tokenizer rule and
PREPARATION, this code's version). The file's bytes are hashed on every use: a changed byte never
reuses an entry, whatever the file's name, size or time say (sha256 reads about 1.8 GB/s here).
Each entry is written in a folder of its own and renamed into place whole; entry.json records each
part's length and CRC32, checked on every use, so a truncated, damaged or partial entry is never
used: it is moved aside and built again. Two processes building one entry both finish; the first
rename wins and the other's copy is dropped. A cache that cannot be written (a full disk, a
read-only folder) costs the cache, not the run: one note, and the data is used from memory.

The cache lives in $RNNEXP_CACHE_DIR, else $XDG_CACHE_HOME/rnnexp/prepared, else
~/.cache/rnnexp/prepared; RNNEXP_CACHE_DIR=off turns it off. It holds at most
$RNNEXP_CACHE_SIZE (default 20GB): past that, the entries used longest ago are removed.
`rnnexp cache` lists the entries and `rnnexp cache clear` removes them.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config.inherit import expand_home
from ..errors import ConfigError

PREPARATION = 1  # the version of what an entry holds and how it is made: raise it when either changes
DEFAULT_LIMIT = 20 * 10**9
META = "entry.json"
_STALE_BUILD_S = 6 * 3600  # a building folder this old belongs to a process that died


def cache_dir() -> Path | None:
    """Where entries live, or None when RNNEXP_CACHE_DIR is "off"."""
    env = os.environ.get("RNNEXP_CACHE_DIR", "")
    if env.strip().lower() == "off":
        return None
    if env:
        return expand_home(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rnnexp" / "prepared"


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}


def size_limit() -> int:
    """RNNEXP_CACHE_SIZE in bytes ("20GB", "500MB", "1.5GiB", a plain number of bytes)."""
    raw = os.environ.get("RNNEXP_CACHE_SIZE", "")
    if not raw.strip():
        return DEFAULT_LIMIT
    match = _SIZE.match(raw)
    if not match:
        raise ConfigError(f"RNNEXP_CACHE_SIZE={raw!r}: expected a size such as 20GB, 500MB or 1.5GiB")
    unit = (match.group(2) or "").lower().removesuffix("b")
    return int(float(match.group(1)) * _UNITS[unit])


BLOCK = 64 * 2**20


def file_sha256(path: Path) -> str:
    """The sha256 of the sha256 of each 64 MB block of the file, in order: every byte counts, and
    the blocks are hashed on all cores (hashlib releases the GIL)."""
    size = path.stat().st_size

    def block(start: int) -> bytes:
        with open(path, "rb") as f:
            f.seek(start)
            return hashlib.sha256(f.read(BLOCK)).digest()

    starts = range(0, max(size, 1), BLOCK)
    with ThreadPoolExecutor(min(len(starts), os.cpu_count() or 1)) as pool:
        digests = list(pool.map(block, starts))
    return hashlib.sha256(b"".join(digests) + str(size).encode()).hexdigest()


def key_of(fields: dict[str, Any]) -> str:
    """The entry's name: a digest of everything that decides its contents."""
    text = json.dumps({"preparation": PREPARATION, **fields}, sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


Notes = Callable[[str], None]


@dataclass
class Entry:
    """A stored entry: its arrays (memory-mapped, read-only) and what entry.json says of it."""

    key: str
    folder: Path
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]

    @property
    def size(self) -> int:
        return folder_size(self.folder)


def _crc(array: np.ndarray) -> int:
    crc = 0
    flat = array.reshape(-1).view(np.uint8)
    for i in range(0, len(flat), 1 << 26):
        crc = zlib.crc32(flat[i : i + (1 << 26)], crc)
    return crc


def load(key: str, notes: Notes, parts: tuple[str, ...] = (), verify: bool = True) -> Entry | None:
    """The entry ``key``, checked whole (and holding ``parts``); None when there is none. A damaged
    one is named in a note, moved aside and removed: the caller builds it again."""
    root = cache_dir()
    if root is None:
        return None
    folder = root / key
    meta_path = folder / META
    if not folder.is_dir():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        missing = [name for name in parts if name not in meta["parts"]]
        if missing:
            raise Damaged(f"{META} lists no {', '.join(missing)}")
        arrays = {name: _open_part(folder, name, part, verify) for name, part in meta["parts"].items()}
    except (OSError, ValueError, KeyError, TypeError) as e:
        source = _source_of(meta_path)
        notes(f"data cache: entry {key[:12]}{source} is damaged ({_reason(e)}); removed, preparing the data again")
        discard(folder)
        return None
    try:
        os.utime(meta_path)  # when it was last used: the eviction order
    except OSError:
        pass
    return Entry(key, folder, arrays, meta)


class Damaged(ValueError):
    pass


def _open_part(folder: Path, name: str, part: dict[str, Any], verify: bool = True) -> np.ndarray:
    path = folder / f"{name}.bin"
    dtype, length = np.dtype(part["dtype"]), int(part["length"])
    size = path.stat().st_size
    if size != length * dtype.itemsize:
        raise Damaged(f"{path.name}: {size} bytes, expected {length * dtype.itemsize}")
    array = np.memmap(path, dtype=dtype, mode="r", shape=(length,)) if length else np.zeros(0, dtype=dtype)
    if verify and _crc(array) != int(part["crc32"]):
        raise Damaged(f"{path.name}: checksum mismatch")
    return array


def _reason(e: Exception) -> str:
    if isinstance(e, Damaged):
        return str(e)
    if isinstance(e, FileNotFoundError):
        return f"{Path(e.filename or '?').name} is missing"
    if isinstance(e, (KeyError, TypeError, json.JSONDecodeError)):
        return f"{META} is unreadable"
    return str(e)


def _source_of(meta_path: Path) -> str:
    try:
        return f" ({json.loads(meta_path.read_text(encoding='utf-8'))['source']})"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


class Staging:
    """An entry being written aside while it is made: each part is written, and its CRC taken, on a
    thread of its own as soon as it is added (a file's texts are written while they are tokenized:
    writes and CRCs release the GIL). finish() waits for them, renames the entry into place and
    maps it. Used as a context manager: a build that fails leaves nothing behind. A cache that
    cannot be written costs the cache, not the run: finish() says why in one note and gives None."""

    def __init__(self, key: str, notes: Notes):
        self.key, self.notes = key, notes
        self.root = cache_dir()
        self.folder = None if self.root is None else self.root / f".building-{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.written: dict[str, Any] = {}  # part name -> the future of its entry.json record
        self.error: OSError | None = None
        self.pool: ThreadPoolExecutor | None = None
        if self.folder is not None:
            try:
                self.folder.mkdir(parents=True)
                self.pool = ThreadPoolExecutor(1, thread_name_prefix="rnnexp-cache")
            except OSError as e:
                self.error = e

    def add(self, name: str, array: np.ndarray) -> None:
        """Start writing part ``name`` (the caller keeps ``array`` unchanged until finish)."""
        if self.pool is not None and name not in self.written:
            self.written[name] = self.pool.submit(self._write, name, np.ascontiguousarray(array))

    def _write(self, name: str, array: np.ndarray) -> dict[str, Any]:
        with open(self.folder / f"{name}.bin", "wb") as f:
            f.write(memoryview(array.reshape(-1).view(np.uint8)))
        return {"dtype": array.dtype.str, "length": int(array.size), "crc32": _crc(array)}

    def _wait(self) -> dict[str, Any]:
        parts = {}
        for name, future in self.written.items():
            try:
                parts[name] = future.result()
            except OSError as e:
                self.error = self.error or e
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None
        return parts

    def _failed(self, e: OSError) -> None:
        discard(self.folder)
        self.notes(f"data cache: cannot write {self.root} ({e.strerror or e}); this run prepares its data in memory")

    def finish(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Entry | None:
        """Store ``arrays`` (every part; those added already are not written again) with ``meta``,
        rename the entry into place and map it; ``arrays`` is emptied then (the caller keeps no
        other reference: memory holds the data once, in the entry's pages). None when it cannot be
        written (``arrays`` left as it was, for the caller to go on with in memory). Another
        process's entry of the same key, renamed in first, is the one used."""
        if self.root is None:
            return None
        for name, array in arrays.items():
            self.add(name, array)
        parts = self._wait()
        if self.error is not None:
            self._failed(self.error)
            return None
        full = {**meta, "key": self.key, "preparation": PREPARATION, "created": time.time(), "parts": parts}
        try:
            (self.folder / META).write_text(json.dumps(full, indent=1, ensure_ascii=False), encoding="utf-8")
        except OSError as e:
            self._failed(e)
            return None
        ours = True
        try:
            os.rename(self.folder, self.root / self.key)
        except OSError as e:
            discard(self.folder)
            if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                self._failed(e)
                return None
            ours = False
        # Ours was checked as it was written (the CRCs are of the arrays in memory): mapped, not read again.
        entry = load(self.key, self.notes, tuple(arrays), verify=not ours)
        if entry is not None:
            arrays.clear()
            evict(size_limit(), keep=self.key)
        return entry

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is not None:  # the build failed: its parts are not an entry
            self._wait()
            if self.folder is not None:
                discard(self.folder)


def store(key: str, arrays: dict[str, np.ndarray], meta: dict[str, Any], notes: Notes) -> Entry | None:
    """Write an entry whole (Staging.finish): the entry mapped, or None with one note."""
    with Staging(key, notes) as staging:
        return staging.finish(arrays, meta)


def memo(folder: Path, name: str, compute: Callable[[], str]) -> str:
    """A fact about an entry's contents (a split's fingerprint), computed once and kept in its
    memo.json. The entry's parts stay as written; a memo that cannot be read or kept is computed."""
    path = folder / "memo.json"
    try:
        known = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(known.get(name), str):
            return known[name]
    except (OSError, ValueError, AttributeError):
        known = {}
    value = compute()
    if not isinstance(known, dict):
        known = {}
    known[name] = value
    tmp = folder / f".memo-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.write_text(json.dumps(known), encoding="utf-8")
        os.replace(tmp, path)  # two processes at once: the last one's memo stays, each value right
    except OSError:
        with suppress(OSError):  # a read-only cache refuses even this: the memo is only skipped
            tmp.unlink(missing_ok=True)
    return value


@contextmanager
def building(key: str) -> Iterator[None]:
    """Held while one process builds entry ``key``: another that wants it waits, then finds it
    (a sweep's workers prepare the data once). flock: the kernel lets go if the builder dies."""
    root = cache_dir()
    handle = None
    if root is not None:
        try:
            (root / ".locks").mkdir(parents=True, exist_ok=True)
            handle = open(root / ".locks" / f"{key}.lock", "a+")
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError:  # a cache that cannot be written builds without a lock (store says why)
            if handle is not None:
                handle.close()
            handle = None
    try:
        yield
    finally:
        if handle is not None:
            handle.close()


def discard(folder: Path) -> None:
    """Remove a folder of the cache: renamed aside first, so that no reader sees it half removed."""
    if not folder.exists():
        return
    aside = folder.with_name(f".removing-{folder.name}-{uuid.uuid4().hex[:8]}")
    try:
        os.rename(folder, aside)
    except OSError:
        aside = folder
    shutil.rmtree(aside, ignore_errors=True)


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def entries() -> list[dict[str, Any]]:
    """Every entry: key, source, what it holds (``holds``: {"texts"|"sequences"|"rows": count};
    ``texts`` too, for a text file's), size, created and last used (seconds since the epoch)."""
    root = cache_dir()
    if root is None or not root.is_dir():
        return []
    found = []
    for folder in sorted(root.iterdir()):
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        meta_path = folder / META
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            used = meta_path.stat().st_mtime
        except (OSError, ValueError):
            meta, used = {}, folder.stat().st_mtime
        found.append(
            {
                "key": folder.name,
                "source": meta.get("source", "?"),
                "texts": meta.get("texts"),
                "holds": {k: meta[k] for k in ("texts", "sequences", "rows") if k in meta},
                "bytes": folder_size(folder),
                "created": meta.get("created"),
                "used": used,
            }
        )
    return found


def evict(limit: int, keep: str | None = None) -> list[str]:
    """Remove the entries used longest ago until the cache holds at most ``limit`` bytes (never
    ``keep``), and building folders left by processes that died; the keys removed."""
    root = cache_dir()
    if root is None or not root.is_dir():
        return []
    now = time.time()
    for folder in root.iterdir():
        if folder.name.startswith((".building-", ".removing-")):
            try:
                if now - folder.stat().st_mtime > _STALE_BUILD_S or folder.name.startswith(".removing-"):
                    shutil.rmtree(folder, ignore_errors=True)
            except OSError:
                pass
    if _total_bytes(root) <= limit:  # the usual case: sizes from the folder listing, no entry.json read
        return []
    found = sorted(entries(), key=lambda e: e["used"])
    total, removed = sum(e["bytes"] for e in found), []
    for entry in found:
        if total <= limit:
            break
        if entry["key"] == keep:
            continue
        discard(root / entry["key"])
        total -= entry["bytes"]
        removed.append(entry["key"])
    return removed


def _total_bytes(root: Path) -> int:
    return sum(folder_size(f) for f in root.iterdir() if f.is_dir() and not f.name.startswith("."))


def clear() -> tuple[int, int]:
    """Remove every entry: (entries removed, bytes freed)."""
    found = entries()
    root = cache_dir()
    for entry in found:
        discard(root / entry["key"])
    evict(0)
    return len(found), sum(e["bytes"] for e in found)
