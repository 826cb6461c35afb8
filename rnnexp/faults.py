"""Deterministic crash points for the recovery tests.

With RNNEXP_FAULT=<point> in the environment, the process SIGKILLs itself when it reaches that
point, so a test can crash a run at every instant where its files change and prove that the run
folder is then either absent or resumes bit-identical to an uninterrupted run. With
RNNEXP_FAULT=sigterm@<point> (or sigint@<point>) it sends itself that signal there instead, as if
a user's kill or Ctrl-C landed at that instant, and goes on: the signal handling decides. With
RNNEXP_FAULT_TRACE=<file>, every point reached is appended to the file, one per line: the list
of a run's points, for a test to kill it at each one in turn.

Points, in the order a run meets them:
  setup:data        (train) the data read and prepared, the model not built; nothing written
  setup:model       (train) the model and optimizer built; nothing written
  setup:files       the staged folder holds config.yaml, preprocessing.json, meta.json; not yet in place
  setup:published   the folder is in place; summary.json not yet written
  setup:done        summary.json says running; no batch trained
  mlflow:start      (train.mlflow) the MLflow run made or reopened, its id in meta.json; the epochs
                    it lacked not yet logged
  resume:checked    (resume) every check passed; nothing written yet
  resume:metrics    (resume) metrics.csv rewritten from the checkpoint's history
  resume:meta       (resume) the resume recorded in meta.json
  resume:done       (resume) summary.json says running
  batch:<e>:<b>     after batch b of epoch e (1-based); the checkpoints of epoch e-1 on disk
  write:<best|last>:<e>  inside that checkpoint's write: temp file complete, not renamed (on the
                    writer thread; mid-epoch checkpoints are labelled <e>.<b>)
  saved:<best|last>:<e>  that checkpoint renamed into place (writer thread)
  epoch:<e>         epoch e's decisions taken, earlier checkpoints on disk; its own not yet handed to
                    the writer, metrics.csv not yet
  metrics:<e>       metrics.csv has epoch e's row; epoch e's checkpoints on disk
  mlflow:<e>        (train.mlflow) epoch e's metrics logged to MLflow; summary.json not yet updated
  summary:<e>       summary.json updated after epoch e (only when the run goes on)
  end:curves        training over, curves.png drawn; the final summary.json not yet written
  end:summary       the final summary.json written
  evaluate:loaded   (evaluate) the checkpoint and the data loaded; nothing scored
  evaluate:scored   (evaluate) the report made; eval_<split>.json (and --predictions) not yet written
  sweep:files       (sweep create) the staged sweep folder holds its files and study; not yet in place
  claim:<kind>:asked  (sweep worker) a trial just asked for, RUNNING, no owner written; <kind> is new,
                    queued (a grid point), retry or promotion
  claim:<kind>:host   its host written (with PostgreSQL, its first heartbeat too), not its pid
  claim:<kind>:owned  its pid written: the trial is this worker's; its run not started
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable


def hit(point: str, settle: Callable[[], None] | None = None) -> None:
    """Record and, when it is the chosen point, SIGKILL. ``settle`` runs first, on a kill only: it
    finishes what another thread has in flight (the checkpoint writer), so that a kill at a point
    finds the same files on disk every time; write:/saved: are the instants inside that work."""
    trace = os.environ.get("RNNEXP_FAULT_TRACE")
    if trace:
        with open(trace, "a", encoding="utf-8") as f:
            f.write(point + "\n")
    how, _, where = os.environ.get("RNNEXP_FAULT", "").rpartition("@")
    if where != point:
        return
    if how in SIGNALS:
        os.kill(os.getpid(), SIGNALS[how])
    elif not how:
        if settle is not None:
            settle()
        os.kill(os.getpid(), signal.SIGKILL)


SIGNALS = {"sigterm": signal.SIGTERM, "sigint": signal.SIGINT}
