"""Training runs: train, resume, dry-run and lr-find, built of small parts with one job each.

recipe.py    train, resume, dry_run: setup -> train -> save the end
parts.py     build_parts: the model, optimizer and policies, for every entry point
policies.py  EarlyStopping, LRSchedule, the optimizer
progress.py  Progress: where training stands; the one shape of last.pt's training state
loop.py      fit and step, and how a run ends; no file I/O (it calls Hooks)
record.py    the run folder's life: lock, meta, checkpoints, metrics.csv, TensorBoard, curves,
             summary.json, and the status an error ends the run with
checks.py    what a resume checks before it writes anything
events.py    Reporter (progress events) and Prune (the decision to stop a run early)
lr_find.py   the learning-rate range test
"""

from .events import Prune, Reporter
from .lr_find import lr_find
from .policies import EarlyStopping, LRSchedule
from .progress import recorded
from .recipe import dry_run, resume, train
from .record import TrainResult

__all__ = [
    "EarlyStopping",
    "LRSchedule",
    "Prune",
    "Reporter",
    "TrainResult",
    "dry_run",
    "lr_find",
    "recorded",
    "resume",
    "train",
]
