"""Landing files in the national export layouts: the contract's text written under a profile.

`ygt generate --layouts contract|national|mixed` chooses the layout of each file:

- `contract` (default): every file under the contract's own column names (`ygt contract`);
- `national`: every file in the layout of a shipped profile (orchestration/land/profiles/):
  inpatient discharges alternately as 卫统4-1 N041 DBF tables (GBK, one per facility, the
  facility named by USERNAME as in the year's register) and HQMS uploads (CSV or .xlsx, field
  codes A01, A48 ...), every other source under its Chinese-header profile (`<source>_zh`;
  the personnel roster as .xlsx with 男/女 and 是/否);
- `mixed`: the files of a delivery alternate: the first in contract layout, the second national,
  and so on.

A file is rendered, given its planted defects and accounted for in contract text exactly as in
the contract layout (same records, same ground truth); only when it is written is that text
turned into the layout by inverting the profile: each contract column goes to the field its rule
reads (a `values` map and the contract's aliases -- 男/女, 是/否, `01` -- give the layout's
spellings), `concat` [a, b] puts the column the first field also maps (mr_no -> BAH) before the
contract value (admission_id -> ZYCS), so the loaded key stays unique, `date_hour` splits a time
into a YYYYMMDD date and its hour (the minutes are lost), `lookup` writes the register's org_name
of the file's year. The loaded values differ only there: admission_id reads `<BAH>-<ZYCS>`, the
admit and discharge times of an N041 file lose their minutes; no indicator uses either.
"""

from __future__ import annotations

import re
import struct
from functools import cache
from pathlib import Path

import pandas as pd

from orchestration import contract
from orchestration.land.profile import Profile, shipped

LAYOUTS = ("contract", "national", "mixed")
N041 = "inpatient_discharges_n041"
HQMS = "inpatient_discharges_hqms"
DBF_LANGUAGE_DRIVER = 0x7A  # code page 936 (GBK)
STAMP = re.compile(r"^(\d{4})[-/]?(\d{2})[-/]?(\d{2})(?:[ T](\d{2}):\d{2}:\d{2})?$")


@cache
def profile(name: str) -> Profile:
    return next(p for p in shipped() if p.name == name)


def national_layout(source: str, k: int) -> tuple[str, str | None]:
    """(profile, format or None to keep the file's own) of the k-th national file of a delivery."""
    if source == "inpatient_discharges":
        return (N041, "dbf") if k % 2 == 0 else (HQMS, "csv" if k % 4 == 1 else "xlsx")
    if source == "personnel":
        return "personnel_zh", "xlsx"
    return f"{source}_zh", None


def choose(mode: str, source: str, k: int) -> tuple[str | None, str | None]:
    """(profile or None for the contract layout, format) of the k-th file of a delivery."""
    if mode not in LAYOUTS:
        raise ValueError(f"layouts must be one of {', '.join(LAYOUTS)}, not {mode!r}")
    if mode == "contract" or (mode == "mixed" and k % 2 == 0):
        return None, None
    return national_layout(source, k if mode == "national" else k // 2)


def _aliases(col: contract.Column) -> dict[str, str]:
    """Contract code -> the first other spelling the contract accepts for it (1 -> 男, 是, 01)."""
    out: dict[str, str] = {}
    for alias, code in col.aliases:
        out.setdefault(code, alias)
    return out


def _spell(col: contract.Column, p: Profile, v: pd.Series) -> pd.Series:
    """A column's contract text in the layout's spelling (its values map, else the aliases)."""
    inverse: dict[str, str] = {}
    for layout_value, code in p.values.get(col.name, {}).items():
        inverse.setdefault(code, layout_value)
    if not inverse:
        inverse = _aliases(col)
    return v.map(lambda x: inverse.get(x, x)) if inverse else v


def _digits(s: str) -> str:
    """The date part of a contract date or time as YYYYMMDD (the digits of a malformed one)."""
    m = STAMP.match(s)
    return "".join(m.group(1, 2, 3)) if m else re.sub(r"\D", "", s.split(" ")[0])


def _hour(s: str) -> str:
    m = STAMP.match(s)
    return str(int(m.group(4))) if m and m.group(4) else ""


def to_layout(
    text: pd.DataFrame, source: str, name: str, org_names: dict[str, str] | None = None
) -> tuple[pd.DataFrame, dict[str, str], dict[str, list[str]]]:
    """(frame under the profile's field names, field -> kind (`date`, `hour`, `money`, `text`),
    contract column -> the fields it wrote) for contract text `text`."""
    p = profile(name)
    if p.formats:
        raise NotImplementedError(f"{name}: the generator writes no `formats` layouts")
    src = contract.SOURCE_BY_NAME[source]
    direct = {r.fields[0]: c for c, r in p.columns.items() if r.kind == "field"}
    out: dict[str, pd.Series] = {}
    kinds: dict[str, str] = {}
    owned: dict[str, list[str]] = {}

    def put(field: str, values: pd.Series, kind: str, column: str) -> None:
        if field not in out:
            out[field] = values.reset_index(drop=True)
            kinds[field] = kind
            owned.setdefault(column, []).append(field)

    for col in src.columns:
        rule = p.columns[col.name]
        v = _spell(col, p, text[col.name].astype(str))
        kind = {"date": "date", "money": "money"}.get(col.kind, "text")
        if rule.kind == "field":
            put(rule.fields[0], v, kind, col.name)
        elif rule.kind == "concat":
            first, *middle, last = rule.fields
            if middle or first not in direct:
                raise NotImplementedError(f"{name}: concat the generator cannot invert")
            mapped = direct[first]
            put(first, _spell(src.column(mapped), p, text[mapped].astype(str)), "text", mapped)
            put(last, v, "text", col.name)
        elif rule.kind == "date_hour":
            put(rule.fields[0], v.map(_digits), "date", col.name)
            put(rule.fields[1], v.map(_hour), "hour", col.name)
        elif rule.kind == "lookup":
            if rule.match != "org_name" or rule.take != "org_code" or org_names is None:
                raise NotImplementedError(f"{name}: lookup the generator cannot invert")
            names = v.map(lambda x: org_names.get(x, "") if x else "")
            if ((names == "") & (v != "")).any():
                raise ValueError(f"{name}: {col.name} not in the register of the file's year")
            put(rule.fields[0], names, "text", col.name)
    return pd.DataFrame(out), kinds, owned


def write_dbf(path: Path, df: pd.DataFrame, kinds: dict[str, str]) -> None:
    """A dBase III table in GBK (language driver 0x7A): money as N(.., 2), hours as N(2, 0),
    dates as D (YYYYMMDD), everything else C as wide as its longest value; field names cut to
    dBase's 10 characters (an extra column export_batch is written as export_bat)."""
    fields, cols = [], []
    for name in df.columns:
        vals = [("" if x is None else str(x)) for x in df[name]]
        kind = kinds.get(name, "text")
        if kind == "money":
            # a dBase numeric field holds ASCII digits: a malformed amount that is not ASCII
            # (壹佰元) is written as dBase writes an overflow, asterisks
            vals = [v if v.isascii() else "*" * 8 for v in vals]
            typ, length, dec = "N", max(12, *(len(v) for v in vals)), 2
        elif kind == "hour":
            typ, length, dec = "N", 2, 0
        elif kind == "date":
            vals = [_digits(v) if v else "" for v in vals]
            if any(v and len(v) != 8 for v in vals):
                raise ValueError(f"{path.name}: {name}: a date that is not 8 digits")
            typ, length, dec = "D", 8, 0
        else:
            typ, dec = "C", 0
            length = max([1] + [len(v.encode("gbk")) for v in vals])
        if length > 254:
            raise ValueError(f"{path.name}: {name}: values longer than a DBF field")
        enc = [v.encode("gbk" if typ == "C" else "ascii") for v in vals]
        cols.append([e.rjust(length) if typ == "N" else e.ljust(length) for e in enc])
        fields.append((name, typ, length, dec))
    n = len(df)
    recordlen = 1 + sum(f[2] for f in fields)
    headerlen = 32 + 32 * len(fields) + 1
    head = bytearray(struct.pack("<BBBBIHH", 0x03, 120, 1, 1, n, headerlen, recordlen))
    head += bytes(17) + bytes([DBF_LANGUAGE_DRIVER, 0, 0])
    names = [name.encode("ascii")[:10] for name, *_ in fields]  # dBase: 10 characters at most
    if len(set(names)) < len(names):
        raise ValueError(f"{path.name}: field names alike in their first 10 characters")
    for short, (_, typ, length, dec) in zip(names, fields, strict=True):
        head += short.ljust(11, b"\0") + typ.encode("ascii") + bytes(4)
        head += bytes([length, dec]) + bytes(14)
    head += b"\r"
    with open(path, "wb") as fh:
        fh.write(bytes(head))
        for i in range(n):
            fh.write(b" " + b"".join(c[i] for c in cols))
        fh.write(b"\x1a")


class Layouts:
    """How one generation writes its files: the mode and, per year, the register's org_name of
    each org_code (for the `lookup` fields)."""

    def __init__(self, mode: str = "contract"):
        if mode not in LAYOUTS:
            raise ValueError(f"layouts must be one of {', '.join(LAYOUTS)}, not {mode!r}")
        self.mode = mode
        self.org_names: dict[int, dict[str, str]] = {}

    def register(self, year: int, reg: pd.DataFrame) -> None:
        """Keep the year's names; an N041 file names its facility, so in the national layouts
        each name must be one facility's in the year's register (the loader looks it up)."""
        names = reg["org_name"].str.strip()
        twice = sorted(set(names[names.duplicated()]))
        if twice and self.mode != "contract":
            raise ValueError(f"facility names not unique in the {year} register: {twice[:5]}")
        self.org_names[year] = dict(zip(reg["org_code"], reg["org_name"], strict=True))
