"""The documentation cannot drift from the program: README.md and docs/ are checked here.

- the site builds with `mkdocs build --strict` (a broken link or anchor fails it);
- every generated part equals what its generator writes now (docs/gen/gen.py --check);
- every YAML config shown validates, every `rnnexp ...` command line shown parses against the CLI,
  every console example prints what it shows, every Python block runs (or says why not on its
  first line), every dotted config key named exists, and no benchmark figure is typed by hand.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

sys.path.insert(0, str(ROOT / "docs" / "gen"))

import blocks  # noqa: E402
import regions  # noqa: E402

PAGES = blocks.pages()
BIN = Path(sys.executable).parent


def _ids(items):
    return [getattr(i, "where", str(i)) for i in items]


def all_blocks(*langs: str) -> list[blocks.Block]:
    return [b for page in PAGES for b in blocks.blocks(page) if b.lang in langs]


# -- the front door ---------------------------------------------------------------------------


def test_readme_is_the_short_front_door_and_is_docs_index():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines (at most 150)"
    assert "docs/index.md" in lines[0]  # written from the site's home page (gen.py)


def test_generated_docs_are_fresh():
    proc = subprocess.run([sys.executable, str(ROOT / "docs" / "gen" / "gen.py"), "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_site_builds_strict(tmp_path):
    """mkdocs-material, offline: a broken link, anchor or nav entry is an error (validation: in mkdocs.yml)."""
    proc = subprocess.run(
        [str(BIN / "mkdocs"), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # Material's banner about its successor, not about these docs
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "reference" / "cli" / "index.html").is_file()


# -- the references are generated from the code ------------------------------------------------


def test_cli_reference_lists_every_command_rnnexp_help_lists():
    from typer.testing import CliRunner

    from rnnexp.cli import app

    page = (ROOT / "docs" / "reference" / "cli.md").read_text()
    runner = CliRunner()
    listed = []
    for group in ([], ["sweep"]):
        help_text = runner.invoke(app, [*group, "--help"], env={"COLUMNS": "200"}).output
        commands = help_text.split("Commands")[1]
        listed += [" ".join(["rnnexp", *group, m[1]]) for m in re.finditer(r"^\W*([a-z][a-z-]+)\s{2,}", commands, re.M)]
    assert len(listed) >= 17
    for command in listed:
        assert f"### `{command}`" in page, f"{command} is missing from docs/reference/cli.md"


def test_key_reference_lists_every_key_of_the_schema():
    from rnnexp.config import SweepConfig, iter_keys

    config_page = (ROOT / "docs" / "reference" / "config.md").read_text()
    sweep_page = (ROOT / "docs" / "reference" / "sweep-file.md").read_text()
    for key in [k for k, _ in iter_keys()]:
        assert f'<span id="{key}"></span>`{key}`' in config_page, key
    for key in [k for k, _ in iter_keys(SweepConfig)]:
        assert f'<span id="{key}"></span>`{key}`' in sweep_page, key


# -- YAML configs shown validate ---------------------------------------------------------------

YAML_BLOCKS = all_blocks("yaml", "yml")


def _yaml_header(block: blocks.Block) -> dict[str, str]:
    """Directives on a YAML block's first comment lines: `# file: NAME` (where the example puts it)."""
    found = {}
    for line in block.text.split("\n"):
        m = re.match(r"^#\s*(file):\s*(\S+)", line)
        if not line.startswith("#"):
            break
        if m:
            found[m[1]] = m[2]
    return found


@pytest.fixture
def sandbox(tmp_path, monkeypatch) -> Path:
    """A working folder as a reader's clone has it: configs/ beside an empty runs/."""
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    (tmp_path / "runs").mkdir()
    monkeypatch.setenv("RNNEXP_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("block", YAML_BLOCKS, ids=_ids(YAML_BLOCKS))
def test_yaml_config_shown_validates(block, sandbox):
    if block.skip_reason is not None:
        assert block.skip_reason, f"{block.where}: say why the block is not checked"
        return
    if re.match(r"^# (configs/[\w.-]+\.yaml)\b", block.text):
        return  # an excerpt of a shipped config: test_shipped_config_excerpts_match_the_files checks it
    from rnnexp.config import is_sweep_file, load_config, load_sweep

    data = yaml.safe_load(block.text)
    assert isinstance(data, dict), f"{block.where}: not a YAML mapping"
    # A fragment (a section or two, shown where its keys are explained) is checked on the
    # quickstart config, which gives it data to train on.
    fragment = not ({"base", "space"} & set(data)) and not {"dataset", "train_file"} & set(data.get("data") or {})
    text = ("base: quickstart.yaml\n" if fragment else "") + block.text
    path = sandbox / _yaml_header(block).get("file", "configs/_example.yaml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if is_sweep_file(path):
        load_sweep(path, [])
    else:
        load_config(path, [])


def test_shipped_config_excerpts_match_the_files():
    """A block that says it shows a shipped config (`# configs/NAME.yaml` on its first line) shows
    the file's lines, in the file's order."""
    for block in YAML_BLOCKS:
        m = re.match(r"^# (configs/[\w.-]+\.yaml)\b", block.text)
        if not m:
            continue
        shipped = (ROOT / m[1]).read_text().splitlines()
        shown = [ln for ln in block.text.splitlines()[1:] if ln.strip() and ln.strip() != "..."]
        at = 0
        for line in shown:
            assert line in shipped[at:], f"{block.where}: {line!r} is not in {m[1]} (or not in its order)"
            at = shipped.index(line, at) + 1


# -- command lines shown parse ----------------------------------------------------------------

_SEPARATORS = {"|", "||", "&&", "&", ";", "(", ")", "$(", "`"}
_PLACEHOLDER = re.compile(r"^(?:[A-Z][A-Z0-9_]*(?:[=.,:/-][A-Z0-9_.,:/-]*)*|\.\.\.|<[^>]+>|\$\w+|\"\$\w+\")$")


def command_lines(text: str) -> list[list[str]]:
    """Every `rnnexp ...` invocation in a shell text, as its argument tokens (after rnnexp)."""
    text = re.sub(r"\\\n", " ", text)
    found = []
    for line in text.split("\n"):
        line = re.sub(r"^\s*\$ ", "", line)
        if "rnnexp" not in line or line.lstrip().startswith("#"):
            continue
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split, lexer.commenters = True, "#"
        try:
            tokens = list(lexer)
        except ValueError:
            tokens = line.split()
        segment: list[str] = []
        tokens = _without_redirections(tokens)
        for token in [*tokens, ";"]:
            if token in _SEPARATORS or set(token) <= set("|&;()"):
                names = [i for i, t in enumerate(segment) if t == "rnnexp" or t.endswith("/rnnexp")]
                if names:
                    found.append(segment[names[0] + 1 :])
                segment = []
            else:
                segment.append(token)
    return found


def _without_redirections(tokens: list[str]) -> list[str]:
    """The tokens without shell redirections (`> out.json`, `2>&1`, `< in.txt`): not arguments."""
    out: list[str] = []
    skip = False
    for token in tokens:
        if skip:
            skip = False
            continue
        if set(token) <= set("<>&") and set(token) & set("<>"):
            if out and out[-1].isdigit():
                out.pop()  # the file descriptor: 2>&1
            skip = True  # the target
            continue
        out.append(token)
    return out


def check_command(args: list[str]) -> str | None:
    """None when the arguments parse against rnnexp's CLI, else what is wrong. Values in capitals
    (RUN_DIR, K=V, N) are placeholders."""
    import typer
    from typer._click.core import Context

    from rnnexp.cli import app

    cmd = typer.main.get_command(app)
    ctx = Context(cmd, info_name="rnnexp")
    args = [a for a in args if a not in ("[", "]", "...") and not re.fullmatch(r"\[?\.\.\.\]?", a)]
    args = [a.strip("[]") if a.startswith("[") else a for a in args]
    i = 0
    while hasattr(cmd, "commands"):
        if i >= len(args) or args[i] in ("-h", "--help", "--version"):
            return None
        if args[i] == "COMMAND":
            return None
        if args[i] in cmd.commands:
            cmd = cmd.commands[args[i]]
            ctx = Context(cmd, info_name=args[i], parent=ctx)
            i += 1
        elif cmd.name == "sweep" and not args[i].startswith("-"):
            cmd, ctx = cmd.commands["run"], Context(cmd.commands["run"], info_name="run", parent=ctx)
        else:
            return f"no command {args[i]!r} (rnnexp {' '.join(args[:i])})"
    params = [p for p in cmd.get_params(ctx) if p.name != "help"]
    options = {o: p for p in params if p.param_type_name == "option" for o in [*p.opts, *p.secondary_opts]}
    arguments = [p for p in params if p.param_type_name == "argument"]
    positional = 0
    rest = args[i:]
    j = 0
    while j < len(rest):
        token = rest[j]
        j += 1
        if token in ("-h", "--help"):
            continue
        if token.startswith("-") and token != "-" and not _PLACEHOLDER.match(token):
            name, eq, value = token.partition("=")
            p = options.get(name)
            if p is None:
                return f"{cmd.name} has no option {name}"
            if p.is_flag:
                continue
            if not eq:
                if j >= len(rest):
                    return f"{name} needs a value"
                value, j = rest[j], j + 1
            problem = _check_value(p, value, ctx)
            if problem:
                return f"{name} {value}: {problem}"
        else:
            positional += 1
    most = sum(1 if a.nargs == 1 else 10**6 for a in arguments)
    if positional > most:
        return f"{cmd.name} takes at most {most} arguments, got {positional}: {rest}"
    return None


def _check_value(param, value: str, ctx) -> str | None:
    if _PLACEHOLDER.match(value):
        return None
    choices = param.type_descriptor.choices if param.type_descriptor.is_choice else None
    if choices:
        names = [str(getattr(c, "value", c)) for c in choices]
        return None if value in names else f"not one of {names}"
    kind = param.type_descriptor.annotation
    for number in (int, float):
        if kind is number or kind == number | None:
            try:
                number(value)
            except ValueError:
                return f"not a {number.__name__}"
    return None


SHELL_BLOCKS = all_blocks("sh", "bash", "shell", "console")


@pytest.mark.parametrize("block", SHELL_BLOCKS, ids=_ids(SHELL_BLOCKS))
def test_command_lines_shown_parse(block):
    text = block.text
    if block.lang == "console":  # the commands, not what they print
        text = "\n".join(line for line in text.split("\n") if line.startswith("$ "))
    for args in command_lines(text):
        assert check_command(args) is None, f"{block.where}: rnnexp {' '.join(args)}: {check_command(args)}"


def test_inline_command_lines_parse():
    problems = []
    for page in PAGES:
        for line, code in blocks.inline_code(page):
            if re.match(r"^rnnexp [a-z-]", code):
                for args in command_lines(code):
                    if (why := check_command(args)) is not None:
                        problems.append(f"{page.relative_to(ROOT)}:{line}: `{code}`: {why}")
    assert not problems, "\n".join(problems)


def test_the_command_checker_catches_what_it_must():
    assert check_command(["train", "configs/quickstart.yaml", "--set", "train.lr=0.01", "--quiet"]) is None
    assert check_command(["sweep", "configs/sweep_quick.yaml", "--workers", "2"]) is None  # sweep FILE = sweep run FILE
    assert check_command(["evaluate", "RUN_DIR", "--checkpoint", "best", "--gate", "baseline"]) is None
    assert check_command(["evaluate", "RUN", "--checkpoint", "newest"]) is not None
    assert check_command(["train", "x.yaml", "--sett", "a=1"]) is not None
    assert check_command(["traim", "x.yaml"]) is not None
    assert check_command(["resume", "RUN", "--epochs", "three"]) is not None
    assert check_command(["compare", "A", "B", "C"]) is None
    assert check_command(["resume", "A", "B"]) is not None
    assert command_lines('run=$(rnnexp train c.yaml --json | jq -r .run_dir) && rnnexp evaluate "$run"') == [
        ["train", "c.yaml", "--json"],
        ["evaluate", "$run"],
    ]


# -- console examples print what they show ----------------------------------------------------

CONSOLE_BLOCKS = all_blocks("console")


def console_steps(text: str) -> list[tuple[str, list[str]]]:
    steps: list[tuple[str, list[str]]] = []
    for line in text.split("\n"):
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps:
            steps[-1][1].append(line)
    return steps


def matches(shown: list[str], printed: list[str]) -> bool:
    """The printed lines against the shown ones: a line `...` stands for any lines, and `...`
    inside a line for any text."""
    while shown and not shown[-1].strip():
        shown = shown[:-1]
    pattern = "".join(
        "(?:.*\\n)*?" if line.strip() == "..." else ".*".join(map(re.escape, line.rstrip().split("..."))) + "\\n"
        for line in shown
    )
    return re.fullmatch(pattern, "".join(line.rstrip() + "\n" for line in printed)) is not None


@pytest.mark.parametrize("block", CONSOLE_BLOCKS, ids=_ids(CONSOLE_BLOCKS))
def test_console_examples_print_what_they_show(block, sandbox):
    if block.skip_reason is not None:
        assert block.skip_reason, f"{block.where}: say why the block is not run"
        return
    for yaml_block in blocks.blocks(block.page):  # files the page shows first (`# file: NAME`)
        if yaml_block.lang in ("yaml", "yml") and (name := _yaml_header(yaml_block).get("file")):
            (sandbox / name).parent.mkdir(parents=True, exist_ok=True)
            (sandbox / name).write_text(yaml_block.text)
    # stdout and stderr in one stream, in the order they were written, as a terminal shows them
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "NO_COLOR": "1", "COLUMNS": "200"}
    env["PYTHONUNBUFFERED"] = "1"
    for command, shown in console_steps(block.text):
        run = dict(cwd=sandbox, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
        printed = subprocess.run(["bash", "-c", command], **run).stdout.splitlines()
        assert matches(shown, printed), (
            f"{block.where}: $ {command}\nshown:\n" + "\n".join(shown) + "\nprinted:\n" + "\n".join(printed)
        )


def test_console_matching():
    assert matches(["ok: a", "..."], ["ok: a", "x", "y"])
    assert matches(
        ["error: x.yaml:4: ... (did you mean model.num_neurons?)"],
        ["error: x.yaml:4: unknown key (did you mean model.num_neurons?)"],
    )
    assert not matches(["ok: a"], ["ok: b"])
    assert not matches(["ok: a"], ["ok: a", "more"])


# -- Python blocks run -------------------------------------------------------------------------

PYTHON_PAGES = sorted({b.page for b in all_blocks("python", "py")})


@pytest.mark.slow
@pytest.mark.parametrize("page", PYTHON_PAGES, ids=[str(p.relative_to(ROOT)) for p in PYTHON_PAGES])
def test_python_blocks_run(page, sandbox):
    """The Python blocks of a page run in order in one namespace, as in a notebook, from a folder
    holding configs/ (a block whose first line says `# not run: why` is skipped, and says why)."""
    namespace: dict = {"__name__": "__docs__"}
    for block in [b for b in blocks.blocks(page) if b.lang in ("python", "py")]:
        if block.skip_reason is not None:
            assert block.skip_reason
            continue
        exec(compile(block.text, block.where, "exec"), namespace)  # noqa: S102


# -- names and figures -------------------------------------------------------------------------

_EXTENSIONS = {"pt", "onnx", "json", "csv", "py", "yaml", "png", "md", "db", "log", "txt"}
_KEY = re.compile(r"(?<![\w./-])(?:data|model|train)(?:\.[a-z_][a-z0-9_]*)+")


def dotted_keys(text: str) -> list[str]:
    """Dotted names of config keys in a text (model.pt, data.py and calls such as model.eval() are
    files and code, not keys)."""
    return [
        m[0]
        for m in _KEY.finditer(text)
        if m[0].rsplit(".", 1)[1] not in _EXTENSIONS and text[m.end() : m.end() + 1] not in ("(", "/")
    ]


def known_keys() -> set[str]:
    from rnnexp.config import iter_keys

    keys = {k for k, _ in iter_keys()}
    return keys | {".".join(k.split(".")[:n]) for k in keys for n in range(1, k.count(".") + 1)}


def test_every_dotted_config_key_named_exists():
    known, problems = known_keys(), []
    for page in [*PAGES, *sorted((ROOT / "configs").glob("*.yaml"))]:
        text = page.read_text()
        if page.suffix == ".md":
            text = "\n".join(b.text if b.lang not in ("python", "py") else "" for b in blocks.blocks(page)) + blocks.prose(page)
        for key in dotted_keys(text):
            if key not in known:
                problems.append(f"{page.relative_to(ROOT)}: {key}")
    assert not problems, "no such config key:\n" + "\n".join(sorted(set(problems)))


def test_dotted_key_finder():
    assert dotted_keys("set `train.lr` and model.num_neurons; see model.pt and data.py") == ["train.lr", "model.num_neurons"]
    assert dotted_keys("--set train.early_stopping.monitor=val_f1") == ["train.early_stopping.monitor"]
    assert dotted_keys("train.l1 and train.l2") == ["train.l1", "train.l2"]


_FIGURE = re.compile(r"\d\.\d|\d+(?:\.\d+)?x\b|\d+ ?%")
_BENCH = re.compile(r"bench/\w+\.py|make bench|\bbenchmark", re.I)


def test_no_benchmark_figure_is_typed():
    """A paragraph that quotes a benchmark takes its figures from bench/results/latest.json through
    a generated region (<!-- gen:bench NAME MEASURE -->); a figure typed next to a benchmark's name
    would go stale at the next `make bench`."""
    problems = []
    for page in PAGES:
        for paragraph in regions.outside(blocks.prose(page)).split("\n\n"):
            if _BENCH.search(paragraph) and _FIGURE.search(paragraph):
                problems.append(f"{page.relative_to(ROOT)}: {paragraph.strip()[:200]!r}")
    assert not problems, "figures typed beside a benchmark (use <!-- gen:bench ... -->):\n" + "\n".join(problems)


# -- shipped configs and code point into the docs, and say what is true ------------------------


def anchors(page: Path) -> set[str]:
    """The ids a page's headings and <span id> get (mkdocs' own slugs)."""
    from markdown.extensions.toc import slugify

    text = blocks.prose(page)
    found = {slugify(re.sub(r"[`*]", "", m[1]), "-") for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*$", text, re.M)}
    return found | set(re.findall(r'id="([^"]+)"', text))


_DOC_REF = re.compile(r"docs/([\w/.-]+\.md)(?:#([\w.-]+))?")


def test_references_into_the_docs_exist():
    """configs/, the code and the build files name docs pages (and headings) that exist; none
    sends a reader to a section of README, which is only the front door now."""
    sources = [*sorted((ROOT / "configs").glob("*.yaml")), *sorted((ROOT / "rnnexp").rglob("*.py")), ROOT / "Makefile"]
    sources += [ROOT / ".ci" / "run", *sorted((ROOT / "bench").glob("*.py"))]
    problems = []
    for source in sources:
        text = source.read_text()
        if "README" in text and source.parent.name in ("configs", "rnnexp"):
            problems.append(f"{source.relative_to(ROOT)}: names README (point to the page of docs/ instead)")
        for m in _DOC_REF.finditer(text):
            page = ROOT / "docs" / m[1]
            if not page.is_file():
                problems.append(f"{source.relative_to(ROOT)}: docs/{m[1]} does not exist")
            elif m[2] and m[2] not in anchors(page):
                problems.append(f"{source.relative_to(ROOT)}: docs/{m[1]} has no heading #{m[2]}")
    assert not problems, "\n".join(problems)


def _flat(mapping: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in mapping.items():
        if isinstance(value, dict) and f"{prefix}{key}" != "train.class_weight":
            keys |= _flat(value, f"{prefix}{key}.")
        else:
            keys.add(f"{prefix}{key}")
    return keys


def test_csv_files_yaml_spells_out_every_data_key_of_text_files():
    from rnnexp.config import iter_keys

    shown = _flat(yaml.safe_load((ROOT / "configs" / "csv_files.yaml").read_text()))
    other_tasks = ("forecasting", "sequence_classification")
    wanted = {k for k, f in iter_keys() if k.startswith("data.") and not (f.description or "").startswith(other_tasks)}
    assert not wanted - shown, f"configs/csv_files.yaml lacks {sorted(wanted - shown)}"


def test_tuning_yaml_uses_every_knob_the_tuning_knobs_page_names():
    """configs/tuning.yaml shows every model key and every key docs/how-to/tuning-knobs.md names."""
    from rnnexp.config import iter_keys

    shown = _flat(yaml.safe_load((ROOT / "configs" / "tuning.yaml").read_text()))
    leaves = {k for k, _ in iter_keys()}
    page = ROOT / "docs" / "how-to" / "tuning-knobs.md"
    named = {k for k in dotted_keys(page.read_text()) if k in leaves}
    named |= {k for k in leaves if k.startswith("model.")}
    sections = {k.rsplit(".", 1)[0] for k in shown}  # a section in use (lr_schedule) need not list every key
    missing = {k for k in named - shown if not (k.rsplit(".", 1)[0] in sections and k.startswith("train.lr_schedule."))}
    missing -= {"data.dataset", "data.train_file", "train.device", "train.precision"}  # where the data is, where it trains
    assert not missing, f"configs/tuning.yaml lacks {sorted(missing)}"


def test_config_comments_quote_no_timing():
    """How long a knob takes is a benchmark's figure (docs/benchmarks.md), not a config comment's."""
    problems = [
        f"{path.name}:{n}: {line.strip()}"
        for path in sorted((ROOT / "configs").glob("*.yaml"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if "#" in line
        and re.search(r"\b(time|faster|slower|speed|cost)", line.split("#", 1)[1])
        and re.search(r"\d(?:\.\d+)?x\b", line.split("#", 1)[1])
    ]
    assert not problems, "\n".join(problems)


def test_the_python_the_docs_ask_for_is_the_one_pyproject_requires():
    """ "Python 3.N or later" anywhere in the docs says what requires-python says (pyproject.toml)."""
    import tomllib

    required = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    lowest = re.fullmatch(r">=\s*(3\.\d+)", required)[1]
    claims = [
        (page.relative_to(ROOT), m[1])
        for page in PAGES
        for m in re.finditer(r"Python (3\.\d+)(?:\.\d+)? or (?:later|newer)", page.read_text())
    ]
    assert claims, "the docs say nowhere which Python rnnexp needs"
    assert all(version == lowest for _, version in claims), f"requires-python is {required}: {claims}"


def test_the_forecasting_how_to_reads_its_weather_recording_as_it_says():
    """how-to/forecasting.md, below the weather's evaluate: over days 1 to 3 together the ridge edges
    out the recorded run, which is better one day ahead, and the verdict names the ridge."""
    report = json.loads((ROOT / "docs" / "gen" / "recordings" / "weather.json").read_text())["evaluate"]["result"]
    ridge = report["baselines"]["linear_ar"]
    assert ridge["mae"] < report["mae"] and report["per_step"][0]["mae"] < ridge["per_step"][0]["mae"]
    assert min(b["mae"] for b in report["baselines"].values()) == ridge["mae"]
    assert "the ridge on the window edges out this run" in (ROOT / "docs" / "how-to" / "forecasting.md").read_text()
