"""Runs for people to look at: find them, one row per run, the runs table, compare (the plots are plots.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from .config import as_recorded, direction_of, flatten, headline_metric
from .errors import ConfigError, RunDirError
from .rundir import RunDir


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


def run_row(path: str | Path, summary: dict[str, Any] | None = None) -> dict[str, Any]:
    """One line about a run: what it was, how it ended, its best validation score and its test score
    (``summary``: its summary.json as about to be written, instead of the one on disk)."""
    run = RunDir(path)
    cfg = as_recorded(yaml.safe_load(run.config.read_text(encoding="utf-8")) or {})
    summary = run.read_summary() if summary is None else summary
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


RUN_COLUMNS = ["run", "started", "status", "task", "dataset", "cell", "units", "lr", "epochs", "monitor", "best", "best_epoch"]


def table_columns(rows: list[dict[str, Any]]) -> list[str]:
    """The runs table's columns (`runs --json`, `--csv`, `rnnexp.runs()`): RUN_COLUMNS, then each
    test score some run has."""
    return [*RUN_COLUMNS, *sorted({k for r in rows for k in r if k.startswith("test_")})]


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


def differing_keys(configs: list[dict[str, Any]]) -> list[str]:
    """The dotted keys whose values differ between flattened configs, sorted; the name aside (each
    run's folder carries it): what compare lists and what the plot's legend tells runs apart by."""
    keys = sorted(set().union(*configs) - {"name"})
    return [k for k in keys if len({json.dumps(c.get(k), sort_keys=True) for c in configs}) > 1]


def compare_runs(paths: list[str | Path]) -> dict[str, Any]:
    """Config keys whose values differ between the runs (the rest is shared), and each run's scores."""
    if len(paths) < 2:
        raise RunDirError("compare needs at least two run folders")
    rows = [run_row(RunDir.open(p).path) for p in paths]
    differences = {k: [r["config"].get(k) for r in rows] for k in differing_keys([r["config"] for r in rows])}
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


def _json_or_empty(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
