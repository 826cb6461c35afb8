"""Sweep efficiency: rnnexp's default search (TPE + hyperband pruning) against the full grid and
against other searches.

The full grid trains every point of cell x num_neurons x lr (2 x 3 x 4 = 24) on amazon-food for all
epochs. The default search (a sweep file naming no sampler or pruner: TPE, hyperband from epoch 2)
searches the same space (as categorical choices), given 30% of the grid's epochs as its
epoch_budget (and at most 24 trials; repeats of a trained configuration take its result and cost
nothing). Training is seeded and deterministic, so a configuration scores the same in both sweeps:
the search's pick is judged by the grid's score for that configuration (its regret, in accuracy
points) and by the epochs it trained, as a share of the grid's. Goal: regret <= 0.5 points using
<= 30% of the grid's epochs. The search runs once per sampler seed (its luck varies), the grid once.

Validation is 30% of amazon-food's 4000 training reviews (--val-split): 1200 reviews, so the goal's
0.5 points are 6 of them. At the config default of 15% they are 3 reviews, well below one accuracy's
standard error there (about 1.9 points), and which configuration is "best" turns on a handful of reviews.

Three real searches say little about a goal that luck decides, so the benchmark also replays the
same search many times: a trial of a configuration reports exactly the validation curve that
configuration had in the grid. The replay feeds those recorded curves, epoch by epoch, to the same
Optuna sampler and rnnexp's pruner under the rules `rnnexp sweep` follows (promotions, repeats,
budget, the pick; see `replay`), for sampler seeds 0-29, and reports how often the goal is met. Each
real search is replayed too, and must come out the same. Then every method (see `methods`) is
replayed --replays times at each budget (BUDGETS: shares of a grid's epochs) on every grid recorded
in bench/grids/ (bench/grids.py), and each (grid, budget) is judged: the default's mean regret at 30%
(<= 0.5) and its lag behind the best other method (<= MAX_LAG), with the lag's paired standard
error. The same is done again on --held-out fresh seeds (HELD_OUT). Prints the tables and writes
bench/results/sweep.json.

    python bench/sweep.py [--seeds 0 1 2] [--epochs 6] [--val-split 0.3] [--replays 30] [--held-out 120] [--quick]

With --replay-only it trains nothing: only the replays on the recorded grids, written as JSON to --out.

    python bench/sweep.py --replay-only [--replays 30] [--first-seed 0] [--jobs N] --out FILE
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))

from common import at_least, print_table, write_result  # noqa: E402
from grids import AMAZON_FOOD_MODEL, AMAZON_FOOD_SPACE, GRIDS, configurations_of  # noqa: E402
from replay import search  # noqa: E402

from rnnexp import sweep as sweeps  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SPACE = AMAZON_FOOD_SPACE


def write_sweep(folder: Path, name: str, epochs: int, val_split: float, **top) -> Path:
    doc = {
        "name": name,
        "base": str(ROOT / "configs" / "quickstart.yaml"),
        "set": {
            "train.epochs": epochs,
            "data.val_split": val_split,
            "train.early_stopping.enabled": False,
            **AMAZON_FOOD_MODEL,
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


MAX_REGRET_POINTS, MAX_EPOCH_SHARE = 0.5, 0.30
# rnnexp's default search: a sweep file that names no sampler or pruner but the sampler's seed
# (the schema's defaults: TPE with 10 random start-up trials, pruner auto = hyperband from epoch 2).
DEFAULT_SAMPLER, DEFAULT_PRUNER = {}, {}
# The default may be no worse than any other method by more than this (mean regret, at any budget).
MAX_LAG = 0.05
# The full run also replays every method on seeds no choice of the default was tried on: (first, how many).
# At 15% of a grid's epochs a verdict on 30 seeds has a standard error near MAX_LAG (digits: 0.04),
# so a lag that 30 seeds show may be luck; fresh seeds tell.
HELD_OUT = (1000, 120)


def recorded(grid: dict, epochs: int) -> dict:
    """The grid sweep's results as a recorded grid (bench/grids.py's form): what replay.search reads."""
    return {
        "metric": "val_accuracy",
        "direction": "maximize",
        "regret": "points",
        "epochs": epochs,
        "space": SPACE,
        "configurations": configurations_of(grid["trials"], SPACE, "val_accuracy"),
    }


def replay(recording: dict, budget: int, seed: int, study_name: str) -> tuple[tuple, int]:
    """One default search fed the recorded curves under `rnnexp sweep`'s rules (replay.search).
    Returns its pick and the epochs it trained."""
    pick, trained = search(recording, {**DEFAULT_SAMPLER, "seed": seed}, DEFAULT_PRUNER, budget, study_name)
    return tuple(json.loads(pick)), trained


def judge(grid: dict, scores: dict[tuple, float], pick: tuple, trained: int) -> tuple[float, float, bool]:
    """(regret in accuracy points, share of the grid's epochs, goal met) of a search's pick."""
    # Rounded: accuracy moves in steps of 1/val_size, and 0.5 points must compare as 0.5.
    regret = round(100 * (grid["best"]["value"] - scores[pick]), 6)
    share = trained / grid["epochs_trained"]
    return regret, share, regret <= MAX_REGRET_POINTS and share <= MAX_EPOCH_SHARE


BUDGETS = (0.15, 0.3, 0.5)  # shares of the grid's epochs
OPTUNA_MEDIAN = {"kind": "median", "startup_trials": 5, "warmup_epochs": 0}  # Optuna's MedianPruner defaults


def methods(grid: dict) -> dict[str, tuple[bool, object]]:
    """The searches replayed on a recorded grid: name -> (rnnexp's default?, search(grid, budget, seed))."""
    import optuna
    from replay import li_hyperband

    epochs = grid["epochs"]
    optuna_tpe = lambda seed: {"kind": "tpe", "seed": seed, "startup_trials": 10}  # noqa: E731  (Optuna's default start-up)
    optuna_hyperband = lambda: optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs, reduction_factor=3)  # noqa: E731
    return {
        "rnnexp default (TPE + hyperband)": (
            True,
            lambda budget, seed: search(grid, {**DEFAULT_SAMPLER, "seed": seed}, DEFAULT_PRUNER, budget),
        ),
        "random + the same pruner": (
            False,
            lambda budget, seed: search(grid, {"kind": "random", "seed": seed}, DEFAULT_PRUNER, budget),
        ),
        # Optuna's searches pick as Optuna does: its best trial, complete ones only.
        "Optuna TPE + MedianPruner": (
            False,
            lambda budget, seed: search(grid, optuna_tpe(seed), OPTUNA_MEDIAN, budget, pick="optuna"),
        ),
        "Optuna TPE + HyperbandPruner": (
            False,
            lambda budget, seed: search(
                grid, optuna_tpe(seed), {"kind": "none"}, budget, optuna_pruner=optuna_hyperband(), pick="optuna"
            ),
        ),
        "Hyperband (Li et al.)": (False, lambda budget, seed: li_hyperband(grid, budget, seed)),
    }


def _replayed_cell(task: tuple[str, str, float, list[int]]) -> list[float]:
    """One method at one budget on one grid: the regret of each seed's search (a worker's task)."""
    from replay import grid_epochs, regret

    path, name, share, seeds = task
    grid = json.loads(Path(path).read_text())
    method = methods(grid)[name][1]
    budget = int(share * grid_epochs(grid))
    return [regret(grid, method(budget, seed)[0]) for seed in seeds]


def replays_of_every_method(replays: int, first_seed: int = 0, jobs: int | None = None) -> list[dict]:
    """Every method at every budget, ``replays`` seeds each (first_seed and on), on every grid recorded
    in bench/grids/: a row each, with the mean regret, its standard error, the share of searches
    within 0.5, and each seed's regret (for verdicts' paired lag). A search is seeded and
    deterministic, so ``jobs`` processes give the same rows as one."""
    from concurrent.futures import ProcessPoolExecutor

    seeds = list(range(first_seed, first_seed + replays))
    cells = []
    for path in sorted(GRIDS.glob("*.json")):
        grid = json.loads(path.read_text())
        for name, (default, _) in methods(grid).items():
            cells += [(grid["grid"], name, default, (str(path), name, share, seeds)) for share in BUDGETS]
    with ProcessPoolExecutor(max_workers=jobs or os.cpu_count()) as pool:
        regrets_of = list(pool.map(_replayed_cell, [task for *_, task in cells]))
    rows = []
    for (grid, name, default, (_, _, share, _)), regrets in zip(cells, regrets_of):
        mean = statistics.mean(regrets)
        rows.append(
            {
                "grid": grid,
                "method": name,
                "default": default,
                "budget": share,
                "mean_regret": round(mean, 3),
                "regret_se": round(_se(regrets), 3),
                "goal_met_share": round(sum(r <= MAX_REGRET_POINTS for r in regrets) / len(regrets), 3),
                "seeds": [seeds[0], seeds[-1]],
                "regrets": [round(r, 3) for r in regrets],
            }
        )
    return rows


def _kept(rows: list[dict], judged: list[dict]) -> dict:
    """One set of replays as bench/results keeps it: the rows without each seed's regret (the verdicts
    hold the pairing), and the verdicts."""
    summaries = [{k: v for k, v in r.items() if k != "regrets"} for r in rows]
    return {"replays_per_method": len(rows[0]["regrets"]), "replays": summaries, "verdicts": judged}


def _se(values: list[float]) -> float:
    """The standard error of the mean of ``values`` (0 for a single one)."""
    return statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else 0.0


def verdicts(rows: list[dict]) -> list[dict]:
    """For each grid and budget: the default's mean regret, the best other method's, and whether the
    default meets the goals (mean regret <= 0.5 at 30% of the epochs; never worse than another
    method by more than MAX_LAG). The lag's standard error is paired, seed by seed: the spread of the
    difference between the default's search and the other method's with the same seed (random search
    draws what TPE's start-up draws, so that pair differs only where the samplers do)."""
    out = []
    for grid in dict.fromkeys(r["grid"] for r in rows):
        for share in BUDGETS:
            cell = [r for r in rows if r["grid"] == grid and r["budget"] == share]
            mine = next(r for r in cell if r["default"])
            rival = min((r for r in cell if not r["default"]), key=lambda r: r["mean_regret"])
            out.append(
                {
                    "grid": grid,
                    "budget": share,
                    "default": mine["mean_regret"],
                    "default_se": mine["regret_se"],
                    "best_other": rival["method"],
                    "best_other_regret": rival["mean_regret"],
                    "lag": round(mine["mean_regret"] - rival["mean_regret"], 3),
                    "lag_se": round(_se([a - b for a, b in zip(mine["regrets"], rival["regrets"])]), 3),
                    "within_lag": mine["mean_regret"] <= rival["mean_regret"] + MAX_LAG,
                    "goal_met": mine["mean_regret"] <= MAX_REGRET_POINTS if share == MAX_EPOCH_SHARE else None,
                }
            )
    return out


def print_replays(rows: list[dict], judged: list[dict]) -> None:
    first, last = rows[0]["seeds"]
    print_table(
        f"Searches replayed on the recorded grids (sampler seeds {first}-{last}; "
        "regret: accuracy points, or percent of the best MAE)",
        [c for c in rows[0] if c != "regrets"],
        rows,
    )
    print_table("rnnexp's default against the best other method", list(judged[0]), judged)
    at30 = [v for v in judged if v["budget"] == MAX_EPOCH_SHARE]
    print(
        f"at {MAX_EPOCH_SHARE:.0%} of the epochs, the default's mean regret <= {MAX_REGRET_POINTS} on "
        f"{sum(v['goal_met'] for v in at30)} of {len(at30)} grids; no worse than any other method by more than "
        f"{MAX_LAG} in {sum(v['within_lag'] for v in judged)} of {len(judged)} grid-budgets"
    )


def replay_only(out: Path, replays: int, first_seed: int, jobs: int | None) -> None:
    started = time.perf_counter()
    rows = replays_of_every_method(replays, first_seed, jobs)
    judged = verdicts(rows)
    print_replays(rows, judged)
    print(f"{time.perf_counter() - started:.0f} s")
    out.write_text(json.dumps({"replays": rows, "verdicts": judged}, indent=1) + "\n")
    print(f"written: {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="TPE sampler seeds")
    parser.add_argument("--epochs", type=int, default=6, help="epochs per full trial")
    parser.add_argument("--val-split", type=float, default=0.3, help="validation share of amazon-food's 4000 training reviews")
    parser.add_argument("--replays", type=at_least(1), default=30, help="sampler seeds replayed on the recorded curves")
    parser.add_argument("--first-seed", type=at_least(0), default=0, help="the replays' first sampler seed (then the next ones)")
    parser.add_argument(
        "--held-out",
        type=at_least(0),
        default=HELD_OUT[1],
        help=f"the full run: replays on fresh seeds, from {HELD_OUT[0]} (0: none)",
    )
    parser.add_argument("--jobs", type=at_least(1), default=None, help="processes replaying (default: one per CPU); same figures")
    parser.add_argument("--quick", action="store_true", help="2 epochs, 1 seed, 2 replays (smoke test; figures meaningless)")
    parser.add_argument("--replay-only", action="store_true", help="replay every method on the grids in bench/grids/")
    parser.add_argument("--out", type=Path, default=None, help="--replay-only: where the JSON goes")
    args = parser.parse_args()
    if args.replay_only:
        replay_only(args.out or Path(tempfile.gettempdir()) / "replays.json", args.replays, args.first_seed, args.jobs)
        return
    if args.quick:
        args.epochs, args.seeds, args.replays, args.held_out = 2, [0], 2, 2

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        grid, grid_s = run(write_sweep(folder, "grid", args.epochs, args.val_split, sampler={"kind": "grid"}), folder / "runs")
        budget = int(MAX_EPOCH_SHARE * grid["epochs_trained"])
        searches = []
        for seed in args.seeds:
            sweep_file = write_sweep(
                folder,
                f"tpe-{seed}",
                args.epochs,
                args.val_split,
                sampler={**DEFAULT_SAMPLER, "seed": seed},
                pruner=DEFAULT_PRUNER,
                trials=len(grid["trials"]),
                epoch_budget=budget,
            )
            searches.append((seed, *run(sweep_file, folder / "runs")))
        recording = recorded(grid, args.epochs)
    scores = {key(t): t["value"] for t in grid["trials"]}
    grid_best = grid["best"]
    rows = [
        {
            "search": "full grid",
            "trials": len(grid["trials"]),
            "repeats": 0,
            "promoted": 0,
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
        regret, share, goal_met = judge(grid, scores, key(pick), tpe["epochs_trained"])
        repeats, promoted = tpe["counts"]["REPEATED"], tpe["counts"]["PROMOTED"]
        configurations = len(tpe["trials"]) - repeats - promoted
        # The replay below is only worth its figures if it makes the same search as the real one.
        same = replay(recording, budget, seed, tpe["study"]) == (key(pick), tpe["epochs_trained"])
        per_seed.append(
            {
                "seed": seed,
                "trials": configurations,
                "repeats": repeats,
                "promoted": promoted,
                "pruned": tpe["counts"]["PRUNED"],
                "epochs": tpe["epochs_trained"],
                "epoch_share": share,
                "seconds": seconds,
                "best": key(pick),
                "grid_value_of_best": scores[key(pick)],
                "regret_points": regret,
                "goal_met": goal_met,
                "replay_reproduces_it": same,
            }
        )
        rows.append(
            {
                "search": f"default search, seed {seed}",
                "trials": configurations,
                "repeats": repeats,
                "promoted": promoted,
                "pruned": tpe["counts"]["PRUNED"],
                "epochs": tpe["epochs_trained"],
                "epoch share": f"{share:.0%}",
                "seconds": round(seconds, 1),
                "best config": ", ".join(str(v) for v in key(pick)),
                "its grid val_accuracy": f"{scores[key(pick)]:.4f}",
                "regret (points)": f"{regret:.2f}",
                "replay same": "yes" if same else "NO",
            }
        )
    rows[0]["replay same"] = ""
    print_table(
        f"Sweep efficiency on amazon-food (validation {args.val_split:.0%}): 24-point grid ({' x '.join(SPACE)}), "
        f"{args.epochs} epochs per full trial; "
        f"rnnexp's default search (TPE + hyperband) given epoch_budget {budget} (30%)",
        list(rows[0]),
        rows,
    )
    met = sum(r["goal_met"] for r in per_seed)
    print(f"\nGoal (regret <= 0.5 points with <= 30% of the grid's epochs): met for {met} of {len(per_seed)} TPE seeds")

    replays = []
    for seed in range(args.replays):  # brackets do not depend on the study's name: one search per seed
        regret, share, goal_met = judge(grid, scores, *replay(recording, budget, seed, f"replay-tpe-{seed}"))
        replays.append({"seed": seed, "regret_points": regret, "epoch_share": share, "goal_met": goal_met})
    n = len(replays)
    replay_summary = {
        "searches": n,
        "goal_met": sum(r["goal_met"] for r in replays),
        "regret_ok": sum(r["regret_points"] <= MAX_REGRET_POINTS for r in replays),
        "share_ok": sum(r["epoch_share"] <= MAX_EPOCH_SHARE for r in replays),
        "mean_regret_points": sum(r["regret_points"] for r in replays) / n,
        "mean_epoch_share": sum(r["epoch_share"] for r in replays) / n,
    }
    print(
        f"Replayed on the grid's recorded curves, {n} searches: goal met in {replay_summary['goal_met']} "
        f"(regret <= 0.5 in {replay_summary['regret_ok']}, share <= 30% in {replay_summary['share_ok']}); "
        f"mean regret {replay_summary['mean_regret_points']:.2f} points, mean share {replay_summary['mean_epoch_share']:.0%}"
    )
    rows = replays_of_every_method(args.replays, args.first_seed, args.jobs)
    judged = verdicts(rows)
    print_replays(rows, judged)
    held_out = None
    if args.held_out:
        held_rows = replays_of_every_method(args.held_out, HELD_OUT[0], args.jobs)
        held_out = _kept(held_rows, verdicts(held_rows))
        print_replays(held_rows, held_out["verdicts"])
    write_result(
        "sweep",
        {
            "grids": _kept(rows, judged),
            "grids_held_out": held_out,
            "epochs_per_trial": args.epochs,
            "val_split": args.val_split,
            "epoch_budget": budget,
            "grid": {"epochs": grid["epochs_trained"], "seconds": grid_s, "best": key(grid_best), "value": grid_best["value"]},
            "default_search": per_seed,
            "goal_met_seeds": met,
            "replay": {**replay_summary, "searches_detail": replays},
            "grid_scores": [{"config": list(k), "val_accuracy": v} for k, v in sorted(scores.items(), key=lambda kv: -kv[1])],
        },
    )


if __name__ == "__main__":
    main()
