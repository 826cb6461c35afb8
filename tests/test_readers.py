"""Users' files read as the standards define them: a corpus of real-world file shapes
(tests/data/shapes.py), each read exactly as Python's csv module reads the open file (JSONL: as
json reads each \\n-terminated line), or refused in one line naming the true line of the file."""

from __future__ import annotations

import csv
import json
import random

import numpy as np
import pytest
import yaml
from data.shapes import SHAPES, SPLITLINES_BREAKS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from rnnexp.cli import app
from rnnexp.config import DataConfig
from rnnexp.config import label_text as _label_str
from rnnexp.data import file_format, read_table, read_texts, readers
from rnnexp.errors import DataError


def _config(path, **keys) -> DataConfig:
    return DataConfig(train_file=str(path), **keys)


def _reference(path, cfg: DataConfig) -> tuple[list[str], list[str]]:
    """What the standard library reads from the open file: the oracle every shape is held to."""
    encoding = "utf-8-sig" if cfg.encoding == "utf-8" else cfg.encoding
    if file_format(path, cfg) == "jsonl":
        objects = [json.loads(line) for line in path.read_bytes().decode(encoding).split("\n") if line.strip()]
        return [o["text"] for o in objects], [_label_str(o["label"]) for o in objects]
    tsv = file_format(path, cfg) == "tsv"
    with open(path, newline="", encoding=encoding) as f:
        rows = list(csv.reader(f, delimiter="\t" if tsv else ",", quoting=csv.QUOTE_NONE if tsv else csv.QUOTE_MINIMAL))
    header = cfg.columns or rows.pop(0)
    rows = [dict(zip(header, r)) for r in rows if any(v.strip() for v in r)]
    return [r["text"] for r in rows], [_label_str(r["label"]) for r in rows]


def both_ways(shapes):
    """Every shape read both ways: by the csv module line by line, and (every size here, not only
    files of FAST_BYTES and more) by pyarrow wherever readers.fast_columns proves it reads the same."""
    ways = []
    for shape in shapes:
        ways.append(pytest.param(shape, "csv module", id=f"csv module-{shape.name}"))
        ways.append(pytest.param(shape, "pyarrow when proven", id=f"pyarrow when proven-{shape.name}"))
    return ways


def use_reader(way: str, monkeypatch) -> None:
    monkeypatch.setattr(readers, "FAST_BYTES", 0 if way == "pyarrow when proven" else 2**62)
    monkeypatch.setenv("RNNEXP_CACHE_DIR", "off")  # each read reads the file


@pytest.mark.parametrize("shape, way", both_ways([s for s in SHAPES if s.refused is None]))
def test_every_shape_is_read_exactly(tmp_path, monkeypatch, shape, way):
    use_reader(way, monkeypatch)
    path = tmp_path / shape.name
    path.write_bytes(shape.content)
    cfg = _config(path, **shape.config)
    table = read_table(path, cfg)
    texts, labels = _reference(path, cfg)
    assert table.texts == texts and table.labels == labels
    if shape.texts is not None:
        assert table.texts == shape.texts  # and the oracle is right too: hand-written
    assert read_texts(path, cfg) == texts


@pytest.mark.parametrize("shape, way", both_ways([s for s in SHAPES if s.refused is not None]))
def test_every_broken_shape_is_refused_at_its_true_line(tmp_path, monkeypatch, shape, way):
    use_reader(way, monkeypatch)
    path = tmp_path / shape.name
    path.write_bytes(shape.content)
    line, fragment = shape.refused
    with pytest.raises(DataError) as info:
        read_table(path, _config(path, **shape.config))
    message = str(info.value)
    assert message.startswith(f"{path}:{line}:") and fragment in message, message
    # Through the CLI: one line, exit 2 (bad input), the same words.
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"data": {"train_file": str(path), **shape.config}}))
    result = CliRunner().invoke(app, ["train", str(config), "--dry-run", "--quiet"])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and lines == [f"error: {message}"], result.output[-800:]


# Quoted line breaks, doubled quotes, a BOM, CRLF line ends (the csv module's own, and Windows').
FAST_SHAPES = ["crlf.csv", "bom.csv", "unicode_breaks.csv", "big.csv", "big_lf.csv"]


def test_the_fast_reader_takes_the_common_shapes(tmp_path, monkeypatch):
    """Not a check that always falls back: clean CSVs with quoted newlines, doubled quotes, a BOM
    and Unicode line separators go through pyarrow (and the shapes test holds them to the csv module)."""
    monkeypatch.setattr(readers, "FAST_BYTES", 0)
    taken = []
    for shape in [s for s in SHAPES if s.name in FAST_SHAPES]:
        path = tmp_path / shape.name
        path.write_bytes(shape.content)
        taken.append(shape.name if readers.fast_columns(path, ",", "utf-8", None) is not None else None)
    assert taken == FAST_SHAPES


CSV_PIECES = ["a", "b,", ",", '"', '""', "\n", "\r\n", "\r", " ", "é", "\u2028", "x y", '"q,\nr"', "\t", "\0"]


@given(st.lists(st.lists(st.sampled_from(CSV_PIECES), max_size=6).map("".join), min_size=1, max_size=12), st.booleans())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_pyarrow_reads_only_what_the_csv_module_reads_the_same(tmp_path, monkeypatch, lines, tsv):
    """Any bytes at all: where fast_columns gives columns, the csv module reads the same file
    without an error and to the same values."""
    monkeypatch.setattr(readers, "FAST_BYTES", 0)
    delimiter = "\t" if tsv else ","
    path = tmp_path / "fuzz.csv"
    path.write_bytes(("text" + delimiter + "label\n" + "\n".join(lines)).encode("utf-8"))
    fast = readers.fast_columns(path, delimiter, "utf-8", None)
    if fast is None:
        return
    records = readers.read_delimited(path, delimiter, "utf-8")  # an error here fails the test
    assert fast[0] == records.header
    assert [c.to_pylist() for c in fast[1]] == [[row[i] for row in records.rows] for i in range(len(records.header))]


def test_the_big_file_holds_every_hard_case():
    """The 100,000-row shape is a test only if the hard cases are in it."""
    (big,) = [s for s in SHAPES if s.name == "big.csv"]
    text = big.content.decode("utf-8")
    assert text.count("\r\n") > 100_000 and '""' in text and all(c in text for c in SPLITLINES_BREAKS)


@pytest.mark.parametrize("encoding", ["ascii", "cp1252", "utf-16", "utf-8"])
def test_a_byte_the_encoding_cannot_read_is_named_by_line_and_column(tmp_path, encoding):
    """Wherever the bad byte is (first line, deep in a big file, after a multi-byte character),
    the error names its line and column and says what to set."""
    rng = random.Random(encoding)
    for _ in range(5):
        lines = ["text,label"] + [
            f"{'r' if encoding == 'ascii' else 'ré'}{'x' * rng.randint(0, 40)},{i % 2}" for i in range(rng.randint(1, 3000))
        ]
        at = rng.randrange(len(lines))
        column = rng.randint(1, len(lines[at]) + 1)
        good = [line.encode(encoding) for line in lines]
        if encoding == "utf-16":
            good = [line.encode("utf-16-le") for line in lines]
            nl, bad = "\n".encode("utf-16-le"), b"\x00\xdc"  # a lone low surrogate
            prefix = lines[at][: column - 1].encode("utf-16-le")
            raw = b"\xff\xfe" + nl.join(good[:at] + [prefix + bad + good[at][len(prefix) :]] + good[at + 1 :]) + nl
        else:
            bad = {"ascii": b"\xe9", "cp1252": b"\x81", "utf-8": b"\xff"}[encoding]  # (latin-1 decodes every byte)
            prefix = lines[at][: column - 1].encode(encoding)
            raw = b"\n".join(good[:at] + [prefix + bad + good[at][len(prefix) :]] + good[at + 1 :]) + b"\n"
        path = tmp_path / "d.csv"
        path.write_bytes(raw)
        with pytest.raises(DataError) as info:
            read_table(path, _config(path, encoding=encoding))
        message = str(info.value)
        assert message.startswith(f"{path}:{at + 1}:{column}: byte 0x"), (message, at + 1, column)
        assert f"is not valid {encoding} (data.encoding); set data.encoding" in message and "latin-1" in message


def test_an_unknown_encoding_is_a_config_error_naming_the_key(tmp_path, write_config):
    from rnnexp.config import load_config
    from rnnexp.errors import ConfigError

    path = write_config(data={"encoding": "latin-9x"})
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert any("data.encoding" in m and "unknown encoding 'latin-9x'" in m for m in info.value.messages), info.value.messages


# -- end to end: users' files through train, predict and evaluate --------------------------------

BREAKS = ["\n", "\r\n", "\u0085", "\u2028"]


@pytest.fixture(scope="module")
def tweets(tmp_path_factory):
    """Reviews whose texts hold \\n, \\r\\n, U+0085 and U+2028, written by the csv module (which
    quotes the first two and leaves the others bare), and a run trained on them."""
    from conftest import _amazon_rows
    from rnnexp import training
    from rnnexp.config import Config

    folder = tmp_path_factory.mktemp("tweets")
    rows, _ = _amazon_rows(240, 0)
    path = folder / "tweets.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        for i, (text, label) in enumerate(rows):
            words = text.split(" ")
            cut = len(words) // 2
            writer.writerow([" ".join(words[:cut]) + BREAKS[i % 4] + " ".join(words[cut:]), label])
    cfg = Config.model_validate(
        {
            "name": "tweets",
            "data": {"train_file": str(path), "maxlen": 40, "val_split": 0.2, "test_split": 0.2},
            "model": {"cell": "gru", "embedding_dims": 8, "num_neurons": 8},
            "train": {"epochs": 1, "batch_size": 32, "early_stopping": {"enabled": False}},
        }
    )
    run = training.train(cfg, folder / "runs").run_dir
    return path, run


def test_texts_with_line_breaks_train_and_predict_sees_what_the_reader_read(tweets, tmp_path):
    from conftest import run_cli
    from rnnexp.data import tokenize

    path, run = tweets
    table = read_table(path, DataConfig(train_file=str(path)))
    assert len(table) == 240 and all(any(b in t for t in table.texts) for b in BREAKS)
    by_file = json.loads(run_cli("predict", run, "--file", path, "--json").stdout)["predictions"]
    assert [p["text"] for p in by_file] == table.texts
    assert [p["tokens"] for p in by_file] == [len(tokenize(t)) for t in table.texts]
    picked = [next(i for i, t in enumerate(table.texts) if b in t) for b in BREAKS]
    proc = run_cli("predict", run, *(table.texts[i] for i in picked), "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    by_argument = json.loads(proc.stdout)["predictions"]
    for one, same in zip(by_argument, [by_file[i] for i in picked]):  # the same text, the same tokens, the same answer
        assert {k: v for k, v in one.items() if "probabilit" not in k} == {k: v for k, v in same.items() if "probabilit" not in k}
        assert one["probability"] == pytest.approx(same["probability"], abs=1e-6)  # float32 sums differ by batch size
    # evaluate --predictions writes the same answers for the same file
    out = tmp_path / "predictions.csv"
    proc = run_cli("evaluate", run, "--data", path, "--predictions", out, "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    with out.open(newline="", encoding="utf-8") as f:
        written = list(csv.DictReader(f))
    assert [r["id"] for r in written] == table.texts and [r["true"] for r in written] == table.labels
    assert [(r["predicted"], float(r["probability"])) for r in written] == [(p["label"], p["probability"]) for p in by_file]


def test_a_latin1_file_trains_with_data_encoding_and_is_refused_without(tmp_path):
    from conftest import _amazon_rows, run_cli

    rows, _ = _amazon_rows(120, 0)
    path = tmp_path / "latin1.csv"
    body = "text,label\n" + "".join(f'"{t.replace(chr(34), "")} café",{y}\n' for t, y in rows)
    path.write_bytes(body.encode("latin-1", errors="replace"))
    first_bad = next(i for i, line in enumerate(body.split("\n"), 1) if "é" in line)
    column = body.split("\n")[first_bad - 1].index("é") + 1
    config = {
        "data": {"train_file": str(path), "maxlen": 20, "test_split": 0.2},
        "model": {"embedding_dims": 8, "num_neurons": 8},
        "train": {"epochs": 1},
    }
    (tmp_path / "utf8.yaml").write_text(yaml.safe_dump(config))
    proc = run_cli("train", tmp_path / "utf8.yaml", "--runs-dir", tmp_path / "runs", "--quiet")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"error: {path}:{first_bad}:{column}: byte 0xe9 is not valid utf-8 (data.encoding)")
    config["data"]["encoding"] = "latin-1"
    (tmp_path / "latin1.yaml").write_text(yaml.safe_dump(config))
    proc = run_cli("train", tmp_path / "latin1.yaml", "--runs-dir", tmp_path / "runs", "--json", "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["status"] == "completed"


@pytest.mark.parametrize(
    "body, fragment",
    [
        ("text,label\ngood,1\nbad,0\n", "the test split (data.test_split = 0.1) has 0 examples, fewer than the 2 classes"),
        (
            "text,label\n" + "a,1\nb,0\n" * 5 + "c,2\n",
            "the test split (data.test_split = 0.1) has 2 examples, fewer than the 3 classes",
        ),
    ],
)
def test_a_split_too_small_to_score_is_bad_input_naming_split_and_sizes(tmp_path, body, fragment):
    path = tmp_path / "few.csv"
    path.write_text(body)
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"data": {"train_file": str(path)}}))
    result = CliRunner().invoke(app, ["train", str(config), "--dry-run", "--quiet"])
    assert result.exit_code == 2 and fragment in result.output and result.output.count("\n") == 1, result.output


def test_a_forecasting_split_of_no_rows_is_bad_input(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("y\n" + "".join(f"{i}\n" for i in range(8)))
    config = tmp_path / "c.yaml"
    data = {"task": "forecasting", "train_file": str(path), "target": "y", "lookback": 2, "val_split": 0.05, "test_split": 0.0}
    config.write_text(yaml.safe_dump({"data": data}))
    result = CliRunner().invoke(app, ["train", str(config), "--dry-run", "--quiet"])
    assert result.exit_code == 2 and "the val split is data.val_split = 0.05 of 8 rows: 0 rows" in result.output, result.output


@pytest.mark.parametrize("task", ["forecasting", "sequence_classification"])
def test_duplicate_columns_in_a_numeric_file_are_refused(tmp_path, task):
    from rnnexp.data.series import load_series, read_sequences

    path = tmp_path / "d.csv"
    header = "t,load,load" if task == "forecasting" else "sequence,x,label,x"
    path.write_text(header + "\n" + "1,2,3" + (",4" if task != "forecasting" else "") + "\n")
    with pytest.raises(DataError, match=r"d.csv:1: columns (2 and 3 are both named 'load'|2 and 4 are both named 'x')"):
        if task == "forecasting":
            load_series(DataConfig(task=task, train_file=str(path), target="load"))
        else:
            read_sequences(path, DataConfig(task=task, train_file=str(path)))


# -- sequences end to end ------------------------------------------------------------------------


def _write_sequences(path, sequences, labels=None, step=True):
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["sequence", *(["step"] if step else []), "a", "b", *(["label"] if labels else [])])
        for n, seq in enumerate(sequences):
            for t, (a, b) in enumerate(seq):
                writer.writerow([f"s{n}", *([t] if step else []), a, b, *([labels[n]] if labels else [])])


@pytest.fixture(scope="module")
def sequence_run(tmp_path_factory):
    """A run on 2-channel sequences of 3..8 steps; new sequences of up to 12 steps to label."""
    from rnnexp import training
    from rnnexp.config import Config

    folder = tmp_path_factory.mktemp("sequences")
    rng = random.Random(7)

    def make(n, longest):
        seqs, labels = [], []
        for _ in range(n):
            up = rng.random() < 0.5
            length = rng.randint(3, longest)
            seqs.append([(round(t * (1 if up else -1) + rng.gauss(0, 0.5), 4), round(rng.gauss(0, 1), 4)) for t in range(length)])
            labels.append("up" if up else "down")
        return seqs, labels

    train_path = folder / "train.csv"
    _write_sequences(train_path, *make(120, 8))
    cfg = Config.model_validate(
        {
            "name": "seq",
            "data": {"task": "sequence_classification", "train_file": str(train_path), "step_column": "step", "test_split": 0.2},
            "model": {"cell": "gru", "num_neurons": 8},
            "train": {"epochs": 2, "batch_size": 16, "early_stopping": {"enabled": False}},
        }
    )
    run = training.train(cfg, folder / "runs").run_dir
    return folder, run, make(30, 12)


def test_sequence_predict_gives_evaluate_answers_on_the_same_sequences(sequence_run, tmp_path):
    from conftest import run_cli

    _, run, (seqs, labels) = sequence_run
    labelled, unlabelled = tmp_path / "labelled.csv", tmp_path / "new.csv"
    _write_sequences(labelled, seqs, labels)
    _write_sequences(unlabelled, seqs)  # no label column: sequences to label
    out = tmp_path / "predictions.csv"
    proc = run_cli("evaluate", run, "--data", labelled, "--predictions", out, "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    longer = sum(len(s) > 8 for s in seqs)
    assert longer and report["truncated"]["sequences"] == longer and f"{longer} of 30 sequences" in report["truncated"]["note"]
    proc = run_cli("predict", run, "--file", unlabelled, "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    predicted = json.loads(proc.stdout)
    assert predicted["truncated"]["sequences"] == longer
    with out.open(newline="") as f:
        evaluated = list(csv.DictReader(f))
    assert [p["id"] for p in predicted["predictions"]] == [r["id"] for r in evaluated] == [f"s{i}" for i in range(30)]
    for p, r in zip(predicted["predictions"], evaluated):
        assert (p["label"], p["probability"]) == (r["predicted"], float(r["probability"]))
        assert {k: float(r[f"p_{k}"]) for k in p["probabilities"]} == p["probabilities"]
    # Plain output: a label per sequence on stdout, the cut sequences named on stderr.
    proc = run_cli("predict", run, "--file", unlabelled)
    assert proc.returncode == 0 and len(proc.stdout.splitlines()) == 30, proc.stderr
    assert f"note: {longer} of 30 sequences are longer than the model's 8 steps" in proc.stderr
    # A folder of CSV files, one per sequence, gets the same answers.
    folder = tmp_path / "one-per-file"
    folder.mkdir()
    for n, seq in enumerate(seqs):
        with (folder / f"s{n:02d}.csv").open("w", newline="") as f:
            csv.writer(f).writerows([["a", "b"], *seq])
    proc = run_cli("predict", run, "--file", folder, "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    from_folder = json.loads(proc.stdout)["predictions"]
    assert [p["id"] for p in from_folder] == [f"s{n:02d}.csv" for n in range(30)]
    assert [p["probabilities"] for p in from_folder] == [p["probabilities"] for p in predicted["predictions"]]


@pytest.mark.parametrize("first", [0, 1])
def test_a_step_counter_read_as_a_channel_is_named(tmp_path, first):
    from rnnexp.data.series import read_sequences

    path = tmp_path / "s.csv"
    rows = [[f"s{n}", t + first, 0.5 * t, "x" if n % 2 else "y"] for n in range(4) for t in range(3 + n)]
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([["sequence", "t", "v", "label"], *rows])
    cfg = DataConfig(task="sequence_classification", train_file=str(path))
    (note,) = read_sequences(path, cfg).notes
    assert f"channel 't' counts {'0..n-1' if first == 0 else '1..n'} in every sequence" in note
    assert "set data.step_column: t" in note
    assert read_sequences(path, cfg.model_copy(update={"step_column": "t"})).notes == []
    assert read_sequences(path, cfg.model_copy(update={"features": ["v"]})).notes == []


def test_data_columns_naming_a_column_twice_is_refused(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("a,1\n")
    with pytest.raises(DataError, match=r"h.csv: data.columns: columns 1 and 2 are both named 'text'"):
        read_table(path, _config(path, columns=["text", "text"]))


@settings(max_examples=60, deadline=None)
@given(
    chunks=st.lists(st.lists(st.text(max_size=12), max_size=6), max_size=5),
    large=st.booleans(),
    cut=st.tuples(st.integers(0, 3), st.integers(0, 3)),
)
def test_a_chunked_text_column_becomes_one_blob_holding_every_text_in_order(chunks, large, cut):
    """pyarrow's CSV reader gives a column in chunks (one per block), each possibly a slice of
    its buffers: the TextColumn built from them holds exactly the texts, in order, as UTF-8."""
    import pyarrow as pa

    from rnnexp.data.tables import _text_column

    kind = pa.large_string() if large else pa.string()
    arrays = []
    for texts in chunks:  # each chunk a slice of a wider array: its buffers start before it
        whole = pa.array(["x" * cut[0]] * cut[0] + texts + ["y" * cut[1]] * cut[1], type=kind)
        arrays.append(whole.slice(cut[0], len(texts)))
    column = _text_column(pa.chunked_array(arrays, type=kind))
    expected = [t for texts in chunks for t in texts]
    assert list(column) == expected
    assert column.offsets.dtype == np.int64 and column.offsets[0] == 0
    assert column.blob.tobytes() == "".join(expected).encode("utf-8", "surrogatepass")
