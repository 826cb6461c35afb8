"""docs/development.md's mutation table, from docs/gen/recordings/mutation.json (written by
tools/mutation.py, `make mutation`)."""

from __future__ import annotations

import json
from pathlib import Path

RESULT = Path(__file__).resolve().parent / "recordings" / "mutation.json"


def table() -> str:
    result = json.loads(RESULT.read_text(encoding="utf-8"))
    goal = result["goal"]
    lines = [
        "| module | mutants | killed | equivalent | reached by no test | score | at the goal |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in result["modules"]:
        met = "yes" if r["score"] >= goal else "no"
        cells = [f"`{r['module']}`", r["mutants"], r["killed"], r["equivalent"], r["no_tests"], f"{r['score']:.1%}", met]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    for module in result.get("not_run", []):
        lines.append(f"| `{module}` | not run yet |  |  |  |  | no |")
    seconds = ", ".join(f"{name} {s // 60} min {s % 60} s" for name, s in result["seconds"].items())
    lines += [
        "",
        f"mutmut {result['mutmut']}, {result['recorded_at']}; goal {goal:.0%} of the non-equivalent mutants killed. "
        f"Run time per target on this page's machine (2 cores): {seconds}.",
    ]
    return "\n".join(lines)
