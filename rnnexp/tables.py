"""A result table fitted to a terminal's width: the one rule every table of the CLI follows on a
terminal (views.Output.table: runs, compare, sweep status and results, evaluate). Off a terminal
rows are never wrapped, so nothing here applies.

A table wider than the terminal is fitted so that no value is ever cut to an ellipsis:
1. headers and values wrap at their spaces, the widest columns narrowed first, each no narrower than
   its longest word (a column the view lets fold, a run's name over compare's column, may break
   its header's words, never its values');
2. when even that is too wide, whole columns are left out, the least important first (the view
   names the ones that matter most; the others go from the right; the first column always stays),
   and the caller says which in a note;
3. a first column whose longest word is wider than the terminal alone folds over lines, every
   character kept."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def fit(table: Any, width: int, priority: Sequence[str] = ()) -> list[str]:
    """Fit the rich ``table`` in place to ``width`` cells by the rule above; returns the headers of
    the columns left out. ``priority``: headers, most important first (the first column always
    leads); the columns it does not name follow, left to right."""
    columns = list(table.columns)
    most = [_widest(c, lines=True) for c in columns]
    if sum(most) + _overhead(table, len(columns)) <= width:
        return []
    least = [_widest(c, lines=False) for c in columns]
    headers = [str(c.header) for c in columns]
    named = [headers.index(name) for name in priority if name in headers]
    ranked = list(dict.fromkeys([0, *named, *range(len(columns))]))  # most important first
    kept = list(range(len(columns)))
    while len(kept) > 1 and sum(least[i] for i in kept) + _overhead(table, len(kept)) > width:
        kept.remove(next(i for i in reversed(ranked) if i in kept))
    budget = max(len(kept), width - _overhead(table, len(kept)))
    widths = _narrowed([most[i] for i in kept], [least[i] for i in kept], budget)
    widths = _narrowed(widths, [1] * len(kept), budget)  # only where the first column alone is too wide
    dropped = [headers[i] for i in ranked if i not in kept]
    kept = [columns[i] for i in kept]
    for column, cells in zip(kept, widths):
        column.width, column.min_width, column.max_width = cells, None, None
        column.no_wrap, column.overflow = False, "fold"  # wrapped at spaces; a word folds only past its floor
    table.columns[:] = kept
    for index, column in enumerate(kept):
        column._index = index  # rich pads the first and last columns by their index
    return dropped


def _texts(column: Any) -> list[str]:
    from rich.errors import MarkupError
    from rich.text import Text

    found = []
    for cell in [column.header, *column.cells]:
        try:
            found.append(Text.from_markup(str(cell)).plain)  # a string cell is rendered as markup
        except MarkupError:
            found.append(str(cell))
    return found


def _widest(column: Any, lines: bool) -> int:
    """The column's widest line (``lines``), or its longest word: the narrowest it can be with
    every word whole (its values' words only, when the view lets its header fold)."""
    from rich.cells import cell_len

    texts = _texts(column)
    if not lines and column.overflow == "fold":
        texts = texts[1:]  # the header may fold
    parts = [p for t in texts for p in (t.splitlines() if lines else t.split())]
    return max([1, *(cell_len(p) for p in parts)])


def _overhead(table: Any, n: int) -> int:
    """Cells a table of ``n`` columns takes beside its columns' content: borders and padding."""
    _, right, _, left = table.padding
    borders = ((2 if table.show_edge else 0) + n - 1) if table.box else 0
    return borders + n * (left + right) - (0 if table.pad_edge else left + right)


def _narrowed(widths: list[int], floors: list[int], budget: int) -> list[int]:
    """``widths`` narrowed, the widest first, none below its floor, until their sum is ``budget``
    (or every one is at its floor)."""
    widths = list(widths)
    while sum(widths) > budget:
        movable = [i for i, w in enumerate(widths) if w > floors[i]]
        if not movable:
            break
        top = max(widths[i] for i in movable)
        for i in movable:
            if widths[i] == top and sum(widths) > budget:
                widths[i] -= 1
    return widths
