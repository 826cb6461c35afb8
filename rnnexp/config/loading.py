"""Loading YAML + overrides into the schema, with errors that name the file, line and key; and
walking the schema's keys (flatten, iter_keys, dump_config)."""

from __future__ import annotations

import copy
import difflib
import types
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import ConfigError, clip
from .run import Config
from .schema import metric_applies
from .sweep import SweepConfig, objective_of


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


def load_sweep(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> tuple[SweepConfig, dict, Config]:
    """Read a sweep file and its base config; check every searched value against the base schema.

    Returns (sweep, base config with `set` applied as a raw dict, the same as a Config). Raises ConfigError naming the
    sweep file's line and key for every problem found.
    """
    path = Path(path)
    text = _read(path, "sweep file")
    node, raw = read_yaml(text, str(path))
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping (base, space, sampler, ...) at the top")
    # `set` and `space` are keyed by dotted config keys: --set set.train.epochs=1 is the key train.epochs of `set`
    overridden = apply_overrides(raw, overrides, flat=("set", "space"))
    try:
        sweep = SweepConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError([_describe(err, str(path), node, overridden, SweepConfig) for err in e.errors()]) from None
    base_path = (path.parent / sweep.base).resolve()
    base = load_config(base_path)
    base_raw = base.model_dump(mode="json")
    problems = []
    for key, value in sweep.set.items():
        try:
            trial_config(base_raw, {key: value}, source=f"{path}:{_line_of(node, ['set', key])}: set")
        except ConfigError as e:
            problems.extend(e.messages)
    if problems:
        raise ConfigError(problems)
    base = trial_config(base_raw, sweep.set, source=f"{path}: set")  # what every trial starts from
    base_raw = base.model_dump(mode="json")
    for key, spec in sweep.specs().items():
        line = _line_of(node, ["space", key])
        for value in spec.edges():
            try:
                trial_config(base_raw, {key: value}, source=f"{path}:{line}: space")
            except ConfigError as e:
                problems.extend(m for m in e.messages if m not in problems)
    if problems:
        raise ConfigError(problems)
    metric, _ = objective_of(sweep, base)
    if not metric_applies(metric, base.data.task):
        raise ConfigError(
            f"{path}:{_line_of(node, ['objective', 'metric'])}: objective.metric {metric} does not apply to {base.data.task}"
        )
    return sweep, base_raw, base


# ---------------------------------------------------------------------------------------------
# Loading


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read a YAML config, apply ``key.path=value`` overrides and validate.

    Raises ConfigError listing every problem, each naming the dotted key and where it came from.
    """
    path = Path(path)
    text = _read(path, "config file")
    return parse_config(text, source=str(path), overrides=overrides, base_dir=path.parent)


def parse_config(
    text: str, source: str = "<config>", overrides: list[str] | tuple[str, ...] = (), base_dir: Path | None = None
) -> Config:
    node, raw = read_yaml(text, source)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of sections (data, model, train) at the top, got {type(raw).__name__}")
    overridden = apply_overrides(raw, overrides)
    if base_dir is not None:
        _resolve_paths(raw, base_dir)
    try:
        return Config.model_validate(raw)
    except ValidationError as e:
        raise ConfigError([_describe(err, source, node, overridden) for err in e.errors()]) from None


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
        try:
            _, value = read_yaml(value_text, shown) if value_text.strip() else (None, None)
        except ConfigError as e:
            if "invalid YAML" not in e.messages[0]:
                raise  # an alias bomb or a repeated key in the value
            value = value_text  # not YAML: keep the text as a string and let validation judge it
        first, _, rest = key.partition(".")
        parts = [first, rest] if first in flat and rest else key.split(".")
        problem = set_path(raw, parts, value)
        if problem:
            problems.append(f"{shown}: {problem}")
        else:
            done[key] = f"--set {clip(item)}"
    if problems:
        raise ConfigError(problems)
    return done


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
        target[last] = _merged(target[last], value)
    else:
        target[last] = copy.deepcopy(value)
    return None


def _merged(base: dict, changes: dict) -> dict:
    out = dict(base)
    for key, value in changes.items():
        out[key] = (
            _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else copy.deepcopy(value)
        )
    return out


# A YAML alias may stand for a whole subtree, so a few hundred bytes of anchors can expand to
# billions of values (the "billion laughs"); no config comes near this many.
YAML_NODES_MAX = 100_000


def _read(path: Path, what: str) -> str:
    """A config or sweep file's text; ConfigError naming it when it is missing or unreadable."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read {what} ({e})") from None


def read_yaml(text: str, source: str) -> tuple[yaml.Node | None, Any]:
    """Parse a YAML document: (its node tree, for line numbers; its value). ConfigError, naming
    ``source`` and lines, when it is not YAML, repeats a key in a mapping (YAML forbids it, and
    PyYAML would silently keep the last one), or expands past YAML_NODES_MAX values by aliases."""
    loader = None
    try:
        loader = yaml.SafeLoader(text)  # duplicate keys and alias expansion are checked on its node tree
        node = loader.get_single_node()
        if node is None:
            return None, None
        _check_tree(node, source)
        return node, loader.construct_document(node)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{where}: invalid YAML: {clip(problem)}") from None
    except RecursionError:
        raise ConfigError(f"{source}: invalid YAML: nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()


def _check_tree(root: yaml.Node, source: str) -> None:
    problems: list[str] = []
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node, path: list[str]) -> int:
        """Values under ``node`` once every alias is expanded (an alias is a shared node object)."""
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in active:
            raise ConfigError(f"{source}:{node.start_mark.line + 1}: invalid YAML: an alias refers to its own anchor")
        active.add(id(node))
        total = 1
        if isinstance(node, yaml.MappingNode):
            seen: dict[tuple[str, str], int] = {}
            for key_node, value_node in node.value:
                key = (key_node.tag, str(key_node.value))
                line = key_node.start_mark.line + 1
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                    if key in seen:
                        dotted = ".".join([*path, str(key_node.value)])
                        problems.append(
                            f"{source}:{line}: duplicate key {clip(dotted)} (first at line {seen[key]}); "
                            "YAML keeps only one: merge the two into one"
                        )
                    else:
                        seen[key] = line
                total += size(key_node, path) + size(value_node, [*path, clip(str(key_node.value), 40)])
                if total > YAML_NODES_MAX:
                    break
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                total += size(item, [*path, str(i)])
                if total > YAML_NODES_MAX:
                    break
        active.discard(id(node))
        sizes[id(node)] = total
        if total > YAML_NODES_MAX:
            raise ConfigError(
                f"{source}:{node.start_mark.line + 1}: YAML aliases expand this document past {YAML_NODES_MAX:,} values; "
                "refusing it (no config needs that many: use fewer anchors and aliases)"
            )
        return total

    size(root, [])
    if problems:
        raise ConfigError(problems)


def _resolve_paths(raw: dict, base_dir: Path) -> None:
    """Data file paths in a config are relative to the config file, not to the working directory."""
    model = raw.get("model")
    places = [(raw.get("data"), ("train_file", "val_file", "test_file"))]
    if isinstance(model, dict):
        places.append((model.get("embedding"), ("pretrained",)))
    for section, keys in places:
        if not isinstance(section, dict):
            continue
        for key in keys:
            value = section.get(key)
            if isinstance(value, str) and value:
                path = Path(value).expanduser()
                section[key] = str(path if path.is_absolute() else (base_dir / path).resolve())


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
        line = _line_of(node, loc)
        where = f"{source}:{line}" if line else source
    kind = err["type"]
    if kind == "extra_forbidden":
        known = _fields_at(loc[:-1], root)
        guess = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.6)
        hint = f"did you mean {'.'.join(loc[:-1] + [guess[0]])}?" if guess else f"known keys here: {', '.join(known)}"
        return f"{where}: unknown key {dotted} ({hint})"
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


def _line_of(node: yaml.Node | None, loc: list[str]) -> int | None:
    """1-based line of the deepest key of ``loc`` present in the YAML document."""
    line = None
    for part in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        for key_node, value_node in node.value:
            if str(key_node.value) == part:
                line = key_node.start_mark.line + 1
                node = value_node
                break
        else:
            break
    return line


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
