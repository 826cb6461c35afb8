"""Sweep efficiency: TPE + hyperband pruning against the full grid, on the same 24 configurations.

The full grid trains every point of cell x num_neurons x lr (2 x 3 x 4 = 24) for all epochs. TPE
searches the same space (as categorical choices) with hyperband pruning for a fixed number of
trials. Training is seeded and deterministic, so a configuration scores the same in both sweeps:
TPE's pick is judged by the grid's score for that configuration (its regret, in accuracy points)
and by the epochs it trained, as a share of the grid's. Goal: regret <= 0.5 points using <= 30%
of the grid's epochs. Prints a table and writes bench/results/sweep.json.

    python bench/sweep.py [--trials 12] [--epochs 6] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))

from common import print_table, write_result  # noqa: E402

from rnnexp import sweep as sweeps  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SPACE = {"model.cell": ["gru", "lstm"], "model.num_neurons": [16, 32, 64], "train.lr": [0.0005, 0.002, 0.005, 0.01]}


def write_sweep(folder: Path, name: str, epochs: int, **top) -> Path:
    doc = {
        "name": name,
        "base": str(ROOT / "configs" / "quickstart.yaml"),
        "set": {
            "train.epochs": epochs,
            "train.early_stopping.enabled": False,
            "data.maxlen": 100,
            "model.embedding_dims": 32,
            "train.batch_size": 64,
        },
        "space": SPACE,
        "objective": {"metric": "val_accuracy"},
        **top,
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def run(path: Path, runs: Path) -> tuple[dict, float]:
    started = time.perf_counter()
    sw = sweeps.create(path, runs)
    sweeps.work(sw)
    return sweeps.results(sw), time.perf_counter() - started


def key(trial: dict) -> tuple:
    return tuple(trial[k] for k in SPACE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12, help="TPE trials")
    parser.add_argument("--epochs", type=int, default=6, help="epochs per full trial")
    parser.add_argument("--quick", action="store_true", help="2 epochs, 4 TPE trials (smoke test; figures meaningless)")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.trials = 2, 4

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        grid, grid_s = run(write_sweep(folder, "grid", args.epochs, sampler={"kind": "grid"}), folder / "runs")
        tpe, tpe_s = run(
            write_sweep(
                folder,
                "tpe",
                args.epochs,
                sampler={"kind": "tpe", "seed": 0, "startup_trials": 4},
                pruner={"kind": "hyperband", "min_epochs": 1, "reduction_factor": 3},
                trials=args.trials,
            ),
            folder / "runs",
        )
    scores = {key(t): t["value"] for t in grid["trials"]}
    grid_best = grid["best"]
    pick = tpe["best"]
    pick_score = scores[key(pick)]
    regret = 100 * (grid_best["value"] - pick_score)
    share = tpe["epochs_trained"] / grid["epochs_trained"]
    rows = [
        {
            "search": "full grid",
            "trials": len(grid["trials"]),
            "pruned": grid["counts"]["PRUNED"],
            "epochs": grid["epochs_trained"],
            "seconds": round(grid_s, 1),
            "best config": ", ".join(str(v) for v in key(grid_best)),
            "val_accuracy (grid score)": f"{grid_best['value']:.4f}",
        },
        {
            "search": "TPE + hyperband",
            "trials": len(tpe["trials"]),
            "pruned": tpe["counts"]["PRUNED"],
            "epochs": tpe["epochs_trained"],
            "seconds": round(tpe_s, 1),
            "best config": ", ".join(str(v) for v in key(pick)),
            "val_accuracy (grid score)": f"{pick_score:.4f}",
        },
    ]
    print_table(
        f"Sweep efficiency on amazon-food: 24-point grid ({' x '.join(SPACE)}), {args.epochs} epochs per full trial",
        list(rows[0]),
        rows,
    )
    print(
        f"\nTPE+hyperband: regret {regret:.2f} accuracy points (goal <= 0.5) using {share:.0%} of the grid's epochs "
        f"(goal <= 30%): {'MET' if regret <= 0.5 and share <= 0.30 else 'MISSED'}"
    )
    write_result(
        "sweep",
        {
            "epochs_per_trial": args.epochs,
            "grid": {"epochs": grid["epochs_trained"], "seconds": grid_s, "best": key(grid_best), "value": grid_best["value"]},
            "tpe_hyperband": {
                "trials": len(tpe["trials"]),
                "pruned": tpe["counts"]["PRUNED"],
                "epochs": tpe["epochs_trained"],
                "seconds": tpe_s,
                "best": key(pick),
                "grid_value_of_best": pick_score,
            },
            "regret_points": regret,
            "epoch_share": share,
            "goal_met": regret <= 0.5 and share <= 0.30,
            "grid_scores": [{"config": list(k), "val_accuracy": v} for k, v in sorted(scores.items(), key=lambda kv: -kv[1])],
        },
    )


if __name__ == "__main__":
    main()
