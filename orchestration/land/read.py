"""Reading one file as text into temp table `file_rows` (every column VARCHAR, rowid = file
order), with its malformed rows in `file_rejects`: encoding detection and GB18030 transcoding,
the CSV dialect, unbalanced quotes, and the checks that reject a whole file."""

from __future__ import annotations

import codecs
import csv
import re
from pathlib import Path

import duckdb

from orchestration import contract
from orchestration.duck import lit, q
from orchestration.land.report import FileRejected

CHUNK = 8 << 20
SNIFF_BYTES = 1 << 20


def sniff_encoding(path: Path) -> str:
    """'utf-8' or 'gb18030' from the first MB: a BOM or a strict UTF-8 decode decides."""
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8"
    try:
        codecs.getincrementaldecoder("utf-8")("strict").decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        return "gb18030"


def transcode_to_utf8(
    path: Path, out: Path, encoding: str = "gb18030", newlines: bool = False
) -> None:
    """Stream `path` from `encoding` to UTF-8; FileRejected names the byte offset if it is not.
    `newlines`: also end every line with LF (as normalise_newlines)."""
    dec = codecs.getincrementaldecoder(encoding)("strict")
    offset, held_cr = 0, False
    with open(path, "rb") as fi, open(out, "wb") as fo:
        while True:
            chunk = fi.read(CHUNK)
            try:
                data = dec.decode(chunk, final=not chunk).encode("utf-8")
            except UnicodeDecodeError as exc:
                raise FileRejected(
                    f"unreadable encoding: neither UTF-8 nor GB18030/GBK (invalid byte at offset "
                    f"{offset + max(exc.start, 0):,}); re-export the file as UTF-8 or GB18030"
                ) from None
            if newlines:
                data, held_cr = _lf(data, held_cr, final=not chunk)
            fo.write(data)
            if not chunk:
                return
            offset += len(chunk)


def _lf(data: bytes, held_cr: bool, final: bool) -> tuple[bytes, bool]:
    """`data` with CRLF and lone CR line ends as LF. A CR at the end of `data` is held back (its
    LF may start the next chunk): returns (bytes to write, whether a CR is held)."""
    if held_cr:
        data = b"\r" + data
    held = data.endswith(b"\r") and not final
    if held:
        data = data[:-1]
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n"), held


def has_cr(path: Path, limit: int | None = SNIFF_BYTES) -> bool:
    """Whether the first `limit` bytes (the whole file if None) hold a CR."""
    with open(path, "rb") as fh:
        if limit is not None:
            return b"\r" in fh.read(limit)
        while chunk := fh.read(CHUNK):
            if b"\r" in chunk:
                return True
    return False


def normalise_newlines(path: Path, out: Path) -> None:
    """Copy `path` to `out` with every line ended by LF: Windows (CRLF), old Mac and some Excel
    exports (CR only) and files mixing them read the same. DuckDB's strict CSV mode, which
    finds rows with too many fields, takes one line end per file."""
    held = False
    with open(path, "rb") as fi, open(out, "wb") as fo:
        while True:
            chunk = fi.read(CHUNK)
            data, held = _lf(chunk, held, final=not chunk)
            fo.write(data)
            if not chunk:
                return


def scan_lines(path: Path) -> tuple[int, bool]:
    """(physical lines, whether any line is empty) of a file, in one C-speed pass."""
    newlines, empty, tail, last = 0, 0, b"", b"\n"
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            newlines += chunk.count(b"\n")
            buf = tail + chunk
            empty += buf.count(b"\n\n") + buf.count(b"\n\r\n")
            tail = buf[-2:]
            empty -= tail.count(b"\n\n") + tail.count(b"\n\r\n")
            last = chunk[-1:]
    return newlines + (last != b"\n"), empty > 0


def blank_lines(path: Path) -> list[int]:
    """Line numbers, as DuckDB's CSV reader counts them (newlines inside quoted values not
    counted), of the empty lines of a UTF-8 CSV outside quoted values: the reader skips them, so
    later rows' line numbers must be shifted. Fast path (no empty line at all): one C-speed scan."""
    if not scan_lines(path)[1]:
        return []
    out, embedded, in_quotes = [], 0, False
    with open(path, "rb") as fh:
        for n, line in enumerate(fh, start=1):
            if not in_quotes and not line.strip(b"\r\n"):
                out.append(n - embedded)
            if line.count(b'"') % 2:
                in_quotes = not in_quotes
            if in_quotes:
                embedded += 1  # this line's newline is inside a quoted value
    return out


def header_line(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.readline(SNIFF_BYTES)


def csv_delimiter(header: bytes) -> str:
    """The delimiter of a CSV: whichever of , ; tab | its header line holds most (',' if none).
    Given to DuckDB with the RFC 4180 quote and escape, so its reader skips dialect sniffing,
    which is most of the time of a small file (bench/README.md, "Measured choices")."""
    counts = {d: header.count(d.encode()) for d in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


CSV_ERRORS = (  # DuckDB's wording -> what the message says (never DuckDB's text: it quotes the line)
    ("unterminated quote", "unbalanced quote"),
    ("maximum line size", "line longer than the reader's limit"),
    ("expected number of columns", "wrong number of fields"),
    ("invalid unicode", "bytes that are not UTF-8"),
    ("too many columns", "too many fields"),
)


def clean_duckdb_error(exc: BaseException) -> str:
    """What a DuckDB (or other) error says, without any of its text: CSV errors quote the line
    and conversion errors the value, which may hold identifiers in clear. Keeps the line number
    and a fixed description."""
    text = str(exc)
    m = re.search(r"CSV Error on Line: (\d+)", text)
    low = text.lower()
    what = next(
        (label for key, label in CSV_ERRORS if key in low),
        f"{type(exc).__name__} (details withheld)",
    )
    return f"line {m.group(1)}: {what}" if m else what


MAX_COLUMNS = 4096  # a header wider than this rejects the file (Excel allows 16,384 columns)
UNNAMED = "_ygt_unnamed_"  # + 1-based position: a header cell left empty


def header_names(line: bytes, delim: str) -> list[str]:
    """The column names of a CSV header line (UTF-8, BOM and line end removed), made unique the
    way DuckDB does (a repeated name gets `_1`, `_2`, ...); an empty cell is named UNNAMED + its
    position. Linear in the number of columns; FileRejected above MAX_COLUMNS."""
    text = line.decode("utf-8-sig", errors="replace").rstrip("\r\n")
    cells = next(csv.reader([text], delimiter=delim), []) or [""]
    if len(cells) > MAX_COLUMNS:
        raise FileRejected(
            f"{len(cells):,} columns in line 1, more than the {MAX_COLUMNS:,} the loader reads; "
            f"export only the columns the contract needs (`ygt contract`) and land again"
        )
    names: list[str] = []
    seen: set[str] = set()
    next_suffix: dict[str, int] = {}
    for pos, n in enumerate(cells, start=1):
        if not n.strip():
            n = f"{UNNAMED}{pos}"
        base, k = n, next_suffix.get(n, 0)
        while n in seen:
            k += 1
            n = f"{base}_{k}"
        next_suffix[base] = k
        seen.add(n)
        names.append(n)
    return names


def embedded_newlines_sql(cols: list[str]) -> str:
    """SQL: how many newlines a row's values hold (quoted multi-line values)."""
    return " + ".join(
        f"coalesce(length({q(c)}) - length(replace({q(c)}, chr(10), '')), 0)" for c in cols
    )


def _csv_scan(con, readable: Path, delim: str, cols: list[str]) -> None:
    """Read `readable` (UTF-8, LF line ends: see normalise_newlines) into file_rows / file_rejects
    without DuckDB's dialect sniffer, which refuses whole files with one unbalanced quote.
    Columns come from the header line. Strict mode: a row with more or fewer fields than the
    header goes to file_rejects with its line (non-strict mode would drop the extra field: an
    unquoted `1,234.50` in the last column would load as `1`), as does a too-long or ill-quoted
    row."""
    con.execute(
        "DROP TABLE IF EXISTS file_rows; DROP TABLE IF EXISTS file_rejects; DROP TABLE IF EXISTS file_reject_scans"
    )
    columns = "{" + ", ".join(f"{lit(c)}: 'VARCHAR'" for c in cols) + "}"
    con.execute(
        f"CREATE TEMP TABLE file_rows AS SELECT * FROM read_csv({lit(str(readable))}, header = true, auto_detect = false, "
        f"columns = {columns}, delim = {lit(delim)}, quote = '\"', escape = '\"', new_line = '\\n', "
        f"strict_mode = true, store_rejects = true, rejects_table = 'file_rejects', rejects_scan = 'file_reject_scans', "
        f"rejects_limit = 0)"
    )


def _split_unbalanced(readable: Path, out: Path) -> list[int]:
    """Copy `readable` to `out` with every line holding an odd number of quotes blanked; returns
    those lines' numbers. Used only for a file in which DuckDB found a malformed row: an
    unbalanced quote makes its reader take the rest of the file as one value, and those rows
    would vanish. In such a file a newline always ends a row (a legitimately multi-line quoted
    value is quarantined too, line by line) -- the price of never losing the rows after it."""
    bad = []
    with open(readable, "rb") as fi, open(out, "wb") as fo:
        for n, line in enumerate(fi, start=1):
            if n > 1 and line.count(b'"') % 2:
                bad.append(n)
                line = b"\n"
            fo.write(line)
    return bad


def _lines_vanished(con, readable: Path, cols: list[str], rejected: set[int]) -> bool:
    """True if the read of file_rows / file_rejects accounts for fewer lines than `readable` has: a malformed
    row took the following lines with it (an unbalanced quote). Run only when a row was
    malformed, so the extra pass over the file is rare."""
    physical = scan_lines(readable)[0]
    nl = embedded_newlines_sql(cols)
    rows, embedded = con.execute(
        f"SELECT count(*), coalesce(sum({nl}), 0) FROM file_rows"
    ).fetchone()
    return 1 + rows + embedded + len(rejected) + len(blank_lines(readable)) < physical


def _read_csv(con, path: Path, tmp: Path) -> tuple[str, list[int], set[int], list[int]]:
    """Read a CSV into temp table file_rows (all VARCHAR, file order = rowid) plus file_rejects (malformed
    rows). Returns (encoding, lines DuckDB skipped as blank, malformed lines, lines with an
    unbalanced quote -- blanked before the read, so among the skipped ones)."""
    encoding = sniff_encoding(path)
    crlf = has_cr(path)  # a CR in the first MB: CRLF or CR-only line ends, rewritten as LF
    for attempt in range(3):
        readable = path
        unbalanced: list[int] = []
        if encoding == "gb18030":
            readable = tmp / "transcoded.csv"
            transcode_to_utf8(path, readable, newlines=crlf)
        elif crlf:
            readable = tmp / "newlines.csv"
            normalise_newlines(path, readable)
        try:
            header = header_line(readable)
            delim = csv_delimiter(header)
            cols = header_names(header, delim)
            try:
                _csv_scan(con, readable, delim, cols)
            except duckdb.Error as exc:
                if not crlf and attempt < 2 and has_cr(path, limit=None):
                    crlf = True  # CR line ends after the first MB: read again with LF ones
                    continue
                raise FileRejected(f"not a readable CSV table: {clean_duckdb_error(exc)}") from None
            rejected = con.execute("SELECT line, error_type FROM file_rejects").fetchall()
            bad_enc = any(e == "INVALID ENCODING" for _, e in rejected)
            if bad_enc and encoding == "utf-8" and attempt < 2:
                encoding = "gb18030"  # valid UTF-8 in the first MB only; read again as GB18030
                continue
            if bad_enc:
                raise FileRejected(
                    "unreadable encoding: neither UTF-8 nor GB18030/GBK; re-export the file as UTF-8"
                )
            if rejected and _lines_vanished(con, readable, cols, {line for line, _ in rejected}):
                split = tmp / "split.csv"
                unbalanced = _split_unbalanced(readable, split)
                if unbalanced:
                    if readable != path:
                        readable.unlink(missing_ok=True)
                    readable = split
                    _csv_scan(con, readable, delim, cols)
                    rejected = con.execute("SELECT line, error_type FROM file_rejects").fetchall()
                else:
                    split.unlink(missing_ok=True)
            skipped = blank_lines(readable)  # the blanked unbalanced lines included
        finally:
            if readable != path:
                readable.unlink(missing_ok=True)
        return (
            ("UTF-8" if encoding == "utf-8" else "GB18030"),
            skipped,
            {line for line, _ in rejected},
            unbalanced,
        )
    raise AssertionError("unreachable")


SHEET_FORMATS = ("xlsx", "xls", "dbf")  # read in Python into text columns (excel.py, dbf.py)


def read_file(
    con, path: Path, fmt: str, tmp: Path
) -> tuple[str | None, list[int], set[int], list[int]]:
    """Read any supported file into temp table file_rows (VARCHAR columns; rowid = row order) and
    temp table file_rejects (line, error_type, error_message) of malformed rows. Returns (encoding,
    skipped blank lines, malformed lines, unbalanced-quote lines); the last two are CSV only.
    xlsx / xls / dbf: the skipped lines are the empty sheet rows above the header (a row's line
    is rowid + 2 + their number), and temp table file_number_cells (column_name, first_line)
    lists the columns holding number cells (see numeric_codes)."""
    if fmt == "csv":
        return _read_csv(con, path, tmp)
    con.execute(
        "DROP TABLE IF EXISTS file_rows; DROP TABLE IF EXISTS file_rejects; DROP TABLE IF EXISTS file_number_cells"
    )
    con.execute(
        "CREATE TEMP TABLE file_rejects (line BIGINT, error_type VARCHAR, error_message VARCHAR)"
    )
    if fmt in SHEET_FORMATS:
        return _read_text_table(con, path, fmt)
    try:
        con.execute(f"CREATE TEMP TABLE file_rows AS SELECT * FROM read_parquet({lit(str(path))})")
    except duckdb.Error as exc:
        raise FileRejected(f"not a readable {fmt} table: {clean_duckdb_error(exc)}") from None
    return None, [], set(), []


def _read_text_table(
    con, path: Path, fmt: str
) -> tuple[str | None, list[int], set[int], list[int]]:
    """An .xlsx / .xls (excel.read_workbook) or .dbf (dbf.read_dbf) into file_rows through Arrow:
    every column VARCHAR, rows in file order. An empty header cell names its column
    UNNAMED + the column's 1-based position."""
    import pyarrow as pa

    from orchestration.land.dbf import read_dbf
    from orchestration.land.excel import read_workbook, unique_names

    t = read_dbf(path) if fmt == "dbf" else read_workbook(path, fmt)
    if len(t.names) > MAX_COLUMNS:
        raise FileRejected(
            f"{len(t.names):,} columns in the header, more than the {MAX_COLUMNS:,} the loader "
            f"reads; export only the columns the contract needs (`ygt contract`) and land again"
        )
    names = unique_names(
        [n if n is not None else f"{UNNAMED}{p}" for n, p in zip(t.names, t.positions)]
    )
    if not names:
        raise FileRejected("no columns found (empty file?)")
    arrow = pa.table([pa.array(c, type=pa.string()) for c in t.columns], names=names)
    con.register("file_rows_arrow", arrow)
    try:
        con.execute("CREATE TEMP TABLE file_rows AS SELECT * FROM file_rows_arrow")
    finally:
        con.unregister("file_rows_arrow")
    con.execute("CREATE TEMP TABLE file_number_cells (column_name VARCHAR, first_line BIGINT)")
    if t.number_cells:
        con.executemany(
            "INSERT INTO file_number_cells VALUES (?, ?)",
            [[names[j], line] for j, line in t.number_cells.items()],
        )
    return t.encoding, t.skipped, set(), []


NUMERIC_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
)


def numeric_codes(
    src: contract.Source,
    by_norm: dict[str, str],
    types: dict[str, str],
    path: Path,
    fmt: str,
    con=None,
) -> list[str]:
    """Code and identifier columns (free codes, not enums) that a Parquet file types as numbers,
    or that hold a number cell in an .xlsx / .xls (a column mixing text and number cells too) or
    are numeric fields of a .dbf (file_number_cells, written by read_file): as text they may have
    lost leading zeros, which nothing in the file can restore. "name (TYPE)" or "name (number
    cells from line N)" for each. An identifier stored as a number (a 身份证号 in a number cell)
    is caught here too, so it never becomes a person key."""
    if fmt == "csv":
        return []
    watched = [c for c in src.columns if c.kind == "pii_hash" or (c.kind == "code" and not c.enum)]
    if fmt in SHEET_FORMATS:
        first = dict(
            con.execute("SELECT column_name, first_line FROM file_number_cells").fetchall()
        )
        out = []
        for c in watched:
            h = by_norm.get(c.name.lower())
            if h is not None and h in first:
                out.append(f"{c.name} (number cells from line {first[h]})")
        return out
    out = []
    for c in watched:
        h = by_norm.get(c.name.lower())
        t = (types.get(h) or "").upper().split("(")[0] if h else ""
        if t in NUMERIC_TYPES:
            out.append(f"{c.name} ({t})")
    return out
