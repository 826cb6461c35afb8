"""Project errors. The CLI turns each into one line on stderr and an exit code. And the helpers
every message uses: clip, one_line, counted, redact."""

from __future__ import annotations

import errno

# Out of room, not a wrong path: the same command succeeds once space is freed.
_NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def no_room(e: BaseException) -> bool:
    """A full disk, a quota or a file-size limit (ulimit -f)."""
    return isinstance(e, OSError) and e.errno in _NO_ROOM


def clip(text: object, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters, with its real length: an error message echoes what the
    user gave (a value, a name, a field), never a flood of it."""
    text = str(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"


def redact(url: str) -> str:
    """A URL (a storage's, a tracking server's) without its password, for files and screens."""
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else url


# What str.splitlines breaks a line at: in an error line, each is shown as its escape, so that what
# the user gave (a path, a value) can never split "error: ..." into a second line of its own.
_LINE_BREAKS = str.maketrans({c: repr(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"})


def counted(n: int, noun: str) -> str:
    """A count and what it counts, for every message that says how many: 1 trial, 2 trials (a noun
    that takes -s; a phrase takes it on its last word: 1 paused trial, 3 paused trials)."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def size_text(n: int) -> str:
    """Bytes for people: 119.1 MB (powers of 1000, as the size limit is written)."""
    for unit, size in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def age_text(seconds: float) -> str:
    """How long ago, roughly: 40 s, 12 min, 3 h, 2 d."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{max(seconds, 0):.0f} s"


def one_line(text: object) -> str:
    """``text`` with every line break escaped (``\\r``, ``\\u2028``, ...)."""
    return str(text).translate(_LINE_BREAKS)


class RnnexpError(Exception):
    """Base class. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class ConfigError(RnnexpError):
    """The config file or an override is wrong. ``messages`` holds one line per problem."""

    exit_code = 2

    def __init__(self, messages: list[str] | str):
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        super().__init__("\n".join(self.messages))


class DataError(RnnexpError):
    """Input data is missing, unreadable or does not fit the config."""

    exit_code = 2


class RunDirError(RnnexpError):
    """A run folder is missing, incomplete, or cannot be used for what was asked."""

    exit_code = 2


class OutputPathError(RnnexpError):
    """A path the user chose for a file or folder to write (--out, --predictions, --runs-dir) cannot
    be written there: a folder where a file goes, a file where a folder goes, no permission."""

    exit_code = 2


class StorageError(RnnexpError):
    """A file could not be written because the disk is full or a size limit was hit: the run
    failed, the input was fine. ``then`` is what to do once space is freed."""

    exit_code = 1

    def __init__(self, path: object, what: str, reason: str, then: str = "run the command again"):
        self.path, self.what, self.reason, self.then = path, what, reason, then
        super().__init__(f"{path}: cannot {what} ({reason}). Free disk space, then {then}")

    def next_step(self, then: str) -> StorageError:
        """The same error, with the step that continues from where this one stopped."""
        return StorageError(self.path, self.what, self.reason, then)


class CheckpointError(RnnexpError):
    """A checkpoint cannot be written or read back."""

    exit_code = 1


class TrainingError(RnnexpError):
    """Training itself failed (device unavailable, numerical failure, ...)."""

    exit_code = 1


class DivergedError(TrainingError):
    """The loss became NaN or infinite."""
