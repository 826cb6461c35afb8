"""The command-line reference, generated from the Typer app itself: every command, argument and
option, with the value it takes (its choices, as --help shows them), its default, its environment
variable and its help text. Nothing here is typed twice: change a help string in rnnexp/cli.py and
the reference follows (`python docs/gen/gen.py`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _click_app():
    import typer
    from typer._click.core import Context

    from rnnexp.cli import app

    group = typer.main.get_command(app)
    return group, Context(group, info_name="rnnexp")


def commands() -> list[tuple[str, Any, Any]]:
    """(full name, command, context) of every command, in the order `rnnexp --help` lists them;
    a group's own commands follow it."""
    from typer._click.core import Context

    group, root = _click_app()
    found = []

    def walk(cmd, ctx, path: str) -> None:
        for name, sub in cmd.commands.items():
            sub_ctx = Context(sub, info_name=name, parent=ctx)
            found.append((f"{path} {name}", sub, sub_ctx))
            if hasattr(sub, "commands"):
                walk(sub, sub_ctx, f"{path} {name}")

    walk(group, root, "rnnexp")
    return found


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _is_argument(param) -> bool:
    return param.param_type_name == "argument"


def _value(param, ctx) -> str:
    shown = None if _is_argument(param) else param.display_type_rich(ctx)
    return f"`{shown}`" if shown else ""


def _default(param) -> str:
    default = param.default
    if param.required:
        return "required"
    if getattr(param, "is_flag", False) and not param.secondary_opts:
        return ""  # a flag: off unless given
    if default is None or default == [] or default == ():
        return ""
    if isinstance(default, bool):
        return f"`{param.opts[0] if default else param.secondary_opts[0]}`"
    if isinstance(default, Path):
        default = str(default)
    return f"`{default}`"


def _names(param) -> str:
    if _is_argument(param):
        name = param.display_name_raw
        return f"`{name}`" + (" (repeatable)" if param.nargs != 1 else "")
    opts = sorted(param.opts, key=lambda o: (not o.startswith("--"), o))
    shown = ", ".join(f"`{o}`" for o in opts + param.secondary_opts)
    return shown + (" (repeatable)" if param.multiple else "")


def _meaning(param) -> str:
    text = param.help or ""
    if param.envvar:
        text += f" Environment variable: `{param.envvar}`."
    if getattr(param, "min", None) is not None:
        text += f" At least {param.min}."
    return _cell(text.strip())


def command_section(path: str, cmd, ctx) -> str:
    usage = " ".join([path, *cmd.collect_usage_pieces(ctx)])
    lines = [f"### `{path}`", "", _cell(cmd.help or "").strip(), "", "```text", usage, "```", ""]
    params = [p for p in cmd.get_params(ctx) if p.name != "help"]
    if params:
        lines += ["| argument or option | value | default | meaning |", "| --- | --- | --- | --- |"]
        lines += [f"| {_names(p)} | {_value(p, ctx)} | {_default(p)} | {_meaning(p)} |" for p in params]
        lines.append("")
    if hasattr(cmd, "commands"):
        lines += ["Commands: " + ", ".join(f"[`{path} {n}`](#{_slug(f'{path} {n}')})" for n in cmd.commands), ""]
    return "\n".join(lines)


def _slug(heading: str) -> str:
    return heading.replace(" ", "-").lower()


def reference() -> str:
    group, root = _click_app()
    top = [p for p in group.get_params(root) if p.name != "help"]
    lines = [
        "```text",
        " ".join(["rnnexp", *group.collect_usage_pieces(root)]),
        "```",
        "",
        "| option | meaning |",
        "| --- | --- |",
        *[f"| {_names(p)} | {_meaning(p)} |" for p in top],
        "| `-h`, `--help` | Show a command's help and exit (every command). |",
        "",
        "| command | what it does |",
        "| --- | --- |",
        *[f"| [`{path}`](#{_slug(path)}) | {_cell(cmd.help or '').split('. ')[0].rstrip('.')}. |" for path, cmd, _ in commands()],
        "",
    ]
    for path, cmd, ctx in commands():
        lines.append(command_section(path, cmd, ctx))
    return "\n".join(lines)
