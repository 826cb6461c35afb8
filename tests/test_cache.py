"""rnnexp/data/cache.py and prepared.py: an entry is reused exactly when nothing that decides it
changed; a damaged one is never used; two builders end with one good entry; a cache that cannot be
written costs the cache, not the run; the size limit evicts the least recently used; and a run
trains the same bits from the cache, without it, and from a rebuilt entry."""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import assert_same_run, fill_disk, run_cli, tmpfs
from rnnexp.config import Config, DataConfig
from rnnexp.data import Table, cache, prepared, read_table
from rnnexp.errors import DataError


class Heard:
    def __init__(self) -> None:
        self.notes: list[str] = []
        self.infos: list[str] = []

    def note(self, text: str) -> None:
        self.notes.append(text)

    def info(self, text: str) -> None:
        self.infos.append(text)

    def progress(self, what: str, done: int, total: int) -> None: ...


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("RNNEXP_CACHE_DIR", str(folder))
    monkeypatch.delenv("RNNEXP_CACHE_SIZE", raising=False)
    return folder


def write_csv(path: Path, rows: list[tuple[str, str]], header=("text", "label")) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


ROWS = [(f"Review {i}: the <b>food</b> was {'good' if i % 2 else 'bad'} &amp; don't café {i % 7}", str(i % 2)) for i in range(50)]


def config(path: Path, **keys) -> DataConfig:
    return DataConfig(train_file=str(path), **keys)


def contents(table) -> tuple[list, list, list]:
    """A Table's texts, labels and words as lists (copied out of the entry's mapped files)."""
    return list(table.texts), list(table.labels), [table.tokens.of(i) for i in range(len(table.tokens))]


def same_table(a, b) -> None:
    assert (a if isinstance(a, tuple) else contents(a)) == contents(b)


def keys(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if not p.name.startswith(".")} if folder.is_dir() else set()


def read(path: Path, cfg: DataConfig, heard: Heard | None = None):
    return read_table(path, cfg, heard or Heard())


def test_a_second_read_is_the_entry_and_says_so(tmp_path, cache_dir):
    path = write_csv(tmp_path / "d.csv", ROWS)
    first, heard = read(path, config(path)), Heard()
    second = read(path, config(path), heard)
    assert len(keys(cache_dir)) == 1
    assert heard.infos and "from the cache" in heard.infos[0] and str(path) in heard.infos[0]
    same_table(first, second)
    assert isinstance(second.tokens.ids, np.memmap) and isinstance(second.texts.blob, np.memmap)  # mapped, not read


def test_one_changed_byte_is_a_new_entry_whatever_the_size_and_time_say(tmp_path, cache_dir):
    path = write_csv(tmp_path / "d.csv", ROWS)
    read(path, config(path))
    stat = path.stat()
    raw = bytearray(path.read_bytes())
    where = raw.index(b"good")
    raw[where] = ord("f")  # "food" for "good": same size
    path.write_bytes(bytes(raw))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same time
    changed = read(path, config(path))
    assert len(keys(cache_dir)) == 2
    assert "food" in changed.tokens.of(1) and "good" not in changed.tokens.of(1)


@pytest.mark.parametrize(
    "key, value",
    [
        ("lowercase", False),
        ("strip_html", True),
        ("encoding", "latin-1"),
        ("text_column", "other"),
        ("label_column", "other"),
        ("columns", ["text", "label", "other"]),
        ("format", "tsv"),
    ],
)
def test_every_key_that_decides_the_entry_is_in_its_key(tmp_path, cache_dir, monkeypatch, key, value):
    path = write_csv(tmp_path / "d.csv", [(t, y, t.upper()) for t, y in ROWS], header=("text", "label", "other"))
    assert cache.key_of(prepared.table_key(path, config(path))) != cache.key_of(
        prepared.table_key(path, config(path, **{key: value}))
    )
    if key in ("columns", "format"):
        return  # the same bytes are not a file of this shape: what is read differs, and so does the key
    read(path, config(path))
    table = read(path, config(path, **{key: value}))  # a new entry, read as the key says
    assert len(keys(cache_dir)) == 2
    monkeypatch.setenv("RNNEXP_CACHE_DIR", "off")
    same_table(table, read(path, config(path, **{key: value})))


@pytest.mark.parametrize("key, value", [("maxlen", 7), ("min_freq", 3), ("max_vocab", 10), ("split_seed", 5), ("val_split", 0.3)])
def test_keys_that_do_not_change_preparation_reuse_the_entry(tmp_path, cache_dir, key, value):
    path = write_csv(tmp_path / "d.csv", ROWS)
    read(path, config(path))
    heard = Heard()
    read(path, config(path, **{key: value}), heard)
    assert len(keys(cache_dir)) == 1 and "from the cache" in heard.infos[0]


def test_a_new_preparation_version_is_a_new_entry(tmp_path, cache_dir, monkeypatch):
    path = write_csv(tmp_path / "d.csv", ROWS)
    read(path, config(path))
    monkeypatch.setattr(cache, "PREPARATION", cache.PREPARATION + 1)
    read(path, config(path))
    assert len(keys(cache_dir)) == 2


def _damage(entry: Path, how: str) -> None:
    if how == "truncated":
        part = entry / "ids.bin"
        part.write_bytes(part.read_bytes()[:-1])
    elif how == "flipped bit":
        part = entry / "texts.bin"
        raw = bytearray(part.read_bytes())
        raw[len(raw) // 2] ^= 0x10
        part.write_bytes(bytes(raw))
    elif how == "missing part":
        (entry / "token_offsets.bin").unlink()
    elif how == "no entry.json":
        (entry / "entry.json").unlink()
    elif how == "garbage entry.json":
        (entry / "entry.json").write_text("{not json")
    elif how == "wrong part list":
        meta = json.loads((entry / "entry.json").read_text())
        del meta["parts"]["labels"]
        (entry / "entry.json").write_text(json.dumps(meta))


@pytest.mark.parametrize(
    "how", ["truncated", "flipped bit", "missing part", "no entry.json", "garbage entry.json", "wrong part list"]
)
def test_a_damaged_entry_is_named_removed_and_built_again(tmp_path, cache_dir, how):
    path = write_csv(tmp_path / "d.csv", ROWS)
    good = contents(read(path, config(path)))
    (entry,) = [cache_dir / k for k in keys(cache_dir)]
    _damage(entry, how)
    heard = Heard()
    again = read(path, config(path), heard)
    same_table(good, again)
    assert len(heard.notes) == 1 and "damaged" in heard.notes[0] and entry.name[:12] in heard.notes[0], heard.notes
    assert keys(cache_dir) == {entry.name} and not heard.infos  # built again, not read from the cache
    third = Heard()
    read(path, config(path), third)
    assert third.infos and not third.notes  # the rebuilt entry is whole


def _build(args) -> list[str]:
    path, cache_folder = args
    os.environ["RNNEXP_CACHE_DIR"] = cache_folder
    table = read_table(Path(path), DataConfig(train_file=path), Heard())
    return [" ".join(table.tokens.of(i)) for i in range(len(table.tokens))]


def test_builders_at_once_end_with_one_good_entry(tmp_path, cache_dir):
    rows = [(f"text {i} " + "word " * (i % 13), str(i % 3)) for i in range(20_000)]
    path = write_csv(tmp_path / "d.csv", rows)
    with multiprocessing.get_context("fork").Pool(3) as pool:  # three processes, each its own read
        results = pool.map(_build, [(str(path), str(cache_dir))] * 3)
    assert results[0] == results[1] == results[2]
    assert len(keys(cache_dir)) == 1
    assert not [p for p in cache_dir.iterdir() if p.name.startswith((".building", ".removing"))]


def test_an_entry_stored_twice_keeps_the_first(tmp_path, cache_dir):
    """The race the lock does not cover (a cache folder shared between machines): the second rename
    finds the first entry in place and uses it."""
    arrays = {"a": np.arange(5, dtype=np.int64)}
    heard = Heard()
    first = cache.store("k" * 32, arrays, {"source": "x"}, heard.note)
    second = cache.store("k" * 32, {"a": np.arange(5, dtype=np.int64)}, {"source": "y"}, heard.note)
    assert first is not None and second is not None and second.meta["source"] == "x" and not heard.notes
    assert keys(cache_dir) == {"k" * 32}


def test_parts_written_before_the_build_ends_are_the_entry(tmp_path, cache_dir):
    """A part added early (a file's texts, written while they are tokenized) is stored once, as it
    was added; the parts given at the end join it; the entry maps them all."""
    early, late = np.arange(100_000, dtype=np.int64), np.frombuffer(b"late part", dtype=np.uint8)
    path = write_csv(tmp_path / "d.csv", ROWS)

    def build(staging):
        staging.add("early", early)
        staging.written["early"].result()  # written before the build goes on
        assert (staging.folder / "early.bin").read_bytes() == early.tobytes()
        return {"early": early, "late": late}, {"facts": 1}

    heard = Heard()
    arrays, meta, folder = prepared.through_cache(path, {"kind": "test"}, ("early", "late"), build, heard)
    assert folder is not None and not heard.notes and meta == {"facts": 1}
    assert np.array_equal(arrays["early"], early) and bytes(arrays["late"]) == b"late part"
    again, _, _ = prepared.through_cache(path, {"kind": "test"}, ("early", "late"), build, heard)  # a hit: mapped
    assert np.array_equal(again["early"], early) and heard.infos and "from the cache" in heard.infos[-1]


def test_a_build_that_fails_after_writing_parts_leaves_nothing(tmp_path, cache_dir):
    path = write_csv(tmp_path / "d.csv", ROWS)

    def build(staging):
        staging.add("texts", np.arange(50_000, dtype=np.int64))
        raise DataError("found a bad line after the texts were read")

    with pytest.raises(DataError, match="bad line"):
        prepared.through_cache(path, {"kind": "test"}, ("texts",), build, Heard())
    assert keys(cache_dir) == set()
    assert not [p for p in cache_dir.iterdir() if p.name.startswith((".building", ".removing"))]
    read(path, config(path))  # and the next build of any entry goes on as ever
    assert len(keys(cache_dir)) == 1


@pytest.fixture
def small_disk(tmp_path):
    with tmpfs(tmp_path / "small-disk", "2m", "the read-only case covers the path") as mount:
        yield mount


def test_a_full_disk_costs_the_cache_not_the_run(tmp_path, small_disk, monkeypatch):
    monkeypatch.setenv("RNNEXP_CACHE_DIR", str(small_disk / "cache"))
    rows = [(f"text {i} " + "word " * (i % 50), str(i % 2)) for i in range(30_000)]  # about 3 MB of entry
    path = write_csv(tmp_path / "d.csv", rows)
    heard = Heard()
    table = read(path, config(path), heard)
    assert len(heard.notes) == 1 and "cannot write" in heard.notes[0] and "in memory" in heard.notes[0], heard.notes
    assert [p for p in (small_disk / "cache").iterdir() if not p.name.startswith(".locks")] == []
    monkeypatch.setenv("RNNEXP_CACHE_DIR", "off")
    same_table(table, read(path, config(path)))


def test_a_cache_folder_that_cannot_be_made_is_one_note(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("RNNEXP_CACHE_DIR", str(blocker / "cache"))
    path = write_csv(tmp_path / "d.csv", ROWS)
    heard = Heard()
    table = read(path, config(path), heard)
    assert len(heard.notes) == 1 and "cannot write" in heard.notes[0]
    monkeypatch.setenv("RNNEXP_CACHE_DIR", "off")
    same_table(table, read(path, config(path)))


def test_a_full_disk_mid_entry_leaves_nothing(tmp_path, small_disk, monkeypatch):
    monkeypatch.setenv("RNNEXP_CACHE_DIR", str(small_disk / "cache"))
    (small_disk / "cache").mkdir()
    filler = fill_disk(small_disk, leave=200_000)  # room for some parts, not all
    rows = [(f"text {i} " + "word " * (i % 50), str(i % 2)) for i in range(8_000)]
    path = write_csv(tmp_path / "d.csv", rows)
    heard = Heard()
    read(path, config(path), heard)
    assert len(heard.notes) == 1 and "cannot write" in heard.notes[0], heard.notes
    assert keys(small_disk / "cache") == set()
    assert not [p for p in (small_disk / "cache").iterdir() if p.name.startswith(".building")]
    filler.unlink()


def test_the_size_limit_evicts_the_least_recently_used(tmp_path, cache_dir, monkeypatch):
    paths = [write_csv(tmp_path / f"d{i}.csv", [(f"{t} {i}", y) for t, y in ROWS]) for i in range(3)]
    for p in paths:
        read(p, config(p))
    sizes = {e["source"]: e["bytes"] for e in cache.entries()}
    read(paths[0], config(paths[0]))  # used again: d1 is now the least recently used
    os.utime(cache_dir / next(e["key"] for e in cache.entries() if e["source"] == str(paths[0])) / "entry.json")
    monkeypatch.setenv("RNNEXP_CACHE_SIZE", str(sizes[str(paths[0])] + sizes[str(paths[2])] + 10))
    extra = write_csv(tmp_path / "d3.csv", ROWS[:5])
    read(extra, config(extra))
    left = {e["source"] for e in cache.entries()}
    assert str(extra) in left and str(paths[1]) not in left


@pytest.mark.parametrize(
    "raw, expected", [("20GB", 20 * 10**9), ("500MB", 500 * 10**6), ("1.5GiB", int(1.5 * 2**30)), ("123", 123)]
)
def test_size_limit_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("RNNEXP_CACHE_SIZE", raw)
    assert cache.size_limit() == expected


def test_the_cache_command_lists_and_clears(tmp_path, cache_dir):
    path = write_csv(tmp_path / "d.csv", ROWS)
    read(path, config(path))
    listed = run_cli("cache", "--json")
    assert listed.returncode == 0, listed.stderr
    out = json.loads(listed.stdout)
    assert out["folder"] == str(cache_dir) and [e["source"] for e in out["entries"]] == [str(path)]
    assert out["entries"][0]["texts"] == len(ROWS) and out["entries"][0]["bytes"] > 0
    shown = run_cli("cache")
    assert str(cache_dir) in shown.stdout + shown.stderr and "d.csv" in shown.stdout
    cleared = run_cli("cache", "clear")
    assert cleared.returncode == 0 and "removed 1 entry" in cleared.stderr
    assert keys(cache_dir) == set()
    bad = run_cli("cache", env={"RNNEXP_CACHE_SIZE": "lots"})
    assert bad.returncode == 2 and "RNNEXP_CACHE_SIZE" in bad.stderr


def _train(write_config, runs: Path, env: dict, *more) -> Path:
    cfg = write_config(train={"epochs": 2, "early_stopping": {"enabled": False}})
    done = run_cli("train", cfg, "--runs-dir", runs, "--json", *more, env=env)
    assert done.returncode == 0, done.stderr
    return Path(json.loads(done.stdout)["run_dir"])


def test_training_is_the_same_from_the_cache_without_it_and_rebuilt(tmp_path, write_config):
    cached = {"RNNEXP_CACHE_DIR": str(tmp_path / "cache")}
    cold = _train(write_config, tmp_path / "cold", cached)
    warm = _train(write_config, tmp_path / "warm", cached)
    off = _train(write_config, tmp_path / "off", {"RNNEXP_CACHE_DIR": "off"})
    for entry in (tmp_path / "cache").iterdir():
        if not entry.name.startswith("."):
            (entry / "ids.bin").write_bytes((entry / "ids.bin").read_bytes()[:-1])  # damaged: rebuilt
    rebuilt = _train(write_config, tmp_path / "rebuilt", cached)
    for other in (warm, off, rebuilt):
        assert_same_run(cold, other)
    meta = [json.loads((r / "meta.json").read_text())["data"]["fingerprints"] for r in (cold, warm, off, rebuilt)]
    assert meta[0] == meta[1] == meta[2] == meta[3]


def test_a_resume_from_the_cache_is_exact(tmp_path, write_config, forkrun):
    env = {"RNNEXP_CACHE_DIR": str(tmp_path / "cache")}
    whole = _train(write_config, tmp_path / "whole", {"RNNEXP_CACHE_DIR": "off"})
    cfg = write_config(train={"epochs": 2, "early_stopping": {"enabled": False}})
    first = run_cli("train", cfg, "--runs-dir", tmp_path / "parts", "--json", "--set", "train.epochs=1", env=env)
    assert first.returncode == 0, first.stderr
    run = Path(json.loads(first.stdout)["run_dir"])
    resumed = run_cli("resume", run, "--epochs", "2", env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert "from the cache" in resumed.stderr
    assert_same_run(whole, run)
    a = torch.load(whole / "checkpoints" / "last.pt", weights_only=True)
    b = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert a["optimizer"]["state"].keys() == b["optimizer"]["state"].keys()


def test_prepared_module_names_no_cache_when_off(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNEXP_CACHE_DIR", "off")
    path = write_csv(tmp_path / "d.csv", ROWS)
    heard = Heard()
    prepared.read_table(path, config(path), heard)
    assert not heard.notes and not heard.infos and cache.cache_dir() is None


def test_a_split_fingerprint_is_the_one_meta_json_has_always_recorded(tmp_path, cache_dir):
    """sha256 over each text and its label (text, 0x1f, label, 0x1e), in order: the value runs made
    before the cache recorded, which resume compares against. Computed from the entry's bytes (in
    order and out of order), from a list, and from the memo kept beside the entry."""
    import hashlib

    path = write_csv(tmp_path / "d.csv", [*ROWS, ("lone \ud7ff and é", "1")])
    table = read(path, config(path))
    texts, labels = list(table.texts), list(table.labels)
    for rows in (np.arange(len(texts)), np.array([5, 3, 40, 0]), np.arange(0, len(texts), 3)):
        expected = hashlib.sha256(b"".join(f"{texts[i]}\x1f{labels[i]}\x1e".encode() for i in rows)).hexdigest()
        assert table.subset(rows, "s").fingerprint() == expected
        assert table.subset(rows, "s").fingerprint() == expected  # the memo's value
        listed = Table([texts[i] for i in rows], [labels[i] for i in rows], "s")
        assert listed.fingerprint() == expected


# -- numeric files: sequences (a long-format file, a folder) and series --------------------------


def _long_sequences(folder: Path) -> Path:
    """A long-format file: ids that are not numbers (one not ASCII), shuffled rows, a step column,
    two channels, variable lengths, a label per sequence."""
    rng = np.random.default_rng(3)
    rows = [
        (f"séq-{i}" if i == 4 else f"s{i}", step, *np.round(rng.normal(size=2), 3), "up" if i % 2 else "down")
        for i in range(30)
        for step in range(3 + i % 4)
    ]
    path = folder / "long.csv"
    path.write_text(
        "\n".join(",".join(map(str, r)) for r in [("id", "t", "a", "b", "label"), *(rows[j] for j in rng.permutation(len(rows)))])
        + "\n",
        encoding="utf-8",
    )
    return path


def _sequence_folder(folder: Path) -> Path:
    """A folder of sequence files, a sub-folder per class; a channel that counts the steps (a note)."""
    rng = np.random.default_rng(4)
    for label in ("down", "up"):
        (folder / "seqs" / label).mkdir(parents=True)
        for i in range(6):
            steps = [f"{k},{rng.normal():.3f}" for k in range(2 + i)]
            (folder / "seqs" / label / f"{i}.csv").write_text("n,v\n" + "\n".join(steps) + "\n")
    return folder / "seqs"


def _series(folder: Path) -> Path:
    rng = np.random.default_rng(5)
    days = np.datetime64("2020-01-01") + np.arange(200)
    path = folder / "s.csv"
    path.write_text(
        "day,y,x\n"
        + "".join(f"{d},{v:.3f},{w:.2f}\n" for d, v, w in zip(days, rng.normal(size=200).cumsum(), rng.normal(size=200)))
    )
    return path


NUMERIC = {  # kind: (write the file, its config's keys, keys that decide the entry, keys that do not)
    "long": (
        _long_sequences,
        {"task": "sequence_classification", "sequence_column": "id", "step_column": "t", "label_column": "label"},
        [("step_column", None), ("features", ["a"]), ("time_column", "a"), ("encoding", "latin-1"), ("labelled", False)],
        [("maxlen", 2), ("val_split", 0.3)],
    ),
    "folder": (
        _sequence_folder,
        {"task": "sequence_classification"},
        [("features", ["v"]), ("labelled", False)],
        [("normalize", "minmax"), ("truncating", "post")],
    ),
    "series": (
        _series,
        {"task": "forecasting", "target": "y", "features": ["y", "x"], "time_column": "day"},
        [("target", "x"), ("features", ["y"]), ("time_column", "x"), ("time_optional", True), ("calendar", ["day_of_week"])],
        [("lookback", 5), ("horizon", 3), ("val_split", 0.3)],
    ),
}


def read_numeric(kind: str, path: Path, settings: dict, heard: Heard | None = None):
    """What the cache gives for a numeric file, as plain values, and what it said."""
    heard = heard or Heard()
    settings = dict(settings)
    flag = settings.pop("labelled", True) if kind != "series" else settings.pop("time_optional", False)
    cfg = DataConfig(train_file=str(path), **settings)
    if kind == "series":
        s = prepared.series_of(cfg, flag, heard)
        return (s.values.tolist(), s.columns, s.target, s.time), heard
    s = prepared.sequences_of(path, cfg, flag, heard)
    return ([q.tolist() for q in s.sequences], s.labels, s.ids, s.channels, s.notes, s.source), heard


@pytest.mark.parametrize("kind", NUMERIC)
def test_a_numeric_file_is_read_once_and_the_entry_gives_what_reading_does(tmp_path, cache_dir, monkeypatch, kind):
    write, base, _, _ = NUMERIC[kind]
    path = write(tmp_path)
    first, heard = read_numeric(kind, path, base)
    assert not heard.infos and len(keys(cache_dir)) == 1
    second, heard = read_numeric(kind, path, base)
    assert len(heard.infos) == 1 and "from the cache" in heard.infos[0] and str(path) in heard.infos[0]
    monkeypatch.setenv("RNNEXP_CACHE_DIR", "off")
    read, _ = read_numeric(kind, path, base)
    assert first == second == read
    holds = {"long": {"sequences": 30}, "folder": {"sequences": 12}, "series": {"rows": 200}}[kind]
    monkeypatch.setenv("RNNEXP_CACHE_DIR", str(cache_dir))
    assert [e["holds"] for e in cache.entries()] == [holds]  # what `rnnexp cache` shows
    if kind == "folder":
        assert read[4] and "counts 0..n-1" in read[4][0]  # the reader's note, kept with the entry
        import shutil

        copy = shutil.copytree(path, tmp_path / "copy")  # the same bytes under another name: the entry
        again, heard = read_numeric(kind, copy, base)
        assert heard.infos and again[4] == [note.replace(str(path), str(copy)) for note in read[4]]
        assert again[4][0].startswith(f"{copy}: ")


@pytest.mark.parametrize("kind", NUMERIC)
def test_a_changed_byte_or_key_is_a_new_numeric_entry(tmp_path, cache_dir, monkeypatch, kind):
    write, base, deciding, indifferent = NUMERIC[kind]
    path = write(tmp_path)
    read_numeric(kind, path, base)
    for key, value in indifferent:  # the same entry
        _, heard = read_numeric(kind, path, {**base, key: value})
        assert heard.infos and len(keys(cache_dir)) == 1, key
    entries = 1
    for key, value in deciding:
        got, heard = read_numeric(kind, path, {**base, key: value})
        entries += 1
        assert not heard.infos and len(keys(cache_dir)) == entries, key
        monkeypatch.setenv("RNNEXP_CACHE_DIR", "off")
        assert got == read_numeric(kind, path, {**base, key: value})[0], key
        monkeypatch.setenv("RNNEXP_CACHE_DIR", str(cache_dir))
    file = next(path.rglob("1.csv")) if path.is_dir() else path
    stat, raw = file.stat(), bytearray(file.read_bytes())
    where = raw.rindex(b"3")
    raw[where] = ord("4")  # one digit of one value: the same size
    file.write_bytes(bytes(raw))
    os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same time
    got, heard = read_numeric(kind, path, base)
    assert not heard.infos and len(keys(cache_dir)) == entries + 1
    monkeypatch.setenv("RNNEXP_CACHE_DIR", "off")
    assert got == read_numeric(kind, path, base)[0]
    if kind == "folder":  # a sequence moved to the other class: its label is the folder's name
        monkeypatch.setenv("RNNEXP_CACHE_DIR", str(cache_dir))
        (path / "up" / "5.csv").rename(path / "down" / "9.csv")
        moved, heard = read_numeric(kind, path, base)
        assert not heard.infos and moved[1].count("down") == 7


def _numeric_config(kind: str, path: Path) -> Config:
    data = {"train_file": str(path), **NUMERIC[kind][1], "val_split": 0.2, "test_split": 0.2}
    if kind == "series":
        data.update(lookback=7, horizon=2)
    return Config.model_validate(
        {
            "name": kind,
            "data": data,
            "model": {"cell": "gru", "num_neurons": 8},
            "train": {
                "epochs": 2,
                "batch_size": 8,
                "lr": 0.01,
                "seed": 2,
                "early_stopping": {"enabled": False},
                "baselines": False,
            },
        }
    )


@pytest.mark.parametrize("kind", ["long", "series"])
def test_numeric_training_is_the_same_from_the_cache_without_it_and_rebuilt(tmp_path, monkeypatch, kind):
    from rnnexp import training

    class SetupLines(training.Reporter):  # the setup lines a run prints
        def __init__(self) -> None:
            self.infos: list[str] = []

        def info(self, text: str) -> None:
            self.infos.append(text)

    path = NUMERIC[kind][0](tmp_path)
    cfg, runs = _numeric_config(kind, path), {}
    folder = tmp_path / "cache"
    for name in ("cold", "warm", "off", "rebuilt"):
        monkeypatch.setenv("RNNEXP_CACHE_DIR", "off" if name == "off" else str(folder))
        if name == "rebuilt":
            (entry,) = (p for p in folder.iterdir() if not p.name.startswith("."))
            (entry / "values.bin").write_bytes((entry / "values.bin").read_bytes()[:-1])  # damaged: rebuilt
        heard = SetupLines()
        runs[name] = Path(training.train(cfg, tmp_path / name, reporter=heard).run_dir)
        assert ("from the cache" in " ".join(heard.infos)) == (name == "warm"), name
    for other in ("warm", "off", "rebuilt"):
        assert_same_run(runs["cold"], runs[other])
    # A run of one epoch, resumed from the cache to two: the uninterrupted run's bits.
    part = Path(
        training.train(cfg.model_copy(update={"train": cfg.train.model_copy(update={"epochs": 1})}), tmp_path / "part").run_dir
    )
    heard = SetupLines()
    training.resume(part, epochs=2, reporter=heard)
    assert "from the cache" in " ".join(heard.infos)
    assert_same_run(runs["cold"], part)


def test_the_baselines_are_fitted_once_per_machine_beside_the_entry(tmp_path, cache_dir, monkeypatch):
    """A text run's baselines (TF-IDF + logistic regression: 26 s on a million texts) are kept in its
    entry's memo: a later process on the same split reads them, the same values to the bit; another
    split, another file or no cache fits them again."""
    import rnnexp.tasks as tasks
    from conftest import tiny_config_dict
    from rnnexp.tasks import TextTask

    path = write_csv(tmp_path / "d.csv", ROWS)
    fitted = []
    original = TextTask.validation_baselines

    def counted(self):
        fitted.append(self.cfg.data.val_split)
        return original(self)

    monkeypatch.setattr(TextTask, "validation_baselines", counted)

    def lines(**data):
        tasks._FITTED.clear()  # a new process
        cfg = Config.model_validate(tiny_config_dict({"train": path, "test": path}, data=data))
        return tasks.validation_baselines(TextTask.create(cfg, torch.device("cpu")))

    first = lines()
    assert lines() == first and fitted == [0.2]  # read from the memo, not fitted
    assert first == json.loads(
        json.dumps(
            original(TextTask.create(Config.model_validate(tiny_config_dict({"train": path, "test": path})), torch.device("cpu")))
        )
    )
    lines(val_split=0.3)
    assert fitted == [0.2, 0.3]  # another split: fitted
    val = write_csv(tmp_path / "v.csv", ROWS[:20])
    lines(val_file=str(val))
    lines(val_file=str(val))
    write_csv(val, ROWS[20:40])  # the same file name, other texts: fitted again
    lines(val_file=str(val))
    assert fitted == [0.2, 0.3, 0.2, 0.2]
    monkeypatch.setenv("RNNEXP_CACHE_DIR", "off")
    lines()
    assert fitted == [0.2, 0.3, 0.2, 0.2, 0.2]  # no cache: no memo
