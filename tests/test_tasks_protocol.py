"""Every task implements the whole Task protocol, so no caller needs to ask which task it has."""

from __future__ import annotations

import inspect

import pytest

from rnnexp.errors import RunDirError
from rnnexp.tasks import TASKS, Task, task_class


def protocol_members() -> set[str]:
    names = {n for n in vars(Task) if not n.startswith("_")} | set(Task.__annotations__)
    return names - {"cfg"}  # set per instance in __init__


@pytest.mark.parametrize("kind", sorted(TASKS))
def test_each_task_class_has_every_member_of_the_protocol(kind):
    cls = task_class(kind)
    assert cls.kind == kind
    missing = sorted(n for n in protocol_members() if not hasattr(cls, n) and n not in ("prior_loss",))
    assert not missing, f"{cls.__name__} lacks {missing}"
    for name in ("describe", "predict_inputs"):  # used before any data is read: no instance
        assert isinstance(inspect.getattr_static(cls, name), staticmethod), name
    assert "prior_loss" in inspect.getsource(cls.__init__)


def test_an_unknown_task_in_a_checkpoint_is_a_clear_error():
    with pytest.raises(RunDirError, match="'speech' is not one this version of rnnexp knows"):
        task_class("speech")


@pytest.mark.parametrize("kind", sorted(TASKS))
def test_each_task_writes_the_validation_columns_the_config_checks_monitors_against(kind):
    from rnnexp.config import VAL_METRICS, metric_applies, task_metrics

    cls = task_class(kind)
    assert cls.metric_columns == list(task_metrics(kind))
    for metric in VAL_METRICS:
        assert metric_applies(metric, kind) == (metric == "val_loss" or metric in cls.metric_columns), metric
