"""docs/reference/run-folder.md lists exactly what the program writes: every file of a run, lr-find
and sweep folder, and every field of the files and --json results scripts read. Checked both ways
on real (tiny) runs of each task: a field written is documented, and a field documented is written.

A row whose meaning starts with "Only" is written only in some cases; the test makes each such case
happen, except those in NOT_MADE_HERE (each with where it is tested)."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from conftest import ROOT, tiny_config_dict
from rnnexp.cli import app

PAGE = ROOT / "docs" / "reference" / "run-folder.md"

# Documented, and not made by this test (too slow to make here, and tested where named).
NOT_MADE_HERE = {
    "mlflow",  # meta.json with train.mlflow: tests/test_tracking.py
    "tensorboard/",  # train.tensorboard: tests/test_tracking.py
    "model.onnx",  # export --format onnx: tests/test_export.py
    "sweep.png",  # rnnexp plot SWEEP_DIR: tests/test_report.py
    "mlflow.db",
    "mlartifacts/",
    ".staging-<pid>-<random>/",  # a setup killed outright: tests/test_faults.py
}


# -- what the page documents ------------------------------------------------------------------


def sections(text: str) -> dict[str, str]:
    """Each heading's text (backticks dropped) -> the page's text up to the next heading."""
    parts = re.split(r"^(#{2,4} .+)$", text, flags=re.M)
    return {re.sub(r"^#+ |`", "", head).strip(): body for head, body in zip(parts[1::2], parts[2::2])}


SECTIONS = sections(PAGE.read_text(encoding="utf-8"))


def table(heading: str) -> dict[str, bool]:
    """The names in the first column of the section's table -> whether the row is optional (its
    meaning starts with "Only"). A cell may name several (`a`, `b`); a cell without code (the
    searched keys of results.csv) is left out."""
    rows = [line for line in SECTIONS[heading].splitlines() if line.startswith("| ")][2:]
    assert rows, f"run-folder.md: no table under {heading!r}"
    found = {}
    for row in rows:
        first, meaning = [c.strip() for c in row.strip("|").split(" | ", 1)]
        for name in re.findall(r"`([^`]+)`", first):
            found[name] = meaning.startswith("Only")
    return found


def check(heading: str, written: set[str] | list[str], allowed_missing: set[str] = frozenset()) -> None:
    """Both ways: every name written is documented; every documented name is written, unless the
    row is optional and this case did not make it (``allowed_missing``), or NOT_MADE_HERE."""
    documented = table(heading)
    written = set(written)
    undocumented = written - set(documented)
    assert not undocumented, f"run-folder.md, {heading}: written but not documented: {sorted(undocumented)}"
    missing = set(documented) - written - NOT_MADE_HERE - set(allowed_missing)
    assert not missing, f"run-folder.md, {heading}: documented but not written: {sorted(missing)}"
    assert not set(allowed_missing) - {k for k, optional in documented.items() if optional}, (
        f"{heading}: a field this case may lack must be documented as 'Only ...': {sorted(allowed_missing)}"
    )


def files_match(heading: str, found: list[str]) -> None:
    """Every file found matches a documented name (<stem> and the like stand for any text), and every
    documented name is found (one of a row's names is enough), unless NOT_MADE_HERE."""
    rows = [line for line in SECTIONS[heading].splitlines() if line.startswith("| ")][2:]
    names_by_row = [re.findall(r"`([^`]+)`", row.strip("|").split(" | ", 1)[0]) for row in rows]
    pattern = lambda name: re.compile(".+".join(map(re.escape, re.split(r"<[^>]+>", name))) + "$")
    for path in found:
        assert any(pattern(n).match(path) for names in names_by_row for n in names), (
            f"run-folder.md, {heading}: {path} is not documented"
        )
    for names in names_by_row:
        names = [n for n in names if n not in NOT_MADE_HERE]
        assert not names or any(pattern(n).match(p) for n in names for p in found), (
            f"run-folder.md, {heading}: {names} not written"
        )


def listing(folder: Path) -> list[str]:
    """A folder's files and sub-folders (the latter with a trailing /), relative, not recursing into
    the folders the page documents as one entry (checkpoints/ is listed by file)."""
    found = []
    for path in sorted(folder.iterdir()):
        if path.is_dir() and path.name == "checkpoints":
            found += [f"checkpoints/{p.name}" for p in sorted(path.iterdir())]
        else:
            found.append(path.name + ("/" if path.is_dir() else ""))
    return found


# -- the runs ---------------------------------------------------------------------------------


def cli(*args) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, f"rnnexp {' '.join(map(str, args))}: {result.output}"
    return result.stdout


def cli_json(*args) -> dict:
    return json.loads(cli(*args, "--json"))


def write_yaml(path: Path, doc: dict) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def series_config(folder: Path) -> Path:
    import math

    rows = [(i, round(math.sin(i / 5) * 10 + i / 20, 4), round(math.cos(i / 7), 4)) for i in range(160)]
    with (folder / "series.csv").open("w", newline="") as f:
        csv.writer(f).writerows([("t", "y", "x"), *rows])
    data = {"task": "forecasting", "train_file": "series.csv", "target": "y", "features": ["x"], "time_column": "t"}
    data |= {"lookback": 6, "season": 10, "val_split": 0.15, "test_split": 0.15}
    doc = {"name": "series", "data": data, "model": {"num_neurons": 8}, "train": _quick()}
    return write_yaml(folder / "series.yaml", doc)


def sequence_config(folder: Path) -> Path:
    with (folder / "sequences.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sequence", "a", "b", "label"])
        for s in range(40):
            for step in range(4 + s % 3):
                w.writerow([f"s{s}", (s % 2) + step / 10, step * (s % 3), "xy"[s % 2]])
    data = {"task": "sequence_classification", "train_file": "sequences.csv", "val_split": 0.25, "test_split": 0.25}
    doc = {"name": "sequences", "data": data, "model": {"num_neurons": 8}, "train": _quick()}
    return write_yaml(folder / "sequences.yaml", doc)


def _quick() -> dict:
    return {"epochs": 1, "batch_size": 8, "threads": 1, "baselines": False}


@pytest.fixture(scope="module")
def made(tmp_path_factory, tiny_data):
    """Every folder and result the page documents, made once: a text run (trained, resumed, evaluated
    three ways, exported), a forecasting and a sequence run (evaluated), an lr-find, a sweep."""
    folder = tmp_path_factory.mktemp("run_folder")
    runs = folder / "runs"
    text = tiny_config_dict(tiny_data, train={**_quick(), "batch_size": 16})
    text_yaml = write_yaml(folder / "text.yaml", text)
    out = {"runs": runs}
    out["train"] = cli_json("train", text_yaml, "--runs-dir", runs)
    run = Path(out["train"]["run_dir"])
    out["resume"] = cli_json("resume", run, "--epochs", 2)
    out["eval"] = cli_json("evaluate", run, "--predictions", folder / "predictions.csv")
    cli_json("evaluate", run, "--split", "val")
    cli_json("evaluate", run, "--data", tiny_data["test"])
    cli_json("export", run)
    out["text"] = run
    for name, config in (("series", series_config(folder)), ("sequences", sequence_config(folder))):
        out[name] = Path(cli_json("train", config, "--runs-dir", runs)["run_dir"])
        out[f"{name}_eval"] = cli_json("evaluate", out[name])
    out["lr_find"] = cli_json("lr-find", text_yaml, "--steps", 12, "--runs-dir", runs)
    sweep = {"name": "t", "base": str(text_yaml), "space": {"model.cell": ["gru"]}, "sampler": {"kind": "grid"}}
    sweep_yaml = write_yaml(folder / "sweep.yaml", {**sweep, "objective": {"metric": "val_accuracy"}})
    sweep_dir = Path(cli_json("sweep", "create", sweep_yaml, "--runs-dir", runs)["sweep_dir"])
    cli("sweep", "worker", sweep_dir, "--number", 0)
    out["sweep_dir"], out["sweep_results"] = sweep_dir, cli_json("sweep", "results", sweep_dir)
    out["sweep_status"] = cli_json("sweep", "status", sweep_dir)
    return out


# -- the checks -------------------------------------------------------------------------------


def test_every_file_of_a_run_folder_is_documented(made):
    files_match("A run folder", listing(made["text"]))
    made_here = [p.name + "/" if p.is_dir() else p.name for p in made["runs"].iterdir()]
    other = [n for n in made_here if not re.match(r"^(sweep_)?\d{8}-\d{6}_", n)]  # not a run, lr-find or sweep folder
    assert not [n for n in other if n not in table("Beside the run folders")], other


def test_meta_json_and_its_resume_entries(made):
    meta = json.loads((made["text"] / "meta.json").read_text())
    check("meta.json", meta)
    assert len(meta["resumes"]) == 1
    check("Each entry of resumes", meta["resumes"][0])


def test_preprocessing_json_of_each_task(made):
    for heading, run in (("Text runs", "text"), ("Forecasting runs", "series"), ("Sequence classification runs", "sequences")):
        check(heading, json.loads((made[run] / "preprocessing.json").read_text()))


def test_metrics_csv_columns_of_each_task(made):
    columns = set()
    for run in ("text", "series", "sequences"):
        with (made[run] / "metrics.csv").open(newline="") as f:
            columns |= set(next(csv.reader(f)))
    check("metrics.csv", columns)


def test_summary_json_and_the_train_and_resume_json_results(made):
    summary = json.loads((made["text"] / "summary.json").read_text())
    check("summary.json", summary)
    # train --json and resume --json: the same fields, but updated_at (the page says so)
    assert set(made["train"]) == set(made["resume"]) == set(summary) - {"updated_at"}
    assert "but `updated_at`" in SECTIONS["summary.json"]


def test_eval_json_of_classification_and_forecasting(made):
    written = json.loads((made["text"] / "eval_test.json").read_text())
    assert written == made["eval"]  # evaluate --json prints the file's object
    check("eval_<split>.json: classification", written)
    for other in ("eval_val.json", "eval_file-test.json"):
        check("eval_<split>.json: classification", json.loads((made["text"] / other).read_text()), {"predictions_file"})
    check("eval_<split>.json: classification", made["sequences_eval"], {"predictions_file"})
    check("eval_<split>.json: forecasting", made["series_eval"])


def test_lr_find_folder_and_result(made):
    folder = Path(made["lr_find"]["folder"])
    assert folder.name.endswith("-lr-find")
    prose = SECTIONS["An lr-find folder"]
    assert not [n for n in listing(folder) if f"`{n}`" not in prose], listing(folder)
    with (folder / "lr_find.csv").open(newline="") as f:
        check("lr_find.csv", next(csv.reader(f)))
    written = json.loads((folder / "lr_find.json").read_text())
    check("lr_find.json", written)
    # lr-find --json: folder, plot and the same fields but prior_loss (the page says so)
    assert set(made["lr_find"]) == {"folder", "plot"} | set(written) - {"prior_loss"}
    assert "`folder`, `plot`, and the same fields but `prior_loss`" in SECTIONS["lr_find.json"]


def test_sweep_folder_its_files_and_results(made):
    sweep_dir = made["sweep_dir"]
    files_match("A sweep folder", listing(sweep_dir))
    check("sweep.json", json.loads((sweep_dir / "sweep.json").read_text()))
    trials = list((sweep_dir / "trials").iterdir())
    assert len(trials) == 1 and re.match(r"^\d{8}-\d{6}_trial-0000$", trials[0].name)
    with (sweep_dir / "results.csv").open(newline="") as f:
        header = next(csv.reader(f))
    searched = {"model.cell"}
    assert searched <= set(header) and "*each searched key*" in SECTIONS["results.csv"]
    check("results.csv", set(header) - searched)
    check("rnnexp sweep results --json", made["sweep_results"])
    check("rnnexp sweep results --json", made["sweep_status"], {"results_csv", "best_config"})
    assert set(made["sweep_results"]["trials"][0]) - searched == set(header) - searched  # trials: results.csv's fields


def test_runs_json_and_csv_columns(made):
    listed = cli_json("runs", made["runs"])
    assert set(listed) == {"runs_dir", "runs"}
    columns = set().union(*listed["runs"])
    check("The runs table", columns)
    csv_header = next(csv.reader(io.StringIO(cli("runs", made["runs"], "--csv"))))
    assert set(csv_header) == columns
