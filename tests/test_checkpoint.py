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
