from __future__ import annotations

import csv
import errno
import json
import multiprocessing
import os
import re
import shutil
import time
import types
from pathlib import Path

import pytest

from rnnexp.errors import OutputPathError, RunDirError, StorageError
from rnnexp.rundir import STAGE_PREFIX, RunDir, write_text


def test_name_format_and_same_second_uniqueness(tmp_path):
    a = RunDir.create(tmp_path, "exp", now=0)
    b = RunDir.create(tmp_path, "exp", now=0)
    assert a.path.name == "19700101-000000_exp" and b.path.name == "19700101-000000_exp-2"
    assert (a.path / "checkpoints").is_dir()


def _create(args):
    folder, now = args
    return RunDir.create(folder, "same", now=now).path.name


def test_concurrent_processes_get_distinct_folders(tmp_path):
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        names = pool.map(_create, [(tmp_path, 1_700_000_000)] * 8)
    assert len(set(names)) == 8


@pytest.mark.parametrize("name", ["../up", "a/b", ".", ".hidden"])
def test_names_cannot_escape(tmp_path, name):
    with pytest.raises(RunDirError):
        RunDir.create(tmp_path, name)


def test_open_requires_a_run_folder(tmp_path):
    with pytest.raises(RunDirError, match="no such run folder"):
        RunDir.open(tmp_path / "nope")
    with pytest.raises(RunDirError, match="not a run folder"):
        RunDir.open(tmp_path)


def test_metrics_rewrite_keeps_exact_floats_and_blank_missing(tmp_path):
    run = RunDir.create(tmp_path, "m")
    rows = [{"epoch": 1, "train_loss": 0.1 + 0.2, "lr": 1e-3, "seconds": 1.5}]
    run.write_metrics(rows, ["val_accuracy", "val_f1"])
    run.write_metrics(rows, ["val_accuracy", "val_f1"])  # rewriting never duplicates
    with open(run.metrics) as f:
        got = list(csv.DictReader(f))
    assert len(got) == 1 and float(got[0]["train_loss"]) == 0.1 + 0.2 and got[0]["val_loss"] == ""
    assert re.match(r"\d{8}-\d{6}_m", run.path.name)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EFBIG])
def test_a_full_disk_is_a_failed_run_not_bad_input(tmp_path, monkeypatch, code):
    """Whichever small file hits the full disk first, the user gets exit 1 and what to do."""

    def no_room(self, *args, **kwargs):
        raise OSError(code, "No space left on device")

    monkeypatch.setattr(Path, "write_text", no_room)
    expected = r"metrics.csv: cannot write \(No space left on device\)\. Free disk space, then run the command again"
    with pytest.raises(StorageError, match=expected) as info:
        write_text(tmp_path / "metrics.csv", "epoch\n")
    assert info.value.exit_code == 1
    assert list(tmp_path.iterdir()) == []  # no temp file left behind


def test_a_wrong_path_stays_bad_input(tmp_path):
    with pytest.raises(RunDirError, match="cannot write") as info:
        write_text(tmp_path / "missing-folder" / "x.txt", "x")
    assert info.value.exit_code == 2


def _stage_and_publish(args):
    folder, now = args
    staged = RunDir.stage(folder, "same")
    (staged.run.path / "config.yaml").write_text("x")
    return staged.publish(now=now).path.name


def test_staged_folders_published_in_the_same_second_by_many_processes_are_distinct_and_whole(tmp_path):
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        names = pool.map(_stage_and_publish, [(tmp_path, 1_700_000_000)] * 8)
    assert sorted(names) == sorted(["20231114-221320_same"] + [f"20231114-221320_same-{n}" for n in range(2, 9)])
    assert all((tmp_path / n / "config.yaml").read_text() == "x" for n in names)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # nothing left being built


def test_a_stage_left_by_a_dead_setup_is_cleared_once_old_and_unlocked(tmp_path):
    import fcntl
    import os
    import time

    dead = RunDir.stage(tmp_path, "a").run.path  # its process "died": nobody holds its lock
    held = RunDir.stage(tmp_path, "b").run.path
    fd = os.open(held / ".lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # still being built by a live process
    young = RunDir.stage(tmp_path, "c").run.path
    old = time.time() - 3600
    for path in (dead, held):
        os.utime(path, (old, old))
    RunDir.stage(tmp_path, "d").discard()
    os.close(fd)
    assert not dead.exists() and held.exists() and young.exists()


def test_lock_is_exclusive_and_goes_with_release(tmp_path):
    run = RunDir.create(tmp_path, "locked")
    held = run.lock()
    assert run.lock_held()
    with pytest.raises(RunDirError, match="another rnnexp process is training this run"):
        run.lock()
    held.release()
    held.release()  # twice is harmless
    assert not run.lock_held()
    run.lock().release()


def test_the_lock_file_is_readable_by_all_and_writable_by_its_owner_only(tmp_path):
    import os

    run = RunDir.create(tmp_path, "locked")
    old = os.umask(0)  # the mode rnnexp asks for, whatever the user's umask takes off it
    try:
        run.lock().release()
    finally:
        os.umask(old)
    assert (run.path / ".lock").stat().st_mode & 0o777 == 0o644


def test_a_lock_that_cannot_be_created_names_its_path(tmp_path):
    from rnnexp.rundir import RunLock

    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(RunDirError) as e:
        RunLock(tmp_path / "file" / ".lock")
    assert str(e.value) == f"{tmp_path / 'file' / '.lock'}: cannot create (Not a directory)"


def test_metrics_csv_lines_end_in_a_newline_alone(tmp_path):
    run = RunDir.create(tmp_path, "m")
    run.write_metrics([{"epoch": 1, "train_loss": 0.5}, {"epoch": 2, "train_loss": 0.25}], [])
    data = run.metrics.read_bytes()
    assert b"\r" not in data and data.count(b"\n") == 3 and data.endswith(b"\n")


WHOLE = {"status": "completed", "epochs_run": 3}


@pytest.mark.parametrize(
    "text,expected",
    [(None, {}), ("", {}), ('{"status": "runn', {}), ("[1, 2]x", {}), ('{"status": "completed", "epochs_run": 3}', WHOLE)],
)
def test_read_summary_is_empty_until_whole(tmp_path, text, expected):
    run = RunDir.create(tmp_path, "summary")
    if text is not None:
        run.summary.write_text(text)
    assert run.read_summary() == expected


def test_status_strings_are_what_summary_json_holds():
    from rnnexp.rundir import Status

    assert Status.EARLY_STOPPED == "early_stopped" and f"{Status.COMPLETED}" == "completed"
    assert {s for s in Status if s.finished} == {Status.COMPLETED, Status.EARLY_STOPPED}


def _folder(tmp_path, summary: dict | None) -> RunDir:
    run = RunDir(tmp_path / "20260101-000000_run")
    run.path.mkdir()
    run.config.write_text("name: run\n")
    run.meta.write_text("{}")
    if summary is not None:
        run.summary.write_text(json.dumps(summary))
    return run


@pytest.mark.parametrize("summary", [{"status": "running"}, None])
def test_a_running_run_that_no_process_holds_is_stale(tmp_path, summary):
    from rnnexp.rundir import RunLock, Status

    run = _folder(tmp_path, summary)
    assert run.status() == Status.STALE == "stale"  # never locked (no .lock at all)
    lock = RunLock(run.path / ".lock")
    assert run.status() == "running" and run.lock_held()
    lock.release()
    assert run.status() == "stale" and (run.path / ".lock").is_file()  # the kill leaves the file, not the lock


@pytest.mark.parametrize("status", ["completed", "early_stopped", "pruned", "interrupted", "diverged", "failed"])
def test_an_ended_run_keeps_its_status_with_or_without_its_lock(tmp_path, status):
    run = _folder(tmp_path, {"status": status})
    assert run.status() == status
    assert not (run.path / ".lock").exists()  # asking writes nothing in the folder


# -- what the mutation run (make mutation) found unasserted: each message whole -------------------


def test_a_chosen_output_path_is_refused_in_one_line_naming_the_option_the_path_and_what_to_do(tmp_path):
    from rnnexp.errors import OutputPathError
    from rnnexp.rundir import output_file, output_folder

    folder, a_file = tmp_path / "d", tmp_path / "f"
    folder.mkdir()
    a_file.write_text("x")
    cases = [
        (
            lambda: output_file(folder, "--out", "model.onnx"),
            f"--out {folder}: is a folder, not a file; give a file path, e.g. --out {folder / 'model.onnx'}",
        ),
        (
            lambda: output_folder(a_file, "--runs-dir"),
            f"--runs-dir {a_file}: is a file, not a folder; give a folder (it is created when missing)",
        ),
        (
            lambda: output_file(a_file / "sub" / "p.csv", "--predictions", "p.csv"),
            f"--predictions {a_file / 'sub' / 'p.csv'}: {a_file} is a file, not a folder; "
            "give a path in a folder you can write to",
        ),
        (
            lambda: output_folder(a_file / "runs", "--runs-dir"),
            f"--runs-dir {a_file / 'runs'}: {a_file} is a file, not a folder; give a folder you can write to",
        ),
    ]
    for call, message in cases:
        with pytest.raises(OutputPathError) as raised:
            call()
        assert str(raised.value) == message
    assert output_file(tmp_path / "new" / "deeper" / "x.json", "--out", "x.json") == tmp_path / "new" / "deeper" / "x.json"
    assert (tmp_path / "new" / "deeper").is_dir() and not list((tmp_path / "new" / "deeper").iterdir())  # no probe left


def test_a_run_folders_files_read_back_or_say_which_and_why(tmp_path):
    run = RunDir.create(tmp_path, "r")
    run.meta.write_text('{"a": "é"}', encoding="utf-8")
    assert run.read_json(run.meta) == {"a": "é"}
    with pytest.raises(RunDirError) as raised:
        run.read_json(run.path / "eval_test.json")
    assert str(raised.value) == f"{run.path / 'eval_test.json'}: missing from the run folder"
    run.meta.write_text("{not json", encoding="utf-8")
    with pytest.raises(RunDirError) as raised:
        run.read_json(run.meta)
    assert str(raised.value).startswith(f"{run.meta}: unreadable (Expecting property name")
    run.summary.write_text('{"status": "completed", "note": "é"}', encoding="utf-8")
    assert run.read_summary() == {"status": "completed", "note": "é"}
    run.config.write_text("data: {task: text_classification, train_file: x.csv}\nmodel: {cell: nope}\n", encoding="utf-8")
    with pytest.raises(RunDirError) as raised:
        run.load_config()
    assert str(raised.value).startswith(f"{run.config}: the run's saved config is invalid: ")
    assert str(raised.value).startswith(f"{run.config}: the run's saved config is invalid: {run.config}:2: model.cell")


def test_json_files_are_indented_in_the_order_written(tmp_path):
    from rnnexp.rundir import write_json

    write_json(tmp_path / "x.json", {"b": 1, "a": [1, 2]})
    assert (tmp_path / "x.json").read_text() == '{\n  "b": 1,\n  "a": [\n    1,\n    2\n  ]\n}\n'


def test_a_staged_folder_discarded_is_gone_and_a_prefix_and_the_time_name_it(tmp_path):
    import time

    staged = RunDir.stage(tmp_path, "s", prefix="sweep_")
    at = time.mktime((2026, 1, 2, 3, 4, 5, 0, 0, 0)) - time.timezone
    assert staged.intended_name(at) == "sweep_20260102-030405_s"
    (staged.run.path / "sub").mkdir(exist_ok=True)
    (staged.run.path / "sub" / "f").write_text("x")
    staged.discard()
    assert not staged.run.path.exists()
    made = RunDir.create(tmp_path, "t", now=at, prefix="lr_find_")
    assert made.path.name == "lr_find_20260102-030405_t"


def test_a_run_folder_written_before_optimizer_defaults_reads_as_torch(tmp_path):
    run = RunDir.create(tmp_path, "old")
    run.config.write_text("data: {task: text_classification, train_file: x.csv}\ntrain: {optimizer: rmsprop}\n", encoding="utf-8")
    assert run.load_config().train.optimizer_defaults == "torch"
    run.config.write_text("data: {task: text_classification, train_file: x.csv}\ntrain: {optimizer_defaults: keras}\n")
    assert run.load_config().train.optimizer_defaults == "keras"


def test_metrics_csv_columns_frame_the_tasks_own():
    """The header every metrics.csv has (docs: reference/run-folder.md), written out by hand."""
    from rnnexp.rundir import metric_columns

    assert metric_columns(["val_accuracy", "val_f1"]) == [
        "epoch",
        "train_loss",
        "val_loss",
        "val_accuracy",
        "val_f1",
        "lr",
        "seconds",
    ]
    assert metric_columns([]) == ["epoch", "train_loss", "val_loss", "lr", "seconds"]


def test_a_lock_that_cannot_be_opened_counts_as_held(tmp_path):
    """A .lock that exists but cannot be opened (here a symlink to itself: ELOOP, which root meets
    too) is held, hands off; a missing one never was; a dangling link is a missing one."""
    from rnnexp.rundir import LOCK_FILE, lock_held

    loop, missing, dangling = (tmp_path / n for n in ("loop", "missing", "dangling"))
    for folder in (loop, missing, dangling):
        folder.mkdir()
    (loop / LOCK_FILE).symlink_to(LOCK_FILE)
    (dangling / LOCK_FILE).symlink_to(tmp_path / "nowhere")
    assert lock_held(loop) is True
    assert lock_held(missing) is False and lock_held(dangling) is False


def test_a_file_error_without_its_text_still_says_what_failed(tmp_path):
    """cannot(): an OSError the OS gave no text is named by the error itself (its number), both for
    a full disk (a StorageError) and for anything else (a RunDirError)."""
    from rnnexp.rundir import cannot

    full = cannot(tmp_path / "f", "write f", OSError(errno.ENOSPC, ""))
    assert isinstance(full, StorageError) and f"cannot write f ([Errno {errno.ENOSPC}]" in str(full), str(full)
    odd = cannot(tmp_path / "f", "write f", OSError("the device went away"))
    assert isinstance(odd, RunDirError) and str(odd) == f"{tmp_path / 'f'}: cannot write f (the device went away)"


def test_discarding_a_staged_folder_that_is_already_gone_is_quiet(tmp_path):
    """A setup that failed discards its hidden folder; if something removed it first (a cleanup of
    stale stages, a user), discarding is still no error."""
    import shutil

    staged = RunDir.stage(tmp_path, "gone")
    assert staged.run.path.is_dir()
    shutil.rmtree(staged.run.path)
    staged.discard()
    staged.discard()
    assert list(tmp_path.iterdir()) == []


def test_a_run_folder_that_cannot_be_put_in_place_names_the_place(tmp_path):
    import shutil

    staged = RunDir.stage(tmp_path, "a")
    shutil.rmtree(staged.run.path)  # the folder built aside is gone: the rename fails, and not because the name is taken
    with pytest.raises(RunDirError) as e:
        staged.publish(now=0)
    assert str(e.value) == f"{tmp_path / '19700101-000000_a'}: cannot create the run folder (No such file or directory)"


def test_a_name_taken_at_every_suffix_is_refused_naming_the_runs_folder(tmp_path, monkeypatch):
    import rnnexp.rundir as rundir

    taken = tmp_path / "taken"
    (taken / "x").mkdir(parents=True)  # not empty: a rename onto it fails
    monkeypatch.setattr(rundir, "_candidates", lambda *args: iter([taken, taken]))
    staged = RunDir.stage(tmp_path, "a")
    with pytest.raises(RunDirError) as e:
        staged.publish()
    assert str(e.value) == f"{tmp_path}: too many runs named 'a' in one second"


def test_a_run_name_has_9999_candidates_the_first_without_a_number():
    from rnnexp.rundir import _candidates

    names = [p.name for p in _candidates(Path("/runs"), "lstm", 0.0, "")]
    assert names[:3] == ["19700101-000000_lstm", "19700101-000000_lstm-2", "19700101-000000_lstm-3"]
    assert len(names) == 9_999 and names[-1] == "19700101-000000_lstm-9999"
    assert next(_candidates(Path("/runs"), "t", 86_400 + 3_661.5, "trial_")) == Path("/runs/trial_19700102-010101_t")


@pytest.mark.parametrize("name", ["a/b", "a\\b", "/abs", ".", "..", ".hidden", "../up"])
def test_a_run_name_that_is_no_plain_folder_name_is_refused_before_any_folder_is_made(tmp_path, name):
    with pytest.raises(RunDirError) as e:
        RunDir.stage(tmp_path / "runs", name)
    assert str(e.value) == f"run name {name!r} must be a plain folder name (letters, digits, . _ -)"
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("name", ["a.b", "x..y", "lstm-2_b", "trailing."])
def test_a_run_name_with_dots_inside_is_a_plain_folder_name(tmp_path, name):
    assert RunDir.create(tmp_path, name, now=0.0).path.name == f"19700101-000000_{name}"


def test_a_runs_folder_that_is_a_file_or_cannot_be_made_names_the_runs_dir_option(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputPathError) as e:
        RunDir.stage(tmp_path / "file", "a")
    assert str(e.value) == f"--runs-dir {tmp_path / 'file'}: is a file, not a folder; give a folder (it is created when missing)"
    with pytest.raises(OutputPathError) as e:
        RunDir.stage(tmp_path / "file" / "runs", "a")
    assert str(e.value).startswith(f"--runs-dir {tmp_path / 'file' / 'runs'}: {tmp_path / 'file'} is a file, not a folder")
    # a relative runs folder is made absolute: the path a script is given works from any directory
    monkeypatch.chdir(tmp_path)
    assert RunDir.create("runs", "a", now=0.0).path == tmp_path / "runs" / "19700101-000000_a"


@pytest.mark.parametrize(
    "error, raised, message",
    [
        (OSError(errno.ENOSPC, "No space left on device"), StorageError,
         "{runs}: cannot create the folder (No space left on device). Free disk space, then run the command again"),
        (PermissionError(errno.EACCES, "Permission denied"), OutputPathError,
         "--runs-dir {runs}: cannot create the folder {runs} (Permission denied); give a folder you can write to"),
    ],
)  # fmt: skip
def test_a_runs_folder_that_cannot_be_created_says_why_and_what_to_do(tmp_path, monkeypatch, error, raised, message):
    """A full disk is a storage error (free space, run again); any other refusal is a bad --runs-dir."""

    def refused(self, *args, **kwargs):
        raise error

    monkeypatch.setattr(Path, "mkdir", refused)
    with pytest.raises(raised) as e:
        RunDir.stage(tmp_path / "runs", "a")
    assert str(e.value) == message.format(runs=tmp_path / "runs")


def _stage(runs: Path, name: str, seconds_old: float, now: float) -> Path:
    path = runs / f"{STAGE_PREFIX}{name}"
    path.mkdir(parents=True)
    (path / "config.yaml").write_text("x")
    os.utime(path, (now - seconds_old, now - seconds_old))
    return path


def test_stale_staged_folders_are_cleared_from_ten_minutes_old_when_no_process_holds_them(tmp_path, monkeypatch):
    import rnnexp.rundir as rundir

    now = 1_800_000_000.0
    monkeypatch.setattr(rundir, "time", types.SimpleNamespace(time=lambda: now))
    young, exactly, old = (
        _stage(tmp_path, "young", 599.5, now),
        _stage(tmp_path, "ten", 600, now),
        _stage(tmp_path, "old", 601, now),
    )
    held = _stage(tmp_path, "held", 3600, now)
    monkeypatch.setattr(rundir, "lock_held", lambda folder: folder == held)
    run = tmp_path / "19700101-000000_a"
    run.mkdir()
    os.utime(run, (now - 3600, now - 3600))  # a published run, however old, is no stage
    rundir._clear_stale_stages(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([young.name, held.name, run.name])
    assert not exactly.exists() and not old.exists()
    shutil.rmtree(young)
    recent = _stage(tmp_path, "recent", 150, now)
    rundir._clear_stale_stages(tmp_path, age=200)
    assert recent.exists()
    rundir._clear_stale_stages(tmp_path, age=150)
    assert not recent.exists()


def test_clearing_stages_goes_on_past_one_that_vanished_or_that_another_process_removed_first(tmp_path, monkeypatch):
    import rnnexp.rundir as rundir

    now = time.time()
    gone = tmp_path / f"{STAGE_PREFIX}gone"  # listed, then removed before it was looked at
    first, second = _stage(tmp_path, "first", 3600, now), _stage(tmp_path, "second", 3600, now)
    listing = types.SimpleNamespace(iterdir=lambda: [gone, first, second])

    def removed_meanwhile(folder: Path) -> bool:  # another process starting a run cleared it between the two looks
        shutil.rmtree(folder)
        return False

    monkeypatch.setattr(rundir, "lock_held", lambda folder: folder == first and removed_meanwhile(folder))
    rundir._clear_stale_stages(listing)  # no error: each is gone
    assert not first.exists() and not second.exists()
    rundir._clear_stale_stages(tmp_path / "missing")  # a runs folder that is not there: nothing to clear


@pytest.mark.parametrize("kind", ["folder", "file"])
def test_a_folder_no_file_can_be_created_in_is_refused_naming_the_option_and_a_full_one_is_a_storage_error(
    tmp_path, monkeypatch, kind
):
    import rnnexp.rundir as rundir

    real_open, probes, fail = os.open, [], {}

    def probing(path, flags, mode=0o777, *args, **kwargs):
        if ".rnnexp-probe-" in str(path):
            probes.append((Path(path), flags, mode))
            if fail:
                raise OSError(fail["errno"], fail["text"])
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(rundir.os, "open", probing)
    folder = tmp_path / "out"
    check = (
        (lambda: rundir.output_folder(folder, "--runs-dir"))
        if kind == "folder"
        else (lambda: rundir.output_file(folder / "p.csv", "--predictions", "p.csv"))
    )
    given = folder if kind == "folder" else folder / "p.csv"
    assert check() == given
    # the probe: a hidden file of this process, only its owner's, created anew, then gone
    [(probe, flags, mode)] = probes
    assert probe.parent == folder and re.fullmatch(rf"\.rnnexp-probe-{os.getpid()}-[0-9a-f]{{8}}", probe.name)
    assert flags & os.O_CREAT and flags & os.O_EXCL and mode == 0o600 and not probe.exists()
    assert list(folder.iterdir()) == []
    fail.update(errno=errno.EROFS, text="Read-only file system")
    with pytest.raises(OutputPathError) as e:
        check()
    option, todo = ("--runs-dir", "give a folder you can write to") if kind == "folder" else (
        "--predictions", "give a path in a folder you can write to"
    )  # fmt: skip
    assert str(e.value) == f"{option} {given}: cannot write in {folder} (Read-only file system); {todo}"
    fail.update(errno=errno.ENOSPC, text="No space left on device")
    with pytest.raises(StorageError) as e:
        check()
    assert str(e.value) == f"{given}: cannot write (No space left on device). Free disk space, then run the command again"


def test_a_staged_folder_is_hidden_named_by_its_process_and_holds_checkpoints_unless_told(tmp_path):
    staged = RunDir.stage(tmp_path, "a")
    assert re.fullmatch(rf"{re.escape(STAGE_PREFIX)}{os.getpid()}-[0-9a-f]{{12}}", staged.run.path.name)
    assert [p.name for p in staged.run.path.iterdir()] == ["checkpoints"]
    assert list(RunDir.stage(tmp_path, "b", checkpoints=False).run.path.iterdir()) == []


@pytest.mark.parametrize("refused", ["checkpoints", STAGE_PREFIX])
def test_a_staged_folder_that_cannot_be_built_is_removed_and_named(tmp_path, monkeypatch, refused):
    mkdir = Path.mkdir

    def refusing(self, *args, **kwargs):  # the staged folder itself, or its checkpoints folder inside
        if self.name.startswith(refused):
            raise PermissionError(errno.EACCES, "Permission denied")
        return mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", refusing)
    with pytest.raises(RunDirError) as e:
        RunDir.stage(tmp_path, "a")
    assert re.fullmatch(
        rf"{re.escape(str(tmp_path))}/\.staging-\d+-[0-9a-f]{{12}}: cannot create the run folder \(Permission denied\)",
        str(e.value),
    )
    assert list(tmp_path.iterdir()) == []  # the half-built folder is gone


def test_metrics_read_back_as_floats_with_none_for_an_empty_or_missing_value(tmp_path):
    run = RunDir.create(tmp_path, "a", now=0.0)
    assert run.read_metrics() == []
    run.metrics.write_text("epoch,train_loss,val_loss\n1,0.5,\n2,0.25\n", encoding="utf-8")
    assert run.read_metrics() == [
        {"epoch": 1.0, "train_loss": 0.5, "val_loss": None},
        {"epoch": 2.0, "train_loss": 0.25, "val_loss": None},
    ]
