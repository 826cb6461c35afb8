"""Run many short rnnexp commands cheaply: one process imports torch and rnnexp once, then forks a
child per command. The children are real processes, started with their own environment and argv,
and SIGKILLed at a fault point they die with whatever files the kill left; only the ~5 s of
imports a fresh interpreter pays (torch, torch._dynamo via the optimizer, matplotlib, scikit-learn's
metrics, pyarrow) are shared.

Protocol: one JSON object per line on stdin, {"args": [...], "env": {...}, "log": path}; for each,
one line on stdout, {"rc": exit code, or -signal}. The child's stdout and stderr go to ``log``
(stderr to "err" when given), its stdin is /dev/null.
Optional: "environ": {...}, the child's whole environment (else this server's, updated by "env");
"cwd": the folder it runs in.
"imports": [module, ...] imported here first, once, so that every later child has them
(a slow optional import, e.g. mlflow, paid once by the tests that ask for it).
"signals": [[seconds, signum], ...] sends those signals to the child that many seconds
after it started, or (with "after": a glob pattern) after a file matching it first appears.

Torch runs single-threaded here (no OpenMP pool exists before a fork, so none is inherited broken);
the configs used with it pin train.threads: 1, so every run, forked or not, computes the same bits.
"""

from __future__ import annotations

import glob
import importlib
import json
import os
import sys
import threading
import time
import traceback


def main() -> None:
    import torch

    torch.set_num_threads(1)
    torch.optim.Adam(torch.nn.Linear(1, 1).parameters())  # imports torch._dynamo, as a run with torch.optim does
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    import pyarrow.compute  # noqa: F401  (every text file's first read tokenizes with it)
    import pyarrow.csv  # noqa: F401
    import sklearn.metrics  # noqa: F401  (every classification epoch scores with it)

    import rnnexp.cli
    import rnnexp.scoring  # noqa: F401
    import rnnexp.sweep  # noqa: F401
    import rnnexp.training  # noqa: F401

    for line in sys.stdin:
        job = json.loads(line)
        for name in job.get("imports", []):
            importlib.import_module(name)
        pid = os.fork()
        if pid == 0:
            code = 99
            try:
                if "environ" in job:  # the whole environment, as a fresh process started with it has
                    os.environ.clear()
                    os.environ.update(job["environ"])
                os.environ.update(job.get("env", {}))
                for key in job.get("unset", []):
                    os.environ.pop(key, None)
                if job.get("cwd"):
                    os.chdir(job["cwd"])
                null = os.open(os.devnull, os.O_RDONLY)  # never this server's stdin: the jobs
                os.dup2(null, 0)
                fd = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.dup2(fd, 1)
                err = os.open(job["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644) if job.get("err") else fd
                os.dup2(err, 2)
                sys.argv = ["rnnexp", *job["args"]]
                rnnexp.cli.main()
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        done = threading.Event()  # once set, pid may be another process's: never signalled again
        if job.get("signals"):
            threading.Thread(target=_signal, args=(pid, job["signals"], job.get("after"), done), daemon=True).start()
        _, status = os.waitpid(pid, 0)
        done.set()
        rc = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        print(json.dumps({"rc": rc}), flush=True)


def _signal(pid: int, signals: list, after: str | None, done: threading.Event) -> None:
    start = time.monotonic()
    if after:
        while not glob.glob(after):
            if time.monotonic() - start > 120 or done.is_set():
                return
            time.sleep(0.005)
        start = time.monotonic()
    for seconds, signum in signals:
        if done.wait(max(0.0, start + seconds - time.monotonic())):
            return
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            return


if __name__ == "__main__":
    main()
