"""Files for people to look at: plots (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from .config import Config, dump_config
from .rundir import RunDir, write_json, write_text


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def save_lr_find(result: dict[str, Any], cfg: Config, runs_dir: str | Path) -> RunDir:
    """Write lr_find.png, lr_find.csv, lr_find.json and config.yaml into a new folder under runs_dir."""
    folder = RunDir.create(runs_dir, f"{cfg.name}-lr-find", checkpoints=False)
    write_text(folder.config, dump_config(cfg))
    with open(folder.path / "lr_find.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["step", "lr", "loss", "smoothed_loss"])
        for i, row in enumerate(zip(result["lrs"], result["losses"], result["smoothed"]), 1):
            writer.writerow([i, *(repr(v) for v in row)])
    summary = {k: v for k, v in result.items() if k not in ("lrs", "losses", "smoothed", "config")}
    write_json(folder.path / "lr_find.json", summary)
    plot_lr_find(result, folder.path / "lr_find.png", title=cfg.name)
    return folder


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
