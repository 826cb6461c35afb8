"""The tuning guide's plots (docs/assets/tuning/*.png), drawn from what rec_tuning.py recorded:

    python docs/gen/tuning_plots.py     # draw them again from docs/gen/recordings/tuning.json

(lr_find.png is the plot `rnnexp lr-find` drew, copied by the recorder.)"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "docs" / "assets" / "tuning"


def _figure(panels: int, width: float = 4.2):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, panels, figsize=(width * panels, 3.3), squeeze=False)
    return fig, axes[0]


def _save(fig, name: str) -> None:
    ASSETS.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(ASSETS / name, dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)


def _spread(ax, rows: list[dict[str, Any]], key: str, label: str, **style) -> None:
    """Mean best validation accuracy against ``key``, with a bar from the lowest to the highest seed."""
    rows = sorted(rows, key=lambda r: r[key])
    xs = [r[key] for r in rows]
    means = [r["mean"] for r in rows]
    low = [r["mean"] - r["min"] for r in rows]
    high = [r["max"] - r["mean"] for r in rows]
    ax.errorbar(xs, means, yerr=[low, high], marker="o", capsize=3, label=label, **style)


def _log_x(ax, ticks: list[float]) -> None:
    """A log x axis labelled with the values tried, written plainly."""
    from matplotlib.ticker import NullFormatter

    ax.set_xscale("log")
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())


def train_lengths(config: str) -> list[int]:
    """Every training text's length in words, as the run's split and tokenizer make them (no training)."""
    from rnnexp.config import load_config
    from rnnexp.data import Preprocessor, load_splits

    cfg = load_config(ROOT / config)
    train = load_splits(cfg.data).train
    prep = Preprocessor.fit(train, cfg.data)
    return [len(prep.tokens(t)) for t in train.texts]


def maxlen(out: dict[str, Any]) -> None:
    lengths = {
        "uci-sentiment": train_lengths("configs/uci_sentiment.yaml"),
        "amazon-food": train_lengths("configs/quickstart.yaml"),
    }
    fig, (cdf, uci, amazon) = _figure(3)
    for name, color in (("uci-sentiment", "tab:blue"), ("amazon-food", "tab:orange")):
        values = sorted(lengths[name])
        cdf.plot(values, [(i + 1) / len(values) for i in range(len(values))], color=color, label=f"{name} (train split)")
    cdf.axhline(0.95, color="grey", linestyle=":", linewidth=1)
    _log_x(cdf, [5, 10, 20, 40, 100, 200, 400])
    cdf.set(xlabel="words", ylabel="share of texts with at most this many", title="lengths")
    cdf.legend(fontsize=8, loc="lower right")
    _spread(uci, out["uci"]["rows"], "data.maxlen", "5 seeds")
    _log_x(uci, [r["data.maxlen"] for r in out["uci"]["rows"]])
    uci.set(xlabel="data.maxlen", ylabel="best val accuracy", title="uci-sentiment, LSTM")
    _spread(amazon, out["amazon"]["rows"], "data.maxlen", "truncating pre (3 seeds)")
    _spread(amazon, out["amazon_post"]["rows"], "data.maxlen", "truncating post (3 seeds)", linestyle=":")
    _log_x(amazon, [r["data.maxlen"] for r in out["amazon"]["rows"]])
    amazon.set(xlabel="data.maxlen", ylabel="best val accuracy", title="amazon-food, GRU")
    ratio = amazon.twinx()
    rows = sorted(out["amazon"]["rows"], key=lambda r: r["data.maxlen"])
    ratio.plot([r["data.maxlen"] for r in rows], [r["time_ratio"] for r in rows], "s--", color="grey", label="epoch time")
    ratio.plot([400], [out["timing"]["ratios"]["400 bucket"]], "D", color="black", label="epoch time, maxlen 400 bucketed")
    ratio.set(ylabel="epoch time / maxlen 400's (grey)", ylim=(0, 1.6))  # room for the legend above
    low, high = amazon.get_ylim()
    amazon.set_ylim(low, high + 0.6 * (high - low))
    handles = [h for ax in (amazon, ratio) for h in ax.get_legend_handles_labels()[0]]
    ratio.legend(handles, [h.get_label() for h in handles], loc="upper left", fontsize=7)
    _save(fig, "maxlen.png")


def epochs(trials: list[dict[str, Any]]) -> None:
    """Training without early stopping: the mean curves over the seeds, each seed's curve faint."""
    fig, (loss, acc) = _figure(2, 4.6)
    for t in trials:
        h = t["history"]
        loss.plot(range(1, len(h["train_loss"]) + 1), h["train_loss"], color="tab:blue", alpha=0.25, linewidth=1)
        loss.plot(range(1, len(h["val_loss"]) + 1), h["val_loss"], color="tab:red", alpha=0.25, linewidth=1)
        acc.plot(range(1, len(h["val_accuracy"]) + 1), h["val_accuracy"], color="tab:green", alpha=0.25, linewidth=1)
    for key, ax, color in (("train_loss", loss, "tab:blue"), ("val_loss", loss, "tab:red"), ("val_accuracy", acc, "tab:green")):
        n = min(len(t["history"][key]) for t in trials)
        mean = [statistics.fmean(t["history"][key][i] for t in trials) for i in range(n)]
        ax.plot(range(1, n + 1), mean, color=color, linewidth=2.2, label=f"{key} (mean of {len(trials)} seeds)")
    loss.set(xlabel="epoch", ylabel="loss", title="loss")
    acc.set(xlabel="epoch", ylabel="accuracy", title="validation accuracy")
    loss.legend(fontsize=8)
    acc.legend(fontsize=8)
    _save(fig, "epochs.png")


def learning_rate(rows: list[dict[str, Any]]) -> None:
    fig, (ax,) = _figure(1, 5.5)
    for name, style in (("adam", {}), ("rmsprop", {"linestyle": ":"})):
        _spread(ax, [r for r in rows if r["train.optimizer"] == name], "train.lr", name, **style)
    _log_x(ax, sorted({r["train.lr"] for r in rows}))
    ax.set(xlabel="train.lr", ylabel="best val accuracy", title="uci-sentiment, LSTM: mean, lowest-highest of 5 seeds")
    ax.legend()
    _save(fig, "lr.png")


def plateau(out: dict[str, Any]) -> None:
    """The training loss of each learning rate over the seeds."""
    prior = out["lr_find"]["prior_loss"]
    fig, (ax,) = _figure(1, 5.5)
    colors = iter(["tab:red", "tab:green", "tab:blue", "tab:purple"])
    color = {lr: next(colors) for lr in sorted({t["params"]["train.lr"] for t in out["seeds"]["trials"]})}
    for t in out["seeds"]["trials"]:
        lr = t["params"]["train.lr"]
        h = t["history"]
        ax.plot(range(1, len(h["train_loss"]) + 1), h["train_loss"], color=color[lr], alpha=0.7, label=f"train.lr {lr:g}")
    if prior is not None:
        ax.axhline(prior, color="black", linestyle="--", linewidth=1, label=f"predicting the class frequencies ({prior:.4f})")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), fontsize=8)
    ax.set(xlabel="epoch", ylabel="training loss", title="configs/uci_gru_plateau.yaml, 5 seeds each")
    _save(fig, "plateau.png")


def search(out: dict[str, Any]) -> None:
    """Best validation accuracy so far against the epochs the sweep has spent."""
    fig, (ax,) = _figure(1, 6)
    for kind in ("grid", "random", "tpe"):
        spent, best, xs, ys = 0, None, [], []
        for t in out[kind]["trials"]:
            spent += t["epochs"] or 0
            if t["value"] is not None and (best is None or t["value"] > best):
                best = t["value"]
            if best is not None:
                xs.append(spent)
                ys.append(best)
        ax.step(xs, ys, where="post", label=kind)
    ax.set(xlabel="epochs spent", ylabel="best val accuracy so far", title="uci-sentiment, 4 keys searched")
    ax.legend()
    _save(fig, "search.png")


def draw(rec: dict[str, Any]) -> None:
    """Every plot of the guide from a recording (tuning.json's content)."""
    maxlen(rec["maxlen"])
    epochs(rec["batch"]["full"]["trials"])
    learning_rate(rec["lr"]["optimizer"]["rows"])
    plateau(rec["plateau"])
    search(rec["search"])


if __name__ == "__main__":
    import os
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    os.environ.setdefault("RNNEXP_DATA_DIR", str(ROOT.parent / "shared" / "data"))
    import recorded

    draw(recorded.load("tuning"))
