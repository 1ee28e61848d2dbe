"""Deterministic synthetic province → landing folder (exactly per the raw contract) + ground truth.

    generate(out, counties=6, years=(2023, 2024), scale=1.0, seed=7, progress=print,
             parquet_large=False, layouts="contract") -> dict

The province is clearly synthetic: 990000 示例省(合成数据), cities 99CC00 (示例甲市, …), counties
99CC21, 99CC22, 99CC23 (GB/T 2260 style: 01–20 are city districts, 21+ counties). City
hospitals sit in the city district 99CC02, which is never a generated county; out-of-province
care goes to a neighbouring synthetic province (980102), absent from the register.

Scale semantics
---------------
Populations are realistic (200k–800k residents per county) and do NOT scale. Activity does:

    rows ≈ realistic rate per resident × population × scale × VOLUME_FACTOR (0.005)

with realistic rates of 5 outpatient visits, 0.18 admissions and 0.6 pharmacy purchases per
resident and year. So `scale=1.0` (the demo: 6 counties × 2 years) writes ≈150k visits and
≈0.5M rows in total, and `scale=200` is real-world volume (tens of millions of visits, files
written in chunks). The synthetic persons who use care (the "pool", same 身份证号/psn_no in
every source) number population × 0.01 × scale per county (at least 400), so the chronic
disease cohort, visits per person and admissions per person stay realistic at any scale.
Staff rosters are realistic head counts × clip(0.5 × scale, 0.05, 0.5). Deaths (for I14), dispatches (for I04),
population and qualitative assessments do not scale: they are realistic at every scale. Remote
diagnoses (I05, a rate per 10,000 residents) are 0.06 per resident × scale up to scale 1 and
stay at that realistic volume above it.

Memory: files are written as they are made (`writer.DeliveryWriter`); a quarter's settlements,
which each county's file takes from every county's part, wait on disk in
`<out>/../.generate-parts/` (`writer.FileParts`), removed at the end. What still grows with
the province: the persons who use care (`universe`, about 140 bytes a person, so 0.4 × the
population at scale 40), the year's admissions and the per-row frames kept for the ground
truth (every year's discharges and inpatient settlements).

Speed: most of the time goes to rendering and writing text. Plain-text CSV files (no cell
pandas would quote) are joined by Arrow rather than written by pandas (`writer._write_csv`,
same bytes), rows are hashed once as one joined string, text columns stay Arrow strings from
the persons to the file, and the ground truth looks sets of persons and facilities up by hash
(`truth.member`).

Outputs
-------
    <out>/<source>/<period>/<file>.csv|xlsx|parquet     landing files (the raw contract: `ygt contract`, orchestration/contract.py)

Layouts (`ygt generate --layouts contract|national|mixed`, layouts.py): `contract` (default)
writes every file under the contract's column names; `national` writes the same records in the
layouts of the shipped profiles (orchestration/land/profiles/: front pages as N041 .dbf and HQMS
.csv/.xlsx, settlements, the roster (.xlsx) and every other source with Chinese headers);
`mixed` alternates the two file by file within each delivery. The ground truth, the defects and
the per-file figures are the same in every layout (files.csv names the file as written).
    <out>/../ground_truth/indicators.csv                county × period × indicator truth
    <out>/../ground_truth/defects.json                  planted defects per source
    <out>/../ground_truth/files.csv                     expected per-file audit figures
    <out>/../ground_truth/summary.json                  counts per source, counties, population

See `truth.py` for the indicator rules and the list of interpretations.

Steps
-----
`generate` makes the province once (`make_province`: counties, facilities, population, the
persons who use care, staff, dispatches), then writes each year (`write_year`): the annual
deliveries (`write_facilities`, `write_population`, `write_personnel`,
`write_dispatch_ledgers`, `write_chronic_roster`, `write_deaths`, `write_qualitative`), the
year's admissions and remote diagnoses, and quarter by quarter each county's outpatient part
(`write_outpatient_part`, `route_outpatient_settlements`), then `write_discharges`,
`write_settlements` and `write_remote`; last `write_ground_truth`. Every step draws from the
random stream of its year (`ry`) or quarter (`rq`) in a fixed order: reordering the steps
changes the files.

Where the ground truth lives
----------------------------
The ground truth is the oracle the end-to-end tests and the benchmark check the warehouse
against, so no production code may compute an indicator with it. It stays in this package
(`truth.py`) rather than under tests/ because `ygt generate` writes `ground_truth/` for its
users and for bench/run_bench.py, from the records as generated (before defects) that only the
generator has. The warehouse side (landing, dbt, orchestration) never imports
`orchestration.generate.truth`; tests/python/test_generate.py checks that. `compare.py` reads
the written indicators.csv, not truth.py.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from orchestration import contract
from orchestration.generate import activity, truth, world
from orchestration.generate.layouts import Layouts
from orchestration.generate.world import County, rng_for
from orchestration.generate.writer import (
    DATE_FORMATS,
    ENCODINGS,
    DeliveryWriter,
    FileParts,
    FileSpec,
    Ledger,
    write_delivery,
)
from orchestration.progress import relayed

LOG = logging.getLogger("ygt.generate")

__all__ = ["generate"]

PARQUET_ROWS = 200_000
TCM_DEPTS = ("50", "51", "52")
DISCHARGE_TRUTH_COLUMNS = [
    "org_code",
    "admission_id",
    "id_no",
    "discharge_time",
    "main_dx_code",
    "discharge_way",
    "total_cost",
    "_county",
]
SETTLEMENT_TRUTH_COLUMNS = [
    "setl_id",
    "certno",
    "insu_admdvs",
    "fixmedins_code",
    "fixmedins_type",
    "med_type",
    "setl_time",
    "dise_codg",
    "refd_setl_flag",
    "init_setl_id",
]


class Records:
    """The generated records the ground truth is computed from (before defects are applied)."""

    def __init__(self):
        self.registers: dict[int, pd.DataFrame] = {}
        self.population = None
        self.visits_agg: list[pd.DataFrame] = []
        self.discharges: list[pd.DataFrame] = []
        self.setl_agg: list[pd.DataFrame] = []
        self.setl_inpatient: list[pd.DataFrame] = []
        self.roster: list[pd.DataFrame] = []
        self.deaths: list[pd.DataFrame] = []
        self.dispatches: dict[int, pd.DataFrame] = {}
        self.personnel: list[pd.DataFrame] = []
        self.remote: list[pd.DataFrame] = []
        self.qualitative: list[pd.DataFrame] = []

    def frames(self) -> dict:
        """The frames for `truth.compute`; the pieces are let go as they are joined (holding
        both would double the records' memory at the end of a large run)."""

        def cat(pieces: list) -> pd.DataFrame:
            out = pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame()
            pieces.clear()
            return out

        return dict(
            registers=self.registers,
            population=self.population,
            visits_agg=cat(self.visits_agg),
            discharges=cat(self.discharges),
            setl_agg=cat(self.setl_agg),
            setl_inpatient=cat(self.setl_inpatient),
            roster=cat(self.roster),
            deaths=cat(self.deaths),
            dispatches=self.dispatches,
            personnel=cat(self.personnel),
            remote=cat(self.remote),
            qualitative=cat(self.qualitative),
        )


@dataclass
class Province:
    """The synthetic world every year's files are drawn from (made once, before any file)."""

    counties: list[County]
    master: pd.DataFrame  # facilities of every year
    population: pd.DataFrame
    universe: pd.DataFrame  # persons who use care: every county's pool, then the visitors
    pools: dict[str, np.ndarray]  # county -> its pool's rows of `universe`
    visitors: np.ndarray  # rows of `universe`: persons from the neighbouring province
    staff: dict[str, pd.DataFrame]
    dispatches: dict[str, pd.DataFrame]

    @property
    def codes(self) -> list[str]:
        return [c.code for c in self.counties]

    def date_style(self, c: County) -> tuple[str, str]:
        """(date format, date-time separator) of the county's HIS exports."""
        return DATE_FORMATS[c.idx % 3], "T" if c.idx % 6 == 3 else " "

    def other_pools(self, c: County) -> np.ndarray:
        others = [self.pools[o.code] for o in self.counties if o.code != c.code]
        return np.concatenate(others or [np.array([], int)])


@dataclass
class Run:
    """Where the files go and what is kept of them: the options, the ledger, the records."""

    out: Path
    seed: int
    scale: float
    years: tuple[int, ...]
    parquet_large: bool
    plan: Layouts
    setl_files: FileParts  # a quarter's settlement pieces, per county file
    ledger: Ledger = field(default_factory=Ledger)
    recs: Records = field(default_factory=Records)

    def write(self, source: str, period: str, specs: list[FileSpec], rng, **kw) -> None:
        write_delivery(self.out, source, period, specs, self.ledger, rng, plan=self.plan, **kw)

    def count_reversals(self, stats: dict) -> None:
        setl = self.ledger.sources["insurance_settlements"]
        setl["reversals_same_quarter"] += stats["same_quarter"]
        setl["reversals_earlier_quarter"] += stats["earlier_quarter"]


def _prepare(path: Path) -> None:
    """Empty a folder we own (a previous landing / ground truth), refuse anything else."""
    if path.exists():
        known = {s.name for s in contract.SOURCES} | {
            "indicators.csv",
            "defects.json",
            "summary.json",
            "files.csv",
        }
        strangers = [p.name for p in path.iterdir() if p.name not in known]
        if strangers:
            raise FileExistsError(
                f"{path} exists and holds files the generator did not write: {strangers[:5]}"
            )
        shutil.rmtree(path)
    path.mkdir(parents=True)


def _enc(rng) -> str:
    return str(rng.choice(ENCODINGS, p=[0.5, 0.25, 0.25]))


def _defects(rng, first: bool) -> dict:
    """Quarantine rows of every reason for one file: one each in the first period, else 0–1."""
    return {
        r: (1 if first else int(rng.integers(0, 2)))
        for r in ("bad_date", "bad_amount", "unknown_code")
    }


def _setl_agg(s: pd.DataFrame) -> pd.DataFrame:
    t = s["setl_time"]
    g = (
        s.assign(year=t.dt.year, quarter=t.dt.quarter, n=1)
        .groupby(
            [
                "insu_admdvs",
                "fixmedins_code",
                "fixmedins_type",
                "med_type",
                "refd_setl_flag",
                "year",
                "quarter",
            ],
            as_index=False,
        )[["n", "medfee_sumamt", "hifp_pay"]]
        .sum()
    )
    return g


def _route_settlements(
    part: pd.DataFrame, codes: list[str], files: FileParts, recs: Records
) -> None:
    """Keep the truth of a part of the quarter's settlements and send its rows to the files
    they belong in: the insured county's file (the treating county's when the insured is from
    outside the generated counties), and a copy to the treating county's file when another
    generated county's insured was treated there. Rows keep the part's order in each file."""
    recs.setl_agg.append(_setl_agg(part))
    inpatient = part["med_type"].str.startswith("2") | (part["med_type"] == "52")
    recs.setl_inpatient.append(part[inpatient][SETTLEMENT_TRUTH_COLUMNS])
    insu, treated = part["insu_admdvs"].to_numpy(), part["mdtrtarea_admdvs"].to_numpy()
    insu_here = part["insu_admdvs"].isin(codes).to_numpy()
    copied = np.flatnonzero(insu_here & (insu != treated))
    rows = np.concatenate([np.arange(len(part)), copied])
    files_of = np.concatenate([np.where(insu_here, insu, treated), treated[copied]])
    wanted = set(codes)
    for county, at in pd.Series(rows).groupby(files_of, sort=False).indices.items():
        if county in wanted:
            files.add(county, part.iloc[np.sort(rows[at])])


# ── the province ────────────────────────────────────────────────────────────────────────────


def make_province(counties: int, years: tuple[int, ...], scale: float, seed: int) -> Province:
    cs = world.make_counties(counties, seed)
    master = world.make_facilities(cs, seed)
    population = world.make_population(cs, years, seed)
    pool_frames, pools, start = [], {}, 0
    for c in cs:
        p = world.make_pool(c, scale, years[0], seed)
        pools[c.code] = np.arange(start, start + len(p))
        start += len(p)
        pool_frames.append(p)
    vis = world.make_visitors(seed, max(60, start // 40), years[0])
    visitors = np.arange(start, start + len(vis))
    universe = pd.concat(pool_frames + [vis], ignore_index=True)
    del pool_frames, vis
    staff = {c.code: world.make_staff(c, master, scale, years[0], seed) for c in cs}
    city_phys = world.make_city_physicians(cs, years[0], seed)
    dispatches = {
        c.code: world.make_dispatches(c, master, staff[c.code], years, seed, city_phys) for c in cs
    }
    return Province(cs, master, population, universe, pools, visitors, staff, dispatches)


# ── the annual deliveries ───────────────────────────────────────────────────────────────────


def write_facilities(run: Run, prov: Province, y: int, reg: pd.DataFrame, ry) -> None:
    """One register file per county, one for the city hospitals."""
    specs = []
    for c in prov.counties:
        specs.append(
            FileSpec(
                f"机构名录_{c.code}.csv",
                reg[reg["county_code"] == c.code][world.FAC_COLS],
                encoding="gb18030" if c.idx == 0 else _enc(ry),
                date_fmt="iso",
                quarantine={"unknown_code": 1} if c.idx == 0 else {},
                extra_columns={"备注": ""} if c.idx == 1 else {},
            )
        )
    specs.append(
        FileSpec(
            "机构名录_市属医院.csv", reg[reg["_cls"] == "CITY"][world.FAC_COLS], encoding=_enc(ry)
        )
    )
    run.write("facilities", str(y), specs, ry)


def write_population(run: Run, prov: Province, y: int, ry) -> None:
    pop = prov.population
    spec = FileSpec(f"常住人口_{y}.csv", pop[pop["year"] == y], encoding="utf-8-sig")
    run.write("population", str(y), [spec], ry)


def write_personnel(run: Run, prov: Province, y: int, yi: int, ry) -> None:
    """One .xlsx per county."""
    specs = []
    for c in prov.counties:
        pers = world.personnel_for_year(prov.staff[c.code], yi, run.seed, c.code)
        run.recs.personnel.append(pers.assign(year=y, county_code=c.code))
        specs.append(
            FileSpec(
                f"卫生人力_{c.code}_{y}.xlsx",
                pers,
                fmt="xlsx",
                date_fmt=DATE_FORMATS[(c.idx + yi) % 3],
                quarantine={"bad_date": 1} if c.idx == 0 else {},
            )
        )
    run.write("personnel", str(y), specs, ry)


def write_dispatch_ledgers(run: Run, prov: Province, y: int, ry) -> None:
    specs, ledgers = [], []
    for c in prov.counties:
        dl = world.dispatch_ledger(prov.dispatches[c.code], y)
        ledgers.append(dl)
        specs.append(
            FileSpec(
                f"派驻登记_{c.code}.csv",
                dl,
                encoding=_enc(ry),
                date_fmt=DATE_FORMATS[(c.idx + 1) % 3],
                quarantine={"unknown_code": 1} if c.idx == 0 else {},
            )
        )
    run.recs.dispatches[y] = pd.concat(ledgers, ignore_index=True)
    run.write("dispatches", str(y), specs, ry)


def write_chronic_roster(run: Run, prov: Province, y: int, reg: pd.DataFrame, ry) -> None:
    specs = []
    for c in prov.counties:
        r = activity.roster_year(c, prov.universe, prov.pools[c.code], reg, y, run.seed)
        run.recs.roster.append(r)
        specs.append(
            FileSpec(
                f"慢病管理_{c.code}.csv",
                r,
                encoding=_enc(ry),
                dup_within=1,
                quarantine={"unknown_code": 1} if c.idx % 2 == 0 else {},
            )
        )
    run.write("chronic_disease_roster", str(y), specs, ry)


def write_deaths(run: Run, prov: Province, y: int, yi: int, ry) -> None:
    specs = []
    for c in prov.counties:
        d = activity.deaths_year(c, prov.population, y, run.seed)
        run.recs.deaths.append(d)
        specs.append(
            FileSpec(
                f"死因监测_{c.code}.csv",
                d,
                encoding=_enc(ry),
                date_fmt=DATE_FORMATS[(c.idx + yi + 2) % 3],
                dup_within=1,
                quarantine={"bad_date": 1},
                extra_columns={"report_org": "示例县疾控"} if c.idx % 2 else {},
            )
        )
    run.write("deaths", str(y), specs, ry)


def write_qualitative(run: Run, prov: Province, y: int, yi: int, ry) -> None:
    """County self-assessments, city reviews, the province's assessment."""
    last = len(run.years) - 1
    cs = prov.counties
    qual = pd.concat(
        [activity.qualitative_year(c, y, yi, last, run.seed) for c in cs], ignore_index=True
    )
    run.recs.qualitative.append(qual)
    specs = []
    for c in cs:
        specs.append(
            FileSpec(
                f"县自评_{c.code}.csv",
                qual[(qual.county_code == c.code) & (qual.assessor_level == "county")],
                encoding=_enc(ry),
                date_fmt=DATE_FORMATS[c.idx % 3],
            )
        )
    for city in sorted({c.city_code for c in cs}):
        q = qual[(qual.county_code.str[:4] == city[:4]) & (qual.assessor_level == "city")]
        if len(q):
            specs.append(FileSpec(f"市复评_{city}.csv", q, encoding=_enc(ry), date_fmt="slash"))
    q = qual[qual.assessor_level == "province"]
    if len(q):
        specs.append(FileSpec("省考评.csv", q, encoding=_enc(ry), date_fmt="compact"))
    run.write("qualitative_assessments", str(y), specs, ry)


def admissions_of_year(
    run: Run, prov: Province, y: int, reg: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(HIS discharges at the generated counties' facilities, inpatient settlements) of the year."""
    adm = activity.admissions_year(
        prov.counties, reg, prov.universe, prov.pools, prov.visitors, y, run.scale, run.seed
    )
    his = adm[~adm["_cls"].isin(["CITY", "OUTPROV"])].copy()
    his["_county"] = his["org_code"].map(dict(zip(reg["org_code"], reg["county_code"])))
    run.recs.discharges.append(his[DISCHARGE_TRUTH_COLUMNS])
    inp, st = activity.inpatient_settlements(adm, reg, prov.universe, y, run.seed)
    run.count_reversals(st)
    return his, inp


def remote_of_year(run: Run, prov: Province, y: int, reg: pd.DataFrame) -> pd.DataFrame:
    """Every county's remote-diagnosis log of the year (column `_county`)."""
    cs = prov.counties
    town_orgs = {
        c.code: reg[(reg["county_code"] == c.code) & (reg["_cls"] == "TOWN")]["org_code"].to_numpy()
        for c in cs
    }
    remote = pd.concat(
        [
            activity.remote_year(
                c,
                reg,
                y,
                run.years[-1],
                run.scale,
                run.seed,
                np.concatenate(
                    [town_orgs[o.code] for o in cs if o.code != c.code]
                    or [np.array([], dtype=object)]
                ),
            ).assign(_county=c.code)
            for c in cs
        ],
        ignore_index=True,
    )
    run.recs.remote.append(remote)
    return remote


# ── the quarterly deliveries ────────────────────────────────────────────────────────────────


def _visits_truth(v: pd.DataFrame, y: int, q: int) -> pd.DataFrame:
    """Visit counts per facility, quarter, TCM department and cancel flag."""
    return (
        v.assign(year=y, quarter=q, tcm_dept=v["dept_code"].isin(TCM_DEPTS))
        .groupby(["org_code", "year", "quarter", "tcm_dept", "cancel_flag"], as_index=False)
        .size()
        .rename(columns={"size": "n"})
    )


def write_outpatient_part(
    run: Run, prov: Province, c: County, y: int, yi: int, q: int, reg: pd.DataFrame, rq
) -> pd.DataFrame:
    """The county's part of the quarter's outpatient delivery: one file per HIS facility, one
    for the primary-care platform (village and private clinics), with planted defects.
    Returns the visits."""
    pq = f"{y}Q{q}"
    fmt, sep = prov.date_style(c)
    v = activity.visits_quarter(
        c,
        reg,
        prov.universe,
        prov.pools[c.code],
        prov.other_pools(c),
        prov.visitors,
        y,
        q,
        run.scale,
        run.seed,
    )
    run.recs.visits_agg.append(_visits_truth(v, y, q))
    cls = v["org_code"].map(dict(zip(reg["org_code"], reg["_cls"])))
    platform = cls.isin(["VILLAGE", "PRIVATE"])
    specs = []
    first_part = yi == 0 and q == 1 and c.idx == 0
    for org, g in v[~platform].groupby("org_code", sort=True):
        big = len(g) > PARQUET_ROWS and run.parquet_large
        is_pq = big or (c.idx == 0 and cls[g.index[0]] == "LEAD")
        specs.append(
            FileSpec(
                f"his_mz_{org}.{'parquet' if is_pq else 'csv'}",
                g,
                fmt="parquet" if is_pq else "csv",
                encoding=_enc(rq),
                date_fmt=fmt,
                sep=sep,
            )
        )
    specs.append(
        FileSpec(
            f"phc_platform_mz_{c.code}.csv",
            v[platform],
            encoding=_enc(rq),
            date_fmt=fmt,
            sep=sep,
        )
    )
    # planted: quarantine rows and duplicates in a few files of the part
    csv_specs = [s for s in specs if s.fmt == "csv"]
    tgt = csv_specs[int(rq.integers(0, len(csv_specs)))]
    tgt.quarantine = _defects(rq, first_part)
    csv_specs[int(rq.integers(0, len(csv_specs)))].dup_within += (
        1 if first_part else int(rq.integers(0, 3))
    )
    if yi == 0 and q == 2 and c.idx == 0:  # one file missing a required column: rejected whole
        town = v[cls == "TOWN"].head(20).copy()
        town["visit_id"] = town["visit_id"].str.replace("MZ", "BC", regex=False)
        specs.append(
            FileSpec(
                f"his_mz_{town['org_code'].iloc[0]}_补传.csv",
                town,
                encoding="utf-8",
                date_fmt=fmt,
                sep=sep,
                drop_column="visit_type",
            )
        )
    run.write(
        "outpatient_visits",
        pq,
        specs,
        rq,
        cross_dups=1 if first_part else int(rq.integers(0, 2)),
    )
    return v


def route_outpatient_settlements(
    run: Run,
    prov: Province,
    c: County,
    v: pd.DataFrame,
    y: int,
    q: int,
    reg: pd.DataFrame,
    city_orgs: list[tuple[str, str]],
) -> None:
    """Settlements of the county's visits, city-hospital care and pharmacy purchases, sent to
    the settlement files they belong in."""
    os_, st = activity.outpatient_settlements(
        v,
        reg,
        prov.universe,
        c,
        y,
        q,
        city_orgs,
        reg[reg["category_code"] == "P1"],
        prov.pools[c.code],
        run.scale,
        run.seed,
    )
    run.count_reversals(st)
    _route_settlements(os_, prov.codes, run.setl_files, run.recs)


def write_discharges(run: Run, prov: Province, his: pd.DataFrame, y: int, yi: int, q: int, rq):
    """HIS discharges of the quarter, one file per facility."""
    dq = his[his["discharge_time"].dt.quarter == q]
    idx = {c.code: c.idx for c in prov.counties}
    specs = []
    for org, g in dq.groupby("org_code", sort=True):
        county = g["_county"].iloc[0]
        fmt, sep = prov.date_style(prov.counties[idx[county]])
        specs.append(
            FileSpec(
                f"his_zy_{org}.csv",
                g,
                encoding=_enc(rq),
                date_fmt=fmt,
                sep=sep,
                extra_columns={"export_batch": f"B{q:02d}"} if idx[county] % 2 else {},
            )
        )
    if not specs:
        return
    first = yi == 0 and q == 1
    specs[0].quarantine = _defects(rq, first)
    specs[int(rq.integers(0, len(specs)))].dup_within = 1 if first else int(rq.integers(0, 3))
    run.write("inpatient_discharges", f"{y}Q{q}", specs, rq)


def write_settlements(
    run: Run, prov: Province, empty: pd.DataFrame, y: int, yi: int, q: int, rq
) -> None:
    """One file per insured county (+ copies of the rows of other generated counties' insured
    treated in the county's facilities), each assembled from the pieces routed to it."""
    pq = f"{y}Q{q}"
    sfmt = DATE_FORMATS[(yi * 4 + q) % 3]
    ssep = "T" if (yi + q) % 2 and sfmt == "iso" else " "
    specs = [
        FileSpec(f"setl_{c.code}_{pq}.csv", None, encoding=_enc(rq), date_fmt=sfmt, sep=ssep)
        for c in prov.counties
    ]
    first = yi == 0 and q == 1
    specs[0].quarantine = _defects(rq, first)
    specs[int(rq.integers(0, len(specs)))].dup_within = 2 if first else int(rq.integers(0, 3))
    writer = DeliveryWriter(run.out, "insurance_settlements", pq, run.ledger, rq, plan=run.plan)
    for c, spec in zip(prov.counties, specs):
        pieces = run.setl_files.take(c.code) or [empty]
        spec.frame = pd.concat(pieces, ignore_index=True).sort_values(
            ["setl_time", "setl_id"], kind="stable"
        )
        writer.add(spec)
    writer.close()


def write_remote(run: Run, prov: Province, remote: pd.DataFrame, y: int, q: int, rq) -> None:
    """Remote diagnoses by the quarter of the request (files cut one at a time as written)."""
    pq = f"{y}Q{q}"
    rem = remote[remote["requested_at"].dt.quarter == q]
    specs = []
    for c in prov.counties:
        rfmt = prov.date_style(c)[0]
        specs.append(
            FileSpec(
                f"remote_{c.code}.csv",
                None,
                encoding=_enc(rq),
                date_fmt=rfmt,
                sep="T" if rfmt == "iso" else " ",
                extra_columns={"platform": "远程诊断平台"} if c.idx % 3 == 1 else {},
                dup_within=1 if (q == 1 and c.idx == 0) else 0,
                quarantine={"unknown_code": 1} if (q == 4 and c.idx == 0) else {},
            )
        )
    writer = DeliveryWriter(run.out, "remote_diagnoses", pq, run.ledger, rq, plan=run.plan)
    by_county = rem.groupby("_county", sort=False).indices
    for c, spec in zip(prov.counties, specs):
        spec.frame = rem.iloc[by_county.get(c.code, [])]
        writer.add(spec)
    writer.close()


def city_hospitals(prov: Province, reg: pd.DataFrame) -> dict[str, list[tuple[str, str]]]:
    """County -> (fixmedins_code, name) of its city's hospitals, where its insured go."""
    out = {}
    for c in prov.counties:
        d = world.city_district(c.city_code)
        out[c.code] = [
            (f"H{d}{90001 + j:05d}", n)
            for j, n in enumerate(reg[reg["county_code"] == d]["org_name"])
        ]
    return out


def write_year(run: Run, prov: Province, y: int, yi: int) -> None:
    """Every delivery of the year: the annual ones, then quarter by quarter."""
    ry = rng_for(run.seed, "files", y)
    reg = world.register_for_year(prov.master, yi, len(run.years) - 1)
    run.recs.registers[y] = reg
    run.plan.register(y, reg)
    write_facilities(run, prov, y, reg, ry)
    write_population(run, prov, y, ry)
    write_personnel(run, prov, y, yi, ry)
    write_dispatch_ledgers(run, prov, y, ry)
    write_chronic_roster(run, prov, y, reg, ry)
    write_deaths(run, prov, y, yi, ry)
    write_qualitative(run, prov, y, yi, ry)
    his, inp = admissions_of_year(run, prov, y, reg)
    remote = remote_of_year(run, prov, y, reg)
    city_orgs = city_hospitals(prov, reg)
    for q in range(1, 5):
        rq = rng_for(run.seed, "files", y, q)
        _route_settlements(
            inp[inp["setl_time"].dt.quarter == q], prov.codes, run.setl_files, run.recs
        )
        for c in prov.counties:
            v = write_outpatient_part(run, prov, c, y, yi, q, reg, rq)
            route_outpatient_settlements(run, prov, c, v, y, q, reg, city_orgs[c.code])
        LOG.debug(
            f"  outpatient_visits/{y}Q{q}: {len(prov.counties)} county deliveries",
            extra={"advance": 1, "where": f"outpatient_visits/{y}Q{q}"},
        )
        write_discharges(run, prov, his, y, yi, q, rq)
        write_settlements(run, prov, inp.iloc[:0], y, yi, q, rq)
        write_remote(run, prov, remote, y, q, rq)


# ── the ground truth ────────────────────────────────────────────────────────────────────────


def write_ground_truth(run: Run, prov: Province, truth_dir: Path) -> dict:
    """indicators.csv, defects.json, files.csv and summary.json; returns the defects."""
    LOG.debug("computing the ground truth", extra={"advance": 1})
    years = run.years
    table = truth.compute(run.recs.frames(), prov.counties, years)
    table.to_csv(truth_dir / "indicators.csv", index=False, lineterminator="\n")
    defects = run.ledger.as_json()
    (truth_dir / "defects.json").write_text(
        json.dumps(defects, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    pd.DataFrame(run.ledger.files).sort_values(["source", "period", "file"]).to_csv(
        truth_dir / "files.csv", index=False, lineterminator="\n"
    )
    pop_tot = prov.population.groupby(["county_code", "year"])["population"].sum()
    summary_json = {
        "seed": run.seed,
        "scale": run.scale,
        "years": list(years),
        "volume_factor": world.VOLUME_FACTOR,
        "province": {"code": world.PROVINCE_CODE, "name": world.PROVINCE_NAME},
        "counties": [
            {
                "code": c.code,
                "name": c.name,
                "city_code": c.city_code,
                "city_name": c.city_name,
                "population": {str(y): int(pop_tot[(c.code, y)]) for y in years},
                "pool_persons": int(len(prov.pools[c.code])),
                "facilities": int((prov.master["county_code"] == c.code).sum()),
            }
            for c in prov.counties
        ],
        "rows_written": {k: v["rows_written"] for k, v in defects.items()},
        "rows_loaded": {k: v["rows_loaded"] for k, v in defects.items()},
        "files": {k: v["files"] for k, v in defects.items()},
        "truth_rows": int(len(table)),
    }
    (truth_dir / "summary.json").write_text(
        json.dumps(summary_json, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return defects


def generate(
    out: Path,
    counties: int = 6,
    years=(2023, 2024),
    scale: float = 1.0,
    seed: int = 7,
    progress=print,
    parquet_large: bool = False,
    layouts: str = "contract",
) -> dict:
    """Write the landing folder `out` and its sibling `ground_truth/`; return a summary.
    `layouts`: contract, national or mixed (see layouts.py); the ground truth is the same."""
    with relayed(progress, LOG.name):  # the messages are logged; a caller's callback too
        t0 = time.perf_counter()
        out = Path(out)
        truth_dir = out.parent / "ground_truth"
        years = tuple(sorted({int(y) for y in years}))
        if counties < 1 or not years or scale <= 0:
            raise ValueError("need counties >= 1, at least one year and scale > 0")
        plan = Layouts(layouts)
        _prepare(out)
        _prepare(truth_dir)
        LOG.info(
            f"generating {counties} counties, years {', '.join(map(str, years))}, scale {scale}, seed {seed}",
            extra={"step": "generate"},
        )
        prov = make_province(counties, years, scale, seed)
        run = Run(
            out,
            seed,
            scale,
            years,
            parquet_large,
            plan,
            FileParts(out.parent / ".generate-parts"),
        )
        run.recs.population = prov.population
        for yi, y in enumerate(years):
            write_year(run, prov, y, yi)
        run.setl_files.close()
        defects = write_ground_truth(run, prov, truth_dir)
        seconds = time.perf_counter() - t0
        n_files = sum(v["files"] for v in defects.values())
        LOG.info(
            f"wrote {n_files} files, {sum(v['rows_written'] for v in defects.values())} rows in {seconds:.1f}s"
        )
        return {
            "files": n_files,
            "rows": {k: v["rows_written"] for k, v in defects.items()},
            "seconds": seconds,
            "out": str(out),
            "truth_dir": str(truth_dir),
        }
