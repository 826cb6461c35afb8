"""Sweep efficiency: TPE + hyperband pruning against the full grid, on the same 24 configurations.

The full grid trains every point of cell x num_neurons x lr (2 x 3 x 4 = 24) for all epochs. TPE
searches the same space (as categorical choices) with hyperband pruning for a fixed number of
trials. Training is seeded and deterministic, so a configuration scores the same in both sweeps:
TPE's pick is judged by the grid's score for that configuration (its regret, in accuracy points)
and by the epochs it trained, as a share of the grid's. Goal: regret <= 0.5 points using <= 30%
of the grid's epochs. TPE runs once per sampler seed (its luck varies), the grid once. Prints a
table and writes bench/results/sweep.json.

    python bench/sweep.py [--trials 10] [--seeds 0 1 2] [--epochs 6] [--quick]
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
    parser.add_argument("--trials", type=int, default=10, help="TPE trials per seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="TPE sampler seeds")
    parser.add_argument("--epochs", type=int, default=6, help="epochs per full trial")
    parser.add_argument("--quick", action="store_true", help="2 epochs, 4 TPE trials, 1 seed (smoke test; figures meaningless)")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.trials, args.seeds = 2, 4, [0]

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        grid, grid_s = run(write_sweep(folder, "grid", args.epochs, sampler={"kind": "grid"}), folder / "runs")
        searches = []
        for seed in args.seeds:
            sweep_file = write_sweep(
                folder,
                f"tpe-{seed}",
                args.epochs,
                sampler={"kind": "tpe", "seed": seed, "startup_trials": 4},
                pruner={"kind": "hyperband", "min_epochs": 1, "reduction_factor": 3},
                trials=args.trials,
            )
            searches.append((seed, *run(sweep_file, folder / "runs")))
    scores = {key(t): t["value"] for t in grid["trials"]}
    grid_best = grid["best"]
    rows = [
        {
            "search": "full grid",
            "trials": len(grid["trials"]),
            "pruned": grid["counts"]["PRUNED"],
            "epochs": grid["epochs_trained"],
            "epoch share": "100%",
            "seconds": round(grid_s, 1),
            "best config": ", ".join(str(v) for v in key(grid_best)),
            "its grid val_accuracy": f"{grid_best['value']:.4f}",
            "regret (points)": "0.00",
        }
    ]
    per_seed = []
    for seed, tpe, seconds in searches:
        pick = tpe["best"]
        # Rounded: accuracy moves in steps of 1/val_size, and 0.5 points must compare as 0.5.
        regret = round(100 * (grid_best["value"] - scores[key(pick)]), 6)
        share = tpe["epochs_trained"] / grid["epochs_trained"]
        per_seed.append(
            {
                "seed": seed,
                "trials": len(tpe["trials"]),
                "pruned": tpe["counts"]["PRUNED"],
                "epochs": tpe["epochs_trained"],
                "epoch_share": share,
                "seconds": seconds,
                "best": key(pick),
                "grid_value_of_best": scores[key(pick)],
                "regret_points": regret,
                "goal_met": regret <= 0.5 and share <= 0.30,
            }
        )
        rows.append(
            {
                "search": f"TPE + hyperband, seed {seed}",
                "trials": len(tpe["trials"]),
                "pruned": tpe["counts"]["PRUNED"],
                "epochs": tpe["epochs_trained"],
                "epoch share": f"{share:.0%}",
                "seconds": round(seconds, 1),
                "best config": ", ".join(str(v) for v in key(pick)),
                "its grid val_accuracy": f"{scores[key(pick)]:.4f}",
                "regret (points)": f"{regret:.2f}",
            }
        )
    print_table(
        f"Sweep efficiency on amazon-food: 24-point grid ({' x '.join(SPACE)}), {args.epochs} epochs per full trial",
        list(rows[0]),
        rows,
    )
    met = sum(r["goal_met"] for r in per_seed)
    print(f"\nGoal (regret <= 0.5 points with <= 30% of the grid's epochs): met for {met} of {len(per_seed)} TPE seeds")
    write_result(
        "sweep",
        {
            "epochs_per_trial": args.epochs,
            "tpe_trials": args.trials,
            "grid": {"epochs": grid["epochs_trained"], "seconds": grid_s, "best": key(grid_best), "value": grid_best["value"]},
            "tpe_hyperband": per_seed,
            "goal_met_seeds": met,
            "grid_scores": [{"config": list(k), "val_accuracy": v} for k, v in sorted(scores.items(), key=lambda kv: -kv[1])],
        },
    )


if __name__ == "__main__":
    main()
