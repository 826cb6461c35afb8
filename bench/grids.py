"""Recorded grids: every configuration of a search space trained for all its epochs, its validation
curve kept epoch by epoch, so that searches can be replayed on them in seconds (bench/sweep.py).

Four problems, each a grid an rnnexp sweep runs (sampler grid, no pruner, early stopping off), with
enough epochs that its slow starters finish:

  amazon-food   text classification, the grid bench/sweep.py has always measured (val_accuracy)
  uci-gru       uci-sentiment with the plateau tutorial's GRU, lr 1e-4 to 5e-2 (val_accuracy)
  weather       seattle-weather forecasting, configs/weather.yaml (val_mae, lower is better)
  digits        digits sequence classification, configs/digits.yaml (val_accuracy)

Recording is slow (minutes per grid) and done once: `python bench/grids.py record NAME` trains the
grid and writes bench/grids/NAME.json: the sweep file, the rnnexp version, the command, when and
how long it took, and per configuration its parameters, its curve and the whole config that made
it. Every trial trains on one thread (train.threads 1), so a configuration's curve is the same
whichever worker trains it.

    python bench/grids.py record NAME [--workers 2]
    python bench/grids.py list
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
GRIDS = Path(__file__).parent / "grids"
SHARED_DATA = ROOT.parent / "shared" / "data"  # uci-sentiment's files (or set RNNEXP_DATA_DIR)

# amazon-food's grid, the one bench/sweep.py has always measured: the model the grid searches
# around, pinned (quickstart.yaml's own choices, tuned by configs/sweep_quickstart.yaml, would
# change the grid), and its space.
AMAZON_FOOD_MODEL = {
    "data.maxlen": 100,
    "model.embedding_dims": 32,
    "train.batch_size": 64,
    "model.bidirectional": False,
    "model.mask": False,
    "model.head": "last",
    "model.embedding_dropout": 0.3,
    "model.output_dropout": 0.3,
}
AMAZON_FOOD_SPACE = {"model.cell": ["gru", "lstm"], "model.num_neurons": [16, 32, 64], "train.lr": [0.0005, 0.002, 0.005, 0.01]}

# name: (base config, its keys set for the grid, the space, the metric, and how a regret is counted)
SPECS: dict[str, dict[str, Any]] = {
    "amazon-food": {
        "base": "quickstart.yaml",
        "set": {"train.epochs": 12, "data.val_split": 0.3, **AMAZON_FOOD_MODEL},
        "space": AMAZON_FOOD_SPACE,
        "metric": "val_accuracy",
        "regret": "points",  # accuracy points
    },
    "uci-gru": {
        "base": "uci_gru_plateau.yaml",
        "set": {"train.epochs": 20, "train.plateau_warning": None},
        "space": {"model.num_neurons": [16, 32, 64], "train.lr": [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.02, 0.05]},
        "metric": "val_accuracy",
        "regret": "points",
    },
    "weather": {
        "base": "weather.yaml",
        "set": {"train.epochs": 30},
        "space": {"model.cell": ["gru", "lstm"], "model.num_neurons": [16, 32, 64], "train.lr": [0.0003, 0.001, 0.003, 0.01]},
        "metric": "val_mae",
        "regret": "percent",  # percent of the grid's best MAE
    },
    "digits": {
        "base": "digits.yaml",
        "set": {"train.epochs": 20, "data.val_split": 0.25},  # 449 sequences: a point is 4.5 of them
        "space": {"model.cell": ["gru", "lstm"], "model.num_neurons": [16, 32, 64], "train.lr": [0.0005, 0.002, 0.005, 0.01]},
        "metric": "val_accuracy",
        "regret": "points",
    },
}


def sweep_doc(name: str, workers: int) -> dict[str, Any]:
    spec = SPECS[name]
    return {
        "name": f"grid-{name}",
        "base": str(ROOT / "configs" / spec["base"]),
        "set": {**spec["set"], "train.early_stopping.enabled": False, "train.threads": 1, "train.baselines": False},
        "space": spec["space"],
        "objective": {"metric": spec["metric"]},
        "sampler": {"kind": "grid"},
        "pruner": {"kind": "none"},
        "workers": workers,
    }


def record(name: str, workers: int) -> Path:
    """Train NAME's grid with `rnnexp sweep run` and write bench/grids/NAME.json."""
    from rnnexp import __version__

    doc = sweep_doc(name, workers)
    with tempfile.TemporaryDirectory() as tmp:
        sweep_file = Path(tmp) / f"{doc['name']}.yaml"
        sweep_file.write_text(yaml.safe_dump(doc, sort_keys=False))
        started = time.perf_counter()
        cmd = [sys.executable, "-m", "rnnexp", "sweep", "run", str(sweep_file), "--runs-dir", str(Path(tmp) / "runs")]
        env = dict(os.environ)
        if "RNNEXP_DATA_DIR" not in env and SHARED_DATA.is_dir():  # uci-sentiment, where the tests find it
            env["RNNEXP_DATA_DIR"] = str(SHARED_DATA)
        done = subprocess.run([*cmd, "--json", "--quiet"], capture_output=True, text=True, env=env)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"the grid {name} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        configurations = configurations_of(json.loads(done.stdout)["trials"], doc["space"], doc["objective"]["metric"])
    spec = SPECS[name]
    out = {
        "grid": name,
        "metric": spec["metric"],
        "direction": "minimize" if spec["metric"] in ("val_loss", "val_mae", "val_rmse") else "maximize",
        "regret": spec["regret"],
        "epochs": doc["set"]["train.epochs"],
        "space": spec["space"],
        "sweep": doc,
        "rnnexp_version": __version__,
        "command": f"python bench/grids.py record {name} --workers {workers}",
        "recorded": time.strftime("%Y-%m-%d"),
        "wall_s": round(wall, 1),
        "machine": f"{platform.platform()}, Python {platform.python_version()}",
        "configurations": configurations,
    }
    GRIDS.mkdir(exist_ok=True)
    path = GRIDS / f"{name}.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    return path


def configurations_of(trials: list[dict[str, Any]], space: dict[str, list], metric: str) -> list[dict[str, Any]]:
    """A grid sweep's trials (its results' rows) as a recording's configurations: each one's
    parameters, its ``metric`` epoch by epoch (its run's metrics.csv) and the whole config that made it."""
    from rnnexp.rundir import RunDir

    configurations = []
    for trial in trials:
        run = RunDir(trial["run_dir"])
        curve = [float(row[metric]) for row in run.read_metrics()]
        params = {k: trial[k] for k in space}
        configurations.append({"params": params, "curve": curve, "config": run.load_config().model_dump(mode="json")})
    return configurations


def load(name: str) -> dict[str, Any]:
    """A recorded grid (bench/grids/NAME.json)."""
    return json.loads((GRIDS / f"{name}.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="train a grid and write bench/grids/NAME.json (slow)")
    rec.add_argument("name", choices=sorted(SPECS))
    rec.add_argument("--workers", type=int, default=2, help="sweep workers (one thread each)")
    sub.add_parser("list", help="the grids and whether each is recorded")
    args = parser.parse_args()
    if args.command == "record":
        path = record(args.name, args.workers)
        grid = json.loads(path.read_text())
        print(f"written: {path} ({len(grid['configurations'])} configurations, {grid['wall_s']} s)")
        return
    for name in SPECS:
        path = GRIDS / f"{name}.json"
        if path.is_file():
            grid = json.loads(path.read_text())
            print(f"{name}: {len(grid['configurations'])} configurations, recorded {grid['recorded']} in {grid['wall_s']} s")
        else:
            print(f"{name}: not recorded (python bench/grids.py record {name})")


if __name__ == "__main__":
    main()
