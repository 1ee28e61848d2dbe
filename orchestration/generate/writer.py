"""Landing files as real exports arrive: encodings, date formats, formats, and planted defects.

Canonical frames (datetime64 / int64 fen / str) are rendered to text here; defects are applied
to the rendered text and counted in a `Ledger` that re-checks the counts on the written rows.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from orchestration import contract
from orchestration.generate import ids

DATE_FORMATS = ("iso", "compact", "slash")
ENCODINGS = ("utf-8", "utf-8-sig", "gb18030")
REASONS = ("bad_date", "bad_amount", "unknown_code")
CHUNK_ROWS = 500_000

# Which column carries each planted quarantine defect, per source.
QUARANTINE_COLUMNS = {
    "outpatient_visits": {
        "bad_date": "visit_time",
        "bad_amount": "total_fee",
        "unknown_code": "visit_type",
    },
    "inpatient_discharges": {
        "bad_date": "discharge_time",
        "bad_amount": "total_cost",
        "unknown_code": "discharge_way",
    },
    "insurance_settlements": {
        "bad_date": "setl_time",
        "bad_amount": "medfee_sumamt",
        "unknown_code": "fixmedins_type",
    },
    "deaths": {"bad_date": "death_date"},
    "personnel": {"bad_date": "birth_date"},
    "chronic_disease_roster": {"unknown_code": "disease"},
    "remote_diagnoses": {"unknown_code": "modality"},
    "dispatches": {"unknown_code": "dispatch_type"},
    "facilities": {"unknown_code": "category_code"},
}
# The column given a fresh value in a quarantined copy, so it is a new record (not a duplicate).
FRESH_KEY = {
    "outpatient_visits": "visit_id",
    "inpatient_discharges": "admission_id",
    "insurance_settlements": "setl_id",
    "deaths": "death_id",
    "personnel": "staff_id",
    "remote_diagnoses": "request_id",
    "dispatches": "dispatch_id",
    "facilities": "org_code",
}
BAD_DATES = ("{y}-02-30", "{y}-13-01", "{y}0231", "{y}/04/31", "{y}-06-31")
BAD_AMOUNTS = ("12..50", "abc", "壹佰元", "#VALUE!", "1O5.00")
UNKNOWN = {
    "visit_type": ("telemedicine", "ward_round"),
    "discharge_way": ("7", "0"),
    "fixmedins_type": ("3",),
    "disease": ("COPD", "CKD"),
    "modality": ("PATHOLOGY",),
    "dispatch_type": ("temporary",),
    "category_code": ("K9", "E1"),
}
ID_COLUMNS = {"id_no", "certno", "physician_id_no"}

for _src, _m in QUARANTINE_COLUMNS.items():  # the plan must agree with the contract
    _s = contract.SOURCE_BY_NAME[_src]
    for _r, _col in _m.items():
        _k = _s.column(_col)
        assert (
            (_r == "bad_date" and _k.kind in ("date", "timestamp"))
            or (_r == "bad_amount" and _k.kind == "money")
            or (_r == "unknown_code" and _k.enum and not set(UNKNOWN[_col]) & set(_k.enum))
        ), (_src, _col)


# ── rendering ───────────────────────────────────────────────────────────────────────────────


def fmt_dt(values, date_fmt: str, with_time: bool, sep: str = " ") -> pd.Series:
    arr = pd.Series(values).to_numpy().astype("datetime64[s]")
    iso = pd.Series(np.datetime_as_string(arr, unit="s"), dtype=str)
    d = iso.str[:10]
    if date_fmt == "compact":
        d = d.str.replace("-", "", regex=False)
    elif date_fmt == "slash":
        d = d.str.replace("-", "/", regex=False)
    if with_time:
        d = d + sep + iso.str[11:19]
    return d.where(iso != "NaT", "")


def fmt_money(values) -> pd.Series:
    s = pd.Series(values)
    na = s.isna().to_numpy()
    x = s.fillna(0).astype(np.int64).to_numpy()
    a = np.abs(x)
    out = (
        pd.Series(np.where(x < 0, "-", ""), dtype=str)
        + pd.Series(a // 100).astype(str)
        + "."
        + pd.Series(a % 100).astype(str).str.zfill(2)
    )
    return out.where(~na, "")


def render(df: pd.DataFrame, source: str, date_fmt: str, sep: str) -> pd.DataFrame:
    """Contract columns of a canonical frame as text, in contract order."""
    src = contract.SOURCE_BY_NAME[source]
    out = {}
    for col in src.columns:
        v = df[col.name]
        if col.kind == "date":
            out[col.name] = fmt_dt(v, date_fmt, False)
        elif col.kind == "timestamp":
            out[col.name] = fmt_dt(v, date_fmt, True, sep)
        elif col.kind == "money":
            out[col.name] = fmt_money(v)
        else:
            out[col.name] = pd.Series(v.to_numpy(), dtype=object).fillna("").astype(str)
    return pd.DataFrame(out).reset_index(drop=True)


# ── files and the ledger ────────────────────────────────────────────────────────────────────


@dataclass
class FileSpec:
    name: str
    frame: pd.DataFrame  # canonical
    fmt: str = "csv"  # csv | xlsx | parquet
    encoding: str = "utf-8"
    date_fmt: str = "iso"
    sep: str = " "
    quarantine: dict = field(default_factory=dict)  # reason -> count
    dup_within: int = 0
    extra_columns: dict = field(default_factory=dict)  # name -> constant value
    drop_column: str | None = None  # a required column left out: the file is rejected
    text: pd.DataFrame | None = None  # rendered text (filled by the writer)
    quarantined: dict = field(default_factory=dict)


def _empty_source_stats() -> dict:
    return {
        "files": 0,
        "rows_written": 0,
        "duplicates": 0,
        "duplicates_within_file": 0,
        "duplicates_across_files": 0,
        "quarantined": {r: 0 for r in REASONS},
        "rejected_files": [],
        "invalid_ids": 0,
        "invalid_id_rows_in_files": 0,
        "reversals_same_quarter": 0,
        "reversals_earlier_quarter": 0,
        "rows_loaded": 0,
    }


class Ledger:
    def __init__(self):
        self.sources = {s.name: _empty_source_stats() for s in contract.SOURCES}
        self.files: list[dict] = []

    def as_json(self) -> dict:
        return self.sources


def _norm_zip(path: Path) -> None:
    """Rewrite an .xlsx with fixed timestamps (zip entries and document properties)."""
    src = zipfile.ZipFile(path)
    items = [(i.filename, src.read(i.filename)) for i in src.infolist()]
    src.close()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in items:
            if name == "docProps/core.xml":
                data = re.sub(
                    rb"<dcterms:(created|modified)([^>]*)>[^<]*</dcterms:\1>",
                    rb"<dcterms:\1\2>2020-01-01T00:00:00Z</dcterms:\1>",
                    data,
                )
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    path.write_bytes(buf.getvalue())


def _write_one(path: Path, df: pd.DataFrame, spec: FileSpec) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if spec.fmt == "csv":
        with open(path, "w", encoding=spec.encoding, newline="") as fh:
            for i in range(0, max(len(df), 1), CHUNK_ROWS):
                df.iloc[i : i + CHUNK_ROWS].to_csv(
                    fh, index=False, header=(i == 0), lineterminator="\n"
                )
    elif spec.fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        cols = {}
        for c in df.columns:
            vals = df[c].astype(object).to_numpy()
            cols[c] = pa.array(vals, mask=(vals == ""), type=pa.string())
        table = pa.table(cols)
        pq.write_table(table, path, compression="snappy")
    elif spec.fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet("人员信息")
        ws.append(list(df.columns))
        for row in df.itertuples(index=False):
            ws.append([v if v != "" else None for v in row])
        wb.save(path)
        _norm_zip(path)
    else:
        raise ValueError(spec.fmt)


def write_delivery(
    out: Path,
    source: str,
    period: str,
    specs: list[FileSpec],
    ledger: Ledger,
    rng: np.random.Generator,
    cross_dups: int = 0,
    progress=None,
) -> None:
    """Render, plant defects, write the files of (part of) one delivery and account for them.

    cross_dups: number of rows copied from one file into a later-sorting file of the delivery
    (only between csv files without extra columns, with the same date format).
    """
    src = contract.SOURCE_BY_NAME[source]
    stats = ledger.sources[source]
    year = int(period[:4])
    cols = [c.name for c in src.columns]
    id_col = next((c for c in cols if c in ID_COLUMNS), None)
    # render once per date format (one pass over the part, then split per file)
    groups: dict = {}
    for i, spec in enumerate(specs):
        groups.setdefault((spec.date_fmt, spec.sep), []).append(i)
    rendered: dict[int, pd.DataFrame] = {}
    for (date_fmt, sep), members in groups.items():
        frames = [specs[i].frame[cols] for i in members]
        big = render(pd.concat(frames, ignore_index=True), source, date_fmt, sep)
        big["_q"] = False
        big["_ok"] = True
        if id_col:
            big["_ok"] = ids.is_valid_id(big[id_col]).to_numpy()
        if "refd_setl_flag" in big:
            big["_ok"] &= (big["refd_setl_flag"] == "0").to_numpy()
        bounds = np.cumsum([0] + [len(f) for f in frames])
        for j, i in enumerate(members):
            rendered[i] = big.iloc[bounds[j] : bounds[j + 1]].reset_index(drop=True)
    for i, spec in enumerate(specs):
        text = rendered.pop(i)
        ok = text.pop("_ok").to_numpy()
        if spec.drop_column:
            spec.text = text
            continue
        cand_idx = np.flatnonzero(ok)
        order_key = np.arange(len(text), dtype=float)
        pieces, keys = [text], [order_key]
        # quarantine rows: fresh copies of valid rows with one unparseable / unknown value
        qcols = QUARANTINE_COLUMNS.get(source, {})
        for reason, k in spec.quarantine.items():
            if k <= 0 or reason not in qcols or len(cand_idx) == 0:
                continue
            pick = rng.choice(cand_idx, size=k, replace=len(cand_idx) < k)
            q = text.iloc[pick].copy().reset_index(drop=True)
            if source in FRESH_KEY:
                key = FRESH_KEY[source]
                q[key] = q[key] + "Q" + pd.Series(np.arange(1, k + 1)).astype(str) + reason[4]
            col = qcols[reason]
            kind = src.column(col).kind
            if reason == "bad_date":
                vals = [
                    BAD_DATES[i % len(BAD_DATES)].format(y=year) for i in rng.integers(0, 99, k)
                ]
                q[col] = [v + (spec.sep + "10:20:00" if kind == "timestamp" else "") for v in vals]
            elif reason == "bad_amount":
                q[col] = [BAD_AMOUNTS[i % len(BAD_AMOUNTS)] for i in rng.integers(0, 99, k)]
            else:
                q[col] = [UNKNOWN[col][i % len(UNKNOWN[col])] for i in rng.integers(0, 99, k)]
            q["_q"] = True
            if source == "facilities":
                q["fixmedins_code"] = ""
                q["org_name"] = q["org_name"] + "(筹建)"
            pieces.append(q)
            keys.append(rng.uniform(0, len(text), k))
            spec.quarantined[reason] = spec.quarantined.get(reason, 0) + k
        # exact duplicates inside the file, after their original
        if spec.dup_within > 0 and len(cand_idx):
            pick = rng.choice(cand_idx, size=min(spec.dup_within, len(cand_idx)), replace=False)
            pieces.append(text.iloc[pick])
            keys.append(np.minimum(pick + rng.integers(1, 50, len(pick)), len(text)) + 0.5)
        full = pd.concat(pieces, ignore_index=True)
        spec.text = full.iloc[np.argsort(np.concatenate(keys), kind="stable")].reset_index(
            drop=True
        )
    # duplicates across files: copy rows into a later-sorting file
    eligible = sorted(
        [s for s in specs if s.fmt == "csv" and not s.extra_columns and not s.drop_column],
        key=lambda s: s.name,
    )
    if cross_dups > 0 and len(eligible) >= 2:
        for _ in range(cross_dups):
            a_i = int(rng.integers(0, len(eligible) - 1))
            a = eligible[a_i]
            b = next(
                (s for s in eligible[a_i + 1 :] if s.date_fmt == a.date_fmt and s.sep == a.sep),
                None,
            )
            if b is None or len(a.text) == 0:
                continue
            base = a.text
            ok = np.ones(len(base), dtype=bool)
            if id_col:
                ok &= ids.is_valid_id(base[id_col]).to_numpy()
            if "refd_setl_flag" in base:
                ok &= (base["refd_setl_flag"] == "0").to_numpy()
            ok &= ~base["_q"].to_numpy()  # never copy a defect row
            if not ok.any():
                continue
            row = base.iloc[[int(rng.choice(np.flatnonzero(ok)))]]
            pos = int(rng.integers(0, len(b.text) + 1))
            b.text = pd.concat([b.text.iloc[:pos], row, b.text.iloc[pos:]], ignore_index=True)
    # account: duplicates by actual comparison over the delivery part, in file-name order
    specs_sorted = sorted(specs, key=lambda s: s.name)
    loaded_parts = []
    for spec in specs_sorted:
        stats["files"] += 1
        stats["rows_written"] += len(spec.text)
        if spec.drop_column:
            stats["rejected_files"].append(
                {
                    "file": f"{source}/{period}/{spec.name}",
                    "rows": len(spec.text),
                    "missing_column": spec.drop_column,
                }
            )
            ledger.files.append(
                dict(
                    source=source,
                    period=period,
                    file=f"{source}/{period}/{spec.name}",
                    rows_read=len(spec.text),
                    rows_loaded=0,
                    rows_quarantined=0,
                    rows_duplicate=0,
                    status="rejected",
                    encoding=spec.encoding,
                    format=spec.fmt,
                    date_format=spec.date_fmt,
                )
            )
            continue
        t = spec.text[cols + ["_q"]].copy()
        t["_file"] = spec.name
        loaded_parts.append(t)
    if loaded_parts:
        allrows = pd.concat(loaded_parts, ignore_index=True)
        dup = allrows.duplicated(subset=cols, keep="first").to_numpy() & ~allrows["_q"].to_numpy()
        within = allrows.duplicated(subset=cols + ["_file"], keep="first").to_numpy()
        allrows["_dup"] = dup
        allrows["_cross"] = dup & ~within
        kept = allrows[~dup & ~allrows["_q"].to_numpy()]
        if id_col:
            stats["invalid_ids"] += int((~ids.is_valid_id(kept[id_col])).sum())
            stats["invalid_id_rows_in_files"] += int(
                (~ids.is_valid_id(allrows.loc[~allrows["_q"], id_col])).sum()
            )
        stats["rows_loaded"] += len(kept)
        per = allrows.groupby("_file", sort=False).agg(
            rows=("_q", "size"), q=("_q", "sum"), d=("_dup", "sum"), x=("_cross", "sum")
        )
        stats["duplicates"] += int(per["d"].sum())
        stats["duplicates_across_files"] += int(per["x"].sum())
        stats["duplicates_within_file"] += int(per["d"].sum() - per["x"].sum())
        for spec in specs_sorted:
            if spec.drop_column:
                continue
            r = per.loc[spec.name]
            for reason, k in spec.quarantined.items():
                stats["quarantined"][reason] += k
            ledger.files.append(
                dict(
                    source=source,
                    period=period,
                    file=f"{source}/{period}/{spec.name}",
                    rows_read=int(r["rows"]),
                    rows_loaded=int(r["rows"] - r["q"] - r["d"]),
                    rows_quarantined=int(r["q"]),
                    rows_duplicate=int(r["d"]),
                    status="loaded",
                    encoding=spec.encoding,
                    format=spec.fmt,
                    date_format=spec.date_fmt,
                )
            )
    # write
    for spec in specs:
        df = spec.text.drop(columns=["_q"])
        if spec.drop_column:
            df = df.drop(columns=[spec.drop_column])
        for name, value in spec.extra_columns.items():
            df = df.assign(**{name: value})
        _write_one(out / source / period / spec.name, df, spec)
        spec.text = None
        spec.frame = None
    if progress:
        progress(f"  {source}/{period}: {len(specs)} file(s)")
