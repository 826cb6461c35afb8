"""docs/development.md's mutation table, from docs/gen/recordings/mutation.json (written by
tools/mutation.py, `make mutation`): its rows computed by the tool's own `table`, so the page
counts equivalent mutants by today's EQUIVALENT list."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def table() -> str:
    sys.path.insert(0, str(ROOT / "tools"))
    import mutation

    recorded = json.loads(mutation.RESULT.read_text(encoding="utf-8"))
    targets = {n: recorded["targets"][n] for n in mutation.TARGETS if n in recorded["targets"]}
    rows, _ = mutation.table(targets)
    goal = mutation.GOAL
    lines = [
        "| module | mutants | killed | equivalent | reached by no test | score | at the goal |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        met = "yes" if r["score"] >= goal else "no"
        cells = [f"`{r['module']}`", r["mutants"], r["killed"], r["equivalent"], r["no_tests"], f"{r['score']:.1%}", met]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    for name in mutation.TARGETS:
        if name not in targets:
            lines += [f"| `{module}` | not run yet |  |  |  |  | no |" for module in mutation.TARGETS[name][0]]
    seconds = ", ".join(f"{name} {t['seconds'] // 60} min {t['seconds'] % 60} s" for name, t in targets.items())
    recorded_at = max(t["recorded_at"] for t in targets.values())
    lines += [
        "",
        f"mutmut {recorded['mutmut']}, {recorded_at}; goal {goal:.0%} of the non-equivalent mutants killed. "
        f"Run time per target on this page's machine (2 cores): {seconds}.",
    ]
    return "\n".join(lines)
