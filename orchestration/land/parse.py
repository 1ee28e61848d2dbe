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


def _check_char_sql(expr: str) -> str:
    """The GB 11643 check character of the 17 digits that `expr` starts with."""
    # one dot product of the 17 digits with the weights (17 substr() calls cost ~1.6x more)
    total = (
        f"list_dot_product(TRY_CAST(string_split(left({expr}, 17), '') AS DOUBLE[]), "
        f"{list(GB11643_WEIGHTS)}::DOUBLE[])::BIGINT"
    )
    return f"'10X98765432'[({total} % 11)::INTEGER + 1]"


def gb11643_sql(expr: str) -> str:
    """TRUE if `expr` (already trimmed, upper-cased) is an 18-character 身份证号 whose check
    character is right (GB 11643-1999); FALSE otherwise (also when NULL)."""
    return (
        f"coalesce(CASE WHEN regexp_full_match({expr}, '[0-9]{{17}}[0-9X]') "
        f"THEN {_check_char_sql(expr)} = {expr}[18] END, false)"
    )


def id18_sql(expr: str) -> str:
    """A 身份证号 in its 18-character form: an old 15-digit number (GB 11643-1989: no century, no
    check character) gets `19` after its 6-digit area and its check character computed, so a
    person keeps one key across systems that store either form. Other values as they are."""
    body = f"left({expr}, 6) || '19' || right({expr}, 9)"
    return (
        f"CASE WHEN strlen({expr}) = 15 AND regexp_full_match({expr}, '[0-9]{{15}}') "
        f"THEN {body} || {_check_char_sql(body)} ELSE {expr} END"
    )


def looks_like_id_sql(expr: str, now: datetime) -> str:
    """TRUE if `expr` (normalised: digits and capitals) is a valid 18-character 身份证号 whose
    birth date (characters 7-14) is a real date between 1800 and `now`: a code column holding
    such values holds people's identifiers. The birth date keeps 18-digit serial numbers whose
    last digit happens to fit from being taken for one."""
    birth = f"try_strptime(substr({expr}, 7, 8), '%Y%m%d')"
    return (
        f"({gb11643_sql(expr)} AND {birth} BETWEEN TIMESTAMP '1800-01-01' "
        f"AND TIMESTAMP '{now:%Y-%m-%d}')"
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
    a value whose format is late in the list no longer costs a failed parse of every format
    before it (DuckDB tries a list's formats one by one; bench/README.md, "Measured choices")."""
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


# A value that could be personal never reaches a reason or a quarantine record in clear: 15 or
# more digits in any written form (an identifier with separators or spaces, full-width digits)
# and, outside free-text columns, any Chinese text (a name in a code column, a signature row).
_ID_LIKE = r"([0-9０-９][\s\x{3000}\-./_]*){14}[0-9０-９Xx]"
_HAN = r"\p{Han}"


def _masked(v: str, kind: str = "code") -> str:
    """`v` as a reason text or a quarantine record may show it: identifier-like numbers hidden,
    and in every column but free text (`text` kind) Chinese text hidden too."""
    if kind == "text":
        return f"regexp_replace({v}, {lit(_ID_LIKE)}, '<number hidden>', 'g')"
    return (
        f"CASE WHEN regexp_matches({v}, {lit(_ID_LIKE)}) THEN '<hidden: a number as long as an "
        f"identifier>' WHEN regexp_matches({v}, {lit(_HAN)}) THEN '<hidden: Chinese text>' ELSE {v} END"
    )


def _show(v: str, kind: str = "code") -> str:
    """A value quoted for a reason text, cut to 40 characters, masked as `_masked`."""
    return f"'''' || left({_masked(v, kind)}, 40) || ''''"


def china_time_sql(expr: str) -> str:
    """A date-time without its `+08:00` (or `+0800`) suffix: the insurance platform writes China
    time with its offset. Any other offset is left, so the value does not parse and is
    quarantined rather than taken for China time."""
    return (
        f"CASE WHEN contains({expr}, '+') THEN regexp_replace({expr}, '\\+08:?00$', '') "
        f"ELSE {expr} END"
    )


def excel_text_sql(expr: str) -> str:
    """Excel's text protection `="04"` unwrapped to `04` (a CSV saved from a sheet that kept
    leading zeros that way); other values as they are."""
    return (
        f"CASE WHEN prefix({expr}, '=\"') AND suffix({expr}, '\"') AND strlen({expr}) >= 3 "
        f"THEN NULLIF({expr}[3:-2], '') ELSE {expr} END"
    )


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
    taken as they are: translate() with this map costs over ten times the test, and it was the
    largest single cost of landing settlements (bench/README.md, "Measured choices")."""
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
MIN_DATE = "1900-01-01"  # every date before it is implausible (a two-digit year lands as 0024)
BIRTH_AFTER_EVENT = True  # a birth date after the row's own event is quarantined
# dates that may lie in the future when delivered (a dispatch's planned end), up to this many years
FUTURE_YEARS = {"end_date": 10}


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
            person = c.hash_as == "person_key"  # a 身份证号: old 15-digit form made 18
            out.parsed.append(
                f"{id18_sql(identifier_sql(v)) if person else identifier_sql(v)} AS {p}"
            )
            out.typed.append(f"{hmac_sql(norm, key)} AS {q(c.hash_as)}")
            out.record.append(f"{lit(c.hash_as)}, {hmac_sql(norm, key)}")
            if person:
                out.typed.append(
                    f"{gb11643_sql(norm)} AS {q(c.hash_as + contract.ID_VALID_SUFFIX)}"
                )
            out.reasons.append(_scientific_sql(v, name))
            continue
        out.record.append(f"{lit(name)}, {_masked(v, c.kind)}")
        if c.aliases:  # 男 -> 1, 是 -> 1, 01 -> 1: checked and loaded as the contract's code
            cases = " ".join(f"WHEN {lit(a)} THEN {lit(code)}" for a, code in c.aliases)
            v = f"(CASE {v} {cases} ELSE {v} END)"
        if c.kind == "date":
            parsed = f"{strptime_sql(china_time_sql(v), DATE_FORMATS)}::DATE"
            what = "bad date"
        elif c.kind == "timestamp":
            parsed = strptime_sql(f"replace({china_time_sql(v)}, 'T', ' ')", TIMESTAMP_FORMATS)
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
        elif c.kind == "code":  # a free code: any text, but never a person's identifier
            out.parsed.append(f"{_code_sql(v, key, now)} AS {p}")
            out.typed.append(f"{p} AS {q(name)}")
            out.reasons.append(_scientific_sql(v, name))
            continue
        else:  # text: any text
            out.typed.append(f"{v} AS {q(name)}")
            continue
        out.parsed.append(f"{parsed} AS {p}")
        out.typed.append(f"{p} AS {q(name)}")
        out.reasons.append(
            (f"{v} IS NOT NULL AND {p} IS NULL", f"'{what} in {name}: ' || {_show(v, c.kind)}")
        )
        if c.kind in ("date", "timestamp"):
            parsed_of[name] = p
        if c.kind == "money":  # the DECIMAL(18,2) cast would round them silently
            out.reasons.append(
                (excess_decimals_sql(v), f"'amount with more than 2 decimals in {name}'")
            )
    out.reasons += _plausibility_sql(parsed_of, now)
    return out


def excess_decimals_sql(v: str) -> str:
    """TRUE if the amount `v` has a non-zero digit after its second decimal (`12.301`; not
    `12.30`, `12.300`). The pattern runs only where some `.` has three or more characters after
    it, which it needs to match: most amounts have two decimals (bench/README.md, "Measured
    choices"). `instr` counts characters and `strlen` bytes, so the guard can only be too
    wide, never too narrow."""
    return (
        f"CASE WHEN instr({v}, '.') > 0 AND strlen({v}) - instr({v}, '.') >= 3 "
        f"THEN regexp_matches({v}, '\\.[0-9]{{2}}0*[1-9]') ELSE false END"
    )


def _code_sql(v: str, key: bytes, now: datetime) -> str:
    """A free code as it loads: a value that is a valid 身份证号 in any written form (spaces,
    hyphens, full-width digits) is replaced by its keyed hash, as the identifier columns are
    (a roster whose staff_id is the 身份证号, two columns swapped): never stored in clear. The
    cheap tests of length and first character keep the check off nearly every value."""
    norm = f"regexp_replace({identifier_sql(v)}, '[-./_]', '', 'g')"
    digit = f"(left({v}, 1) BETWEEN '0' AND '9' OR left({v}, 1) BETWEEN '０' AND '９')"
    return (
        f"CASE WHEN strlen({v}) BETWEEN 18 AND 40 AND {digit} AND {looks_like_id_sql(norm, now)} "
        f"THEN {hmac_sql(norm, key)} ELSE {v} END"
    )


def _scientific_sql(v: str, name: str) -> tuple[str, str]:
    """A code or an identifier in scientific notation (`9.90121E+17`: a spreadsheet took it for a
    number and kept 6 digits): its digits are lost, so the row is quarantined, never loaded as
    a code or a person key. Excel and WPS write `E+` (a cheap test before the pattern)."""
    return (
        f"contains({v}, 'E+') AND regexp_full_match({v}, '[0-9]+(\\.[0-9]+)?[Ee]\\+[0-9]+')",
        f"'{name} in scientific notation (a spreadsheet stored it as a number and lost its "
        f"digits): re-export the column as text'",
    )


def _plausibility_sql(parsed_of: dict[str, str], now: datetime) -> list[tuple[str, str]]:
    """Reasons for dates that cannot be right: any date before 1900 (a two-digit year read as
    year 24), any date after the load time (but FUTURE_YEARS), a birth date after the row's
    own event."""
    stamp = now.strftime("%Y-%m-%d %H:%M:%S")
    out = []
    for d, pd in parsed_of.items():
        out.append(
            (
                f"{pd} < DATE '{MIN_DATE}'",
                f"'implausible {d}: before {MIN_DATE[:4]} (a two-digit year?)'",
            )
        )
        if d in FUTURE_YEARS:
            limit = f"{now.year + FUTURE_YEARS[d]}-12-31"  # no 29 February to trip on
            out.append(
                (
                    f"{pd} > DATE '{limit}'",
                    f"'implausible {d}: more than {FUTURE_YEARS[d]} years ahead'",
                )
            )
        else:
            out.append(
                (
                    f"{pd} > TIMESTAMP '{stamp}'",
                    f"'implausible {d}: in the future (after the load time {stamp})'",
                )
            )
    events = [(n, parsed_of[n]) for n in EVENT_COLUMNS if n in parsed_of]
    for b in (n for n in BIRTH_COLUMNS if n in parsed_of):
        if BIRTH_AFTER_EVENT:
            out += [
                (f"{parsed_of[b]} > {pe}::DATE", f"'implausible {b}: after {e}'")
                for e, pe in events
            ]
    return out


def reason_sql(reasons: list[tuple[str, str]]) -> str:
    """The quarantine reason of a row: its reasons' texts joined by '; ', NULL for a good row.
    The texts are built only for rows with a reason (one test of all the conditions first),
    not joined from a dozen NULLs for every good row (bench/README.md, "Measured choices")."""
    if not reasons:
        return "NULL"
    parts = ", ".join(f"CASE WHEN {cond} THEN {text} END" for cond, text in reasons)
    anything = " OR ".join(f"coalesce({cond}, false)" for cond, _ in reasons)
    return f"CASE WHEN {anything} THEN concat_ws('; ', {parts}) END"
