"""Regenerate the config table in README.md from the schema: python tests/readme_keys.py

test_config.py checks that every key's row in README carries the schema's description.
"""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path

from rnnexp.config import iter_keys

README = Path(__file__).resolve().parents[1] / "README.md"
HEADER = "| key | default | values | meaning |"


def allowed(annotation) -> str:
    found: list[str] = []

    def walk(a) -> None:
        origin = typing.get_origin(a)
        if origin is typing.Literal:
            found.extend(str(v) for v in typing.get_args(a))
        elif origin in (typing.Union, types.UnionType):
            for arg in typing.get_args(a):
                walk(arg)
        elif a is type(None):
            found.append("null")
        elif origin is list:
            found.append("list of " + typing.get_args(a)[0].__name__)
        else:
            found.append(getattr(a, "__name__", str(a)))

    walk(annotation)
    return " \\| ".join(found)


def table() -> str:
    rows = [HEADER, "| --- | --- | --- | --- |"]
    for key, field in iter_keys():
        default = "required" if field.is_required() else json.dumps(field.default)
        rows.append(f"| `{key}` | {default} | {allowed(field.annotation)} | {field.description} |")
    return "\n".join(rows)


if __name__ == "__main__":
    text = README.read_text()
    start = text.index(HEADER)
    end = text.index("\n\n", start)
    README.write_text(text[:start] + table() + text[end:])
