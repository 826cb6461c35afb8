"""Forecasts held to the statistical standard: for each shipped forecasting config (vic-elec's
electricity demand, Seattle's weather, US births per day), rnnexp's default recipe trained as the
config says, then `evaluate`'s test MAE per step ahead for the model and every baseline
(persistence, seasonal naive, ridge, exponential smoothing, seasonal ARIMA), with the two
statistical models' fitting times. Goal (issue 29): the model beats every baseline at one step
ahead on at least 2 of the 3 series, and is within 5% of the best baseline on the third.

Each forecasting technique of rnnexp is also trained on every series, one key changed from the
config at a time (data.residual persistence, and seasonal_naive where the window holds a season;
data.window_scale switched; train.balance_steps switched where there are several steps;
data.seasonal_input where the window holds a season; data.calendar with the cycles of the series'
step, CALENDAR below), and its MAE at the first step shown beside the config's (--no-techniques
skips them: the slow part).

Each run is trained with SEEDS[series] training seeds, the MAE their mean: one run of births or
the weather takes seconds and one seed moves its MAE by several percent, so they get five;
electricity's run takes minutes, so it gets one (--seeds N: N for every series).

Prints the tables and writes bench/results/forecast.json.

    python bench/forecast.py [--series births,weather,electricity] [--no-techniques] [--seeds N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import at_least, print_table, write_result  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SERIES = {"electricity": "configs/electricity.yaml", "weather": "configs/weather.yaml", "births": "configs/births.yaml"}
BASELINES = ("persistence", "seasonal_naive", "linear_ar", "ets", "sarima")
# data.calendar's cycles a forecaster would give each series, the ones its values follow: demand
# follows the day and the week; temperature the year; births the week (fewer at weekends) and the year.
CALENDAR = {
    "electricity": ["hour_of_day", "day_of_week"],
    "weather": ["day_of_year"],
    "births": ["day_of_week", "day_of_year"],
}
SEEDS = {"electricity": 1, "weather": 5, "births": 5}


def rnnexp(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "rnnexp", *args], capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"rnnexp {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def trained(config: str, runs: Path, sets: list[str], seed: int, baselines: bool = False) -> tuple[dict, float]:
    """(evaluate's test report, training seconds) of one run of ``config`` with ``sets``; the
    baselines are fitted only when asked (they are fitted on the training split and do not depend
    on the seed or on the model's keys)."""
    overrides = [x for s in [*sets, f"train.seed={seed}"] for x in ("--set", s)]
    start = time.perf_counter()
    run = json.loads(rnnexp("train", config, "--runs-dir", str(runs), "--json", "--quiet", *overrides))["run_dir"]
    seconds = time.perf_counter() - start
    return json.loads(rnnexp("evaluate", run, "--json", "--baselines" if baselines else "--no-baselines")), seconds


def series_rows(name: str, config: str, runs: Path, seeds: int) -> tuple[list[dict], dict]:
    """Per step ahead: the model's test MAE (mean over seeds, and the lowest and highest seed's) and
    each baseline's; and the facts."""
    reports, seconds = zip(*(trained(config, runs, [], seed, baselines=seed == 0) for seed in range(seeds)))
    first = reports[0]
    rows = []
    for i, step in enumerate(first["per_step"]):
        maes = [r["per_step"][i]["mae"] for r in reports]
        row = {
            "series": name,
            "steps_ahead": step["steps_ahead"],
            "model": round(statistics.mean(maes), 3),
            "seeds": seeds,
            "model_range": [round(min(maes), 3), round(max(maes), 3)],
        }
        for b in BASELINES:
            if b in first["baselines"]:
                row[b] = round(first["baselines"][b]["per_step"][i]["mae"], 3)
        best = min((b for b in BASELINES if b in row), key=lambda b: row[b])
        row["best_baseline"], row["model_over_best"] = best, round(row["model"] / row[best], 4)
        rows.append(row)
    facts = {
        "series": name,
        "config": config,
        "windows": first["windows"],
        "train_seconds": round(statistics.mean(seconds), 1),
        **{f"{b}_fit_seconds": first["baselines"][b].get("fit_seconds") for b in ("ets", "sarima") if b in first["baselines"]},
        **{f"{b}_form": first["baselines"][b].get("model") for b in ("ets", "sarima") if b in first["baselines"]},
    }
    return rows, facts


def techniques(name: str, config: str, runs: Path, seeds: int, shipped: float) -> list[dict]:
    """MAE at the first step of the config (``shipped``: series_rows' figure) and of each technique
    switched alone."""
    from rnnexp.config import load_config

    cfg = load_config(ROOT / config)
    data = cfg.data
    out = [{"series": name, "variant": "config as shipped", "mae_step_1": shipped, "seeds": seeds}]
    variants = {}
    holds_season = bool(data.season) and data.lookback >= data.season
    for residual in ("none", "persistence", "seasonal_naive"):
        if residual == "seasonal_naive" and not holds_season:
            continue
        if residual != data.residual:
            variants[f"data.residual {residual}"] = [f"data.residual={residual}"]
    flipped = str(not data.scales_window).lower()
    variants[f"data.window_scale {flipped}"] = [f"data.window_scale={flipped}"]
    if data.multi_output and data.horizon > 1:  # one step ahead has nothing to balance
        flipped = str(not cfg.balances_steps).lower()
        variants[f"train.balance_steps {flipped}"] = [f"train.balance_steps={flipped}"]
    if holds_season:
        flipped = str(not data.seasonal_input).lower()
        variants[f"data.seasonal_input {flipped}"] = [f"data.seasonal_input={flipped}"]
    cycles = [] if data.calendar else CALENDAR[name]
    variants[f"data.calendar [{', '.join(cycles)}]"] = [f"data.calendar=[{','.join(cycles)}]"]
    for label, sets in variants.items():
        maes = [trained(config, runs, sets, seed)[0]["per_step"][0]["mae"] for seed in range(seeds)]
        out.append({"series": name, "variant": label, "mae_step_1": round(statistics.mean(maes), 3), "seeds": seeds})
    return out


def series_list(text: str) -> list[str]:
    """An argparse type: comma-separated names of SERIES, each known."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in SERIES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"expected some of {', '.join(SERIES)}, got {text!r}")
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=series_list, default=list(SERIES), help="comma-separated, of " + ", ".join(SERIES))
    parser.add_argument("--no-techniques", action="store_true", help="skip training each technique alone (the slow part)")
    parser.add_argument("--seeds", type=at_least(1), help="training seeds per run, every series (default: SEEDS)")
    args = parser.parse_args()
    rows, facts, variants = [], [], []
    with tempfile.TemporaryDirectory(prefix="rnnexp-forecast-") as tmp:
        for name in args.series:
            seeds = args.seeds or SEEDS[name]
            found, about = series_rows(name, SERIES[name], Path(tmp) / name, seeds)
            rows += found
            facts.append(about)
            if not args.no_techniques:
                variants += techniques(name, SERIES[name], Path(tmp) / f"{name}-techniques", seeds, found[0]["model"])
    print_table("Test MAE per step ahead (the target's units)", list(rows[0]), rows)
    print_table("Fitting", list(facts[0]), facts)
    if variants:
        print_table("Each technique alone: test MAE one step ahead", list(variants[0]), variants)
    at_one = [r for r in rows if r["steps_ahead"] == min(x["steps_ahead"] for x in rows if x["series"] == r["series"])]
    beats = sum(r["model_over_best"] < 1 for r in at_one)
    close = all(r["model_over_best"] <= 1.05 for r in at_one)
    goal = {"series": len(at_one), "beats_every_baseline": beats, "within_5_percent_on_the_rest": close}
    goal["met"] = len(at_one) == 3 and beats >= 2 and close
    result = {"rows": rows, "fitting": facts, "techniques": variants, "goal": goal}
    write_result("forecast", result)
    print(json.dumps(goal))


if __name__ == "__main__":
    main()
