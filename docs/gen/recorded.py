"""Output of real runs, shown in the docs as the program prints it now.

`make docs-figures` (docs/gen/figures.py) runs the real commands and keeps what they returned as
JSON in docs/gen/recordings/ (an evaluate report is what `rnnexp evaluate --json` printed). The
pages show that result through rnnexp's own views, so a change to how a table is drawn changes
the docs at the next `python docs/gen/gen.py`, without training again; new numbers need a new
recording."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

RECORDINGS = Path(__file__).resolve().parent / "recordings"


def load(name: str) -> dict[str, Any]:
    path = RECORDINGS / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run make docs-figures")
    return json.loads(path.read_text())


def _plain_output():
    from rich.console import Console

    from rnnexp import views

    out, err = io.StringIO(), io.StringIO()
    console = lambda f: Console(file=f, highlight=False, soft_wrap=True, width=10_000, color_system=None)  # noqa: E731
    return views.Output(out=console(out), err=console(err), plain=True), out, err


def evaluation(report: dict[str, Any]) -> str:
    """What `rnnexp evaluate` prints on stdout for this report."""
    from rnnexp import views

    shown, out, _ = _plain_output()
    views.show_evaluation(shown, report)
    return out.getvalue().rstrip("\n")


def result_line(result: dict[str, Any]) -> str:
    """A training's result line (`train --quiet`), from what `train --json` printed."""
    from types import SimpleNamespace

    from rnnexp import views

    return views.result_line(SimpleNamespace(**result))


def render(name: str, what: str = "") -> str:
    """A recording as the docs show it, in a text block: the evaluate command and its output
    (``what`` empty), only the output (``output``, as `make demo` ends), or the training's
    command and result line (``result-line``)."""
    rec = load(name)
    if what == "result-line":
        lines = [f"$ {rec['train_command']}", result_line(rec["train"])]
    elif what in ("", "output"):
        lines = [f"$ {rec['command']}"] if what == "" else []
        lines.append(evaluation(rec["report"]))
        if rec.get("after") and what == "output":
            lines.append(rec["after"])
    else:
        raise KeyError(f"a recording shows '', 'output' or 'result-line', not {what!r}")
    return "\n".join(["```text", *lines, "```"])
