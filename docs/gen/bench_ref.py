"""Benchmark figures, read from bench/results/latest.json (what `make bench` last wrote): a table
per benchmark, and single values quoted inside sentences. A figure in the docs is never typed."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

LATEST = Path(__file__).resolve().parents[2] / "bench" / "results" / "latest.json"
MET = {True: "yes", False: "**no**", None: ""}


@cache
def latest() -> dict[str, Any]:
    if not LATEST.is_file():
        raise FileNotFoundError(f"{LATEST} is missing: run make bench (or python bench/report.py --only-report)")
    return json.loads(LATEST.read_text())


def rows(bench: str) -> list[dict[str, Any]]:
    found = [r for r in latest()["rows"] if r["benchmark"] == bench]
    if not found:
        raise KeyError(f"bench/results/latest.json has no rows of benchmark {bench!r}")
    return found


def table(bench: str) -> str:
    run = latest().get("runs", {}).get(bench, {})
    lines = ["| measure | value | goal | met |", "| --- | --- | --- | --- |"]
    lines += [
        f"| {r['measure'].strip()} | {r['value']} | {r['goal']} | {MET[r['met']]} |".replace("\n", " ") for r in rows(bench)
    ]
    when = run.get("measured_at") or latest()["written_at"][:10]
    command = run.get("command", f"python bench/{bench}.py")
    if all(r["value"] == "skipped" for r in rows(bench)):
        lines += ["", f"Not measured by the last `make bench` ({when}, `{command}`): it skipped, for the reason above."]
        return "\n".join(lines)
    took = f", {run['seconds']:.0f} s" if run.get("seconds") is not None else ""
    machine = latest().get("results", {}).get(bench, {}).get("machine") or latest()["machine"]  # where it ran
    lines += ["", f"Measured {when} with `{command}`{took} ({machine}, Python {latest()['python']})."]
    return "\n".join(lines)


def value(bench: str, measure: str) -> str:
    """The value of the one row of ``bench`` whose measure contains ``measure``."""
    found = [r for r in rows(bench) if measure in r["measure"]]
    if len(found) != 1:
        names = [r["measure"] for r in rows(bench)]
        raise KeyError(f"{len(found)} rows of {bench!r} match {measure!r} (one must): {names}")
    return str(found[0]["value"])
