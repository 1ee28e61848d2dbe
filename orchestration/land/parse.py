"""SQL that turns a delivery's text values into typed columns: trimming, date and number
parsing, identifier normalisation, HMAC-SHA-256 hashing, the GB 11643 check digit and the
quarantine reasons (`parse_sql`). Everything here builds SQL text; nothing runs a query."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from orchestration import contract
from orchestration.duck import lit, q

_WS = " \t\r\n\u3000\u00a0"  # trimmed around every value (incl. full-width and no-break spaces)


DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S")
TIMESTAMP_FORMATS = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M", "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M:%S.%f", "%Y/%m/%d %H:%M", "%Y/%m/%d",
    "%Y%m%d %H:%M:%S", "%Y%m%d%H%M%S", "%Y%m%d",
)  # fmt: skip


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


SEPARATORS = frozenset("-/:.")  # the separator characters the formats above may hold


def _literals(fmt: str) -> set[str]:
    """The separator characters a strptime format requires literally (outside % directives)."""
    out, i = set(), 0
    while i < len(fmt):
        if fmt[i] == "%":
            i += 2
            continue
        if fmt[i] in SEPARATORS:  # not ' ': strptime lets a space in the format match several
            out.add(fmt[i])
        i += 1
    return out


def strptime_sql(expr: str, formats) -> str:
    """`try_strptime(expr, [formats])` -- the first format that parses wins -- but each format is
    tried only where `expr` holds exactly the separators it requires (a format's directives
    match digits only, so it cannot parse a value with another separator). Same result, and
    ~15x faster when the values' format is late in the list (DuckDB tries a list's formats one
    by one); a compact `YYYYMMDD` value no longer costs a failed parse of every other format."""
    parts = []
    for f in formats:
        need = _literals(f)
        guard = " AND ".join(
            [f"contains({expr}, {lit(c)})" for c in sorted(need)]
            + [f"NOT contains({expr}, {lit(c)})" for c in sorted(SEPARATORS - need)]
        )
        parts.append(f"CASE WHEN {guard} THEN try_strptime({expr}, {lit(f)}) END")
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
    no-break) removed, upper-cased. `１１０１…` and `110 101…` thus hash like `1101…`.

    Values already in normal form (digits and capital letters only: nearly all of them) are
    taken as they are: translate() with this map costs ~1.3 µs a value in DuckDB 1.4, the
    test ~0.1 µs, and it was the largest single cost of landing settlements (two identifiers
    a row)."""
    out = f"translate({v}, {lit(FULL_WIDTH)}, {lit(HALF_WIDTH)})"
    for ch in (" ", "\u3000", "\u00a0", "\t"):
        out = f"replace({out}, {lit(ch)}, '')"
    return (
        f"CASE WHEN regexp_full_match({v}, '[0-9A-Z]+') THEN {v} ELSE NULLIF(upper({out}), '') END"
    )


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
    `reasons` -- quarantine reasons over v_<i> and p_<i>: (condition, text) pairs;
    `typed` -- the raw.<source> select list (raw_columns order, without lineage);
    `record` -- json_object key/value parts for a quarantined row (identifiers hashed)."""

    parsed: list[str] = field(default_factory=list)
    reasons: list[tuple[str, str]] = field(default_factory=list)
    typed: list[str] = field(default_factory=list)
    record: list[str] = field(default_factory=list)


def parse_sql(src: contract.Source, key: bytes, now: datetime) -> ParseSql:
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
        if c.aliases:  # 男 -> 1, 是 -> 1, 01 -> 1: checked and loaded as the contract's code
            cases = " ".join(f"WHEN {lit(a)} THEN {lit(code)}" for a, code in c.aliases)
            v = f"(CASE {v} {cases} ELSE {v} END)"
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
            (f"{v} IS NOT NULL AND {p} IS NULL", f"'{what} in {name}: ' || {_show(v)}")
        )
        parsed_of[name] = p
        if c.kind == "money":  # the DECIMAL(18,2) cast would round them silently
            out.reasons.append(
                (
                    f"regexp_matches({v}, '\\.[0-9]{{2}}0*[1-9]')",
                    f"'amount with more than 2 decimals in {name}'",
                )
            )
    out.reasons += _plausibility_sql(parsed_of, now)
    return out


def _plausibility_sql(parsed_of: dict[str, str], now: datetime) -> list[tuple[str, str]]:
    """Reasons for dates a row's own columns show to be wrong: a birth date before 1900 or
    after the row's event, an event after the load time."""
    out = []
    events = [(n, parsed_of[n]) for n in EVENT_COLUMNS if n in parsed_of]
    for b in (n for n in BIRTH_COLUMNS if n in parsed_of):
        pb = parsed_of[b]
        out.append((f"{pb} < DATE '{MIN_BIRTH}'", f"'implausible {b}: before {MIN_BIRTH[:4]}'"))
        if BIRTH_AFTER_EVENT:
            out += [(f"{pb} > {pe}::DATE", f"'implausible {b}: after {e}'") for e, pe in events]
    stamp = now.strftime("%Y-%m-%d %H:%M:%S")
    out += [
        (
            f"{pe} > TIMESTAMP '{stamp}'",
            f"'implausible {e}: in the future (after the load time {stamp})'",
        )
        for e, pe in events
    ]
    return out


def reason_sql(reasons: list[tuple[str, str]]) -> str:
    """The quarantine reason of a row: its reasons' texts joined by '; ', NULL for a good row.
    The texts are built only for rows with a reason (one test of all the conditions first):
    joining a dozen NULLs for every good row cost ~0.4 µs a row."""
    if not reasons:
        return "NULL"
    parts = ", ".join(f"CASE WHEN {cond} THEN {text} END" for cond, text in reasons)
    anything = " OR ".join(f"coalesce({cond}, false)" for cond, _ in reasons)
    return f"CASE WHEN {anything} THEN concat_ws('; ', {parts}) END"
