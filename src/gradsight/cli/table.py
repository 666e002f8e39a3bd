"""One chunked, columnar CSV reader for ``train`` and ``predict``.

The file is read in byte chunks cut at line ends (never inside a quoted
field). Each chunk is tokenised by NumPy's C reader (``np.loadtxt`` with one
structured dtype: numbers as floats, text as fixed-width strings) when it is
plain: no quotes, no blank lines, the same number of separators on every
line, every number finite. Any other chunk goes through the ``csv`` module
and a per-cell check, which is also what names a bad cell by line and
column. Either way a chunk becomes typed column arrays at once:

- a ``number`` column: floats, NaN where a cell is missing;
- a ``text`` column: int32 codes into a vocabulary gathered as chunks come
  (-1 where missing).

Column kinds are decided on the first chunk (a column whose cells are mostly
text is ``text``), and so is the decimal mark of a ``;``-separated file (a
decimal comma when the cells that hold a comma are all numbers written that
way). With a decimal comma, ``.`` and spaces group thousands (``1.234,5``);
with a decimal point, a cell with commas is a number only when it groups
thousands (``1,234``, ``-12,345.5``): in the first chunk, only when every
comma-holding cell of its column does. Line ends may be LF, CRLF or CR
alone (old Mac files). A bad cell does not stop the reading: every bad cell
of the file is counted, and the first one is reported. Missing cells
(``""``, ``NA``, ``N/A``, ``NaN``, ``null``, ``?``, any case) are counted
per column. Memory while reading: the chunk arrays, which the caller turns
into one feature matrix chunk by chunk.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .errors import CliError, input_file, short

MISSING = frozenset({"", "na", "n/a", "nan", "null", "?"})
SEPARATORS = (",", ";", "\t", "|")
CHUNK_BYTES = 1 << 20  # 1 MiB of text per chunk (about 10,000 rows of 10 numbers)
FIRST_CHUNK_BYTES = 64 << 10  # the chunk that decides the column kinds (csv path)
TEXT_WIDTH = 64  # characters per text cell on the fast path; longer cells take the csv path


def is_missing(cell: str) -> bool:
    return cell.strip().lower() in MISSING


# a decimal point, commas grouping thousands: 1,234 / -12,345.5
THOUSANDS = re.compile(r"[+-]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d*)?(?:[eE][+-]?\d+)?")
# a decimal comma, '.' or a space (one kind per number) grouping thousands: 1.234,5 / 12 345
_GROUPED = r"[1-9]\d{0,2}(?:([. \u00a0\u202f])\d{3})(?:\1\d{3})*"
DECIMAL_COMMA = re.compile(rf"[+-]?(?:(?:{_GROUPED}|\d+)(?:,\d*)?|,\d+)(?:[eE][+-]?\d+)?")
INFINITE = frozenset({"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"})


def number(cell: str, decimal: str = ".") -> float | None:
    """The cell as a float (inf included), or None if it is not a number.

    ``decimal`` is the decimal mark: '.' (commas may group thousands, as in
    1,234.5) or ',' ('.' and spaces may group thousands, as in 1.234,5).
    """
    s = cell.strip()
    if not s or "_" in s:  # float() accepts '1_000'; a data file should not
        return None
    if decimal == ",":
        if s.lower() in INFINITE:
            return float(s)
        if not DECIMAL_COMMA.fullmatch(s):
            return None
        s = re.sub(r"[. \u00a0\u202f]", "", s).replace(",", ".")
    elif "," in s:
        if not THOUSANDS.fullmatch(s):
            return None
        s = s.replace(",", "")
    try:
        return float(s)
    except ValueError:
        return None


def looks_decimal_comma(cell: str) -> bool:
    """A cell that is a number written with a decimal comma, and not one with a point."""
    s = cell.strip()
    return "," in s and number(s, ",") is not None and number(s, ".") is None


@dataclass
class Column:
    """One column as read: kind, per-chunk arrays, vocabulary and missing count."""

    name: str
    index: int  # position in the file's header
    kind: str  # "number" | "text"
    parts: list = field(default_factory=list)  # per chunk: floats, or int32 codes
    vocab: dict = field(default_factory=dict)  # text: value -> code (first appearance)
    fixed_vocab: bool = False  # predict: unknown values get code -2, not a new code
    missing: int = 0
    first_missing: int | None = None  # line of the first missing cell
    unknown: int = 0  # fixed vocabulary: cells with a value not in it
    first_text: tuple[int, str] | None = None  # text column: first non-number (line, value)
    dtype: object = None  # number column: float type (None: the reader's)

    def values(self) -> list[str]:
        return sorted(self.vocab, key=self.vocab.get)


@dataclass
class Frame:
    """The columns that were asked for, read from one file."""

    source: str
    header: list[str]
    sep: str
    n_rows: int
    columns: dict[str, Column]
    chunk_rows: list[int]  # rows per chunk, in order
    seconds: float = 0.0
    n_bytes: int = 0
    decimal: str = "."  # the decimal mark: '.' or ','
    decimal_detected: bool = False  # ',' found in the data, not given
    line_ending: str = "\n"  # "\n", "\r\n" or "\r"


# ------------------------------------------------------------------ header and separator
def sniff(line: str) -> str:
    """The separator of a header line: the most frequent of , ; tab | (',' if none)."""
    counts = [(line.count(s), -k) for k, s in enumerate(SEPARATORS)]
    best = max(counts)
    return SEPARATORS[-best[1]] if best[0] > 0 else ","


def _head(path: str) -> tuple[str, str, str]:
    """(source, the text up to the first line end or more, line ending) of a file."""
    p = input_file(path, "data file")
    source = str(p)
    try:
        with open(p, "rb") as f:
            head = f.read(FIRST_CHUNK_BYTES)
            while not _ends_a_line(head) and (more := f.read(FIRST_CHUNK_BYTES)):
                head += more
    except OSError as err:
        raise CliError(f"cannot read {source}: {err.strerror or err}") from None
    cut = max(head.rfind(b"\n"), head.rfind(b"\r")) + 1  # never inside a UTF-8 character
    return source, _decode(head[: cut or len(head)], source, 0, first=True), line_ending(head)


def _ends_a_line(head: bytes) -> bool:
    """True once ``head`` holds a line end that more bytes cannot change (CR + LF?)."""
    cr = head.find(b"\r")
    return b"\n" in head or 0 <= cr < len(head) - 1


def line_ending(head: bytes) -> str:
    """The line ending of a file from its first bytes: LF, CRLF or CR alone."""
    lf, cr = head.find(b"\n"), head.find(b"\r")
    if cr < 0 or (0 <= lf < cr):
        return "\n"
    return "\r\n" if head[cr + 1 : cr + 2] == b"\n" else "\r"


def read_header(path: str, sep: str | None = None) -> tuple[str, list[str], str]:
    """(source, column names, separator) from the first non-blank line."""
    return header_and_line_ending(path, sep)[:3]


def header_and_line_ending(path: str, sep: str | None = None) -> tuple[str, list[str], str, str]:
    """(source, column names, separator, line ending) from the first non-blank line."""
    source, text, ending = _head(path)
    for line in text.splitlines():
        if line.strip():
            sep = sep or sniff(line)
            names = _header(next(csv.reader([line], delimiter=sep)), source)
            return source, names, sep, ending
    raise CliError(f"empty CSV file: {source} has no header row and no data")


def _header(row: list[str], source: str) -> list[str]:
    """The column names; only the first may be empty (an index, as pandas writes it)."""
    names = [cell.strip() for cell in row]
    for j, name in enumerate(names):
        if not name and j > 0:
            raise CliError(f"{source}, line 1: column {j + 1} has an empty name in the header")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise CliError(f"{source}, line 1: duplicate column names: {', '.join(map(repr, dupes))}")
    return names


def _decode(raw: bytes, source: str, offset: int, first: bool = False) -> str:
    try:
        return raw.decode("utf-8-sig" if first else "utf-8")
    except UnicodeDecodeError as err:
        raise CliError(
            f"{source} is not UTF-8 text (undecodable byte at offset {offset + err.start})"
        ) from None


# ------------------------------------------------------------------ chunks of lines
def _cut(buf: bytes, at_end: bool) -> int:
    """Where to cut ``buf``: after its last line end outside quotes (0: read more)."""
    if at_end:
        return len(buf)
    k = buf.rfind(b"\n") + 1
    if b'"' not in buf:
        return k
    while k > 0 and buf.count(b'"', 0, k) % 2:  # inside a quoted field: cut earlier
        k = buf.rfind(b"\n", 0, k - 1) + 1
    return k


def chunks(
    f, source: str, chunk_bytes: int, on_bytes: Callable[[int], None], cr_only: bool = False
):
    """Yield (text, first line number, byte offset) for pieces of whole rows.

    ``cr_only``: the file ends its lines with CR alone; each CR is read as LF
    (a CR inside a quoted cell too: the cell then holds LF).
    """
    buf, offset, line, size = b"", 0, 1, min(FIRST_CHUNK_BYTES, chunk_bytes)
    while True:
        more = f.read(size - len(buf) if size > len(buf) else size)
        on_bytes(len(more))
        if cr_only:
            more = more.replace(b"\r", b"\n")
        buf += more
        at_end = not more
        k = _cut(buf, at_end)
        if k == 0 and not at_end:
            size = 2 * max(size, len(buf))  # one row longer than a chunk: read on
            continue
        piece, buf = buf[:k], buf[k:]
        if piece:
            yield _decode(piece, source, offset, first=offset == 0), line, offset
            line += piece.count(b"\n")
            offset += len(piece)
        if at_end:
            return
        size = chunk_bytes


# ------------------------------------------------------------------ the reader
def read(
    path: str,
    use: list[str],
    *,
    sep: str | None = None,
    kinds: dict[str, str] | None = None,
    vocab: dict[str, list[str]] | None = None,
    dtype=np.float64,
    missing_ok: bool = True,
    missing_hint: str = "",
    chunk_bytes: int = CHUNK_BYTES,
    check_memory: Callable[[int, int], None] | None = None,
    progress: Callable[[int], None] | None = None,
    target: str | None = None,
    decimal: str | None = None,
    exact: tuple[str, ...] = (),
) -> Frame:
    """Read the columns ``use`` of a CSV file with a header row.

    ``decimal``: the decimal mark, '.' or ','; None: ',' if the separator is
    ';' and the first chunk's comma-holding cells are decimal-comma numbers
    (``Frame.decimal_detected``), else '.'. Every bad cell of a number
    column is counted before the first one is reported.

    ``kinds`` fixes column kinds (else the first chunk decides); ``vocab``
    fixes a text column's values (unknown ones are counted, code -2).
    ``missing_ok=False``: the first missing cell is an error (``missing_hint``
    says what to do). ``check_memory(rows_estimate, width_estimate)`` is
    called after the first chunk so the caller can refuse a file too large.
    ``target`` and the columns ``exact`` (number columns) are read as
    float64 whatever ``dtype`` is.
    """
    source, header, sep, ending = header_and_line_ending(path, sep)
    cols = [Column(n, header.index(n), (kinds or {}).get(n, "")) for n in use]
    for c in cols:
        if c.name == target or c.name in exact:
            c.dtype = np.float64
    for c in cols:
        if vocab and c.name in vocab:
            c.vocab = {v: k for k, v in enumerate(vocab[c.name])}
            c.fixed_vocab = True
    reader = _ChunkReader(source, header, sep, cols, dtype, missing_ok, missing_hint)
    reader.decimal = decimal or ("." if sep != ";" else None)
    start, size = time.perf_counter(), os.path.getsize(path)
    on_bytes, cr_only = progress or (lambda n: None), ending == "\r"
    try:
        with open(path, "rb") as f:
            for text, line, offset in chunks(f, source, chunk_bytes, on_bytes, cr_only):
                reader.add(text, line, first=offset == 0)
                if offset == 0 and check_memory is not None and reader.rows:
                    per_row = max(1, len(text.encode("utf-8")) // max(reader.rows[0], 1))
                    width = sum(1 if c.kind == "number" else max(1, len(c.vocab)) for c in cols)
                    check_memory(size // per_row + 1, width)
    except OSError as err:
        raise CliError(f"cannot read {source}: {err.strerror or err}") from None
    if reader.bad:
        raise CliError(reader.bad_cells_message())
    n = sum(reader.rows)
    if n == 0:
        raise CliError(f"empty CSV file: {source} has a header but no data rows")
    frame = Frame(source, header, sep, n, {c.name: c for c in cols}, reader.rows)
    frame.seconds, frame.n_bytes = time.perf_counter() - start, size
    frame.decimal = reader.decimal or "."
    frame.decimal_detected = decimal is None and frame.decimal == ","
    frame.line_ending = ending
    return frame


class _ChunkReader:
    """Turns chunks of text into per-column arrays (see the module docstring)."""

    def __init__(self, source, header, sep, cols, dtype, missing_ok, missing_hint):
        self.source, self.header, self.sep = source, header, sep
        self.cols, self.dtype = cols, np.dtype(dtype)
        self.missing_ok, self.missing_hint = missing_ok, missing_hint
        self.rows: list[int] = []
        self.header_seen = False
        self.decimal: str | None = "."  # None: decided on the first chunk
        self.bad = 0  # cells of number columns that are not numbers (or infinite)
        self.first_bad: tuple | None = None  # (column, line, cell, value) of the first
        self.last_bad_line = 0

    def where(self, line: int, col: Column) -> str:
        return f"{self.source}, line {line}, column {col.index + 1} ({col.name!r})"

    def add(self, text: str, first_line: int, first: bool) -> None:
        if first:
            text, first_line = self._skip_header(text, first_line)
        if not text.strip():
            return
        if not self.rows or not self._fast(text, first_line):  # the first rows decide kinds
            self._slow(text, first_line)

    def _skip_header(self, text: str, line: int) -> tuple[str, int]:
        pos = 0
        while True:
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end + 1
            blank = not text[pos:end].strip()
            pos, line = end, line + 1
            if not blank or pos >= len(text):
                return text[pos:], line

    # -- the csv path: any text, exact line numbers
    def _slow(self, text: str, first_line: int) -> None:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=self.sep)
        width = len(self.header)
        cells: list[list[str]] = [[] for _ in self.cols]
        lines: list[int] = []
        try:
            for row in reader:
                line = first_line + reader.line_num - 1
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != width:
                    raise CliError(
                        f"{self.source}, line {line}: {len(row)} fields, "
                        f"but the header has {width} columns" + _sep_hint(row, self.sep)
                    )
                for out, c in zip(cells, self.cols):
                    out.append(row[c.index])
                lines.append(line)
        except csv.Error as err:
            line = first_line + reader.line_num - 1
            raise CliError(f"{self.source}, line {line}: not valid CSV ({err})") from None
        if not lines:
            return
        if self.decimal is None:
            self.decimal = _decide_decimal(cells)
        for c, values in zip(self.cols, cells):
            c.kind = c.kind or _decide_kind(values, self.decimal)
        converted = [self._convert(c, values, lines) for c, values in zip(self.cols, cells)]
        for c, part in zip(self.cols, converted):
            c.parts.append(part)
        self.rows.append(len(lines))

    def _convert(self, c: Column, values: list[str], lines: list[int]) -> np.ndarray:
        if c.kind == "number":
            out = np.empty(len(values), dtype=c.dtype or self.dtype)
            for i, cell in enumerate(values):
                if is_missing(cell):
                    out[i] = np.nan
                    self._missing(c, lines[i])
                    continue
                v = number(cell, self.decimal)
                if v is None or math.isinf(v):
                    self._bad_cell(c, lines[i], cell, v)
                    v = np.nan
                out[i] = v
            return out
        codes = np.empty(len(values), dtype=np.int32)
        for i, cell in enumerate(values):
            codes[i] = self._code(c, cell.strip(), lines[i])
        return codes

    def _code(self, c: Column, value: str, line: int) -> int:
        if value.lower() in MISSING:
            self._missing(c, line)
            return -1
        code = c.vocab.get(value)
        if code is None:
            if c.first_text is None and number(value, self.decimal or ".") is None:
                c.first_text = (line, value)
            if c.fixed_vocab:
                c.unknown += 1
                return -2
            code = c.vocab[value] = len(c.vocab)
        return code

    def _missing(self, c: Column, line: int) -> None:
        c.missing += 1
        if c.first_missing is None:
            c.first_missing = line
        if not self.missing_ok:
            if self.bad:  # a bad cell came first: report it (counted so far)
                raise CliError(self.bad_cells_message(upto=line))
            raise CliError(
                f"{self.where(line, c)}: empty or missing value; {self.missing_hint}".rstrip("; ")
            )

    def _bad_cell(self, c: Column, line: int, cell: str, v: float | None) -> None:
        """Count a cell of a number column that is not a finite number; the
        first one is reported once the whole file is read (bad_cells_message)."""
        self.bad += 1
        self.last_bad_line = line
        if self.first_bad is None:
            self.first_bad = (c, line, cell, v)

    def bad_cells_message(self, upto: int | None = None) -> str:
        """The first bad cell, named exactly, with the count of the others."""
        c, line, cell, v = self.first_bad
        if v is not None:
            what = f"infinite value {short(cell.strip())}"
        else:
            what = f"not a number: {short(cell)}"
        more = self.bad - 1
        tail = ""
        if more:
            where = f"before line {upto}" if upto else "in the file"
            tail = (
                f" (and {more:,} more bad cell{'s' if more > 1 else ''} {where}, "
                f"the last on line {self.last_bad_line})"
            )
        hint = ""
        if v is None and self.decimal != "," and looks_decimal_comma(cell):
            hint = "; it looks like a number with a decimal comma: use --decimal ,"
        elif v is None and self.decimal == "," and number(cell, ".") is not None:
            hint = (
                "; it has a decimal point, but the file is read with a decimal comma "
                "(use --decimal . for a file with decimal points)"
            )
        elif v is None and c.kind == "number":
            hint = (
                f"; column {c.name!r} holds numbers in its first rows "
                "(leave it out with --ignore, or fix the cell)"
            )
        return f"{self.where(line, c)}: {what}" + tail + hint

    # -- the fast path: NumPy's C reader on plain chunks
    def _fast(self, text: str, first_line: int) -> bool:
        """Parse ``text`` with np.loadtxt if it is plain; False: use the csv path."""
        if '"' in text or "\n\n" in text or "\n\r\n" in text or text.startswith(("\n", "\r")):
            return False
        n_lines = text.count("\n") + (not text.endswith("\n"))
        if text.count(self.sep) != n_lines * (len(self.header) - 1):
            return False
        comma = self.decimal == ","  # numbers parsed below, from text
        fields = [
            (
                f"f{k}",
                (c.dtype or self.dtype) if c.kind == "number" and not comma else f"U{TEXT_WIDTH}",
            )
            for k, c in enumerate(self.cols)
        ]
        try:
            rec = np.loadtxt(
                text.splitlines(),
                delimiter=self.sep,
                dtype=np.dtype(fields),
                usecols=[c.index for c in self.cols],
                comments=None,
                ndmin=1,
                encoding=None,
            )
        except ValueError:
            return False
        if len(rec) != n_lines:
            return False
        parts = []
        for k, c in enumerate(self.cols):
            part = self._fast_column(c, rec[f"f{k}"], first_line)
            if part is None:
                return False
            parts.append(part)
        del rec
        for c, part in zip(self.cols, parts):
            c.parts.append(part)
        self.rows.append(n_lines)
        return True

    def _fast_column(self, c: Column, col: np.ndarray, first_line: int):
        if c.kind == "number" and self.decimal == ",":
            col = _comma_numbers(col, c.dtype or self.dtype)
            if col is None:
                return None
        if c.kind == "number":
            bad = ~np.isfinite(col)
            if not bad.any():
                return np.ascontiguousarray(col)
            if np.isinf(col).any() or not self.missing_ok:
                return None  # the csv path names the cell
            nan_rows = np.flatnonzero(bad)
            c.missing += len(nan_rows)
            if c.first_missing is None:
                c.first_missing = first_line + int(nan_rows[0])
            return np.ascontiguousarray(col)
        if len(col) and np.char.str_len(col).max() >= TEXT_WIDTH:
            return None  # maybe cut short: the csv path reads the whole cell
        uniques, firsts, inverse = np.unique(col, return_index=True, return_inverse=True)
        codes = np.empty(len(uniques), dtype=np.int32)
        for k, u in enumerate(uniques.tolist()):
            line = first_line + int(firsts[k])
            seen = c.missing
            codes[k] = self._code(c, u.strip(), line)
            if c.missing > seen:  # count every missing cell of this value, not one
                extra = int(np.count_nonzero(inverse == k)) - 1
                c.missing += extra
            elif codes[k] == -2:
                c.unknown += int(np.count_nonzero(inverse == k)) - 1
        return codes[inverse.reshape(-1)]


def _comma_numbers(col: np.ndarray, dtype) -> np.ndarray | None:
    """Decimal-comma text cells as floats, vectorised; None: a cell needs the csv path
    (a thousands separator, a missing or bad cell, one maybe cut short)."""
    if not len(col):
        return np.zeros(0, dtype=dtype)
    if np.char.str_len(col).max() >= TEXT_WIDTH:
        return None
    for c in ".", " ", "_", "\u00a0", "\u202f":  # grouped thousands, or not a number
        if (np.char.find(col, c) >= 0).any():
            return None
    try:
        out = np.char.replace(col, ",", ".").astype(dtype)
    except ValueError:
        return None
    return out if np.isfinite(out).all() else None


def _decide_kind(values: list[str], decimal: str = ".") -> str:
    """'text' if most present cells are not numbers, else 'number' (a tie too).

    With a decimal point, cells with commas count as numbers (grouped
    thousands) only if every comma-holding cell of the column groups thousands.
    """
    present = [v for v in values if not is_missing(v)]
    grouped = decimal == "," or all(THOUSANDS.fullmatch(v.strip()) for v in present if "," in v)
    numbers = sum(number(v, decimal) is not None for v in present if grouped or "," not in v)
    return "text" if numbers * 2 < len(present) else "number"


def _decide_decimal(cells: list[list[str]]) -> str:
    """The decimal mark of a ';'-separated file from its first rows: ',' when some
    column's present cells are all numbers written with a decimal comma (one at
    least holding a comma) and no column's cells are decimal-point numbers."""
    comma = point = False
    for values in cells:
        present = [v for v in values if not is_missing(v)]
        if not present:
            continue
        as_comma = all(number(v, ",") is not None for v in present)
        as_point = all(number(v, ".") is not None for v in present)
        if as_comma and any(looks_decimal_comma(v) for v in present):
            comma = True
        elif as_point and not as_comma:
            point = True
    return "," if comma and not point else "."


def _sep_hint(row: list[str], sep: str) -> str:
    others = [s for s in SEPARATORS if s != sep and any(s in cell for cell in row)]
    return f" (is the separator {others[0]!r}? use --sep)" if others else ""


# ------------------------------------------------------------------ memory
def available_memory() -> int | None:
    """Bytes of memory available now (MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"
