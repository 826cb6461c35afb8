"""Config inheritance: `base: other.yaml` at the top of a config, the chain of files it names,
merged below the file's own keys; which file wrote each key (for errors and `validate --print`)."""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError, clip
from .run import Config
from .yamlio import depth_of, line_of, read_file, read_yaml

BASE_KEY = "base"
BASE_DESCRIPTION = (
    "A config this one starts from: a path relative to this file (that config may have a base of its own). Its keys "
    "are merged below this file's: a key written here wins, a section written here merges into the base's key by key, "
    "and a list or any other value replaces the base's whole. null: none. A sweep file is refused. The merged config "
    "is what runs (a run folder's config.yaml has no base)."
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
                path = Path(value).expanduser()
                section[key] = str(path if path.is_absolute() else (base_dir / path).resolve())


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
        target = Path(base).expanduser()
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


def origin_of(loc: list[str], layers: list[Layer], overridden: dict[str, str]) -> str:
    """Where a resolved key's value came from: ``overridden``'s origin for a key set over the files
    (--set, a sweep file's set line), else the FILE:LINE of the chain that wrote it, else default."""
    dotted = ".".join(loc)
    for key, origin in overridden.items():
        if dotted == key or dotted.startswith(key + "."):
            return origin
    for layer in reversed(layers):
        depth, line = depth_of(layer.node, loc)
        if depth == len(loc):
            return f"{layer.source}:{line}"
    return "default"


def annotated_yaml(resolved: dict, layers: list[Layer], overridden: dict[str, str]) -> str:
    """The resolved config as loadable YAML, each value's line ending in a comment naming its origin
    (``overridden``: {dotted key set over the files: the origin to show})."""
    lines: list[str] = []

    def walk(section: dict, path: list[str], indent: str) -> None:
        for key, value in section.items():
            loc = [*path, str(key)]
            if isinstance(value, dict) and value:
                lines.append(f"{indent}{key}:")
                walk(value, loc, indent + "  ")
            else:
                flow = yaml.safe_dump({key: value}, default_flow_style=True, width=2**31, sort_keys=False).strip()
                lines.append(f"{indent}{flow[1:-1]}  # {origin_of(loc, layers, overridden)}")

    walk(resolved, [], "")
    return "\n".join(lines) + "\n"


def config_json_schema() -> dict[str, Any]:
    """The JSON schema of a config file: the Config schema, and the `base` key loading takes out."""
    schema = Config.model_json_schema()
    schema["properties"] = {
        BASE_KEY: {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None, "description": BASE_DESCRIPTION},
        **schema["properties"],
    }
    return schema
