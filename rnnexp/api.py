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
    """A run folder: a path (pass it wherever a path goes) with its summary, config and metrics."""

    def __init__(self, path: str | os.PathLike):
        self.path = RunDir.open(path).path

    def __fspath__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, status={self.status!r})"

    @property
    def summary(self) -> dict[str, Any]:
        """summary.json as it is now (status, best_epoch, best_score, monitor, ...)."""
        return RunDir(self.path).read_summary()

    @property
    def status(self) -> str:
        return str(RunDir(self.path).status())

    @property
    def config(self) -> Config:
        return RunDir(self.path).load_config()

    @property
    def metrics(self):
        """metrics.csv as a pandas DataFrame, one row per epoch."""
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
    """Train a new run, as `rnnexp train`: ``config`` a YAML file, a dict or a Config;
    ``overrides`` dotted keys, as --set (``{"train.lr": 0.01}``); ``runs_dir`` default
    $RNNEXP_RUNS_DIR, else ./runs. ``on_epoch(row)`` gets each epoch's metrics.csv row."""
    from . import training

    cfg, config_dir = _config(config, overrides)
    where = runs_dir or os.environ.get("RNNEXP_RUNS_DIR") or "runs"
    result = training.train(cfg, where, argv=["rnnexp.train"], reporter=_reporter(on_epoch), config_dir=config_dir)
    return Run(result.run_dir)


def resume(run: str | os.PathLike, epochs: int | None = None, on_epoch: Callable[[dict[str, Any]], Any] | None = None) -> Run:
    """Continue a stopped run exactly where it stopped, as `rnnexp resume` (``epochs``: a new total)."""
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
    """Score a run as `rnnexp evaluate` does (and write eval_<split>.json): the report as a dict,
    the baselines and the verdict in it."""
    from .scoring import evaluate as score

    return score(os.fspath(run), which=checkpoint, split=split, data_file=data, fit_baselines=baselines)


class Predictor:
    """A run's model, loaded once, for as many predictions as asked (see `load`)."""

    def __init__(self, run: str | os.PathLike, checkpoint: str = "auto", device: str | None = None):
        from .scoring import Predictor as Loaded

        self._loaded = Loaded(os.fspath(run), checkpoint, device)
        self.task = self._loaded.prep["task"]
        self.notes = list(self._loaded.notes)

    def predict(self, inputs):
        """A pandas DataFrame of predictions.

        Text runs: a list of texts, or a DataFrame whose `data.text_column` holds them -> text,
        label, probability, p_<label> per class. Sequence runs: a long-format DataFrame (the run's
        id, time and channel columns) -> id, label, probability. Forecasting: a DataFrame of the
        series -> steps_ahead (and timestamp), value: the next `data.horizon` values."""
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
    """A run's model with its saved preprocessing, ready to predict (``checkpoint`` auto, best or
    last; ``device`` as --device)."""
    return Predictor(run, checkpoint, device)


def runs(
    runs_dir: str | os.PathLike | None = None,
    filters: Mapping[str, Any] | None = None,
    sort: str | None = None,
    trials: bool = False,
):
    """The runs table (`rnnexp runs --json`'s columns and path) as a pandas DataFrame, oldest
    first; ``filters`` {column or dotted config key: value}; ``sort`` a column or key, '-' first
    for descending."""
    import pandas as pd

    from .report import list_runs, table_columns

    where = runs_dir or os.environ.get("RNNEXP_RUNS_DIR") or "runs"
    rows = list_runs(where, [override(k, v) for k, v in (filters or {}).items()], sort, trials)
    columns = [*table_columns(rows), "path"]
    return pd.DataFrame([{c: r.get(c) for c in columns} for r in rows], columns=columns)
