"""Deterministic crash points for the recovery tests.

With RNNEXP_FAULT=<point> in the environment, the process SIGKILLs itself when it reaches that
point, so a test can crash training exactly mid-batch, at an epoch boundary or inside a
checkpoint write, and then prove that `rnnexp resume` ends bit-identical to an uninterrupted run.
Points: "batch:<epoch>:<batch>" (after that 1-based batch of that 1-based epoch),
"epoch:<epoch>" (after the epoch's checkpoint, before metrics.csv), "write:<last|best>:<epoch>"
(inside that checkpoint's write, after the temp file is complete, before the rename).
"""

from __future__ import annotations

import os
import signal


def hit(point: str) -> None:
    target = os.environ.get("RNNEXP_FAULT")
    if target is not None and target == point:
        os.kill(os.getpid(), signal.SIGKILL)
