"""Files for people to look at: plots (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import yaml

from .config import Config, direction_of, dump_config, flatten, headline_metric
from .errors import ConfigError, RunDirError
from .rundir import RunDir, Status, write_json, write_text


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


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
        plot_lr_find(result, folder.path / "lr_find.png", title=cfg.name)
        return staged.publish()
    except BaseException:
        staged.discard()
        raise


def plot_lr_find(result: dict[str, Any], path: Path, title: str = "") -> None:
    plt = _pyplot()
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
    fig.savefig(path)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# Runs: a table, a comparison, learning curves


def find_runs(runs_dir: str | Path, trials: bool = False) -> list[Path]:
    """Run folders directly under runs_dir (and inside its sweep folders' trials/ when asked), oldest first."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise RunDirError(f"{runs_dir}: no such runs folder")
    is_run = lambda p: RunDir(p).in_place
    found = [p for p in runs_dir.iterdir() if is_run(p)]
    if trials:
        found += [p for p in runs_dir.glob("sweep_*/trials/*") if is_run(p)]
    names = {p.name for p in found}

    def started(p: Path) -> tuple[str, int]:
        # <UTC stamp>_<name>, then -2, -3 ... for runs started in the same second (Staged.publish)
        base, _, n = p.name.rpartition("-")
        order = int(n) if n.isdigit() and base in names else 1
        return p.name.removeprefix("sweep_").split("_", 1)[0], order

    return sorted(found, key=started)


def run_row(path: str | Path) -> dict[str, Any]:
    """One line about a run: what it was, how it ended, its best validation score and its test score."""
    run = RunDir(path)
    cfg = yaml.safe_load(run.config.read_text(encoding="utf-8")) or {}
    summary = run.read_summary()
    meta = _json_or_empty(run.meta)
    flat = flatten(cfg)
    test = _json_or_empty(run.eval_file("test"))
    test_key = headline_metric(flat.get("data.task", ""))
    return {
        "run": run.path.name,
        "path": str(run.path),
        "started": meta.get("started_at", ""),
        "status": str(run.status(summary)),
        "task": flat.get("data.task", ""),
        "dataset": flat.get("data.dataset") or Path(str(flat.get("data.train_file") or "")).name,
        "cell": flat.get("model.cell"),
        "units": flat.get("model.num_neurons"),
        "lr": flat.get("train.lr"),
        "epochs": summary.get("epochs_run"),
        "monitor": summary.get("monitor"),
        "best": summary.get("best_score"),
        "best_epoch": summary.get("best_epoch"),
        f"test_{test_key}": test.get(test_key),
        "config": flat,
    }


def list_runs(
    runs_dir: str | Path, filters: list[str] = (), sort: str | None = None, trials: bool = False
) -> list[dict[str, Any]]:
    """Rows of run_row, kept when every KEY=VALUE filter matches (a column or a dotted config key;
    VALUE read as YAML), ordered by a column or config key (a leading '-' for descending)."""
    wanted = []
    for item in filters:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--filter {item!r}: expected KEY=VALUE, e.g. --filter model.cell=gru")
        wanted.append((key.strip(), yaml.safe_load(text) if text.strip() else None))
    rows = []
    for path in find_runs(runs_dir, trials):
        try:
            row = run_row(path)
        except (OSError, ValueError, yaml.YAMLError):
            continue  # a folder being created right now, or damaged: not a run to list
        if all(_lookup(row, key) == value or str(_lookup(row, key)) == str(value) for key, value in wanted):
            rows.append(row)
    if sort:
        key, reverse = sort.lstrip("-"), sort.startswith("-")
        present = [r for r in rows if _lookup(r, key) is not None]
        if rows and not present and key not in rows[0] and key not in rows[0]["config"]:
            raise ConfigError(f"--sort {sort!r}: no column or config key {key!r}")
        present.sort(key=_best_first if key == "best" else lambda r: _lookup(r, key), reverse=reverse)
        rows = present + [r for r in rows if _lookup(r, key) is None]
    return rows


def _best_first(row: dict[str, Any]) -> tuple[str, float]:
    """Sort key of --sort best: runs grouped by the metric they monitor (a loss and an accuracy do
    not compare), the best first within each, by that metric's direction."""
    monitor = str(row["monitor"])
    return monitor, -row["best"] if direction_of(monitor) == "max" else row["best"]


def _lookup(row: dict[str, Any], key: str) -> Any:
    return row[key] if key in row else row["config"].get(key)


def compare_runs(paths: list[str | Path]) -> dict[str, Any]:
    """Config keys whose values differ between the runs (the rest is shared), and each run's scores."""
    if len(paths) < 2:
        raise RunDirError("compare needs at least two run folders")
    rows = [run_row(RunDir.open(p).path) for p in paths]
    keys = sorted(set().union(*(r["config"] for r in rows)) - {"name"})
    differences = {k: [r["config"].get(k) for r in rows] for k in keys if len({json.dumps(r["config"].get(k)) for r in rows}) > 1}
    metrics = []
    for r in rows:
        history = RunDir(r["path"]).read_metrics()
        last = history[-1] if history else {}
        test = _json_or_empty(RunDir(r["path"]).eval_file("test"))
        metrics.append(
            {
                "run": r["run"],
                "status": r["status"],
                "epochs": r["epochs"],
                "best": r["best"],
                "best_epoch": r["best_epoch"],
                "monitor": r["monitor"],
                "last_train_loss": last.get("train_loss"),
                "last_val_loss": last.get("val_loss"),
                "test": {k: test.get(k) for k in ("accuracy", "f1", "mae", "rmse") if test.get(k) is not None},
                "baseline": test.get("baseline") or (test.get("baselines") or {}).get("persistence"),
            }
        )
    return {"runs": [r["path"] for r in rows], "differences": differences, "metrics": metrics}


def plot_curves(paths: list[str | Path], out: str | Path, baselines: list[dict] | None = None) -> Path:
    """Learning curves of one or more runs in one PNG: losses (train solid, val dashed) with the lr
    on a second axis, and the validation metric with each baseline's validation score as a
    horizontal line (from summary.json, or ``baselines`` per run); best epochs dotted, early stops
    marked. Several runs are told apart by the config keys that differ between them."""
    runs = [RunDir.open(p) for p in paths]
    if baselines is None:
        baselines = [r.read_summary().get("baselines") or {} for r in runs]
    rows = [run_row(r.path) for r in runs]
    labels = _legend_labels(rows)
    metric = "val_" + headline_metric(rows[0]["task"])
    plt = _pyplot()
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(12, 4.6), dpi=110)
    ax_lr = ax_loss.twinx()
    for i, (run, row, label) in enumerate(zip(runs, rows, labels)):
        _draw_run((ax_loss, ax_lr, ax_metric), run.read_metrics(), row, label, f"C{i % 10}", metric, baselines[i])
    from matplotlib.ticker import MaxNLocator

    for ax in (ax_loss, ax_metric):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss (train solid, val dashed)")
    ax_lr.set_ylabel("learning rate (dotted)")
    ax_lr.set_yscale("log")
    ax_loss.set_title("loss")
    ax_loss.grid(True, alpha=0.3)
    ax_loss.legend(fontsize=7, loc="upper right")
    ax_metric.set_xlabel("epoch")
    ax_metric.set_ylabel(metric)
    monitors = sorted({str(row["monitor"]) for row in rows})
    by = monitors[0] if len(monitors) == 1 else "each run's own monitor (" + ", ".join(monitors) + ")"
    ax_metric.set_title(f"{metric} (star: best epoch by {by}; thin lines: baselines)", fontsize=10 if len(monitors) == 1 else 8)
    ax_metric.grid(True, alpha=0.3)
    if ax_metric.lines:
        ax_metric.legend(fontsize=7)
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out)
    plt.close(fig)
    return out


def _draw_run(axes, history: list[dict[str, Any]], row: dict[str, Any], label: str, color: str, metric: str, lines: dict) -> None:
    """One run's curves: losses and lr on the left, the metric, its best epoch and baselines on the right."""
    ax_loss, ax_lr, ax_metric = axes
    if not history:
        return
    epochs = [h["epoch"] for h in history]
    ax_loss.plot(epochs, [h["train_loss"] for h in history], color=color, label=f"{label} train")
    if any(h.get("val_loss") is not None for h in history):
        ax_loss.plot(epochs, [h.get("val_loss") for h in history], color=color, linestyle="--", label=f"{label} val")
    ax_lr.plot(epochs, [h["lr"] for h in history], color=color, linestyle=":", linewidth=1, alpha=0.6)
    if any(h.get(metric) is not None for h in history):
        ax_metric.plot(epochs, [h.get(metric) for h in history], color=color, marker="o", markersize=3, label=label)
    best = row["best_epoch"]
    if best:
        ax_metric.axvline(best, color=color, linestyle=":", linewidth=1)
        value = next((h.get(metric) for h in history if h["epoch"] == best), None)
        if value is not None:
            ax_metric.plot([best], [value], marker="*", markersize=13, color=color, markeredgecolor="black", zorder=5)
    for k, (name, value) in enumerate(sorted(lines.get(metric, {}).items())):
        style = ("--", ":", "-.")[k % 3]
        ax_metric.axhline(
            value, color=color, linestyle=style, linewidth=1, alpha=0.6, label=f"{label} {name.replace('_', ' ')}".strip()
        )
    if row["status"] == Status.EARLY_STOPPED:
        ax_loss.axvline(epochs[-1], color=color, linestyle="-.", linewidth=1, alpha=0.7)
        ax_loss.text(
            epochs[-1], 0.02, " early stop", transform=ax_loss.get_xaxis_transform(), fontsize=7, color=color, rotation=90
        )


def _legend_labels(rows: list[dict[str, Any]]) -> list[str]:
    if len(rows) == 1:
        return [rows[0]["run"]]
    keys = sorted(
        k
        for k in set().union(*(r["config"] for r in rows))
        if k != "name" and len({json.dumps(r["config"].get(k)) for r in rows}) > 1
    )
    if not keys:
        return [r["run"] for r in rows]
    return [", ".join(f"{k}={r['config'].get(k)}" for k in keys[:3]) for r in rows]


def _json_or_empty(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def plot_sweep(res: dict[str, Any], importance: dict[str, float] | None, out: str | Path) -> Path:
    """One panel per searched key: each trial's objective against its value (complete filled, pruned
    hollow, the best starred), and a panel of parameter importances when there are any."""
    params = res["params"]
    panels = len(params) + (1 if importance else 0)
    plt = _pyplot()
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 4), dpi=110, squeeze=False)
    trials = [
        t for t in res["trials"] if t["value"] is not None and t["state"] in ("COMPLETE", "PRUNED") and t.get("same_as") is None
    ]
    best = res["best"]
    for ax, key in zip(axes[0], params):
        values = [t.get(key) for t in trials]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values) and values
        if numeric:
            xs = values
            if min(values) > 0 and max(values) / min(values) >= 20:
                ax.set_xscale("log")
        else:
            cats = sorted({json.dumps(v) for v in values})
            xs = [cats.index(json.dumps(v)) for v in values]
            ax.set_xticks(range(len(cats)), [c.strip('"') for c in cats], rotation=30, fontsize=8)
        for x, t in zip(xs, trials):
            done = t["state"] == "COMPLETE"
            ax.scatter([x], [t["value"]], s=30, color="C0", facecolors="C0" if done else "none", alpha=0.8)
            if best and t["number"] == best["number"]:
                ax.scatter([x], [t["value"]], marker="*", s=220, color="C3", edgecolors="black", zorder=5)
        ax.set_xlabel(key)
        ax.set_ylabel(res["metric"])
        ax.grid(True, alpha=0.3)
    if importance:
        ax = axes[0][-1]
        names = list(importance)
        ax.barh(range(len(names)), [importance[n] for n in names], color="C2")
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("importance (random forest, mean decrease in impurity)", fontsize=8)
        ax.set_title("parameter importance")
    fig.suptitle(
        f"{res['study']}: {res['metric']} ({res['direction']}); filled: complete, hollow: pruned, star: best", fontsize=9
    )
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out)
    plt.close(fig)
    return out
