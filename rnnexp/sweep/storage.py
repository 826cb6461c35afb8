"""Where a study lives: the journal file in the sweep folder (appended to safely when the disk fills
up), or PostgreSQL (errors.redact keeps their passwords off files and screens)."""

from __future__ import annotations

import copy
import json
import os
import time
from pathlib import Path
from typing import Any

from ..errors import RnnexpError, clip, redact
from ..rundir import cannot
from .names import JOURNAL, Attr, SweepError


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
            "heartbeat_stale_trial_callback": Retry(heartbeat.max_retry),
        }
    last_error: Exception | None = None
    for attempt in range(5):  # fresh workers may race to create the schema; the loser retries
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs={"pool_pre_ping": True}, **kwargs)
        except Exception as e:  # sqlalchemy's errors: connection refused, duplicate table while racing
            last_error = e
            time.sleep(0.5 * (attempt + 1))
    raise SweepError(f"--storage {redact(url)}: cannot open the storage ({str(last_error).splitlines()[0]})")


class Retry:
    """Queue the retry of a trial that did not finish (its worker died, or handed it back): Optuna's
    RetryHeartbeatStaleTrialCallback, with its history and attributes, but not its owner (host and
    pid): a retry has none until a worker claims it (worker._own), so that a worker killed while
    claiming it leaves a trial without an owner, which reap retries, never one that seems to belong
    to its dead predecessor's worker. Every retry is queued here, Optuna's own (PostgreSQL's stale
    trials) included."""

    def __init__(self, max_retry: int):
        import optuna

        self._queue = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=max_retry)

    def __call__(self, study, trial) -> None:
        frozen = copy.deepcopy(trial)  # the callback edits what it is given
        for owner in (Attr.HOST, Attr.PID):
            frozen.user_attrs.pop(owner, None)
        self._queue(study, frozen)


def heartbeats(study) -> bool:
    """Whether the study's storage keeps heartbeats (PostgreSQL): then they tell a dead worker's trials."""
    interval = getattr(storage_of(study), "get_heartbeat_interval", None)  # RDBStorage's; none on the journal
    return interval is not None and interval() is not None


def storage_of(study):
    """A study's storage, for what the Study API does not offer: one trial's stored view, raw writes
    while reaping, heartbeats. Optuna offers no public accessor for a study's storage; study._storage
    is what its own heartbeat helpers use."""
    return study._storage


def stored_trial(study, trial):
    """The stored view of a live trial (its system attributes: queue origin, retry history)."""
    return storage_of(study).get_trial(trial._trial_id)


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


def quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    import warnings

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
