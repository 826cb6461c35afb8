"""The local workers of `sweep run` and `sweep resume`: run_workers starts them (forked from this
process, or new interpreters: forks_workers), shows their lines (a Watch), stops them by closing
their stdin (follow_parent, in each worker) and waits for them."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:
    from .study import Sweep


@dataclass
class WorkersEnd:
    """How run_workers' worker processes ended."""

    interrupted: bool = False  # by a signal: each worker was told to hand its trial back, and has exited
    failed: list[int] = field(default_factory=list)  # the exit codes of the workers that exited with errors


class Watch:
    """What the process that started the workers shows while they run (the CLI's subclass draws a
    progress bar over the trials): each line a worker prints, and a tick every half second. Started
    once the workers are (a worker forked from this process must not inherit a drawing thread), and
    stopped after their last lines."""

    def start(self) -> None: ...
    def line(self, text: str) -> None: ...
    def tick(self) -> None: ...
    def stop(self) -> None: ...


def _relay(stream, watch: Watch) -> threading.Thread:
    def pump() -> None:
        for text in stream:
            watch.line(text.rstrip("\n"))

    thread = threading.Thread(target=pump, name="rnnexp-worker-lines", daemon=True)
    thread.start()
    return thread


# Set by run_workers for the workers it starts: their stdin is the line to it (see follow_parent).
STOP_AT_EOF = "RNNEXP_STOP_AT_EOF"


def follow_parent(stop) -> bool:
    """In a worker run_workers started: set ``stop`` (as the first signal does: the trial is
    checkpointed and handed back) once stdin closes, which happens when run_workers stops its
    workers (a signal) and when it is gone (SIGKILLed, its terminal hung up). The workers run in
    sessions of their own, so a terminal's Ctrl-C or hangup reaches only run_workers' process: this
    line is how they hear of it, once each. False (nothing watched) in any other worker."""
    if os.environ.get(STOP_AT_EOF) != "1":
        return False

    def watch() -> None:
        try:
            while os.read(0, 1 << 12):
                pass
        except OSError:
            pass
        stop.set()

    threading.Thread(target=watch, name="rnnexp-parent", daemon=True).start()
    return True


# How run_workers starts its workers: fork (from this process), spawn (new interpreters), or auto.
WORKER_START = "RNNEXP_WORKER_START"
WORKER_NAME = "rnnexp-worker"  # a forked worker's process name (ps, top; _alive's check of a pid)


def worker_start() -> str:
    """$RNNEXP_WORKER_START: auto (unset or blank), fork or spawn; anything else is a ConfigError
    naming it (checked by sweep run and resume before they write anything)."""
    chosen = os.environ.get(WORKER_START, "").strip() or "auto"
    if chosen not in ("auto", "fork", "spawn"):
        raise ConfigError(f"{WORKER_START}={chosen!r}: expected auto, fork or spawn (or leave it unset)")
    return chosen


def forks_workers() -> bool:
    """Whether run_workers forks its workers from this process rather than starting new interpreters.
    A fork starts with what this process has imported (torch and the training stack, once: a new
    interpreter pays seconds for them) and shares those pages. auto forks on Linux where forking
    is safe: this process runs no other Python thread (a lock one holds would stay held in the
    child) and CUDA is out of reach (torch not imported, or no GPU: CUDA does not survive a fork).
    It also needs that this process has run no parallel torch operation: an OpenMP pool that ran
    once hangs the child's first one. The CLI's sweep commands, the one caller that forks, compute
    nothing before their workers start (tests/test_sweep.py counts the process's threads there).
    $RNNEXP_WORKER_START = fork or spawn decides instead."""
    chosen = worker_start()
    if chosen != "auto":
        return chosen == "fork" and hasattr(os, "fork")
    torch = sys.modules.get("torch")
    return sys.platform == "linux" and threading.active_count() == 1 and (torch is None or not torch.cuda.is_available())


class _Forked:
    """A worker forked from this process, as subprocess.Popen shows one: pid, stdin (closing it
    stops the worker: follow_parent), stdout (its lines, when piped), poll, wait, returncode."""

    def __init__(self, pid: int, stdin: int, stdout: int | None) -> None:
        self.pid, self.returncode = pid, None
        self.stdin = os.fdopen(stdin, "wb")
        self.stdout = None if stdout is None else os.fdopen(stdout, "r", errors="replace")

    def _ended(self, flags: int) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, flags)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def poll(self) -> int | None:
        return self._ended(os.WNOHANG)

    def wait(self) -> int:
        return self._ended(0)


def _fork(args: list[str], env: dict[str, str], entry: Callable[[list[str]], int], piped: bool, quiet: bool) -> _Forked:
    """Fork a worker that runs `rnnexp ARGS` through ``entry`` (the CLI's), as a new process would:
    in a session of its own, its stdin a pipe from this process, its output piped, to /dev/null
    (quiet) or to this process's stderr, ``env`` set, and named WORKER_NAME."""
    stdin_r, stdin_w = os.pipe()
    out_r, out_w = os.pipe() if piped else (None, None)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # else the child would write this process's pending output once more
    pid = os.fork()
    if pid:
        os.close(stdin_r)
        if out_w is not None:
            os.close(out_w)
        return _Forked(pid, stdin_w, out_r)
    code = 1
    try:
        os.setsid()
        _name_worker()
        os.dup2(stdin_r, 0)
        if piped:
            os.dup2(out_w, 1)
            os.dup2(out_w, 2)
        elif quiet:
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        else:
            os.dup2(2, 1)
        for fd in (stdin_r, stdin_w, out_r, out_w):
            if fd is not None:
                os.close(fd)
        os.environ.update(env)
        code = entry(args)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)  # never back into the parent's frames, nor its atexit handlers


def _name_worker() -> None:
    """Name this process WORKER_NAME (prctl PR_SET_NAME): a fork keeps its parent's command line,
    and the name is how ps shows it, and how _alive tells it from a program that reused its pid."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(15, WORKER_NAME.encode(), 0, 0, 0)  # 15: PR_SET_NAME


def run_workers(
    sw: Sweep,
    workers: int,
    storage: str | None,
    graceful_stop: Callable[[], Any],
    quiet: bool = False,
    watch: Watch | None = None,
    entry: Callable[[list[str]], int] | None = None,
) -> WorkersEnd:
    """Start the local worker processes (threads split evenly among them; worker i is number i,
    which places its trials on GPU i mod the GPU count: worker_devices) and wait for them.
    graceful_stop() is called once they run; it returns the flag a signal sets (the CLI's). Once it
    is set, each worker is told to stop (its stdin closed: follow_parent) and waited for. Each worker
    runs in a session of its own: a terminal's Ctrl-C (SIGINT to the whole foreground process group)
    or hangup reaches only this process, so a worker hears of a stop once, from here, and takes it as
    the graceful one (a second signal would end it at once, its trial left running). A session of
    its own, not only a process group: writing to the terminal, a worker is never stopped by
    SIGTTOU (stty tostop), having none. If this process is killed, their stdin closes too.
    quiet: nothing of the workers is shown but their errors.
    watch: the workers' lines go through it (else straight to this process's stderr).
    entry: runs `rnnexp ARGS` in this process and returns its exit code (the CLI's main); given,
    the workers are forked from this process where forks_workers says so, else new interpreters."""
    threads = max(1, (os.cpu_count() or 1) // workers)
    args = ["sweep", "worker", str(sw.path), "--threads", str(threads)]
    if quiet:
        args.append("--quiet")
    env = {STOP_AT_EOF: "1"}
    if storage:
        env["RNNEXP_STORAGE"] = storage  # not on the command line, where ps would show the password
    fork = entry if entry is not None and forks_workers() else None  # decided once, before any worker runs
    procs = [_start([*args, "--number", str(i)], env, fork, watch is not None, quiet) for i in range(workers)]
    relays: list[threading.Thread] = []
    try:
        if watch is not None:
            watch.start()
            relays = [_relay(p.stdout, watch) for p in procs]
        stop = graceful_stop()
        while any(p.poll() is None for p in procs):
            if stop.wait(0.5):
                _close_stdin(procs)  # each checkpoints its trial and hands it back
                for p in procs:
                    p.wait()
                return WorkersEnd(interrupted=True)
            if watch is not None:
                watch.tick()
        return WorkersEnd(failed=[p.returncode for p in procs if p.returncode != 0])
    finally:
        _close_stdin(procs)
        for relay in relays:
            relay.join(timeout=5)  # the workers' last lines, before anything else is printed
        if watch is not None:
            watch.stop()


def _start(args: list[str], env: dict[str, str], fork: Callable[[list[str]], int] | None, piped: bool, quiet: bool):
    """One worker, `rnnexp ARGS`: forked, run through ``fork`` (the CLI's entry), else a new
    interpreter. Its output, its result line included, is this process's progress: piped (to a
    Watch), or to this process's stderr (stdout is for this command's own result); quiet, none of
    it (the workers print nothing but their result line, on stdout, and their errors, on stderr:
    those still come through)."""
    if fork is not None:
        return _fork(args, env, fork, piped, quiet)
    import subprocess

    out = (
        {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True, "errors": "replace"}
        if piped
        else {"stdout": subprocess.DEVNULL if quiet else sys.stderr.fileno()}
    )
    cmd = [sys.executable, "-m", "rnnexp", *args]
    return subprocess.Popen(cmd, env={**os.environ, **env}, stdin=subprocess.PIPE, start_new_session=True, **out)


def _close_stdin(procs) -> None:
    for p in procs:
        try:
            p.stdin.close()
        except OSError:
            pass  # nothing was written to it: nothing to flush
