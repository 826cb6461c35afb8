"""Regenerate every generated part of the documentation from its source:

    python docs/gen/gen.py           # rewrite what is stale
    python docs/gen/gen.py --check   # only say what is stale (exit 1); make test runs this

- the regions of docs/**/*.md marked `<!-- gen:NAME ARG -->...<!-- /gen -->` (regions.py):
  cli (from the Typer app), config-keys and sweep-keys (from the pydantic schema), bench-table and
  bench (from bench/results/latest.json), recording (the output of real runs, drawn by rnnexp's
  own views), tuning (the tuning guide's tables, from its recorded results), mutation (tools/mutation.py's
  scores);
- README.md, which is docs/index.md with its links made relative to the repository's root: the
  front page of the site and of the repository are one text.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(HERE), str(ROOT)]

import bench_ref  # noqa: E402
import cli_ref  # noqa: E402
import keys_ref  # noqa: E402
import recorded  # noqa: E402
import regions  # noqa: E402

DOCS = ROOT / "docs"
README = ROOT / "README.md"
README_NOTE = "<!-- README.md is docs/index.md, written by docs/gen/gen.py: edit docs/index.md, then run it. -->\n"
LINK = re.compile(r"(\]\(|src=\")(?!https?:|#|/|mailto:)([^)\"]+)")


def produce(name: str, arg: str) -> str:
    if name == "cli":
        return cli_ref.reference()
    if name == "config-keys":
        return keys_ref.config_table()
    if name == "sweep-keys":
        return keys_ref.sweep_table()
    if name == "bench-table":
        return bench_ref.table(arg)
    if name == "bench":
        bench, _, measure = arg.partition(" ")
        return bench_ref.value(bench, measure)
    if name == "recording":
        rec, _, what = arg.partition(" ")
        return recorded.render(rec, what)
    if name == "mutation":
        import mutation_ref

        return mutation_ref.table()
    if name == "tuning":
        import tuning_tables

        return tuning_tables.render(arg)
    raise regions.RegionError(f"no generator named {name!r}")


def readme(index: str) -> str:
    """docs/index.md as README.md: a link to a page of the site becomes a link into docs/."""
    return README_NOTE + LINK.sub(lambda m: f"{m[1]}docs/{m[2]}", index)


def pages() -> list[Path]:
    return [p for p in sorted(DOCS.rglob("*.md")) if HERE not in p.parents]


def expected() -> tuple[dict[Path, str], list[str]]:
    """Every generated file's text as the generators write it now, and the pages that could not be
    generated (a missing recording or benchmark result), each with why."""
    out, problems = {}, []
    for page in pages():
        text = page.read_text(encoding="utf-8")
        try:
            out[page] = regions.fill(text, produce)
        except (regions.RegionError, KeyError, FileNotFoundError) as e:
            problems.append(f"{page.relative_to(ROOT)}: {e}")
    if DOCS / "index.md" in out:
        out[README] = readme(out[DOCS / "index.md"])
    return out, problems


def main(argv: list[str]) -> int:
    check = "--check" in argv
    found, problems = expected()
    stale = []
    for path, text in found.items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(path.relative_to(ROOT))
            if not check:
                path.write_text(text, encoding="utf-8")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if check and stale:
        print(f"stale: {', '.join(map(str, stale))} (run: python docs/gen/gen.py)", file=sys.stderr)
    if not check:
        for path in stale:
            print(f"written: {path}")
    return 1 if problems or (check and stale) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
