"""Quick multiruns: `rnnexp sweep CONFIG --grid KEY=V1,V2 ...` as the grid sweep it stands for,
built in memory and checked as a sweep file is (its sweep folder's sweep.yaml is that sweep file)."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

from ..errors import ConfigError, clip
from .inherit import resolve_paths
from .loading import apply_overrides, check_sweep, is_sweep_file, iter_keys, load_config, parse_value
from .run import Config
from .sweep import SweepConfig


def parse_grid(items: list[str] | tuple[str, ...]) -> dict[str, list[Any]]:
    """{dotted key: its values} from --grid KEY=V1,V2 items; ConfigError, one line per bad --grid."""
    known = [key for key, _ in iter_keys(Config)]
    space: dict[str, list[Any]] = {}
    problems = []
    for item in items:
        key, sep, text = (part.strip() for part in item.partition("="))
        if not sep or not key or not text:
            problems.append(f"--grid {clip(item)!r}: expected KEY=V1,V2,..., e.g. --grid model.cell=gru,lstm")
        elif key in space:
            problems.append(f"--grid {clip(key)}: given twice; give all its values in one --grid {clip(key)}=V1,V2,...")
        elif key not in known and any(k.startswith(key + ".") for k in known):
            inner = next(k for k in known if k.startswith(key + "."))
            problems.append(f"--grid {clip(key)}: a section, not a key; give one of its keys, e.g. {inner}")
        elif key not in known:
            guess = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = f"did you mean {guess[0]}?" if guess else "rnnexp schema lists the keys"
            problems.append(f"--grid {clip(key)}: unknown key ({hint})")
        else:
            values = [_number(parse_value(value, f"--grid {clip(key)}")) for value in text.split(",")]
            twice = [v for i, v in enumerate(values) if v in values[:i]]
            if twice:
                problems.append(f"--grid {clip(key)}: {clip(repr(twice[0]))} given twice (each value once)")
            space[key] = values
    if problems:
        raise ConfigError(problems)
    return space


def grid_sweep(
    config: str | Path, grid: list[str] | tuple[str, ...], overrides: list[str] | tuple[str, ...] = ()
) -> tuple[SweepConfig, dict, Config]:
    """The grid sweep over ``config`` that --grid items describe, with --set ``overrides`` as its `set`.

    Returns (sweep, the config every trial starts from as a raw dict, the same as a Config).
    ConfigError lists every problem at once, each naming the --grid, the --set or the config's line."""
    path = Path(config)
    if is_sweep_file(path):
        raise ConfigError(f"--grid: {path} is a sweep file; --grid takes a config (add the values to the file's space)")
    problems: list[str] = []
    try:
        named = load_config(path, overrides)  # every --set and the config's own keys checked, each error where it was
    except ConfigError as e:
        problems.extend(e.messages)
    try:
        space = parse_grid(grid)
    except ConfigError as e:
        problems.extend(e.messages)
    if problems:
        raise ConfigError(problems)
    scratch: dict = {}
    keys = apply_overrides(scratch, overrides)
    resolve_paths(scratch, path.parent)  # a data path given by --set is relative to the config, as in load_config
    fixed = {key: _get(scratch, key) for key in keys}
    doc: dict[str, Any] = {"name": named.run_name, "base": str(path.resolve())}
    doc.update({"set": fixed} if fixed else {})
    doc.update({"space": space, "sampler": {"kind": "grid"}})
    sweep = SweepConfig.model_validate(doc)
    flag = {"set": "--set", "space": "--grid"}
    base_raw, base = check_sweep(sweep, load_config(path), lambda section, key: flag[section], str(path))
    return sweep, base_raw, base


# YAML 1.1 (PyYAML) reads 1e-3 as a string (its floats need a dot: 1.0e-3); a learning rate on the
# command line is a number
_EXPONENT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _number(value: Any) -> Any:
    return float(value) if isinstance(value, str) and _EXPONENT.fullmatch(value) else value


def _get(raw: dict, key: str) -> Any:
    for part in key.split("."):
        raw = raw[part]
    return raw
