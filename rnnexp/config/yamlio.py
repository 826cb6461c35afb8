"""Reading YAML text for configs and sweep files: the file, its node tree (for line numbers), and
the checks PyYAML leaves out (repeated keys, alias bombs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError, clip

# A YAML alias may stand for a whole subtree, so a few hundred bytes of anchors can expand to
# billions of values (the "billion laughs"); no config comes near this many.
YAML_NODES_MAX = 100_000


def read_file(path: Path, what: str) -> str:
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


def line_of(node: yaml.Node | None, loc: list[str]) -> int | None:
    """1-based line of the deepest key of ``loc`` present in the YAML document."""
    return depth_of(node, loc)[1]


def depth_of(node: yaml.Node | None, loc: list[str]) -> tuple[int, int | None]:
    """(how many leading parts of ``loc`` the YAML document has, the 1-based line of the deepest)."""
    depth, line = 0, None
    for part in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        for key_node, value_node in node.value:
            if str(key_node.value) == part:
                depth, line, node = depth + 1, key_node.start_mark.line + 1, value_node
                break
        else:
            break
    return depth, line


def value_key(got: Any, parent: list[str], where: str, known: list[str]) -> str:
    """The problem of a mapping key that YAML read as null, true/false, a number or a date where a
    name belongs (``known``: the names that go there, if the schema says), at ``where``."""
    if got is None:
        what = "null (~, null or an empty key)"
    elif isinstance(got, bool):
        what = f"a true/false value ({str(got).lower()})"
    else:
        kind = "a number" if isinstance(got, (int, float)) else f"a {type(got).__name__}"
        what = f"{kind} ({clip(str(got))})"
    place = f"in {clip('.'.join(parent), 120)}" if parent else "at the top level"
    names = f"one of {', '.join(known)}" if known else "a name"
    return (
        f"{where}: a key {place} is read by YAML as {what}, not as a name: write {names} (quote a name that looks like a value)"
    )


def value_key_line(node: yaml.Node | None, parent: list[str]) -> int | None:
    """1-based line of the first key of the mapping at ``parent`` that YAML reads as a value, not text."""
    for part in parent:
        if not isinstance(node, yaml.MappingNode):
            return None
        node = next((v for k, v in node.value if str(k.value) == part), None)
    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:str":
            return key_node.start_mark.line + 1
    return None
