"""Generated regions inside hand-written pages.

A page marks what a generator writes with a pair of HTML comments, which Markdown renders as
nothing:

    <!-- gen:cli -->
    ...written by the generator named "cli"...
    <!-- /gen -->

or inline, inside a sentence: `the scan is <!-- gen:bench cells gru E32/T100 -->1.4<!-- /gen -->x
faster`. Everything between the two markers belongs to the generator; the rest of the page is
prose. `fill` rewrites the regions of one text; a page whose regions are already what their
generators write now comes back unchanged (the freshness test is exactly that).
"""

from __future__ import annotations

import re
from collections.abc import Callable

START = re.compile(r"<!-- gen:(?P<name>[^ >]+)(?: (?P<arg>[^>]*?))? -->")
END = "<!-- /gen -->"


class RegionError(ValueError):
    """A region that is not closed, or names no known generator."""


def regions(text: str) -> list[tuple[str, str, int, int]]:
    """(name, argument, start of content, end of content) for every region of the text, in order."""
    found, pos = [], 0
    while (m := START.search(text, pos)) is not None:
        end = text.find(END, m.end())
        if end < 0:
            line = text.count("\n", 0, m.start()) + 1
            raise RegionError(f"line {line}: <!-- gen:{m['name']} --> is never closed by {END}")
        found.append((m["name"], m["arg"] or "", m.end(), end))
        pos = end + len(END)
    return found


def fill(text: str, produce: Callable[[str, str], str]) -> str:
    """The text with every region's content replaced by what ``produce(name, argument)`` writes. A
    region whose opening marker ends its line is a block (its content sits on lines of its own);
    any other is inline."""
    out, last = [], 0
    for name, arg, start, end in regions(text):
        content = produce(name, arg)
        block = text[start : start + 1] == "\n"
        out += [text[last:start], f"\n{content.strip(chr(10))}\n" if block else content.strip()]
        last = end
    return "".join(out) + text[last:]


def outside(text: str) -> str:
    """The text with every region's content removed: the hand-written part of a page."""
    out, last = [], 0
    for _, _, start, end in regions(text):
        out.append(text[last:start])
        last = end
    return "".join(out) + text[last:]
