"""`make bench`: run every benchmark under bench/, then one report of their headline figures.

Each benchmark runs in its own process (one failing does not stop the others) and writes
bench/results/<name>.json; this script then reads them all, prints a markdown table (benchmark,
measure, value, goal, met) and writes bench/results/latest.json with the same rows, the machine,
and each benchmark's full result.

    python bench/report.py            # run everything, then report
    python bench/report.py --only-report   # report what bench/results holds now (else what latest.json says)
    python bench/report.py --only sweep    # run these benchmarks again, keep the others' last results
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
SCRIPTS = [
    "overhead",
    "cells",
    "knobs",
    "sweep",
    "startup",
    "reader",
    "scale",
    "baselines",
    "forecast",
    "keras_compare",
    "keras_parity",
]


def _row(bench: str, measure: str, value: Any, goal: str, met: bool | None) -> dict[str, Any]:
    return {"benchmark": bench, "measure": measure, "value": value, "goal": goal, "met": met}


def _verdict_rows(name: str, grids: dict) -> list[dict[str, Any]]:
    """bench/sweep.py's verdicts on one set of replays: each grid and budget, the default's mean regret
    and its lag behind the best other method, each with its standard error (the lag's paired)."""
    rows = []
    for v in grids["verdicts"]:
        first, last = next(r["seeds"] for r in grids["replays"] if r["grid"] == v["grid"])
        goal = f"<= {v['best_other_regret'] + 0.05:.3f} (best other + 0.05)"
        goal += "; <= 0.5" if v["goal_met"] is not None else ""
        rows.append(
            _row(
                name,
                f"{v['grid']} at {v['budget']:.0%} of its epochs, seeds {first}-{last}: default's mean regret ± s.e.; "
                f"its lag behind the best other ({v['best_other']}, {v['best_other_regret']:.3f}) ± paired s.e.",
                f"{v['default']:.3f} ± {v['default_se']:.3f}; {v['lag']:+.3f} ± {v['lag_se']:.3f}",
                goal,
                v["within_lag"] and v["goal_met"] is not False,
            )
        )
    return rows


def _scale_rows(name: str, r: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for x in r["rows"]:
        texts = f"{x['texts']:,} texts ({x['csv_mb']} MB CSV)"
        seconds = f"floor {x['floor_s']} s, cold {x['cold_s']} s, warm {x['warm_s']} s"
        out += [
            _row(name, f"{texts}: ready to train on a cold cache / the floor ({seconds})", x["cold_x"], "<= 5", x["cold_x"] <= 5),
            _row(
                name,
                f"{texts}: ready to train on a warm cache / the floor"
                + (f" (torch and the default optimizer alone, no data: {x['fixed_s']} s)" if "fixed_s" in x else ""),
                x["warm_x"],
                "<= 1.5",
                x["warm_x"] <= 1.5,
            ),
            _row(
                name, f"{texts}: peak RSS, MB", x["peak_rss_mb"], f"<= {x['rss_goal_mb']}", x["peak_rss_mb"] <= x["rss_goal_mb"]
            ),
        ]
    if r.get("formats"):
        f = r["formats"]
        what = (
            f"{f['texts']:,} texts' entry as Arrow IPC files / as raw arrays (the cache's): time to open memory-mapped "
            f"(raw {f['raw_open_ms']} ms, Arrow {f['arrow_open_ms']} ms; written in {f['raw_write_s']} s and "
            f"{f['arrow_write_s']} s; {f['raw_mb']} MB and {f['arrow_mb']} MB)"
        )
        ratio = round(f["arrow_open_ms"] / max(f["raw_open_ms"], 1e-9), 2)
        out.append(_row(name, what, ratio, "the faster is the cache's", None))
    if r.get("sweep"):
        s = r["sweep"]
        what = f"{s['texts']:,} texts: a {s['trials']}-trial sweep on {s['workers']} workers ({s['seconds']} s)"
        what += ", times the data was prepared"
        out.append(_row(name, what, s["prepared"], "1", s["prepared"] == 1))
    if r.get("large"):
        x = r["large"]
        what = f"{x['texts']:,} texts ({x['csv_mb']} MB CSV) prepared on a cold cache: seconds (peak RSS {x['peak_rss_mb']} MB)"
        out.append(_row(name, what, x["cold_s"], "ready to train", True))
    return out


def _over_seeds(x: dict[str, Any]) -> str:
    """How a forecast row's model MAE was had: nothing for one seed, else the seeds and their spread."""
    if x.get("seeds", 1) == 1:
        return ""
    low, high = x["model_range"]
    return f", mean of {x['seeds']} seeds, from {low} to {high}"


def _forecast_rows(name: str, r: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    names = {"linear_ar": "ridge", "ets": "exponential smoothing", "sarima": "seasonal ARIMA", "seasonal_naive": "seasonal naive"}
    for x in r["rows"]:
        others = ", ".join(
            f"{names.get(b, b)} {x[b]}" for b in ("persistence", "seasonal_naive", "linear_ar", "ets", "sarima") if b in x
        )
        model = f"model {x['model']}{_over_seeds(x)}"
        what = f"{x['series']}, {x['steps_ahead']} step(s) ahead: test MAE, model / best baseline ({model}; {others})"
        out.append(_row(name, what, x["model_over_best"], "< 1 (beats every baseline)", x["model_over_best"] < 1))
    for f in r["fitting"]:
        fits = f"exponential smoothing {f.get('ets_fit_seconds')} s, seasonal ARIMA {f.get('sarima_fit_seconds')} s"
        out.append(
            _row(
                name,
                f"{f['series']}: {f['windows']} test windows; fitting and forecasting ({fits})",
                f["train_seconds"],
                "seconds to train the model",
                None,
            )
        )
    for t in r.get("techniques") or []:
        seeds = f" (mean of {t['seeds']} seeds)" if t.get("seeds", 1) > 1 else ""
        out.append(_row(name, f"{t['series']}, {t['variant']}: test MAE 1 step ahead{seeds}", t["mae_step_1"], "", None))
    g = r["goal"]
    rest = g["within_5_percent_on_the_rest"]
    what = f"series where the model beats every baseline at its first step (of {g['series']}; the rest within 5%: {rest})"
    out.append(_row(name, what, g["beats_every_baseline"], ">= 2, the rest within 5%", g["met"]))
    return out


def rows_for(name: str, r: dict[str, Any]) -> list[dict[str, Any]]:
    """The headline figures of one benchmark's JSON."""
    if name == "overhead":
        return [
            _row(
                name,
                f"{x['cell']} {x['shape']}: hand loop time / rnnexp time (median; best)",
                f"{x['ratio']} ; {x['ratio_best']}",
                ">= 0.95",
                x["ratio"] >= 0.95,
            )
            for x in r["rows"]
        ] + [
            _row(
                name,
                f"{x['cell']} {x['shape']}: nn.GRU hand loop time / rnnexp time (median)",
                x["vs_nn_gru"],
                ">= 1.5" if x["shape"] == "E32/T100/B128/H32" else "",
                x["vs_nn_gru"] >= 1.5 if x["shape"] == "E32/T100/B128/H32" else None,
            )
            for x in r["rows"]
            if x.get("vs_nn_gru") is not None
        ]
    if name == "cells":
        # Issue 17's goal is the GRU's; the LSTM rows say where the existing LSTM scan stands.
        return [
            _row(
                name,
                f"{x['cell']} {x['shape']} threads={x['threads']}: nn.{x['cell'].upper()} time / scan time (median; best)",
                f"{x['ratio']} ; {x['ratio_best']}",
                ">= 2" if x["cell"] == "gru" else "",
                x["ratio"] >= 2 if x["cell"] == "gru" else None,
            )
            for x in r["rows"]
        ]
    if name == "knobs":
        out = [
            _row(
                name,
                f"{x['knob']} {x['cell']} {x['shape']}: time on / off",
                x["ratio"],
                x["goal"],
                x["ratio"] <= float(x["goal"].split()[-1]),
            )
            for x in r["cost"]
        ]
        b = r["bucket"]
        out.append(_row(name, "data.bucket vs pad to maxlen 400: epoch speedup", b["speedup"], b["goal"], b["speedup"] >= 1.5))
        out.append(
            _row(
                name,
                "  test accuracy pad / bucket (majority baseline)",
                f"{b['pad_test_accuracy']} / {b['bucket_test_accuracy']} ({b['majority_baseline']})",
                "equal within noise",
                None,
            )
        )
        return out
    if name == "sweep":
        out = [_row(name, "full grid: best val_accuracy, epochs", f"{r['grid']['value']:.4f}, {r['grid']['epochs']}", "", None)]
        for t in r["default_search"]:
            out.append(
                _row(
                    name,
                    f"default search seed {t['seed']}: regret (accuracy points), share of grid epochs",
                    f"{t['regret_points']:.2f}, {t['epoch_share']:.0%}",
                    "<= 0.5, <= 30%",
                    t["goal_met"],
                )
            )
        if "replay" in r:
            rp = r["replay"]
            out.append(
                _row(
                    name,
                    "  replayed on the grid's curves: searches meeting the goal",
                    f"{rp['goal_met']} of {rp['searches']} "
                    f"(mean regret {rp['mean_regret_points']:.2f}, share {rp['mean_epoch_share']:.0%})",
                    "all",
                    rp["goal_met"] == rp["searches"],
                )
            )
        for grids in (r.get("grids"), r.get("grids_held_out")):
            out += _verdict_rows(name, grids) if grids else []
        return out
    if name == "startup":
        return [
            _row(
                name,
                f"{x['command']}: median seconds",
                x["median_s"],
                x["goal"],
                None if not x["goal"] else x["median_s"] <= r["goal_s"],
            )
            for x in r["rows"]
        ]
    if name == "reader":
        seconds = ", ".join(f"{x['reader']} {x['median_s']}" for x in r["rows_by_reader"])
        return [
            _row(
                name,
                f"{r['megabytes']} MB CSV: old reader time / rnnexp read_table time (seconds: {seconds})",
                r["speedup"],
                "> 1 (faster than before)",
                r["speedup"] > 1.0,
            )
        ]
    if name == "scale":
        return _scale_rows(name, r)
    if name == "baselines":
        return [
            _row(
                name,
                f"TF-IDF baseline on {r['texts']:,} training texts (fitted on {r['cap']:,}): seconds",
                r["seconds"],
                f"< {r['goal_s']}",
                r["goal_met"],
            ),
            _row(name, "  held-out accuracy, full fit minus the sample's", r["sample_accuracy_cost"], "", None),
        ]
    if name == "forecast":
        return _forecast_rows(name, r)
    if name == "keras_parity":
        if r.get("skipped"):
            return [_row(name, "Keras vs rnnexp defaults", "skipped", r["skipped"], None)]
        return [
            _row(name, x["setup"], "skipped", x["skipped"], None)
            if x.get("skipped")
            else _row(
                name,
                f"{x['setup']} ({r['seeds']} seeds, Keras on {r['backend']}): rnnexp / Keras",
                f"{x['rnnexp']} / {x['keras']}",
                ">= Keras mean - 1 std",
                x["goal_met"],
            )
            for x in r["rows"]
        ]
    if name == "keras_compare":
        if r.get("skipped"):
            return [_row(name, "Keras vs rnnexp", "skipped", r["skipped"], None)]
        return [
            _row(
                name,
                f"{x['cell']}: Keras epoch time / rnnexp epoch time",
                x["ratio"],
                ">= 1 (rnnexp not slower)",
                x["ratio"] >= 1.0,
            )
            for x in r["rows"]
        ]
    return [_row(name, "(no summary for this benchmark)", "", "", None)]


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| benchmark | measure | value | goal | met |", "| --- | --- | --- | --- | --- |"]
    mark = {True: "yes", False: "**no**", None: ""}
    for r in rows:
        lines.append(f"| {r['benchmark']} | {r['measure']} | {r['value']} | {r['goal']} | {mark[r['met']]} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only-report", action="store_true", help="do not run the benchmarks; report bench/results as it is")
    parser.add_argument("--only", action="append", choices=SCRIPTS, help="run only these (repeatable); report all")
    args = parser.parse_args()
    runs: dict[str, dict[str, Any]] = {}
    kept: dict[str, Any] = {}  # the last report's results: what a benchmark not run since still says
    partial = args.only_report or args.only
    if partial and (RESULTS / "latest.json").is_file():  # when and how each result was measured
        previous = json.loads((RESULTS / "latest.json").read_text())
        runs, kept = previous.get("runs", {}), previous.get("results", {})
    if not args.only_report:
        for name in args.only or SCRIPTS:
            print(f"\n=== bench/{name}.py", flush=True)
            started = time.perf_counter()
            proc = subprocess.run([sys.executable, str(BENCH / f"{name}.py")])
            runs[name] = {
                "exit_code": proc.returncode,
                "seconds": round(time.perf_counter() - started, 1),
                "measured_at": time.strftime("%Y-%m-%d", time.gmtime()),
                "command": f"python bench/{name}.py",
            }
    rows, results = [], {}
    for name in SCRIPTS:
        path = RESULTS / f"{name}.json"
        if runs.get(name, {}).get("exit_code", 0) != 0 or not (path.is_file() or name in kept):
            rows.append(_row(name, "benchmark failed or never ran", runs.get(name, {}).get("exit_code", "no result"), "", False))
            continue
        results[name] = json.loads(path.read_text()) if path.is_file() else kept[name]
        rows += rows_for(name, results[name])
    print("\n" + markdown(rows))
    RESULTS.mkdir(exist_ok=True)
    latest = {
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "runs": runs,
        "rows": rows,
        "results": results,
    }
    (RESULTS / "latest.json").write_text(json.dumps(latest, indent=2) + "\n")
    print(f"\nwritten: {RESULTS / 'latest.json'}")


if __name__ == "__main__":
    main()
