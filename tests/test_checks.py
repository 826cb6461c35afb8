"""rnnexp/training/checks.py: what a resume decides from the checkpoint alone (how far the run got,
whether it had ended, an extension) and the settings it refuses to change."""

from __future__ import annotations

import re

import pytest

from rnnexp.config import Config
from rnnexp.errors import RunDirError
from rnnexp.rundir import RunDir, Status
from rnnexp.training.checks import ResumePlan, check_same_config, plan_resume

BASE = {"name": "t", "data": {"dataset": "amazon-food"}, "train": {"epochs": 4, "lr": 0.005}}


def _cfg(**train) -> Config:
    return Config.model_validate({**BASE, "train": {**BASE["train"], **train}})


def _state(epoch: int, end: tuple[Status, str] | None = None, epochs: int = 4) -> dict:
    """A last.pt's entries plan_resume reads: the position, the end, the config it was made with."""
    return {
        "epoch": epoch,
        "end": None if end is None else {"status": str(end[0]), "reason": end[1]},
        "config": _cfg(epochs=epochs).model_dump(mode="json"),
    }


def _plan(tmp_path, state, summary_status="interrupted", epochs=None, settle=False, cfg=None):
    cfg = cfg or _cfg()
    meta = {"config": _cfg().model_dump(mode="json")}
    return plan_resume(RunDir(tmp_path), cfg, meta, state, {"status": summary_status}, epochs, settle), cfg


DONE, PATIENCE = (Status.COMPLETED, "4 epochs"), (Status.EARLY_STOPPED, "patience")
SIGINT, PAUSED = (Status.INTERRUPTED, "SIGINT"), (Status.PRUNED, "paused")


@pytest.mark.parametrize(
    "state, summary, epochs, settle, plan",
    [
        (None, "running", None, False, ResumePlan(0, False, None, None)),  # killed before its first checkpoint
        (_state(2), "interrupted", None, False, ResumePlan(2, False, None, None)),
        (_state(2), "interrupted", 6, False, ResumePlan(2, True, None, None)),  # resume --epochs 6
        # Ended (last.pt says so) but killed before summary.json did: finish its files, train nothing.
        (_state(4, DONE), "running", None, False, ResumePlan(4, False, DONE, DONE)),
        (_state(3, PATIENCE), "running", None, False, ResumePlan(3, False, PATIENCE, PATIENCE)),
        # Interrupted or pruned ends are not finished: the resume trains on from them.
        (_state(2, SIGINT), "interrupted", None, False, ResumePlan(2, False, SIGINT, None)),
        (_state(2, PAUSED), "pruned", None, False, ResumePlan(2, False, PAUSED, None)),
        # settle (a sweep finishing a dead worker's run): whatever the end, it is settled.
        (_state(2, PAUSED), "running", None, True, ResumePlan(2, False, PAUSED, PAUSED)),
        # Extending a finished run trains past its end: nothing to settle.
        (_state(4, DONE), "completed", 6, False, ResumePlan(4, True, DONE, None)),
    ],
)
def test_what_a_resume_plans_comes_from_the_checkpoint(tmp_path, state, summary, epochs, settle, plan):
    got, cfg = _plan(tmp_path, state, summary, epochs, settle)
    assert got == plan
    assert cfg.train.epochs == (epochs or 4)  # an extension's total is what the run now trains to


def test_an_extension_written_into_config_yaml_counts_as_one(tmp_path):
    """config.yaml's train.epochs differing from the checkpoint's: a `resume --epochs N` killed before
    its first checkpoint wrote it; the resume goes on to N."""
    got, cfg = _plan(tmp_path, _state(2, epochs=4), cfg=_cfg(epochs=7))
    assert got == ResumePlan(2, True, None, None) and cfg.train.epochs == 7


@pytest.mark.parametrize(
    "state, summary, epochs, settle, message",
    [
        (
            _state(4, ("completed", "4 epochs")),
            "completed",
            None,
            False,
            r"run already finished \(completed after 4 epochs\); .* --epochs N \(N > 4\)",
        ),
        (_state(1, ("early_stopped", "patience")), "early_stopped", None, False, r"\(early_stopped after 1 epoch\); .*\(N > 1\)"),
        (_state(2), "interrupted", None, True, r"records no end to settle \(it stopped after epoch 2\)"),
        (_state(3), "interrupted", 3, False, r"--epochs 3: the run has already trained 3 epochs; give a larger total"),
        (_state(3), "interrupted", 2, False, r"--epochs 2: the run has already trained 3 epochs"),
    ],
)
def test_a_resume_that_cannot_go_on_is_refused_saying_what_to_do(tmp_path, state, summary, epochs, settle, message):
    with pytest.raises(RunDirError, match=message):
        _plan(tmp_path, state, summary, epochs, settle)


def test_an_extension_in_config_yaml_that_is_no_longer_than_the_run_is_refused_naming_the_file(tmp_path):
    with pytest.raises(RunDirError, match=r"config\.yaml: train\.epochs 2: the run has already trained 3 epochs"):
        _plan(tmp_path, _state(3, epochs=4), cfg=_cfg(epochs=2))


def test_the_config_is_checked_against_the_checkpoints_or_without_one_meta_jsons(tmp_path):
    with pytest.raises(RunDirError, match=r"train\.lr \(0\.005 -> 0\.004\)"):
        _plan(tmp_path, _state(2), cfg=_cfg(lr=0.004))
    with pytest.raises(RunDirError, match=r"train\.lr \(0\.005 -> 0\.004\)"):
        _plan(tmp_path, None, cfg=_cfg(lr=0.004))
    made_with = _state(2)
    made_with["config"]["train"]["lr"] = 0.004  # the checkpoint, not meta.json, says what it was made with
    assert _plan(tmp_path, made_with, cfg=_cfg(lr=0.004))[0].done == 2


def _refusal(tmp_path, recorded: dict, now: Config) -> str:
    with pytest.raises(RunDirError) as caught:
        check_same_config(RunDir(tmp_path), now, recorded)
    return str(caught.value)


def test_a_changed_setting_is_named_with_its_old_and_new_value(tmp_path):
    then = _cfg().model_dump(mode="json")
    check_same_config(RunDir(tmp_path), _cfg(), then)  # the same: nothing to say
    check_same_config(RunDir(tmp_path), _cfg(epochs=9), then)  # train.epochs may change (an extension)
    check_same_config(RunDir(tmp_path), _cfg(lr=1.0), None)  # nothing recorded: nothing to compare
    said = _refusal(tmp_path, then, _cfg(lr=0.004, batch_size=8))
    assert said.startswith(f"{tmp_path / 'config.yaml'}: changed since the run started: ")
    assert "train.batch_size (32 -> 8), train.lr (0.005 -> 0.004); a run resumes only" in said
    assert said.endswith(f"start a new run: rnnexp train {tmp_path / 'config.yaml'}")


@pytest.mark.parametrize("count", [5, 6, 7])
def test_many_changed_settings_show_the_first_five_and_a_count(tmp_path, count):
    then = _cfg().model_dump(mode="json")
    changed = dict(
        list(
            {
                "lr": 0.001,
                "batch_size": 8,
                "seed": 3,
                "clip_norm": 2.0,
                "momentum": 0.5,
                "weight_decay": 0.1,
                "threads": 1,
            }.items()
        )[:count]
    )
    said = _refusal(tmp_path, then, _cfg(**changed))
    named = re.findall(r"(train\.\w+) \(", said)
    assert named == sorted(f"train.{k}" for k in changed)[:5]
    assert (f" and {count - 5} more;" in said) == (count > 5) and (" more;" in said) == (count > 5)


def test_a_long_value_is_clipped_and_a_setting_removed_since_is_named(tmp_path):
    then = _cfg().model_dump(mode="json")
    long = {**BASE, "data": {**BASE["data"], "text_column": "x" * 60}}
    said = _refusal(tmp_path, then, Config.model_validate(long))
    assert "data.text_column ('text' -> '" + "x" * 39 + "... (62 characters))" in said  # 40 of repr's 62
    said = _refusal(tmp_path, Config.model_validate(long).model_dump(mode="json"), _cfg())  # and the other way
    assert "data.text_column ('" + "x" * 39 + "... (62 characters) -> 'text')" in said
    # A key today's schema does not know (removed since the run started): compared as written.
    old = _cfg().model_dump(mode="json")
    old["train"]["gone_key"], old["train"]["gone_none"] = 1, None
    del old["data"]["val_file"]  # and one it lacks (as if added since), whose value now is None
    said = _refusal(tmp_path, old, _cfg())
    assert "data.val_file ((absent) -> None), train.gone_key (1 -> (absent)), train.gone_none (None -> (absent));" in said


@pytest.mark.parametrize(
    "meta, shown",
    [
        ({}, "its sources: not in meta.json"),  # a meta.json from before fingerprints: matches nothing
        ({"data": {"sources": "train.csv"}}, "train.csv"),
        ({"data": {"sources": "train.csv", "fingerprints": {"train": "abc"}}}, "train.csv"),
    ],
)
def test_a_resume_on_other_training_data_is_refused_naming_the_recorded_sources(tmp_path, meta, shown):
    from types import SimpleNamespace

    from rnnexp.training.checks import check_same_data

    with pytest.raises(RunDirError) as e:
        check_same_data(RunDir(tmp_path), meta, SimpleNamespace(train_fingerprint="abd"))
    assert str(e.value) == (
        f"{tmp_path}: the training data differs from when this run started ({shown}); an exact resume needs the same data"
    )
    same = {"data": {"sources": "train.csv", "fingerprints": {"train": "abd"}}}
    assert check_same_data(RunDir(tmp_path), same, SimpleNamespace(train_fingerprint="abd")) is None


def test_a_key_added_since_the_run_started_takes_its_default_and_is_no_change(tmp_path):
    recorded = _cfg().model_dump(mode="json")
    del recorded["train"]["optimizer"], recorded["model"]["init"]  # keys a run from before them does not hold
    assert check_same_config(RunDir(tmp_path), _cfg(), recorded) is None
    recorded["train"]["lr"] = 0.01
    with pytest.raises(RunDirError, match=r"changed since the run started: train\.lr \(0\.01 -> 0\.005\);"):
        check_same_config(RunDir(tmp_path), _cfg(), recorded)
