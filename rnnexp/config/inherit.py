"""Config inheritance: `base: other.yaml` at the top of a config, the chain of files it names,
merged below the file's own keys; which file wrote each key (for errors and `validate --print`)."""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from ..errors import ConfigError, clip
from .run import Config
from .yamlio import depth_of, line_of, read_file, read_yaml

BASE_KEY = "base"
BASE_DESCRIPTION = (
    "A config this one starts from, relative to this file: its keys are merged below this file's (a section key by "
    "key, a list or other value whole). null: none."
)


@dataclass(frozen=True)
class Layer:
    """One file of a config's chain: its name as errors show it, its YAML nodes (lines), its keys."""

    source: str
    node: yaml.Node | None
    raw: dict


def merged(base: dict, changes: dict) -> dict:
    """``changes`` over ``base``: mappings merge key by key, anything else (lists included) replaces."""
    out = dict(base)
    for key, value in changes.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else copy.deepcopy(value)
    return out


def resolve_paths(raw: dict, base_dir: Path) -> None:
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
                path = expand_home(value)
                section[key] = str(path if path.is_absolute() else (base_dir / path).resolve())


def expand_home(text: str) -> Path:
    """A path as a shell reads it: ~ and ~user are home folders, and a ~name that names no user stays
    as written (Path.expanduser raises there; a file of that name is then looked for, and named if missing)."""
    try:
        return Path(text).expanduser()
    except RuntimeError:
        return Path(text)


def resolve_entry_paths(sweep_raw: dict, folder: Path) -> None:
    """Data paths that a sweep file's `set` entries and `space` choices give (as a whole key, or inside
    a section's mapping) made absolute against the sweep file's folder, as a config's are against its own."""
    fixed, space = sweep_raw.get("set"), sweep_raw.get("space")
    if isinstance(fixed, dict):
        for key, value in fixed.items():
            fixed[key] = _resolved_entry(key, value, folder)
    for key, spec in space.items() if isinstance(space, dict) else ():
        choices = spec if isinstance(spec, list) else spec.get("values") if isinstance(spec, dict) else None
        if isinstance(choices, list):
            choices[:] = [_resolved_entry(key, value, folder) for value in choices]


def _resolved_entry(key: Any, value: Any, folder: Path) -> Any:
    """``value`` given at the dotted ``key``, its data paths made absolute against ``folder``."""
    if not isinstance(key, str):
        return value
    parts = key.split(".")
    nested = copy.deepcopy(value)
    for part in reversed(parts):
        nested = {part: nested}
    resolve_paths(nested, folder)
    for part in parts:
        nested = nested[part]
    return nested


def read_layers(text: str, source: str, folder: Path | None, path: Path | None = None) -> list[Layer]:
    """A config's text and the chain of bases it names, base-most first, each without its `base` key
    and with its data paths made absolute against its own folder (the first file's only when
    ``folder`` is known; its bases are then found relative to the working directory)."""
    layers: list[Layer] = []
    seen: dict[Path, str] = {path.resolve(): source} if path is not None else {}
    named_by = ""  # "child.yaml:3: base other.yaml" while reading a base
    while True:
        node, raw = read_yaml(text, source)
        raw = {} if raw is None else raw
        if not isinstance(raw, dict):
            got = type(raw).__name__
            raise ConfigError(f"{source}: expected a mapping of sections (data, model, train) at the top, got {got}")
        if named_by and "space" in raw:
            raise ConfigError(f"{named_by}: {source} is a sweep file (it has space); a config's base must be a config")
        base = raw.pop(BASE_KEY, None)
        if folder is not None:
            resolve_paths(raw, folder)
        layers.append(Layer(source, node, raw))
        if base is None:
            return layers[::-1]
        at = f"{source}:{line_of(node, [BASE_KEY])}"
        if not isinstance(base, str) or not base.strip():
            raise ConfigError(f"{at}: base: expected a config path (relative to this file) or null, got {clip(repr(base))}")
        target = expand_home(base)
        target = target if target.is_absolute() or folder is None else folder / target
        shown = os.path.normpath(str(target))
        if target.resolve() in seen:
            files = list(seen.values())
            cycle = [*files[list(seen).index(target.resolve()) :], shown]
            raise ConfigError(f"{at}: base {clip(base)} makes a cycle: {' -> '.join(cycle)} (remove one of these bases)")
        seen[target.resolve()] = shown
        try:
            text = read_file(Path(shown), "base config")
        except ConfigError as e:
            raise ConfigError(f"{at}: base: {e.messages[0]}") from None
        named_by, source, folder = f"{at}: base {clip(base)}", shown, target.parent


def merge_layers(layers: list[Layer]) -> dict:
    """The chain's keys as one config: each file's over its base's."""
    raw: dict = {}
    for layer in layers:
        raw = merged(raw, layer.raw)
    return raw


def layer_of(layers: list[Layer], loc: list[str]) -> Layer:
    """The file that wrote the key at ``loc`` (or most of its path): the one whose value survived
    the merge, the latest of those that wrote it as deeply."""
    found, deepest = layers[-1], -1
    for layer in layers:
        depth, _ = depth_of(layer.node, loc)
        if depth >= deepest:
            found, deepest = layer, depth
    return found


@dataclass(frozen=True)
class Stage:
    """One step of building a config, for telling where each value came from: the keys it wrote in
    order, each as (dotted key, its origin: FILE:LINE or --set), and the raw keys and the validated
    config after it. A config file and its --set are one stage; a sweep's `set` is a second, over the
    base config as it resolved."""

    cfg: BaseModel
    raw: dict
    writes: list[tuple[str, str]]


def layer_writes(layers: list[Layer]) -> list[tuple[str, str]]:
    """Every key the chain's files write, base-most first, each as (dotted key, FILE:LINE)."""
    return [(".".join(path), f"{layer.source}:{line_of(layer.node, path)}") for layer in layers for path in leaf_paths(layer.raw)]


def leaf_paths(value: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The keys a value writes: each leaf of a (non-empty) mapping, else the value's own key."""
    if isinstance(value, dict) and value:
        return [leaf for key, inner in value.items() for leaf in leaf_paths(inner, (*path, str(key)))]
    return [path] if path else []


def origin_of(loc: list[str], stages: list[Stage]) -> str:
    """Where a resolved key's value came from: the origin of the latest write that gave it (the key
    itself, or a value above it that a validator expanded into a section, such as train.mlflow: true),
    or default. A key the schema filled in (absent from the validated config's explicitly set fields,
    as train.mlflow.tracking_uri under train.mlflow: true) is default, whatever wrote above it."""
    dotted = ".".join(loc)
    for stage in reversed(stages):
        if not _explicit(stage.cfg, loc):
            return "default"
        for key, origin in reversed(stage.writes):
            if key == dotted:
                return origin
            if dotted.startswith(key + "."):
                above = _raw_at(stage.raw, loc[: key.count(".") + 1])
                if above is not _ABSENT and not isinstance(above, dict):  # a mapping written there merged
                    return origin
    return "default"


_ABSENT = object()


def _explicit(cfg: BaseModel, loc: list[str]) -> bool:
    """Whether the config's value at ``loc`` was given (by some write), not filled in by the schema."""
    node: Any = cfg
    for part in loc:
        if not isinstance(node, BaseModel):
            return True  # inside a value such as a mapping of class weights: given with it
        if part not in node.model_fields_set:
            return False
        node = getattr(node, part)
    return True


def _raw_at(raw: Any, parts: list[str]) -> Any:
    for part in parts:
        if not isinstance(raw, dict):
            return _ABSENT
        raw = next((v for k, v in raw.items() if str(k) == part), _ABSENT)
    return raw


def annotated_yaml(cfg: BaseModel, stages: list[Stage]) -> str:
    """The resolved config as loadable YAML, each value's line ending in a comment naming its origin."""
    lines: list[str] = []

    def walk(section: dict, path: list[str], indent: str) -> None:
        for key, value in section.items():
            loc = [*path, str(key)]
            if isinstance(value, dict) and value:
                lines.append(f"{indent}{key}:")
                walk(value, loc, indent + "  ")
            else:
                flow = yaml.safe_dump({key: value}, default_flow_style=True, width=2**31, sort_keys=False).strip()
                lines.append(f"{indent}{flow[1:-1]}  # {origin_of(loc, stages)}")

    walk(cfg.model_dump(mode="json"), [], "")
    return "\n".join(lines) + "\n"


def config_json_schema() -> dict[str, Any]:
    """The JSON schema of a config file: the Config schema, and the `base` key loading takes out."""
    schema = Config.model_json_schema()
    schema["properties"] = {
        BASE_KEY: {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None, "description": BASE_DESCRIPTION},
        **schema["properties"],
    }
    return schema
