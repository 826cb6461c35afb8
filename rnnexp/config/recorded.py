"""Configs rnnexp wrote under an older version, read today. A key added later normally takes a
default that keeps the old behaviour, so an old run folder reads through today's schema unchanged.
A few defaults were instead changed on purpose (train.optimizer_defaults: keras; data.window_scale
and train.balance_steps, on for forecasting); a config rnnexp
recorded before such a key existed (a run folder's config.yaml, a checkpoint's or meta.json's
config, a sweep's base) was made under the old value, and is read with it, here and nowhere else."""

from __future__ import annotations

import copy
from typing import Any

# dotted key -> the value every run had before the key existed
CHANGED_DEFAULTS: dict[str, Any] = {
    "train.optimizer_defaults": "torch",
    "data.window_scale": False,
    "train.balance_steps": False,
}


def as_recorded(raw: dict[str, Any]) -> dict[str, Any]:
    """A recorded config (a raw dict, every key written: a model_dump), each changed-default key it
    lacks set to its old value."""
    return _fill(raw, CHANGED_DEFAULTS)


def _fill(raw: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        return raw  # not a mapping: whoever reads it says so
    out = copy.deepcopy(raw)
    for key, value in values.items():
        *sections, leaf = key.split(".")
        node = out
        for part in sections:
            if not isinstance(node.get(part, {}), dict):
                break  # written wrongly: validation names it
            node = node.setdefault(part, {})
        else:
            node.setdefault(leaf, value)
    return out
