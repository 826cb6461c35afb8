"""Users' files read as the standards define them: a corpus of real-world file shapes
(tests/data/shapes.py), each read exactly as Python's csv module reads the open file (JSONL: as
json reads each \\n-terminated line), or refused in one line naming the true line of the file."""

from __future__ import annotations

import csv
import json
import random

import pytest
import yaml
from data.shapes import SHAPES, SPLITLINES_BREAKS
from typer.testing import CliRunner

from rnnexp.cli import app
from rnnexp.config import DataConfig
from rnnexp.data import _label_str, file_format, read_table, read_texts
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


@pytest.mark.parametrize("shape", [s for s in SHAPES if s.refused is None], ids=lambda s: s.name)
def test_every_shape_is_read_exactly(tmp_path, shape):
    path = tmp_path / shape.name
    path.write_bytes(shape.content)
    cfg = _config(path, **shape.config)
    table = read_table(path, cfg)
    texts, labels = _reference(path, cfg)
    assert table.texts == texts and table.labels == labels
    if shape.texts is not None:
        assert table.texts == shape.texts  # and the oracle is right too: hand-written
    assert read_texts(path, cfg) == texts


@pytest.mark.parametrize("shape", [s for s in SHAPES if s.refused is not None], ids=lambda s: s.name)
def test_every_broken_shape_is_refused_at_its_true_line(tmp_path, shape):
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
