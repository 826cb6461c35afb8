"""A sweep's study: made once with its folder (the grid enqueued), opened by every worker; the
search space as Optuna's trials suggest it."""

from __future__ import annotations

import itertools
import json
import random
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .. import faults
from ..config import Config, SweepConfig, as_recorded, grid_sweep, load_sweep, objective_of, sweep_document
from ..rundir import RunDir, write_json, write_text
from ..tracking import Parent, Tracker, new_entry
from .names import SWEEP_FILE, Attr, SweepError
from .pruning import make_pruner, make_sampler
from .storage import open_storage, quiet_optuna, redact


def encode(value: Any) -> Any:
    """Optuna's categorical choices must be scalars: lists and mappings travel as JSON text."""
    return value if value is None or isinstance(value, (bool, int, float, str)) else json.dumps(value)


def decode(value: Any, choices: list[Any]) -> Any:
    for choice in choices:
        if encode(choice) == value:
            return choice
    return value


def grid_points(sweep: SweepConfig) -> list[dict[str, Any]]:
    """Every point of a grid sweep (or the seeded sample of `trials` of them), in a fixed order."""
    specs = sweep.specs()
    keys = list(specs)
    points = [dict(zip(keys, combo)) for combo in itertools.product(*(specs[k].grid() for k in keys))]
    if sweep.trials is not None and sweep.trials < len(points):
        points = random.Random(sweep.sampler.seed).sample(points, sweep.trials)
    return points


_SUGGEST = {  # by spec kind: the parameter's value, suggested by an Optuna trial
    "choice": lambda trial, key, spec: decode(trial.suggest_categorical(key, [encode(v) for v in spec.values]), spec.values),
    "int": lambda trial, key, spec: trial.suggest_int(key, int(spec.low), int(spec.high), step=int(spec.step or 1)),
    "uniform": lambda trial, key, spec: trial.suggest_float(key, spec.low, spec.high, step=spec.step),
    "loguniform": lambda trial, key, spec: trial.suggest_float(key, spec.low, spec.high, log=True),
}


def suggest(trial, sweep: SweepConfig) -> dict[str, Any]:
    return {key: _SUGGEST[spec.kind](trial, key, spec) for key, spec in sweep.specs().items()}


@dataclass
class Sweep:
    """An opened sweep: its spec, base config and Optuna study."""

    sweep: SweepConfig
    base_raw: dict[str, Any]
    base: Config
    study: Any
    storage_url: str | None
    path: Path | None  # the sweep folder, where this machine has one
    worker: int | None = 0  # this worker's number (None: none given); it places trials on a GPU
    device: str | None = None  # this worker's --device, over the placement (devices.worker_device)
    metric: str = ""
    direction: str = ""
    notes: list[str] = field(default_factory=list)  # for the person who made it (MLflow unreachable)

    def __post_init__(self) -> None:
        self.metric, self.direction = objective_of(self.sweep, self.base)

    @property
    def total(self) -> int:
        return self.sweep.total_trials


def create(
    sweep_file: str | Path,
    runs_dir: str | Path,
    overrides: list[str] | tuple[str, ...] = (),
    storage_url: str | None = None,
    workers: int | None = None,
    grid: list[str] | tuple[str, ...] = (),
) -> Sweep:
    """Make the sweep folder and its study, named after the folder (unique), with the grid enqueued.
    Workers never create anything, so fresh workers cannot race to make the schema or the study.
    With ``grid`` (--grid KEY=V1,V2 items), ``sweep_file`` is a config and ``overrides`` its --set:
    the grid sweep they stand for. Either way the folder's sweep.yaml is the sweep as it runs (see
    _write_sweep_files)."""
    import optuna

    quiet_optuna()
    if grid:
        sweep, base_raw, base = grid_sweep(sweep_file, grid, overrides)
    else:
        sweep, base_raw, base = load_sweep(sweep_file, overrides)
    if workers is not None:
        sweep.workers = workers
    # A server that cannot be reached is found out before any folder is made.
    storage = open_storage(storage_url, None, sweep.workers, sweep.heartbeat) if storage_url else None
    # Built aside and renamed into place with sweep.json in it: a sweep folder is either absent or
    # whole, whenever the process dies (a journal's study moves with its folder: it has no path inside).
    staged = RunDir.stage(runs_dir, sweep.name, checkpoints=False, prefix="sweep_")
    folder = staged.run.path
    try:
        (folder / "trials").mkdir()
        command = ["rnnexp", "sweep", str(sweep_file), *(f"--grid={g}" for g in grid), *(f"--set={o}" for o in overrides)]
        _write_sweep_files(folder, sweep, base_raw, command + ([f"--workers={workers}"] if workers is not None else []))
        study_name = staged.intended_name()  # the folder's name, unless another takes it in the same second
        try:
            study = optuna.create_study(
                storage=storage or open_storage(None, folder),
                study_name=study_name,
                direction=objective_of(sweep, base)[1],
                sampler=make_sampler(sweep),
                pruner=make_pruner(sweep, base),
            )
        except optuna.exceptions.DuplicatedStudyError:
            raise SweepError(f"study {study_name} already exists in {redact(storage_url or '')}") from None
        study.set_user_attr(Attr.SPEC, {"sweep": sweep.model_dump(mode="json"), "base": base_raw})
        if sweep.sampler.exhaustive:
            for point in grid_points(sweep):
                study.enqueue_trial({k: encode(v) for k, v in point.items()})
        _write_info(folder, study_name, sweep, base, sweep_file, storage_url)
        faults.hit("sweep:files")
        folder = staged.publish().path
    except BaseException:
        staged.discard()
        raise
    sw = open_sweep(folder, storage_url)
    _track_sweep(sw)
    return sw


BASE_COPY = "base.yaml"


def _write_sweep_files(folder: Path, sweep: SweepConfig, base_raw: dict, command: list[str]) -> None:
    """A sweep folder's sweep.yaml and base.yaml, for a sweep file and for --grid alike: base.yaml is
    the config every trial starts from (the base config resolved, `set` applied, data paths absolute);
    sweep.yaml is the sweep as it runs (--set and --workers applied), every key written out, over
    base: base.yaml. So the folder holds the whole sweep, whatever happens to the files it was made
    from, and `rnnexp sweep FOLDER/sweep.yaml` runs the same sweep again from any working folder
    (its `set` is in base.yaml already; applying it again changes nothing)."""
    write_text(folder / BASE_COPY, yaml.safe_dump(base_raw, sort_keys=False))
    header = (
        f"# {shlex.join(command)}\n"
        f"# The sweep as it ran: every key, --set applied; {BASE_COPY} beside it is its base config resolved, `set` applied.\n"
    )
    doc = sweep_document(sweep, BASE_COPY)
    write_text(folder / "sweep.yaml", header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=None))


def _track_sweep(sw: Sweep) -> None:
    """With train.mlflow in the base config: the sweep's MLflow run, in the store of the runs folder
    holding the sweep folder; its id goes in the study, so that every worker's trials nest under it.
    MLflow unreachable: a note, and the trials are MLflow runs of their own."""
    settings = sw.base.train.mlflow
    if not settings.enabled or sw.path is None:
        return
    context = {
        "run_id": sw.study.study_name,
        "config": {"sweep": sw.sweep.model_dump(mode="json"), "base": sw.base.model_dump(mode="json")},
        "tags": {"rnnexp.sweep_dir": str(sw.path), "rnnexp.kind": "sweep"},
    }
    entry = new_entry(settings, sw.path.parent, sw.path.parent)
    tracker = Tracker.start(settings, entry, sw.path, context, sw.notes.append)
    if tracker is not None:
        sw.study.set_user_attr(Attr.MLFLOW, tracker.run_id)


def mlflow_parent(sw: Sweep, trials_dir: Path) -> Parent | None:
    """What a trial's run nests under in MLflow: the sweep's run (made by create), in the store of
    the runs folder holding the sweep folder (a worker without one: its own runs folder)."""
    if not sw.base.train.mlflow.enabled:
        return None
    return Parent(sw.study.user_attrs.get(Attr.MLFLOW), sw.path.parent if sw.path else trials_dir)


def end_sweep_run(sw: Sweep, trials_dir: Path, events) -> None:
    """The sweep has ended (nothing left to run): its MLflow run is finished."""
    parent = mlflow_parent(sw, trials_dir)
    if parent is None or parent.run_id is None:
        return
    folder = sw.path or trials_dir / sw.study.study_name  # where the sweep's folder is, or would be
    entry = {**new_entry(sw.base.train.mlflow, parent.store, folder.parent), "run_id": parent.run_id}
    tracker = Tracker.start(sw.base.train.mlflow, entry, folder, {"run_id": ""}, events.note, training=False)
    if tracker is not None:
        tracker.end("completed")


def _write_info(folder: Path, study_name: str, sweep: SweepConfig, base: Config, sweep_file, storage_url: str | None) -> None:
    """sweep.json: what the sweep is, for people and for open_sweep (never the storage's password)."""
    metric, direction = objective_of(sweep, base)
    write_json(
        folder / SWEEP_FILE,
        {
            "study": study_name,
            "storage": redact(storage_url) if storage_url else "journal",
            "sweep_file": str(Path(sweep_file).absolute()),
            "metric": metric,
            "direction": direction,
            "trials": sweep.total_trials,
            "epoch_budget": sweep.epoch_budget,
            "sampler": sweep.sampler.kind,
            "pruner": sweep.pruner.kind,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    )


def open_sweep(
    path: str | Path | None = None,
    storage_url: str | None = None,
    study_name: str | None = None,
    worker: int | None = 0,
    device: str | None = None,
) -> Sweep:
    """An existing sweep, from its folder (journal storage) or from --storage and --study, for worker
    number ``worker`` (its sampler's stream, see make_sampler, and its GPU) computing on ``device``
    (--device; None: where devices.worker_device places it)."""
    import optuna

    if device is not None:
        from ..devices import resolve_device

        resolve_device(device, "--device")  # a device this machine lacks fails now, before any trial
    quiet_optuna()
    folder = Path(path) if path is not None else None
    if folder is not None:
        info_file = folder / SWEEP_FILE
        if not info_file.is_file():
            raise SweepError(f"{folder}: not a sweep folder (no {SWEEP_FILE})")
        info = json.loads(info_file.read_text(encoding="utf-8"))
        study_name = study_name or info["study"]
        if info["storage"] != "journal" and storage_url is None:
            raise SweepError(f"{folder}: this sweep's study lives in {info['storage']}; give --storage URL (with the password)")
    elif study_name is None or storage_url is None:
        raise SweepError("give a sweep folder, or both --storage URL and --study NAME")
    storage = open_storage(storage_url, folder)
    try:
        summaries = {s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)}
    except Exception as e:
        raise SweepError(f"cannot read studies from {redact(storage_url or str(folder))}: {str(e).splitlines()[0]}") from None
    if study_name not in summaries:
        raise SweepError(
            f"no study {study_name!r} in {redact(storage_url or str(folder))}; known: {', '.join(sorted(summaries)) or 'none'}"
        )
    study = optuna.load_study(study_name=study_name, storage=storage)
    spec = study.user_attrs.get(Attr.SPEC)
    if spec is None:
        raise SweepError(f"study {study_name!r} was not made by rnnexp sweep (no {Attr.SPEC} attribute)")
    sweep = SweepConfig.model_validate(spec["sweep"])
    base_raw = as_recorded(spec["base"])
    base = Config.model_validate(base_raw)
    if storage_url is not None and storage_url.startswith("postgresql"):
        storage = open_storage(storage_url, folder, heartbeat=sweep.heartbeat)
    study = optuna.load_study(
        study_name=study_name, storage=storage, sampler=make_sampler(sweep, worker), pruner=make_pruner(sweep, base)
    )
    return Sweep(sweep, base_raw, base, study, storage_url, folder, worker, device)
