"""End to end through the command line, as a user or a CI script calls it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from rnnexp import checkpoint


def test_help_and_version_without_torch():
    proc = run_cli("--help")
    assert proc.returncode == 0 and "train" in proc.stdout and "resume" in proc.stdout
    code = "import sys; from rnnexp.cli import app; import rnnexp.config; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
    assert run_cli("--version").stdout.strip().startswith("rnnexp ")


def test_validate_reports_all_errors_exit_2_no_traceback(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("data:\n  dataset: amazon-food\nmodel:\n  num_nuerons: 64\ntrain:\n  lr: -0.01\n")
    proc = run_cli("validate", cfg)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines == [
        f"error: {cfg}:4: unknown key model.num_nuerons (did you mean model.num_neurons?)",
        f"error: {cfg}:6: train.lr: Input should be greater than 0, got -0.01",
    ]
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_validate_checks_sweep_files_too(tmp_path):
    proc = run_cli("validate", ROOT / "configs" / "sweep_tpe.yaml", "--set", "epoch_budget=30")
    assert proc.returncode == 0 and "is a valid sweep file (tpe, 4 searched keys, 40 trials, epoch budget 30" in proc.stdout
    bad = tmp_path / "sweep.yaml"
    text = (ROOT / "configs" / "sweep_tpe.yaml").read_text()
    line = text.splitlines().index("  kind: tpe") + 1  # the error names the line of the bad value
    bad.write_text(text.replace("kind: tpe", "kind: tpee"))
    proc = run_cli("validate", bad)
    assert proc.returncode == 2 and f"sweep.yaml:{line}: sampler.kind" in proc.stderr and "did you mean 'tpe'" in proc.stderr


def test_validate_ok_and_print(tmp_path):
    proc = run_cli("validate", ROOT / "configs" / "quickstart.yaml", "--set", "train.lr=0.01", "--print")
    assert proc.returncode == 0 and "lr: 0.01" in proc.stdout


def _configs_to_print(tmp_path: Path) -> dict[str, Path]:
    """A config, a config on a chain of bases in other folders (a data path relative to its file),
    and sweep files on each."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    files = {
        "config": "data:\n  dataset: amazon-food\nmodel:\n  cell: gru\n",
        "a/child": "base: ../b/base.yaml\nname: child\ntrain:\n  lr: 0.01\n",
        "b/base": "base: root.yaml\nmodel:\n  cell: lstm\ntrain:\n  epochs: 4\n",
        "b/root": "data:\n  train_file: data/train.csv\n  maxlen: 50\nmodel:\n  bidirectional: true\n",
        "sweep": "base: config.yaml\nset:\n  train.epochs: 2\nspace:\n  train.lr: [0.01, 0.02]\ntrials: 4\n",
        "a/sweep": "base: child.yaml\nset:\n  data.maxlen: 30\nspace:\n  model.cell: [gru, lstm]\ntrials: 4\n",
    }
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    return {name: tmp_path / f"{name}.yaml" for name in files}


VALIDATE_PRINT = {
    "config": ("config", []),
    "config --set": ("config", ["--set", "train.lr=0.02", "--set", "model={dropout: 0.5}"]),
    "config on a base chain": ("a/child", []),
    "config on a base chain --set": ("a/child", ["--set", "data.val_file=val.csv"]),
    "sweep": ("sweep", []),
    "sweep --set": ("sweep", ["--set", "set.train.epochs=3", "--set", "trials=5"]),
    "sweep on a base chain": ("a/sweep", []),
    "sweep on a base chain --set": ("a/sweep", ["--set", "set.train.lr=0.5"]),
}


@pytest.mark.parametrize("case", VALIDATE_PRINT, ids=str)
def test_validate_print_writes_only_the_yaml_on_stdout_and_it_loads_back_as_the_resolved_config(tmp_path, case):
    from rnnexp.config import load_config, load_sweep

    name, sets = VALIDATE_PRINT[case]
    given = _configs_to_print(tmp_path)[name]
    proc = run_cli("validate", given, *sets, "--print")
    assert proc.returncode == 0, proc.stderr
    [ok] = proc.stderr.splitlines()  # the verdict, on stderr
    assert ok.startswith(f"ok: {given} is a valid ") and "ok:" not in proc.stdout
    printed = tmp_path / "elsewhere" / "printed.yaml"  # read from another folder: its paths stand alone
    printed.parent.mkdir()
    printed.write_text(proc.stdout)
    values = sets[1::2]  # the --set values
    resolved = load_sweep(given, values)[2] if "sweep" in name else load_config(given, values)
    assert load_config(printed) == resolved
    assert all(line.endswith(":") or "  # " in line for line in proc.stdout.splitlines())  # every value says where from
    if case == "sweep":  # a key of the sweep's set: its line there
        assert f"  epochs: 2  # {given}:3\n" in proc.stdout
    without = run_cli("validate", given, *sets)
    assert without.returncode == 0 and without.stdout == ok + "\n" and without.stderr == ""  # no --print: the verdict


def test_bad_arguments_exit_2(tmp_path):
    assert run_cli("train").returncode == 2
    assert run_cli("evaluate", tmp_path, "--split", "bogus").returncode == 2
    proc = run_cli("evaluate", tmp_path / "nope")
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "no such run folder" in proc.stderr
    proc = run_cli("train", tmp_path / "missing.yaml")
    assert proc.returncode == 2 and "config file not found" in proc.stderr


def test_data_error_is_one_line_exit_2(write_config, tmp_path):
    cfg = write_config(data={"text_column": "review"})
    proc = run_cli("train", cfg, "--runs-dir", tmp_path / "runs")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "no column 'review' (data.text_column)" in proc.stderr


def test_train_json_evaluate_json_and_ci_gate(write_config, tmp_path):
    cfg = write_config(train={"epochs": 2})
    # RNNEXP_RUNS_DIR stands in for --runs-dir
    proc = run_cli("train", cfg, "--json", "--set", "train.batch_size=32", env={"RNNEXP_RUNS_DIR": str(tmp_path / "runs")})
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    run = Path(result["run_dir"])
    assert run.is_absolute() and result["status"] == "completed" and result["epochs_run"] == 2
    assert run.parent == tmp_path / "runs"
    assert "epoch   2" in proc.stderr  # human progress goes to stderr, not into the JSON
    assert "batch_size: 32" in (run / "config.yaml").read_text()

    proc = run_cli("evaluate", run, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert {"loss", "accuracy", "precision", "recall", "f1", "confusion_matrix", "baseline"} <= report.keys()
    assert (run / "eval_test.json").is_file()

    human = run_cli("evaluate", run)
    assert "majority baseline" in human.stdout and "accuracy" in human.stdout

    gate = run_cli("evaluate", run, "--min-accuracy", "1.01")
    assert gate.returncode == 1 and "below --min-accuracy" in gate.stderr
    assert run_cli("evaluate", run, "--min-accuracy", "0").returncode == 0

    proc = run_cli("resume", run)
    assert proc.returncode == 2 and "already finished" in proc.stderr


def test_dry_run_makes_no_folder(write_config, tmp_path):
    proc = run_cli("train", write_config(), "--runs-dir", tmp_path / "runs", "--dry-run", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["parameters"] > 0 and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_checkpoints_exits_130_and_resumes(write_config, tmp_path, forkrun, sig):
    cfg = write_config(train={"epochs": 40, "batch_size": 8, "threads": 1})
    runs = tmp_path / "runs"
    rc, out = forkrun(
        "train", cfg, "--runs-dir", runs, "--quiet", "--json", signals=[(0, sig)], after=str(runs / "*/metrics.csv")
    )
    assert rc == 130, out
    result = json.loads(out.splitlines()[0])
    assert result["status"] == "interrupted"
    summary = json.loads((Path(result["run_dir"]) / "summary.json").read_text())
    assert summary["status"] == "interrupted" and "interrupted" in summary["stop_reason"]
    rc, out = forkrun("resume", result["run_dir"], "--epochs", str(result["epochs_run"] + 2), "--json", "--quiet")
    assert rc == 0, out
    assert json.loads(out.splitlines()[0])["epochs_run"] == result["epochs_run"] + 2


def test_internal_errors_are_one_line_without_debug(tmp_path, write_config):
    # A run folder whose summary.json is garbage is reported, not a traceback.
    cfg = write_config(train={"epochs": 1})
    proc = run_cli("train", cfg, "--runs-dir", tmp_path / "runs", "--json", "--quiet")
    run = Path(json.loads(proc.stdout)["run_dir"])
    (run / "summary.json").write_text("{not json")
    proc = run_cli("resume", run)
    assert proc.returncode == 2 and "summary.json: unreadable" in proc.stderr and "Traceback" not in proc.stderr


def test_python_dash_m_and_console_script_agree():
    exe = Path(sys.executable).parent / "rnnexp"
    if not exe.exists():
        pytest.skip("console script not installed in this environment")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, env={**os.environ})
    assert out.stdout == run_cli("--version").stdout


def test_lr_find_writes_plot_and_suggestion(write_config, tmp_path):
    proc = run_cli("lr-find", write_config(), "--steps", "40", "--runs-dir", tmp_path / "runs", "--json", "--quiet")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    folder = Path(out["folder"])
    assert folder.name.endswith("_tiny-lr-find") and out["suggested_lr"] > 0
    assert (folder / "lr_find.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len((folder / "lr_find.csv").read_text().splitlines()) == out["steps_run"] + 1
    human = run_cli("lr-find", write_config(), "--steps", "40", "--runs-dir", tmp_path / "runs")
    assert "suggested lr" in human.stdout and "--set train.lr=" in human.stderr
    bad = run_cli("lr-find", write_config(), "--min-lr", "1", "--max-lr", "0.1")
    assert bad.returncode == 2 and "--min-lr" in bad.stderr


# -- signals: exit 130 and a resumable run, whenever they come, never a traceback ---------------------

SIGNAL_TRAIN = {"epochs": 4, "batch_size": 8, "threads": 1}


@pytest.fixture(scope="module")
def signal_reference(tmp_path_factory, tiny_data, forkrun):
    import yaml

    from conftest import tiny_config_dict

    folder = tmp_path_factory.mktemp("signals")
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump(tiny_config_dict(tiny_data, train=SIGNAL_TRAIN)))
    rc, out = forkrun("train", config, "--runs-dir", folder / "ref", "--quiet")
    assert rc == 0, out
    return config, next((folder / "ref").iterdir())


def _clean(out: str) -> None:
    assert "Traceback" not in out and "Exception ignored" not in out, out


@pytest.mark.parametrize("gap", [0.0, 0.01, 0.05, 0.2])
def test_sigterm_then_sigint_mid_training(signal_reference, tmp_path, forkrun, gap):
    """The first signal asks for a checkpoint after the batch; the second, `gap` seconds later, ends
    the process at once. Either way: exit 130, no traceback, and the run resumes to the same end."""
    from conftest import assert_same_run

    config, ref = signal_reference
    runs = tmp_path / "runs"
    rc, out = forkrun(
        "train", config, "--runs-dir", runs, "--quiet",
        signals=[(0.0, signal.SIGTERM), (gap, signal.SIGINT)], after=str(runs / "*" / "metrics.csv"),
    )  # fmt: skip
    assert rc == 130, out
    _clean(out)
    (run,) = runs.iterdir()
    rc, out = forkrun("resume", run, "--quiet")
    assert rc == 0, out
    assert_same_run(ref, run)


START_UP = ["setup:data", "setup:model", "setup:files", "setup:published", "setup:done"]


@pytest.mark.parametrize("point", START_UP)
@pytest.mark.parametrize("sig", ["sigterm", "sigint"])
def test_a_signal_during_start_up(signal_reference, tmp_path, forkrun, point, sig):
    """A signal at each instant of a run's start-up (its data read, its model built, its folder
    staged, put in place, marked running): exit 130, no traceback, and the run folder is either not
    there (nothing was in place yet) or resumes to the uninterrupted run. The process signals itself
    at that point (RNNEXP_FAULT=sig@point, rnnexp/faults.py), so the signal always lands there: a
    run that finished first cannot pass for one that handled it."""
    from conftest import assert_same_run

    config, ref = signal_reference
    runs = tmp_path / "runs"
    rc, out = forkrun("train", config, "--runs-dir", runs, "--quiet", env={"RNNEXP_FAULT": f"{sig}@{point}"})
    assert rc == 130, out
    _clean(out)
    folders = [p for p in runs.iterdir() if not p.name.startswith(".")] if runs.exists() else []
    if START_UP.index(point) <= START_UP.index("setup:files"):
        assert folders == [], folders
        return
    (run,) = folders
    rc, out = forkrun("resume", run, "--quiet")
    assert rc == 0, out
    assert_same_run(ref, run)


def _mapped(pid: int, library: str) -> bool:
    try:
        return library in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return True  # gone, or no /proc: stop waiting


@pytest.mark.parametrize("delay", [0.0, 0.5, 1.5])
def test_sigterm_while_the_interpreter_loads_is_exit_130(write_config, tmp_path, delay):
    """A fresh process, signalled while it imports torch or reads data: 130, not killed by SIGTERM.
    (Timed from when torch's library is mapped: the command is running then, whatever the load.)"""
    proc = subprocess.Popen(
        [sys.executable, "-m", "rnnexp", "train", write_config(), "--runs-dir", tmp_path / "runs", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None and not _mapped(proc.pid, "libtorch"):
        time.sleep(0.005)
    time.sleep(delay)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (proc.returncode, err)
    _clean(err)


@pytest.mark.parametrize("point", ["evaluate:loaded", "evaluate:scored"])
@pytest.mark.parametrize("sig", ["sigterm", "sigint"])
def test_a_signal_during_evaluate_is_exit_130(signal_reference, tmp_path, forkrun, point, sig):
    """A signal while evaluate loads or has scored (the process signals itself there): exit 130, no
    traceback, and neither eval_test.json nor the predictions file written, whole or in part."""
    _, ref = signal_reference
    run = tmp_path / "run"
    shutil.copytree(ref, run)
    for done in run.glob("eval_*"):
        done.unlink()
    predictions = tmp_path / "predictions.csv"
    rc, out = forkrun("evaluate", run, "--predictions", predictions, env={"RNNEXP_FAULT": f"{sig}@{point}"})
    assert rc == 130, out
    _clean(out)
    assert not list(run.glob("eval_*")) and not list(tmp_path.glob("predictions*")), list(run.iterdir())


def test_the_signal_handler_takes_no_lock_a_second_signal_could_find_held(monkeypatch):
    """A second SIGINT/SIGTERM can land while the first one's handler is inside stop.set(), on the
    same thread: a handler that needs a lock the interrupted code holds waits forever (seen: a
    train hung after SIGTERM then SIGINT). So the handler takes no lock at all: every lock
    acquisition (acquire, or entering a `with` on one) made while both signals are handled is
    recorded by a profiler, and there must be none. (Checked by hand: with threading.Event as the
    stop flag, its set() takes its Condition's lock and this fails.)"""
    import signal
    import sys
    import threading

    from rnnexp import cli

    signals = cli._Signals()
    signals.graceful = True
    exits: list[int] = []
    monkeypatch.setattr(cli.os, "_exit", exits.append)
    monkeypatch.setattr(cli.os, "write", lambda fd, data: len(data))
    locks = (type(threading.Lock()), type(threading.RLock()))
    taken = []

    def profile(frame, event, arg):
        if event == "c_call" and isinstance(getattr(arg, "__self__", None), locks) and arg.__name__ in ("acquire", "__enter__"):
            taken.append(f"{arg.__name__} of {arg.__self__!r}, from {frame.f_code.co_qualname}")

    sys.setprofile(profile)
    try:
        signals._handle(signal.SIGTERM, None)
        first_done = signals.stop.is_set() and exits == []
        signals._handle(signal.SIGINT, None)  # the second signal ends the process at once
    finally:
        sys.setprofile(None)
    assert taken == [], "the signal handler took a lock"
    assert first_done and exits == [cli.EXIT_INTERRUPTED]
    assert signals.stop.wait(0.01) is True
    assert cli._Flag().wait(0.05) is False


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="fakes a run trained on a GPU this machine lacks")
def test_a_run_trained_on_cuda_evaluates_predicts_and_resumes_here_without_a_config_edit(write_config, tmp_path, forkrun):
    rc, out = forkrun(
        "train", write_config(train={"epochs": 1, "threads": 1}), "--runs-dir", tmp_path / "runs", "--device", "cpu", "-q"
    )
    assert rc == 0, out
    (run,) = (p for p in (tmp_path / "runs").iterdir() if not p.name.startswith("."))
    assert "device: cpu" in (run / "config.yaml").read_text()  # --device on train is the run's train.device
    # Now pretend it was trained on a GPU: what config.yaml and meta.json say after a cuda run.
    config = (run / "config.yaml").read_text().replace("device: cpu", "device: cuda")
    (run / "config.yaml").write_text(config)
    meta = json.loads((run / "meta.json").read_text())
    meta["device"], meta["config"]["train"]["device"] = "cuda:0", "cuda"
    (run / "meta.json").write_text(json.dumps(meta))
    for name in ("last.pt", "best.pt"):  # each checkpoint carries the whole config too
        state = checkpoint.load(run / "checkpoints" / name)
        state["config"]["train"]["device"] = "cuda"
        checkpoint.save(state, run / "checkpoints" / name)

    for flag in ([], ["--device", "cpu"], ["--device", "auto"]):
        rc, out = forkrun("evaluate", run, "--json", *flag)
        assert rc == 0, out
        report = json.loads(out.splitlines()[-1])
        assert report["device"] == "cpu" and "accuracy" in report
        assert report["notes"] == ([] if flag else [NOTE_LACKS])
        rc, out = forkrun("predict", run, "a wonderful film", *flag)
        assert rc == 0 and "\t" in out.splitlines()[-1], out
        assert (NOTE_LACKS in out) == (not flag)
    for bad, said in (
        (["cuda"], "--device is 'cuda' but torch sees no CUDA device"),
        (["cuda:3"], "no CUDA"),
        (["gpu"], "expected auto"),
    ):
        rc, out = forkrun("evaluate", run, "--device", *bad)
        assert rc == 2 and said in out and out.count("error:") == 1, out

    rc, out = forkrun("resume", run, "--epochs", "2")
    assert rc == 0, out
    assert "trained on cuda:0 and resumes on cpu" in out and "not the same bits" in out
    assert (run / "config.yaml").read_text() == config.replace("epochs: 1", "epochs: 2")  # the device stays recorded
    resumes = json.loads((run / "meta.json").read_text())["resumes"]
    assert [r["device"] for r in resumes] == ["cpu"]


NOTE_LACKS = "this run's train.device is 'cuda', which this machine lacks: using cpu (--device chooses)"


# ---------------------------------------------------------------------------------------------
# Output where shells expect it: results on stdout, plain text in pipes, one-line usage errors


def _shell(command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, shell=True, capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "80"})


def _on_a_terminal(*args, env: dict, columns: int = 160, stderr: list | None = None) -> str:
    """What rnnexp writes to stdout when stdout is a terminal (a pseudo-terminal here) ``columns``
    wide; its stderr appended to ``stderr`` when given."""
    import fcntl
    import struct
    import termios

    from conftest import open_pty, read_pty

    master, slave = open_pty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    full_env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | {"TERM": "xterm-256color", "COLUMNS": str(columns)}
    cmd = [sys.executable, "-m", "rnnexp", *map(str, args)]
    proc = subprocess.run(cmd, stdout=slave, stderr=subprocess.PIPE, env=full_env | env, text=True)
    os.close(slave)
    screen = read_pty(master)
    assert proc.returncode == 0, proc.stderr
    if stderr is not None:
        stderr.append(proc.stderr)
    return screen


BOX = set("│─┃━┏┓┗┛┡┩┣┫╭╮╰╯")


def test_quiet_train_prints_its_result_line_and_result_tables_pipe_as_plain_text(write_config, tmp_path, forkrun):
    runs = tmp_path / "runs"
    cfg = write_config(train={"epochs": 1, "threads": 1})
    quiet = run_cli(
        "train", cfg, "--runs-dir", runs, "--quiet", "--name", "tiny-{cell}-{num_neurons}", "--set", "model.cell=lstm"
    )
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    [line] = quiet.stdout.splitlines()
    folder, status, score = line.split("  ")
    run = Path(folder)
    assert run.parent == runs.absolute() and run.name.endswith("_tiny-lstm-16") and status == "completed"
    summary = json.loads((run / "summary.json").read_text())
    assert score == f"best {summary['monitor']} {summary['best_score']:.4f} at epoch {summary['best_epoch']}"
    assert forkrun("train", cfg, "--runs-dir", runs, "--quiet")[0] == 0  # a second run, its config's name

    listed = _shell(f"'{sys.executable}' -m rnnexp runs '{runs}' | head -3")
    rows = listed.stdout.splitlines()
    assert len(rows) == 3 and rows[0].split()[:4] == ["run", "status", "cell", "units"], listed.stdout
    assert sorted(r.split()[0] for r in rows[1:]) == sorted(p.name for p in runs.iterdir() if not p.name.startswith("."))
    assert "2 runs in" in listed.stderr
    scored = _shell(f"'{sys.executable}' -m rnnexp evaluate '{run}' | grep accuracy")
    report = json.loads((run / "eval_test.json").read_text())
    assert scored.returncode == 0 and scored.stdout.split()[:2] == ["accuracy", f"{report['accuracy']:.4f}"], scored.stdout
    for text in (listed.stdout, scored.stdout):
        assert "\x1b" not in text and not BOX & set(text) and all(r == r.rstrip() for r in text.splitlines())

    # A terminal gets a drawn, coloured table; NO_COLOR asks for the plain text a pipe gets.
    drawn = _on_a_terminal("runs", runs, env={})
    assert BOX & set(drawn) and "\x1b[" in drawn and run.name in drawn
    plain = _on_a_terminal("runs", runs, env={"NO_COLOR": "1"})
    assert not BOX & set(plain) and "\x1b[" not in plain.replace("\x1b[?25", "") and run.name in plain


USAGE_ERRORS = [
    ["evaluate"],  # a missing argument
    ["train", "x.yaml", "--epochz", "3"],  # an unknown option
    ["evaluate", "RUN", "--checkpoint", "newest"],  # not one of the choices
    ["evaluate", "RUN", "--split", "train"],
    ["export", "RUN", "--format", "tflite"],
    ["resume", "RUN", "--epochs", "many"],  # not a number
    ["resume", "RUN", "--epochs", "0"],  # out of range
    ["tran", "x.yaml"],  # an unknown command
    ["sweep", "status", "--study"],  # an option without its value
    ["sweep", "worker", "--number", "-1"],
    ["plot", "RUN1", "RUN2"],  # the command's own check (several runs need --out)
]


@pytest.mark.parametrize("args", USAGE_ERRORS, ids=lambda a: " ".join(a))
def test_a_usage_error_is_one_error_line_and_exit_2(forkrun, args):
    rc, out = forkrun(*args)
    assert rc == 2 and out.count("\n") == 1 and out.startswith("error: rnnexp") and "--help)" in out, out
    assert "Usage:" not in out and not BOX & set(out)


def _command_paths(group, prefix=()):
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _command_paths(command, (*prefix, name))
        else:
            yield (*prefix, name)


def test_help_shows_choices_and_no_type_placeholders(forkrun):
    import re

    import typer

    from rnnexp.cli import app

    paths = list(_command_paths(typer.main.get_command(app)))
    assert ("sweep", "worker") in paths and ("evaluate",) in paths and len(paths) >= 17
    for path in [(), *paths]:
        rc, out = forkrun(*path, "--help")
        assert rc == 0, out
        usage = next(line for line in out.splitlines() if "Usage:" in line)
        assert "{" not in usage and "<" not in usage, usage
        assert not re.search(r"<(str|bool|int|float|path|list\[[^>]*\])>", out), (path, out)
        if path in (("evaluate",), ("predict",), ("export",)):
            assert "[auto|best|last]" in out, out
    assert "[test|val]" in forkrun("evaluate", "--help")[1]


KILLED = -signal.SIGKILL


@pytest.mark.parametrize("point", ["setup:published", "setup:done", "metrics:1", "summary:1"])
def test_a_killed_run_lists_as_stale_and_evaluate_says_it_scores_an_unfinished_run(write_config, tmp_path, forkrun, point):
    runs = tmp_path / "runs"
    cfg = write_config(train={"epochs": 2, "threads": 1})
    assert forkrun("train", cfg, "--runs-dir", runs, "--quiet", env={"RNNEXP_FAULT": point})[0] == KILLED
    [run] = [p for p in runs.iterdir() if not p.name.startswith(".")]
    status = lambda: json.loads(forkrun("runs", runs, "--json")[1])["runs"][0]["status"]  # noqa: E731
    assert status() == "stale"
    if (run / "checkpoints" / "last.pt").is_file():
        rc, out = forkrun("evaluate", run)
        assert rc == 0 and "note: this run is stale, not finished (2 epochs planned)" in out and "from epoch 1" in out, out
        assert f"rnnexp resume {run}" in out
        assert json.loads((run / "eval_test.json").read_text())["run_status"] == "stale"
    assert forkrun("resume", run, "--quiet")[0] == 0
    assert status() == "completed"
    rc, out = forkrun("evaluate", run)
    assert rc == 0 and "not finished" not in out


def test_ctrl_c_on_a_terminal_leaves_no_progress_bar_under_the_final_lines(write_config, tmp_path):
    from conftest import open_pty, read_pty

    cfg = write_config(train={"epochs": 200, "threads": 1})
    master, slave = open_pty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"}
    cmd = [sys.executable, "-m", "rnnexp", "train", str(cfg), "--runs-dir", str(tmp_path / "runs")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    deadline = time.time() + 120
    while time.time() < deadline and not list((tmp_path / "runs").glob("*/checkpoints/last.pt")):
        time.sleep(0.05)
    time.sleep(0.3)  # well into a later epoch: its bar is on the screen
    proc.send_signal(signal.SIGINT)
    screen = read_pty(master)
    assert proc.wait(timeout=60) == 130
    assert "continue with: rnnexp resume" in screen, screen[-2000:]
    after = screen.rsplit("continue with: rnnexp resume", 1)[1]
    assert "━" not in after and "loss" not in after, after


# ---------------------------------------------------------------------------------------------
# Paths the user chose to write at: one rule (rundir.output_file / output_folder) for every command


@pytest.fixture(scope="module")
def to_write(tiny_data, tmp_path_factory, forkrun):
    """What the commands that write at a chosen path need: a config, a finished run, a sweep file,
    a finished sweep (one trial) and a read-only folder."""
    import yaml

    from conftest import tiny_config_dict

    home = tmp_path_factory.mktemp("to_write")
    config = home / "config.yaml"
    config.write_text(yaml.safe_dump(tiny_config_dict(tiny_data, train={"epochs": 1, "threads": 1})))
    sweep = home / "sweep.yaml"
    sweep.write_text(f"base: {config}\nspace:\n  model.cell: [gru]\nsampler: {{kind: grid}}\n")
    assert forkrun("train", config, "--runs-dir", home / "runs", "--quiet")[0] == 0
    rc, out = forkrun("sweep", sweep, "--runs-dir", home / "sweeps", "--json", "--quiet")
    assert rc == 0, out
    [run] = (home / "runs").iterdir()
    [swept] = (home / "sweeps").iterdir()
    return {"config": config, "run": run, "sweep_file": sweep, "sweep": swept, "read_only": _read_only(home)}


def _read_only(home: Path) -> Path:
    """A folder this process cannot write in: one made read-only, or (as root, who writes in
    those anyway) /sys, which refuses new files even to root."""
    if os.geteuid() != 0:
        folder = home / "read-only"
        folder.mkdir()
        folder.chmod(0o500)
        return folder
    try:
        os.close(os.open("/sys/rnnexp-probe", os.O_WRONLY | os.O_CREAT | os.O_EXCL))
    except OSError:
        return Path("/sys")
    os.unlink("/sys/rnnexp-probe")
    pytest.skip("no read-only folder for root here")


# Each command's option that names a file to write, the name it writes by default, and its command line.
FILE_OUTPUTS = {
    "export --out": ("--out", "model.pt", lambda w: ["export", w["run"]]),
    "export --format onnx --out": ("--out", "model.onnx", lambda w: ["export", w["run"], "--format", "onnx"]),
    "plot RUN --out": ("--out", "curves.png", lambda w: ["plot", w["run"]]),
    "plot SWEEP --out": ("--out", "sweep.png", lambda w: ["plot", w["sweep"]]),
    "schema --out": ("--out", "schema.json", lambda w: ["schema"]),
    "evaluate --predictions": ("--predictions", "predictions.csv", lambda w: ["evaluate", w["run"]]),
}
# A bad place for a file, from a scratch folder (holding the file `a-file`) and the read-only folder.
BAD_FILE_PLACES = {
    "an existing folder": (lambda tmp, ro, name: tmp, "is a folder, not a file"),
    "under a file": (lambda tmp, ro, name: tmp / "a-file" / name, "a-file is a file, not a folder"),
    "a read-only folder": (lambda tmp, ro, name: ro / name, "cannot write in "),
    "a missing folder in a read-only one": (lambda tmp, ro, name: ro / "new" / name, "cannot create the folder "),
}


def _one_error_line(rc: int, out: str, option: str, path: Path, problem: str) -> None:
    assert rc == 2, out
    [line] = out.splitlines()
    assert line.startswith(f"error: {option} {path}: ") and problem in line and "; give " in line, line


@pytest.mark.parametrize("place", BAD_FILE_PLACES, ids=str)
@pytest.mark.parametrize("command", FILE_OUTPUTS, ids=str)
def test_a_file_at_a_bad_chosen_path_is_one_error_line_naming_the_option_and_exit_2(to_write, forkrun, tmp_path, command, place):
    option, name, args = FILE_OUTPUTS[command]
    if "onnx" in command:
        pytest.importorskip("onnxruntime")
    (tmp_path / "a-file").write_text("")
    where, problem = BAD_FILE_PLACES[place]
    path = where(tmp_path, to_write["read_only"], name)
    rc, out = forkrun(*args(to_write), option, path)
    _one_error_line(rc, out, option, path, problem)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # nothing written beside it (no folder.png)


@pytest.mark.parametrize("command", FILE_OUTPUTS, ids=str)
def test_a_file_in_missing_folders_is_written_there_creating_them(to_write, forkrun, tmp_path, command):
    option, name, args = FILE_OUTPUTS[command]
    if "onnx" in command:
        pytest.importorskip("onnxruntime")
    path = tmp_path / "new" / "deeper" / name
    rc, out = forkrun(*args(to_write), option, path)
    assert rc == 0 and path.is_file() and path.stat().st_size > 0, out
    assert f"written: {path}" in out
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp file or probe left


# Each command that writes in a folder the user chose (--runs-dir).
FOLDER_OUTPUTS = {
    "train": lambda w: ["train", w["config"], "--quiet"],
    "lr-find": lambda w: ["lr-find", w["config"], "--quiet"],
    "sweep run": lambda w: ["sweep", "run", w["sweep_file"], "--quiet"],
    "sweep create": lambda w: ["sweep", "create", w["sweep_file"]],
    "sweep worker": lambda w: ["sweep", "worker", w["sweep"]],
}
BAD_FOLDER_PLACES = {
    "an existing file": (lambda tmp, ro: tmp / "a-file", "is a file, not a folder"),
    "under a file": (lambda tmp, ro: tmp / "a-file" / "runs", "a-file is a file, not a folder"),
    "a read-only folder": (lambda tmp, ro: ro, "cannot write in "),
    "a missing folder in a read-only one": (lambda tmp, ro: ro / "runs", "cannot create the folder "),
}


@pytest.mark.parametrize("place", BAD_FOLDER_PLACES, ids=str)
@pytest.mark.parametrize("command", FOLDER_OUTPUTS, ids=str)
def test_a_runs_dir_at_a_bad_place_is_one_error_line_and_exit_2(to_write, forkrun, tmp_path, command, place):
    (tmp_path / "a-file").write_text("")
    where, problem = BAD_FOLDER_PLACES[place]
    path = where(tmp_path, to_write["read_only"])
    rc, out = forkrun(*FOLDER_OUTPUTS[command](to_write), "--runs-dir", path)
    _one_error_line(rc, out, "--runs-dir", path, problem)


def test_a_runs_dir_in_missing_folders_is_created(to_write, forkrun, tmp_path):
    rc, out = forkrun("sweep", "create", to_write["sweep_file"], "--runs-dir", tmp_path / "new" / "sweeps")
    assert rc == 0 and len(list((tmp_path / "new" / "sweeps").iterdir())) == 1, out


def test_result_tables_fit_an_80_column_terminal_without_cutting_a_value(to_write, forkrun, tmp_path):
    """runs, compare, sweep status and evaluate on a terminal 80 columns wide: values whole (none cut
    to an ellipsis), the runs table leaving out its least important columns and saying which."""
    import re
    import shutil

    runs = tmp_path / "runs"
    shutil.copytree(to_write["run"], runs / to_write["run"].name)
    rc, out = forkrun("train", to_write["config"], "--runs-dir", runs, "--name", "a-rather-long-run-name-{cell}", "--quiet")
    assert rc == 0, out
    long = next(p for p in runs.iterdir() if "long" in p.name)
    assert forkrun("evaluate", long)[0] == 0  # test scores: more columns
    screens = {}
    for args in (["runs", runs], ["compare", to_write["run"], long], ["sweep", "status", to_write["sweep"]], ["evaluate", long]):
        notes: list[str] = []
        screen = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", _on_a_terminal(*args, env={}, columns=80, stderr=notes))
        assert "…" not in screen, screen
        assert max(len(line) for line in screen.splitlines() if BOX & set(line)) <= 80, screen  # (a long title wraps as text)
        screens[args[0]] = (screen, notes[0])
    screen, notes = screens["runs"]
    rows = json.loads(run_cli("runs", runs, "--json").stdout)["runs"]
    for row in rows:
        assert row["run"] in screen and row["status"] in screen  # whole
    left_out = re.search(r"note: left out to fit 80 columns: (.*) \(a wider terminal, or --json, shows them\)", notes)
    assert left_out and "run" not in left_out[1].split(", "), notes
    for column in left_out[1].split(", "):
        assert not re.search(rf"┃ {re.escape(column)} +┃", screen)
    assert long.name in screens["compare"][0]


# ---------------------------------------------------------------------------------------------
# --help says what the commands do


def _help_of(*path: str) -> dict[str, str]:
    """A command's help text and each option's, by option name (as `--help` prints them, unwrapped)."""
    import typer

    from rnnexp.cli import app

    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return {"": command.help or "", **{p.opts[0]: p.help or "" for p in command.params if p.opts[0].startswith("-")}}


def test_runs_help_lists_the_columns_the_table_shows(to_write, tmp_path):
    import re
    import shutil

    from rnnexp.report import RUN_COLUMNS

    runs = tmp_path / "runs"
    first, second = runs / "a", runs / "b"
    shutil.copytree(to_write["run"], first)
    shutil.copytree(to_write["run"], second)
    summary = json.loads((second / "summary.json").read_text())
    (second / "summary.json").write_text(json.dumps({**summary, "monitor": "val_accuracy"}))  # the monitor column
    (second / "eval_test.json").write_text(json.dumps({"accuracy": 0.5}))  # a test score column
    header = run_cli("runs", runs).stdout.splitlines()[0].split()
    text = _help_of("runs")[""]
    listed = re.sub(r" \([^)]*\)", "", text.split("columns: ", 1)[1].split(". ", 1)[0]).split(", ")
    assert " ".join(listed).replace("test scores", "test accuracy").split() == header, (listed, header)
    also = re.search(r"also ([^)]*)\)", text)[1].split(", ")
    assert sorted(also) == sorted(set(RUN_COLUMNS) - set(listed))  # what --json and --csv add


def test_device_help_of_each_command_says_whether_the_config_records_it(to_write, forkrun, tmp_path):
    """train and lr-find write the --device into the config.yaml they write; resume, evaluate and
    predict compute there and leave the run's config.yaml as it is. Each --help says which."""
    import shutil

    import yaml

    run = tmp_path / "run"
    shutil.copytree(to_write["run"], run)
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["device"] == "auto"
    recorded = {}
    for command, args, folder in [
        ("train", ["train", to_write["config"], "--runs-dir", tmp_path / "trained"], tmp_path / "trained"),
        ("lr-find", ["lr-find", to_write["config"], "--runs-dir", tmp_path / "lr", "--steps", "100"], tmp_path / "lr"),
        ("resume", ["resume", run, "--epochs", "2"], None),  # rewrites config.yaml (its epochs)
        ("evaluate", ["evaluate", run], None),
        ("predict", ["predict", run, "great taste"], None),
    ]:
        rc, out = forkrun(*args, "--device", "cpu", "--quiet" if command in ("train", "lr-find", "resume") else "--json")
        assert rc == 0, out
        written = next(folder.iterdir()) if folder else run
        recorded[command] = yaml.safe_load((written / "config.yaml").read_text())["train"]["device"] == "cpu"
    assert recorded == {"train": True, "lr-find": True, "resume": False, "evaluate": False, "predict": False}
    for command, records in recorded.items():
        text = _help_of(command)["--device"]
        assert ("config.yaml it writes records it" in text) == records, (command, text)
        assert ("config.yaml is left as it is" in text) == (not records), (command, text)
