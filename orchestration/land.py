"""Landing: `<landing>/<source>/<period>/<any name>.<csv|xlsx|parquet>` -> schema `raw`.

The layout of what this writes is fixed in docs/architecture.md ("Raw schema"); the columns come
from `contract.raw_columns`. Everything row-level happens inside DuckDB, set-based:

1. each file is read as text (every column VARCHAR) into a temporary table whose rowid follows
   the file order, and its physical line numbers are computed there (see `_line_expr`).
   CSV files with the same header are read together, one multi-file read per batch
   (`_stage_batch`, GB18030 ones transcoded first): DuckDB's start-up cost per read is most of
   the time of a small file, and a province delivers thousands. Files with malformed rows,
   empty lines or newlines inside values are left to the per-file path;
2. the rows of one delivery (source x period) -- the per-file rows stacked in one table, each
   batch's rows read where they were staged -- are de-duplicated by one GROUP BY over every
   contract column (first file, line wins);
3. one SELECT trims and parses every column once (try_strptime / TRY_CAST / IN-list) and builds
   the quarantine reason; the inserts hash identifiers with HMAC-SHA-256 written in SQL and
   check the GB 11643 check digit;
4. the old delivery is deleted and the new one inserted in one transaction, with one
   raw.load_audit row per file and the delivery's fingerprint in raw.deliveries.

CSV dialect: RFC 4180 quoting; the delimiter (, ; tab |) is taken from the header line and given
to DuckDB, as are quote and escape, so its reader does not sniff each file (see csv_delimiter).
GB18030/GBK CSV files are transcoded to UTF-8 in Python (streamed, 8 MB chunks) before DuckDB
reads them: DuckDB 1.4.4's `read_csv(encoding='GB18030')` silently corrupts a multi-byte
character that straddles its internal buffer boundary (duckdb/duckdb-encodings#19, fixed
upstream by duckdb/duckdb#25100) -- reproduced here on a 1M-row file.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from orchestration import contract, duck, settings
from orchestration.duck import lit, lit_list, q

Progress = Callable[[str], None]

# Bump when the loader's output for the same files changes: every delivery is then re-landed.
LOADER_VERSION = "land-2"
FORMATS = {".csv": "csv", ".xlsx": "xlsx", ".parquet": "parquet"}
PERIOD_RE = {"annual": re.compile(r"^\d{4}$"), "quarterly": re.compile(r"^\d{4}Q[1-4]$")}
PERIOD_HELP = {"annual": "YYYY (e.g. 2024)", "quarterly": "YYYYQn (e.g. 2024Q2)"}
CHUNK = 8 << 20
SNIFF_BYTES = 1 << 20
_WS = " \t\r\n\u3000\u00a0"  # trimmed around every value (incl. full-width and no-break spaces)

DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S")
TIMESTAMP_FORMATS = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M", "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M:%S.%f", "%Y/%m/%d %H:%M", "%Y/%m/%d",
    "%Y%m%d %H:%M:%S", "%Y%m%d%H%M%S", "%Y%m%d",
)  # fmt: skip

AUDIT_COLUMNS = [
    ("source", "VARCHAR"), ("period", "VARCHAR"), ("file", "VARCHAR"), ("rows_read", "BIGINT"),
    ("rows_loaded", "BIGINT"), ("rows_quarantined", "BIGINT"), ("rows_duplicate", "BIGINT"),
    ("loaded_at", "TIMESTAMP"), ("status", "VARCHAR"), ("message", "VARCHAR"),
]  # fmt: skip
QUARANTINE_COLUMNS = [
    ("source", "VARCHAR"), ("period", "VARCHAR"), ("file", "VARCHAR"), ("line", "BIGINT"),
    ("reason", "VARCHAR"), ("record", "JSON"),
]  # fmt: skip
DELIVERY_COLUMNS = [
    ("source", "VARCHAR"),
    ("period", "VARCHAR"),
    ("fingerprint", "VARCHAR"),
    ("landed_at", "TIMESTAMP"),
]
BOOKKEEPING = {
    "quarantine": QUARANTINE_COLUMNS,
    "load_audit": AUDIT_COLUMNS,
    "deliveries": DELIVERY_COLUMNS,
}


class LandingError(RuntimeError):
    """Landing could not finish; the message says what happened and what to do next."""

    def __init__(self, message: str, report: LandingReport | None = None):
        super().__init__(message)
        self.report = report


class FileRejected(Exception):
    """This file is rejected whole; nothing from it is loaded."""

    def __init__(self, message: str, rows_read: int = 0):
        super().__init__(message)
        self.rows_read = rows_read


# ── report ─────────────────────────────────────────────────────────────────────────────────


@dataclass
class FileResult:
    source: str
    period: str
    file: str  # path relative to the landing folder, '/' separated
    format: str
    encoding: str | None = None
    status: str = "loaded"  # loaded | rejected
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    message: str = ""
    seconds: float = 0.0

    @property
    def conserved(self) -> bool:
        return self.rows_read == self.rows_loaded + self.rows_quarantined + self.rows_duplicate


@dataclass
class DeliveryResult:
    source: str
    period: str
    status: str  # landed | skipped | failed
    fingerprint: str
    files: list[FileResult] = field(default_factory=list)
    message: str = ""
    seconds: float = 0.0
    skipped_files: list[str] = field(default_factory=list)  # "<file>: <why>", not read


@dataclass
class LandingReport:
    landing: Path
    deliveries: list[DeliveryResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # folder-level messages (names, stray files)
    demo_key: bool = False
    seconds: float = 0.0

    @property
    def files(self) -> list[FileResult]:
        return [f for d in self.deliveries for f in d.files]

    @property
    def landed(self) -> list[DeliveryResult]:
        return [d for d in self.deliveries if d.status == "landed"]

    @property
    def skipped(self) -> list[DeliveryResult]:
        return [d for d in self.deliveries if d.status == "skipped"]

    @property
    def failed(self) -> list[DeliveryResult]:
        return [d for d in self.deliveries if d.status == "failed"]

    @property
    def rejected_files(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "rejected"]

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def totals(self) -> dict[str, int]:
        fs = self.files
        return {
            "deliveries_landed": len(self.landed), "deliveries_skipped": len(self.skipped),
            "deliveries_failed": len(self.failed), "files": len(fs),
            "files_rejected": len(self.rejected_files),
            "rows_read": sum(f.rows_read for f in fs), "rows_loaded": sum(f.rows_loaded for f in fs),
            "rows_quarantined": sum(f.rows_quarantined for f in fs),
            "rows_duplicate": sum(f.rows_duplicate for f in fs),
        }  # fmt: skip

    def summary(self, verbose: bool = False) -> str:
        """Totals per source; every file with `verbose`. Rejected files are always listed."""
        t = self.totals
        lines = [
            f"landing {self.landing}: {t['deliveries_landed']} deliveries landed, "
            f"{t['deliveries_skipped']} unchanged (skipped), {t['deliveries_failed']} failed; "
            f"{t['files']} files ({t['files_rejected']} rejected) in {self.seconds:.1f}s",
            f"rows: read {t['rows_read']:,} = loaded {t['rows_loaded']:,} + quarantined "
            f"{t['rows_quarantined']:,} + duplicate {t['rows_duplicate']:,}"
            + (
                ""
                if all(f.conserved for f in self.files if f.status == "loaded")
                else "  (NOT CONSERVED)"
            ),
        ]
        if self.demo_key:
            lines.append(
                "NOTE: identifiers hashed with the labelled DEMO key; set YGT_HASH_KEY or "
                "YGT_HASH_KEY_FILE for real data."
            )
        by_source: dict[str, list[int]] = {}
        for d in self.deliveries:
            if d.status == "skipped":
                continue
            if d.message:
                lines.append(f"  {d.source}/{d.period}: {d.status} -- {d.message}")
            row = by_source.setdefault(d.source, [0] * 7)
            row[0] += 1
            for f in d.files:
                row[1] += 1
                row[2:] = [
                    row[2] + f.rows_read,
                    row[3] + f.rows_loaded,
                    row[4] + f.rows_quarantined,
                    row[5] + f.rows_duplicate,
                    row[6] + (f.status == "rejected"),
                ]
                if f.status == "rejected":
                    lines.append(f"  REJECTED {f.message}")
                elif verbose:
                    lines.append(
                        f"    {f.file}: read {f.rows_read:,}, loaded {f.rows_loaded:,}, quarantined "
                        f"{f.rows_quarantined:,}, duplicate {f.rows_duplicate:,}"
                        + (f" [{f.encoding}]" if f.encoding else "")
                    )
        if by_source:
            lines.append(
                f"  {'source':<26}{'deliveries':>11}{'files':>7}{'read':>12}{'loaded':>12}"
                f"{'quarantined':>12}{'duplicate':>10}{'rejected':>9}"
            )
            for name, (dl, nf, rd, ld, qu, du, rj) in by_source.items():
                lines.append(
                    f"  {name:<26}{dl:>11}{nf:>7}{rd:>12,}{ld:>12,}{qu:>12,}{du:>10,}{rj:>9}"
                )
        if self.skipped:
            names = ", ".join(f"{d.source}/{d.period}" for d in self.skipped)
            lines.append(f"  unchanged since last landing (use --force to re-land): {names}")
        for d in self.deliveries:
            lines += [f"  SKIPPED FILE {x}" for x in d.skipped_files]
        for p in self.problems:
            lines.append(f"  PROBLEM: {p}")
        if self.rejected_files or any(f.rows_quarantined for f in self.files):
            lines.append(
                "  details: raw.load_audit (per file) and raw.quarantine (file, line, reason); "
                "fix the files in the landing folder and land again."
            )
        return "\n".join(lines)


# ── schema ─────────────────────────────────────────────────────────────────────────────────


def _table_columns(con, schema: str, table: str) -> list[tuple[str, str]] | None:
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [schema, table],
    ).fetchall()
    return [(r[0], r[1]) for r in rows] or None


def _same_layout(have: list[tuple[str, str]], want: list[tuple[str, str]]) -> bool:
    norm = lambda t: t.upper().replace(" ", "")  # noqa: E731
    return [(n, norm(t)) for n, t in have] == [(n, norm(t)) for n, t in want]


def create_raw_schema(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create schema raw and every raw table (from contract.raw_columns) that does not exist.

    A raw.<source> table whose columns differ from the contract (the contract changed) is
    rebuilt empty and its deliveries forgotten, so the next landing re-lands them. Returns a
    message per rebuilt table."""
    notes: list[str] = []
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    for name, cols in BOOKKEEPING.items():
        have = _table_columns(con, "raw", name)
        if have is not None and not _same_layout(have, cols):
            raise LandingError(
                f"raw.{name} has columns {have}, expected {cols}: this working database "
                f"was made by another loader version; delete it and land again"
            )
        con.execute(
            f"CREATE TABLE IF NOT EXISTS raw.{name} ({', '.join(f'{q(n)} {t}' for n, t in cols)})"
        )
    for src in contract.SOURCES:
        want = contract.raw_columns(src)
        have = _table_columns(con, "raw", src.name)
        if have is not None and not _same_layout(have, want):
            con.execute(f"DROP TABLE raw.{q(src.name)}")
            for t in BOOKKEEPING:
                con.execute(f"DELETE FROM raw.{t} WHERE source = ?", [src.name])
            notes.append(
                f"raw.{src.name}: columns changed in the contract; table rebuilt, all its "
                f"deliveries will be re-landed"
            )
        con.execute(
            f"CREATE TABLE IF NOT EXISTS raw.{q(src.name)} "
            f"({', '.join(f'{q(n)} {t}' for n, t in want)})"
        )
    return notes


# ── discovery ──────────────────────────────────────────────────────────────────────────────


@dataclass
class Delivery:
    source: contract.Source
    period: str
    folder: Path
    files: list[Path]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why) not landed


def _skip_reason(p: Path, landing: Path) -> str | None:
    """Why discovery skips `p` (None: it is looked at). Only hidden files, Office lock files and
    the Windows/macOS folder metadata are skipped, plus links that lead out of the landing
    folder (never followed: the loader reads only what was delivered into it)."""
    if p.name.startswith("."):
        return "hidden file"
    if p.name.startswith("~$"):
        return "Office lock file"
    if p.name in ("Thumbs.db", "desktop.ini"):
        return "folder metadata file"
    if p.is_symlink():
        try:
            target = p.resolve(strict=True)
        except (OSError, RuntimeError):
            return "broken symbolic link, not followed"
        if not target.is_relative_to(landing):
            return "symbolic link pointing outside the landing folder, not followed"
    return None


def discover(
    landing: Path, periods: set[str] | None = None, sources: set[str] | None = None
) -> tuple[list[Delivery], list[str]]:
    """The deliveries under `landing` (filtered), and a message for every misplaced thing."""
    landing = Path(landing).resolve()
    problems: list[str] = []
    if not landing.is_dir():
        raise LandingError(f"landing folder {landing} does not exist or is not a folder")
    known = ", ".join(s.name for s in contract.SOURCES)
    for s in sorted(sources or ()):
        if s not in contract.SOURCE_BY_NAME:
            problems.append(f"unknown source {s!r} requested; known sources: {known}")
    deliveries: list[Delivery] = []
    for sdir in sorted(landing.iterdir()):
        if why := _skip_reason(sdir, landing):
            problems.append(f"{sdir.name}: skipped ({why})")
            continue
        if not sdir.is_dir():
            problems.append(
                f"{sdir.name}: a file directly in the landing folder is ignored; files go "
                f"in <landing>/<source>/<period>/"
            )
            continue
        src = contract.SOURCE_BY_NAME.get(sdir.name)
        if src is None:
            problems.append(
                f"{sdir.name}/: unknown source folder, ignored; known sources: {known}. "
                f"Rename it to one of these or move it out of the landing folder"
            )
            continue
        if sources is not None and src.name not in sources:
            continue
        for pdir in sorted(sdir.iterdir()):
            rel = f"{src.name}/{pdir.name}"
            if why := _skip_reason(pdir, landing):
                problems.append(f"{rel}: skipped ({why})")
                continue
            if not pdir.is_dir():
                problems.append(
                    f"{rel}: file outside a period folder, ignored; move it to "
                    f"{src.name}/<period>/ with period {PERIOD_HELP[src.frequency]}"
                )
                continue
            if not PERIOD_RE[src.frequency].match(pdir.name):
                problems.append(
                    f"{rel}/: period folder does not match {src.name}'s {src.frequency} "
                    f"frequency, ignored; expected {PERIOD_HELP[src.frequency]}"
                )
                continue
            if periods is not None and pdir.name not in periods:
                continue
            files, skipped = [], []
            for f in sorted(pdir.iterdir()):
                if why := _skip_reason(f, landing):
                    skipped.append((f"{rel}/{f.name}", why))
                    continue
                if f.is_dir():
                    problems.append(
                        f"{rel}/{f.name}/: sub-folder ignored; put files directly in {rel}/"
                    )
                elif f.suffix.lower() not in FORMATS:
                    problems.append(f"{rel}/{f.name}: not .csv, .xlsx or .parquet, ignored")
                else:
                    files.append(f)
            if not files:
                problems += [f"{name}: skipped ({why})" for name, why in skipped]
                problems.append(
                    f"{rel}/: no .csv/.xlsx/.parquet files, nothing landed for this period"
                )
                continue
            deliveries.append(Delivery(src, pdir.name, pdir, files, skipped))
    return deliveries, problems


def file_digest(path: Path) -> str:
    """SHA-256 of the file's bytes, streamed in CHUNK-sized reads."""
    h, buf = hashlib.sha256(), bytearray(CHUNK)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


def fingerprint(delivery: Delivery, landing: Path, key_id: str) -> str:
    """Names and content hashes of the delivery's files, the loader version, the source's
    contract and the hash key's id: any change re-lands the delivery. Content, not size and
    modification time: `cp -p`, unzip and rsync keep those for a corrected file."""
    h = hashlib.sha256()
    h.update(
        f"{LOADER_VERSION}|{key_id}|{contract.raw_columns(delivery.source)}|"
        f"{[(c.name, c.kind, c.required, c.enum) for c in delivery.source.columns]}".encode()
    )
    for f in delivery.files:
        h.update(f"|{f.relative_to(landing).as_posix()}|{file_digest(f)}".encode())
    return h.hexdigest()


# ── SQL building blocks ────────────────────────────────────────────────────────────────────


def hmac_sql(expr: str, key: bytes) -> str:
    """HMAC-SHA-256 hex of `expr` (VARCHAR, UTF-8) under `key`, in DuckDB SQL (RFC 2104)."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    k = key.ljust(64, b"\0")
    ipad = bytes(b ^ 0x36 for b in k).hex()
    opad = bytes(b ^ 0x5C for b in k).hex()
    return f"sha256(unhex('{opad}') || unhex(sha256(unhex('{ipad}') || encode({expr}))))"


GB11643_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def gb11643_sql(expr: str) -> str:
    """TRUE if `expr` (already trimmed, upper-cased) is an 18-character 身份证号 whose check
    character is right (GB 11643-1999); FALSE otherwise (also when NULL)."""
    # one dot product of the 17 digits with the weights (17 substr() calls cost ~1.6x more)
    total = (
        f"list_dot_product(TRY_CAST(string_split(left({expr}, 17), '') AS DOUBLE[]), "
        f"{list(GB11643_WEIGHTS)}::DOUBLE[])::BIGINT"
    )
    return (
        f"coalesce(CASE WHEN regexp_full_match({expr}, '[0-9]{{17}}[0-9X]') "
        f"THEN '10X98765432'[({total} % 11)::INTEGER + 1] = {expr}[18] END, false)"
    )


def _literals(fmt: str) -> set[str]:
    """The separator characters a strptime format requires literally (outside % directives)."""
    out, i = set(), 0
    while i < len(fmt):
        if fmt[i] == "%":
            i += 2
            continue
        if fmt[i] in "-/:.":  # not ' ': strptime lets a space in the format match several
            out.add(fmt[i])
        i += 1
    return out


def strptime_sql(expr: str, formats) -> str:
    """`try_strptime(expr, [formats])` -- the first format that parses wins -- but each format is
    tried only where `expr` contains the separators it requires. Same result, and ~15x faster
    when the values' format is late in the list (DuckDB tries a list's formats one by one)."""
    parts = []
    for f in formats:
        guard = " AND ".join(f"contains({expr}, {lit(c)})" for c in sorted(_literals(f)))
        one = f"try_strptime({expr}, {lit(f)})"
        parts.append(f"CASE WHEN {guard} THEN {one} END" if guard else one)
    return f"coalesce({', '.join(parts)})"


def trimmed_sql(expr: str) -> str:
    """`expr` with the whitespace of _WS trimmed from both ends, NULL when empty. trim() runs only
    where the first or last character is such whitespace: most values have none, and trim with
    a character set costs more than the test."""
    ws = ", ".join(str(ord(c)) for c in _WS)
    # suffix() compares bytes; ord(right(x, 1)) would walk the string to find its last character
    ends = " OR ".join(f"suffix({expr}, {lit(c)})" for c in _WS)
    return (
        f"CASE WHEN ord({expr}) IN ({ws}) OR {ends} "
        f"THEN NULLIF(trim({expr}, {lit(_WS)}), '') ELSE NULLIF({expr}, '') END"
    )


def _masked(v: str) -> str:
    """`v` with every run of 15+ digits (a 身份证号 or insurance number that slipped into
    another column) replaced: reasons and quarantine records never hold one in clear."""
    return f"regexp_replace({v}, '[0-9０-９]{{15,}}[0-9０-９Xx]*', '<long number hidden>', 'g')"


def _show(v: str) -> str:
    """A value quoted for a reason text, cut to 40 characters, long numbers masked."""
    return f"'''' || {_masked(f'left({v}, 40)')} || ''''"


FULL_WIDTH = "".join(chr(c) for c in range(0xFF10, 0xFF1A)) + "".join(
    chr(c) for c in list(range(0xFF21, 0xFF3B)) + list(range(0xFF41, 0xFF5B))
)
HALF_WIDTH = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def identifier_sql(v: str) -> str:
    """The normal form of an identifier before its check and hash: full-width digits and letters
    (U+FF10-FF19, U+FF21-FF3A, U+FF41-FF5A) mapped to ASCII -- the part of NFKC that matters
    for 身份证号 / insurance numbers, which DuckDB lacks -- spaces (incl. ideographic and
    no-break) removed, upper-cased. `１１０１…` and `110 101…` thus hash like `1101…`."""
    out = f"translate({v}, {lit(FULL_WIDTH)}, {lit(HALF_WIDTH)})"
    for ch in (" ", "\u3000", "\u00a0", "\t"):
        out = f"replace({out}, {lit(ch)}, '')"
    return f"NULLIF(upper({out}), '')"


BIRTH_COLUMNS = ("birth_date", "brdy")
# the event a row records: after any birth date in the row, never after the load time
EVENT_COLUMNS = (
    "visit_time",
    "admit_time",
    "discharge_time",
    "setl_time",
    "death_date",
    "requested_at",
    "reported_at",
)
MIN_BIRTH = "1900-01-01"
BIRTH_AFTER_EVENT = True  # a birth date after the row's own event is quarantined


@dataclass
class ParseSql:
    """SQL for one source's rows, over v_<i> (trimmed text, NULL when empty):
    `parsed` -- "<expr> AS p_<i>" for every column that needs parsing (computed once);
    `reasons` -- quarantine reason parts over v_<i> and p_<i>;
    `typed` -- the raw.<source> select list (raw_columns order, without lineage);
    `record` -- json_object key/value parts for a quarantined row (identifiers hashed)."""

    parsed: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    typed: list[str] = field(default_factory=list)
    record: list[str] = field(default_factory=list)


def _parse_sql(src: contract.Source, key: bytes, now: datetime) -> ParseSql:
    out = ParseSql()
    parsed_of: dict[str, str] = {}
    for i, c in enumerate(src.columns):
        v, p, name = f"v_{i}", f"p_{i}", c.name
        if c.kind == "pii_drop":
            continue
        if c.kind == "pii_hash":
            norm = p  # normalised once here, used by the hash and the check below
            out.parsed.append(f"{identifier_sql(v)} AS {p}")
            out.typed.append(f"{hmac_sql(norm, key)} AS {q(c.hash_as)}")
            out.record.append(f"{lit(c.hash_as)}, {hmac_sql(norm, key)}")
            if c.hash_as == "person_key":
                out.typed.append(
                    f"{gb11643_sql(norm)} AS {q(c.hash_as + contract.ID_VALID_SUFFIX)}"
                )
            continue
        out.record.append(f"{lit(name)}, {_masked(v)}")
        if c.kind == "date":
            parsed = f"{strptime_sql(v, DATE_FORMATS)}::DATE"
            what = "bad date"
        elif c.kind == "timestamp":
            parsed = strptime_sql(f"replace({v}, 'T', ' ')", TIMESTAMP_FORMATS)
            what = "bad date-time"
        elif c.kind == "money":
            parsed = f"TRY_CAST({v} AS DECIMAL(18,2))"
            what = "bad amount"
        elif c.kind == "int":
            parsed = (
                f"CASE WHEN regexp_full_match({v}, '[+-]?[0-9]+(\\.0*)?') "
                f"THEN TRY_CAST(split_part({v}, '.', 1) AS BIGINT) END"
            )
            what = "bad integer"
        elif c.kind == "flag":
            parsed = f"CASE WHEN {v} IN ('0', '1') THEN CAST({v} AS SMALLINT) END"
            what = "bad flag (must be 0 or 1)"
        elif c.enum:
            parsed = f"CASE WHEN {v} IN ({', '.join(lit(e) for e in c.enum)}) THEN {v} END"
            what = "unknown code"
        else:  # code / text: any text
            out.typed.append(f"{v} AS {q(name)}")
            continue
        out.parsed.append(f"{parsed} AS {p}")
        out.typed.append(f"{p} AS {q(name)}")
        out.reasons.append(
            f"CASE WHEN {v} IS NOT NULL AND {p} IS NULL THEN '{what} in {name}: ' || {_show(v)} END"
        )
        parsed_of[name] = p
        if c.kind == "money":  # the DECIMAL(18,2) cast would round them silently
            out.reasons.append(
                f"CASE WHEN regexp_matches({v}, '\\.[0-9]{{2}}0*[1-9]') "
                f"THEN 'amount with more than 2 decimals in {name}' END"
            )
    out.reasons += _plausibility_sql(parsed_of, now)
    return out


def _plausibility_sql(parsed_of: dict[str, str], now: datetime) -> list[str]:
    """Reasons for dates a row's own columns show to be wrong: a birth date before 1900 or
    after the row's event, an event after the load time."""
    out = []
    events = [(n, parsed_of[n]) for n in EVENT_COLUMNS if n in parsed_of]
    for b in (n for n in BIRTH_COLUMNS if n in parsed_of):
        pb = parsed_of[b]
        out.append(
            f"CASE WHEN {pb} < DATE '{MIN_BIRTH}' THEN 'implausible {b}: before {MIN_BIRTH[:4]}' END"
        )
        if BIRTH_AFTER_EVENT:
            out += [
                f"CASE WHEN {pb} > {pe}::DATE THEN 'implausible {b}: after {e}' END"
                for e, pe in events
            ]
    stamp = now.strftime("%Y-%m-%d %H:%M:%S")
    out += [
        f"CASE WHEN {pe} > TIMESTAMP '{stamp}' THEN 'implausible {e}: in the future (after the load "
        f"time {stamp})' END"
        for e, pe in events
    ]
    return out


# ── reading one file ───────────────────────────────────────────────────────────────────────


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


def transcode_to_utf8(path: Path, out: Path, encoding: str = "gb18030") -> None:
    """Stream `path` from `encoding` to UTF-8; FileRejected names the byte offset if it is not."""
    dec = codecs.getincrementaldecoder(encoding)("strict")
    offset = 0
    with open(path, "rb") as fi, open(out, "wb") as fo:
        while True:
            chunk = fi.read(CHUNK)
            try:
                fo.write(dec.decode(chunk, final=not chunk).encode("utf-8"))
            except UnicodeDecodeError as exc:
                raise FileRejected(
                    f"unreadable encoding: neither UTF-8 nor GB18030/GBK (invalid byte at offset "
                    f"{offset + max(exc.start, 0):,}); re-export the file as UTF-8 or GB18030"
                ) from None
            if not chunk:
                return
            offset += len(chunk)


def blank_lines(path: Path) -> list[int]:
    """Line numbers, as DuckDB's CSV reader counts them (newlines inside quoted values not
    counted), of the empty lines of a UTF-8 CSV outside quoted values: the reader skips them, so
    later rows' line numbers must be shifted. Fast path (no empty line at all): one C-speed scan."""
    count, tail = 0, b""
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            buf = tail + chunk
            count += buf.count(b"\n\n") + buf.count(b"\n\r\n")
            tail = buf[-2:]
            count -= tail.count(b"\n\n") + tail.count(b"\n\r\n")
    if count == 0:
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
    which costs ~10 ms per file -- most of the time of a small file."""
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


def _clean_duckdb_error(exc: BaseException) -> str:
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


def header_names(line: bytes, delim: str) -> list[str]:
    """The column names of a CSV header line (UTF-8, BOM and line end removed), made unique the
    way DuckDB does (a repeated name gets `_1`, `_2`, ...)."""
    text = line.decode("utf-8-sig", errors="replace").rstrip("\r\n")
    names: list[str] = []
    for n in next(csv.reader([text], delimiter=delim), []) or [""]:
        base, k = n, 0
        while n in names:
            k += 1
            n = f"{base}_{k}"
        names.append(n)
    return names


def _csv_scan(con, readable: Path, delim: str, cols: list[str]) -> None:
    """Read `readable` into _f / _rej without DuckDB's dialect sniffer: it refuses whole files
    with mixed line endings (LF with some CRLF rows) or one unbalanced quote. Columns come from
    the header line; non-strict mode takes both LF and CRLF as the end of a row (the CR does not
    reach the values) and puts a too-long or ill-quoted row in _rej with its line."""
    con.execute("DROP TABLE IF EXISTS _f; DROP TABLE IF EXISTS _rej; DROP TABLE IF EXISTS _rejscan")
    columns = "{" + ", ".join(f"{lit(c)}: 'VARCHAR'" for c in cols) + "}"
    con.execute(
        f"CREATE TEMP TABLE _f AS SELECT * FROM read_csv({lit(str(readable))}, header = true, auto_detect = false, "
        f"columns = {columns}, delim = {lit(delim)}, quote = '\"', escape = '\"', new_line = '\\n', "
        f"strict_mode = false, store_rejects = true, rejects_table = '_rej', rejects_scan = '_rejscan', "
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
    """True if the read of _f / _rej accounts for fewer lines than `readable` has: a malformed
    row took the following lines with it (an unbalanced quote). Run only when a row was
    malformed, so the extra pass over the file is rare."""
    newlines, last = 0, b"\n"
    with open(readable, "rb") as fh:
        while chunk := fh.read(CHUNK):
            newlines += chunk.count(b"\n")
            last = chunk[-1:]
    physical = newlines + (last != b"\n")
    nl = " + ".join(
        f"coalesce(length({q(c)}) - length(replace({q(c)}, chr(10), '')), 0)" for c in cols
    )
    rows, embedded = con.execute(f"SELECT count(*), coalesce(sum({nl}), 0) FROM _f").fetchone()
    return 1 + rows + embedded + len(rejected) + len(blank_lines(readable)) < physical


def _read_csv(con, path: Path, tmp: Path) -> tuple[str, list[int], set[int], list[int]]:
    """Read a CSV into temp table _f (all VARCHAR, file order = rowid) plus _rej (malformed
    rows). Returns (encoding, lines DuckDB skipped as blank, malformed lines, lines with an
    unbalanced quote -- blanked before the read, so among the skipped ones)."""
    encoding = sniff_encoding(path)
    for attempt in range(2):
        readable = path
        unbalanced: list[int] = []
        if encoding == "gb18030":
            readable = tmp / "transcoded.csv"
            transcode_to_utf8(path, readable)
        try:
            header = header_line(readable)
            delim = csv_delimiter(header)
            cols = header_names(header, delim)
            try:
                _csv_scan(con, readable, delim, cols)
            except duckdb.Error as exc:
                raise FileRejected(
                    f"not a readable CSV table: {_clean_duckdb_error(exc)}"
                ) from None
            rejected = con.execute("SELECT line, error_type FROM _rej").fetchall()
            bad_enc = any(e == "INVALID ENCODING" for _, e in rejected)
            if bad_enc and encoding == "utf-8" and attempt == 0:
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
                    rejected = con.execute("SELECT line, error_type FROM _rej").fetchall()
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


def _read_file(
    con, path: Path, fmt: str, tmp: Path
) -> tuple[str | None, list[int], set[int], list[int]]:
    """Read any supported file into temp table _f (VARCHAR columns; rowid = row order) and
    temp table _rej (line, error_type, error_message) of malformed rows. Returns (encoding,
    skipped blank lines, malformed lines, unbalanced-quote lines); the last three are CSV only."""
    if fmt == "csv":
        return _read_csv(con, path, tmp)
    con.execute("DROP TABLE IF EXISTS _f; DROP TABLE IF EXISTS _rej")
    con.execute("CREATE TEMP TABLE _rej (line BIGINT, error_type VARCHAR, error_message VARCHAR)")
    try:
        if fmt == "xlsx":
            con.execute(
                f"CREATE TEMP TABLE _f AS SELECT * FROM read_xlsx({lit(str(path))}, header = true, "
                f"all_varchar = true, stop_at_empty = false)"
            )
        else:
            con.execute(f"CREATE TEMP TABLE _f AS SELECT * FROM read_parquet({lit(str(path))})")
    except duckdb.Error as exc:
        raise FileRejected(f"not a readable {fmt} table: {_clean_duckdb_error(exc)}") from None
    return None, [], set(), []


def _line_expr(
    con, fmt: str, all_cols: list[str], skipped: list[int], malformed: set[int], has_nl: bool
) -> tuple[str, str, str]:
    """SQL for the 1-based physical line of each row of _f (header = line 1): (expression, JOIN
    clause for it, expression for the line of a malformed row in _rej).

    xlsx / parquet: row index + 1 (header row = 1), i.e. rowid + 2. CSV: rowid + 2, plus the
    blank and malformed lines DuckDB skipped before the row, plus the newlines embedded in quoted
    values of earlier rows (a running sum, computed only when the file has any)."""
    if fmt != "csv":
        return "_f.rowid + 2", "", "line"
    nl = " + ".join(
        f"coalesce(length({q(c)}) - length(replace({q(c)}, chr(10), '')), 0)" for c in all_cols
    )
    gaps = sorted(set(skipped) | malformed)
    if not gaps and not has_nl:
        return "_f.rowid + 2", "", "line"
    # Lines as DuckDB counts them (no embedded newlines): a skipped line s_j (j = 0, 1, ... in
    # order) lies before a row whose line counted without any gaps is L0 iff s_j - j <= L0.
    con.execute("DROP TABLE IF EXISTS _gaps; CREATE TEMP TABLE _gaps (c BIGINT)")
    if gaps:
        con.executemany("INSERT INTO _gaps VALUES (?)", [[s - j] for j, s in enumerate(gaps)])
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _fl AS SELECT rowid AS _r, rowid + 2 AS _l0, {nl} AS _nl FROM _f"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _fl AS SELECT _r, _nl, _l0 + (SELECT count(*) FROM _gaps "
        "WHERE _gaps.c <= _fl._l0) AS _dl FROM _fl"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _fl AS SELECT _r, _dl, _dl + coalesce(sum(_nl) OVER (ORDER BY _r "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS _l, _nl FROM _fl"
    )
    rej_line = (
        "line + (SELECT coalesce(sum(_nl), 0) FROM _fl WHERE _fl._dl < _rej.line)"
        if has_nl
        else "line"
    )
    return "_fl._l", "JOIN _fl ON _fl._r = _f.rowid", rej_line


def _stage_file(
    con, delivery: Delivery, path: Path, fidx: int, landing: Path, tmp: Path, fr: FileResult
) -> None:
    """Read one file and append its rows to temp table _d (contract columns as text)."""
    src = delivery.source
    encoding, skipped, malformed, unbalanced = _read_file(con, path, fr.format, tmp)
    fr.encoding = encoding
    types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE _f)").fetchall())
    header = list(types)
    if not header:
        raise FileRejected("no columns found (empty file?)")
    by_norm = _by_norm(header)
    all_nulls, any_nl = _blank_and_newline_sql(header)
    any_nl = any_nl if fr.format == "csv" else "false"
    # one pass for the counts (a file's small queries add up over thousands of files)
    n_blank, n_rows, has_nl = con.execute(
        f"SELECT count(*) FILTER (WHERE {all_nulls}), count(*) FILTER (WHERE NOT ({all_nulls})), "
        f"coalesce(bool_or({any_nl}), false) FROM _f"
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
    numeric = _numeric_codes(con, src, by_norm, types, path, fr.format)
    if numeric:
        raise FileRejected(
            f"code column(s) stored as numbers: {', '.join(numeric)}; leading zeros may be lost (dept "
            f"`4` for `04`). Re-export the file with these columns as text and land again",
            rows_read=n_rows + n_rej,
        )
    line_sql, join, rej_line = _line_expr(con, fr.format, header, skipped, malformed, has_nl)
    con.execute(
        f"INSERT INTO _d SELECT {fidx}, {line_sql}, {', '.join(_column_exprs(src, by_norm, types, fr.format))} "
        f"FROM _f {join} WHERE NOT ({all_nulls})"
    )
    if n_rej:
        con.execute(
            f"INSERT INTO _bad SELECT {fidx}, {rej_line}, 'malformed CSV row: ' || lower(error_type) "
            f"FROM (SELECT line, min(error_type) AS error_type FROM _rej GROUP BY line) AS _rej"
        )
    if unbalanced:
        insert_rows(
            con, "_bad", [(fidx, n, "malformed CSV row: unbalanced quote") for n in unbalanced]
        )
    fr.rows_read = n_rows + n_rej
    fr.message = _file_notes(src, header, by_norm, n_rej, n_blank + len(skipped) - len(unbalanced))


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


def _numeric_codes(
    con, src: contract.Source, by_norm: dict[str, str], types: dict[str, str], path: Path, fmt: str
) -> list[str]:
    """Code and identifier columns (free codes, not enums) that a Parquet file types as numbers,
    or whose xlsx cells are all numbers (DuckDB's own type guess): as text they may have lost
    leading zeros, which nothing in the file can restore. "name (TYPE)" for each."""
    if fmt == "csv":
        return []
    if fmt == "xlsx":
        return _xlsx_number_cells(src, path)
    out = []
    for c in src.columns:
        h = by_norm.get(c.name.lower())
        t = (types.get(h) or "").upper().split("(")[0] if h else ""
        if (c.kind == "pii_hash" or (c.kind == "code" and not c.enum)) and t in NUMERIC_TYPES:
            out.append(f"{c.name} ({t})")
    return out


def _xlsx_number_cells(src: contract.Source, path: Path) -> list[str]:
    """Code and identifier columns of an .xlsx with any cell stored as a number (a column mixing
    text and number cells too: DuckDB reads both as text, and a number cell has lost its
    leading zeros). "name (number cells from line N)" for each; the first sheet, as read_xlsx."""
    from openpyxl import load_workbook

    codes = {
        c.name.lower()
        for c in src.columns
        if c.kind == "pii_hash" or (c.kind == "code" and not c.enum)
    }
    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        rows = wb.worksheets[0].iter_rows()
        header = [
            str(c.value).strip().lower() if c.value is not None else "" for c in next(rows, [])
        ]
        watched = {i: h for i, h in enumerate(header) if h in codes}
        first: dict[str, int] = {}
        for line, row in enumerate(rows, start=2):
            for i, name in watched.items():
                if (
                    i < len(row)
                    and name not in first
                    and row[i].data_type == "n"
                    and row[i].value is not None
                ):
                    first[name] = line
            if len(first) == len(watched):
                break
    finally:
        wb.close()
    return [f"{name} (number cells from line {line})" for name, line in first.items()]


def _blank_and_newline_sql(header: list[str]) -> tuple[str, str]:
    """SQL over _f: (every column is NULL -- a blank row, a value holds a newline)."""
    return (
        " AND ".join(f"_f.{q(h)} IS NULL" for h in header),
        " OR ".join(f"contains(_f.{q(h)}, chr(10))" for h in header),
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
    """Per contract column, the text of the file's matching column of _f (NULL when absent)."""
    cols = []
    for c in src.columns:
        h = by_norm.get(c.name.lower())
        if h is None:
            cols.append("NULL")
            continue
        e = f"CAST(_f.{q(h)} AS VARCHAR)"
        t = (types.get(h) or "").upper()
        if fmt == "parquet" and t.startswith("TIMESTAMP") and c.kind == "date":
            e = f"CAST(CAST(_f.{q(h)} AS DATE) AS VARCHAR)"
        if fmt == "xlsx" and c.kind in ("date", "timestamp"):
            # Excel date cells arrive as serial day numbers (1900 system) under all_varchar
            serial = f"regexp_full_match(trim({e}), '[0-9]{{1,5}}(\\.[0-9]+)?')"
            conv = (
                f"strftime(DATE '1899-12-30' + floor(TRY_CAST(trim({e}) AS DOUBLE))::INTEGER, '%Y-%m-%d')"
                if c.kind == "date"
                else f"strftime(TIMESTAMP '1899-12-30' + to_seconds(round(TRY_CAST(trim({e}) AS DOUBLE) * 86400)), "
                f"'%Y-%m-%d %H:%M:%S')"
            )
            e = f"CASE WHEN {serial} THEN {conv} ELSE {e} END"
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
RID_BASE = 1 << 36  # lines per file below this; file index times this plus line = row id


Member = tuple[int, Path, str]  # (file index, path, encoding 'utf-8' | 'gb18030')


def _batches(paths: list[tuple[int, Path]]) -> list[tuple[str, list[Member]]]:
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


def _stage_batch(
    con, src: contract.Source, delim: str, members: list[Member], tmp: Path, name: str
) -> dict[int, tuple[int, str, str]]:
    """Stage CSV files that share a header with one multi-file read into temp table `name`, seen
    through temp view `name`_rows in the layout of _d (the GROUP BY reads it beside _d, so the
    rows are not copied): DuckDB's start-up cost per read is most of the time of a small file.
    GB18030 files are transcoded to UTF-8 in `tmp` first (see the module doc). Only files with
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
    """_stage_batch on UTF-8 files: {path to read: (file index, encoding label)}."""
    if len(readable) < 2:
        return {}
    con.execute("DROP TABLE IF EXISTS _rej; DROP TABLE IF EXISTS _rejscan")
    try:
        con.execute(
            f"CREATE TEMP TABLE {name} AS SELECT * FROM read_csv({lit_list(readable)}, header = true, all_varchar = true, "
            f"delim = {lit(delim)}, quote = '\"', escape = '\"', filename = {lit(FILE_COL)}, store_rejects = true, "
            f"rejects_table = '_rej', rejects_scan = '_rejscan', rejects_limit = 0)"
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
    all_nulls, any_nl = _blank_and_newline_sql(header)
    stats = {
        r[0]: r[1:]
        for r in con.execute(
            f"SELECT {FILE_COL}, count(*) FILTER (WHERE {all_nulls}), count(*) FILTER (WHERE NOT ({all_nulls})), "
            f"coalesce(bool_or({any_nl}), false), min(rowid), max(rowid), count(*) FROM {name} AS _f GROUP BY 1"
        ).fetchall()
    }
    unusual = {
        r[0]
        for r in con.execute(  # files with malformed rows (or bytes that are not UTF-8)
            "SELECT DISTINCT s.file_path FROM _rej JOIN _rejscan AS s USING (scan_id, file_id)"
        ).fetchall()
    }
    clean = []
    for file, (fidx, _) in readable.items():
        st = stats.get(file)
        if (
            st is None
            or file in unusual
            or st[2]
            or st[4] - st[3] + 1 != st[5]
            or blank_lines(Path(file))
        ):
            continue
        clean.append((file, fidx, st[3]))
    con.execute(f"CREATE TEMP TABLE {name}_m (file VARCHAR, fidx INTEGER, first_rowid BIGINT)")
    insert_rows(con, f"{name}_m", clean)
    con.execute(
        f"CREATE TEMP VIEW {name}_rows AS SELECT _m.fidx AS _fidx, _f.rowid - _m.first_rowid + 2 AS _line, "
        f"{', '.join(_column_exprs(src, by_norm, types, 'csv'))} FROM {name} AS _f JOIN {name}_m AS _m "
        f"ON _m.file = _f.{FILE_COL} WHERE NOT ({all_nulls})"
    )
    return {
        fidx: (
            stats[file][1],
            _file_notes(src, header, by_norm, 0, stats[file][0]),
            readable[file][1],
        )
        for file, fidx, _ in clean
    }


def _drop_batches(con, names: list[str]) -> None:
    for n in names:
        con.execute(
            f"DROP VIEW IF EXISTS {n}_rows; DROP TABLE IF EXISTS {n}_m; DROP TABLE IF EXISTS {n}"
        )


def insert_rows(con, table: str, rows: list[tuple | list]) -> None:
    """Insert many rows in one statement (one list parameter per column, unnested side by side):
    executemany costs a round trip per row, which adds up over thousands of files."""
    if rows:
        cols = list(zip(*rows))
        con.execute(
            f"INSERT INTO {table} SELECT {', '.join(f'unnest(${i + 1})' for i in range(len(cols)))}",
            [list(c) for c in cols],
        )


def _in_transaction(con) -> bool:
    try:
        con.execute("BEGIN TRANSACTION")
    except duckdb.TransactionException:
        return True
    con.execute("ROLLBACK")
    return False


def _quarantine_conflicts(con, src: contract.Source) -> None:
    """Rows of _p that share their natural key with an earlier good row of the delivery but
    differ from it (exact duplicates are already grouped away): the first in file and line order
    loads, each later one is quarantined with a reason naming the line it conflicts with. One
    hash aggregate finds the keys; only the rows of conflicting keys are touched."""
    idx = {(c.hash_as or c.name): i for i, c in enumerate(src.columns)}
    if not src.natural_key:
        return
    keys = [
        f"p_{idx[k]}" if src.columns[idx[k]].kind == "pii_hash" else f"v_{idx[k]}"
        for k in src.natural_key
    ]
    rid = f"_fidx::BIGINT * {RID_BASE} + _line"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _conf AS SELECT {', '.join(keys)}, min({rid}) AS _first FROM _p "
        f"WHERE _reason IS NULL AND {' AND '.join(f'{k} IS NOT NULL' for k in keys)} GROUP BY ALL "
        f"HAVING count(*) > 1"
    )
    label = " + ".join(src.natural_key)
    con.execute(
        f"UPDATE _p SET _reason = 'conflicting duplicate: same {label} as line ' || (c._first % {RID_BASE}) "
        f"|| ' of ' || c.file || ', which is loaded; this row differs from it and is not' "
        f"FROM (SELECT _conf.*, _files.file FROM _conf JOIN _files ON _files._fidx = _conf._first // {RID_BASE}) AS c "
        f"WHERE {' AND '.join(f'_p.{k} = c.{k}' for k in keys)} AND _p._reason IS NULL "
        f"AND _p._fidx::BIGINT * {RID_BASE} + _p._line <> c._first"
    )
    con.execute("DROP TABLE _conf")


# ── one delivery ───────────────────────────────────────────────────────────────────────────


def _land_delivery(
    con,
    d: Delivery,
    landing: Path,
    key: bytes,
    fp: str,
    tmp: Path,
    progress: Progress,
    loaded_at: datetime,
) -> DeliveryResult:
    src = d.source
    res = DeliveryResult(src.name, d.period, "landed", fp)
    t0 = time.perf_counter()
    ncol = len(src.columns)
    vcols = [f"c_{i}" for i in range(ncol)]
    # Staging runs in auto-commit mode: row ids of a table filled inside an open transaction are
    # transaction-local (huge), and the file order is read from committed row ids.
    batch_tables: list[str] = []
    stacked = ["SELECT * FROM _d"]  # every staged row: per-file rows + the batches' views
    try:
        con.execute(
            "DROP TABLE IF EXISTS _d; DROP TABLE IF EXISTS _bad; DROP TABLE IF EXISTS _files"
        )
        con.execute(
            f"CREATE TEMP TABLE _d (_fidx INTEGER, _line BIGINT, {', '.join(c + ' VARCHAR' for c in vcols)})"
        )
        con.execute("CREATE TEMP TABLE _bad (_fidx INTEGER, _line BIGINT, reason VARCHAR)")
        con.execute("CREATE TEMP TABLE _files (_fidx INTEGER, file VARCHAR)")
        staged: list[tuple[int, str]] = []
        batched: dict[int, tuple[int, str, str, float]] = {}  # rows, notes, encoding, seconds
        for n, (delim, members) in enumerate(_batches(list(enumerate(d.files)))):
            tb = time.perf_counter()
            batch_tables.append(f"_b{n}")
            done = _stage_batch(con, src, delim, members, tmp, batch_tables[-1])
            if done:
                stacked.append(f"SELECT * FROM {batch_tables[-1]}_rows")
            else:
                _drop_batches(con, batch_tables[-1:])
            per_file = (time.perf_counter() - tb) / max(len(done), 1)
            batched |= {fidx: (*staged_file, per_file) for fidx, staged_file in done.items()}
            progress(
                f"  {len(done)} of {len(members)} file(s) with the same header read together: "
                f"{sum(r for r, _, _ in done.values()):,} rows in {time.perf_counter() - tb:.1f}s"
            )
        for fidx, path in enumerate(d.files):
            rel = path.relative_to(landing).as_posix()
            fr = FileResult(src.name, d.period, rel, FORMATS[path.suffix.lower()])
            if fidx in batched:
                fr.rows_read, fr.message, fr.encoding, fr.seconds = batched[fidx]
                staged.append((fidx, rel))
                res.files.append(fr)
                continue
            tf = time.perf_counter()
            try:
                _stage_file(con, d, path, fidx, landing, tmp, fr)
                staged.append((fidx, rel))
            except FileRejected as exc:
                fr.status, fr.rows_read, fr.message = "rejected", exc.rows_read, f"{rel}: {exc}"
            fr.seconds = time.perf_counter() - tf
            res.files.append(fr)
            progress(
                f"  {rel}: "
                + (
                    f"REJECTED -- {fr.message.removeprefix(rel + ': ')}"
                    if fr.status == "rejected"
                    else f"read {fr.rows_read:,} rows"
                    + (f" ({fr.encoding})" if fr.encoding else "")
                    + f" in {fr.seconds:.1f}s"
                )
            )
        insert_rows(con, "_files", staged)
        sql = _parse_sql(src, key, loaded_at)
        keep = [f"v_{i}" for i, c in enumerate(src.columns) if c.kind != "pii_drop"]
        trimmed = ", ".join(
            f"{trimmed_sql(f'c_{i}')} AS v_{i}"
            for i, c in enumerate(src.columns)
            if c.kind != "pii_drop"
        )
        reason = f"NULLIF(concat_ws('; ', {', '.join(sql.reasons)}), '')" if sql.reasons else "NULL"
        # One statement: exact duplicates across the delivery are grouped away (one row per
        # distinct record, the first file and line kept), then values are trimmed and parsed once.
        # Identifiers are hashed only where they are written (good rows -> raw.<source>, bad rows
        # -> JSON record in raw.quarantine).
        # (file index, line) packed into one BIGINT, so that min() keeps the first occurrence
        dedup = (
            f"SELECT {', '.join(vcols)}, min(_fidx::BIGINT * {RID_BASE} + _line) AS _rid "
            f"FROM ({' UNION ALL '.join(stacked)}) GROUP BY ALL"
        )
        con.execute(
            f"CREATE TEMP TABLE _p AS SELECT *, {reason} AS _reason FROM (SELECT _rid // {RID_BASE} AS _fidx, "
            f"_rid % {RID_BASE} AS _line, {', '.join(keep + sql.parsed)} FROM (SELECT _rid, {trimmed} FROM ({dedup})))"
        )
        con.execute("DROP TABLE _d")
        _drop_batches(con, batch_tables)
        _quarantine_conflicts(con, src)
        # replace the delivery atomically
        con.execute("BEGIN TRANSACTION")
        for t in [src.name, "quarantine", "load_audit"]:
            col_s, col_p = ("_period", None) if t == src.name else ("period", "source")
            where = f"{col_s} = ?" + (f" AND {col_p} = ?" if col_p else "")
            con.execute(
                f"DELETE FROM raw.{q(t)} WHERE {where}", [d.period] + ([src.name] if col_p else [])
            )
        con.execute(
            f"INSERT INTO raw.{q(src.name)} SELECT {', '.join(sql.typed)}, ?, _files.file, _line, ? "
            f"FROM _p JOIN _files USING (_fidx) WHERE _reason IS NULL",
            [d.period, loaded_at],
        )
        con.execute(
            f"INSERT INTO raw.quarantine SELECT ?, ?, _files.file, _line, _reason, json_object({', '.join(sql.record)}) "
            f"FROM _p JOIN _files USING (_fidx) WHERE _reason IS NOT NULL ORDER BY _fidx, _line",
            [src.name, d.period],
        )
        con.execute(
            "INSERT INTO raw.quarantine SELECT ?, ?, _files.file, _line, reason, NULL FROM _bad "
            "JOIN _files USING (_fidx) ORDER BY _fidx, _line",
            [src.name, d.period],
        )
        counts = {
            r[0]: r[1:]
            for r in con.execute(
                "SELECT _fidx, count(*) FILTER (WHERE _reason IS NULL), count(*) FILTER (WHERE _reason IS NOT NULL) "
                "FROM _p GROUP BY _fidx"
            ).fetchall()
        }
        bad = dict(con.execute("SELECT _fidx, count(*) FROM _bad GROUP BY _fidx").fetchall())
        fidx_of = {f.relative_to(landing).as_posix(): i for i, f in enumerate(d.files)}
        for fr in res.files:
            if fr.status != "loaded":
                continue
            i = fidx_of[fr.file]
            fr.rows_loaded, fr.rows_quarantined = counts.get(i, (0, 0))
            fr.rows_quarantined += bad.get(i, 0)
            fr.rows_duplicate = fr.rows_read - fr.rows_loaded - fr.rows_quarantined
            extra = []
            if fr.rows_quarantined:
                extra.append(f"{fr.rows_quarantined} row(s) quarantined, see raw.quarantine")
            if fr.rows_duplicate:
                extra.append(f"{fr.rows_duplicate} exact duplicate row(s) counted once")
            fr.message = "; ".join(
                x for x in [fr.encoding or fr.format] + extra + [fr.message] if x
            )
        insert_rows(
            con,
            "raw.load_audit",
            [
                [
                    f.source,
                    f.period,
                    f.file,
                    f.rows_read,
                    f.rows_loaded,
                    f.rows_quarantined,
                    f.rows_duplicate,
                    loaded_at,
                    f.status,
                    f.message,
                ]
                for f in res.files
            ],
        )
        con.execute(
            "DELETE FROM raw.deliveries WHERE source = ? AND period = ?", [src.name, d.period]
        )
        con.execute(
            "INSERT INTO raw.deliveries VALUES (?, ?, ?, ?)", [src.name, d.period, fp, loaded_at]
        )
        con.execute("COMMIT")
    except BaseException:
        if _in_transaction(con):
            con.execute("ROLLBACK")
        raise
    finally:
        for t in ("_d", "_p", "_bad", "_files", "_f", "_rej", "_rejscan", "_fl", "_gaps"):
            con.execute(f"DROP TABLE IF EXISTS {t}")
        _drop_batches(con, batch_tables)
    res.seconds = time.perf_counter() - t0
    return res


# ── entry point ────────────────────────────────────────────────────────────────────────────


def land(
    con_or_path: duckdb.DuckDBPyConnection | str | Path,
    landing: Path,
    periods: set[str] | None = None,
    sources: set[str] | None = None,
    progress: Progress = print,
    force: bool = False,
    tmp_dir: str | Path | None = None,
) -> LandingReport:
    """Land every delivery `<landing>/<source>/<period>/` (filtered by `periods` / `sources`)
    into schema raw. A delivery whose files are unchanged since it was landed is skipped unless
    `force`; a changed one replaces the old one atomically. Bad files and rows never stop the
    run: they are rejected / quarantined and reported. Raises LandingError (with `.report`) at
    the end if a delivery failed unexpectedly; that delivery keeps its previous contents."""
    t0 = time.perf_counter()
    landing = Path(landing).resolve()
    own = not isinstance(con_or_path, duckdb.DuckDBPyConnection)
    con = duck.connect(con_or_path) if own else con_or_path
    con.execute("SET enable_progress_bar = false")  # progress goes through progress(), per file
    key, demo = settings.hash_key()
    report = LandingReport(landing, demo_key=demo)
    tmp = Path(tempfile.mkdtemp(prefix="ygt-land-", dir=tmp_dir))
    try:
        try:  # GB18030 is transcoded in Python (see module doc), so only the excel extension is needed
            con.execute("LOAD excel")
        except duckdb.Error as exc:  # only .xlsx needs it; such files are then rejected
            report.problems.append(
                f"DuckDB excel extension not loadable ({exc}); .xlsx files cannot be read"
            )
        report.problems += create_raw_schema(con)
        deliveries, problems = discover(landing, periods, sources)
        report.problems += problems
        key_id = hashlib.sha256(b"ygt-key-id|" + hashlib.sha256(key).digest()).hexdigest()[:16]
        known = dict(
            ((s, p), f)
            for s, p, f in con.execute(
                "SELECT source, period, fingerprint FROM raw.deliveries"
            ).fetchall()
        )
        if demo:
            progress(
                "note: hashing identifiers with the labelled DEMO key (set YGT_HASH_KEY for real data)"
            )
        for d in deliveries:
            fp = fingerprint(d, landing, key_id)
            skipped = [f"{name}: {why}" for name, why in d.skipped]
            for x in skipped:
                progress(f"  skipped {x}")
            if not force and known.get((d.source.name, d.period)) == fp:
                report.deliveries.append(
                    DeliveryResult(
                        d.source.name,
                        d.period,
                        "skipped",
                        fp,
                        message="unchanged since last landing",
                        skipped_files=skipped,
                    )
                )
                progress(f"{d.source.name}/{d.period}: unchanged, skipped")
                continue
            progress(f"{d.source.name}/{d.period}: landing {len(d.files)} file(s)")
            try:
                r = _land_delivery(con, d, landing, key, fp, tmp, progress, datetime.now())
            except (duckdb.Error, OSError, MemoryError) as exc:
                r = DeliveryResult(
                    d.source.name,
                    d.period,
                    "failed",
                    fp,
                    message=f"not landed, previous delivery kept: {_clean_duckdb_error(exc)}",
                )
            r.skipped_files = skipped
            report.deliveries.append(r)
            t = sum(f.rows_read for f in r.files)
            progress(
                f"{d.source.name}/{d.period}: {r.status}"
                + (
                    f" {t:,} rows in {r.seconds:.1f}s"
                    if r.status == "landed"
                    else f" -- {r.message}"
                )
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        report.seconds = time.perf_counter() - t0
        if own:
            con.close()
    if report.failed:
        raise LandingError(report.summary(), report)
    return report


__all__ = [
    "land",
    "create_raw_schema",
    "discover",
    "LandingReport",
    "DeliveryResult",
    "FileResult",
    "LandingError",
    "hmac_sql",
    "gb11643_sql",
    "strptime_sql",
    "trimmed_sql",
    "sniff_encoding",
]
