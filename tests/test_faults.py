"""Trust under faults. A run killed outright (SIGKILL) at *every* point where its files change, the
points listed by the run itself (RNNEXP_FAULT_TRACE), then resumed, ends bit-identical to a run never
stopped, or (killed while its folder was still being built) leaves no folder at all: for a run that
early-stops with a plateau lr schedule, for the start of a resume, for an extension with --epochs,
and for a sweep trial the pruner pauses (tests/test_sweep.py). Also: 20 kills in one run at seeded
random points; a disk that fills up (or a file-size limit) mid-run costs one clear error and
nothing else; four trainings started together get four folders."""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from test_resume_exact import KILLED, reference, train, visible, write_tiny  # noqa: F401  (fixture used by name)

from conftest import assert_same_run, fill_disk, tmpfs

EPOCHS, BATCHES = 3, 12  # the tiny reference run: 192 training examples in batches of 16

# Early-stops after epoch 3 (no epoch after the first beats it by min_delta 10); the plateau schedule
# halves the lr after epoch 2 (val_accuracy does not rise); two batches an epoch.
EARLY_STOPPING = {
    "epochs": 6,
    "batch_size": 96,
    "lr": 0.05,
    "early_stopping": {"enabled": True, "patience": 2, "min_delta": 10.0},
    "lr_schedule": {"kind": "plateau", "patience": 1, "gamma": 0.5, "monitor": "val_accuracy"},
}


def trace_of(forkrun, tmp_path: Path, *args) -> list[str]:
    """The fault points one uninterrupted command passes, in order."""
    trace = tmp_path / f"trace-{len(list(tmp_path.glob('trace-*')))}"
    rc, out = forkrun(*args, env={"RNNEXP_FAULT_TRACE": str(trace)})
    assert rc == 0, out
    points = trace.read_text().split()
    assert len(points) == len(set(points)), points  # each point is met once: a kill there is one instant
    return points


@pytest.fixture(scope="module")
def early_stopped(tmp_path_factory, tiny_data, forkrun):
    folder = tmp_path_factory.mktemp("early")
    config = write_tiny(folder, tiny_data, **EARLY_STOPPING)
    points = trace_of(forkrun, folder, "train", config, "--runs-dir", folder / "ref", "--quiet")
    (ref,) = visible(folder / "ref")
    summary = json.loads((ref / "summary.json").read_text())
    assert (summary["status"], summary["epochs_run"]) == ("early_stopped", 3)
    lrs = [float(r.split(",")[-2]) for r in (ref / "metrics.csv").read_text().splitlines()[1:]]
    assert lrs == [0.05, 0.05, 0.025]  # the plateau schedule acted, so its state had to survive too
    return config, ref, points


@pytest.mark.slow
def test_a_kill_at_every_fault_point_of_an_early_stopping_run(early_stopped, tmp_path, forkrun):
    config, ref, points = early_stopped
    kinds = {p.split(":")[0] for p in points}
    assert kinds == {"setup", "batch", "write", "saved", "epoch", "metrics", "summary", "end"}, points
    assert len(points) == 29, points  # as docs/explanation/faults.md says

    def case(run_cli, point: str) -> None:
        rc, out, run = train(run_cli, config, tmp_path / point.replace(":", "-"), point)
        assert rc == KILLED, (point, rc, out)
        if point in ("setup:data", "setup:model", "setup:files"):  # nothing in place yet: no run folder
            assert run is None, point
            return
        rc, out = run_cli("resume", run, "--quiet")
        # Killed after the final summary: the run was over, and resume says so.
        assert rc == (2 if point == "end:summary" else 0), (point, out)
        assert_same_run(ref, run)
        assert (run / "curves.png").is_file(), point

    forkrun.each(case, points)


@pytest.mark.slow
def test_a_kill_at_every_point_of_a_resume_start(reference, tmp_path, forkrun):  # noqa: F811
    """One run stopped in epoch 2, then resumes killed at each point of their start-up in turn."""
    config, ref_run = reference
    rc, _, run = train(forkrun, config, tmp_path / "runs", "batch:2:4")
    assert rc == KILLED
    probe = shutil.copytree(run, tmp_path / "probe")
    points = [p for p in trace_of(forkrun, tmp_path, "resume", probe, "-q") if p.startswith("resume:")]
    assert points == ["resume:checked", "resume:metrics", "resume:meta", "resume:done"]
    for point in points:
        assert forkrun("resume", run, "--quiet", env={"RNNEXP_FAULT": point})[0] == KILLED, point
    rc, out = forkrun("resume", run, "--quiet")
    assert rc == 0, out
    assert_same_run(ref_run, run)


@pytest.mark.slow
def test_a_kill_at_every_point_of_an_extension(early_stopped, tmp_path, forkrun):
    """`resume --epochs 4` of the early-stopped run, killed at each of its points; a plain `resume`
    then goes on to 4 epochs (or, killed before anything was written, says the run is finished)."""
    _, ref, _ = early_stopped
    pristine = shutil.copytree(ref, tmp_path / "pristine")
    extended = shutil.copytree(pristine, tmp_path / "extended")
    points = trace_of(forkrun, tmp_path, "resume", extended, "--epochs", "4", "--quiet")
    assert json.loads((extended / "summary.json").read_text())["epochs_run"] == 4
    assert {p.split(":")[0] for p in points} >= {"resume", "batch", "epoch", "metrics", "end"}
    assert len(points) == 12, points  # as docs/explanation/faults.md says

    def case(run_cli, point: str) -> None:
        run = shutil.copytree(pristine, tmp_path / point.replace(":", "-"))
        assert run_cli("resume", run, "--epochs", "4", "--quiet", env={"RNNEXP_FAULT": point})[0] == KILLED, point
        rc, out = run_cli("resume", run, "--quiet")
        if point == "resume:checked":  # nothing written yet: still the early-stopped run
            assert rc == 2 and "already finished" in out, out
            rc, out = run_cli("resume", run, "--epochs", "4", "--quiet")
        assert rc == (2 if point == "end:summary" else 0), (point, out)
        assert_same_run(extended, run)

    forkrun.each(case, points)


def _fault_points(count: int, seed: int) -> list[str]:
    """`count` distinct crash points in the order a run meets them: mid-batch, inside the write of
    last.pt, and at the epoch boundary after it (checkpoint written, metrics.csv not yet)."""
    timeline = []
    for epoch in range(1, EPOCHS + 1):
        timeline += [f"batch:{epoch}:{b}" for b in range(1, BATCHES + 1)]
        timeline += [f"write:last:{epoch}", f"saved:last:{epoch}", f"epoch:{epoch}", f"metrics:{epoch}"]
    chosen = sorted(random.Random(seed).sample(range(len(timeline)), count))
    return [timeline[i] for i in chosen]


@pytest.mark.slow
def test_twenty_sigkills_at_random_points_then_bit_identical(reference, tmp_path, forkrun):  # noqa: F811
    config, ref_run = reference
    points = _fault_points(20, seed=2026)
    assert {p.split(":")[0] for p in points} >= {"batch", "write", "epoch"}
    rc, _, run = train(forkrun, config, tmp_path / "runs", points[0])
    killed = [rc == KILLED]
    for point in points[1:]:
        # Each resume starts from the last checkpoint on disk, behind the next crash point.
        rc, out = forkrun("resume", run, "--quiet", env={"RNNEXP_FAULT": point})
        killed.append(rc == KILLED)
        assert killed[-1], (point, rc, out[-500:])
    assert sum(killed) == 20
    rc, out = forkrun("resume", run, "--quiet")
    assert rc == 0, out
    assert_same_run(ref_run, run)
    assert len(json.loads((run / "meta.json").read_text())["resumes"]) == 20


# A disk slow enough that the writer thread is still busy with an epoch's checkpoints when the
# training thread reaches the next points: the instants where a kill's outcome would race the writer.
SLOW_DISK = """
import sys, time
from rnnexp import checkpoint, cli
write = checkpoint.write_bytes
def slow(*args):
    time.sleep(0.6)
    return write(*args)
checkpoint.write_bytes = slow
sys.argv = ["rnnexp", *sys.argv[1:]]
cli.main()
"""


@pytest.mark.parametrize("point", ["metrics:1", "summary:1", "batch:2:1", "batch:2:12", "metrics:2"])
def test_a_kill_after_a_hand_off_finds_that_checkpoint_on_disk_however_slow_the_disk(reference, tmp_path, point):  # noqa: F811
    """A point on the training thread met after an epoch's checkpoints went to the writer: the kill
    there finds them written (the writer is drained first), so the outcome of a kill at a point is
    one state, not a race. The kills inside the write are write:/saved:."""
    config, _ = reference
    runs = tmp_path / "runs"
    args = ["train", str(config), "--runs-dir", str(runs), "--quiet"]
    env = {**os.environ, "RNNEXP_FAULT": point}
    proc = subprocess.run([sys.executable, "-c", SLOW_DISK, *args], env=env, capture_output=True)
    assert proc.returncode == KILLED, proc.stderr[-800:]
    (run,) = visible(runs)
    epoch = int(point.split(":")[1]) - (1 if point.startswith("batch") else 0)
    last = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert (last["epoch"], last["batch"]) == (epoch, 0), point
    assert torch.load(run / "checkpoints" / "best.pt", weights_only=True)["epoch"] <= epoch


def _limited_fsize(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_file_size_limit_mid_run_is_one_clear_error_and_resumable(reference, tmp_path, forkrun):  # noqa: F811
    """A write that the OS refuses (here RLIMIT_FSIZE, as ulimit -f sets it) in epoch 2: exit 1 with
    one line naming the checkpoint and the command that continues, last.pt still epoch 1, and the
    resumed run ends identical."""
    config, ref_run = reference
    rc, out, run = train(forkrun, config, tmp_path / "runs", None, "--set", "train.epochs=1")
    assert rc == 0, out
    size = (run / "checkpoints" / "last.pt").stat().st_size
    limited = subprocess.run(
        [sys.executable, "-m", "rnnexp", "resume", str(run), "--epochs", "3", "--quiet"],
        capture_output=True,
        text=True,
        preexec_fn=_limited_fsize(size // 2),  # small files (metrics, summary) fit; checkpoints do not
    )
    assert limited.returncode == 1, limited.stderr
    lines = limited.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot write checkpoint (File too large)" in lines[0] and "last.pt" in lines[0], lines
    assert lines[0].endswith(f"Free disk space, then rnnexp resume {run}"), lines
    assert "Traceback" not in limited.stderr
    assert torch.load(run / "checkpoints" / "last.pt", weights_only=True)["epoch"] == 1
    assert json.loads((run / "summary.json").read_text())["status"] == "failed"
    rc, out = forkrun("resume", run, "--quiet")  # config.yaml asks for 3 epochs: the extension goes on
    assert rc == 0, out
    assert_same_run(ref_run, run)


@pytest.fixture
def small_disk(tmp_path):
    """A real 8 MB file system (tmpfs; needs root), unmounted afterwards."""
    with tmpfs(tmp_path / "small-disk", "8m", "the file-size-limit tests cover the path") as mount:
        yield mount


def test_full_disk_mid_run_is_one_clear_error_and_resumable(reference, tmp_path, small_disk, forkrun):  # noqa: F811
    """A real full disk: the run folder on a small tmpfs, filled up after epoch 1."""
    config, ref_run = reference
    rc, out, run = train(forkrun, config, small_disk / "runs", None, "--set", "train.epochs=1")
    assert rc == 0, out
    filler = fill_disk(small_disk, leave=(run / "checkpoints" / "last.pt").stat().st_size // 3)
    rc, out = forkrun("resume", run, "--epochs", "3", "--quiet")
    assert rc == 1, out
    lines = out.strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0] and lines[0].endswith(f"then rnnexp resume {run}"), lines
    assert torch.load(run / "checkpoints" / "last.pt", weights_only=True)["epoch"] == 1
    filler.unlink()
    rc, out = forkrun("resume", run, "--quiet")
    assert rc == 0, out
    assert_same_run(ref_run, run)


@pytest.mark.parametrize("leave", [0, 2_000, 20_000])
def test_full_disk_at_start_up_leaves_no_folder_and_says_so(tiny_data, tmp_path, small_disk, forkrun, leave):
    """Whichever file of the setup meets the full disk, the run folder is not there, and the message
    promises nothing else: free space, train again."""
    config = write_tiny(tmp_path, tiny_data)
    (small_disk / "runs").mkdir()
    filler = fill_disk(small_disk, leave)
    rc, out = forkrun("train", config, "--runs-dir", small_disk / "runs", "--quiet")
    assert rc == 1, out
    lines = out.strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0], lines
    assert lines[0].endswith("Free disk space, then train again (nothing of this run was kept)"), lines
    assert os.listdir(small_disk / "runs") == []  # not even the folder it was building
    filler.unlink()
    rc, out, run = train(forkrun, config, small_disk / "runs")
    assert rc == 0, out


TOGETHER = """
import os, sys, time
from rnnexp.cli import main  # imported once, before the forks: the children start in milliseconds

# One instant for all four (the clock that names run folders reads this second): their first
# choice of name is the same, so the race for it always happens, whatever the machine's speed.
_gmtime = time.gmtime
time.gmtime = lambda secs=None: _gmtime(1_800_000_000 if secs is None else secs)

config, runs, outs = sys.argv[1], sys.argv[2], sys.argv[3:]
gate, release = os.pipe()
children = []
for out in outs:
    pid = os.fork()
    if pid == 0:
        os.close(release)
        os.read(gate, 1)  # every child waits here until the parent closes the pipe: one instant
        os.dup2(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 1)
        os.dup2(os.open(out + ".err", os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
        sys.argv = ["rnnexp", "train", config, "--runs-dir", runs, "--json", "--quiet"]
        try:
            main()
        except SystemExit as e:
            os._exit(e.code if isinstance(e.code, int) else 1)
        os._exit(0)
    children.append(pid)
os.close(gate)
os.close(release)
sys.exit(max(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0 for pid in children))
"""


def test_four_trainings_started_together_get_four_folders(write_config, tmp_path):
    """Four trainings released at one instant (forked after the imports, held at a pipe) on a clock
    stopped at one second: they all ask for the same folder name, and each gets its own, whole:
    the name, then -2, -3 and -4 as the others find it taken."""
    config = write_config(train={"epochs": 1, "threads": 1})
    runs, outs = tmp_path / "runs", [tmp_path / f"out{i}" for i in range(4)]
    done = subprocess.run([sys.executable, "-c", TOGETHER, config, runs, *outs], capture_output=True, text=True, timeout=300)
    errs = [Path(f"{o}.err") for o in outs]
    assert done.returncode == 0, [e.read_text()[-300:] for e in errs if e.exists()] + [done.stderr[-300:]]
    folders = [json.loads(o.read_text())["run_dir"] for o in outs]
    assert len(set(folders)) == 4 and sorted(os.listdir(runs)) == sorted(Path(f).name for f in folders)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(1_800_000_000))
    assert sorted(Path(f).name for f in folders) == [f"{stamp}_tiny", f"{stamp}_tiny-2", f"{stamp}_tiny-3", f"{stamp}_tiny-4"]
    assert all((Path(f) / "checkpoints" / "last.pt").is_file() for f in folders)


def _flip(path: Path, at: float, bit: int = 0x10) -> None:
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= bit
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("at", [0.3, 0.6, 0.9])
def test_a_flipped_bit_in_a_checkpoint_is_never_used(reference, tmp_path, forkrun, at):  # noqa: F811
    """evaluate refuses a damaged best.pt in one line naming it (no score of other weights); resume
    of a run whose last.pt is damaged says so, goes on from last.prev.pt, and still ends identical."""
    config, ref_run = reference
    done = shutil.copytree(ref_run, tmp_path / "done")
    _flip(done / "checkpoints" / "best.pt", at)
    rc, out = forkrun("evaluate", done)
    (line,) = out.strip().splitlines()
    assert rc == 1 and line.startswith(f"error: {done / 'checkpoints' / 'best.pt'}: "), out
    assert "checksum mismatch" in line or "not a readable checkpoint" in line, out
    rc, out, run = train(forkrun, config, tmp_path / "runs", "saved:last:2")  # last.pt and last.prev.pt on disk
    assert rc == KILLED
    _flip(run / "checkpoints" / "last.pt", at)
    rc, out = forkrun("resume", run)
    assert rc == 0, out
    assert "last.pt" in out and "using the previous checkpoint last.prev.pt instead" in out, out
    assert_same_run(ref_run, run)


def test_a_resume_from_the_previous_checkpoint_says_so_in_its_result_and_meta_json_even_when_quiet(
    reference,  # noqa: F811
    tmp_path,
    forkrun,
):
    """last.pt damaged: resume goes on from last.prev.pt, a checkpoint earlier. --json's result and
    meta.json's resume entry say so (quiet or not); stderr says so unless --quiet, which prints only
    the result."""
    config, ref_run = reference
    rc, out, killed = train(forkrun, config, tmp_path / "runs", "saved:last:2")  # last.pt and last.prev.pt on disk
    assert rc == KILLED
    _flip(killed / "checkpoints" / "last.pt", 0.6)
    runs = {how: shutil.copytree(killed, tmp_path / how) for how in ("json", "quiet", "loud")}
    previous = torch.load(killed / "checkpoints" / "last.prev.pt", weights_only=True)
    expected = {"used": "checkpoints/last.prev.pt", "epoch": previous["epoch"], "batch": previous["batch"]}

    rc, out = forkrun("resume", runs["json"], "--quiet", "--json")
    assert rc == 0 and len(out.splitlines()) == 1, out  # the result only
    fallback = json.loads(out)["checkpoint_fallback"]
    assert {k: fallback[k] for k in expected} == expected and "last.pt" in fallback["why"], fallback
    [entry] = json.loads((runs["json"] / "meta.json").read_text())["resumes"]
    assert entry["checkpoint_fallback"] == fallback
    assert_same_run(ref_run, runs["json"])

    rc, out = forkrun("resume", runs["quiet"], "--quiet")
    assert rc == 0 and len(out.splitlines()) == 1 and "completed" in out, out  # the result line only
    same = lambda run: {**fallback, "why": fallback["why"].replace(str(runs["json"]), str(run))}  # noqa: E731
    assert json.loads((runs["quiet"] / "meta.json").read_text())["resumes"][0]["checkpoint_fallback"] == same(runs["quiet"])

    rc, out = forkrun("resume", runs["loud"])
    warned = [line for line in out.splitlines() if "using the previous checkpoint last.prev.pt instead" in line]
    assert rc == 0 and len(warned) == 1 and "the work saved after it is trained again" in warned[0], out
    assert json.loads((runs["loud"] / "meta.json").read_text())["resumes"][0]["checkpoint_fallback"] == same(runs["loud"])
    rc, out = forkrun("resume", runs["loud"], "--epochs", "4", "--json", "--quiet")  # a later resume, from last.pt
    assert rc == 0 and json.loads(out)["checkpoint_fallback"] is None, out
    assert json.loads((runs["loud"] / "meta.json").read_text())["resumes"][1]["checkpoint_fallback"] is None


def test_another_runs_checkpoint_is_refused(reference, tmp_path, forkrun):  # noqa: F811
    config, ref_run = reference
    rc, out, other = train(forkrun, config, tmp_path / "other", "saved:last:2")  # the same config: same shapes
    rc, out, run = train(forkrun, config, tmp_path / "runs", "saved:last:2")
    for name in ("last.pt", "last.prev.pt"):
        shutil.copy(other / "checkpoints" / name, run / "checkpoints" / name)
    rc, out = forkrun("resume", run)
    assert rc == 1 and "belongs to another run" in out and len(out.strip().splitlines()) == 1, out
