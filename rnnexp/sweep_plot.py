"""sweep.png (rnnexp plot SWEEP_FOLDER): a grid of panels that answer what the search found. What
it decides (the grid's shape, the trials importances come from, when they are too few to read)
are plain functions above the drawing, tested without images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import counted
from .plots import pyplot, save_figure
from .rundir import RunDir

IMPORTANCE_MIN_TRIALS = 20  # fewer complete trials than this: importances are mostly noise


def importance_title(trials: int) -> tuple[str, str | None]:
    """The importance panel's title, naming the complete trials the importances come from, and the
    warning it carries below IMPORTANCE_MIN_TRIALS (None above)."""
    title = f"parameter importance, from {counted(trials, 'complete trial')}"
    if trials >= IMPORTANCE_MIN_TRIALS:
        return title, None
    return title, f"only {counted(trials, 'trial')} (fewer than {IMPORTANCE_MIN_TRIALS}):\nthese importances are mostly noise"


def complete_trials(res: dict[str, Any]) -> int:
    """The complete trials importances are computed over: Optuna's complete trials, repeats included
    (each a complete trial of the study), surplus ones (failed) not."""
    return sum(1 for t in res["trials"] if t["state"] == "COMPLETE")


def sweep_grid(panels: int) -> tuple[int, int]:
    """(rows, columns) of sweep.png's grid: two columns up to four panels, three up to nine, then four."""
    cols = 2 if panels <= 4 else 3 if panels <= 9 else 4
    return -(-panels // cols), cols


def plot_sweep(res: dict[str, Any], importance: dict[str, float] | None, out: str | Path) -> Path:
    """sweep.png, a grid of panels: the objective by trial with the best so far, each trial's curve
    of the objective's metric per epoch (read from its run folder; pruned ones faded), each searched
    key against the objective (complete filled, pruned hollow, the best starred), and the parameter
    importances with the number of trials they come from."""
    trials = [t for t in res["trials"] if scored(t)]
    rows, cols = sweep_grid(3 + len(res["params"]))
    plt = pyplot()
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.6 * rows), dpi=110, squeeze=False, layout="constrained")
    cells = list(axes.flat)
    _draw_history(cells[0], res, trials)
    _draw_trial_curves(cells[1], res, trials)
    for ax, key in zip(cells[2:], res["params"]):
        _draw_param(ax, res, key, trials)
    _draw_importance(cells[2 + len(res["params"])], importance, complete_trials(res))
    for ax in cells[3 + len(res["params"]) :]:
        ax.axis("off")
    counts = res["counts"]
    fig.suptitle(
        f"{res['study']}: {res['metric']} ({res['direction']}), {counts['COMPLETE']} complete and {counts['PRUNED']} pruned "
        "trials; filled: complete, hollow/faded: pruned, star: best",
        fontsize=10,
    )
    return save_figure(fig, out)


def _is_best(res: dict[str, Any], t: dict[str, Any]) -> bool:
    return bool(res["best"]) and t["number"] == res["best"]["number"]


def scored(t: dict[str, Any]) -> bool:
    """A results row with a value of its own: complete or stopped early (paused, pruned, out of
    budget), not a repeat (its value is the earlier trial's). The rows the plot draws, and the
    values of the best so far (the sweep's best's: TrialLedger.best)."""
    return t["state"] in ("COMPLETE", "PRUNED") and t["value"] is not None and t.get("same_as") is None


def best_so_far(trials: list[dict[str, Any]], direction: str) -> list[tuple[int, float]]:
    """(trial number, best value of the trials up to it) from the first trial with a value on: the
    line of how the search improved, over the rows that are `scored`."""
    pick = max if direction == "maximize" else min
    steps, best = [], None
    for t in sorted(trials, key=lambda t: t["number"]):
        if scored(t):
            best = t["value"] if best is None else pick(best, t["value"])
        if best is not None:
            steps.append((t["number"], best))
    return steps


def param_axis(values: list[Any]) -> str:
    """How a searched key's values sit on their axis: "category" for non-numbers and for numbers with
    at most five distinct values (a list of choices), else "log" when they span 20x, else "linear"."""
    numeric = bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    if not numeric or len(set(values)) <= 5:
        return "category"
    return "log" if min(values) > 0 and max(values) / min(values) >= 20 else "linear"


def _draw_history(ax, res: dict[str, Any], trials: list[dict[str, Any]]) -> None:
    """The objective by trial number, and the best so far (a step line)."""
    from matplotlib.ticker import MaxNLocator

    for t in trials:
        done = t["state"] == "COMPLETE"
        ax.scatter([t["number"]], [t["value"]], s=30, color="C0", facecolors="C0" if done else "none", zorder=3)
        if _is_best(res, t):
            ax.scatter([t["number"]], [t["value"]], marker="*", s=220, color="C3", edgecolors="black", zorder=5)
    steps = best_so_far(trials, res["direction"])
    if steps:
        ax.plot(*zip(*steps), color="C3", drawstyle="steps-post", linewidth=1.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial number")
    ax.set_ylabel(res["metric"])
    ax.set_title(f"{res['metric']} by trial (red line: best so far)", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.margins(0.08)  # room for the stars at the edges


def _draw_trial_curves(ax, res: dict[str, Any], trials: list[dict[str, Any]]) -> None:
    """Each trial's metric per epoch from its run folder's metrics.csv: complete ones solid, pruned
    faded, the best one red and thick."""
    from matplotlib.ticker import MaxNLocator

    metric = res["metric"]
    for t in trials:
        history = [h for h in RunDir(t["run_dir"]).read_metrics() if h.get(metric) is not None] if t.get("run_dir") else []
        if not history:
            continue
        best, done = _is_best(res, t), t["state"] == "COMPLETE"
        style = (
            {"color": "C3", "linewidth": 2.2, "zorder": 4}
            if best
            else {"color": "C0", "alpha": 0.8}
            if done
            else {"color": "0.55", "alpha": 0.45}
        )
        ax.plot([h["epoch"] for h in history], [h[metric] for h in history], marker="o", markersize=2.5, **style)
        if best:
            ax.annotate(f"#{t['number']}", (history[-1]["epoch"], history[-1][metric]), fontsize=8, color="C3",
                        xytext=(4, 0), textcoords="offset points", va="center")  # fmt: skip
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} per epoch, each trial (gray: pruned, red: best)", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.margins(x=0.1)  # room for the best trial's number


def _draw_param(ax, res: dict[str, Any], key: str, trials: list[dict[str, Any]]) -> None:
    """One searched key against the objective, its values placed as param_axis says."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    values = [t.get(key) for t in trials]
    axis = param_axis(values)
    if axis == "category":
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        cats = sorted({json.dumps(v) for v in values}, key=json.loads if numeric else None)
        xs = [cats.index(json.dumps(v)) for v in values]
        ax.set_xticks(range(len(cats)), [c.strip('"') for c in cats], rotation=30 if len(cats) > 3 else 0, fontsize=8)
        ax.set_xlim(-0.5, len(cats) - 0.5)
    else:
        xs = values
        if axis == "log":
            ax.set_xscale("log")
            ax.xaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.2g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
    for x, t in zip(xs, trials):
        ax.scatter([x], [t["value"]], s=30, color="C0", facecolors="C0" if t["state"] == "COMPLETE" else "none", alpha=0.85)
        if _is_best(res, t):
            ax.scatter([x], [t["value"]], marker="*", s=220, color="C3", edgecolors="black", zorder=5)
    ax.set_xlabel(key + (" (log scale)" if axis == "log" else ""))
    ax.set_ylabel(res["metric"])
    ax.set_title(f"{key} against {res['metric']}", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.margins(y=0.08, x=0.08 if axis != "category" else 0)


def _draw_importance(ax, importance: dict[str, float] | None, trials: int) -> None:
    title, warning = importance_title(trials)
    ax.set_title(title, fontsize=10)
    if not importance:
        ax.axis("off")
        ax.text(0.5, 0.5, "not computed: it needs two complete trials\nand every searched key varied", ha="center",
                va="center", fontsize=9, transform=ax.transAxes)  # fmt: skip
        return
    names = list(importance)
    ax.barh(range(len(names)), [importance[n] for n in names], color="0.7" if warning else "C2")
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("importance (random forest, mean decrease in impurity)", fontsize=8)
    if warning:  # below the axis, where no bar can hide it
        ax.text(0.5, -0.2, f"⚠ {warning}", color="C3", fontsize=9, fontweight="bold", ha="center", va="top",
                transform=ax.transAxes)  # fmt: skip
