"""What the docs show, as data for the tests that check it: fenced code blocks and inline code.

Every page of docs/ and README.md is read the same way, so a check covers every example wherever
it is written (a tutorial, a how-to, a table cell).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
INLINE = re.compile(r"(?<!`)`(?P<code>[^`\n]+)`(?!`)")
# A block's first line may say why it is not checked: "# not run: needs a GPU".
REASON = re.compile(r"^\s*(?:#|//)\s*not (?:run|checked|a config)\b[^:]*:\s*(?P<why>\S.*)$")


@dataclass
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    lang: str  # the info string's first word: yaml, sh, console, python, text, ...
    text: str  # the content, dedented by the fence's indentation

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def skip_reason(self) -> str | None:
        """Why this block is not checked, when its first line says so ("# not run: ...")."""
        first = self.text.split("\n", 1)[0]
        m = REASON.match(first)
        return m["why"].strip() if m else None


def pages() -> list[Path]:
    """Every page a reader sees: README.md and docs/**/*.md (the generators' own folder aside)."""
    found = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
    return [p for p in found if "gen" not in p.relative_to(ROOT).parts[1:2]]


def blocks(page: Path) -> list[Block]:
    lines = page.read_text(encoding="utf-8").split("\n")
    found, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence = len(m["indent"]), m["fence"]
        lang = (m["info"].strip().split() or [""])[0].strip("{}.")
        body, j = [], i + 1
        while j < len(lines) and not re.match(rf"^\s*{re.escape(fence)}\s*$", lines[j]):
            body.append(lines[j][indent:] if lines[j][:indent].strip() == "" else lines[j])
            j += 1
        found.append(Block(page, i + 1, lang, "\n".join(body)))
        i = j + 1
    return found


def prose(page: Path) -> str:
    """The page without its fenced blocks (inline code stays)."""
    lines = page.read_text(encoding="utf-8").split("\n")
    out, fence = [], None
    for line in lines:
        m = FENCE.match(line)
        if fence is None and m:
            fence = m["fence"]
        elif fence is not None and re.match(rf"^\s*{re.escape(fence)}\s*$", line):
            fence = None
        elif fence is None:
            out.append(line)
        else:
            out.append("")
    return "\n".join(out)


def inline_code(page: Path) -> list[tuple[int, str]]:
    """(line, code) of every inline code span outside fenced blocks."""
    return [(n, m["code"]) for n, line in enumerate(prose(page).split("\n"), 1) for m in INLINE.finditer(line)]
