"""Activity records in canonical form (datetimes as datetime64[s], money as int64 fen, codes as str).

Every function is vectorised over rows; loops are only over counties / years / quarters.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from orchestration import contract
from orchestration.generate import ids
from orchestration.generate.world import (
    AGE_LO,
    OUT_PROVINCE,
    VOLUME_FACTOR,
    County,
    city_district,
    qualitative_items,
    rng_for,
)

S = "datetime64[s]"

# ── outpatient visits ───────────────────────────────────────────────────────────────────────

VISITS_PER_RESIDENT = 5.0
ADMISSIONS_PER_RESIDENT = 0.18
PHARMACY_PER_RESIDENT = 0.6
REMOTE_PER_RESIDENT = 0.06  # remote diagnoses (all modalities) per resident and year

CLASS_SHARE = {
    "LEAD": 0.25,
    "TCMH": 0.11,
    "TOWN": 0.30,
    "VILLAGE": 0.19,
    "PRIVATE": 0.11,
    "B1": 0.03,
    "CDC": 0.006,
}
FEE_MEAN = {"LEAD": 260, "TCMH": 190, "TOWN": 85, "VILLAGE": 38, "PRIVATE": 65, "B1": 75, "CDC": 40}
DEPTS = {
    "LEAD": (
        {
            "03": 0.33,
            "04": 0.15,
            "05": 0.08,
            "07": 0.12,
            "10": 0.04,
            "12": 0.04,
            "50": 0.04,
            "20": 0.10,
            "01": 0.10,
        }
    ),
    "TCMH": ({"50": 0.70, "03": 0.15, "04": 0.08, "52": 0.07}),
    "TOWN": ({"03": 0.55, "02": 0.27, "50": 0.07, "07": 0.11}),
    "VILLAGE": ({"02": 1.0}),
    "PRIVATE": ({"02": 1.0}),
    "B1": ({"02": 0.85, "50": 0.15}),
    "CDC": ({"01": 1.0}),
}
VISIT_TYPES = {
    "hospital": {"outpatient": 0.86, "emergency": 0.08, "health_check": 0.06},
    "TOWN": {"outpatient": 0.88, "health_check": 0.08, "home_visit": 0.04},
    "VILLAGE": {"outpatient": 0.85, "home_visit": 0.10, "health_check": 0.05},
    "PRIVATE": {"outpatient": 1.0},
    "B1": {"outpatient": 0.85, "home_visit": 0.05, "health_check": 0.10},
    "CDC": {"health_check": 1.0},
}
OUT_DX = {
    "J06.900": 0.22,
    "J20.900": 0.10,
    "K29.700": 0.10,
    "M54.500": 0.09,
    "R50.900": 0.06,
    "I10.x00": 0.10,
    "E11.900": 0.05,
    "L30.900": 0.06,
    "N39.000": 0.05,
    "H10.900": 0.05,
    "K59.000": 0.06,
    "R51.x00": 0.06,
}
HTN_DX = ["I10.x00", "I11.900", "I25.103", "I50.900", "I63.900", "I61.900", "I20.000", "I15.000"]
DM_DX = ["E11.900", "E11.200", "E14.900", "E10.900"]
IN_DX = {
    "J18.900": 0.16,
    "K80.100": 0.08,
    "S72.000": 0.06,
    "O80.000": 0.07,
    "N20.000": 0.06,
    "C34.900": 0.05,
    "J44.100": 0.09,
    "K35.800": 0.06,
    "I26.900": 0.02,
    "E15.x00": 0.01,
    "A09.900": 0.08,
    "M51.202": 0.08,
    "I10.x00": 0.04,
    "I63.900": 0.04,
    "E11.900": 0.03,
    "R55.x00": 0.03,
    "K92.200": 0.04,
}


def _pick(rng, d: dict, n: int) -> np.ndarray:
    keys = np.array(list(d))
    p = np.array(list(d.values()), dtype=float)
    return keys[rng.choice(len(keys), size=n, p=p / p.sum())]


def _times(rng, start: np.datetime64, days: int, n: int, h0=7.5, h1=20.0) -> np.ndarray:
    day = rng.integers(0, days, n).astype("timedelta64[D]")
    secs = (rng.uniform(h0, h1, n) * 3600).astype(np.int64).astype("timedelta64[s]")
    return (start.astype("datetime64[D]") + day).astype(S) + secs


def quarter_bounds(year: int, q: int) -> tuple[np.datetime64, np.datetime64]:
    start = np.datetime64(f"{year}-{3 * q - 2:02d}-01")
    end = (
        np.datetime64(f"{year + 1}-01-01")
        if q == 4
        else np.datetime64(f"{year}-{3 * q + 1:02d}-01")
    )
    return start, end


def _take(universe: pd.DataFrame, rows: np.ndarray, *cols: str) -> dict:
    """Columns of the persons at positions `rows`: only the columns asked for, and text stays
    Arrow text (a round trip through Python objects costs more than the take)."""
    out = {}
    for c in cols:
        v = universe[c]
        out[c] = v.array.take(rows) if isinstance(v.dtype, pd.StringDtype) else v.to_numpy()[rows]
    return out


def _choose_people(
    rng,
    universe: pd.DataFrame,
    own: np.ndarray,
    others: np.ndarray,
    visitors: np.ndarray,
    n: int,
    weight_col: str,
    p_other=0.03,
    p_visitor=0.02,
) -> np.ndarray:
    u = rng.random(n)
    src_other = (u < p_other) & (len(others) > 0)
    src_vis = (u >= p_other) & (u < p_other + p_visitor)
    out = np.empty(n, dtype=np.int64)
    w = universe[weight_col].to_numpy()

    def draw(idx, k):
        p = w[idx] / w[idx].sum()
        return idx[rng.choice(len(idx), size=k, p=p)]

    m_own = ~(src_other | src_vis)
    out[m_own] = draw(own, int(m_own.sum()))
    if src_other.any():
        out[src_other] = draw(others, int(src_other.sum()))
    out[src_vis] = draw(visitors, int(src_vis.sum()))
    return out


def visits_quarter(
    c: County,
    reg: pd.DataFrame,
    universe: pd.DataFrame,
    own,
    others,
    visitors,
    year: int,
    q: int,
    scale: float,
    seed: int,
) -> pd.DataFrame:
    """HIS outpatient records of the county's facilities in one quarter."""
    rng = rng_for(seed, "visits", c.code, year, q)
    start, end = quarter_bounds(year, q)
    days = int((end - start).astype(int))
    days_year = 366 if year % 4 == 0 else 365
    fac = reg[
        (reg["county_code"] == c.code)
        & (reg["active"] == "1")
        & reg["_cls"].isin(list(CLASS_SHARE))
    ]
    mean = VISITS_PER_RESIDENT * c.population * scale * VOLUME_FACTOR * days / days_year
    n = int(rng.poisson(mean))
    cls_share = fac["_cls"].map(CLASS_SHARE)
    cls_size = fac.groupby("_cls")["_size"].transform("sum")
    p = (cls_share * fac["_size"] / cls_size).to_numpy()
    fi = rng.choice(len(fac), size=n, p=p / p.sum())
    f = _take(fac, fi, "org_code", "_cls", "is_tcm_class")
    cls = pd.Series(f["_cls"]).to_numpy()
    people = _choose_people(rng, universe, own, others, visitors, n, "w_visit")
    P = _take(universe, people, "id_no", "name", "sex", "birth_date", "htn", "dm", "insutype")
    df = pd.DataFrame({"org_code": f["org_code"]})
    dept = np.empty(n, dtype=object)
    vtype = np.empty(n, dtype=object)
    fee = np.empty(n)
    for k in np.unique(cls):
        m = cls == k
        dept[m] = _pick(rng, DEPTS[k], int(m.sum()))
        vt = VISIT_TYPES["hospital" if k in ("LEAD", "TCMH") else k]
        vtype[m] = _pick(rng, vt, int(m.sum()))
        fee[m] = rng.lognormal(np.log(FEE_MEAN[k]) - 0.245, 0.7, int(m.sum()))
    tcm_clinic = (pd.Series(f["is_tcm_class"]) == "1").to_numpy() & (cls == "PRIVATE")
    dept[tcm_clinic] = "50"
    df["dept_code"] = dept.astype(str)
    df["visit_time"] = _times(rng, start, days, n)
    df["visit_type"] = vtype.astype(str)
    df["cancel_flag"] = np.where((rng.random(n) < 0.02) & (vtype != "home_visit"), "1", "0")
    df["id_no"] = P["id_no"]
    df["patient_name"] = P["name"]
    df["sex"] = P["sex"]
    df["birth_date"] = P["birth_date"]
    dx = _pick(rng, OUT_DX, n)
    u = rng.random(n)
    dx = np.where(P["htn"] & (u < 0.35), "I10.x00", dx)
    dx = np.where(P["dm"] & (u >= 0.35) & (u < 0.6), "E11.900", dx)
    dx = np.where(vtype == "health_check", "Z00.000", dx)
    df["dx_code"] = dx.astype(str)
    df["total_fee"] = np.round(fee * 100).astype(np.int64)
    df["insutype"] = P["insutype"]
    df["_person"] = people
    df = df.sort_values(["org_code", "visit_time"], kind="stable").reset_index(drop=True)
    seq = df.groupby("org_code").cumcount().to_numpy() + 1
    df.insert(0, "visit_id", (f"MZ{year}{q}" + pd.Series(seq).astype(str).str.zfill(7)).to_numpy())
    return df


# ── settlements ─────────────────────────────────────────────────────────────────────────────

SETL_COLS = [c.name for c in contract.SOURCE_BY_NAME["insurance_settlements"].columns]
HIFP_RATIO = {
    ("in", "TOWN"): 0.78,
    ("in", "B1"): 0.75,
    ("in", "LEAD"): 0.68,
    ("in", "TCMH"): 0.70,
    ("in", "CITY"): 0.56,
    ("in", "OUTPROV"): 0.45,
    ("out", "primary"): 0.55,
    ("out", "hospital"): 0.40,
    ("out", "CITY"): 0.35,
}


def make_settlements(rng, rows: pd.DataFrame, universe: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """Settlement rows from care events.

    `rows` columns: _person (universe index), fixmedins_code, fixmedins_name, fixmedins_type,
    mdtrtarea_admdvs, med_type, begndate, enddate, setl_time, dise_codg, medfee (fen),
    ratio (pooled-fund share), mdtrt_id (optional).
    """
    n = len(rows)
    P = _take(
        universe,
        rows["_person"].to_numpy(),
        "psn_no",
        "id_no",
        "sex",
        "birth_date",
        "insutype",
        "county_code",
    )
    out = pd.DataFrame(
        {
            "setl_id": (
                prefix + pd.Series(np.arange(1, n + 1)).astype(str).str.zfill(8)
            ).to_numpy(),
        }
    )
    out["mdtrt_id"] = (
        rows["mdtrt_id"].to_numpy()
        if "mdtrt_id" in rows
        else ("M" + out["setl_id"].str[1:]).to_numpy()
    )
    out["psn_no"] = P["psn_no"]
    out["certno"] = P["id_no"]
    out["gend"] = P["sex"]
    out["brdy"] = P["birth_date"]
    out["insutype"] = P["insutype"]
    out["med_type"] = rows["med_type"].to_numpy()
    out["insu_admdvs"] = P["county_code"]
    for col in (
        "mdtrtarea_admdvs",
        "fixmedins_code",
        "fixmedins_name",
        "fixmedins_type",
        "begndate",
        "enddate",
        "setl_time",
        "dise_codg",
    ):
        out[col] = rows[col].to_numpy()
    medfee = rows["medfee"].to_numpy().astype(np.int64)
    ratio = rows["ratio"].to_numpy() * rng.uniform(0.92, 1.05, n)
    hifp = np.minimum(np.round(medfee * ratio).astype(np.int64), medfee)
    inpatient = (
        out["med_type"].str.startswith("2").to_numpy() | (out["med_type"] == "52").to_numpy()
    )
    other = np.where(inpatient & (rng.random(n) < 0.3), np.round(medfee * 0.04).astype(np.int64), 0)
    other = np.minimum(other, medfee - hifp)
    fund = hifp + other
    employee = (out["insutype"] == "310").to_numpy()
    acct = np.where(
        employee & ~inpatient,
        np.round((medfee - fund) * rng.uniform(0.2, 1.0, n)).astype(np.int64),
        0,
    )
    out["medfee_sumamt"] = medfee
    out["hifp_pay"] = hifp
    out["fund_pay_sumamt"] = fund
    out["acct_pay"] = acct
    out["psn_cash_pay"] = medfee - fund - acct
    out["refd_setl_flag"] = "0"
    out["init_setl_id"] = ""
    return out


def add_reversals(
    rng,
    setl: pd.DataFrame,
    rate: float,
    year: int,
    prefix: str,
    later_ok: bool,
    minimum: int = 0,
    resettle: float = 0.5,
) -> tuple[pd.DataFrame, dict]:
    """Reverse some originals (signed rows); re-settle half of them. Returns rows + counts.

    Reversals stay inside the year; 'earlier quarter' ones cancel a settlement of an earlier
    quarter of the same year.
    """
    n = len(setl)
    stats = {"same_quarter": 0, "earlier_quarter": 0}
    if n == 0:
        return setl, stats
    k = min(n, max(minimum, int(rng.binomial(n, rate))))
    if k == 0:
        return setl, stats
    pick = np.sort(rng.choice(n, size=k, replace=False))
    orig = setl.iloc[pick].reset_index(drop=True)
    t = orig["setl_time"].to_numpy().astype(S)
    month = orig["setl_time"].dt.month.to_numpy()
    q = (month - 1) // 3 + 1
    q_end = np.array([quarter_bounds(year, int(x))[1] for x in q]).astype(S)
    year_end = np.datetime64(f"{year}-12-31T23:30:00").astype(S)
    later = later_ok & (q < 4) & (rng.random(k) < 0.4)
    if later_ok and k >= 2 and (q < 4).any() and not later.any():
        later[np.argmax(q < 4)] = True
    if k >= 2 and later.all():
        later[-1] = False
    to_qend = (q_end - t).astype(np.int64)
    same_delay = np.minimum(rng.integers(600, 20 * 86400, k), np.maximum(to_qend - 7200, 300))
    later_delay = to_qend + rng.integers(86400, 60 * 86400, k)
    delay = np.where(later, later_delay, same_delay).astype("timedelta64[s]")
    rt = np.minimum(t + delay, year_end)
    rev = orig.copy()
    rev["setl_id"] = (
        prefix + "R" + pd.Series(np.arange(1, k + 1)).astype(str).str.zfill(7)
    ).to_numpy()
    rev["setl_time"] = rt
    for col in ("medfee_sumamt", "hifp_pay", "fund_pay_sumamt", "acct_pay", "psn_cash_pay"):
        rev[col] = -orig[col].to_numpy()
    rev["refd_setl_flag"] = "1"
    rev["init_setl_id"] = orig["setl_id"].to_numpy()
    rq = (pd.Series(rt).dt.month.to_numpy() - 1) // 3 + 1
    stats["same_quarter"] = int((rq == q).sum())
    stats["earlier_quarter"] = int((rq != q).sum())
    # re-settlements: a new original for the same treatment, slightly different amount
    again = rng.random(k) < resettle
    re = orig[again].copy()
    if len(re):
        f = rng.uniform(0.85, 1.0, len(re))
        med = np.round(re["medfee_sumamt"].to_numpy() * f).astype(np.int64)
        hifp = np.minimum(np.round(re["hifp_pay"].to_numpy() * f).astype(np.int64), med)
        other = np.minimum(re["fund_pay_sumamt"].to_numpy() - re["hifp_pay"].to_numpy(), med - hifp)
        acct = np.minimum(re["acct_pay"].to_numpy(), med - hifp - other)
        re["setl_id"] = (
            prefix + "A" + pd.Series(np.arange(1, len(re) + 1)).astype(str).str.zfill(7)
        ).to_numpy()
        re["setl_time"] = np.minimum(
            rt[again] + np.timedelta64(300, "s"), year_end + np.timedelta64(600, "s")
        )
        re["medfee_sumamt"], re["hifp_pay"] = med, hifp
        re["fund_pay_sumamt"] = hifp + other
        re["acct_pay"] = acct
        re["psn_cash_pay"] = med - hifp - other - acct
    out = pd.concat([setl, rev, re], ignore_index=True)
    return out, stats


# ── inpatient ───────────────────────────────────────────────────────────────────────────────

IN_CLASS_SHARE = {"LEAD": 0.52, "TCMH": 0.16, "TOWN": 0.30, "B1": 0.02}
IN_COST = {"LEAD": 7200, "TCMH": 6300, "TOWN": 3100, "B1": 2800, "CITY": 14500, "OUTPROV": 21000}
DISCHARGE_WAY = {
    "hospital": {"1": 0.84, "2": 0.03, "3": 0.06, "4": 0.03, "5": 0.01, "9": 0.03},
    "primary": {"1": 0.90, "2": 0.06, "4": 0.02, "5": 0.005, "9": 0.015},
}
ADMIT_DEPT = {
    "LEAD": {"03": 0.4, "04": 0.3, "05": 0.15, "07": 0.15},
    "TCMH": {"50": 0.8, "03": 0.2},
    "TOWN": {"03": 0.7, "02": 0.3},
    "B1": {"02": 1.0},
}
OUTPROV_HOSPITAL = ("H98010290001", "邻省(合成)省立医院")


def admissions_year(
    counties: list[County],
    reg: pd.DataFrame,
    universe: pd.DataFrame,
    pools: dict[str, np.ndarray],
    visitors: np.ndarray,
    year: int,
    scale: float,
    seed: int,
) -> pd.DataFrame:
    """All admissions of the year: patient, destination facility, times, diagnosis, cost."""
    rng = rng_for(seed, "admissions", year)
    active = reg[reg["active"] == "1"]
    inpatient_fac = active[active["_cls"].isin(list(IN_CLASS_SHARE))]
    days_year = 366 if year % 4 == 0 else 365
    frames = []
    for c in counties:
        own = pools[c.code]
        n = int(rng.poisson(ADMISSIONS_PER_RESIDENT * c.population * scale * VOLUME_FACTOR))
        w = universe["w_admit"].to_numpy()[own]
        people = own[rng.choice(len(own), size=n, p=w / w.sum())]
        u = rng.random(n)
        multi = len(counties) > 1
        dest = np.select(
            [u < (0.88 if multi else 0.90), u < 0.90, u < 0.99], ["own", "other", "city"], "outprov"
        )
        # visitors from the neighbouring province treated here
        nv = int(rng.poisson(0.012 * n)) + 1
        people = np.r_[people, rng.choice(visitors, size=nv)]
        dest = np.r_[dest, np.full(nv, "own")]
        host_county = np.full(len(people), c.code, dtype=object)
        if multi:
            others = [o.code for o in counties if o.code != c.code]
            m = dest == "other"
            host_county[m] = np.array(others)[rng.integers(0, len(others), int(m.sum()))]
        frames.append(
            pd.DataFrame(
                {
                    "_person": people,
                    "_dest": dest,
                    "_host_county": host_county,
                    "_insured_county": c.code,
                }
            )
        )
    a = pd.concat(frames, ignore_index=True)
    n = len(a)
    org = np.empty(n, dtype=object)
    cls = np.empty(n, dtype=object)
    for code, g in a.groupby("_host_county").groups.items():
        g = np.asarray(g)
        fac = inpatient_fac[inpatient_fac["county_code"] == code]
        own_m = a.loc[g, "_dest"].to_numpy() == "own"
        # patients from other counties go to that county's lead hospital
        p = (
            fac["_cls"].map(IN_CLASS_SHARE)
            * fac["_size"]
            / fac.groupby("_cls")["_size"].transform("sum")
        ).to_numpy()
        pick = rng.choice(len(fac), size=len(g), p=p / p.sum())
        lead = np.flatnonzero((fac["_cls"] == "LEAD").to_numpy())[0]
        pick = np.where(own_m, pick, lead)
        org[g] = fac["org_code"].to_numpy()[pick]
        cls[g] = fac["_cls"].to_numpy()[pick]
    city = a["_dest"].to_numpy() == "city"
    outp = a["_dest"].to_numpy() == "outprov"
    if city.any():
        ccode = np.array(
            [
                city_district(next(c.city_code for c in counties if c.code == x))
                for x in a.loc[city, "_insured_county"]
            ]
        )
        which = rng.integers(0, 2, int(city.sum()))
        org[city] = np.char.add(ccode.astype(str), np.where(which == 0, "90001", "90002"))
        cls[city] = "CITY"
    org[outp] = "OUTPROV"
    cls[outp] = "OUTPROV"
    a["org_code"] = org.astype(str)
    a["_cls"] = cls.astype(str)
    hospital = np.isin(cls, ["LEAD", "TCMH", "CITY", "OUTPROV"])
    los = np.where(hospital, rng.gamma(3.0, 2.6, n) + 2, rng.gamma(3.0, 1.6, n) + 2).astype(int)
    disc = _times(rng, np.datetime64(f"{year}-01-01"), days_year, n, 8.0, 17.5)
    a["discharge_time"] = disc
    a["admit_time"] = disc - (los * 86400 + rng.integers(-5 * 3600, 5 * 3600, n)).astype(
        "timedelta64[s]"
    )
    mean_cost = pd.Series(cls).map(IN_COST).to_numpy().astype(float)
    a["total_cost"] = np.round(rng.lognormal(np.log(mean_cost) - 0.101, 0.45) * 100).astype(
        np.int64
    )
    P = _take(universe, a["_person"].to_numpy(), "htn", "dm", "insutype")
    dx = _pick(rng, IN_DX, n)
    u = rng.random(n)
    htn, dm = P["htn"], P["dm"]
    dx = np.where(htn & (u < 0.42), np.array(HTN_DX)[rng.integers(0, len(HTN_DX), n)], dx)
    dx = np.where(
        dm & (u >= 0.42) & (u < 0.70), np.array(DM_DX)[rng.integers(0, len(DM_DX), n)], dx
    )
    a["main_dx_code"] = dx.astype(str)
    way = np.empty(n, dtype=object)
    way[hospital] = _pick(rng, DISCHARGE_WAY["hospital"], int(hospital.sum()))
    way[~hospital] = _pick(rng, DISCHARGE_WAY["primary"], int((~hospital).sum()))
    a["discharge_way"] = way.astype(str)
    dept = np.empty(n, dtype=object)
    for k, d in ADMIT_DEPT.items():
        m = cls == k
        dept[m] = _pick(rng, d, int(m.sum()))
    dept[cls == "CITY"] = "03"
    dept[cls == "OUTPROV"] = "03"
    a["admit_dept"] = dept.astype(str)
    ins = P["insutype"].to_numpy()
    a["pay_method"] = np.where(ins == "310", "1", np.where(ins == "390", "2", "7"))
    a = a.sort_values(["org_code", "discharge_time"], kind="stable").reset_index(drop=True)
    seq = a.groupby("org_code").cumcount().to_numpy() + 1
    a["admission_id"] = (f"ZY{year}" + pd.Series(seq).astype(str).str.zfill(6)).to_numpy()
    a["mr_no"] = pd.Series(a["_person"].to_numpy()).astype(str).str.zfill(10).to_numpy()
    P = _take(universe, a["_person"].to_numpy(), "id_no", "name", "sex", "birth_date", "insutype")
    a["id_no"] = P["id_no"]
    a["patient_name"] = P["name"]
    a["sex"] = P["sex"]
    a["birth_date"] = P["birth_date"]
    # births run up to the first year's 1 January and stays reach back into December: a newborn
    # is admitted at birth at the earliest (the loader quarantines a birth after admission)
    a["admit_time"] = a["admit_time"].where(a["admit_time"] >= a["birth_date"], a["birth_date"])
    a["_insutype"] = P["insutype"]
    return a


DISCHARGE_COLS = [c.name for c in contract.SOURCE_BY_NAME["inpatient_discharges"].columns]
VISIT_COLS = [c.name for c in contract.SOURCE_BY_NAME["outpatient_visits"].columns]


def inpatient_settlements(
    a: pd.DataFrame, reg: pd.DataFrame, universe: pd.DataFrame, year: int, seed: int
) -> tuple[pd.DataFrame, dict]:
    rng = rng_for(seed, "inpatient_settlements", year)
    a = a[a["_insutype"] != ""].reset_index(drop=True)
    fix = dict(zip(reg["org_code"], reg["fixmedins_code"]))
    names = dict(zip(reg["org_code"], reg["org_name"]))
    county = dict(zip(reg["org_code"], reg["county_code"]))
    outp = a["org_code"] == "OUTPROV"
    rows = pd.DataFrame(
        {
            "_person": a["_person"].to_numpy(),
            "fixmedins_code": np.where(
                outp, OUTPROV_HOSPITAL[0], a["org_code"].map(fix).fillna("")
            ),
            "fixmedins_name": np.where(
                outp, OUTPROV_HOSPITAL[1], a["org_code"].map(names).fillna("")
            ),
            "fixmedins_type": "1",
            "mdtrtarea_admdvs": np.where(outp, OUT_PROVINCE, a["org_code"].map(county).fillna("")),
            "med_type": np.where(a["main_dx_code"].str.startswith("O80"), "52", "21"),
            "begndate": a["admit_time"].dt.floor("D").to_numpy(),
            "enddate": a["discharge_time"].dt.floor("D").to_numpy(),
            "setl_time": (
                a["discharge_time"] + pd.to_timedelta(rng.integers(600, 7200, len(a)), unit="s")
            ).to_numpy(),
            "dise_codg": a["main_dx_code"].to_numpy(),
            "medfee": a["total_cost"].to_numpy(),
            "ratio": a["_cls"].map(lambda k: HIFP_RATIO[("in", k)]).to_numpy(),
            "mdtrt_id": ("M" + a["org_code"].str[-8:] + a["admission_id"]).to_numpy(),
        }
    )
    rows = rows[rows["fixmedins_code"] != ""]
    setl = make_settlements(rng, rows.reset_index(drop=True), universe, f"S{year}I")
    setl, stats = add_reversals(rng, setl, 0.03, year, f"S{year}I", later_ok=True, minimum=2)
    setl["_kind"] = "inpatient"
    return setl, stats


def outpatient_settlements(
    visits: pd.DataFrame,
    fac: pd.DataFrame,
    universe: pd.DataFrame,
    c: County,
    year: int,
    q: int,
    city_orgs: list[tuple[str, str]],
    pharmacies: pd.DataFrame,
    own: np.ndarray,
    scale: float,
    seed: int,
) -> tuple[pd.DataFrame, dict]:
    """Outpatient settlements from the quarter's visits, out-of-county outpatient care at city
    hospitals, and pharmacy purchases — for care given in or bought by county `c`."""
    rng = rng_for(seed, "outpatient_settlements", c.code, year, q)
    info = fac.set_index("org_code")
    v = visits[(visits["cancel_flag"] == "0") & (visits["insutype"] != "")]
    at = info.index.get_indexer(v["org_code"])  # every visit's facility is registered
    vcls = info["_cls"].to_numpy()[at]
    contracted = info["fixmedins_code"].fillna("").to_numpy()[at] != ""
    hosp = np.isin(vcls, ["LEAD", "TCMH"])
    p = np.where(hosp, 0.5, 0.35)
    keep = contracted & (rng.random(len(v)) < p)
    v, at = v[keep], at[keep]
    vcls = vcls[keep]
    chronic = v["dx_code"].str[:3].isin(["I10", "E11"]).to_numpy()
    parts = []
    if len(v):
        parts.append(
            pd.DataFrame(
                {
                    "_person": v["_person"].to_numpy(),
                    "fixmedins_code": info["fixmedins_code"].array.take(at),
                    "fixmedins_name": info["org_name"].array.take(at),
                    "fixmedins_type": "1",
                    "mdtrtarea_admdvs": c.code,
                    "med_type": np.where(chronic & (rng.random(len(v)) < 0.7), "14", "11"),
                    "begndate": v["visit_time"].dt.floor("D").to_numpy(),
                    "enddate": v["visit_time"].dt.floor("D").to_numpy(),
                    "setl_time": (
                        v["visit_time"] + pd.to_timedelta(rng.integers(120, 3600, len(v)), unit="s")
                    ).to_numpy(),
                    "dise_codg": v["dx_code"].to_numpy(),
                    "medfee": v["total_fee"].to_numpy(),
                    "ratio": np.where(
                        np.isin(vcls, ["LEAD", "TCMH"]),
                        HIFP_RATIO[("out", "hospital")],
                        HIFP_RATIO[("out", "primary")],
                    ),
                    "mdtrt_id": ("M" + v["org_code"].str[-8:] + v["visit_id"]).to_numpy(),
                }
            )
        )
    start, end = quarter_bounds(year, q)
    days = int((end - start).astype(int))
    days_year = 366 if year % 4 == 0 else 365
    base = VISITS_PER_RESIDENT * c.population * scale * VOLUME_FACTOR * days / days_year
    # outpatient care of the county's insured at the city hospitals (out of county)
    n_city = int(rng.poisson(base * 0.018))
    if n_city:
        w = universe["w_visit"].to_numpy()[own]
        people = own[rng.choice(len(own), size=n_city, p=w / w.sum())]
        people = people[universe["insured"].to_numpy()[people]]
        k = len(people)
        which = rng.integers(0, len(city_orgs), k)
        t = _times(rng, start, days, k, 8.0, 17.0)
        dx = _pick(rng, OUT_DX, k)
        parts.append(
            pd.DataFrame(
                {
                    "_person": people,
                    "fixmedins_code": np.array([x[0] for x in city_orgs])[which],
                    "fixmedins_name": np.array([x[1] for x in city_orgs])[which],
                    "fixmedins_type": "1",
                    "mdtrtarea_admdvs": city_district(c.city_code),
                    "med_type": np.where(np.isin(dx, ["I10.x00", "E11.900"]), "14", "11"),
                    "begndate": t.astype("datetime64[D]").astype(S),
                    "enddate": t.astype("datetime64[D]").astype(S),
                    "setl_time": t + np.timedelta64(900, "s"),
                    "dise_codg": dx,
                    "medfee": np.round(rng.lognormal(np.log(420) - 0.245, 0.7, k) * 100).astype(
                        np.int64
                    ),
                    "ratio": HIFP_RATIO[("out", "CITY")],
                }
            )
        )
    # pharmacy purchases (outside I08-I11): mostly personal account, some pooled
    n_ph = int(
        rng.poisson(PHARMACY_PER_RESIDENT * c.population * scale * VOLUME_FACTOR * days / days_year)
    )
    ph = pharmacies[pharmacies["county_code"] == c.code]
    if n_ph and len(ph):
        people = own[rng.integers(0, len(own), n_ph)]
        people = people[universe["insured"].to_numpy()[people]]
        k = len(people)
        which = rng.integers(0, len(ph), k)
        t = _times(rng, start, days, k, 8.0, 21.0)
        parts.append(
            pd.DataFrame(
                {
                    "_person": people,
                    "fixmedins_code": ph["fixmedins_code"].to_numpy()[which],
                    "fixmedins_name": ph["org_name"].to_numpy()[which],
                    "fixmedins_type": "2",
                    "mdtrtarea_admdvs": c.code,
                    "med_type": "41",
                    "begndate": t.astype("datetime64[D]").astype(S),
                    "enddate": t.astype("datetime64[D]").astype(S),
                    "setl_time": t,
                    "dise_codg": "",
                    "medfee": np.round(rng.lognormal(np.log(90) - 0.18, 0.6, k) * 100).astype(
                        np.int64
                    ),
                    "ratio": np.where(rng.random(k) < 0.3, 0.4, 0.0),
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=SETL_COLS + ["_kind"]), {
            "same_quarter": 0,
            "earlier_quarter": 0,
        }
    rows = pd.concat(parts, ignore_index=True)
    rows["mdtrt_id"] = rows["mdtrt_id"].fillna("") if "mdtrt_id" in rows else ""
    setl = make_settlements(rng, rows, universe, f"S{year}{q}{c.code}")
    setl["mdtrt_id"] = np.where(
        setl["mdtrt_id"] == "", "M" + setl["setl_id"].str[1:], setl["mdtrt_id"]
    )
    setl, stats = add_reversals(rng, setl, 0.004, year, f"S{year}{q}{c.code}", later_ok=False)
    setl["_kind"] = np.where(setl["fixmedins_type"] == "2", "pharmacy", "outpatient")
    return setl, stats


# ── annual registers ────────────────────────────────────────────────────────────────────────


def roster_year(
    c: County, universe: pd.DataFrame, own: np.ndarray, reg: pd.DataFrame, year: int, seed: int
) -> pd.DataFrame:
    rng = rng_for(seed, "roster", c.code, year)
    P = universe.iloc[own]
    mgr = reg[
        (reg["county_code"] == c.code)
        & reg["_cls"].isin(["TOWN", "VILLAGE", "B1"])
        & (reg["active"] == "1")
    ]
    mgr_codes = mgr["org_code"].to_numpy()
    parts = []
    for dis, col in (("HTN", "htn"), ("T2DM", "dm")):
        m = P[col].to_numpy()
        ppl = P[m]
        k = len(ppl)
        managed = rng.random(k) < 0.93
        parts.append(
            pd.DataFrame(
                {
                    "county_code": c.code,
                    "year": year,
                    "id_no": ppl["id_no"].to_numpy(),
                    "disease": dis,
                    "managing_org_code": mgr_codes[own[m] % len(mgr_codes)],
                    "managed_at_year_end": np.where(managed, "1", "0"),
                    "standard_managed": np.where(managed & (rng.random(k) < 0.72), "1", "0"),
                    "_person": own[m],
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


FOUR_CAUSE_RATE = {  # per 100k, by age group index (both sexes)
    7: 40,
    8: 70,
    9: 120,
    10: 200,
    11: 330,
    12: 520,
    13: 850,
    14: 1400,
    15: 2300,
    16: 3900,
    17: 6500,
    18: 12000,
}
OTHER_RATE = [
    500,
    30,
    15,
    15,
    30,
    45,
    55,
    60,
    70,
    90,
    120,
    160,
    220,
    300,
    420,
    650,
    1100,
    2000,
    4000,
]
CAUSES4 = {
    "I21.9": 0.16,
    "I63.9": 0.14,
    "I61.9": 0.08,
    "I10": 0.03,
    "I50.0": 0.03,
    "I25.1": 0.05,
    "I00": 0.005,
    "C34.9": 0.13,
    "C16.9": 0.06,
    "C22.0": 0.07,
    "C15.9": 0.04,
    "C18.9": 0.03,
    "C97": 0.005,
    "E11.9": 0.03,
    "E14.9": 0.01,
    "J44.9": 0.08,
    "J45.9": 0.015,
    "J98.4": 0.01,
    "J84.1": 0.01,
}
CAUSES_OTHER = {
    "V89.2": 0.14,
    "X59.9": 0.08,
    "W19": 0.07,
    "K74.6": 0.08,
    "N18.5": 0.07,
    "A41.9": 0.07,
    "J18.9": 0.10,
    "J20.9": 0.02,
    "D48.9": 0.02,
    "G30.9": 0.07,
    "F03": 0.05,
    "X70": 0.05,
    "K92.2": 0.05,
    "R99": 0.08,
    "A16.9": 0.05,
}


def deaths_year(c: County, population: pd.DataFrame, year: int, seed: int) -> pd.DataFrame:
    rng = rng_for(seed, "deaths", c.code, year)
    pop = population[(population["county_code"] == c.code) & (population["year"] == year)]
    ags = list(contract.AGE_GROUPS)
    rows_age, rows_sex, rows_four = [], [], []
    for r in pop.itertuples(index=False):
        g = ags.index(r.age_group)
        mult4 = 1.35 if r.sex == "1" else 0.65
        n4 = rng.poisson(r.population * FOUR_CAUSE_RATE.get(g, 6) * mult4 / 1e5)
        no = rng.poisson(r.population * OTHER_RATE[g] * (1.3 if r.sex == "1" else 0.7) / 1e5)
        k = n4 + no
        lo, hi = (
            AGE_LO[g],
            min(AGE_LO[g] + 14, 99)
            if g == 18
            else (0 if g == 0 else AGE_LO[g] + (3 if g == 1 else 4)),
        )
        rows_age.append(rng.integers(lo, hi + 1, k))
        rows_sex.append(np.full(k, r.sex))
        rows_four.append(np.r_[np.ones(n4, bool), np.zeros(no, bool)])
    age = np.concatenate(rows_age)
    sex = np.concatenate(rows_sex)
    four = np.concatenate(rows_four)
    n = len(age)
    days_year = 366 if year % 4 == 0 else 365
    death = np.datetime64(f"{year}-01-01") + rng.integers(0, days_year, n).astype("timedelta64[D]")
    # birth date such that the completed age at death is `age`
    birth_anchor = pd.to_datetime(death) - pd.to_timedelta((age * 365.2425).astype(int), unit="D")
    birth = (
        (birth_anchor - pd.to_timedelta(rng.integers(1, 364, n), unit="D"))
        .to_numpy()
        .astype("datetime64[D]")
    )
    cause = np.where(four, _pick(rng, CAUSES4, n), _pick(rng, CAUSES_OTHER, n))
    df = pd.DataFrame({"sex": sex, "birth_date": birth.astype(S), "death_date": death.astype(S)})
    df["id_no"] = ids.make_ids(
        pd.Series([c.code] * n), df["birth_date"], df["sex"], "deaths"
    ).values
    df["death_id"] = [f"DSP{c.code}{year}{i + 1:06d}" for i in range(n)]
    df["residence_county_code"] = c.code
    df["underlying_cause"] = cause.astype(str)
    return df[[col.name for col in contract.SOURCE_BY_NAME["deaths"].columns]]


MODALITIES = {
    "ECG": 0.45,
    "IMAGING": 0.28,
    "ULTRASOUND": 0.12,
    "NUCLEAR": 0.02,
    "EMG": 0.04,
    "EEG": 0.05,
    "OTHER": 0.04,
}


def remote_year(
    c: County,
    reg: pd.DataFrame,
    year: int,
    last_year: int,
    scale: float,
    seed: int,
    other_county_orgs: np.ndarray | None = None,
) -> pd.DataFrame:
    """Remote-diagnosis platform log of the county's centre for one year (by request time).

    Volume: REMOTE_PER_RESIDENT x population x min(scale, 1) (not volume-factored: I05a/I05b are
    rates per 10,000 residents, which a scaled-down count would make meaningless; capped at the
    realistic volume, so a big landing is not mostly remote diagnoses). Planted, besides the
    counted reports of every modality: the centre's own requests, requests from another county
    and from the city hospital, reports of facilities that are not centres, unreported
    requests, and requests reported in the next quarter and in the next year.
    """
    rng = rng_for(seed, "remote", c.code, year)
    f = reg[(reg["county_code"] == c.code) & (reg["active"] == "1")]
    centre = f[f["is_imaging_center"] == "1"]["org_code"].iloc[0]
    towns = f[f["_cls"] == "TOWN"]["org_code"].to_numpy()
    villages = f[(f["_cls"] == "VILLAGE") & (f["ecg_linked_to_center"] == "1")][
        "org_code"
    ].to_numpy()
    tcm = f[f["_cls"] == "TCMH"]["org_code"].to_numpy()
    # capped at the realistic volume: above scale 1 they would outgrow the visits they serve
    n = max(40, int(rng.poisson(REMOTE_PER_RESIDENT * c.population * min(scale, 1.0))))
    modality = _pick(rng, MODALITIES, n)
    # requesters: township centres, linked village clinics (ECG), the TCM hospital (counts too:
    # any other facility of the county)
    req = towns[rng.integers(0, len(towns), n)]
    ecg = modality == "ECG"
    if len(villages):
        to_village = ecg & (rng.random(n) < 0.5)
        req = np.where(to_village, villages[rng.integers(0, len(villages), n)], req)
    if len(tcm):
        req = np.where(rng.random(n) < 0.05, tcm[0], req)
    days_year = 366 if year % 4 == 0 else 365
    requested = _times(rng, np.datetime64(f"{year}-01-01"), days_year, n, 8.0, 17.0)
    # every modality in every quarter, so no count hinges on luck at tiny scale
    for i, m in enumerate(list(MODALITIES) * 4):
        s, _ = quarter_bounds(year, i // len(MODALITIES) + 1)
        requested[i] = s.astype(S) + np.timedelta64(10 * 86400 + 9 * 3600 + i * 60, "s")
        modality[i] = m
    fixed = 4 * len(MODALITIES)
    centre_col = np.full(n, centre, dtype=object)
    delay = rng.integers(600, 2 * 86400, n).astype("timedelta64[s]")
    pending = rng.random(n) < 0.03
    pending[:fixed] = False
    # planted rows that must not count (each kind at least once, after the fixed ones)
    k = max(1, n // 40)
    kinds = ["own", "other_county", "city", "not_centre", "not_centre_city"]
    for j, kind in enumerate(kinds):
        sl = slice(fixed + j * k, fixed + (j + 1) * k)
        if kind == "own":
            req[sl] = centre
        elif kind == "other_county" and other_county_orgs is not None and len(other_county_orgs):
            req[sl] = other_county_orgs[rng.integers(0, len(other_county_orgs), k)]
        elif kind in ("city", "other_county"):
            req[sl] = f"{city_district(c.city_code)}90001"
        elif kind == "not_centre":
            centre_col[sl] = tcm[0] if len(tcm) else f"{city_district(c.city_code)}90001"
        else:
            centre_col[sl] = f"{city_district(c.city_code)}90001"
    # reported in the next quarter (requested two days before a quarter ends) and the next year
    nq = fixed + len(kinds) * k
    for j, qq in enumerate((1, 2, 3, 4)):
        _, e = quarter_bounds(year, qq)
        requested[nq + j] = e.astype(S) - np.timedelta64(2 * 86400 - 3600 * j, "s")
        delay[nq + j] = np.timedelta64(4 * 86400, "s")
        pending[nq + j] = False
    reported = (requested + delay).astype(S)
    # the second county's ECG centre starts work only in April of the last year
    if c.idx == 1:
        no_ecg = (modality == "ECG") & (
            (year < last_year) | (requested < np.datetime64(f"{year}-04-01").astype(S))
        )
        keep = ~no_ecg
        req, centre_col, modality, requested, reported, pending = (
            x[keep] for x in (req, centre_col, modality, requested, reported, pending)
        )
    df = pd.DataFrame(
        {
            "requesting_org_code": req.astype(str),
            "center_org_code": centre_col.astype(str),
            "modality": modality.astype(str),
            "requested_at": requested,
        }
    )
    df["reported_at"] = pd.Series(reported).where(~pending, pd.NaT).to_numpy()
    df = df.sort_values("requested_at", kind="stable").reset_index(drop=True)
    df.insert(0, "request_id", [f"RD{c.code}{year}{i + 1:06d}" for i in range(len(df))])
    return df


def qualitative_year(c: County, year: int, year_idx: int, last_idx: int, seed: int) -> pd.DataFrame:
    rng = rng_for(seed, "qualitative", c.code, year)
    levels = ["county"]
    if c.idx % 2 == 0 or year_idx == last_idx:
        levels.append("city")
    if c.idx % 3 == 0 and year_idx == last_idx:
        levels.append("province")
    rows = []
    for lvl in levels:
        p_impl = {"county": 0.92, "city": 0.78, "province": 0.72}[lvl]
        for ind, items in qualitative_items().items():
            for item in items:
                if lvl != "county" and rng.random() < 0.06:
                    continue  # item not assessed at this level -> not met
                has = rng.random() < 0.97
                impl = has and rng.random() < p_impl
                if lvl == "county" and ind == "I02":
                    has, impl = True, True  # self-assessment always claims the charter etc.
                if c.idx == 1 and ind == "I03" and lvl == levels[-1]:
                    impl = False  # nothing implemented -> 未达标
                evidence = f"{c.name}医共体〔{year}〕{int(rng.integers(1, 60))}号" if has else ""
                if has and rng.random() < 0.04:
                    evidence = ""
                rows.append(
                    dict(
                        county_code=c.code,
                        year=year,
                        indicator_code=ind,
                        item_code=item,
                        has_policy=str(int(has)),
                        implemented=str(int(impl)),
                        evidence=evidence,
                        assessor_level=lvl,
                        assessed_at=np.datetime64(
                            f"{year}-12-{ {'county': 10, 'city': 20, 'province': 28}[lvl]:02d}"
                        ).astype(S),
                    )
                )
    return pd.DataFrame(rows)
