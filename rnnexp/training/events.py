"""The hooks a caller gives training: a Reporter for its progress events, and a prune decision."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Called after each epoch with its metrics row, before its checkpoint (which records the decision).
# Returning a reason stops the run there with status "pruned" (a sweep's pruner does this); early
# stopping or the last epoch, when due as well, takes precedence.
Prune = Callable[[dict[str, Any]], str | None]


class Reporter:
    """Receives progress events; the CLI's subclass draws them. The base class ignores them."""

    def setup(self, info: dict[str, Any]) -> None: ...
    def epoch_start(self, epoch: int, epochs: int, batches: int, done: int) -> None: ...
    def batch_end(self, loss: float) -> None: ...
    def epoch_end(self, row: dict[str, Any], improved: bool) -> None:
        """Called after each epoch, before its checkpoint; events only (stopping is ``prune``'s)."""

    def note(self, text: str) -> None: ...

    def info(self, text: str) -> None:
        """A plain line (where the data came from: data.Events)."""

    def progress(self, what: str, done: int, total: int) -> None:
        """How far a long step before training is (preparing the data: data.Events)."""

    def placed(self, run_dir: str) -> None:
        """Where the run's folder goes, said just before it is renamed into place (and again if
        another run took that name meanwhile): a sweep records it on its trial, so that a retry finds
        the folder whenever the worker dies."""
