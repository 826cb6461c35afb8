"""The pictures of runs (matplotlib, Agg backend: no display needed): learning curves (curves.png,
rnnexp plot) and the learning-rate range test (lr_find.png and its folder); sweep.png is
sweep_plot.py's.

What a picture decides (which metric its panel shows, how the legend tells runs apart, whether
the lr gets a panel) is a plain function above the drawing, so the decisions are tested without
images."""

from __future__ import annotations

import csv
import io
import json
import textwrap
from pathlib import Path
from typing import Any

from .config import Config, EarlyStoppingConfig, dump_config, headline_metric
from .errors import counted
from .report import differing_keys, run_row
from .rundir import RunDir, Status, replacing, write_json, write_text

LOSS_COLUMNS = ("train_loss", "val_loss")  # the loss panel's curves
RUN_LABEL_IN_KEY = 40  # characters: a longer run label is left to the legend of runs (a baseline has its run's colour)
ENDINGS = {Status.EARLY_STOPPED: "early stop", Status.PRUNED: "pruned"}  # marked on the loss panel


def pyplot():
    """matplotlib.pyplot on the Agg backend."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | Path) -> Path:
    """Write a figure whole at ``path`` (rundir.replacing): a PNG, unless the suffix names another
    format matplotlib writes (.svg, .pdf); then close it."""
    path = Path(path)
    kind = path.suffix[1:].lower()
    try:
        with replacing(path) as tmp:
            fig.savefig(tmp, format=kind if kind in fig.canvas.get_supported_filetypes() else "png")
    finally:
        pyplot().close(fig)
    return path


# ---------------------------------------------------------------------------------------------
# What the learning-curve picture shows


def legend_labels(rows: list[dict[str, Any]]) -> list[str]:
    """How the legend tells runs (run_row rows) apart: one run needs no label (the title names it);
    several are labelled by every config key that differs between them, as key=value; a run whose
    label would be empty or another's (the same config) is named by its folder too."""
    if len(rows) == 1:
        return [""]
    keys = differing_keys([r["config"] for r in rows])
    labels = [", ".join(f"{k}={_text(r['config'].get(k))}" for k in keys) for r in rows]
    named = lambda r, label: f"{r['run']}: {label}" if label else r["run"]
    return [named(r, label) if not label or labels.count(label) > 1 else label for r, label in zip(rows, labels)]


def _text(value: Any) -> str:
    """A config value as a user writes it in --set (true, null, [1, 2]; 0.001 and gru as they are)."""
    return json.dumps(value) if value is None or isinstance(value, (bool, list, dict)) else str(value)


def monitor_of(row: dict[str, Any]) -> str:
    return row["config"].get("train.early_stopping.monitor") or str(row["monitor"])


def metric_shown(monitor: str, task: str) -> str:
    """The metric a run's metric panel draws: the monitored one, unless that is a loss (the loss
    panel draws those): then the task's main validation metric (accuracy; forecasting MAE)."""
    return "val_" + headline_metric(task) if monitor in LOSS_COLUMNS else monitor


def best_word(row: dict[str, Any]) -> str:
    """Which end of its monitor a run's best epoch is: "highest" or "lowest" (early stopping's mode)."""
    section = {k.rsplit(".", 1)[1]: v for k, v in row["config"].items() if k.startswith("train.early_stopping.")}
    return "highest" if EarlyStoppingConfig.model_construct(**section).resolved_mode == "max" else "lowest"


def metric_panel(rows: list[dict[str, Any]]) -> tuple[str, str]:
    """(metric, title) of the metric panel: the metric every run's metric_shown agrees on (else
    the first run's task's main validation metric), and a title that says why it is that metric
    and by what the best epoch is starred."""
    monitors = sorted({monitor_of(r) for r in rows})
    shown = {metric_shown(monitor_of(r), r["task"]) for r in rows}
    metric = shown.pop() if len(shown) == 1 else metric_shown(LOSS_COLUMNS[1], rows[0]["task"])
    if len(monitors) > 1:
        return metric, f"{metric}\n★ each run's best epoch by its own monitor ({', '.join(monitors)})"
    monitor, word = monitors[0], best_word(rows[0])
    if monitor == metric:
        return metric, f"{metric}, the monitored metric\n★ best epoch: {word} {monitor}"
    return (
        metric,
        f"{metric}, the task's main validation metric\n★ best epoch: {word} {monitor} (the monitor, starred in the loss panel)",
    )


def lr_changes(histories: list[list[dict[str, Any]]]) -> bool:
    """Whether the lr gets its own panel: only when it changes over some run's epochs (a schedule,
    a warmup); a constant one is named in the loss panel's title instead of drawn flat."""
    return any(len({h["lr"] for h in history if h.get("lr") is not None}) > 1 for history in histories)


def constant_lr_note(histories: list[list[dict[str, Any]]]) -> str:
    """The loss panel's title words for lrs that do not change: "lr 0.001, constant"."""
    lrs = sorted({h["lr"] for history in histories for h in history if h.get("lr") is not None})
    if not lrs:
        return ""
    each = " in each run" if len(histories) > 1 else ""
    return f"lr {', '.join(f'{lr:.3g}' for lr in lrs)}, constant{each}"


def baseline_lines(per_run: list[dict[str, dict[str, float]]], metric: str) -> list[tuple[int | None, str, float]]:
    """The baselines' horizontal lines on the metric panel as (run index, name, value): only those
    of the metric drawn; once (run index None) when every run has the same ones (the same
    validation data), else each run's own."""
    lines = [b.get(metric) or {} for b in per_run]
    if all(line == lines[0] for line in lines):
        return [(None, name, value) for name, value in sorted(lines[0].items())]
    return [(i, name, value) for i, line in enumerate(lines) for name, value in sorted(line.items())]


# ---------------------------------------------------------------------------------------------
# Learning curves


def plot_curves(paths: list[str | Path], out: str | Path, summaries: list[dict] | None = None) -> Path:
    """Learning curves of one or more runs in one PNG: losses (train solid, val dashed), the lr in
    a small panel below when it changes, and the metric of metric_panel with the baselines of that
    metric as horizontal lines, best epochs starred, early stops marked; the legends sit below the
    panels, several runs told apart by legend_labels. How each run ended, its best epoch and its
    baselines come from its summary.json, or from ``summaries`` (the end of training draws first)."""
    runs = [RunDir.open(p) for p in paths]
    summaries = summaries or [r.read_summary() for r in runs]
    baselines = [s.get("baselines") or {} for s in summaries]
    rows, histories = [run_row(r.path, s) for r, s in zip(runs, summaries)], [r.read_metrics() for r in runs]
    labels, (metric, title), with_lr = legend_labels(rows), metric_panel(rows), lr_changes(histories)
    colors = ["C0"] if len(rows) == 1 else [f"C{i % 10}" for i in range(len(rows))]
    plt = pyplot()
    fig = plt.figure(figsize=(FIGURE_IN[0], FIGURE_IN[1]), dpi=110)  # placed by curve_boxes once the legends are known
    ax_loss = fig.add_axes((0, 0, 1, 1))
    ax_lr = fig.add_axes((0, 0, 1, 1), sharex=ax_loss) if with_lr else None
    ax_metric = fig.add_axes((0, 0, 1, 1))
    for history, row, color in zip(histories, rows, colors):
        _draw_run((ax_loss, ax_lr, ax_metric), history, row, color, metric)
    lines = _draw_baselines(ax_metric, baseline_lines(baselines, metric), labels, colors)
    _label_axes(ax_loss, ax_lr, ax_metric, metric, title, "" if with_lr else constant_lr_note(histories))
    if ax_lr is not None:
        ax_lr.set_title(f"learning rate per epoch ({schedule_words(rows)})", fontsize=9)
    keys = _style_keys(rows, colors, metric)
    keys[1] += lines
    keys_in = 0.2 * max(-(-len(k) // 2) for k in keys) + 0.1
    runs_in = _run_legend(fig, labels, colors) if len(rows) > 1 else 0.0
    boxes, height = curve_boxes(with_lr, keys_in, runs_in), curves_height(keys_in, runs_in)
    fig.set_size_inches(FIGURE_IN[0], height)
    for name, ax in (("loss", ax_loss), ("lr", ax_lr), ("metric", ax_metric)):
        if ax is not None:
            ax.set_position(boxes[name])
    for name, entries in zip(("loss keys", "metric keys"), keys):
        left, low, wide, high = boxes[name]  # hung from the middle of its box's top edge
        fig.legend(
            *zip(*entries), loc="upper center", bbox_to_anchor=(left + wide / 2, low + high), ncol=2, fontsize=8, frameon=False
        )
    head = rows[0]
    fig.suptitle(
        f"{head['run']}: {str(head['status']).replace('_', ' ')} after {counted(head['epochs'], 'epoch')}"
        if len(rows) == 1
        else f"{len(rows)} runs, told apart by the config keys that differ (legend below)",
        fontsize=11,
        y=1 - 0.12 / height,
        va="top",
    )
    return save_figure(fig, out)


# curves.png's fixed layout, in inches. A layout engine (matplotlib's constrained layout) measured
# every label of the figure twice per picture, and was most of the time a short run took to draw
# it: every run draws one. Width: a margin for the y labels, the loss column, a gap holding the
# metric panel's y labels, the metric column, a margin. Height: the figure's and panels' titles
# (a panel title may take two lines), the panels, their x labels; the legends' rows are added below.
FIGURE_IN = (12.0, 5.1)  # without the legends below the panels
COLUMNS_IN = ((0.85, 4.95), (6.9, 4.85))  # (left edge, width) of the loss column and the metric column
TITLES_IN, X_LABELS_IN, LR_TITLE_IN = 0.95, 0.6, 0.4
LR_SHARE = 1.1 / 4.4  # the lr panel's share of the loss column's height, when it has one


def curves_height(keys_in: float, runs_in: float) -> float:
    """curves.png's height in inches: the panels' block and the legends' rows under it."""
    return FIGURE_IN[1] + keys_in + runs_in


def curve_boxes(with_lr: bool, keys_in: float, runs_in: float) -> dict[str, tuple[float, float, float, float]]:
    """Where each part of curves.png sits, as figure fractions (left, bottom, width, height): the
    loss panel, the lr panel under it (``with_lr``), the metric panel, and the boxes of the two
    legends of line styles under them (``keys_in`` high); the legend of runs takes ``runs_in`` at
    the bottom."""
    width, height = FIGURE_IN[0], curves_height(keys_in, runs_in)
    bottom, top = runs_in + keys_in + X_LABELS_IN, height - TITLES_IN

    def box(column: int, low: float, high: float) -> tuple[float, float, float, float]:
        left, wide = COLUMNS_IN[column]
        return (left / width, low / height, wide / width, (high - low) / height)

    boxes = {
        "metric": box(1, bottom, top),
        "loss keys": box(0, runs_in, runs_in + keys_in),
        "metric keys": box(1, runs_in, runs_in + keys_in),
    }
    if with_lr:
        lr_top = bottom + (top - bottom - LR_TITLE_IN) * LR_SHARE
        boxes.update(lr=box(0, bottom, lr_top), loss=box(0, lr_top + LR_TITLE_IN, top))
    else:
        boxes["loss"] = box(0, bottom, top)
    return boxes


def schedule_words(rows: list[dict[str, Any]]) -> str:
    """The lr panel's words for the runs' schedules: "cosine schedule, 1 warmup epoch"."""
    words = []
    for row in rows:
        kind, warmup = row["config"].get("train.lr_schedule.kind"), row["config"].get("train.lr_schedule.warmup_epochs")
        text = (f"{kind} schedule" if kind and kind != "none" else "constant") + (
            f", {warmup} warmup epoch{'s' if warmup != 1 else ''}" if warmup else ""
        )
        words += [text] if text not in words else []
    return "; ".join(words)


def _draw_run(axes, history: list[dict[str, Any]], row: dict[str, Any], color: str, metric: str) -> None:
    """One run's curves: losses (and the lr) on the left, the metric on the right, its best epoch
    starred on the metric's curve (and on the monitor's, when that is a loss) and its end marked."""
    ax_loss, ax_lr, ax_metric = axes
    if not history:
        return
    epochs = [h["epoch"] for h in history]
    for column, style in zip(LOSS_COLUMNS, ("-", "--")):
        if any(h.get(column) is not None for h in history):
            ax_loss.plot(epochs, [h.get(column) for h in history], color=color, linestyle=style)
    if ax_lr is not None:
        ax_lr.plot(epochs, [h["lr"] for h in history], color=color, marker=".", linewidth=1.2)
    if any(h.get(metric) is not None for h in history):
        ax_metric.plot(epochs, [h.get(metric) for h in history], color=color, marker="o", markersize=3)
    best, monitor = row["best_epoch"], monitor_of(row)
    for ax, column in ((ax_metric, metric), (ax_loss, monitor if monitor in LOSS_COLUMNS else None)):
        value = next((h.get(column) for h in history if h["epoch"] == best), None) if best and column else None
        if value is not None:
            ax.axvline(best, color=color, linestyle=":", linewidth=1)
            ax.plot([best], [value], marker="*", markersize=14, color=color, markeredgecolor="black", zorder=5)
    ending = ENDINGS.get(row["status"])
    if ending:
        ax_loss.axvline(epochs[-1], color=color, linestyle="-.", linewidth=1, alpha=0.7)
        ax_loss.text(epochs[-1], 0.03, f"{ending} ", transform=ax_loss.get_xaxis_transform(), fontsize=8, color=color, ha="right")


def _label_axes(ax_loss, ax_lr, ax_metric, metric: str, title: str, lr_note: str) -> None:
    from matplotlib.ticker import MaxNLocator

    ax_loss.set_title("loss" + (f" ({lr_note})" if lr_note else ""), fontsize=10)
    ax_loss.set_ylabel("loss")
    ax_metric.set_title(title, fontsize=10)
    ax_metric.set_ylabel(metric)
    for ax in (a for a in (ax_loss, ax_lr, ax_metric) if a is not None):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
    for ax in (ax_lr if ax_lr is not None else ax_loss, ax_metric):
        ax.set_xlabel("epoch")
    if ax_lr is not None:
        ax_loss.tick_params(labelbottom=False)
        ax_lr.set_ylabel("lr")
        lrs = [y for line in ax_lr.get_lines() for y in line.get_ydata()]
        if lrs and min(lrs) > 0 and max(lrs) / min(lrs) >= 10:
            ax_lr.set_yscale("log")
    if not ax_metric.lines:
        ax_metric.text(0.5, 0.5, f"no {metric} recorded (no validation data)", ha="center", transform=ax_metric.transAxes)


def _draw_baselines(ax, lines: list[tuple[int | None, str, float]], labels: list[str], colors: list[str]) -> list[tuple]:
    """The baseline_lines on the metric panel, a line style per baseline (gray when shared by every
    run, else the run's colour); returns their legend entries."""
    patterns = ("--", ":", "-.", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)))  # a forecast has five baselines
    styles = {name: patterns[k % len(patterns)] for k, name in enumerate(sorted({name for _, name, _ in lines}))}
    entries = []
    for i, name, value in lines:
        line = ax.axhline(value, color="0.35" if i is None else colors[i], linestyle=styles[name], linewidth=1.2, alpha=0.8)
        # a run's own baseline is drawn in its colour; its label, when short enough to read on one line
        whose = f" ({labels[i]})" if i is not None and labels[i] and len(labels[i]) <= RUN_LABEL_IN_KEY else ""
        entries.append((line, f"baseline: {name.replace('_', ' ')} {value:.3g}{whose}"))
    return entries


def _style_keys(rows: list[dict[str, Any]], colors: list[str], metric: str) -> list[list[tuple]]:
    """The legend entries of the loss panel and of the metric panel: what each line style means
    (in the run's colour for one run, gray for several: there the colours are the runs)."""
    from matplotlib.lines import Line2D

    ink = colors[0] if len(rows) == 1 else "0.3"
    key = lambda **kw: Line2D([], [], color=ink, **kw)
    star = key(linestyle="", marker="*", markersize=12, markeredgecolor="black")
    best = f"best epoch {rows[0]['best_epoch']}" if len(rows) == 1 else "best epoch of each run"
    loss = [(key(), "train loss"), (key(linestyle="--"), "val loss")]
    endings = sorted({ENDINGS[r["status"]] for r in rows if r["status"] in ENDINGS})
    if endings:
        loss.append((key(linestyle="-."), " / ".join(endings)))
    if any(monitor_of(r) in LOSS_COLUMNS for r in rows):
        loss.append((star, best))
    return [loss, [(key(marker="o", markersize=3), metric), (star, best)]]


def _run_legend(fig, labels: list[str], colors: list[str]) -> float:
    """One entry per run under the whole figure; returns the inches it takes."""
    from matplotlib.lines import Line2D

    wrapped = [textwrap.fill(label, 110, break_on_hyphens=False) for label in labels]
    ncol = 1 if max(map(len, labels)) > 45 else min(3, len(labels))
    handles = [Line2D([], [], color=c, linewidth=3) for c in colors]
    fig.legend(handles, wrapped, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=ncol, fontsize=8)
    lines = sum(max(w.count("\n") + 1 for w in wrapped[i : i + ncol]) for i in range(0, len(wrapped), ncol))
    return 0.17 * lines + 0.3


# ---------------------------------------------------------------------------------------------
# The learning-rate range test


def save_lr_find(result: dict[str, Any], cfg: Config, runs_dir: str | Path) -> RunDir:
    """Write lr_find.png, lr_find.csv, lr_find.json and config.yaml into a new folder under runs_dir."""
    staged = RunDir.stage(runs_dir, f"{cfg.run_name}-lr-find", checkpoints=False)  # in place only when whole
    folder = staged.run
    try:
        write_text(folder.config, dump_config(cfg))
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["step", "lr", "loss", "smoothed_loss"])
        for i, row in enumerate(zip(result["lrs"], result["losses"], result["smoothed"]), 1):
            writer.writerow([i, *(repr(v) for v in row)])
        write_text(folder.path / "lr_find.csv", buf.getvalue())
        summary = {k: v for k, v in result.items() if k not in ("lrs", "losses", "smoothed", "config")}
        write_json(folder.path / "lr_find.json", summary)
        plot_lr_find(result, folder.path / "lr_find.png", title=cfg.run_name)
        return staged.publish()
    except BaseException:
        staged.discard()
        raise


def plot_lr_find(result: dict[str, Any], path: Path, title: str = "") -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    ax.plot(result["lrs"], result["losses"], color="0.8", linewidth=0.8, label="loss per batch")
    ax.plot(result["lrs"], result["smoothed"], color="C0", linewidth=2, label="smoothed loss")
    ax.axhline(result["prior_loss"], color="0.4", linestyle=":", linewidth=1, label="predicting class frequencies")
    ax.axvline(result["suggested_lr"], color="C2", linestyle="--", label=f"suggested lr {result['suggested_lr']:.2g}")
    ax.axvline(result["min_loss_lr"], color="C3", linestyle=":", label=f"lowest loss at {result['min_loss_lr']:.2g}")
    ax.set_xscale("log")
    ax.set_xlim(result["lrs"][0], result["lrs"][-1])
    low, high = min(result["smoothed"]), result["smoothed"][0]
    ax.set_ylim(max(0.0, low - 0.1 * (high - low + 1e-9)), max(high, result["prior_loss"]) * 1.15)
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("training loss")
    ax.set_title(f"learning-rate range test {title}".strip())
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
