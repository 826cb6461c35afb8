"""Users' files read as the standards define them, or refused in one line that names where.

CSV follows RFC 4180 through Python's csv module reading the open file (``newline=''``): quoted
delimiters, quoted line breaks (``\\n`` and ``\\r\\n``), doubled quotes, CRLF line ends and a
byte-order mark are read as written, and only a line break ends a record: U+0085, U+2028 and
U+2029 are text (``str.splitlines`` would split at them). A quote that opens a field and is not
closed before the next delimiter is an error, never a silently rejoined text. TSV is the IANA
``text/tab-separated-values`` format: no quoting (a quote is text), a field holds no tab and no
line break. JSONL is one JSON value per ``\\n``-terminated line (a JSON string may hold U+2028).

Every error names the file and the line where the record starts, counted in lines of the file
(a record with a quoted line break spans several), not in records. A byte the encoding cannot
decode is named by line and column. pandas' and pyarrow's readers are faster on large files, but
they count records, not lines, in their errors, and pandas pads a row with too few fields
silently: the reader of record is the csv module (bench/reader.py measures them). A text file of
FAST_BYTES or more whose bytes prove it reads the same both ways goes to pyarrow (fast_columns);
any other file, and every error, to the csv module.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError

FIELD_LIMIT = 16 * 2**20  # characters in one field: a long review is fine; this is a wrong delimiter or quote
ENCODINGS_HINT = "latin-1 and cp1252 are common for Western European text"


def codec(encoding: str) -> str:
    """The codec that reads a file said to be in ``encoding``: UTF-8 files may start with a BOM."""
    return "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding


@contextmanager
def decoding(path: Path, encoding: str) -> Iterator[None]:
    """Turns a decoding failure anywhere inside into a DataError naming the bad byte's line and column."""
    try:
        yield
    except UnicodeDecodeError:
        raise bad_byte(path, encoding) from None


def bad_byte(path: Path, encoding: str) -> DataError:
    """The error for the first byte of ``path`` that ``encoding`` cannot decode."""
    raw = path.read_bytes()
    try:
        raw.decode(encoding)  # a UTF-8 BOM is valid UTF-8: offsets stay the file's
        at = len(raw)
    except UnicodeDecodeError as e:
        at = e.start
    before = raw[:at].decode(codec(encoding))  # whole characters: the bad sequence starts at ``at``
    line = before.count("\n") + 1
    column = len(before) - (before.rfind("\n") + 1) + 1
    what = f"byte 0x{raw[at : at + 1].hex()}" if at < len(raw) else "the end of the file"
    return DataError(
        f"{path}:{line}:{column}: {what} is not valid {encoding} (data.encoding); set data.encoding to the "
        f"file's encoding ({ENCODINGS_HINT}) or re-encode the file as UTF-8"
    )


@dataclass
class Records:
    """The rows of a delimited file: header names, each row's fields, and the line each row starts on."""

    header: list[str]
    rows: list[list[str]]
    lines: list[int]

    def column(self, name: str) -> int:
        return self.header.index(name)


def read_delimited(path: Path, delimiter: str, encoding: str, columns: list[str] | None = None) -> Records:
    """A CSV (``delimiter=','``, RFC 4180) or TSV (``'\\t'``, no quoting) file. The header row names
    the columns unless ``columns`` does. Rows whose fields are all blank are skipped; any other row
    must have one field per column."""
    fmt = "CSV" if delimiter == "," else "TSV"
    rows: list[list[str]] = []
    lines: list[int] = []
    header = list(columns) if columns is not None else None
    if header is not None:
        check_header(path, header, 0)
    with decoding(path, encoding), open(path, encoding=codec(encoding), newline="") as f:
        reader = _reader(f, delimiter)
        start = 1
        try:
            if header is None:
                for values in reader:  # the first record that is not blank
                    if any(v.strip() for v in values):
                        header = [name.strip() for name in values]
                        break
                    start = reader.line_num + 1
                header_line, start = start, reader.line_num + 1
                check_header(path, header or [], header_line)
            header = header or []
            width, append_row, append_line = len(header), rows.append, lines.append
            for values in reader:
                if len(values) == width:
                    append_row(values)
                    append_line(start)
                elif any(v.strip() for v in values):
                    spans = f"lines {start}-{reader.line_num}" if reader.line_num > start else f"line {start}"
                    raise DataError(
                        f"{path}:{start}: expected {width} fields ({', '.join(header)}), found {len(values)} "
                        f"in the record on {spans}"
                        + ("; a quoted field holds a line break there: is a quote left open?" if reader.line_num > start else "")
                    )
                start = reader.line_num + 1
        except csv.Error as e:
            hint = ""
            if "field larger than field limit" in str(e):
                hint = f": a field over {FIELD_LIMIT // 2**20} M characters; check the delimiter (data.format) and the quotes"
            elif "unexpected end of data" in str(e):
                hint = ": a quoted field is never closed"
            raise DataError(f"{path}:{start}: cannot parse {fmt} in the record starting here ({e}){hint}") from None
    return Records(header, rows, lines)


FAST_BYTES = 2**20  # from this size, a file that passes fast_columns' checks is parsed by pyarrow
_QUOTE = ord('"')


def fast_columns(path: Path, delimiter: str, encoding: str, header: list[str] | None):
    """(the header, every column as a pyarrow string array) parsed by pyarrow's CSV reader (in C++,
    on every core), for a file it provably reads as read_delimited does; None otherwise (the caller
    reads it with read_delimited, which also words every error).

    The proof, on the bytes and on what pyarrow read (no Python loop over rows): UTF-8; no NUL;
    every carriage return the first half of a CRLF line break (Windows' and the csv module's own
    line ends: both readers end a line there, and keep one inside a quoted value as it is; a lone
    CR ends a line for the csv module only); a header line without quotes naming two or more
    columns once; in a CSV, every quote structural: one that opens a field follows a delimiter, a
    line break, the start or a closing quote (a doubled quote), one that closes it is followed by a
    delimiter, a line break, the end or an opening quote. pyarrow refuses any record of another number of fields (where
    read_delimited skips a blank one, this falls back) and skips the empty lines read_delimited
    skips. No value over FIELD_LIMIT characters. Files of that shape are RFC 4180 (or IANA TSV)
    as both read them; tests/test_readers.py reads every shape both ways."""
    if path.stat().st_size < FAST_BYTES or codecs.lookup(encoding).name != "utf-8":
        return None
    import mmap

    import numpy as np

    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        if mm.find(b"\0") >= 0:
            return None
        if header is None and mm.find(b'"', 0, max(mm.find(b"\n"), 0)) >= 0:
            return None  # a quoted header (it may span lines): read_delimited reads it
        data = np.frombuffer(mm, dtype=np.uint8)
        try:
            start = 3 if mm[:3] == b"\xef\xbb\xbf" else 0
            proven = mm.find(b"\r") < 0 or _crs_in_crlf(data)
            proven = proven and (delimiter != "," or _quotes_structural(data, start, ord(delimiter)))
        finally:
            del data  # before the map closes: no view of it may outlive it
    if not proven:
        return None
    names = header if header is not None else _header_of(path, delimiter)
    if names is None or len(names) < 2 or len(set(names)) != len(names):
        return None
    columns = _arrow_columns(path, delimiter, len(names), header is None)
    if columns is None:
        return None
    import pyarrow.compute as pc

    if len(columns[0]) and max(pc.max(pc.utf8_length(c)).as_py() for c in columns) > FIELD_LIMIT:
        return None
    return names, columns


def _where(data, byte: int, start: int = 0, block: int = 1 << 24):
    """The positions of ``byte`` in data[start:], found a block at a time (a block's comparison
    stays in the CPU's cache: several times faster than one pass over a large file)."""
    import numpy as np

    found = [np.flatnonzero(data[first : first + block] == byte) + first for first in range(start, len(data), block)]
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


def _crs_in_crlf(data) -> bool:
    """Whether every carriage return (13) is followed by a line feed (10)."""
    crs = _where(data, 13)
    return not len(crs) or (crs[-1] + 1 < len(data) and bool((data[crs + 1] == 10).all()))


def _quotes_structural(data, start: int, delimiter: int) -> bool:
    import numpy as np

    size = len(data)
    quotes = _where(data, _QUOTE, start)
    if len(quotes) % 2:
        return False
    if not len(quotes):
        return True
    opens, closes = quotes[0::2], quotes[1::2]
    before = data[np.maximum(opens - 1, 0)]
    doubled = np.zeros(len(opens), dtype=bool)
    doubled[1:] = closes[:-1] == opens[1:] - 1
    if not ((opens == start) | (before == delimiter) | (before == 10) | doubled).all():
        return False
    after = data[np.minimum(closes + 1, size - 1)]
    reopened = np.zeros(len(closes), dtype=bool)
    reopened[:-1] = opens[1:] == closes[:-1] + 1
    # A line break after a closing quote: LF, or CR (the caller proved each CR begins a CRLF).
    return bool(((closes == size - 1) | (after == delimiter) | (after == 10) | (after == 13) | reopened).all())


def _header_of(path: Path, delimiter: str) -> list[str] | None:
    try:
        return read_header(path, delimiter, "utf-8")
    except DataError:
        return None


def _arrow_columns(path: Path, delimiter: str, width: int, titled: bool):
    """Every column as a pyarrow string array, or None where pyarrow refuses the file."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    names = [str(i) for i in range(width)]
    read = pa_csv.ReadOptions(use_threads=True, block_size=1 << 24, column_names=names, skip_rows=int(titled))
    parse = pa_csv.ParseOptions(
        delimiter=delimiter,
        quote_char='"' if delimiter == "," else False,
        double_quote=True,
        escape_char=False,
        newlines_in_values=delimiter == ",",
        ignore_empty_lines=True,
    )
    convert = pa_csv.ConvertOptions(
        column_types={n: pa.string() for n in names}, strings_can_be_null=False, quoted_strings_can_be_null=False
    )
    try:
        table = pa_csv.read_csv(path, read_options=read, parse_options=parse, convert_options=convert)
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    return [table.column(n) for n in names]


def _reader(f, delimiter: str):
    """The csv module's reader for CSV (RFC 4180 quoting, strict about stray quotes) or TSV (no quoting)."""
    csv.field_size_limit(FIELD_LIMIT)
    if delimiter == ",":
        return csv.reader(f, delimiter=",", quoting=csv.QUOTE_MINIMAL, strict=True)
    return csv.reader(f, delimiter=delimiter, quoting=csv.QUOTE_NONE)


def check_header(path: Path, header: list[str], line: int = 1) -> None:
    """Every column named once: a second column of the same name would silently replace the first.
    Line 0: the names come from data.columns, not from the file."""
    seen: dict[str, int] = {}
    for i, name in enumerate(header, 1):
        if name in seen:
            where = f"{path}:{line}" if line else f"{path}: data.columns"
            raise DataError(f"{where}: columns {seen[name]} and {i} are both named {name!r}; give every column its own name")
        seen[name] = i


def read_header(path: Path, delimiter: str, encoding: str) -> list[str]:
    """The first record's fields, stripped, checked to name every column once."""
    with decoding(path, encoding), open(path, encoding=codec(encoding), newline="") as f:
        try:
            header = [name.strip() for name in next(_reader(f, delimiter), [])]
        except csv.Error as e:
            raise DataError(f"{path}:1: cannot parse the header row ({e})") from None
    check_header(path, header)
    return header


def read_jsonl(path: Path, encoding: str) -> list[tuple[int, dict]]:
    """(line, object) for every non-blank line; every line one JSON object."""
    rows: list[tuple[int, dict]] = []
    with decoding(path, encoding), open(path, encoding=codec(encoding), newline="") as f:
        line, pending = 1, ""
        for piece in f:  # newline='' splits at \r as well: only \n ends a JSONL line
            pending += piece
            if not piece.endswith("\n"):
                continue
            _json_line(path, line, pending, rows)
            line, pending = line + 1, ""
        if pending:
            _json_line(path, line, pending, rows)
    return rows


def _json_line(path: Path, line: int, text: str, rows: list[tuple[int, dict]]) -> None:
    if not text.strip():
        return
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}:{line}:{e.colno}: invalid JSON ({e.msg})") from None
    if not isinstance(obj, dict):
        raise DataError(f"{path}:{line}: expected a JSON object per line, found {type(obj).__name__}")
    rows.append((line, obj))


def read_frame(path: Path, encoding: str, delimiter: str = ","):
    """A numeric table (series, sequences) as a pandas DataFrame, its header checked first. pandas
    reads quoted fields as RFC 4180 does; its speed matters here and its errors are rare. An error
    about one of its rows names the row's file line through ``row_place``."""
    import pandas as pd

    read_header(path, delimiter, encoding)
    with decoding(path, encoding):
        try:
            return pd.read_csv(path, sep=delimiter, encoding=codec(encoding))
        except UnicodeDecodeError:
            raise
        except ValueError as e:
            raise DataError(f"{path}: cannot read as CSV ({str(e).splitlines()[0]})") from None


def row_place(path: Path, encoding: str, delimiter: str = ","):
    """``place(i)``: "PATH:LINE", the file line where row i of read_frame's table starts. The lines
    are counted on the first call only (an error is being reported), as pandas reads the file."""
    lines: list[int] = []

    def place(row: int) -> str:
        if not lines:
            lines.extend(frame_lines(path, encoding, delimiter))
        return f"{path}:{lines[row]}"

    return place


def frame_lines(path: Path, encoding: str, delimiter: str = ",") -> list[int]:
    """The file line where each row of read_frame's table starts, records read as pandas reads them:
    quoted in CSV and TSV alike (a quoted field may hold line breaks, so a record may span lines),
    a blank line (nothing, or only spaces, unquoted) is no row, the first other record is the header."""
    starts: list[int] = []
    last = [""]  # the physical line the reader took last: a blank record is a blank line unless quoted

    def pieces(f):
        for piece in f:
            last[0] = piece
            yield piece

    csv.field_size_limit(FIELD_LIMIT)
    with decoding(path, encoding), open(path, encoding=codec(encoding), newline="") as f:
        reader = csv.reader(pieces(f), delimiter=delimiter, quotechar='"', strict=False)
        start = 1
        for values in reader:
            blank = not values or (len(values) == 1 and not values[0].strip() and '"' not in last[0])
            if not blank:
                starts.append(start)
            start = reader.line_num + 1
    return starts[1:]  # the rows after the header
