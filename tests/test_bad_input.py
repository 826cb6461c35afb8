"""Bad input never gets a traceback: a corpus of broken data files, and property-based fuzzing
(hypothesis) of config documents, of mutations of the shipped configs, and of run names."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import ROOT, tiny_config_dict
from rnnexp.cli import app
from rnnexp.config import Config, iter_keys, parse_config
from rnnexp.errors import ConfigError
from rnnexp.rundir import RunDir

KEYS = [key for key, _ in iter_keys()]
SECTIONS = sorted({".".join(key.split(".")[:i]) for key in KEYS for i in range(1, key.count(".") + 1)})
NAMES = sorted({part for key in KEYS for part in key.split(".")})
SHIPPED = [p for p in sorted((ROOT / "configs").glob("*.yaml")) if not p.name.startswith("sweep_")]


def _invoke(*args: str):
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


# -- a corpus of broken data files ----------------------------------------------------------------

TEXT_CASES = {
    "empty": (b"", "no data rows"),
    "header_only": (b"text,label\n", "no data rows"),
    "no_text_column": (b"review,label\nnice,1\nbad,0\n", "no column 'text' (data.text_column)"),
    "no_label_column": (b"text,stars\nnice,1\nbad,0\n", "no column 'label' (data.label_column)"),
    "not_utf8": (
        b"text,label\nnice,1\n\xff\xfe bad,0\n",
        ":3:1: byte 0xff is not valid utf-8 (data.encoding); set data.encoding",
    ),
    "single_class": (b"text,label\nnice,1\ngreat,1\nfine,1\n", "column 'label' has a single class"),
    "float_labels": (b"text,label\nnice,0.25\nbad,0.7\n", ":2: label 0.25 in column 'label' is a fractional number"),
    "empty_label": (b"text,label\nnice,1\nbad,\n", ":3: empty label in column 'label'"),
    "ragged": (b"text,label\nnice,1\nbad,0,extra\n", ":3: expected 2 fields"),
    "huge_field": (b'text,label\n"' + b"word " * (4 * 2**20) + b",1\n", ":2: cannot parse CSV"),
}


@pytest.mark.parametrize("case", sorted(TEXT_CASES))
def test_broken_text_files_are_one_line_exit_2(tmp_path, case):
    content, expected = TEXT_CASES[case]
    data = tmp_path / "data.csv"
    data.write_bytes(content)
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {"data": {"train_file": "data.csv", "val_split": 0}, "train": {"early_stopping": {"monitor": "train_loss"}}}
        )
    )
    code, output = _invoke("train", str(config), "--dry-run", "--quiet")
    lines = output.strip().splitlines()
    assert code == 2 and len(lines) == 1, output[-500:]
    assert lines[0].startswith(f"error: {data}") and expected in lines[0], lines[0][:300]


SERIES_CASES = {
    "nan": (
        "t,load\n1,5\n2,nan\n3,7\n" + "".join(f"{i},{i}\n" for i in range(4, 60)),
        "series.csv:3: missing value in column 'load'",
    ),
    "blank": (
        "t,load\n1,5\n2,\n3,7\n" + "".join(f"{i},{i}\n" for i in range(4, 60)),
        "series.csv:3: missing value in column 'load'",
    ),
    "text": ("t,load\n1,5\n2,high\n3,7\n" + "".join(f"{i},{i}\n" for i in range(4, 60)), "'load'"),
    "too_short": ("t,load\n" + "".join(f"{i},{i}\n" for i in range(1, 12)), "lookback"),
}


@pytest.mark.parametrize("case", sorted(SERIES_CASES))
def test_broken_series_files_are_one_line_exit_2(tmp_path, case):
    content, expected = SERIES_CASES[case]
    data = tmp_path / "series.csv"
    data.write_text(content)
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data": {"task": "forecasting", "train_file": "series.csv", "target": "load", "time_column": "t", "lookback": 8},
                "train": {"early_stopping": {"monitor": "val_mae"}},
            }
        )
    )
    code, output = _invoke("train", str(config), "--dry-run", "--quiet")
    lines = output.strip().splitlines()
    assert code == 2 and len(lines) == 1, output[-500:]
    assert str(data) in lines[0] or "lookback" in lines[0]
    assert expected in lines[0], lines[0]


# -- fuzzing configs ------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 300),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(string.printable, max_size=12),
    st.sampled_from(["gru", "lstm", "rnn", "pre", "post", "val_loss", "amazon-food", "auto", "cosine"]),
)
keys = st.one_of(st.sampled_from(NAMES), st.text(string.ascii_letters + "._-", min_size=1, max_size=10))
documents = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=5), max_leaves=25
)


def _names_a_key(message: str, doc_keys: set[str]) -> bool:
    """Every message points at something: a schema key, a key of the document, or the YAML itself."""
    return (
        any(k in message for k in KEYS + SECTIONS)
        or any(k in message for k in doc_keys)
        or "invalid YAML" in message
        or "expected a mapping of sections" in message
    )


def _doc_keys(value, prefix: str = "") -> set[str]:
    found = set()
    if isinstance(value, dict):
        for k, v in value.items():
            found |= {f"{prefix}{k}", str(k)} | _doc_keys(v, f"{prefix}{k}.")
    return found


def _check(text: str, doc_keys: set[str]) -> None:
    try:
        parse_config(text, source="fuzz.yaml")
    except ConfigError as e:
        assert e.messages
        for message in e.messages:
            assert message.startswith("fuzz.yaml") or message.startswith("--set"), message
            assert "\n" not in message and "Traceback" not in message
            assert _names_a_key(message, doc_keys), message


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_random_documents_only_ever_raise_config_errors(doc):
    _check(yaml.safe_dump(doc), _doc_keys(doc))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_random_text_only_ever_raises_config_errors(text):
    _check(text, set())


def _mutate(raw: dict, data) -> dict:
    """One random edit at a random dotted path: delete, retype, misspell, or replace with a nested value."""
    flat = [k for k in _doc_keys(raw) if "." in k or k in raw]
    path = data.draw(st.sampled_from(sorted(flat)))
    parts = path.split(".")
    parent = raw
    for part in parts[:-1]:
        parent = parent[part]
    leaf = parts[-1]
    action = data.draw(st.sampled_from(["delete", "value", "typo", "nest"]))
    if action == "delete":
        del parent[leaf]
    elif action == "value":
        parent[leaf] = data.draw(scalars)
    elif action == "typo":
        value = parent.pop(leaf)
        i = data.draw(st.integers(0, len(leaf) - 1))
        parent[leaf[:i] + data.draw(st.sampled_from("xqz_")) + leaf[i + 1 :]] = value
    else:
        parent[leaf] = data.draw(documents)
    return raw


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SHIPPED), st.data())
def test_mutated_shipped_configs_only_ever_raise_config_errors(path, data):
    raw = _mutate(yaml.safe_load(path.read_text()), data)
    try:
        parse_config(yaml.safe_dump(raw), source="fuzz.yaml", base_dir=path.parent)
    except ConfigError as e:
        for message in e.messages:
            assert "\n" not in message and _names_a_key(message, _doc_keys(raw)), message


@pytest.fixture(scope="module")
def tiny_raw(tiny_data):
    return tiny_config_dict(tiny_data)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_configs_through_validate_and_dry_run_exit_0_or_2(tiny_raw, tmp_path_factory, data):
    import copy

    raw = _mutate(copy.deepcopy(tiny_raw), data)
    config = tmp_path_factory.mktemp("fuzz") / "config.yaml"
    config.write_text(yaml.safe_dump(raw))
    for command in (["validate", str(config)], ["train", str(config), "--dry-run", "--quiet"]):
        code, output = _invoke(*command)
        assert code in (0, 2), (command, code, output[-800:])
        assert "Traceback" not in output and "internal error" not in output, output[-800:]
        if code == 2:
            assert all(line.startswith("error: ") for line in output.strip().splitlines()), output


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_run_names_cannot_escape_the_runs_folder(tmp_path_factory, name):
    try:
        cfg = Config.model_validate({"name": name, "data": {"dataset": "amazon-food"}})
    except Exception:
        return  # refused by the schema: the only other outcome allowed
    runs = tmp_path_factory.mktemp("runs")
    folder = RunDir.create(runs, cfg.name).path
    assert folder.parent == runs.absolute() and Path(folder).resolve().parent == runs.resolve()


@pytest.mark.parametrize("brk", list("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"), ids=repr)
def test_a_line_break_in_what_the_user_gave_stays_inside_one_error_line(tiny_raw, tmp_path, brk):
    """Every character str.splitlines breaks at, in a path the error names (hypothesis found "\\r")."""
    import copy

    raw = copy.deepcopy(tiny_raw)
    raw["data"]["test_file"] = str(tmp_path / f"missing{brk}test.csv")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw))
    code, output = _invoke("train", str(config), "--dry-run", "--quiet")
    lines = output.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), output
    assert repr(brk)[1:-1] in lines[0] and "data file not found" in lines[0]
