"""The Python API, for notebooks and scripts: the same runs as the command line, as values.

    import rnnexp
    run = rnnexp.train("configs/quickstart.yaml", overrides={"train.epochs": 1})
    rnnexp.evaluate(run)["accuracy"]
    rnnexp.load(run).predict(["great taste", "stale and bland"])
    rnnexp.runs()                      # the runs table as a pandas DataFrame

`rnnexp/__init__.py` re-exports these names lazily, so `import rnnexp` loads neither torch nor
pandas; each function imports what it needs when called. Errors are rnnexp's own exceptions
(ConfigError, DataError, RunDirError, ...: RnnexpError), with the messages the CLI prints. Nothing
here prints: progress reaches a caller's ``on_epoch`` callback."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .config import Config, load_config, override, parse_config
from .errors import ConfigError
from .rundir import RunDir


class Run(os.PathLike):
    """A run folder, with its summary, config and metrics read when asked.

    A `Run` is a path: pass it wherever a path goes (`os.fspath(run)`, `open(Path(run) / "config.yaml")`,
    `rnnexp.evaluate(run)`). `train` and `resume` return one; `Run(path)` opens an existing folder.

    Args:
        path: The run folder.

    Raises:
        rnnexp.errors.RunDirError: There is no such folder, or it holds no `config.yaml`.

    Example:
        ```python
        run = rnnexp.Run("runs/20261206-101500_quickstart")
        run.status, run.summary["best_score"], run.metrics.tail(1)
        ```
    """

    def __init__(self, path: str | os.PathLike):
        self.path = RunDir.open(path).path

    def __fspath__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, status={self.status!r})"

    @property
    def summary(self) -> dict[str, Any]:
        """`summary.json` as it is now: `status`, `epochs_run`, `best_epoch`, `best_score`, `monitor`,
        `last`, `warnings`, `baselines`, ... ({} while the run is starting)."""
        return RunDir(self.path).read_summary()

    @property
    def status(self) -> str:
        """`running`, `completed`, `early_stopped`, `pruned`, `interrupted`, `diverged`, `failed`, or
        `stale` for a run that says it is running but that no process holds (it was killed)."""
        return str(RunDir(self.path).status())

    @property
    def config(self) -> Config:
        """The run's resolved config (`config.yaml`), as a `Config` (`run.config.model.cell`)."""
        return RunDir(self.path).load_config()

    @property
    def metrics(self):
        """`metrics.csv` as a pandas DataFrame, one row per finished epoch (empty before the first)."""
        import pandas as pd

        return pd.DataFrame(RunDir(self.path).read_metrics())


def _overrides(overrides: Mapping[str, Any] | None) -> list[str]:
    if overrides is not None and not isinstance(overrides, Mapping):
        raise ConfigError(f"overrides: expected a mapping of dotted keys to values, got {type(overrides).__name__}")
    return [override(key, value) for key, value in (overrides or {}).items()]


def _config(config: str | os.PathLike | Mapping | Config, overrides: Mapping[str, Any] | None) -> tuple[Config, Path | None]:
    """The config to train and the folder its relative paths are read from."""
    sets = _overrides(overrides)
    if isinstance(config, Config):
        raw = config.model_dump(mode="json")
        return parse_config(json.dumps(raw), "<Config>", sets), None
    if isinstance(config, Mapping):
        return parse_config(json.dumps(dict(config), default=str), "<dict>", sets, base_dir=Path.cwd()), None
    path = Path(config)
    return load_config(path, sets), path.resolve().parent


def _reporter(on_epoch: Callable[[dict[str, Any]], Any] | None):
    from .training import Reporter

    class Callback(Reporter):
        def epoch_end(self, row: dict[str, Any], improved: bool) -> None:
            if on_epoch is not None:
                on_epoch({**row, "improved": improved})

    return Callback()


def train(
    config: str | os.PathLike | Mapping | Config,
    overrides: Mapping[str, Any] | None = None,
    runs_dir: str | os.PathLike | None = None,
    on_epoch: Callable[[dict[str, Any]], Any] | None = None,
) -> Run:
    """Train a new run into a new run folder, as `rnnexp train` does.

    Args:
        config: A YAML config file (its relative paths are read from its folder), a dict of the same
            shape (relative paths read from the working folder), or a `Config`.
        overrides: Dotted keys and their values, as `--set` takes them: `{"train.lr": 0.01,
            "model.cell": "lstm"}`. A mapping value merges into the section it names.
        runs_dir: Where the run folder goes; default `$RNNEXP_RUNS_DIR`, else `./runs`.
        on_epoch: Called after each epoch with its `metrics.csv` row (`epoch`, `train_loss`,
            `val_loss`, ..., `lr`, `seconds`) and `improved` (whether it is the best epoch so far).

    Returns:
        The run folder, once training has ended (completed, stopped early, or interrupted).

    Raises:
        rnnexp.errors.ConfigError: The config or an override is invalid (every problem in `messages`).
        rnnexp.errors.DataError: The data cannot be read, or does not fit the config.
        rnnexp.errors.DivergedError: The loss became NaN or infinite; the run is marked `diverged`.
        rnnexp.errors.StorageError: The disk is full; the run resumes once space is freed.
    """
    from . import training

    cfg, config_dir = _config(config, overrides)
    where = runs_dir or os.environ.get("RNNEXP_RUNS_DIR") or "runs"
    result = training.train(cfg, where, argv=["rnnexp.train"], reporter=_reporter(on_epoch), config_dir=config_dir)
    return Run(result.run_dir)


def resume(run: str | os.PathLike, epochs: int | None = None, on_epoch: Callable[[dict[str, Any]], Any] | None = None) -> Run:
    """Continue a stopped run exactly where it stopped, as `rnnexp resume` does: it ends as the run
    would have ended had it never stopped. The config comes from the run folder.

    Args:
        run: The run folder (a `Run` or a path).
        epochs: A new total number of epochs, to extend a finished or stopped run (`resume --epochs`).
        on_epoch: As for `train`.

    Returns:
        The same run folder.

    Raises:
        rnnexp.errors.RunDirError: Not a run folder, another process is training it, it has finished
            (give `epochs`), or its `config.yaml` was edited; nothing is written.
        rnnexp.errors.CheckpointError: Its checkpoints fail their checks.
        rnnexp.errors.DataError: The training data changed since the run started.
    """
    from . import training

    result = training.resume(os.fspath(run), epochs=epochs, argv=["rnnexp.resume"], reporter=_reporter(on_epoch))
    return Run(result.run_dir)


def evaluate(
    run: str | os.PathLike,
    split: str = "test",
    checkpoint: str = "auto",
    data: str | os.PathLike | None = None,
    baselines: bool | None = None,
) -> dict[str, Any]:
    """Score a run's checkpoint beside the baselines, as `rnnexp evaluate` does, and write
    `eval_<split>.json`.

    Args:
        run: The run folder (a `Run` or a path).
        split: `test` or `val`: the run's own split to score.
        checkpoint: `auto` (best when `train.early_stopping.restore_best`, else last), `best` or `last`.
        data: Score this CSV/TSV/JSONL file instead of a split (classification runs).
        baselines: Fit the simple baselines on the training split (default: the run's
            `train.baselines`).

    Returns:
        The report `eval_<split>.json` holds, a dict with `accuracy`, `f1`, ... (forecasting `mae`,
            `rmse`, ...), `baselines`, `verdict` and `notes` (every field in docs/reference/run-folder.md).

    Raises:
        rnnexp.errors.RunDirError: Not a run folder, or no such split.
        rnnexp.errors.CheckpointError: The checkpoint fails its checksum or belongs to another run.
    """
    from .scoring import evaluate as score

    return score(os.fspath(run), which=checkpoint, split=split, data_file=data, fit_baselines=baselines)


class Predictor:
    """A run's model with its saved preprocessing, loaded once, for as many predictions as asked.
    Made by `load`. `task` is the run's `data.task`; `notes` what the last prediction noted (a device
    this machine lacks, timestamps that are not evenly spaced)."""

    def __init__(self, run: str | os.PathLike, checkpoint: str = "auto", device: str | None = None):
        from .scoring import Predictor as Loaded

        self._loaded = Loaded(os.fspath(run), checkpoint, device)
        self.task = self._loaded.prep["task"]
        self.notes = list(self._loaded.notes)

    def predict(self, inputs):
        """Predict, as `rnnexp predict --json` does for the same input.

        Args:
            inputs (list[str] | pandas.DataFrame): Text runs: a list of texts, or a DataFrame whose `data.text_column` holds them.
                Sequence runs: a long-format DataFrame (the run's sequence id, step and channel
                columns; no label needed). Forecasting runs: a DataFrame of the series, in the
                run's columns.

        Returns:
            (pandas.DataFrame): One row per input. For text, the columns `text`, `label`,
                `probability`, `tokens`, `unknown` (words not in the vocabulary), `cut` (tokens beyond
                `data.maxlen`) and `p_<label>` per class; for sequences `id`, `label`, `probability`
                and `p_<label>`; for a series `steps_ahead` (with `timestamp` when the run has a time
                column) and `value`, the next `data.horizon` values after its last row.

        Raises:
            rnnexp.errors.ConfigError: The inputs are not what the run's task takes.
            rnnexp.errors.DataError: The series or sequences cannot be read as the run's.
        """
        import pandas as pd

        cfg = self._loaded.cfg
        if cfg.data.is_text:
            if isinstance(inputs, pd.DataFrame):
                inputs = _column(inputs, cfg.data.text_column).tolist()
            if isinstance(inputs, str) or not all(isinstance(t, str) for t in inputs):
                raise ConfigError("predict: a text run takes a list of texts, or a DataFrame with its text column")
            res = self._loaded.predict(texts=list(inputs))
        else:
            res = self._from_frame(inputs)
        self.notes = [*self._loaded.notes, *res.get("notes", [])]
        return _frame(res)

    def _from_frame(self, frame) -> dict[str, Any]:
        import tempfile

        import pandas as pd

        if not isinstance(frame, pd.DataFrame):
            raise ConfigError(f"predict: a {self.task} run takes a pandas DataFrame, got {type(frame).__name__}")
        with tempfile.TemporaryDirectory(prefix="rnnexp-predict-") as folder:
            path = Path(folder) / "inputs.csv"  # read back by the same reader as `rnnexp predict --file`
            frame.to_csv(path, index=False)
            return self._loaded.predict(series_file=path)


def _column(frame, name: str):
    if name not in frame.columns:
        raise ConfigError(f"predict: the DataFrame has no column {name!r} (data.text_column); it has {list(frame.columns)}")
    return frame[name].astype(str)


def _frame(res: dict[str, Any]):
    import pandas as pd

    if "forecast" in res:
        return pd.DataFrame(res["forecast"])
    rows = []
    for row in res["predictions"]:
        probabilities = {f"p_{label}": p for label, p in row.get("probabilities", {}).items()}
        rows.append({k: v for k, v in row.items() if k != "probabilities"} | probabilities)
    return pd.DataFrame(rows)


def load(run: str | os.PathLike, checkpoint: str = "auto", device: str | None = None) -> Predictor:
    """Load a run's model with its saved preprocessing, once, to predict with (the training data is
    not needed).

    Args:
        run: The run folder (a `Run` or a path).
        checkpoint: `auto` (best when `train.early_stopping.restore_best`, else last), `best` or `last`.
        device: Where to compute (`cpu`, `cuda`, `cuda:N`, `auto`), as `--device`; default the run's
            `train.device` when this machine has it, else `auto`.

    Returns:
        A `Predictor`, whose `predict` method predicts.

    Raises:
        rnnexp.errors.RunDirError: Not a run folder.
        rnnexp.errors.CheckpointError: The checkpoint fails its checksum or belongs to another run.
        rnnexp.errors.ConfigError: `device` is one this machine lacks.
    """
    return Predictor(run, checkpoint, device)


def runs(
    runs_dir: str | os.PathLike | None = None,
    filters: Mapping[str, Any] | None = None,
    sort: str | None = None,
    trials: bool = False,
):
    """The runs table, as `rnnexp runs --json` gives it, as a pandas DataFrame.

    Args:
        runs_dir: The runs folder; default `$RNNEXP_RUNS_DIR`, else `./runs`.
        filters: `{column or dotted config key: value}`; a run is kept when every one matches
            (`{"status": "completed", "model.cell": "gru"}`).
        sort: A column or config key to order by, a leading `-` for descending. `best` puts the best
            runs first, by each run's own monitor (accuracy up, loss down; runs monitoring
            different metrics grouped); `-best` puts the worst first.
        trials: Also list the trial runs inside sweep folders.

    Returns:
        (pandas.DataFrame): One row per run, oldest first unless sorted, with the columns `run`,
            `started`, `status`, `task`, `dataset`, `cell`, `units`, `lr`, `epochs`, `monitor`, `best`,
            `best_epoch`, a `test_<metric>` column once some run was evaluated, and `path`.

    Raises:
        rnnexp.errors.RunDirError: There is no such runs folder.
        rnnexp.errors.ConfigError: A filter or the sort key is malformed or names nothing.
    """
    import pandas as pd

    from .report import list_runs, table_columns

    where = runs_dir or os.environ.get("RNNEXP_RUNS_DIR") or "runs"
    rows = list_runs(where, [override(k, v) for k, v in (filters or {}).items()], sort, trials)
    columns = [*table_columns(rows), "path"]
    return pd.DataFrame([{c: r.get(c) for c in columns} for r in rows], columns=columns)
