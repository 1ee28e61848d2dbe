"""Staging a delivery's files into temp table `staged_rows` (file index, physical line, one text
column per contract column): one file at a time (`stage_file`), or CSV files sharing a header
line in one multi-file read (`same_header_batches`, `stage_batch`)."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from orchestration import contract
from orchestration.duck import insert_rows, lit, lit_list, q
from orchestration.land import read
from orchestration.land.profile import (
    CONTRACT,
    Mapping,
    Profiles,
    lookup_rules,
    mapping,
    resolve_lookups,
)
from orchestration.land.read import (
    csv_delimiter,
    embedded_newlines_sql,
    header_line,
    numeric_codes,
    read_file,
    scan_lines,
    sniff_encoding,
    transcode_to_utf8,
)
from orchestration.land.report import FileRejected, FileResult


def _line_expr(
    con, fmt: str, all_cols: list[str], skipped: list[int], malformed: set[int], has_nl: bool
) -> tuple[str, str, str]:
    """SQL for the 1-based physical line of each row of file_rows (header = line 1): (expression, JOIN
    clause for it, expression for the line of a malformed row in file_rejects).

    xlsx / xls / dbf / parquet: rowid + 2 (header = line 1), plus the empty sheet rows above the
    header (`skipped`, see read.read_file). CSV: rowid + 2, plus the
    blank and malformed lines DuckDB skipped before the row, plus the newlines embedded in quoted
    values of earlier rows (a running sum, computed only when the file has any)."""
    if fmt != "csv":
        return f"file_rows.rowid + {2 + len(skipped)}", "", "line"
    nl = embedded_newlines_sql(all_cols)
    gaps = sorted(set(skipped) | malformed)
    if not gaps and not has_nl:
        return "file_rows.rowid + 2", "", "line"
    # Lines as DuckDB counts them (no embedded newlines): a skipped line s_j (j = 0, 1, ... in
    # order) lies before a row whose line counted without any gaps is L0 iff s_j - j <= L0.
    con.execute(
        "DROP TABLE IF EXISTS skipped_lines; CREATE TEMP TABLE skipped_lines (shifted_line BIGINT)"
    )
    if gaps:
        con.executemany(
            "INSERT INTO skipped_lines VALUES (?)", [[s - j] for j, s in enumerate(gaps)]
        )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE row_lines AS SELECT rowid AS row_id, rowid + 2 AS line_if_no_gaps, {nl} AS embedded_newlines FROM file_rows"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE row_lines AS SELECT row_id, embedded_newlines, line_if_no_gaps + (SELECT count(*) FROM skipped_lines "
        "WHERE skipped_lines.shifted_line <= row_lines.line_if_no_gaps) AS line_as_counted FROM row_lines"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE row_lines AS SELECT row_id, line_as_counted, line_as_counted + coalesce(sum(embedded_newlines) OVER (ORDER BY row_id "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS physical_line, embedded_newlines FROM row_lines"
    )
    rej_line = (
        "line + (SELECT coalesce(sum(embedded_newlines), 0) FROM row_lines WHERE row_lines.line_as_counted < file_rejects.line)"
        if has_nl
        else "line"
    )
    return (
        "row_lines.physical_line",
        "JOIN row_lines ON row_lines.row_id = file_rows.rowid",
        rej_line,
    )


def stage_file(
    con,
    src: contract.Source,
    path: Path,
    fidx: int,
    tmp: Path,
    fr: FileResult,
    profiles: Profiles,
) -> None:
    """Read one file and append its rows to temp table staged_rows (contract columns as text,
    through the layout profile its header matches)."""
    encoding, skipped, malformed, unbalanced = read_file(con, path, fr.format, tmp)
    fr.encoding = encoding
    types = dict(
        con.execute("SELECT column_name, column_type FROM (DESCRIBE file_rows)").fetchall()
    )
    header = list(types)
    if not header:
        raise FileRejected("no columns found (empty file?)")
    all_nulls, any_nl = _blank_and_newline_sql(header)
    any_nl = any_nl if fr.format == "csv" else "false"
    # one pass for the counts (a file's small queries add up over thousands of files)
    n_blank, n_rows, has_nl = con.execute(
        f"SELECT count(*) FILTER (WHERE {all_nulls}), count(*) FILTER (WHERE NOT ({all_nulls})), "
        f"coalesce(bool_or({any_nl}), false) FROM file_rows"
    ).fetchone()
    n_rej = len(malformed) + len(unbalanced)
    try:
        chosen, why = profiles.choose(src.name, fr.period, header)
        fr.profile = chosen.name
        lookups = resolve_lookups(con, chosen, header, fr.period) if lookup_rules(chosen) else None
    except FileRejected as exc:
        raise FileRejected(str(exc), rows_read=n_rows + n_rej) from None
    m = mapping(chosen, why, header, types, fr.format, lookups)
    numeric = numeric_codes(src, m.direct, types, path, fr.format, con)
    if numeric:
        raise FileRejected(
            f"code column(s) stored as numbers: {', '.join(numeric)}; leading zeros may be lost (dept "
            f"`4` for `04`). Re-export the file with these columns as text and land again",
            rows_read=n_rows + n_rej,
        )
    line_sql, join, rej_line = _line_expr(con, fr.format, header, skipped, malformed, has_nl)
    con.execute(
        f"INSERT INTO staged_rows SELECT {fidx}, {line_sql}, {', '.join(m.exprs)}, "
        f"{row_flag_sql(src, header, m)} FROM file_rows {join} WHERE NOT ({all_nulls})"
    )
    if n_rej:
        con.execute(
            f"INSERT INTO malformed_rows SELECT {fidx}, {rej_line}, 'malformed CSV row: ' || {MALFORMED_SQL} "
            f"FROM (SELECT line, min(error_type) AS error_type FROM file_rejects GROUP BY line) AS file_rejects"
        )
    if unbalanced:
        insert_rows(
            con,
            "malformed_rows",
            [(fidx, n, "malformed CSV row: unbalanced quote") for n in unbalanced],
        )
    fr.rows_read = n_rows + n_rej
    fr.message = _file_notes(src, header, m, n_rej, n_blank + len(skipped) - len(unbalanced))


# DuckDB's CSV error types -> the quarantine reason (never DuckDB's text: it quotes the line)
MALFORMED_SQL = (
    "CASE error_type WHEN 'TOO MANY COLUMNS' THEN 'more fields than the header has columns "
    "(an unquoted delimiter inside a value?)' WHEN 'MISSING COLUMNS' THEN 'fewer fields than the "
    "header has columns' WHEN 'UNQUOTED VALUE' THEN 'ill-quoted value' WHEN 'LINE SIZE OVER MAXIMUM' "
    "THEN 'line longer than the reader''s limit' ELSE lower(error_type) END"
)

# Rows that are not records: a totals row (合计 ...), a signature or footer row (制表人 ...). Their
# label is the first text of a cell; checked in every cell but those of free-text columns.
TOTALS = r"(合|小|总|累)[\s\x{3000}]*计|(?i:sub\s*total|total)\b"
FOOTER = r"制表|填表|填报|审核|复核|制单|报出日期|报送日期|单位负责人|统计负责人|负责人"


def row_flag_sql(src: contract.Source, header: list[str], m: Mapping) -> str:
    """SQL over file_rows: why a row of the file is not a record, or NULL. A totals row, a
    signature or footer row, a value in a column without a header name, or no value in any
    column the profile reads (a note under the table?). Labels are found at the start of the
    first three cells, the key and the name cells, free-text columns excepted."""
    text_cols = {m.direct.get(c.name.lower()) for c in src.columns if c.kind == "text"}
    # where such labels stand: the first cells of the row (序号, 编号, the id), the key columns
    # and the name columns. Not every cell: a pattern test over every cell of every row costs
    # more than the rest of staging (bench/README.md, "Measured choices")
    keys = {k.lower() for k in src.natural_key} | {
        c.name.lower() for c in src.columns if c.kind == "pii_drop"
    }
    near = header[:3] + [m.direct[k] for k in keys if k in m.direct]
    watched = [
        h for h in dict.fromkeys(near) if h not in text_cols and not h.startswith(read.UNNAMED)
    ]
    # the watched cells of a row joined by a unit separator: one pattern test a row
    row = (
        f"concat_ws(chr(31), {', '.join(f'file_rows.{q(h)}' for h in watched)})" if watched else ""
    )
    cell = r"(^|\x{1f})[\s\x{3000}]*"
    unnamed = [h for h in header if h.startswith(read.UNNAMED)]
    mapped = [h for h in header if h in m.used]
    cases = []
    if watched:
        label = f"regexp_matches({row}, {lit(cell + '(' + TOTALS + '|' + FOOTER + ')')})"
        totals = f"regexp_matches({row}, {lit(cell + '(' + TOTALS + ')')})"
        cases.append(
            f"WHEN {label} THEN CASE WHEN {totals} THEN 'totals row (合计/小计/总计), not a record' "
            f"ELSE 'signature or footer row (制表人/审核人/填报日期), not a record' END"
        )
    if unnamed:
        cases += [
            f"WHEN file_rows.{q(h)} IS NOT NULL THEN 'value in column {h.removeprefix(read.UNNAMED)}, which has no header name'"
            for h in unnamed
        ]
    if mapped:
        none = " AND ".join(f"file_rows.{q(h)} IS NULL" for h in mapped)
        cases.append(
            f"WHEN {none} THEN 'no value in any contract column (a note below the table?)'"
        )
    return f"CASE {' '.join(cases)} END" if cases else "NULL::VARCHAR"


def _blank_and_newline_sql(header: list[str]) -> tuple[str, str]:
    """SQL over file_rows: (every column is NULL -- a blank row, a value holds a newline)."""
    return (
        " AND ".join(f"file_rows.{q(h)} IS NULL" for h in header),
        " OR ".join(f"contains(file_rows.{q(h)}, chr(10))" for h in header),
    )


def _extra(header: list[str], m: Mapping) -> list[str]:
    return [h for h in m.unmapped(header) if not h.startswith(read.UNNAMED)]


def _file_notes(src: contract.Source, header: list[str], m: Mapping, n_rej: int, blank: int) -> str:
    notes = []
    if n_rej:
        notes.append(f"{n_rej} malformed row(s) quarantined")
    if blank:
        notes.append(f"{blank} blank line(s) skipped")
    unnamed = sum(h.startswith(read.UNNAMED) for h in header)
    if unnamed:
        notes.append(f"{unnamed} column(s) without a header name ignored")
    if m.profile.name != CONTRACT:
        notes.append(f"layout {m.profile.name}")
    extra = _extra(header, m)
    if extra:  # named only when they look like column names: a header cell may be data
        named = [h for h in extra[:10] if re.fullmatch(r"[A-Za-z_][A-Za-z_ ]{0,39}", h)]
        notes.append(
            f"{len(extra)} extra column(s) ignored" + (f": {', '.join(named)}" if named else "")
        )
    absent = [c.name for c, e in zip(src.columns, m.exprs) if not c.required and e == "NULL"]
    if absent:
        notes.append(f"optional column(s) absent, loaded as NULL: {', '.join(absent)}")
    return "; ".join(notes)


BATCH_BYTES = 256 << 20  # files read together per multi-file read (bounds the staging table)
FILE_COL = "_ygt_source_file"


Member = tuple[int, Path, str]  # (file index, path, encoding 'utf-8' | 'gb18030')


def same_header_batches(paths: list[tuple[int, Path]]) -> list[tuple[str, list[Member]]]:
    """(delimiter, files) groups of CSV files with the same header line (compared as UTF-8), up
    to BATCH_BYTES each, that one multi-file read can stage. Other files are not in any group."""
    groups: dict[bytes, list[Member]] = {}
    for fidx, path in paths:
        if path.suffix.lower() != ".csv":
            continue
        encoding, header = sniff_encoding(path), header_line(path)
        if encoding == "gb18030":
            try:
                header = header.decode("gb18030").encode("utf-8")
            except UnicodeDecodeError:
                continue  # the per-file path rejects it and says why
        if b"\r" in header.rstrip(b"\r\n") or not _plain_header(header):
            continue  # CR-only line ends, empty or too many header cells: the per-file path
        groups.setdefault(header, []).append((fidx, path, encoding))
    out: list[tuple[str, list[Member]]] = []
    for header, members in groups.items():
        batches: list[list[Member]] = [[]]
        size = 0
        for m in members:
            file_size = m[1].stat().st_size
            if batches[-1] and size + file_size > BATCH_BYTES:
                batches.append([])
                size = 0
            batches[-1].append(m)
            size += file_size
        out += [(csv_delimiter(header), b) for b in batches if len(b) > 1]
    return out


def _plain_header(header: bytes) -> bool:
    """A header line the multi-file read names as the per-file path does: no empty cell (DuckDB
    would name it `column<n>`), not wider than read.MAX_COLUMNS."""
    try:
        names = read.header_names(header, csv_delimiter(header))
    except FileRejected:
        return False
    return not any(n.startswith(read.UNNAMED) for n in names)


def stage_batch(
    con,
    src: contract.Source,
    delim: str,
    members: list[Member],
    tmp: Path,
    name: str,
    profiles: Profiles,
    period: str,
) -> dict[int, tuple[int, str, str, str]]:
    """Stage CSV files that share a header with one multi-file read into temp table `name`, seen
    through temp view `name`_rows in the layout of staged_rows (the GROUP BY reads it beside staged_rows, so the
    rows are not copied): DuckDB's start-up cost per read is most of the time of a small file.
    GB18030 files are transcoded to UTF-8 in `tmp` first (see orchestration/land/__init__.py). Only files with
    nothing unusual -- no malformed row, no empty line, no newline inside a value -- are staged
    here, their line number being row order + 2; the rest is left to the per-file path, which
    numbers lines around such things.
    Returns {file index: (rows read, notes, encoding label, profile)} of the files staged."""
    readable: dict[str, tuple[int, str]] = {}  # path read -> (file index, encoding label)
    try:
        for fidx, path, encoding in members:
            if encoding == "utf-8":
                readable[str(path)] = (fidx, "UTF-8")
                continue
            out = tmp / f"batch-{fidx}.csv"
            try:
                transcode_to_utf8(path, out)
            except FileRejected:
                continue  # the per-file path rejects it and says why
            readable[str(out)] = (fidx, "GB18030")
        return _stage_readable(con, src, delim, readable, name, profiles, period)
    finally:
        for f in readable:
            if Path(f).parent == tmp:
                Path(f).unlink(missing_ok=True)


def _stage_readable(
    con,
    src: contract.Source,
    delim: str,
    readable: dict[str, tuple[int, str]],
    name: str,
    profiles: Profiles,
    period: str,
) -> dict[int, tuple[int, str, str, str]]:
    """stage_batch on UTF-8 files: {path to read: (file index, encoding label)}."""
    if len(readable) < 2:
        return {}
    con.execute("DROP TABLE IF EXISTS file_rejects; DROP TABLE IF EXISTS file_reject_scans")
    try:
        con.execute(
            f"CREATE TEMP TABLE {name} AS SELECT * FROM read_csv({lit_list(readable)}, header = true, all_varchar = true, "
            f"delim = {lit(delim)}, quote = '\"', escape = '\"', strict_mode = true, filename = {lit(FILE_COL)}, store_rejects = true, "
            f"rejects_table = 'file_rejects', rejects_scan = 'file_reject_scans', rejects_limit = 0)"
        )
    except duckdb.Error:
        return {}  # the per-file path reads them one by one and names the bad file
    types = {
        n: t
        for n, t in con.execute(
            f"SELECT column_name, column_type FROM (DESCRIBE {name})"
        ).fetchall()
        if n != FILE_COL
    }
    header = list(types)
    if not header:
        return {}
    try:
        chosen, why = profiles.choose(src.name, period, header)
    except FileRejected:
        return {}  # the per-file path reads them one by one and says why
    if lookup_rules(chosen):
        return {}  # resolved per file
    m = mapping(chosen, why, header, types, "csv")
    all_nulls, _ = _blank_and_newline_sql(header)
    stats = {
        r[0]: r[1:]
        for r in con.execute(
            f"SELECT {FILE_COL}, count(*) FILTER (WHERE {all_nulls}), count(*) FILTER (WHERE NOT ({all_nulls})), "
            f"min(rowid), max(rowid), count(*) FROM {name} AS file_rows GROUP BY 1"
        ).fetchall()
    }
    unusual = {
        r[0]
        for r in con.execute(  # files with malformed rows (or bytes that are not UTF-8)
            "SELECT DISTINCT s.file_path FROM file_rejects JOIN file_reject_scans AS s USING (scan_id, file_id)"
        ).fetchall()
    }
    clean = []
    for file, (fidx, _) in readable.items():
        st = stats.get(file)
        if st is None or file in unusual or st[3] - st[2] + 1 != st[4]:
            continue
        # one line per row after the header, no empty line: no value holds a newline (counted
        # here by bytes, not by a scan of every value in SQL)
        lines, has_empty = scan_lines(Path(file))
        if has_empty or lines != 1 + st[4]:
            continue
        clean.append((file, fidx, st[2]))
    con.execute(f"CREATE TEMP TABLE {name}_files (file VARCHAR, fidx INTEGER, first_rowid BIGINT)")
    insert_rows(con, f"{name}_files", clean)
    con.execute(
        f"CREATE TEMP VIEW {name}_rows AS SELECT member.fidx AS _fidx, file_rows.rowid - member.first_rowid + 2 AS _line, "
        f"{', '.join(m.exprs)}, {row_flag_sql(src, header, m)} AS _flag "
        f"FROM {name} AS file_rows JOIN {name}_files AS member "
        f"ON member.file = file_rows.{FILE_COL} WHERE NOT ({all_nulls})"
    )
    return {
        fidx: (
            stats[file][1],
            _file_notes(src, header, m, 0, stats[file][0]),
            readable[file][1],
            chosen.name,
        )
        for file, fidx, _ in clean
    }


def drop_batches(con, names: list[str]) -> None:
    for n in names:
        con.execute(
            f"DROP VIEW IF EXISTS {n}_rows; DROP TABLE IF EXISTS {n}_files; DROP TABLE IF EXISTS {n}"
        )
