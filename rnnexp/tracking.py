"""MLflow tracking (train.mlflow): a run folder mirrored as one MLflow run.

The run folder stays the truth; MLflow gets a copy, logged through MlflowClient (no global active
run, so a process may hold several). Epoch metrics are logged only once the epoch's checkpoint is
on disk, and only for the epochs the MLflow run lacks (read back from MLflow itself): a kill at
any instant, then a resume, leaves exactly one value per epoch, the one metrics.csv has.

Where: train.mlflow.tracking_uri, else $MLFLOW_TRACKING_URI, else the runs folder's own store,
MLflow's recommended local one (SQLite: <runs>/mlflow.db, artifacts in <runs>/mlartifacts/).
meta.json's "mlflow" entry keeps the MLflow run id and where that store is, relative to the run
folder, so a resume or evaluate finds both. MLflow failing (a server down) never fails a run:
the first error becomes a warning through ``warn`` and the tracker stops logging.

mlflow is imported only here, and only when tracking is on."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import MlflowConfig, flatten
from .errors import redact

STORE_FILE = "mlflow.db"
ARTIFACTS = "mlartifacts"
RUN_TAG = "rnnexp.run_id"  # meta.json's run_id: finds the MLflow run when meta.json missed its id
MAX_BATCH = 1000  # MLflow's limit of metrics in one log_batch
# MLflow's run status for each rnnexp status (resumable ones stay RUNNING or KILLED).
FINAL = {"completed": "FINISHED", "early_stopped": "FINISHED", "pruned": "FINISHED", "interrupted": "KILLED"}


def tracking_uri(settings: MlflowConfig, store: Path, recorded: str | None = None) -> str:
    """The one rule for where a run logs: the config's URI, else $MLFLOW_TRACKING_URI, else the URI
    the run logged to before (meta.json, unless it had a password), else the store of the runs
    folder ``store``."""
    recorded = recorded if recorded and "***" not in recorded else None
    return settings.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or recorded or _sqlite_uri(store / STORE_FILE)


def _sqlite_uri(path: Path) -> str:
    return "sqlite:///" + str(path.absolute())


def new_entry(settings: MlflowConfig, store: Path, runs_dir: Path) -> dict[str, Any] | None:
    """meta.json's "mlflow" for a new run in ``runs_dir`` that logs to the store of the runs folder
    ``store`` (a sweep's trials: the folder holding the sweep): the store relative to the run
    folder (so the runs folder can move), the URI when it is another (password removed), and the
    MLflow run id once there is one. None: tracking is off."""
    if not settings.enabled:
        return None
    uri = tracking_uri(settings, store)
    return {
        "run_id": None,
        "tracking_uri": None if uri == _sqlite_uri(store / STORE_FILE) else redact(uri),
        "store": os.path.relpath(store.absolute(), (runs_dir / "run").absolute()),
    }


@dataclass
class Parent:
    """The MLflow run new runs nest under (a sweep's), and the runs folder whose store holds it."""

    run_id: str | None
    store: Path


def _client(uri: str):
    from mlflow.tracking import MlflowClient

    for name in ("mlflow", "alembic"):  # their INFO lines (creating the store's tables) are not rnnexp's output
        logging.getLogger(name).setLevel(logging.WARNING)

    # The first process to open a SQLite store creates it: its tables, then MLflow's schema
    # migrations one by one. Two processes doing that at once (two trainings started together in
    # one runs folder) both migrate, and one fails midway ("duplicate column") and would go on
    # untracked. So opening the store (the client, then a first query) is one process at a time.
    with _sqlite_lock(uri):
        client = MlflowClient(tracking_uri=uri)
        client.search_experiments(max_results=1)
    return client


@contextmanager
def _sqlite_lock(uri: str) -> Iterator[None]:
    """An exclusive flock on ``<database>.lock`` beside a sqlite:/// URI's file, for as long as the
    block runs (another URI, or a folder where no lock file can be made: no lock). A separate file:
    closing any descriptor of the database itself would drop SQLite's own locks in this process."""
    import fcntl

    path = uri.removeprefix("sqlite:///").split("?", 1)[0] if uri.startswith("sqlite:///") else ""
    try:
        fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o644) if path and path != ":memory:" else None
    except OSError:
        fd = None
    try:
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)  # a killed holder's flock goes with it
        yield
    finally:
        if fd is not None:
            os.close(fd)


def _experiment(client, name: str, store: Path, embedded: bool) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = (store / ARTIFACTS / name).absolute().as_uri() if embedded else None
    try:
        return client.create_experiment(name, artifact_location=location)
    except Exception:
        found = client.get_experiment_by_name(name)  # another process created it meanwhile
        if found is None:
            raise
        return found.experiment_id


class Tracker:
    """One MLflow run, as the run folder's mirror. Every method turns an MLflow error into one call
    of ``warn`` and stops the tracker: logging is never worth a training run."""

    def __init__(self, client, run_id: str, warn: Callable[[str], None]):
        self.client, self.run_id, self.warn = client, run_id, warn
        self.logged: set[int] | None = None  # epochs the MLflow run has, read once
        self.entry: dict[str, Any] = {}  # meta.json's "mlflow" for it

    @classmethod
    def start(
        cls,
        settings: MlflowConfig,
        entry: dict[str, Any],
        folder: Path,
        context: dict[str, Any],
        warn: Callable[[str], None],
        training: bool = True,
    ) -> Tracker | None:
        """The MLflow run of a run (or sweep) folder: the one ``entry`` (meta.json's "mlflow")
        names, or the one tagged with context["run_id"], or (``training``) a new one, its params
        and tags from ``context`` (config, tags, parent), marked running. None when MLflow cannot
        be reached (after a warning) or, not ``training``, there is no MLflow run."""
        store = (folder / entry["store"]).resolve()
        uri = tracking_uri(settings, store, entry.get("tracking_uri"))
        try:
            client = _client(uri)
            run_id = entry.get("run_id") or _tagged(client, settings, context["run_id"])
            if run_id is None and not training:
                return None
            if run_id is None:
                run_id = _create(client, settings, store, uri, {**context, "name": folder.name})
            elif training and client.get_run(run_id).info.status != "RUNNING":
                client.update_run(run_id, status="RUNNING")  # a resumed run goes on
        except Exception as e:
            warn(f"MLflow ({redact(uri)}): {_why(e)}; going on without MLflow tracking")
            return None
        tracker = cls(client, run_id, warn)
        tracker.entry = {**entry, "run_id": run_id}
        return tracker

    def _guarded(self, what: str, action: Callable[[], None]) -> None:
        if self.client is None:
            return
        try:
            action()
        except Exception as e:
            self.client = None
            self.warn(f"MLflow: could not {what}: {_why(e)}; training goes on, no longer logged to MLflow")

    def log_epochs(self, history: Iterable[dict[str, Any]]) -> None:
        """Every metrics.csv row of ``history`` the MLflow run lacks, at its epoch (one batch per
        call: all or none of it lands)."""

        def log() -> None:
            from mlflow.entities import Metric

            if self.logged is None:
                self.logged = {m.step for m in self.client.get_metric_history(self.run_id, "train_loss")}
            now = int(time.time() * 1000)
            new = [row for row in history if int(row["epoch"]) not in self.logged]
            metrics = [
                Metric(key, float(value), now, int(row["epoch"]))
                for row in new
                for key, value in row.items()
                if key != "epoch" and value is not None
            ]
            for at in range(0, len(metrics), MAX_BATCH):
                self.client.log_batch(self.run_id, metrics=metrics[at : at + MAX_BATCH])
            self.logged.update(int(row["epoch"]) for row in new)

        self._guarded("log the epoch's metrics", log)

    def log_scores(self, scores: dict[str, float], step: int) -> None:
        """Scores (baselines', evaluate's) at ``step``, each once: one already there at that step
        is not logged again (a settled resume, evaluate run twice)."""

        def log() -> None:
            from mlflow.entities import Metric

            now = int(time.time() * 1000)
            new = [
                Metric(key, float(value), now, step)
                for key, value in scores.items()
                if not any(m.step == step for m in self.client.get_metric_history(self.run_id, key))
            ]
            if new:
                self.client.log_batch(self.run_id, metrics=new)

        self._guarded("log the scores", log)

    def log_artifacts(self, paths: Iterable[Path]) -> None:
        """Files copied into the run's artifacts (the same name again replaces it)."""

        def log() -> None:
            for path in paths:
                if path.is_file():
                    self.client.log_artifact(self.run_id, str(path))

        self._guarded("log the artifacts", log)

    def end(self, status: str) -> None:
        """The run ended with rnnexp ``status``: tag it, and terminate the MLflow run."""

        def log() -> None:
            self.client.set_tag(self.run_id, "rnnexp.status", status)
            self.client.set_terminated(self.run_id, FINAL.get(status, "FAILED"))

        self._guarded("end the MLflow run", log)


def _tagged(client, settings: MlflowConfig, run_id: str) -> str | None:
    """The MLflow run of a run folder whose meta.json lacks its id (killed right after creating it)."""
    found = client.get_experiment_by_name(settings.experiment)
    if found is None:
        return None
    runs = client.search_runs([found.experiment_id], filter_string=f"tags.`{RUN_TAG}` = '{run_id}'", max_results=1)
    return runs[0].info.run_id if runs else None


def _create(client, settings: MlflowConfig, store: Path, uri: str, context: dict[str, Any]) -> str:
    from mlflow.entities import Param

    experiment = _experiment(client, settings.experiment, store, uri == _sqlite_uri(store / STORE_FILE))
    tags = {RUN_TAG: context["run_id"], "rnnexp.status": "running", **context.get("tags", {})}
    if context.get("parent"):
        tags["mlflow.parentRunId"] = context["parent"]
    run = client.create_run(experiment, tags=tags, run_name=context.get("name"))
    params = [Param(key, _param(value)) for key, value in sorted(flatten(context.get("config", {})).items())]
    for at in range(0, len(params), 100):  # MLflow's limit of params in one log_batch
        client.log_batch(run.info.run_id, params=params[at : at + 100])
    return run.info.run_id


def _param(value: Any) -> str:
    text = "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    return text[:6000]  # MLflow's longest param value


def _why(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:200]}" if text else type(e).__name__


def open_run(
    settings: MlflowConfig,
    meta: dict[str, Any],
    folder: Path,
    warn: Callable[[str], None],
    parent: str | None = None,
    training: bool = True,
) -> Tracker | None:
    """The Tracker of a run folder, as its meta.json says (see Tracker.start); None when tracking is off."""
    if not settings.enabled:
        return None
    entry = meta.get("mlflow") or new_entry(settings, folder.parent, folder.parent)
    context = {"run_id": meta.get("run_id", ""), "config": meta.get("config", {}), "tags": run_tags(meta, folder)}
    return Tracker.start(settings, entry, folder, {**context, "parent": parent}, warn, training)


def run_tags(meta: dict[str, Any], folder: Path) -> dict[str, str]:
    """The tags a run's MLflow run is created with: its folder, host and git commit."""
    tags = {"rnnexp.run_dir": str(folder.absolute()), "rnnexp.hostname": str(meta.get("hostname", ""))}
    git = meta.get("git") or {}
    if git.get("commit"):
        tags["mlflow.source.git.commit"] = git["commit"]
        tags["rnnexp.git_dirty"] = str(bool(git.get("dirty"))).lower()
    return tags


def scores_of(report: dict[str, Any]) -> dict[str, float]:
    """An eval_*.json report as MLflow metrics: <split>_<score> for the model's scores and
    <split>_baseline_<name>_<score> for each baseline's (e.g. test_accuracy,
    test_baseline_majority_class_accuracy)."""
    split = report["split"]
    number = lambda v: isinstance(v, float)
    found = {f"{split}_{k}": v for k, v in report.items() if number(v)}
    for name, scores in (report.get("baselines") or {}).items():
        found.update({f"{split}_baseline_{name}_{k}": v for k, v in scores.items() if number(v)})
    return found
