"""dBase / FoxPro tables (.dbf, e.g. the 卫统4-1 N041 front pages) into text columns.

dbfread parses the header and field descriptors (and the typed fields: integers, doubles,
date-times, currency, memos); character, numeric, date and logical fields are turned into text
here, exactly as stored:

- the code page is the one the language-driver byte (header offset 29) names; a file that names
  none (byte 0, or one dbfread does not know) is read as GBK -- decoded as GB18030, its
  superset -- the code page of Chinese dBase/FoxPro exports. A character field that does not
  decode rejects the file naming the field and line;
- numeric (N, F) fields keep their decimal text (`91582.65` stays `91582.65`); a code or
  identifier field typed N is a number column (leading zeros gone) and is treated like an
  Excel number cell (the file is rejected naming it, see read.numeric_codes);
- date (D) fields arrive as `YYYY-MM-DD`, logical (L) fields as `1`/`0` (`?` and blank as empty);
- a record marked deleted (`*`) is not data: it is kept as an empty row so line numbers stay
  `record number + 1` (the field list counts as line 1), and is skipped with the blank rows.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from orchestration.land.excel import TextTable, cell_text
from orchestration.land.report import FileRejected

DEFAULT_ENCODING = "gb18030"  # GBK's superset: every GBK file decodes the same
NUMBER_TYPES = set("NFIBOY+")


def dbf_encoding(path: Path) -> tuple[str, str]:
    """(Python codec, label) of a DBF from its language-driver byte; GBK when it names none."""
    from dbfread.codepages import codepages

    with open(path, "rb") as fh:
        head = fh.read(32)
    if len(head) < 32:
        raise FileRejected("not a readable DBF table (header shorter than 32 bytes)")
    ld = head[29]
    codec = codepages.get(ld, ("", ""))[0] if ld else ""
    if not codec or codec in ("cp936", "ascii"):
        return DEFAULT_ENCODING, "GBK"
    return codec, codec


def read_dbf(path: Path) -> TextTable:
    from dbfread import DBF

    codec, label = dbf_encoding(path)
    try:
        table = DBF(str(path), encoding=codec, ignorecase=False, char_decode_errors="strict")
    except UnicodeDecodeError:
        raise FileRejected(
            f"field names are not {label} text; re-export the table with the GBK code page"
        ) from None
    except Exception as exc:  # never quote a library's text (it may hold data)
        raise FileRejected(
            f"not a readable DBF table ({type(exc).__name__}); re-export it from the system that "
            f"wrote it"
        ) from None
    fields = [f for f in table.fields if f.type != "0"]  # `_NullFlags`: FoxPro bookkeeping
    names = [f.name.strip() or None for f in fields]
    columns: list[list[str | None]] = [[] for _ in fields]
    number_cells: dict[int, int] = {}
    offsets, pos = {}, 1
    for f in table.fields:
        offsets[f.name] = pos
        pos += f.length
    try:
        with open(path, "rb") as fh, table._open_memofile() as memo:
            parser = table.parserclass(table, memo)
            fh.seek(table.header.headerlen)
            size = table.header.recordlen
            line = 1
            while True:
                rec = fh.read(size)
                if not rec or rec[:1] == b"\x1a" or len(rec) < size:
                    break
                line += 1
                deleted = rec[:1] == b"*"
                for j, f in enumerate(fields):
                    if deleted:
                        columns[j].append(None)
                        continue
                    raw = rec[offsets[f.name] : offsets[f.name] + f.length]
                    try:
                        v = _text(f, raw, codec, parser)
                    except UnicodeDecodeError:
                        raise FileRejected(
                            f"field {j + 1} of line {line} is not {label} text; re-export the "
                            f"table with the GBK code page"
                        ) from None
                    except Exception:
                        v = raw.decode("latin-1").strip() or None  # parse.py judges the text
                    columns[j].append(v)
                    if v is not None and f.type in NUMBER_TYPES and j not in number_cells:
                        number_cells[j] = line
    except FileRejected:
        raise
    except Exception as exc:
        raise FileRejected(
            f"not a readable DBF table ({type(exc).__name__}); re-export it from the system that "
            f"wrote it"
        ) from None
    return TextTable(names, list(range(1, len(fields) + 1)), columns, number_cells, [], label)


def _text(f, raw: bytes, codec: str, parser) -> str | None:
    t = f.type
    if t in "CV":
        return raw.decode(codec).rstrip(" \x00") or None
    if t in "NF":
        return raw.decode("ascii").strip() or None
    if t == "D":
        s = raw.decode("ascii").strip()
        if not s or s.strip("0") == "":
            return None
        return f"{s[:4]}-{s[4:6]}-{s[6:]}" if len(s) == 8 and s.isdigit() else s
    if t == "L":
        c = raw[:1].upper()
        return "1" if c in (b"T", b"Y") else "0" if c in (b"F", b"N") else None
    if t in "MGP":
        v = parser.parse(f, raw)
        if isinstance(v, bytes):
            v = v.decode(codec)
        return (v or "").rstrip(" \x00") or None
    v = parser.parse(f, raw)
    if isinstance(v, dt.datetime | dt.date | float | int) or v is None:
        return cell_text(v)[0]
    return str(v).strip() or None
