"""Where a command computes: the one reading of train.device and the --device flags."""

from __future__ import annotations

import torch

from .config.run import check_device
from .errors import ConfigError


def resolve_device(name: str, source: str = "train.device") -> torch.device:
    """auto -> cuda when available, else cpu; a device this machine lacks is a ConfigError naming
    ``source`` (the config key or the --device flag)."""
    try:
        check_device(name)
    except ValueError as e:
        raise ConfigError(f"{source} {name!r}: {e}") from None
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(f"{source} is {name!r} but torch sees no CUDA device here; use auto or cpu (--device cpu)")
        if device.index is not None and device.index >= count:
            raise ConfigError(f"{source} is {name!r} but this machine has {count} CUDA device(s): cuda:0 to cuda:{count - 1}")
    return device


def run_device(recorded: str, override: str | None) -> tuple[torch.device, str | None]:
    """Where a command on an existing run (resume, evaluate, predict) computes, and a note when it
    is not the run's own device: --device when given, else the run's train.device when this machine
    has it, else auto. The run's config is never changed."""
    if override is not None:
        return resolve_device(override, "--device"), None
    try:
        return resolve_device(recorded), None
    except ConfigError:
        device = resolve_device("auto")
        return device, f"this run's train.device is {recorded!r}, which this machine lacks: using {device} (--device chooses)"
