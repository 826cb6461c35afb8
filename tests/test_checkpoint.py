from __future__ import annotations

import os
import pickle
import random

import pytest
import torch

from rnnexp import checkpoint
from rnnexp.errors import CheckpointError, StorageError


def test_roundtrip_plain_dict_and_previous_kept(tmp_path):
    path = tmp_path / "ck" / "last.pt"
    checkpoint.save({"epoch": 1, "w": torch.ones(2)}, path)
    checkpoint.save({"epoch": 2, "w": torch.zeros(2)}, path)
    assert checkpoint.load(path)["epoch"] == 2
    assert checkpoint.load(checkpoint.previous_path(path))["epoch"] == 1
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.prev.pt", "last.pt"]  # no temp files left


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_checkpoint_is_one_line_error_and_fallback_uses_previous(tmp_path, damage):
    path = tmp_path / "last.pt"
    checkpoint.save({"epoch": 1}, path)
    checkpoint.save({"epoch": 2}, path)
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": os.urandom(500), "empty": b""}[damage])
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(path)
    assert "\n" not in str(info.value) and "last.pt: not a readable checkpoint" in str(info.value)
    state, warning = checkpoint.load_with_fallback(path)
    assert state["epoch"] == 1 and "using the previous checkpoint last.prev.pt" in warning


class Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_malicious_pickle_is_refused_and_never_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "last.pt"
    with open(path, "wb") as f:
        pickle.dump({"format": checkpoint.FORMAT, "version": 1, "x": Evil()}, f)
    torch.save({"format": checkpoint.FORMAT, "version": 1, "x": Evil()}, tmp_path / "evil2.pt")
    for p in (path, tmp_path / "evil2.pt"):
        with pytest.raises(CheckpointError, match="not a readable checkpoint"):
            checkpoint.load(p)
    assert not (tmp_path / "pwned").exists()


def test_foreign_file_and_missing(tmp_path):
    torch.save({"a": 1}, tmp_path / "x.pt")
    with pytest.raises(CheckpointError, match="not an rnnexp checkpoint"):
        checkpoint.load(tmp_path / "x.pt")
    with pytest.raises(CheckpointError, match="not found"):
        checkpoint.load(tmp_path / "nope.pt")


def test_unwritable_folder_leaves_previous_intact(tmp_path):
    """A folder the process may not write: read-only by its permissions, or (root ignores those) a
    file system mounted read-only."""
    import subprocess

    from conftest import tmpfs

    def check(folder) -> None:
        path = folder / "last.pt"
        with pytest.raises(CheckpointError, match="cannot write checkpoint"):
            checkpoint.save({"epoch": 2}, path)
        assert checkpoint.load(path)["epoch"] == 1

    if os.geteuid() != 0:
        checkpoint.save({"epoch": 1}, tmp_path / "last.pt")
        tmp_path.chmod(0o500)
        try:
            check(tmp_path)
        finally:
            tmp_path.chmod(0o700)
        return
    with tmpfs(tmp_path / "ro", "1m", "root ignores directory permissions") as folder:
        checkpoint.save({"epoch": 1}, folder / "last.pt")
        remounted = subprocess.run(["mount", "-o", "remount,ro", str(folder)], capture_output=True, text=True)
        assert remounted.returncode == 0, remounted.stderr
        check(folder)


def test_write_failure_midway_leaves_previous_intact(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    checkpoint.save({"epoch": 1}, path)

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(StorageError, match=r"No space left on device\)\. Free disk space"):
        checkpoint.save({"epoch": 2}, path)
    monkeypatch.undo()
    assert checkpoint.load(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_background_writer_keeps_order_snapshots_and_reports_errors(tmp_path, monkeypatch):
    writer = checkpoint.BackgroundWriter()
    weights = torch.zeros(3)
    writer.submit({"epoch": 1, "w": weights}, tmp_path / "last.pt")
    weights += 5  # training goes on: the submitted checkpoint must hold the values at submission
    writer.submit({"epoch": 2, "w": weights}, tmp_path / "last.pt")
    writer.wait()
    assert checkpoint.load(tmp_path / "last.pt")["epoch"] == 2
    first = checkpoint.load(checkpoint.previous_path(tmp_path / "last.pt"))
    assert first["epoch"] == 1 and torch.equal(first["w"], torch.zeros(3))
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    writer.submit({"epoch": 3}, tmp_path / "last.pt")
    with pytest.raises(StorageError, match="No space left on device"):
        writer.wait()
    writer.close()
    monkeypatch.undo()
    assert checkpoint.load(tmp_path / "last.pt")["epoch"] == 2


# -- every checkpoint carries a checksum of its contents and its run's identity --------------------


def _state() -> dict:
    torch.manual_seed(0)
    return {
        "run_id": "run-a",
        "epoch": 3,
        "model": {"w": torch.randn(64, 32), "b": torch.zeros(32), "steps": torch.tensor(7)},
        "history": [{"epoch": 1, "val_loss": 0.5}],
        "rng": {"python": (3, tuple(range(10)), None)},
    }


def test_every_single_bit_flip_is_caught(tmp_path):
    """One flipped bit anywhere in the file (tensor bytes, the pickled structure, zip headers, the
    checksum itself): the file either does not load or fails its checksum; never a silent change."""
    path = tmp_path / "last.pt"
    checkpoint.save(_state(), path)
    data = path.read_bytes()
    positions = random.Random(0).sample(range(len(data)), 300) + [len(data) // 2, len(data) - 1]
    silent = []
    for pos in positions:
        flipped = bytearray(data)
        flipped[pos] ^= 1 << random.Random(pos).randrange(8)
        path.write_bytes(bytes(flipped))
        try:
            got = checkpoint.load(path)
        except CheckpointError as e:
            assert "\n" not in str(e) and str(path) in str(e)
            continue
        # torch.save's zip keeps bytes it never reads (padding, a second copy of names): a flip there
        # changes nothing that loads, and the checksum agrees.
        if not (torch.equal(got["model"]["w"], _state()["model"]["w"]) and got["history"] == _state()["history"]):
            silent.append(pos)
    assert not silent, f"bit flips at {silent} loaded as different values"


def test_an_exponent_flip_in_a_weight_is_a_checksum_mismatch(tmp_path):
    path = tmp_path / "best.pt"
    state = _state()
    checkpoint.save(state, path)
    data = bytearray(path.read_bytes())
    needle = state["model"]["w"][5, 7].numpy().tobytes()  # a float32 somewhere in the tensor bytes
    at = bytes(data).index(needle)
    data[at + 3] ^= 0x40  # the exponent's top bit: the weight becomes ~1e38
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="best.pt: checksum mismatch"):
        checkpoint.load(path)


def test_another_runs_checkpoint_is_refused_and_the_fallback_checks_it_too(tmp_path):
    path = tmp_path / "last.pt"
    checkpoint.save({**_state(), "epoch": 1}, path)
    checkpoint.save({**_state(), "epoch": 2}, path)
    assert checkpoint.load(path, run_id="run-a")["epoch"] == 2
    with pytest.raises(CheckpointError, match=r"last.pt: belongs to another run \(run id run-a; this folder's meta.json"):
        checkpoint.load(path, run_id="run-b")
    # last.pt damaged: last.prev.pt is used when it passes every check, never when it is another run's.
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    state, warning = checkpoint.load_with_fallback(path, run_id="run-a")
    assert state["epoch"] == 1 and "using the previous checkpoint last.prev.pt" in warning
    with pytest.raises(CheckpointError, match="and its previous version: .*belongs to another run"):
        checkpoint.load_with_fallback(path, run_id="run-b")


def test_a_checkpoint_of_the_previous_format_is_refused_in_one_line(tmp_path):
    torch.save({"format": checkpoint.FORMAT, "version": 1, "epoch": 1}, tmp_path / "old.pt")
    with pytest.raises(CheckpointError, match="format version 1 is not supported"):
        checkpoint.load(tmp_path / "old.pt")


# -- what the mutation run (make mutation) found unasserted ---------------------------------------


def test_the_checksum_of_a_given_content_never_changes():
    """The checksum is part of the file format: a checkpoint written by an earlier release must still
    match. This value was computed by the release that introduced format version 2; key order (10
    sorts before 9, as text), separators and types all enter it."""
    obj = {
        "b": [1, 2.5, "x", None, True, (3, 4)],
        10: "ten",
        9: "nine",
        "t": torch.arange(6, dtype=torch.float32).reshape(2, 3),
        "i": torch.tensor([1, 2], dtype=torch.int64),
        "nested": {"k": {"z": 1, "a": 2}},
    }
    assert checkpoint.digest(obj) == "crc32:6d4bca99"


def test_a_value_a_checkpoint_cannot_hold_is_named():
    with pytest.raises(TypeError, match="only tensors and plain values, not bytes"):
        checkpoint.digest({"x": b"raw"})


def test_a_file_without_a_checksum_is_refused_whatever_it_holds(tmp_path):
    for name, body in (("plain", {"epoch": 1}), ("undigestable", {"epoch": 1, "raw": b"bytes"})):
        torch.save({"format": checkpoint.FORMAT, "version": checkpoint.VERSION, **body}, tmp_path / f"{name}.pt")
        with pytest.raises(CheckpointError, match=f"{name}.pt: checksum mismatch"):
            checkpoint.load(tmp_path / f"{name}.pt")


def test_save_reaches_its_two_fault_points_by_their_label(tmp_path, monkeypatch):
    from rnnexp import faults

    hits = []
    monkeypatch.setattr(faults, "hit", hits.append)
    checkpoint.save({"epoch": 1}, tmp_path / "last.pt", fault="last:1")
    writer = checkpoint.BackgroundWriter()
    writer.submit({"epoch": 1}, tmp_path / "best.pt", fault="best:1")
    writer.close()
    checkpoint.save({"epoch": 2}, tmp_path / "plain.pt")  # no label: no fault point
    assert hits == ["write:last:1", "saved:last:1", "write:best:1", "saved:best:1"]


def test_save_makes_the_folders_it_needs(tmp_path):
    path = tmp_path / "a" / "b" / "last.pt"
    checkpoint.save({"epoch": 1}, path)
    assert checkpoint.load(path)["epoch"] == 1


@pytest.mark.parametrize("errno_, kind", [(28, StorageError), (13, CheckpointError)])
def test_a_failed_write_names_the_file_what_failed_and_leaves_no_temp_file(tmp_path, monkeypatch, errno_, kind):
    path = tmp_path / "last.pt"
    checkpoint.save({"epoch": 1}, path)
    message = os.strerror(errno_)
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError(errno_, message)))
    with pytest.raises(kind) as raised:
        checkpoint.save({"epoch": 2}, path)
    monkeypatch.undo()
    text = str(raised.value)
    assert str(path) in text and f"({message})" in text
    if kind is StorageError:
        assert text == f"{path}: cannot write checkpoint ({message}). Free disk space, then run the command again"
    else:
        assert text.endswith("the previous checkpoint is left as it was. Fix the folder's permissions, then `rnnexp resume`")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"] and checkpoint.load(path)["epoch"] == 1


def test_the_background_writer_writes_in_order_even_when_a_write_is_slow(tmp_path, monkeypatch):
    """One thread, in submission order: a slow first write is never overtaken by the second. close()
    returns with every write on disk, and the writer can be used again."""
    import time

    real, calls = checkpoint.write_bytes, []

    def slow_first(data, path, fault=None):
        calls.append(1)
        if len(calls) == 1:
            time.sleep(0.3)
        real(data, path, fault)

    monkeypatch.setattr(checkpoint, "write_bytes", slow_first)
    writer = checkpoint.BackgroundWriter()
    writer.submit({"epoch": 1}, tmp_path / "last.pt")
    writer.submit({"epoch": 2}, tmp_path / "last.pt")
    writer.close()
    assert checkpoint.load(tmp_path / "last.pt")["epoch"] == 2
    writer.submit({"epoch": 3}, tmp_path / "last.pt")
    writer.close()
    assert checkpoint.load(tmp_path / "last.pt")["epoch"] == 3


@pytest.mark.parametrize(
    "error, shown",
    [(RuntimeError("x" * 300 + "\nsecond line"), "unsafe: " + "x" * 160 + ")"), (RuntimeError(""), "unsafe: RuntimeError)")],
)
def test_an_unreadable_file_is_named_in_one_short_line(tmp_path, monkeypatch, error, shown):
    path = tmp_path / "last.pt"
    checkpoint.save({"epoch": 1}, path)
    monkeypatch.setattr(torch, "load", lambda *a, **k: (_ for _ in ()).throw(error))
    with pytest.raises(CheckpointError) as raised:
        checkpoint.load(path)
    assert str(raised.value).endswith(shown) and "\n" not in str(raised.value)


def test_a_checkpoint_written_on_a_gpu_loads_on_the_cpu(tmp_path, monkeypatch):
    """Tensors a CUDA run saved are tagged cuda:N in the file; a machine without a GPU (evaluate,
    resume --device cpu) loads them onto the CPU."""
    import torch.serialization

    monkeypatch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
    checkpoint.save({"w": torch.ones(2)}, tmp_path / "gpu.pt")
    monkeypatch.undo()
    loaded = checkpoint.load(tmp_path / "gpu.pt")
    assert loaded["w"].device.type == "cpu" and torch.equal(loaded["w"], torch.ones(2))


def test_torchs_switch_for_unsafe_loading_does_not_reach_rnnexp(tmp_path, monkeypatch):
    """TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD turns torch.load's default to full unpickling; rnnexp asks for
    weights_only itself, so a pickle that would run code is still refused."""
    ran = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(ran), "w"))

    path = tmp_path / "last.pt"
    path.write_bytes(pickle.dumps({"format": checkpoint.FORMAT, "x": Payload()}))
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        checkpoint.load(path)
    assert not ran.exists()


def test_the_fallback_checks_the_run_of_the_checkpoint_it_reads_first(tmp_path):
    path = tmp_path / "last.pt"
    checkpoint.save({**_state(), "run_id": "run-b"}, path)
    with pytest.raises(CheckpointError, match="belongs to another run .*; put back this run's own checkpoint$"):
        checkpoint.load_with_fallback(path, run_id="run-a")
