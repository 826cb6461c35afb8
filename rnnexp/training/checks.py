"""What a resume checks before it writes anything: the settings, the data, and what the checkpoint
says of how far the run got and whether it had ended."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ..config import Config, as_recorded, flatten
from ..errors import RunDirError, clip, counted
from ..rundir import RunDir, Status
from .progress import end_of


@dataclass
class ResumePlan:
    done: int  # epochs the checkpoint holds
    extending: bool  # trains past the epochs the run was started with (resume --epochs N)
    end: tuple[Status, str] | None  # how the run had ended, as the checkpoint records it
    settled: tuple[Status, str] | None  # that end, when it ended before its files said so: finish them, train nothing


def plan_resume(
    run_dir: RunDir,
    cfg: Config,
    meta: dict[str, Any],
    state: dict[str, Any] | None,
    summary: dict[str, Any],
    epochs: int | None,
    settle: bool,
) -> ResumePlan:
    """Every decision comes from the checkpoint (the position, whether the run had already ended and
    how), never from files written after it: a kill between last.pt and summary.json must not change
    what the resume does. Sets cfg.train.epochs to an extension's total."""
    check_same_config(run_dir, cfg, state["config"] if state else meta.get("config"))
    done = int(state["epoch"]) if state else 0
    end = end_of(state)
    # An extension: --epochs now, or config.yaml's train.epochs (which only --epochs writes) no
    # longer the checkpoint's: a `resume --epochs N` killed before its first checkpoint goes on to N.
    extending = epochs is not None or (state is not None and cfg.train.epochs != int(state["config"]["train"]["epochs"]))
    if settle and end is None:
        raise RunDirError(f"{run_dir.path}: the checkpoint records no end to settle (it stopped after epoch {done})")
    settled = None
    if end is not None and not extending and (settle or end[0].finished):
        if not settle and summary.get("status") == end[0]:
            raise RunDirError(
                f"{run_dir.path}: run already finished ({end[0]} after {counted(done, 'epoch')}); "
                f"to train further, extend it: rnnexp resume {run_dir.path} --epochs N (N > {done})"
            )
        settled = end
    if extending:
        target = epochs if epochs is not None else cfg.train.epochs
        if target <= done:
            given = f"--epochs {target}" if epochs is not None else f"{run_dir.config}: train.epochs {target}"
            raise RunDirError(f"{given}: the run has already trained {counted(done, 'epoch')}; give a larger total")
        cfg.train.epochs = target
    return ResumePlan(done, extending, end, settled)


def check_same_config(run_dir: RunDir, cfg: Config, recorded: dict[str, Any] | None) -> None:
    """config.yaml edited after the run started would train on with settings its checkpoint was not
    made with (or fail to load it): refuse, naming the keys. train.epochs may change: `resume
    --epochs N` sets it to extend a run."""
    if recorded is None:
        return
    try:
        # Read through today's schema, as config.yaml is: a key added since the run started takes its
        # default there too (chosen to keep the old behaviour, or the old value as_recorded gives it),
        # and older spellings are read alike.
        recorded = Config.model_validate(as_recorded(recorded)).model_dump(mode="json")
    except ValidationError:
        pass  # a key removed since: compared as written, and named below
    now, then = flatten(cfg.model_dump(mode="json")), flatten(recorded)
    keys = sorted(k for k in now.keys() | then.keys() if k != "train.epochs" and now.get(k, _ABSENT) != then.get(k, _ABSENT))
    if not keys:
        return
    shown = ", ".join(f"{k} ({_shown(then, k)} -> {_shown(now, k)})" for k in keys[:5])
    more = f" and {len(keys) - 5} more" if len(keys) > 5 else ""
    raise RunDirError(
        f"{run_dir.config}: changed since the run started: {shown}{more}; a run resumes only with the settings it "
        f"was trained with (only train.epochs may change). To train with the new settings, start a new run: "
        f"rnnexp train {run_dir.config}"
    )


_ABSENT = object()  # a key one side lacks: unequal to any value, None included


def _shown(values: dict[str, Any], key: str) -> str:
    return clip(repr(values[key]), 40) if key in values else "(absent)"


def check_same_data(run_dir: RunDir, meta: dict[str, Any], task) -> None:
    """The training data's fingerprint is the one meta.json recorded (one it lacks matches nothing)."""
    recorded = meta.get("data", {})
    if recorded.get("fingerprints", {}).get("train") != task.train_fingerprint:
        raise RunDirError(
            f"{run_dir.path}: the training data differs from when this run started "
            f"({recorded.get('sources', 'its sources: not in meta.json')}); an exact resume needs the same data"
        )
