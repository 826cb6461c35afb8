"""`make docs-figures`: run what the docs show from real runs, and keep the results.

    python docs/gen/figures.py                  # everything (slow: trains for many minutes)
    python docs/gen/figures.py --only demo      # one recorder (see --help for their names)

Each recording is the JSON the real commands printed (`rnnexp train --json`, `rnnexp evaluate
--json`), kept in docs/gen/recordings/NAME.json with the commands and the date; the pages draw it
with rnnexp's own views (recorded.py). Runs go to a temporary runs folder, and paths in the
recordings are made relative to it (`runs/<run folder>`), so they do not name this machine.
After this, `python docs/gen/gen.py` puts the new figures into the pages.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RECORDINGS = HERE / "recordings"
RNNEXP = Path(sys.executable).parent / "rnnexp"


def rnnexp(*args: str, runs: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one rnnexp command with --json, from the repository's root, and return its JSON."""
    proc = subprocess.run(
        [str(RNNEXP), *args, "--json"],
        cwd=ROOT,
        env={**os.environ, "RNNEXP_RUNS_DIR": str(runs), **(env or {})},
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"rnnexp {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout)


def relative(value: Any, runs: Path) -> Any:
    """Every path under the temporary runs folder, as runs/<...>."""
    if isinstance(value, dict):
        return {k: relative(v, runs) for k, v in value.items()}
    if isinstance(value, list):
        return [relative(v, runs) for v in value]
    if isinstance(value, str) and str(runs) in value:
        return value.replace(str(runs), "runs")
    return value


def save(name: str, record: dict[str, Any], runs: Path) -> None:
    import rnnexp

    RECORDINGS.mkdir(exist_ok=True)
    record = {"recorded_at": time.strftime("%Y-%m-%d", time.gmtime()), "rnnexp_version": rnnexp.__version__, **record}
    (RECORDINGS / f"{name}.json").write_text(json.dumps(relative(record, runs), indent=1) + "\n")
    print(f"written: {(RECORDINGS / f'{name}.json').relative_to(ROOT)}", flush=True)


def train_and_evaluate(name: str, config: str, runs: Path, after: str | None = None, env: dict[str, str] | None = None) -> None:
    """A config trained and evaluated as a reader would, both results kept."""
    started = time.perf_counter()
    trained = rnnexp("train", config, runs=runs, env=env)
    report = rnnexp("evaluate", trained["run_dir"], runs=runs, env=env)
    folder = "runs/" + Path(trained["run_dir"]).name
    record = {
        "train_command": f"rnnexp train {config}",
        "train": trained,
        "command": f"rnnexp evaluate {folder}",
        "report": report,
        "seconds": round(time.perf_counter() - started, 1),
    }
    if after:
        record["after"] = after.format(run=folder)
    save(name, record, runs)


def demo(runs: Path) -> None:
    """What `make demo` prints: the quickstart config trained and evaluated."""
    train_and_evaluate("demo", "configs/quickstart.yaml", runs, after="demo run folder: {run}")


def forecast(runs: Path) -> None:
    """The forecasting how-to: Victoria's electricity demand two hours ahead."""
    train_and_evaluate("forecast", "configs/electricity.yaml", runs)


def recorders() -> dict[str, Any]:
    """This module's recorders, then those of every docs/gen/rec_*.py (its RECORDERS mapping): one
    module per part of the docs, so each part's recording code lives beside no other."""
    import importlib

    found = {"demo": demo, "forecast": forecast}
    sys.path.insert(0, str(HERE))
    for module in sorted(HERE.glob("rec_*.py")):
        found.update(importlib.import_module(module.stem).RECORDERS)
    return found


def main(argv: list[str]) -> int:
    found = recorders()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(found), help="record only these (repeatable)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rnnexp-docs-") as tmp:
        for name in args.only or found:
            print(f"=== {name}", flush=True)
            started = time.perf_counter()
            found[name](Path(tmp) / name)
            print(f"    {time.perf_counter() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
