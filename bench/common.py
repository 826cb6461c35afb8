"""Helpers shared by the benchmark scripts: timing a run's epochs, tables, JSON results."""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import torch

from rnnexp import training

RESULTS = Path(__file__).parent / "results"


class Clock(training.Reporter):
    """Wall time of each epoch, validation and checkpointing included (setup excluded)."""

    def __init__(self) -> None:
        self.start: float | None = None
        self.end: float | None = None
        self.epochs: list[float] = []
        self._epoch_start = 0.0

    def epoch_start(self, epoch, epochs, batches, done):
        self._epoch_start = time.perf_counter()
        if self.start is None:
            self.start = self._epoch_start

    def epoch_end(self, row, improved):
        self.end = time.perf_counter()
        self.epochs.append(self.end - self._epoch_start)

    @property
    def total(self) -> float:
        return self.end - self.start


def timed_run(cfg, runs: Path) -> tuple[Any, Clock]:
    clock = Clock()
    result = training.train(cfg, runs, reporter=clock)
    return result, clock


def print_table(title: str, columns: list[str], rows: list[dict[str, Any]]) -> None:
    widths = [max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns]
    print(f"\n{title}")
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(r.get(c, "")).ljust(w) for c, w in zip(columns, widths)))


def write_result(name: str, result: dict[str, Any], out: Path | None = None) -> Path:
    out = out or RESULTS / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"benchmark": name, "torch": torch.__version__, "threads": torch.get_num_threads(), "machine": platform.platform()}
    out.write_text(json.dumps({**meta, **result}, indent=2) + "\n")
    print(f"written: {out}")
    return out


def at_least(low: int):
    """An argparse type: a whole number >= low (a count of replays, seeds or processes; a first seed)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected a number >= {low}, got {value}")
        return value

    return parse
