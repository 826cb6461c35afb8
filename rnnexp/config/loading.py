"""Loading YAML + overrides into the schema, with errors that name the file, line and key; and
walking the schema's keys (flatten, iter_keys, dump_config)."""

from __future__ import annotations

import copy
import difflib
import json
import os
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import ConfigError, clip
from .inherit import (
    Layer,
    Stage,
    annotated_yaml,
    layer_of,
    layer_writes,
    leaf_paths,
    merge_layers,
    merged,
    read_layers,
    resolve_entry_paths,
    resolve_paths,
)
from .recorded import as_recorded
from .run import Config
from .schema import metric_applies
from .sweep import SweepConfig, SweepParts, objective_of, sweep_parts
from .yamlio import YAML_NODES_MAX, line_of, read_file, read_yaml, value_key, value_key_line  # noqa: F401  (YAML_NODES_MAX: part of the API)


def trial_config(base_raw: dict, params: dict[str, Any], source: str = "") -> Config:
    """The base config (a resolved raw dict) with a trial's {dotted.key: value} set; errors name ``source``."""
    raw = copy.deepcopy(base_raw)
    overridden, problems = {}, []
    for key, value in params.items():
        problem = set_dotted(raw, key, value)
        if problem:
            problems.append(f"{source} {key}: {problem}")
        overridden[key] = f"{source} {key}={value!r}"
    if problems:
        raise ConfigError(problems)
    try:
        return Config.model_validate(raw)
    except ValidationError as e:
        raise ConfigError([_describe(err, source, None, overridden) for err in e.errors()]) from None


def is_sweep_file(path: str | Path) -> bool:
    """Whether a YAML file is a sweep file (a mapping with `space`) rather than a config; False when
    it cannot be read, so that loading it as a config reports why."""
    try:
        _, raw = read_yaml(Path(path).read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError, ConfigError):
        return False
    return isinstance(raw, dict) and "space" in raw


@dataclass
class _SweepFile:
    """A sweep file as read, --set applied: its YAML nodes (lines), keys, and the keys --set gave."""

    path: Path
    node: Any
    raw: dict
    overridden: dict[str, str]

    def where(self, section: str, key: str | None) -> str:
        """Where an entry of `set` or `space` was given, for errors: the file's line, or the --set."""
        given = self.overridden.get(f"{section}.{key}")
        if given is not None:
            return f"{given}: {section}"
        line = line_of(self.node, [section, key]) if key is not None else None
        return f"{self.path}:{line}: {section}" if line else f"{self.path}: {section}"

    def base_file(self) -> Path | None:
        """The base config it names (relative to the sweep file), or None where it names none."""
        base = self.raw.get("base")
        return Path(os.path.normpath(self.path.parent / base)) if isinstance(base, str) and base.strip() else None


def _read_sweep(path: Path, overrides: list[str] | tuple[str, ...]) -> _SweepFile:
    node, raw = read_yaml(read_file(path, "sweep file"), str(path))
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping (base, space, sampler, ...) at the top")
    if "space" not in raw and raw.keys() & {"data", "model", "train"}:
        raise ConfigError(
            f"{path}: a config, not a sweep file (it has no space): give the values to try with --grid KEY=V1,V2,... "
            f"(e.g. --grid model.cell=gru,lstm), or write a sweep file with base: {path.name} and a space"
        )
    # `set` and `space` are keyed by dotted config keys: --set set.train.epochs=1 is the key train.epochs of `set`
    overridden = apply_overrides(raw, overrides, flat=("set", "space"))
    resolve_entry_paths(raw, path.parent)  # data paths in set and space: relative to the sweep file, as in a config
    return _SweepFile(path, node, raw, overridden)


def load_sweep(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> tuple[SweepConfig, dict, Config]:
    """Read a sweep file and its base config; check every searched value against the base schema.

    Returns (sweep, base config with `set` applied as a raw dict, the same as a Config). Raises ConfigError listing
    every problem at once: of the sweep keys, the base config, `set` and `space` entries (checked against the base,
    or against the schema's keys when the base cannot be read), each naming its file's line and key.
    """
    f = _read_sweep(Path(path), overrides)
    problems: list[str] = []
    try:
        sweep: SweepConfig | None = SweepConfig.model_validate(f.raw)
    except ValidationError as e:
        sweep = None
        problems = [_describe(err, str(f.path), f.node, f.overridden, SweepConfig) for err in e.errors()]
    base = None
    if (base_file := f.base_file()) is not None:
        try:
            base = load_config(base_file)
        except ConfigError as e:
            problems.extend(e.messages)
    parts = sweep if sweep is not None else sweep_parts(f.raw)  # what can be checked of an invalid sweep
    if base is None:
        raise ConfigError(problems + _unknown_keys(parts, f.where))
    line = line_of(f.node, ["objective", "metric"])
    base_raw, base = check_sweep(parts, base, f.where, f"{f.path}:{line}" if line else str(f.path), problems)
    assert sweep is not None  # check_sweep raised every problem otherwise
    return sweep, base_raw, base


def explain_sweep(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> str:
    """What every trial of a sweep starts from (its base config with `set` applied) as explain_config
    shows a config: each value commented with its origin, a `set` entry's being the sweep file's line
    (or --set)."""
    sweep, _, cfg = load_sweep(path, overrides)  # every problem, before anything is explained
    f = _read_sweep(Path(path), overrides)
    _, base_stage = _resolve(f.base_file(), ())
    raw = base_stage.cfg.model_dump(mode="json")  # a sweep's set applies to its base as resolved
    writes = []
    for key, value in sweep.set.items():
        set_dotted(raw, key, value)
        for leaf in leaf_paths(value, tuple(key.split("."))):
            dotted = ".".join(leaf)
            inner = list(leaf[len(key.split(".")) :])  # inside a mapping value: its own line
            given = f"set.{dotted}" in f.overridden
            writes.append((dotted, "--set" if given else f"{f.path}:{line_of(f.node, ['set', key, *inner])}"))
    return annotated_yaml(cfg, [base_stage, Stage(cfg, raw, writes)])


def check_sweep(
    sweep: SweepConfig | SweepParts,
    base: Config,
    where: typing.Callable[[str, str | None], str],
    objective_at: str,
    problems: list[str] | tuple[str, ...] = (),
) -> tuple[dict, Config]:
    """Check a sweep's `set` and every searched value against its base config. Returns the config
    every trial starts from (base with `set` applied), as a raw dict and a Config. ConfigError lists
    ``problems`` (found before) and each problem found here, named by ``where(section, key)`` (a sweep
    file's line, or the --grid that gave it)."""
    problems = list(problems)
    base_raw = base.model_dump(mode="json")
    fixed = {}
    for key, value in sweep.set.items():
        try:
            trial_config(base_raw, {key: value}, source=where("set", key))
            fixed[key] = value
        except ConfigError as e:
            problems.extend(e.messages)
    try:
        base = trial_config(base_raw, fixed, source=where("set", None))  # what every trial starts from
    except ConfigError as e:  # entries fine one by one, not together
        raise ConfigError(problems + e.messages) from None
    base_raw = base.model_dump(mode="json")
    for key, spec in sweep.specs().items():
        for value in spec.edges():
            try:
                trial_config(base_raw, {key: value}, source=where("space", key))
            except ConfigError as e:
                problems.extend(m for m in e.messages if m not in problems)
    if sweep.objective is not None:
        metric, _ = objective_of(sweep, base)
        if not metric_applies(metric, base.data.task):
            problems.append(f"{objective_at}: objective.metric {metric} does not apply to {base.data.task}")
    if problems:
        raise ConfigError(problems)
    return base_raw, base


def _unknown_keys(sweep: SweepConfig | SweepParts, where: typing.Callable[[str, str | None], str]) -> list[str]:
    """Keys of `set` and `space` that no config has, found without a base config (it cannot be read)."""
    entries = [("set", key, value) for key, value in sweep.set.items()]
    entries += [("space", key, spec.edges()[0]) for key, spec in sweep.specs().items() if spec.edges()]
    problems = []
    for section, key, value in entries:
        for leaf in leaf_paths(value, tuple(key.split("."))):
            unknown = _unknown_key(list(leaf))
            if unknown:
                problems.append(f"{where(section, key)} {key}={value!r}: unknown key {clip(unknown[0], 120)} ({unknown[1]})")
                break
    return problems


# ---------------------------------------------------------------------------------------------
# Loading


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = (), recorded: bool = False) -> Config:
    """Read a YAML config (and the chain of its `base` configs), apply ``key.path=value`` overrides
    and validate. recorded: the file is one rnnexp wrote (a run folder's config.yaml), read as
    recorded.as_recorded says.

    Raises ConfigError listing every problem, each naming the dotted key and where it came from:
    the file (of the chain) and line that wrote it, or the --set.
    """
    return _resolve(Path(path), overrides, recorded)[0]


def explain_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> str:
    """The resolved config as loadable YAML, each value commented with its origin: the file and
    line of the chain that wrote it, --set, or default (validate --print)."""
    cfg, stage = _resolve(Path(path), overrides)
    return annotated_yaml(cfg, [stage])


def parse_config(
    text: str, source: str = "<config>", overrides: list[str] | tuple[str, ...] = (), base_dir: Path | None = None
) -> Config:
    """A config from its text; data paths and a `base` relative to ``base_dir`` (None: the working
    directory, data paths left as written)."""
    return _validate(read_layers(text, source, base_dir), overrides, base_dir)[0]


def _resolve(path: Path, overrides: list[str] | tuple[str, ...], recorded: bool = False) -> tuple[Config, Stage]:
    layers = read_layers(read_file(path, "config file"), str(path), path.parent, path)
    return _validate(layers, overrides, path.parent, recorded)


def _validate(
    layers: list[Layer], overrides: list[str] | tuple[str, ...], base_dir: Path | None, recorded: bool = False
) -> tuple[Config, Stage]:
    """The chain's keys merged, --set applied, validated: the config, and the stage that made it
    (what each file and --set wrote, for origins)."""
    raw = as_recorded(merge_layers(layers)) if recorded else merge_layers(layers)
    overridden = apply_overrides(raw, overrides)
    if base_dir is not None:
        resolve_paths(raw, base_dir)  # a path given by --set, relative to the config file as one in it
    try:
        cfg = Config.model_validate(raw)
        return cfg, Stage(cfg, raw, layer_writes(layers) + [(key, "--set") for key in overridden])
    except ValidationError as e:
        problems = []
        for err in e.errors():
            layer = layer_of(layers, [str(p) for p in err["loc"]])
            problems.append(_describe(err, layer.source, layer.node, overridden))
        raise ConfigError(problems) from None


def override(key: str, value: Any) -> str:
    """The KEY=VALUE form of a value set from code (--device, --name, the Python API's overrides and
    filters): the value as JSON, which YAML reads back as that same value (a name such as {cell}-x
    stays a string, where YAML would read a mapping)."""
    return f"{key}={json.dumps(value)}"


def apply_overrides(raw: dict, overrides: list[str] | tuple[str, ...], flat: tuple[str, ...] = ()) -> dict[str, str]:
    """Set ``a.b.c=value`` (value parsed as YAML) into ``raw``; returns {dotted path: where it was set}.
    Sections named in ``flat`` are keyed by whole dotted keys: ``set.train.lr`` is set["train.lr"]."""
    done: dict[str, str] = {}
    problems = []
    for item in overrides:
        key, sep, value_text = item.partition("=")
        key = key.strip()
        shown = f"--set {clip(item)!r}"
        if not sep or not key or any(not p for p in key.split(".")):
            problems.append(f"{shown}: expected KEY.PATH=VALUE, e.g. --set train.lr=0.01")
            continue
        value = parse_value(value_text, shown)
        first, _, rest = key.partition(".")
        parts = [first, rest] if first in flat and rest else key.split(".")
        problem = set_path(raw, parts, value)
        if problem:
            problems.append(f"{shown}: {problem}")
        else:
            # a mapping merges key by key (set_path): it set only the keys in it
            done.update(dict.fromkeys(_leaves(key, value), f"--set {clip(item)}"))
    if problems:
        raise ConfigError(problems)
    return done


def parse_value(text: str, shown: str) -> Any:
    """A value given on the command line, read as YAML (empty: null); text that is not YAML stays a
    string, for validation to judge. ConfigError naming ``shown`` for an alias bomb or a repeated key."""
    if not text.strip():
        return None
    try:
        return read_yaml(text, shown)[1]
    except ConfigError as e:
        if "invalid YAML" not in e.messages[0]:
            raise
        return text


def _leaves(key: str, value: Any) -> list[str]:
    """The dotted keys a value set at ``key`` writes: each leaf of a (non-empty) mapping, else the key."""
    return [".".join(leaf) for leaf in leaf_paths(value, (key,))]


def set_dotted(raw: dict, key: str, value: Any) -> str | None:
    """Set raw[a][b][c] = value for key "a.b.c" (see set_path)."""
    return set_path(raw, key.split("."), value)


def set_path(raw: dict, parts: list[str], value: Any) -> str | None:
    """Set raw[a][b][c] = value, creating sections; returns a problem or None. A mapping set onto a
    mapping is merged into it, key by key, never put in its place: `train={lr: 0.1}` changes the lr
    and keeps every other train key."""
    target = raw
    for i, part in enumerate(parts[:-1]):
        nxt = target.get(part)
        if nxt is None:
            nxt = target[part] = {}
        if not isinstance(nxt, dict):
            return f"{'.'.join(parts[: i + 1])} is a value, not a section"
        target = nxt
    last = parts[-1]
    if isinstance(value, dict) and isinstance(target.get(last), dict):
        target[last] = merged(target[last], value)
    else:
        target[last] = copy.deepcopy(value)
    return None


def _describe(
    err: dict, source: str, node: yaml.Node | None, overridden: dict[str, str], root: type[BaseModel] | None = None
) -> str:
    loc = [str(p) for p in err["loc"]]
    full = ".".join(loc) or "(top level)"
    dotted = clip(full, 120)  # a key, as a user wrote it: shown, never a flood of it
    # An error at, above or below a key set on the command line is about that --set.
    culprit = next((k for k in overridden if k == full or k.startswith(full + ".") or full.startswith(k + ".")), None)
    if culprit is not None:
        where = overridden[culprit]
    else:
        line = line_of(node, loc)
        where = f"{source}:{line}" if line else source
    kind = err["type"]
    # A key YAML read as a value (~, null, true, no, 1, 2.5, 2024-01-01): of a section, or of a
    # mapping of names (a sweep's space, set).
    if kind == "invalid_key" or loc[-1:] == ["[key]"]:
        parent = loc[: -2 if kind != "invalid_key" else -1]
        line, under = value_key_line(node, parent), ".".join(parent)
        given = next((v for k, v in overridden.items() if k.startswith(under + ".") or under.startswith(k + ".")), source)
        return value_key(err["input"], parent, f"{source}:{line}" if line else given, _fields_at(parent, root))
    if kind == "extra_forbidden":
        return f"{where}: unknown key {dotted} ({_key_hint(loc, root)})"
    if kind == "missing":
        return f"{where}: missing required key {dotted}"
    if kind == "value_error":
        return f"{where}: {dotted + ': ' if loc else ''}{err['msg'].removeprefix('Value error, ')}"
    msg = err["msg"]
    got = err.get("input")
    hint = ""
    if kind == "literal_error" and isinstance(got, str):
        allowed = [str(a).strip("'") for a in _literal_values(loc, root)]
        guess = difflib.get_close_matches(got, allowed, n=1, cutoff=0.5)
        hint = f" (did you mean {guess[0]!r}?)" if guess else ""
    shown = clip(repr(got)) if not isinstance(got, (dict, list)) else type(got).__name__
    return f"{where}: {dotted}: {msg}, got {shown}{hint}"


def _key_hint(loc: list[str], root: type[BaseModel] | None = None) -> str:
    """For an unknown key: the known key it most likely means, or the keys of its section."""
    known = _fields_at(loc[:-1], root)
    guess = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.6)
    return f"did you mean {'.'.join(loc[:-1] + [guess[0]])}?" if guess else f"known keys here: {', '.join(known)}"


def _unknown_key(loc: list[str]) -> tuple[str, str] | None:
    """(the unknown key, a hint) where ``loc`` leaves the config schema's keys; None where it does not
    (or cannot be told: inside a value of free form, such as class weights)."""
    model: type[BaseModel] | None = Config
    for i, part in enumerate(loc):
        if model is None:
            return None
        if part not in model.model_fields:
            return ".".join(loc[: i + 1]), _key_hint(loc[: i + 1])
        model = _unwrap_model(model.model_fields[part].annotation)
    return None


def _model_at(loc: list[str], root: type[BaseModel] | None = None) -> type[BaseModel] | None:
    model: type[BaseModel] | None = root or Config
    for part in loc:
        field = model.model_fields.get(part) if model else None
        if field is None:
            return None
        model = _unwrap_model(field.annotation)
    return model


def _unwrap_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _unwrap_model(arg)
            if found:
                return found
    return None


def _fields_at(loc: list[str], root: type[BaseModel] | None = None) -> list[str]:
    model = _model_at(loc, root)
    return list(model.model_fields) if model else []


def _literal_values(loc: list[str], root: type[BaseModel] | None = None) -> list[Any]:
    model = _model_at(loc[:-1], root)
    field = model.model_fields.get(loc[-1]) if model else None
    if field is None:
        return []
    annotation = field.annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next((a for a in typing.get_args(annotation) if typing.get_origin(a) is Literal), annotation)
    return list(typing.get_args(annotation)) if typing.get_origin(annotation) is Literal else []


def dump_config(cfg: Config) -> str:
    """The resolved config as YAML, loadable by load_config."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)


def iter_keys(model: type[BaseModel] = Config, prefix: str = "") -> typing.Iterator[tuple[str, Any]]:
    """Every dotted key of the schema with its field info (for docs and tests)."""
    for name, field in model.model_fields.items():
        sub = _unwrap_model(field.annotation)
        if sub is not None:
            yield from iter_keys(sub, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", field
