"""Recorders for writer A's how-to guides: what a run prints when it starts (`train --dry-run`:
the data, the lengths, the class weights, the vector coverage) and the one-line errors of bad
files, from real commands (figures.py runs them; recorded.py draws them as transcripts).

    python docs/gen/figures.py --only howto_starts   # dry runs of shipped configs and of the pages' examples
    python docs/gen/figures.py --only digits         # configs/digits.yaml trained and evaluated
    python docs/gen/figures.py --only weather        # configs/weather.yaml trained, evaluated, asked for the next days

A page whose example needs files (a vectors file, a CSV with a broken quote) writes them in its
own ```python blocks and shows its configs as ```yaml blocks with a `# file: NAME` line; the
recorder writes those files and runs those blocks first, in an example folder holding a copy of
configs/, as tests/test_docs.py does, then the commands, from that folder.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import blocks
from figures import ROOT, rnnexp, save, train_and_evaluate
from rec_tutorials import QUIET_THREADS, transcript

DRY = "--dry-run"


def file_of(block: blocks.Block) -> str | None:
    """The NAME of a YAML block's `# file: NAME` line, among its first comment lines."""
    for line in block.text.split("\n"):
        if not line.startswith("#"):
            return None
        if m := re.match(r"^#\s*file:\s*(\S+)", line):
            return m[1]
    return None


@contextmanager
def example_folder(runs: Path, page: str):
    """A folder as a reader's clone has it (configs/ beside runs/), after the page's python blocks ran there."""
    folder = runs / "example"
    shutil.copytree(ROOT / "configs", folder / "configs")
    (folder / "runs").mkdir(parents=True)
    before, env = Path.cwd(), os.environ.get("RNNEXP_RUNS_DIR")
    os.chdir(folder)
    os.environ["RNNEXP_RUNS_DIR"] = str(folder / "runs")
    try:
        shown = blocks.blocks(ROOT / "docs" / page)
        for block in shown:  # the files the page shows (`# file: NAME`), as its console examples get them
            if block.lang in ("yaml", "yml") and (name := file_of(block)):
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                (folder / name).write_text(block.text)
        namespace: dict = {"__name__": "__docs__"}
        for block in [b for b in shown if b.lang in ("python", "py")]:
            if block.skip_reason is None:
                exec(compile(block.text, block.where, "exec"), namespace)  # noqa: S102
        yield folder
    finally:
        os.chdir(before)
        if env is None:
            os.environ.pop("RNNEXP_RUNS_DIR", None)
        else:
            os.environ["RNNEXP_RUNS_DIR"] = env


def howto_starts(runs: Path) -> None:
    """How runs start, and how bad inputs are refused: one transcript per command."""
    started = time.perf_counter()
    shipped = {
        "quickstart": ["train", "configs/quickstart.yaml", DRY],
        "quickstart_400": ["train", "configs/quickstart.yaml", "--set", "data.maxlen=400", DRY],
        "quickstart_400_bucket": [
            "train",
            "configs/quickstart.yaml",
            "--set",
            "data.maxlen=400",
            "--set",
            "data.bucket=true",
            DRY,
        ],
        "balanced": ["train", "configs/quickstart.yaml", "--set", "train.class_weight=balanced", DRY],
        "electricity": ["train", "configs/electricity.yaml", DRY],
    }
    record = {name: transcript(args, runs) for name, args in shipped.items()}
    with example_folder(runs, "how-to/pretrained-vectors.md") as folder:
        record["pretrained"] = transcript(["train", "vectors.yaml", DRY], runs, cwd=folder)
    with example_folder(runs / "own", "how-to/own-data.md") as folder:
        for name in ("unclosed", "ragged", "encoding"):
            record[f"own_{name}"] = transcript(["train", f"{name}.yaml", DRY], runs, ok=(2,), cwd=folder)
    with example_folder(runs / "seq", "how-to/sequence-classification.md") as folder:
        record["sequences"] = transcript(["train", "sequences.yaml", DRY], runs, cwd=folder)
    record["seconds"] = round(time.perf_counter() - started, 1)
    save("howto_starts", record, runs)


def digits(runs: Path) -> None:
    """The sequence-classification guide: configs/digits.yaml trained and evaluated."""
    train_and_evaluate("digits", "configs/digits.yaml", runs, env=QUIET_THREADS)


def weather(runs: Path) -> None:
    """The forecasting guide: configs/weather.yaml trained and evaluated, then asked for the days
    after the page's file of recent weather (the page's python block writes it)."""
    started = time.perf_counter()
    with example_folder(runs / "weather", "how-to/forecasting.md") as folder:
        trained = rnnexp("train", "configs/weather.yaml", runs=runs, env=QUIET_THREADS)
        folder_name = "runs/" + Path(trained["run_dir"]).name
        report = rnnexp("evaluate", trained["run_dir"], runs=runs, env=QUIET_THREADS)
        predicted = transcript(["predict", trained["run_dir"], "--file", "recent_weather.csv"], runs, cwd=folder)
    record = {
        "train_command": "rnnexp train configs/weather.yaml",
        "train": trained,
        "evaluate": {"command": f"rnnexp evaluate {folder_name}", "result": report},
        "predict": predicted,
        "seconds": round(time.perf_counter() - started, 1),
    }
    save("weather", record, runs)


RECORDERS = {"howto_starts": howto_starts, "digits": digits, "weather": weather}
