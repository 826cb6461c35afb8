"""Regenerate the key tables in README.md (config and sweep file) from the schema:

    python tests/readme_keys.py

test_config.py checks that README holds exactly these tables.
"""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path

from rnnexp.config import Config, ParamSpec, SweepConfig, iter_keys

README = Path(__file__).resolve().parents[1] / "README.md"
HEADER = "| key | default | values | meaning |"
SWEEP_HEADER = "| sweep key | default | values | meaning |"


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


def bounds(field) -> str:
    """The field's range as the schema enforces it: " in [1, 65,536]", " in [0.0, 1.0)", " > 0"."""
    found = {}
    for m in field.metadata:
        for attr in ("ge", "gt", "le", "lt"):
            value = getattr(m, attr, None)
            if value is not None:
                big = abs(value) >= 10_000 and float(value).is_integer()
                found[attr] = f"{int(value):,}" if big else str(value)
    low = ("[", found["ge"]) if "ge" in found else ("(", found["gt"]) if "gt" in found else None
    high = (found["le"], "]") if "le" in found else (found["lt"], ")") if "lt" in found else None
    if low and high:
        return f" in {low[0]}{low[1]}, {high[0]}{high[1]}"
    if low:
        return f" {'≥' if low[0] == '[' else '>'} {low[1]}"
    if high:
        return f" {'≤' if high[1] == ']' else '<'} {high[0]}"
    return ""


def table(model=Config, header: str = HEADER) -> str:
    rows = [header, "| --- | --- | --- | --- |"]
    keys = list(iter_keys(model))
    if model is SweepConfig:  # the fields of one searched key, after `space` itself
        at = next(i for i, (k, _) in enumerate(keys) if k == "space") + 1
        keys[at:at] = list(iter_keys(ParamSpec, "space.KEY."))
    for key, field in keys:
        default = "required" if field.is_required() else json.dumps(field.get_default(call_default_factory=True))
        values = "mapping" if key == "space" else allowed(field.annotation) + bounds(field)
        rows.append(f"| `{key}` | {default} | {values} | {field.description} |")
    return "\n".join(rows)


def tables() -> list[tuple[str, str]]:
    return [(HEADER, table()), (SWEEP_HEADER, table(SweepConfig, SWEEP_HEADER))]


if __name__ == "__main__":
    text = README.read_text()
    for header, generated in tables():
        start = text.index(header)
        end = text.index("\n\n", start)
        text = text[:start] + generated + text[end:]
    README.write_text(text)
