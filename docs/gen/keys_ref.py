"""The config and sweep-file key tables, generated from the pydantic schema: the schema is the
documentation of every key (its description, default, type and bounds), written once in
rnnexp/config/ and shown here, in `rnnexp schema` and in editors."""

from __future__ import annotations

import json
import types
import typing

from rnnexp.config import BASE_DESCRIPTION, Config, ParamSpec, SweepConfig, iter_keys

HEADER = ["| key | default | values | meaning |", "| --- | --- | --- | --- |"]


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
            found.append("list of " + getattr(typing.get_args(a)[0], "__name__", "values"))
        elif origin is dict:
            found.append("mapping")
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


def anchor(key: str) -> str:
    """The id of a key's row, for links such as reference/config.md#train.lr."""
    return key.replace("KEY.", "key.")


def _row(key: str, field) -> str:
    default = "required" if field.is_required() else json.dumps(field.get_default(call_default_factory=True))
    values = "mapping" if key == "space" else allowed(field.annotation) + bounds(field)
    meaning = (field.description or "").replace("|", "\\|")
    return f'| <span id="{anchor(key)}"></span>`{key}` | {default} | {values} | {meaning} |'


def config_keys() -> list[str]:
    """Every dotted key of a run config, in schema order."""
    return [key for key, _ in iter_keys(Config)]


def sweep_keys() -> list[tuple[str, typing.Any]]:
    keys = list(iter_keys(SweepConfig))
    at = next(i for i, (k, _) in enumerate(keys) if k == "space") + 1  # one searched key's fields
    keys[at:at] = list(iter_keys(ParamSpec, "space.KEY."))
    return keys


def config_table() -> str:
    """One table per top-level section, under its own heading, with the section's docstring."""
    keys = list(iter_keys(Config))
    out = ["| key | default | values | meaning |", "| --- | --- | --- | --- |"]
    out += [f'| <span id="base"></span>`base` | null | str \\| null | {BASE_DESCRIPTION} |']
    out += [_row(k, f) for k, f in keys if "." not in k]
    for section, field in Config.model_fields.items():
        sub = [(k, f) for k, f in keys if k.startswith(f"{section}.")]
        if not sub:
            continue
        doc = (typing.get_args(field.annotation) or [field.annotation])[0].__doc__ or ""
        out += ["", f"## `{section}`", "", " ".join(doc.split()), "", *HEADER, *[_row(k, f) for k, f in sub]]
    return "\n".join(out)


def sweep_table() -> str:
    return "\n".join([*HEADER, *[_row(k, f) for k, f in sweep_keys()]])
