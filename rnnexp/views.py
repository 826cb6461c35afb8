"""What the CLI shows: the tables and lines of each command's output on the console. Only cli.py
imports this module; it returns nothing and decides nothing (exit codes stay in cli.py).

A command's result (its tables, its verdict, a training's result line) goes to stdout, so that
`rnnexp runs | grep gru` and `rnnexp evaluate RUN | tee` work; progress, notes and hints go to
stderr. Off a terminal, and wherever NO_COLOR or TERM=dumb asks, the result is plain text: no
colour, no box lines, columns separated by spaces, no trailing blanks."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import age_text, counted, size_text


def wants_plain(stream) -> bool:
    """The one rule for plain text output: not a terminal, or NO_COLOR (no-color.org) or TERM=dumb."""
    isatty = getattr(stream, "isatty", None)
    return not (isatty and isatty()) or bool(os.environ.get("NO_COLOR")) or os.environ.get("TERM") == "dumb"


@dataclass
class Output:
    """Where a command writes: ``out`` (stdout) its result, ``err`` (stderr) the rest."""

    out: Any  # rich Console on stdout
    err: Any  # rich Console on stderr (quiet with --quiet)
    plain: bool

    def table(self, table, caption: bool = False, priority: tuple[str, ...] = ()) -> None:
        """A result table. On a terminal, fitted to its width without cutting a value (tables.fit:
        columns left out, the least important first by ``priority``, are named in a note on
        stderr). Plain: the title as a line of its own (on stderr when it is only a ``caption`` of a
        listing, so that `| head -3` shows the header and two rows), then the rows, never wrapped."""
        if not self.plain:
            from .tables import fit

            dropped = fit(table, self.out.width, priority)
            self.out.print(table)
            if dropped:
                self.err.print(
                    f"note: left out to fit {self.out.width} columns: {', '.join(dropped)} "
                    "(a wider terminal, or --json, shows them)",
                    markup=False,
                )
            return
        title, table.title = table.title, None
        table.box, table.show_edge, table.pad_edge = None, False, False
        if title:
            (self.err if caption else self.out).print(title)
        with self.out.capture() as captured:
            self.out.print(table)
        self.out.file.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))
        self.out.file.flush()


def result_line(result) -> str:
    """A training's result in one line, the run folder first: what `train --quiet` prints."""
    best = (
        f"best {result.monitor} {result.best_score:.4f} at epoch {result.best_epoch}"
        if result.best_epoch
        else "no epoch finished"
    )
    return f"{result.run_dir}  {result.status}  {best}"


def show_setup(console, info: dict[str, Any]) -> None:
    from rich.markup import escape

    data = info["data"]
    console.print(f"[bold]run[/] {info['run_dir']}  (device {info['device']}, {info['parameters']:,} parameters)")
    if info.get("resumed_from"):
        epoch, batch = info["resumed_from"]
        where = f"after epoch {epoch}" if batch == 0 else f"in epoch {epoch + 1} after batch {batch}"
        console.print(f"resuming {where}, to {counted(info['epochs'], 'epoch')}")
    for note in data.get("notes", []):
        console.print(f"[yellow]note:[/] {escape(note)}")
    from .tasks import task_class  # torch is loaded by now: the run is set up

    for line in task_class(data["task"]).describe(data):
        console.print(escape(line))
    pretrained = info.get("pretrained")
    if pretrained:
        missing = ", ".join(pretrained["missing_examples"][:5])
        console.print(
            f"pretrained vectors: {pretrained['dim']}-d, cover {pretrained['coverage']:.1%} of the vocabulary "
            f"({pretrained['found']:,} words)" + (f"; frequent words without one: {missing}" if missing else "")
        )


# The rows of evaluate's classification table, each a key of eval_<split>.json and of its baselines.
EVAL_ROWS = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc")


def score(value: float | None) -> str:
    """A score in a table: 4 decimals, "-" where there is none (an undefined ROC-AUC)."""
    return "-" if value is None else f"{value:.4f}"


def show_evaluation(io: Output, report: dict[str, Any]) -> None:
    """What `rnnexp evaluate` shows for a report of any task."""
    if "steps_ahead" in report:  # forecasts, scored in the target's units
        show_forecast_eval(io, report)
    else:
        show_eval(io, report)


def show_eval(io: Output, report: dict[str, Any]) -> None:
    from rich.table import Table

    base = report["baseline"]
    avg = "binary, positive " + repr(report["positive_label"]) if report["average"] == "binary" else "macro"
    table = Table(
        title=f"{report['split']} split: {report['examples']} examples, "
        f"{report['checkpoint']} checkpoint (epoch {report['checkpoint_epoch']})"
    )
    table.add_column("metric")
    table.add_column("model", justify="right")
    tie = f", tied in training with {', '.join(base['tied_with'])}" if base.get("tied_with") else ""
    table.add_column(f"majority baseline ({base['predicts']}{tie})", justify="right")
    table.add_column("stratified guess (expected)", justify="right")
    fitted = [(k, b) for k, b in report["baselines"].items() if k not in ("majority_class", "stratified")]
    for name, _ in fitted:
        table.add_column(BASELINE_NAMES.get(name, name), justify="right")
    stratified = report["baselines"]["stratified"]
    for key in EVAL_ROWS:
        ovr = ", one-vs-rest" if key in ("roc_auc", "pr_auc") and report["average"] != "binary" else ""
        label = key.replace("_", " ") if key in ("accuracy", "balanced_accuracy") else f"{key.replace('_', '-')} ({avg}{ovr})"
        cells = [score(base.get(key)), score(stratified.get(key)) if key not in ("precision", "recall", "f1") else ""]
        table.add_row(label, score(report.get(key)), *cells, *(score(b.get(key)) for _, b in fitted))
    table.add_row("loss", f"{report['loss']:.4f}", "", "", *("" for _ in fitted))
    io.table(table)
    if report.get("truncated"):
        io.err.print(f"[yellow]note:[/] {report['truncated']['note']}")
    for name, b in fitted:
        if b.get("fitted_on", 0) < b.get("training_examples", 0):
            io.err.print(
                f"[yellow]note:[/] the {BASELINE_NAMES.get(name, name)} baseline is fitted on {b['fitted_on']:,} of the "
                f"{b['training_examples']:,} training examples (a fixed random sample), so that it stays under a minute; "
                "fitted on all of them it may score higher"
            )
    labels = report["confusion_matrix"]["labels"]
    cm = Table(title="confusion matrix (rows: true class, columns: predicted class)")
    cm.add_column("")
    for label in labels:
        cm.add_column(label, justify="right")
    for label, row in zip(labels, report["confusion_matrix"]["rows_true_cols_pred"]):
        cm.add_row(label, *map(str, row))
    io.table(cm)
    io.out.print(verdict_line(report))
    if report["data_matches_training"] is False:
        io.err.print("[yellow]warning:[/] this split's data differs from what the run saw at training time")
    io.err.print(f"written: {Path(report['run_dir']) / ('eval_' + report['split'] + '.json')}")
    if report.get("predictions_file"):
        io.err.print(f"written: {report['predictions_file']}")


BASELINE_NAMES = {
    "tfidf_logreg": "TF-IDF + logistic regression",
    "summary_logreg": "channel summaries + logistic regression",
    "linear_ar": "linear autoregressive (ridge)",
    "majority_class": "majority class",
    "stratified": "stratified guess",
    "persistence": "persistence (tomorrow = today)",
    "seasonal_naive": "seasonal naive",
    "ets": "exponential smoothing",
    "sarima": "seasonal ARIMA",
}


def verdict_line(report: dict[str, Any]) -> str:
    """The closing line: the model against the strongest baseline, plainly."""
    v = report["verdict"]
    name = BASELINE_NAMES.get(v["strongest"], v["strongest"])
    metric = v["metric"].upper() if v["metric"] == "mae" else v["metric"]
    model, best = f"{v['model']:.4g}", f"{v['strongest_value']:.4g}"
    if v["beats"]:
        return f"{report['split']} {metric} {model} beats every baseline; the strongest is {name} at {best}"
    return (
        f"[bold]{report['split']} {metric} {model} does NOT beat the {name} baseline ({best})[/]: a simple model does better here"
    )


def baseline_label(name: str, facts: dict[str, Any]) -> str:
    """A forecasting baseline's column: its name and its form (season, or what statsmodels chose)."""
    label, form = BASELINE_NAMES.get(name, name), facts.get("model") or {}
    if name == "seasonal_naive":
        return f"{label} (season {facts['season']})"
    if name == "ets":
        parts = [f"{form['trend']} trend" if form.get("trend") else "no trend"]
        parts.append(f"{form['season']} season {form['period']}" if form.get("season") else "no season")
        return f"{label} ({', '.join(parts)})"
    if name == "sarima":
        (p, d, q), (big_p, big_d, big_q, m) = form["order"], form["seasonal_order"]
        return f"{label} ({p},{d},{q})({big_p},{big_d},{big_q},{m})" if big_d else f"ARIMA ({p},{d},{q})"
    return label


def show_forecast_eval(io: Output, report: dict[str, Any]) -> None:
    from rich.table import Table

    steps = report["steps_ahead"]
    ahead = f"{steps[0]} step{'s' if steps[0] > 1 else ''} ahead" if len(steps) == 1 else f"1..{steps[-1]} steps ahead"
    table = Table(
        title=f"{report['split']} split: {report['windows']} windows, {report['target']} {ahead}, "
        f"{report['checkpoint']} checkpoint (epoch {report['checkpoint_epoch']})"
    )
    table.add_column(f"metric ({report['target']} units)")
    table.add_column("model", justify="right")
    for name in report["baselines"]:
        table.add_column(baseline_label(name, report["baselines"][name]), justify="right")
    for key in ("mae", "rmse", "mape"):
        cells = [report[key], *(b[key] for b in report["baselines"].values())]
        label = "MAPE %" if key == "mape" else key.upper()
        table.add_row(label, *("-" if v is None else f"{v:.4g}" for v in cells))
    io.table(table)
    io.out.print(verdict_line(report))
    io.err.print(f"written: {Path(report['run_dir']) / ('eval_' + report['split'] + '.json')}")


def show_results(io: Output, res: dict[str, Any], as_json: bool, folder: Path | None) -> None:
    if as_json:
        print(json.dumps(res, default=str))
        return
    from rich.table import Table

    table = Table(title=f"{res['study']}: {res['metric']} ({res['direction']})")
    for col in ["#", "state", res["metric"], "epochs"]:
        table.add_column(col)
    for col in res["params"]:
        table.add_column(col, overflow="fold")  # a long key may fold over lines, its values never
    table.add_column("note")
    best_number = res["best"]["number"] if res["best"] else None
    for r in res["trials"]:
        value = "" if r["value"] is None else f"{r['value']:.4f}"
        style = "bold green" if r["number"] == best_number else None
        cells = [str(r["number"]), r["state"].lower(), value, str(r["epochs"]), *[str(r.get(k)) for k in res["params"]]]
        table.add_row(*cells, r["note"][:60], style=style)
    io.table(table)
    counts = ", ".join(f"{v} {k.lower()}" for k, v in res["counts"].items() if v and k not in ("REPEATED", "PROMOTED"))
    budget = f" (budget {res['epoch_budget']})" if res["epoch_budget"] else ""
    spent = f"{counted(res['epochs_trained'], 'epoch')} trained{budget}"
    io.out.print(f"{counts} of {counted(res['total'], 'trial')}; {spent}; duplicates {res['duplicates']}")
    if repeated := res["counts"]["REPEATED"]:
        took = "took its earlier result" if repeated == 1 else "took their earlier results"
        io.out.print(f"{counted(repeated, 'repeated configuration')} {took} (not trained, not counted)")
    if promoted := res["counts"]["PROMOTED"]:
        were = (
            "was promoted later: its run resumed from its checkpoint"
            if promoted == 1
            else ("were promoted later: their runs resumed from their checkpoints")
        )
        io.out.print(f"{counted(promoted, 'paused trial')} {were}")
    if res["ended"]:
        io.out.print(f"ended early: {res['ended']}")
    if res["best"]:
        params = ", ".join(f"{k}={res['best'][k]}" for k in res["params"])
        io.out.print(f"best: trial {res['best']['number']} {res['metric']} {res['best']['value']:.4f} ({params})")
    if folder is not None:
        io.err.print(f"written: {res.get('results_csv')}" + (f", {res['best_config']}" if res.get("best_config") else ""))
        if res.get("best_config"):
            io.err.print(f"train it: rnnexp train {res['best_config']}")


def plain(value: Any, digits: int | None = None) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and digits is not None:
        return f"{value:.{digits}g}"
    return str(value)


# The runs table on screen (--json and --csv carry every column), each with what `rnnexp runs --help`
# says of it (the help lists them from here): "monitor" only where the runs monitor different metrics
# (each best beside the metric it is a value of); "test scores" stands for each test_* column.
RUNS_SHOWN = {
    "run": "its folder's name",
    "status": "",
    "cell": "",
    "units": "",
    "lr": "",
    "epochs": "epochs run",
    "monitor": "only when the runs monitor different metrics",
    "best": "the best validation score",
    "test scores": "from evaluate, one column per headline metric: test accuracy, test mae for forecasting",
}
# On a terminal too narrow for all of them, the ones kept longest, in this order (the first test
# score: accuracy, else MAE, else the first there is); the other test scores go first.
RUNS_KEPT = ("run", "status", "best", "monitor", "test score", "cell", "units", "lr", "epochs")


def runs_shown(rows: list[dict[str, Any]], columns: list[str]) -> list[str]:
    """The runs table's columns for these rows (RUNS_SHOWN), as keys of their run_row."""
    monitors = {r["monitor"] for r in rows if r.get("monitor")}
    named = [c for c in RUNS_SHOWN if c != "test scores" and (c != "monitor" or len(monitors) > 1)]
    return [*named, *[c for c in columns if c.startswith("test_")]]


def show_runs(io: Output, rows: list[dict[str, Any]], columns: list[str], runs_dir) -> None:
    from rich.table import Table

    monitors = sorted({r["monitor"] for r in rows if r.get("monitor")})
    shown = runs_shown(rows, columns)
    tests = [c for c in shown if c.startswith("test_")]
    first = next((c for c in ("test_accuracy", "test_mae", *tests) if c in tests), None)
    kept = [first if c == "test score" else c for c in RUNS_KEPT if c != "test score" or first]
    table = Table(title=f"{len(rows)} runs in {runs_dir}" + (f" (best: {', '.join(monitors)})" if monitors else ""))
    header = lambda col: col.replace("test_", "test ")  # noqa: E731
    for col in shown:
        table.add_column(header(col))
    for r in rows:
        table.add_row(*[plain(r.get(c), 4) for c in shown])
    io.table(table, caption=True, priority=tuple(header(c) for c in kept))


def show_cache(io: Output, root: Path | None, limit: int, entries: list[dict[str, Any]]) -> None:
    """`rnnexp cache`: the folder, its limit, and an entry a row (the least recently used last)."""
    from rich.table import Table

    if root is None:
        io.err.print("the data cache is off (RNNEXP_CACHE_DIR=off): every run prepares its data")
        return
    total, now = sum(e["bytes"] for e in entries), time.time()
    n = f"{len(entries)} entry" if len(entries) == 1 else f"{len(entries)} entries"
    table = Table(title=f"data cache {root}: {n}, {size_text(total)} of {size_text(limit)} (RNNEXP_CACHE_SIZE)")
    for col in ("entry", "file", "holds", "size", "created", "last used"):
        table.add_column(col)
    for e in sorted(entries, key=lambda e: -e["used"]):
        created = "-" if e["created"] is None else f"{age_text(now - e['created'])} ago"
        holds = ", ".join(f"{n:,} {what}" for what, n in e["holds"].items()) or "-"
        table.add_row(e["key"][:12], e["source"], holds, size_text(e["bytes"]), created, f"{age_text(now - e['used'])} ago")
    io.table(table, caption=True, priority=("entry", "file", "size"))


def show_compare(io: Output, res: dict[str, Any]) -> None:
    from rich.table import Table

    names = [Path(p).name for p in res["runs"]]
    diff = Table(title=f"config keys that differ ({len(res['differences'])})")
    diff.add_column("key")
    for name in names:
        diff.add_column(name, overflow="fold")
    for key, values in res["differences"].items():
        diff.add_row(key, *[json.dumps(v) for v in values])
    scores = Table(title="scores")
    scores.add_column("")
    for name in names:
        scores.add_column(name, overflow="fold")
    metrics = res["metrics"]
    lines = [("status", [m["status"] for m in metrics]), ("epochs", [m["epochs"] for m in metrics])]
    monitors = {m["monitor"] for m in metrics}
    if len(monitors) == 1:
        lines.append((f"best {metrics[0]['monitor'] or ''}".strip(), [m["best"] for m in metrics]))
    else:  # each run's best is a value of its own metric
        lines += [("monitor", [m["monitor"] for m in metrics]), ("best (of its monitor)", [m["best"] for m in metrics])]
    lines += [("best epoch", [m["best_epoch"] for m in metrics]), ("last train_loss", [m["last_train_loss"] for m in metrics])]
    lines.append(("last val_loss", [m["last_val_loss"] for m in metrics]))
    for key in sorted({k for m in metrics for k in m["test"]}):
        lines.append((f"test {key}", [m["test"].get(key) for m in metrics]))
    for label, values in lines:
        scores.add_row(label, *[plain(v, 4) for v in values])
    io.table(diff)
    io.table(scores)


def epoch_line(row: dict[str, Any]) -> str:
    """An epoch's metrics.csv row on one line; "-" for a value that is undefined (a ROC-AUC on one class)."""
    parts = [f"epoch {row['epoch']:>3}", f"train_loss {row['train_loss']:.4f}"]
    for k in (k for k in row if k.startswith("val_")):
        parts.append(f"{k} -" if row[k] is None else f"{k} {row[k]:.4g}" if k in ("val_mae", "val_rmse") else f"{k} {row[k]:.4f}")
    return "  ".join([*parts, f"lr {row['lr']:.3g}", f"{row['seconds']:.1f}s"])


def sweep_progress(console, sw) -> Any:
    """What a sweep's local workers show while they run (a sweep.Watch, which run_workers starts
    once they do): on a terminal, a bar over its trials (done of total, the best so far), with every
    line the workers print above it; elsewhere, or quiet, None (the workers print their lines
    themselves). The bar is gone before the command's final lines."""
    if not console.is_terminal or console.quiet:
        return None
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .sweep import TrialLedger, Watch
    from .sweep.names import shown

    bar = Progress(
        TextColumn("trials"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[best]}"), TimeElapsedColumn(),
        console=console, transient=True,
    )  # fmt: skip
    task = bar.add_task("trials", total=sw.total, best="")

    class Bar(Watch):
        due = 0.0

        def start(self) -> None:
            bar.start()

        def line(self, text: str) -> None:
            bar.console.print(escape(text))

        def tick(self) -> None:
            if time.monotonic() < self.due:
                return
            self.due = time.monotonic() + 2.0  # the trials are read from the storage: not every half second
            ledger = TrialLedger(sw)
            leader = ledger.best()
            best = f"best {sw.metric} {shown(leader[1])} (trial {leader[0]})" if leader else ""
            bar.update(task, completed=ledger.done(), best=best)

        def stop(self) -> None:
            bar.stop()

    return Bar()
