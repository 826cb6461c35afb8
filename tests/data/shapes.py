"""Shapes real data files come in, written by the tests (tests/test_readers.py writes each one to a
temporary folder and reads it). Each shape is read exactly, or refused in one line naming the
file's true line (a record with a quoted line break spans several lines).

A shape: the file's name, its bytes, the data config keys it needs, and what to expect:
``texts`` (when given) are the texts a reader must return, hand-written; ``refused`` is
(line, fragment of the message), or None when the file must be read.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# What str.splitlines() splits at besides \n and \r: none of them ends a CSV record or a JSONL line.
SPLITLINES_BREAKS = ["\u2028", "\u2029", "\u0085", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"]


@dataclass
class Shape:
    name: str
    content: bytes
    config: dict = field(default_factory=dict)
    texts: list[str] | None = None
    refused: tuple[int, str] | None = None


def _u(text: str) -> bytes:
    return text.encode("utf-8")


def _big(rows: int = 100_000, end: str = "\r\n") -> bytes:
    """A 100,000-row CSV with every hard case mixed in: quoted newlines and CRLFs, doubled quotes,
    delimiters in quotes, Unicode line separators, non-ASCII words, empty texts. With ``end``
    "\\n", no carriage return anywhere (the shape the pyarrow reader takes)."""
    rng = random.Random(4180)
    words = ["good", "bad", "café", "naïve", "日本", "ok", "don't", "x"]
    pieces = ["\n", end, '"', ",", *SPLITLINES_BREAKS, " "]
    lines = [f"text,label{end}"]
    for i in range(rows):
        text = "".join(rng.choice(words) + rng.choice(pieces) for _ in range(rng.randint(0, 6)))
        quoted = '"' + text.replace('"', '""') + '"'
        plain = text if not any(c in text for c in '\n\r",') else quoted
        lines.append(f"{rng.choice([plain, quoted])},{i % 3}{end}")
    return _u("".join(lines))


SHAPES = [
    Shape(
        "quoted_newlines.csv",
        _u('text,label\n"great\nfood",1\n"bad\r\nservice",0\n"two\n\nblank",1\nplain,0\n'),
        texts=["great\nfood", "bad\r\nservice", "two\n\nblank", "plain"],
    ),
    Shape("crlf.csv", _u('text,label\r\n"multi\r\nline",1\r\nplain,0\r\n'), texts=["multi\r\nline", "plain"]),
    Shape("mixed_line_ends.csv", _u("text,label\na,1\r\nb,0\nc,1\r\n"), texts=["a", "b", "c"]),
    Shape("old_mac_cr.csv", _u("text,label\ra,1\rb,0\r"), texts=["a", "b"]),
    Shape("bom.csv", _u("\ufefftext,label\nhello,1\nbye,0\n"), texts=["hello", "bye"]),
    Shape(
        "unicode_breaks.csv",
        _u("text,label\n" + "".join(f'"q{c}q",1\nu{c}u,0\n' for c in SPLITLINES_BREAKS)),
        texts=[t for c in SPLITLINES_BREAKS for t in (f"q{c}q", f"u{c}u")],
    ),
    Shape("doubled_quotes.csv", _u('text,label\n"He said ""hi""",1\n"""",0\n'), texts=['He said "hi"', '"']),
    Shape("quoted_delimiters.csv", _u('text,label\n"a, b, c",1\n",",0\n'), texts=["a, b, c", ","]),
    Shape("quote_inside_plain_field.csv", _u('text,label\nsay "hi" now,1\nok,0\n'), texts=['say "hi" now', "ok"]),
    Shape("blank_lines.csv", _u("text,label\n\na,1\n\n\nb,0\n\n"), texts=["a", "b"]),
    Shape("headerless.csv", _u("a,1\nb,0\n"), {"columns": ["text", "label"]}, texts=["a", "b"]),
    Shape("latin1.csv", "text,label\ncafé,1\nnaïve,0\n".encode("latin-1"), {"encoding": "latin-1"}, texts=["café", "naïve"]),
    Shape(
        "cp1252.csv",
        "text,label\n\u201cquoted\u201d \u20ac5,1\nplain,0\n".encode("cp1252"),
        {"encoding": "cp1252"},
        texts=["\u201cquoted\u201d \u20ac5", "plain"],
    ),
    Shape("utf16.csv", "text,label\nhé,1\nho,0\n".encode("utf-16"), {"encoding": "utf-16"}, texts=["hé", "ho"]),
    Shape("tsv_quotes_are_text.tsv", _u('text\tlabel\n"quoted" word\t1\nit\'s\t0\n'), texts=['"quoted" word', "it's"]),
    Shape("big.csv", _big()),
    Shape("big_lf.csv", _big(end="\n")),
    Shape(
        "u2028.jsonl",
        _u('{"text": "a\u2028b", "label": 1}\n{"text": "c\u0085d", "label": 0}\n'),
        texts=["a\u2028b", "c\u0085d"],
    ),
    Shape("crlf.jsonl", _u('{"text": "x", "label": 1}\r\n\r\n{"text": "y", "label": 0}\r\n'), texts=["x", "y"]),
    Shape("cr_between_tokens.jsonl", _u('{"text":\r"x", "label": 1}\n{"text": "y", "label": 0}'), texts=["x", "y"]),
    Shape(
        "latin1.jsonl",
        '{"text": "café", "label": 1}\n{"text": "b", "label": 0}\n'.encode("latin-1"),
        {"encoding": "latin-1"},
        texts=["café", "b"],
    ),
    # refused, at the true line
    Shape(
        "latin1_read_as_utf8.csv",
        "text,label\nok,1\ncafé,1\n".encode("latin-1"),
        refused=(3, ":3:4: byte 0xe9 is not valid utf-8"),
    ),
    Shape("duplicate_header.csv", _u("text,label,text\na,1,b\n"), refused=(1, "columns 1 and 3 are both named 'text'")),
    Shape("unclosed_quote.csv", _u('text,label\nok,1\n"never closed,0\nmore,1\n'), refused=(3, "a quoted field is never closed")),
    Shape("text_after_closing_quote.csv", _u('text,label\nok,1\n"abc"def,1\n'), refused=(3, "cannot parse CSV")),
    Shape("ragged_after_multiline.csv", _u('text,label\n"a\nb\nc",1\nd,0,extra\n'), refused=(5, "expected 2 fields")),
    Shape("short_row.csv", _u("text,label\na,1\nno label here\n"), refused=(3, "expected 2 fields")),
    Shape("ragged_after_u2028.csv", _u('text,label\n"a\u2028b",1\nc,0,x\n'), refused=(3, "expected 2 fields")),
    Shape("empty_label_after_multiline.csv", _u('text,label\n"a\nb",1\nc,\n'), refused=(4, "empty label")),
    Shape(
        "missing_text_key.jsonl",
        _u('{"text": "a", "label": 1}\n\n{"label": 0}\n'),
        refused=(3, "no key 'text' (data.text_column)"),
    ),
    Shape(
        "missing_label_key.jsonl",
        _u('{"text": "a", "label": 1}\n{"text": "b"}\n'),
        refused=(2, "no key 'label' (data.label_column)"),
    ),
    Shape("null_text.jsonl", _u('{"text": null, "label": 1}\n'), refused=(1, "is null, not a text")),
    Shape("broken.jsonl", _u('{"text": "a\u2028", "label": 1}\n{"text": "b" "label": 0}\n'), refused=(2, "invalid JSON")),
    Shape("not_an_object.jsonl", _u('{"text": "a", "label": 1}\n["b", 0]\n'), refused=(2, "expected a JSON object")),
]
