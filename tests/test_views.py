"""views.py: what the commands print, from hand-made results (no training): the plain-text rule,
tables on and off a terminal, and the sweep results' lines."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from rich.table import Table

from rnnexp import views


class Stream(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    "tty, env, plain",
    [
        (False, {}, True),  # a pipe or a file
        (True, {}, False),
        (True, {"NO_COLOR": "1"}, True),
        (True, {"NO_COLOR": ""}, False),  # no-color.org: set and not empty
        (True, {"TERM": "dumb"}, True),
        (True, {"TERM": "xterm-256color"}, False),
        (False, {"TERM": "xterm-256color"}, True),
    ],
)
def test_plain_text_off_a_terminal_or_when_asked(monkeypatch, tty, env, plain):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TERM", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert views.wants_plain(Stream(tty)) is plain
    assert views.wants_plain(object()) is True  # no isatty at all: not a terminal


def _output(plain: bool, width: int = 100) -> tuple[views.Output, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    console = lambda f: Console(file=f, width=width, force_terminal=not plain, color_system=None if plain else "standard")  # noqa: E731
    return views.Output(console(out), console(err), plain), out, err


def _visible(text: str) -> str:
    """``text`` as a terminal shows it: without its colour codes."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _table() -> Table:
    table = Table(title="3 runs")
    for name in ("run", "best"):
        table.add_column(name)
    table.add_row("20261206-101010_a", "0.8125")
    table.add_row("b   ", "0.5")
    return table


def test_a_plain_table_is_its_title_and_rows_unboxed_and_a_caption_goes_to_stderr():
    o, out, err = _output(plain=True)
    o.table(_table())
    lines = out.getvalue().splitlines()
    assert lines[0] == "3 runs" and lines[1].split() == ["run", "best"]
    assert [line.split() for line in lines[2:]] == [["20261206-101010_a", "0.8125"], ["b", "0.5"]]
    assert all(line == line.rstrip() for line in lines) and not any(c in out.getvalue() for c in "│─┃━╭") and err.getvalue() == ""
    o, out, err = _output(plain=True)
    o.table(_table(), caption=True)
    assert err.getvalue() == "3 runs\n" and out.getvalue().splitlines()[0].split() == ["run", "best"]


def test_a_terminal_table_is_boxed_and_names_the_columns_it_left_out():
    o, out, err = _output(plain=False)
    o.table(_table())
    assert "3 runs" in out.getvalue() and "━" in out.getvalue() and err.getvalue() == ""
    wide = Table(title="wide")
    for i in range(12):
        wide.add_column(f"column_{i}")
    wide.add_row(*[f"value_{i}_xxxxxxxx" for i in range(12)])
    o, out, err = _output(plain=False, width=60)
    o.table(wide)
    said = " ".join(_visible(err.getvalue()).split())  # wrapping off
    assert said.startswith("note: left out to fit 60 columns: column_3,") and "column_11 (a wider terminal" in said
    assert all(len(_visible(line)) <= 60 for line in out.getvalue().splitlines())


RESULTS = {
    "study": "s",
    "metric": "val_accuracy",
    "direction": "maximize",
    "total": 4,
    "counts": {"COMPLETE": 1, "PRUNED": 2, "RUNNING": 0, "WAITING": 0, "FAIL": 0, "RETRIED": 0, "REPEATED": 1, "PROMOTED": 1},
    "duplicates": 0,
    "epochs_trained": 7,
    "epoch_budget": 8,
    "ended": "epoch budget spent (7 of 8 epochs)",
    "params": ["train.lr"],
    "trials": [
        {
            "number": 0,
            "state": "PRUNED",
            "value": 0.71,
            "epochs": 1,
            "train.lr": 0.01,
            "note": "paused after epoch 1; promoted as #2",
        },
        {"number": 1, "state": "PRUNED", "value": 0.9123456, "epochs": 2, "train.lr": 0.02, "note": ""},
        {
            "number": 2,
            "state": "COMPLETE",
            "value": 0.8,
            "epochs": 3,
            "train.lr": 0.01,
            "note": "promoted #0: resumed its run after epoch 1",
        },
        {
            "number": 3,
            "state": "COMPLETE",
            "value": 0.8,
            "epochs": 0,
            "train.lr": 0.01,
            "note": "same configuration as #2: its result",
        },
    ],
}


def test_sweep_results_lines_say_what_the_results_hold():
    res = {**RESULTS, "best": RESULTS["trials"][1], "results_csv": "/s/results.csv", "best_config": "/s/best_config.yaml"}
    o, out, err = _output(plain=True, width=200)
    views.show_results(o, res, as_json=False, folder=None)
    lines = out.getvalue().splitlines()
    assert lines[0] == "s: val_accuracy (maximize)"
    rows = [line.split(None, 5) for line in lines[2:6]]
    assert [r[:5] for r in rows] == [
        ["0", "pruned", "0.7100", "1", "0.01"],
        ["1", "pruned", "0.9123", "2", "0.02"],
        ["2", "complete", "0.8000", "3", "0.01"],
        ["3", "complete", "0.8000", "0", "0.01"],
    ]
    assert rows[0][5] == "paused after epoch 1; promoted as #2"
    assert lines[6:] == [
        "1 complete, 2 pruned of 4 trials; 7 epochs trained (budget 8); duplicates 0",
        "1 repeated configuration took its earlier result (not trained, not counted)",
        "1 paused trial was promoted later: its run resumed from its checkpoint",
        "ended early: epoch budget spent (7 of 8 epochs)",
        "best: trial 1 val_accuracy 0.9123 (train.lr=0.02)",
    ]
    assert err.getvalue() == ""  # no folder: nothing written to say
    o, out, err = _output(plain=True, width=200)
    views.show_results(o, res, as_json=False, folder=object())
    assert err.getvalue().splitlines() == [
        "written: /s/results.csv, /s/best_config.yaml",
        "train it: rnnexp train /s/best_config.yaml",
    ]
    o, out, err = _output(plain=True, width=200)
    views.show_results(
        o, {**RESULTS, "best": None, "ended": None, "counts": {**RESULTS["counts"], "REPEATED": 2, "PROMOTED": 2}}, False, None
    )
    tail = out.getvalue().splitlines()[6:]
    assert tail == [
        "1 complete, 2 pruned of 4 trials; 7 epochs trained (budget 8); duplicates 0",
        "2 repeated configurations took their earlier results (not trained, not counted)",
        "2 paused trials were promoted later: their runs resumed from their checkpoints",
    ]


def _report() -> dict:
    model = {
        "accuracy": 0.75,
        "balanced_accuracy": 0.7,
        "precision": 0.61,
        "recall": 0.52,
        "f1": 0.5616,
        "roc_auc": 0.81,
        "pr_auc": 0.66,
    }
    return {
        "run_dir": "/r/run",
        "split": "test",
        "examples": 80,
        "checkpoint": "best",
        "checkpoint_epoch": 3,
        **model,
        "loss": 0.5123456,
        "average": "binary",
        "positive_label": "other",
        "baseline": {"predicts": "great", "tied_with": [], "accuracy": 0.6, "balanced_accuracy": 0.5, "precision": 0.0},
        "baselines": {
            "majority_class": {},
            "stratified": {"accuracy": 0.52, "balanced_accuracy": 0.5, "roc_auc": 0.5, "pr_auc": 0.4},
            "tfidf_logreg": {**{k: v + 0.01 for k, v in model.items()}, "fitted_on": 240, "training_examples": 240},
        },
        "confusion_matrix": {"labels": ["great", "other"], "rows_true_cols_pred": [[40, 8], [12, 20]]},
        "verdict": {"metric": "accuracy", "model": 0.75, "strongest": "tfidf_logreg", "strongest_value": 0.76, "beats": False},
        "data_matches_training": True,
        "notes": [],
    }


def test_the_evaluation_table_shows_every_score_of_the_report_beside_each_baseline():
    """Each row of `rnnexp evaluate`'s table, cell by cell, against the report it shows: the model,
    the majority baseline, the stratified guess and the fitted baseline, then the loss, the
    confusion matrix and the verdict."""
    report = _report()
    o, out, err = _output(plain=True, width=250)
    views.show_eval(o, report)
    lines = out.getvalue().splitlines()
    assert lines[0] == "test split: 80 examples, best checkpoint (epoch 3)"
    cells = {line.split("  ")[0]: line.split()[-4:] for line in lines[2:9]}
    fitted = report["baselines"]["tfidf_logreg"]
    for key in ("accuracy", "balanced_accuracy"):
        row = cells[key.replace("_", " ")]
        stratified = report["baselines"]["stratified"][key]
        assert row == [f"{report[key]:.4f}", f"{report['baseline'][key]:.4f}", f"{stratified:.4f}", f"{fitted[key]:.4f}"], key
    for key in ("precision", "recall", "f1", "roc_auc", "pr_auc"):
        label = f"{key.replace('_', '-')} (binary, positive 'other')"
        (line,) = [line for line in lines if line.startswith(label)]
        assert f"{report[key]:.4f}" in line.split() and f"{fitted[key]:.4f}" in line.split(), line
    assert any(line.split() == ["loss", "0.5123"] for line in lines)
    matrix = [line.split() for line in lines if line.split()[:1] in (["great"], ["other"]) and line.split()[1].isdigit()]
    assert matrix == [["great", "40", "8"], ["other", "12", "20"]]
    assert (
        lines[-1] == views.verdict_line(report).replace("[bold]", "").replace("[/]", "")
        and "does NOT beat the TF-IDF + logistic regression baseline (0.76)" in lines[-1]
    )
    assert err.getvalue().splitlines()[-1] == "written: /r/run/eval_test.json"
