"""Workbooks (.xlsx, .xls) read as Excel shows them, into text columns (read.py loads them).

python-calamine reads the cells (Rust; ~10x openpyxl on a 20k-row roster, and it types every
cell, so the number-cell rule needs no second pass). On top of it, Excel's semantics:

- the sheet read is the active sheet when it is visible and holds data, else the first visible
  sheet that does; hidden and very hidden sheets are never read. Several visible sheets with
  the same header (the rows split over sheets) reject the file naming them: a file's rows carry
  one line numbering and the file's name as lineage, so two sheets' rows could not be told apart;
- dates follow the workbook's date system (1900 or 1904, calamine reads the flag): date cells
  arrive as `YYYY-MM-DD`, date-time cells as `YYYY-MM-DD HH:MM:SS` (rounded to the second);
- number cells are written at Excel's 15 significant digits, without exponent (a double
  `91582.64999999999` is the `91582.65` Excel shows); TRUE/FALSE cells arrive as `1`/`0`;
- a cell merged down a block (rows below the header) gives its value to every row of the block,
  in the merge's first column (where Excel keeps the value); a header cell merged down into the
  data rejects the file (a two-row header);
- the header is the first non-empty row; the empty rows above it are reported as skipped, so line
  numbers stay the sheet's row numbers; empty rows after the last value are not read.
"""

from __future__ import annotations

import datetime as dt
import re
import struct
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from orchestration.land.report import FileRejected


@dataclass
class TextTable:
    """One file's rows as text: header names (None for an empty header cell), each column's
    1-based position in the file, one list of values per column (None = empty), the line of
    the first number cell per column index, and the lines skipped above the header (1-based)."""

    names: list[str | None]
    positions: list[int]
    columns: list[list[str | None]]
    number_cells: dict[int, int] = field(default_factory=dict)
    skipped: list[int] = field(default_factory=list)
    encoding: str | None = None


def number_text(v: float | int) -> str:
    """A number cell's value as Excel shows it in General format: 15 significant digits, no
    exponent, no trailing zeros (`91582.64999999999` -> `91582.65`, `1e-05` -> `0.00001`)."""
    if isinstance(v, int):
        return str(v)
    if v != v or v in (float("inf"), float("-inf")):
        return str(v)
    s = format(v, ".15g")
    if "e" in s:
        s = format(Decimal(s), "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s == "-0" else s


def _round_second(v: dt.datetime) -> dt.datetime:
    return v.replace(microsecond=0) + dt.timedelta(seconds=v.microsecond >= 500_000)


def cell_text(v) -> tuple[str | None, bool]:
    """(the cell's text, whether it is a number cell) for a value python-calamine returns."""
    t = type(v)
    if t is str:
        return (v or None), False
    if t is float or t is int:
        return number_text(v), True
    if t is bool:
        return ("1" if v else "0"), False
    if t is dt.datetime:
        return _round_second(v).strftime("%Y-%m-%d %H:%M:%S"), False
    if t is dt.date:
        return v.strftime("%Y-%m-%d"), False
    if t is dt.time:
        return v.strftime("%H:%M:%S"), False
    if t is dt.timedelta:
        s = round(v.total_seconds())
        return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}", False
    return (str(v) if v is not None else None), False


def column_letter(i: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


def unique_names(names: list[str]) -> list[str]:
    """Names made unique case-insensitively (DuckDB's column names are): `x`, `x_1`, `x_2`."""
    seen: set[str] = set()
    out = []
    for n in names:
        base, k = n, 0
        while n.lower() in seen:
            k += 1
            n = f"{base}_{k}"
        seen.add(n.lower())
        out.append(n)
    return out


def _active_xlsx(path: Path) -> int:
    """The active sheet's index (`workbookView activeTab`, 0 when absent) of an .xlsx."""
    try:
        with zipfile.ZipFile(path) as z:
            xml = z.read("xl/workbook.xml")[:65536].decode("utf-8", errors="replace")
    except (KeyError, OSError, zipfile.BadZipFile):
        return 0
    m = re.search(r"<(?:\w+:)?workbookView\b[^>]*\bactiveTab=\"(\d+)\"", xml)
    return int(m.group(1)) if m else 0


def _active_xls(path: Path) -> int:
    """The active sheet's index of a BIFF .xls: `itabCur` of the WINDOW1 record (0x3D) in the
    workbook globals, read through xlrd's compound-document reader; 0 when absent."""
    try:
        from xlrd import compdoc

        with open(path, "rb") as fh:
            cd = compdoc.CompDoc(fh.read(), logfile=_Null())
        for name in ("Workbook", "Book"):
            mem, base, size = cd.locate_named_stream(name)
            if mem is not None:
                break
        else:
            return 0
        pos, end = base, base + size
        while pos + 4 <= end:
            rid, length = struct.unpack_from("<HH", mem, pos)
            if rid == 0x3D and length >= 12:
                return struct.unpack_from("<H", mem, pos + 4 + 10)[0]
            if rid == 0x0A:  # EOF of the globals substream
                break
            pos += 4 + length
    except Exception:  # a file xlrd cannot walk: calamine decides readability
        return 0
    return 0


class _Null:
    def write(self, *_):
        pass


def _open(path: Path, fmt: str):
    import python_calamine as pc

    try:
        return pc.CalamineWorkbook.from_path(str(path))
    except pc.PasswordError:
        raise FileRejected(
            f"the {fmt} workbook is password-protected; save it without a password and land again"
        ) from None
    except Exception as exc:  # calamine's text may quote cells: never shown
        raise FileRejected(
            f"not a readable {fmt} workbook ({type(exc).__name__}); open it in Excel or WPS, save "
            f"it again as .{fmt} and land again"
        ) from None


def _rows(sheet) -> tuple[list[list], int, int]:
    """(rows, row index of the first one, column index of the first column): iter_rows starts at
    row 0 of the sheet in the calamine version pinned, but the start is taken from its figures."""
    rows = list(sheet.iter_rows())
    end = sheet.end
    first_row = (end[0] + 1 - len(rows)) if end else 0
    first_col = (sheet.start or (0, 0))[1]
    return rows, max(first_row, 0), first_col


def _header_index(rows: list[list]) -> int | None:
    for i, r in enumerate(rows):
        if any(cell_text(v)[0] is not None and str(v).strip() for v in r):
            return i
    return None


def _norm_header(row: list) -> tuple[str, ...]:
    return tuple(str(cell_text(v)[0]).strip().lower() for v in row if cell_text(v)[0] is not None)


def read_workbook(path: Path, fmt: str) -> TextTable:
    """The data sheet of an .xlsx / .xls as text columns (see the module's docstring)."""
    import python_calamine as pc

    wb = _open(path, fmt)
    try:
        meta = wb.sheets_metadata
        visible = [
            i
            for i, m in enumerate(meta)
            if m.visible == pc.SheetVisibleEnum.Visible and m.typ == pc.SheetTypeEnum.WorkSheet
        ]
        active = _active_xlsx(path) if fmt == "xlsx" else _active_xls(path)
        order = ([active] if active in visible else []) + [i for i in visible if i != active]
        loaded: dict[int, tuple[list[list], int, int, int]] = {}
        for i in order:
            try:
                rows, r0, c0 = _rows(wb.get_sheet_by_index(i))
            except Exception:
                raise FileRejected(
                    f"sheet {i + 1} of the {fmt} workbook cannot be read; open it in Excel or WPS, "
                    f"save it again and land again"
                ) from None
            h = _header_index(rows)
            if h is not None:
                loaded[i] = (rows, r0, c0, h)
        if not loaded:
            hidden = len(meta) - len(visible)
            raise FileRejected(
                "no visible sheet holds data"
                + (f" ({hidden} hidden sheet(s) are never read)" if hidden else "")
                + "; put the rows on a visible sheet and land again"
            )
        chosen = next(i for i in order if i in loaded)
        rows, r0, c0, h = loaded[chosen]
        same = [
            i for i in loaded if _norm_header(loaded[i][0][loaded[i][3]]) == _norm_header(rows[h])
        ]
        if len(same) > 1:
            named = ", ".join(f"{i + 1} {meta[i].name!r}" for i in sorted(same))
            raise FileRejected(
                f"{len(same)} visible sheets hold rows under the same header (sheets {named}); a "
                f"file is landed from one sheet (its rows' lineage is the file and line). Put the "
                f"rows on one sheet, or save each sheet as its own file, and land again"
            )
        merged = wb.get_sheet_by_index(chosen).merged_cell_ranges or []
    finally:
        wb.close()
    return _table(rows, r0, c0, h, merged)


def _table(rows: list[list], r0: int, c0: int, h: int, merged) -> TextTable:
    header_row = r0 + h  # 0-based sheet row of the header
    end = len(rows)  # empty rows at the end (a formatted but unused range) are not read
    while end > h + 1 and all(v is None or v == "" for v in rows[end - 1]):
        end -= 1
    width = max((len(r) for r in rows[h:end]), default=0)
    texts: list[list[str | None]] = [[] for _ in range(width)]
    first_number: dict[int, int] = {}
    for k, r in enumerate(rows[h + 1 : end]):
        line = header_row + 2 + k
        for j in range(width):
            v = r[j] if j < len(r) else None
            t, is_number = cell_text(v)
            texts[j].append(t)
            if is_number and j not in first_number:
                first_number[j] = line
    for (top, left), (bottom, _right) in merged:
        if bottom <= top or bottom <= header_row:
            continue
        if top <= header_row:
            raise FileRejected(
                f"header cell {column_letter(left)}{top + 1} is merged down into the data rows "
                f"(a two-row header?); keep the header on one row, unmerge it and land again"
            )
        j = left - c0
        if not 0 <= j < width:
            continue
        col = texts[j]
        a, b = top - header_row - 1, bottom - header_row - 1  # indexes into the data rows
        for k in range(a + 1, min(b, len(col) - 1) + 1):
            col[k] = col[a]
    heads = [cell_text(rows[h][j] if j < len(rows[h]) else None)[0] for j in range(width)]
    keep = [j for j in range(width) if heads[j] is not None or any(x is not None for x in texts[j])]
    return TextTable(
        names=[(heads[j] or "").strip() or None for j in keep],
        positions=[c0 + j + 1 for j in keep],
        columns=[texts[j] for j in keep],
        number_cells={n: first_number[j] for n, j in enumerate(keep) if j in first_number},
        skipped=list(range(1, header_row + 1)),
    )
