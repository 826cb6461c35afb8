"""A result table fitted to a terminal (tables.fit): at any width, no value is cut to an ellipsis;
words stay whole while the columns' longest words fit, else the least important columns are left
out (and named), and only a first column wider than the terminal folds."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.table import Table

from rnnexp.tables import fit

RUNS = [
    ["20261206-042947_a-rather-long-run-name-gru", "completed", "gru", "[16, 8]", "0.0009301", "12", "0.8123", "0.7999"],
    ["20261206-040429_quickstart", "early_stopped", "lstm", "32", "0.02", "3", "0.7", "0.69"],
]
HEADERS = ["run", "status", "cell", "units", "lr", "epochs", "best", "test accuracy"]


def _table(fold: tuple[str, ...] = ()) -> Table:
    table = Table(title="2 runs in /some/where/runs (best: val_accuracy)")
    for header in HEADERS:
        table.add_column(header, overflow="fold" if header in fold else "ellipsis", no_wrap=header == "run")
    for row in RUNS:
        table.add_row(*row)
    return table


def _render(table: Table, width: int) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, legacy_windows=False)
    console.print(table)
    return console.file.getvalue()


@pytest.mark.parametrize("width", [200, 120, 100, 80, 70, 60, 50, 46])
def test_every_value_shown_is_whole_and_the_columns_left_out_are_the_least_important(width):
    table = _table()
    priority = ("run", "status", "best", "test accuracy")
    dropped = fit(table, width, priority)
    screen = _render(table, width)
    assert "…" not in screen and all(len(line) <= width for line in screen.splitlines()), screen
    shown = [str(c.header) for c in table.columns]
    assert sorted(shown + dropped) == sorted(HEADERS)
    order = [*priority, *[h for h in HEADERS if h not in priority]]  # the rest from the left
    assert shown == [h for h in HEADERS if h in order[: len(shown)]], (shown, dropped)  # kept: the most important
    words = screen.split()
    for row in RUNS:
        for header, value in zip(HEADERS, row):
            if header in shown:
                assert all(word in words for word in value.split()), (value, screen)  # each word whole
    if width >= 120:
        assert dropped == []


@pytest.mark.parametrize("width", [45, 30, 20])
def test_a_first_column_wider_than_the_terminal_folds_keeping_every_character(width):
    table = _table()
    dropped = fit(table, width)
    screen = _render(table, width)
    assert [str(c.header) for c in table.columns] == ["run"] and len(dropped) == len(HEADERS) - 1
    assert "…" not in screen and all(len(line) <= width for line in screen.splitlines())
    cells = "".join(line.strip("│┃ ") for line in screen.splitlines())
    assert all(row[0] in cells for row in RUNS)  # each name's characters, in order


def test_a_column_the_view_lets_fold_breaks_its_header_not_its_values():
    table = Table()
    table.add_column("key")
    for name in ("20261206-040429_quickstart", "20261206-042947_a-rather-long-run-name-gru"):
        table.add_column(name, overflow="fold")
    table.add_row("train.early_stopping.enabled", "true", "false")
    table.add_row("model.num_neurons", "[16, 8]", "32")
    assert fit(table, 70) == []  # both runs kept, their names folded
    screen = _render(table, 70)
    assert "…" not in screen and "train.early_stopping.enabled" in screen and "[16, 8]" in screen


def test_a_table_that_fits_is_left_as_it_is():
    table = _table()
    before = [(c.width, c.overflow, c.no_wrap) for c in table.columns]
    assert fit(table, 400) == []
    assert [(c.width, c.overflow, c.no_wrap) for c in table.columns] == before
