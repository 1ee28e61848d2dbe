"""Landing files as real exports arrive: encodings, date formats, formats, and planted defects.

Canonical frames (datetime64 / int64 fen / str) are rendered to text here; defects are applied
to the rendered text and counted in a `Ledger` that re-checks the counts on the written rows.
"""

from __future__ import annotations

import codecs
import io
import logging
import pickle
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from orchestration import contract
from orchestration.generate import ids, layouts

LOG = logging.getLogger("ygt.generate")

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


def _digits(x: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(pa.array(x), pa.large_string()), width, "0")


def fmt_dt(values, date_fmt: str, with_time: bool, sep: str = " ") -> pd.Series:
    """Dates (and times) as text in the file's style; NaT as empty. Built from the calendar
    fields by Arrow (numpy's datetime_as_string and string slicing cost twice as much)."""
    secs = pd.Series(values).to_numpy().astype("datetime64[s]")
    days = secs.astype("datetime64[D]")
    year, month = days.astype("datetime64[Y]"), days.astype("datetime64[M]")
    parts = [
        _digits(year.astype(np.int64) + 1970, 4),
        _digits((month - year.astype("datetime64[M]")).astype(np.int64) + 1, 2),
        _digits((days - month.astype("datetime64[D]")).astype(np.int64) + 1, 2),
    ]
    text = pa.large_string()
    dsep = {"iso": "-", "compact": "", "slash": "/"}[date_fmt]
    out = pc.binary_join_element_wise(*parts, pa.scalar(dsep, text))
    if with_time:
        t = (secs - days).astype(np.int64)
        hms = [_digits(t // 3600, 2), _digits(t // 60 % 60, 2), _digits(t % 60, 2)]
        hms = pc.binary_join_element_wise(*hms, pa.scalar(":", text))
        out = pc.binary_join_element_wise(out, hms, pa.scalar(sep, text))
    out = pc.if_else(pa.array(np.isnat(secs)), pa.scalar("", text), out)
    return pd.Series(pd.array(out, dtype="str"))


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
        elif pd.api.types.is_string_dtype(v.dtype) and v.dtype != object:
            out[col.name] = pd.Series(v.array, copy=False).fillna("")  # no round trip
        else:
            out[col.name] = pd.Series(v.to_numpy(), dtype=object).fillna("").astype(str)
    return pd.DataFrame(out).reset_index(drop=True)


def _joined(text: pd.DataFrame, cols: list[str], sep: str, end: str | None = None):
    """Each row's cells of `cols` joined by `sep` (and followed by `end`), as one Arrow string
    array (a null cell is empty); None when a column does not hold text."""
    arrays = []
    for c in cols:
        v = text[c]
        if isinstance(v.dtype, pd.StringDtype) and v.dtype.storage == "pyarrow":
            a = v.array.__arrow_array__()  # the Arrow data itself (a conversion costs per file)
        elif v.dtype == object:
            try:
                a = pa.array(v, type=pa.large_string(), from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                return None
        else:
            return None
        if isinstance(a, pa.ChunkedArray):
            a = a.chunk(0) if a.num_chunks == 1 else a.combine_chunks()
        if a.type != pa.large_string():
            a = a.cast(pa.large_string())
        arrays.append(pc.fill_null(a, "") if a.null_count else a)
    if not arrays:
        return None
    sep_, end_ = (None if x is None else pa.scalar(x, pa.large_string()) for x in (sep, end))
    joined = pc.binary_join_element_wise(*arrays, sep_) if len(arrays) > 1 else arrays[0]
    if end is not None:
        joined = pc.binary_join_element_wise(joined, pa.scalar("", pa.large_string()), end_)
    return joined


ROW_SEP = "\x1f"  # the ASCII unit separator: in no generated value
HASH_KEYS = ("ygt-row-hash-k0.", "ygt-row-hash-k1.")  # two independent 64-bit SipHash keys


def row_hashes(text: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Two 64-bit hashes of each row: SipHash under two keys of its cells joined by ROW_SEP.

    128 bits per row stand in for the row in the duplicate accounting: equal rows have equal
    hashes, and two different rows share both with odds far below one in 10^18 per pair.
    Hashing one joined string per row costs a fraction of hashing every cell.
    """
    joined = _joined(text, cols, ROW_SEP)
    if joined is None:
        rows = text[cols].astype(str).agg(ROW_SEP.join, axis=1)
        values = rows.to_numpy(dtype=object)
    else:
        values = joined.to_numpy(zero_copy_only=False)
    if len(values) == 0:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.uint64)
    h = [pd.util.hash_array(values, hash_key=k, categorize=False) for k in HASH_KEYS]
    return h[0], h[1]


# ── files and the ledger ────────────────────────────────────────────────────────────────────


@dataclass
class FileSpec:
    name: str
    frame: pd.DataFrame | None  # canonical (None until it is cut, for files cut one at a time)
    fmt: str = "csv"  # csv | xlsx | parquet | dbf
    encoding: str = "utf-8"
    date_fmt: str = "iso"
    sep: str = " "
    quarantine: dict = field(default_factory=dict)  # reason -> count
    dup_within: int = 0
    extra_columns: dict = field(default_factory=dict)  # name -> constant value
    drop_column: str | None = None  # a required column left out: the file is rejected
    text: pd.DataFrame | None = None  # rendered text (filled by the writer)
    quarantined: dict = field(default_factory=dict)
    layout: str | None = None  # the profile whose layout the file is written in (None: contract)


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


MONEY_COLUMNS = {c.name for s in contract.SOURCES for c in s.columns if c.kind == "money"}
MONEY_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def _write_csv(path: Path, df: pd.DataFrame, encoding: str) -> bool:
    """Write `df` as pandas' to_csv would (header, cells joined by commas, a line feed after
    each row), joined by Arrow; False (nothing written) unless every cell is plain text that
    pandas would not quote (no comma, quote or line end) and there are two columns or more (a
    lone empty cell is written as "")."""
    cols = [str(c) for c in df.columns]
    if len(cols) < 2 or any(re.search(r'[,"\r\n]', c) for c in cols):
        return False
    bodies = []
    for i in range(0, len(df), CHUNK_ROWS):
        rows = _joined(df.iloc[i : i + CHUNK_ROWS], cols, ",", "\n")
        if rows is None:
            return False
        body = _data_bytes(rows)
        # plain rows hold their separators' commas and one line feed each, no quote or CR
        n = len(rows)
        if body.count(b",") != n * (len(cols) - 1) or body.count(b"\n") != n:
            return False
        if b'"' in body or b"\r" in body:
            return False
        bodies.append(body)
    utf8 = encoding in ("utf-8", "utf-8-sig")
    with open(path, "wb") as fh:
        if encoding == "utf-8-sig":
            fh.write(codecs.BOM_UTF8)
        fh.write((",".join(cols) + "\n").encode("utf-8" if utf8 else encoding))
        for body in bodies:
            fh.write(body if utf8 else body.decode("utf-8").encode(encoding))
    return True


def _data_bytes(a) -> bytes:
    """The UTF-8 bytes of a large_string array's values, back to back."""
    if len(a) == 0:
        return b""
    offsets = np.frombuffer(a.buffers()[1], dtype=np.int64)[a.offset : a.offset + len(a) + 1]
    return a.buffers()[2].to_pybytes()[offsets[0] : offsets[-1]]


def _write_one(
    path: Path, df: pd.DataFrame, spec: FileSpec, kinds: dict[str, str] | None = None
) -> None:
    """Write a file; `kinds` (field -> date, hour, money, text) for a layout's field names."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if spec.fmt == "csv":
        if not _write_csv(path, df, spec.encoding):  # a cell pandas quotes: pandas writes it
            with open(path, "w", encoding=spec.encoding, newline="") as fh:
                for i in range(0, max(len(df), 1), CHUNK_ROWS):
                    df.iloc[i : i + CHUNK_ROWS].to_csv(
                        fh, index=False, header=(i == 0), lineterminator="\n"
                    )
    elif spec.fmt == "parquet":
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
        ws = wb.create_sheet("人员信息" if spec.layout in (None, "personnel_zh") else "Sheet1")
        ws.append(list(df.columns))
        # Money as Excel keeps it: a number cell holding the nearest double, written with 16
        # significant digits (91582.65 is stored as 91582.64999999999); the loader reads number
        # cells at Excel's 15. A planted malformed amount stays a text cell.
        money = [(kinds or {}).get(c) == "money" or c in MONEY_COLUMNS for c in df.columns]
        for row in df.itertuples(index=False):
            ws.append(
                [
                    None if v == "" else float(v) if m and MONEY_TEXT.fullmatch(v) else v
                    for v, m in zip(row, money, strict=True)
                ]
            )
        wb.save(path)
        _norm_zip(path)
    elif spec.fmt == "dbf":
        layouts.write_dbf(path, df, kinds or {})
    else:
        raise ValueError(spec.fmt)


class DeliveryWriter:
    """Writes the files of (part of) one delivery as they are added and accounts for them at close.

    The files of each add() are rendered, given their planted defects and written at once, so
    memory holds what was added (one large file, or a county's small ones) rather than the
    delivery; for the duplicate accounting only a 128-bit hash of each row is kept. With
    cross_dups > 0 (rows copied from one file into a later-sorting file of the delivery) the
    texts are kept until close(), which plants them (only between csv files without extra
    columns, with the same date format) and writes.
    """

    def __init__(
        self,
        out: Path,
        source: str,
        period: str,
        ledger: Ledger,
        rng: np.random.Generator,
        cross_dups: int = 0,
        plan: layouts.Layouts | None = None,
    ):
        self.out, self.source, self.period = out, source, period
        self.plan = plan
        self.added = 0  # files added so far: the k of layouts.choose
        self.src = contract.SOURCE_BY_NAME[source]
        self.stats = ledger.sources[source]
        self.ledger, self.rng, self.cross_dups = ledger, rng, cross_dups
        self.cols = [c.name for c in self.src.columns]
        self.id_col = next((c for c in self.cols if c in ID_COLUMNS), None)
        self.held: list[FileSpec] = []  # texts kept for the cross-file duplicates
        self.accounts: list[tuple[FileSpec, pd.DataFrame]] = []  # (spec, per-row hashes)

    def add(self, *specs: FileSpec) -> None:
        """Render the files given (in one pass per date format), plant their defects, write."""
        groups: dict = {}
        for spec in specs:
            if self.plan is not None:
                spec.layout, fmt = layouts.choose(self.plan.mode, self.source, self.added)
                if fmt and fmt != spec.fmt:
                    spec.fmt, spec.name = fmt, f"{Path(spec.name).stem}.{fmt}"
                if spec.fmt == "dbf":
                    spec.encoding = "gbk"
            self.added += 1
            groups.setdefault((spec.date_fmt, spec.sep), []).append(spec)
        rendered = {}
        for (date_fmt, sep), members in groups.items():
            frames = [m.frame for m in members]
            big = render(pd.concat(frames, ignore_index=True), self.source, date_fmt, sep)
            big["_q"] = False
            big["_id_ok"] = ids.is_valid_id(big[self.id_col]).to_numpy() if self.id_col else True
            bounds = np.cumsum([0] + [len(f) for f in frames])
            for j, m in enumerate(members):
                rendered[id(m)] = big.iloc[bounds[j] : bounds[j + 1]].reset_index(drop=True)
                m.frame = None
        for spec in specs:  # in the order given: the planted defects draw from the rng in turn
            text = rendered.pop(id(spec))
            spec.text = text if spec.drop_column else self._plant(spec, text)
            if self.cross_dups > 0:
                self.held.append(spec)
            else:
                self._finish(spec)

    def close(self) -> None:
        self._plant_cross_dups()
        for spec in self.held:
            self._finish(spec)
        self.held = []
        self._account()
        LOG.debug(
            f"  {self.source}/{self.period}: {len(self.accounts)} file(s)",
            extra={"advance": 1, "where": f"{self.source}/{self.period}"},
        )

    def _copyable(self, text: pd.DataFrame) -> np.ndarray:
        """Rows a planted defect may be copied from: a valid id, not a reversal."""
        ok = text["_id_ok"].to_numpy().copy()
        if "refd_setl_flag" in text:
            ok &= (text["refd_setl_flag"] == "0").to_numpy()
        return ok

    def _plant(self, spec: FileSpec, text: pd.DataFrame) -> pd.DataFrame:
        rng, source, year = self.rng, self.source, int(self.period[:4])
        cand_idx = np.flatnonzero(self._copyable(text))
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
            kind = self.src.column(col).kind
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
        if len(pieces) == 1:
            return text
        full = pd.concat(pieces, ignore_index=True)
        return full.iloc[np.argsort(np.concatenate(keys), kind="stable")].reset_index(drop=True)

    def _plant_cross_dups(self) -> None:
        rng = self.rng
        eligible = sorted(
            [s for s in self.held if s.fmt == "csv" and not s.extra_columns and not s.drop_column],
            key=lambda s: s.name,
        )
        if len(eligible) < 2:
            return
        for _ in range(self.cross_dups):
            a_i = int(rng.integers(0, len(eligible) - 1))
            a = eligible[a_i]
            b = next(
                (
                    s
                    for s in eligible[a_i + 1 :]
                    if s.date_fmt == a.date_fmt and s.sep == a.sep and s.layout == a.layout
                ),
                None,
            )
            if b is None or len(a.text) == 0:
                continue
            ok = self._copyable(a.text) & ~a.text["_q"].to_numpy()  # never copy a defect row
            if not ok.any():
                continue
            row = a.text.iloc[[int(rng.choice(np.flatnonzero(ok)))]]
            pos = int(rng.integers(0, len(b.text) + 1))
            b.text = pd.concat([b.text.iloc[:pos], row, b.text.iloc[pos:]], ignore_index=True)

    def _finish(self, spec: FileSpec) -> None:
        """Keep what the accounting needs (a hash per row), write the file, drop the text."""
        text = spec.text
        acc = {"_q": text["_q"].to_numpy(), "_id_ok": text["_id_ok"].to_numpy()}
        if not spec.drop_column:
            acc["_h0"], acc["_h1"] = row_hashes(text, self.cols)
        self.accounts.append((spec, pd.DataFrame(acc)))
        df = text[self.cols]
        kinds = None
        if spec.layout:
            names = self.plan.org_names.get(int(self.period[:4]))
            df, kinds, owned = layouts.to_layout(df, self.source, spec.layout, names)
            drop = owned[spec.drop_column] if spec.drop_column else []
        else:
            drop = [spec.drop_column] if spec.drop_column else []
        if drop:
            df = df.drop(columns=drop)
        for name, value in spec.extra_columns.items():
            df = df.assign(**{name: value})
        _write_one(self.out / self.source / self.period / spec.name, df, spec, kinds)
        spec.text = None

    def _account(self) -> None:
        """Duplicates by actual comparison (row hashes) over the delivery part, in file-name order."""
        source, period, stats = self.source, self.period, self.stats
        accounts = sorted(self.accounts, key=lambda a: a[0].name)
        loaded = []
        for spec, acc in accounts:
            stats["files"] += 1
            stats["rows_written"] += len(acc)
            if spec.drop_column:
                stats["rejected_files"].append(
                    {
                        "file": f"{source}/{period}/{spec.name}",
                        "rows": len(acc),
                        "missing_column": spec.drop_column,
                    }
                )
                self._file_row(spec, len(acc), 0, 0, "rejected")
                continue
            loaded.append(acc.assign(_file=spec.name))
        if not loaded:
            return
        rows = pd.concat(loaded, ignore_index=True)
        hashes = ["_h0", "_h1"]
        q = rows["_q"].to_numpy()
        dup = rows.duplicated(subset=hashes, keep="first").to_numpy() & ~q
        within = rows.duplicated(subset=hashes + ["_file"], keep="first").to_numpy()
        rows["_dup"] = dup
        rows["_cross"] = dup & ~within
        id_ok = rows["_id_ok"].to_numpy()
        if self.id_col:
            stats["invalid_ids"] += int((~id_ok & ~dup & ~q).sum())
            stats["invalid_id_rows_in_files"] += int((~id_ok & ~q).sum())
        stats["rows_loaded"] += int((~dup & ~q).sum())
        per = rows.groupby("_file", sort=False).agg(
            rows=("_q", "size"), q=("_q", "sum"), d=("_dup", "sum"), x=("_cross", "sum")
        )
        stats["duplicates"] += int(per["d"].sum())
        stats["duplicates_across_files"] += int(per["x"].sum())
        stats["duplicates_within_file"] += int(per["d"].sum() - per["x"].sum())
        for spec, _ in accounts:
            if spec.drop_column:
                continue
            r = per.loc[spec.name]
            for reason, k in spec.quarantined.items():
                stats["quarantined"][reason] += k
            self._file_row(spec, int(r["rows"]), int(r["q"]), int(r["d"]), "loaded")

    def _file_row(self, spec: FileSpec, n: int, q: int, d: int, status: str) -> None:
        self.ledger.files.append(
            dict(
                source=self.source,
                period=self.period,
                file=f"{self.source}/{self.period}/{spec.name}",
                rows_read=n,
                rows_loaded=n - q - d if status == "loaded" else 0,
                rows_quarantined=q,
                rows_duplicate=d,
                status=status,
                encoding=spec.encoding,
                format=spec.fmt,
                date_format=spec.date_fmt,
            )
        )


class FileParts:
    """Rows bound for the files of a delivery, kept on disk until each file is written.

    A file whose rows come from every county's part (a county's settlements include its
    insured treated elsewhere) is otherwise assembled from the province's rows in memory.
    `add(key, frame)` appends a piece to the file `key`; `take(key)` returns its pieces in the
    order added and forgets them. Pieces are pickled (exact dtypes) into the scratch folder
    `folder`, emptied when opened (what an interrupted run left) and removed by `close()`.
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self.handles: dict[str, io.BufferedWriter] = {}
        self.opened = 0

    def add(self, key: str, frame: pd.DataFrame) -> None:
        if key not in self.handles:
            self.opened += 1
            self.handles[key] = open(self.folder / f"{self.opened}.pkl", "ab")
        pickle.dump(frame, self.handles[key], protocol=pickle.HIGHEST_PROTOCOL)

    def take(self, key: str) -> list[pd.DataFrame]:
        fh = self.handles.pop(key, None)
        if fh is None:
            return []
        fh.close()
        pieces = []
        with open(fh.name, "rb") as rf:
            while True:
                try:
                    pieces.append(pickle.load(rf))
                except EOFError:
                    break
        Path(fh.name).unlink()
        return pieces

    def close(self) -> None:
        for fh in self.handles.values():
            fh.close()
        self.handles = {}
        shutil.rmtree(self.folder, ignore_errors=True)


def write_delivery(
    out: Path,
    source: str,
    period: str,
    specs: list[FileSpec],
    ledger: Ledger,
    rng: np.random.Generator,
    cross_dups: int = 0,
    plan: layouts.Layouts | None = None,
) -> None:
    """Render, plant defects, write the files of (part of) one delivery and account for them."""
    writer = DeliveryWriter(out, source, period, ledger, rng, cross_dups, plan)
    writer.add(*specs)
    writer.close()
