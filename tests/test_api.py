"""The Python API, used as a notebook uses it: only the names `import rnnexp` offers."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

import rnnexp
from conftest import run_cli
from rnnexp.errors import ConfigError


def test_import_rnnexp_loads_neither_torch_nor_pandas():
    code = (
        "import sys, rnnexp; rnnexp.train, rnnexp.evaluate, rnnexp.load, rnnexp.runs; "
        "print(sorted({'torch', 'pandas', 'sklearn'} & set(sys.modules)))"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    timed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import rnnexp"], capture_output=True, text=True, check=True
    )
    assert "rnnexp" in timed.stderr and "torch" not in timed.stderr
    assert {"train", "resume", "evaluate", "load", "runs", "Run"} <= set(dir(rnnexp))
    with pytest.raises(AttributeError):
        rnnexp.trian  # noqa: B018


def test_train_resume_evaluate_load_and_runs_agree_with_the_cli(write_config, tmp_path):
    runs_dir = tmp_path / "runs"
    seen = []
    run = rnnexp.train(
        write_config(train={"epochs": 1, "threads": 1}),
        overrides={"train.epochs": 2, "model.cell": "lstm", "name": "api-{cell}"},
        runs_dir=runs_dir,
        on_epoch=seen.append,
    )
    assert run.path.parent == runs_dir.absolute() and run.path.name.endswith("_api-lstm")
    assert [row["epoch"] for row in seen] == [1, 2] and all("val_loss" in row and "improved" in row for row in seen)
    assert run.status == "completed" and run.config.model.cell == "lstm" and list(run.metrics["epoch"]) == [1, 2]
    assert run.summary["epochs_run"] == 2

    again = rnnexp.resume(run, epochs=3)
    assert again.path == run.path and list(again.metrics["epoch"]) == [1, 2, 3]

    report = rnnexp.evaluate(run)
    assert report == json.loads((run.path / "eval_test.json").read_text()) and 0 <= report["accuracy"] <= 1

    texts = ["great taste, would buy again", "stale and bland", ""]
    predictor = rnnexp.load(run)
    frame = predictor.predict(texts)
    cli = json.loads(run_cli("predict", run.path, *texts, "--json").stdout)["predictions"]
    assert list(frame["label"]) == [p["label"] for p in cli] and list(frame["probability"]) == [p["probability"] for p in cli]
    import pandas as pd

    same = predictor.predict(pd.DataFrame({"text": texts, "other": [1, 2, 3]}))
    assert same.equals(frame)  # a DataFrame's text column, or the list: one answer

    rnnexp.train(write_config(train={"epochs": 1, "threads": 1}), runs_dir=runs_dir)
    table = rnnexp.runs(runs_dir)
    listed = json.loads(run_cli("runs", runs_dir, "--json").stdout)["runs"]
    assert table.equals(pd.DataFrame(listed, columns=table.columns)) and list(table["cell"]) == ["lstm", "gru"]
    assert list(rnnexp.runs(runs_dir, filters={"model.cell": "gru"})["cell"]) == ["gru"]
    assert list(rnnexp.runs(runs_dir, sort="-epochs")["epochs"]) == [3, 1]


def test_a_dict_config_trains_and_relative_paths_are_read_from_the_working_folder(write_config, tmp_path, monkeypatch):
    raw = yaml.safe_load(write_config(train={"epochs": 1, "threads": 1}).read_text())
    folder = tmp_path / "data"
    folder.mkdir()
    for key in ("train_file", "test_file"):
        target = folder / f"{key}.csv"
        target.write_text(open(raw["data"][key]).read())
        raw["data"][key] = f"data/{key}.csv"
    monkeypatch.chdir(tmp_path)
    run = rnnexp.train(raw, runs_dir="runs")
    assert run.status == "completed" and run.config.data.train_file == str(folder / "train_file.csv")


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"train.epochz": 2}, "unknown key train.epochz (did you mean train.epochs?)"),
        ({"train.lr": -1}, "train.lr"),
        ({"name": "a b"}, "a run name is 1 to 64 letters"),
        (["train.lr=0.1"], "overrides: expected a mapping"),
    ],
)
def test_bad_overrides_raise_a_config_error_naming_the_key(write_config, tmp_path, overrides, message):
    with pytest.raises(ConfigError) as e:
        rnnexp.train(write_config(), overrides=overrides, runs_dir=tmp_path / "runs")
    assert message in str(e.value)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_predict_refuses_what_a_run_cannot_read(write_config, tmp_path):
    run = rnnexp.train(write_config(train={"epochs": 1, "threads": 1}), runs_dir=tmp_path / "runs")
    predictor = rnnexp.load(run)
    with pytest.raises(ConfigError, match="takes a list of texts"):
        predictor.predict("one text, not a list")
    import pandas as pd

    with pytest.raises(ConfigError, match="no column 'text'"):
        predictor.predict(pd.DataFrame({"review": ["good"]}))


def test_a_forecasting_predictor_takes_the_series_as_a_dataframe(tmp_path):
    vega = pytest.importorskip("vega_datasets", reason="needs the datasets extra (make install)")
    from test_tasks import weather_cfg

    run = rnnexp.train(weather_cfg(epochs=1), runs_dir=tmp_path / "runs")
    series = vega.local_data.seattle_weather().iloc[:400]
    forecast = rnnexp.load(run).predict(series)
    path = tmp_path / "series.csv"
    series.to_csv(path, index=False)
    cli = json.loads(run_cli("predict", run.path, "--file", path, "--json").stdout)["forecast"]
    assert list(forecast["steps_ahead"]) == [1, 2] and list(forecast["value"]) == [f["value"] for f in cli]
    assert list(forecast["timestamp"]) == [f["timestamp"] for f in cli]
