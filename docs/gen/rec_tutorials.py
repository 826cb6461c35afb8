"""Recorders for the tutorials (the first run, the first sweep) and the how-to guides of writer A:
what their pages show from real runs (figures.py runs them; recorded.py draws them).

    python docs/gen/figures.py --only first_run          # train, Ctrl-C, resume, runs (~2 trainings)
    python docs/gen/figures.py --only first_sweep        # sweep_quick.yaml with 2 workers, stopped and resumed
    python docs/gen/figures.py --only quickstart_search  # sweep_quickstart.yaml again (slow: its 72 epochs)
    python docs/gen/figures.py --only quickstart_seeds   # quickstart.yaml over train.seed 0-4, each evaluated

A command's printed lines are kept as they came (stdout and stderr in the order written: a
transcript, as a reader's terminal shows them off a terminal); a result the views draw (a sweep's
table, the runs table, an evaluation) is kept as the JSON the command printed with --json, so the
page draws it with rnnexp's own views.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from figures import RNNEXP, ROOT, relative, rnnexp, save

# OpenMP threads that wait by sleeping, not spinning: on a machine busier than its cores (a shared CI
# box), torch's spinning threads made a 2-thread training many times slower. The numbers are the same.
QUIET_THREADS = {"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}


def _env(runs: Path) -> dict[str, str]:
    # NO_COLOR and a wide COLUMNS: the plain lines a reader's log gets, whole
    return {**os.environ, **QUIET_THREADS, "RNNEXP_RUNS_DIR": str(runs), "NO_COLOR": "1", "COLUMNS": "200"}


def shown(args: list[str], runs: Path) -> str:
    """A command as a page shows it: rnnexp's own name, the runs folder as runs/."""
    return " ".join(["rnnexp", *(str(relative(a, runs)) for a in args)])


def transcript(args: list[str], runs: Path, ok: tuple[int, ...] = (0,), cwd: Path = ROOT) -> dict[str, Any]:
    """Run one command off a terminal; its stdout and stderr lines in the order written. Run from
    ``cwd`` (the repository's root, or an example folder: its path is left out of what is kept)."""
    proc = subprocess.run(
        [str(RNNEXP), *args], cwd=cwd, env=_env(runs), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    if proc.returncode not in ok:
        raise SystemExit(f"rnnexp {' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-3000:]}")
    text = proc.stdout if cwd == ROOT else proc.stdout.replace(f"{cwd.resolve()}/", "")
    return {"command": shown(args, runs), "exit": proc.returncode, "lines": text.rstrip("\n").split("\n")}


def interrupted(args: list[str], runs: Path, after: str, wait: float, sig: int = signal.SIGINT, group: bool = True) -> dict:
    """Run a command and signal it ``wait`` seconds after the first line holding ``after``: by default
    SIGINT to its whole process group, as Ctrl-C on a terminal sends it; ``group=False`` signals the
    command's own process only (as `kill PID` or a job scheduler does)."""
    proc = subprocess.Popen(
        [str(RNNEXP), *args],
        cwd=ROOT,
        env=_env(runs),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        start_new_session=True,
    )
    lines, sent = [], False
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if not sent and after in line:
            time.sleep(wait)
            os.killpg(proc.pid, sig) if group else proc.send_signal(sig)
            sent = True
    code = proc.wait()
    if not sent or code != 130:
        raise SystemExit(f"rnnexp {' '.join(args)}: no signal sent or not exit 130 ({code}):\n" + "\n".join(lines[-30:]))
    return {"command": shown(args, runs), "exit": code, "lines": lines, "signal": signal.Signals(sig).name, "after": after}


def run_dir_in(lines: list[str]) -> str:
    """The run folder a training names in its result line (the first field)."""
    for line in reversed(lines):
        if line.startswith(("/", "runs/")) and "  " in line:
            return line.split("  ", 1)[0]
    raise SystemExit("no result line in:\n" + "\n".join(lines[-20:]))


# -- the first run ---------------------------------------------------------------------------


def first_run(runs: Path) -> None:
    """The first-run tutorial: the quickstart trained and evaluated (as make demo does), then trained
    again, stopped with Ctrl-C inside an epoch and resumed to its end; then the runs table."""
    started = time.perf_counter()
    config = "configs/quickstart.yaml"
    whole = transcript(["train", config], runs)
    whole_dir = run_dir_in(whole["lines"])
    report = rnnexp("evaluate", whole_dir, runs=runs, env=QUIET_THREADS)
    stopped = interrupted(["train", config], runs, after="epoch   2", wait=4.0)
    again = run_dir_in(stopped["lines"])
    resumed = transcript(["resume", again], runs)
    listing = rnnexp("runs", str(runs), runs=runs)
    record = {
        "train": whole,
        "evaluate": {"command": shown(["evaluate", whole_dir], runs), "result": report},
        "interrupted": stopped,
        "resume": resumed,
        "runs": {"command": "rnnexp runs", "result": listing},
        "seconds": round(time.perf_counter() - started, 1),
    }
    save("first_run", record, runs)


# -- the first sweep -------------------------------------------------------------------------


def first_sweep(runs: Path) -> None:
    """The first-sweep tutorial: configs/sweep_quick.yaml with 2 workers, stopped with Ctrl-C after
    its first trials, its status, resumed to the end, its results, the best config trained."""
    started = time.perf_counter()
    sweep_file = "configs/sweep_quick.yaml"
    # Ctrl-C: SIGINT to the whole process group, as a terminal sends it
    stopped = interrupted(["sweep", sweep_file, "--workers", "2"], runs, after="complete after", wait=0.0)
    folder = next(runs.glob("sweep_*"))
    stopped["lines"] = [ln for ln in stopped["lines"] if ln.strip()]
    status = rnnexp("sweep", "status", str(folder), runs=runs)
    resumed = transcript(["sweep", "resume", str(folder), "--workers", "2"], runs)
    results = rnnexp("sweep", "results", str(folder), runs=runs)
    best_config = (folder / "best_config.yaml").read_text()
    results_csv = (folder / "results.csv").read_text()
    trained = transcript(["train", str(folder / "best_config.yaml"), "--quiet"], runs)
    plotted = transcript(["plot", str(folder)], runs)
    png = ROOT / "docs" / "tutorials" / "img" / "sweep.png"
    png.parent.mkdir(exist_ok=True)
    png.write_bytes((folder / "sweep.png").read_bytes())
    record = {
        "sweep_dir": str(folder),
        "interrupted": stopped,
        "status": {"command": shown(["sweep", "status", str(folder)], runs), "result": status},
        "resume": resumed,
        "results": {"command": shown(["sweep", "results", str(folder)], runs), "result": results},
        "best_config": best_config,
        "results_csv": results_csv,
        "train_best": trained,
        "plot": plotted,
        "seconds": round(time.perf_counter() - started, 1),
    }
    save("first_sweep", record, runs)


# -- the search that chose the quickstart config ---------------------------------------------


def quickstart_search(runs: Path) -> None:
    """configs/sweep_quickstart.yaml run again as shipped, its results, the best trial's config
    against configs/quickstart.yaml, and the best trial scored once on the test split."""
    started = time.perf_counter()
    res = rnnexp("sweep", "configs/sweep_quickstart.yaml", runs=runs, env=QUIET_THREADS)
    seconds = round(time.perf_counter() - started, 1)
    folder = next(runs.glob("sweep_*"))
    best = yaml.safe_load((folder / "best_config.yaml").read_text())
    report = rnnexp("evaluate", res["best"]["run_dir"], runs=runs, env=QUIET_THREADS) if res["best"] else None
    record = {
        "results": {"command": "rnnexp sweep configs/sweep_quickstart.yaml", "result": res},
        "best_config": best,
        "sweep_seconds": seconds,
        "evaluate": {"command": shown(["evaluate", res["best"]["run_dir"]], runs), "result": report} if report else None,
        "seconds": round(time.perf_counter() - started, 1),
    }
    save("quickstart_search", record, runs)


def quickstart_seeds(runs: Path) -> None:
    """configs/quickstart.yaml with train.seed 0-4: how much of its score is the seed's luck."""
    started = time.perf_counter()
    rows = []
    for seed in range(5):
        trained = rnnexp("train", "configs/quickstart.yaml", "--set", f"train.seed={seed}", runs=runs, env=QUIET_THREADS)
        report = rnnexp("evaluate", trained["run_dir"], "--no-baselines", runs=runs, env=QUIET_THREADS)
        rows.append(
            {
                "seed": seed,
                "best_epoch": trained["best_epoch"],
                "val_accuracy": trained["best_score"],
                "test_accuracy": report["accuracy"],
            }
        )
        print(f"    seed {seed}: test accuracy {report['accuracy']:.4f}", flush=True)
    tests = [r["test_accuracy"] for r in rows]
    record = {
        "command": "rnnexp train configs/quickstart.yaml --set train.seed=N  (N = 0..4), then rnnexp evaluate",
        "seeds": rows,
        "mean": statistics.mean(tests),
        "stdev": statistics.stdev(tests),
        "seconds": round(time.perf_counter() - started, 1),
    }
    save("quickstart_seeds", record, runs)


RECORDERS = {
    "first_run": first_run,
    "first_sweep": first_sweep,
    "quickstart_search": quickstart_search,
    "quickstart_seeds": quickstart_seeds,
}

if __name__ == "__main__":  # pragma: no cover - figures.py is the entry point
    sys.exit(f"run: python docs/gen/figures.py --only {' --only '.join(RECORDERS)}")
