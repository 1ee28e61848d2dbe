"""Staging a delivery's files into temp table `staged_rows` (file index, physical line, one text
column per contract column): one file at a time (`stage_file`), or CSV files sharing a header
line in one multi-file read (`same_header_batches`, `stage_batch`)."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from orchestration import contract
from orchestration.duck import insert_rows, lit, lit_list, q
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


def stage_file(con, src: contract.Source, path: Path, fidx: int, tmp: Path, fr: FileResult) -> None:
    """Read one file and append its rows to temp table staged_rows (contract columns as text)."""
    encoding, skipped, malformed, unbalanced = read_file(con, path, fr.format, tmp)
    fr.encoding = encoding
    types = dict(
        con.execute("SELECT column_name, column_type FROM (DESCRIBE file_rows)").fetchall()
    )
    header = list(types)
    if not header:
        raise FileRejected("no columns found (empty file?)")
    by_norm = _by_norm(header)
    all_nulls, any_nl = _blank_and_newline_sql(header)
    any_nl = any_nl if fr.format == "csv" else "false"
    # one pass for the counts (a file's small queries add up over thousands of files)
    n_blank, n_rows, has_nl = con.execute(
        f"SELECT count(*) FILTER (WHERE {all_nulls}), count(*) FILTER (WHERE NOT ({all_nulls})), "
        f"coalesce(bool_or({any_nl}), false) FROM file_rows"
    ).fetchone()
    n_rej = len(malformed) + len(unbalanced)
    missing = _missing_required(src, by_norm)
    if missing:
        raise FileRejected(
            f"missing required column(s) {', '.join(missing)} ({len(header)} column(s) in line 1, "
            f"{len(header) - len(_extra(src, header))} of them contract columns; is line 1 a header "
            f"row?). Re-export the file with a header row holding these columns (names are matched "
            f"case-insensitively) and land again",
            rows_read=n_rows + n_rej,
        )
    numeric = numeric_codes(src, by_norm, types, path, fr.format, con)
    if numeric:
        raise FileRejected(
            f"code column(s) stored as numbers: {', '.join(numeric)}; leading zeros may be lost (dept "
            f"`4` for `04`). Re-export the file with these columns as text and land again",
            rows_read=n_rows + n_rej,
        )
    line_sql, join, rej_line = _line_expr(con, fr.format, header, skipped, malformed, has_nl)
    con.execute(
        f"INSERT INTO staged_rows SELECT {fidx}, {line_sql}, {', '.join(_column_exprs(src, by_norm, types, fr.format))} "
        f"FROM file_rows {join} WHERE NOT ({all_nulls})"
    )
    if n_rej:
        con.execute(
            f"INSERT INTO malformed_rows SELECT {fidx}, {rej_line}, 'malformed CSV row: ' || lower(error_type) "
            f"FROM (SELECT line, min(error_type) AS error_type FROM file_rejects GROUP BY line) AS file_rejects"
        )
    if unbalanced:
        insert_rows(
            con,
            "malformed_rows",
            [(fidx, n, "malformed CSV row: unbalanced quote") for n in unbalanced],
        )
    fr.rows_read = n_rows + n_rej
    fr.message = _file_notes(src, header, by_norm, n_rej, n_blank + len(skipped) - len(unbalanced))


def _blank_and_newline_sql(header: list[str]) -> tuple[str, str]:
    """SQL over file_rows: (every column is NULL -- a blank row, a value holds a newline)."""
    return (
        " AND ".join(f"file_rows.{q(h)} IS NULL" for h in header),
        " OR ".join(f"contains(file_rows.{q(h)}, chr(10))" for h in header),
    )


def _by_norm(header: list[str]) -> dict[str, str]:
    """Header names by their trimmed lower-case form (how contract columns are matched)."""
    out: dict[str, str] = {}
    for h in header:
        out.setdefault(h.strip().lower(), h)
    return out


def _missing_required(src: contract.Source, by_norm: dict[str, str]) -> list[str]:
    return [c.name for c in src.columns if c.required and c.name.lower() not in by_norm]


def _column_exprs(
    src: contract.Source, by_norm: dict[str, str], types: dict[str, str], fmt: str
) -> list[str]:
    """Per contract column, the text of the file's matching column of file_rows (NULL when absent)."""
    cols = []
    for c in src.columns:
        h = by_norm.get(c.name.lower())
        if h is None:
            cols.append("NULL")
            continue
        e = f"CAST(file_rows.{q(h)} AS VARCHAR)"
        t = (types.get(h) or "").upper()
        if fmt == "parquet" and t.startswith("TIMESTAMP") and c.kind == "date":
            e = f"CAST(CAST(file_rows.{q(h)} AS DATE) AS VARCHAR)"
        cols.append(e)
    return cols


def _extra(src: contract.Source, header: list[str]) -> list[str]:
    return [h for h in header if h.strip().lower() not in {c.name.lower() for c in src.columns}]


def _file_notes(
    src: contract.Source, header: list[str], by_norm: dict[str, str], n_rej: int, blank: int
) -> str:
    notes = []
    if n_rej:
        notes.append(f"{n_rej} malformed row(s) quarantined")
    if blank:
        notes.append(f"{blank} blank line(s) skipped")
    extra = _extra(src, header)
    if extra:  # named only when they look like column names: a header cell may be data
        named = [h for h in extra[:10] if re.fullmatch(r"[A-Za-z_][A-Za-z_ ]{0,39}", h)]
        notes.append(
            f"{len(extra)} extra column(s) ignored" + (f": {', '.join(named)}" if named else "")
        )
    absent = [c.name for c in src.columns if not c.required and c.name.lower() not in by_norm]
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


def stage_batch(
    con, src: contract.Source, delim: str, members: list[Member], tmp: Path, name: str
) -> dict[int, tuple[int, str, str]]:
    """Stage CSV files that share a header with one multi-file read into temp table `name`, seen
    through temp view `name`_rows in the layout of staged_rows (the GROUP BY reads it beside staged_rows, so the
    rows are not copied): DuckDB's start-up cost per read is most of the time of a small file.
    GB18030 files are transcoded to UTF-8 in `tmp` first (see orchestration/land/__init__.py). Only files with
    nothing unusual -- no malformed row, no empty line, no newline inside a value -- are staged
    here, their line number being row order + 2; the rest is left to the per-file path, which
    numbers lines around such things.
    Returns {file index: (rows read, notes, encoding label)} of the files staged."""
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
        return _stage_readable(con, src, delim, readable, name)
    finally:
        for f in readable:
            if Path(f).parent == tmp:
                Path(f).unlink(missing_ok=True)


def _stage_readable(
    con, src: contract.Source, delim: str, readable: dict[str, tuple[int, str]], name: str
) -> dict[int, tuple[int, str, str]]:
    """stage_batch on UTF-8 files: {path to read: (file index, encoding label)}."""
    if len(readable) < 2:
        return {}
    con.execute("DROP TABLE IF EXISTS file_rejects; DROP TABLE IF EXISTS file_reject_scans")
    try:
        con.execute(
            f"CREATE TEMP TABLE {name} AS SELECT * FROM read_csv({lit_list(readable)}, header = true, all_varchar = true, "
            f"delim = {lit(delim)}, quote = '\"', escape = '\"', filename = {lit(FILE_COL)}, store_rejects = true, "
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
    by_norm = _by_norm(header)
    if not header or _missing_required(src, by_norm):
        return {}
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
        f"{', '.join(_column_exprs(src, by_norm, types, 'csv'))} FROM {name} AS file_rows JOIN {name}_files AS member "
        f"ON member.file = file_rows.{FILE_COL} WHERE NOT ({all_nulls})"
    )
    return {
        fidx: (
            stats[file][1],
            _file_notes(src, header, by_norm, 0, stats[file][0]),
            readable[file][1],
        )
        for file, fidx, _ in clean
    }


def drop_batches(con, names: list[str]) -> None:
    for n in names:
        con.execute(
            f"DROP VIEW IF EXISTS {n}_rows; DROP TABLE IF EXISTS {n}_files; DROP TABLE IF EXISTS {n}"
        )
