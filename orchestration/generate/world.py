"""The synthetic province: cities, counties, facilities, population, people, staff, dispatches."""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from orchestration import contract
from orchestration.generate import ids

PROVINCE_CODE = "990000"
PROVINCE_NAME = "示例省(合成数据) Synthetic Province"
OUT_PROVINCE = "980102"  # a neighbouring synthetic province's district: out-of-province care
OUT_PROVINCE_NAME = "邻省(合成)省会区"
CN_NUM = "一二三四五六七八九十"
CITY_SUFFIX = "甲乙丙丁戊己庚辛壬癸"
COUNTIES_PER_CITY = 3


# Activity model rates per resident and year (realistic), applied to population × scale ×
# VOLUME_FACTOR. See the package docstring.
VOLUME_FACTOR = 0.005
POOL_FACTOR = 0.01  # synthetic persons per resident (× scale), capped at the population
MIN_POOL = 400
AGE_SHARES = np.array(
    [1.0, 4.4, 6.0, 5.9, 5.3, 5.0, 6.0, 8.5, 7.0, 6.7, 8.0, 8.5, 7.0, 5.0, 5.3, 3.8, 2.3, 1.4, 0.9]
)
AGE_SHARES = AGE_SHARES / AGE_SHARES.sum()
AGE_LO = np.array([0, 1] + list(range(5, 90, 5)))
AGE_HI = np.array([0, 4] + list(range(9, 85, 5)) + [99])


@functools.cache
def qualitative_items() -> dict[str, tuple[str, ...]]:
    """The checklist items per qualitative indicator, from the seed the models read
    (seeds/qualitative_items.csv: the items of the 2024 edition's attachment)."""
    from orchestration.settings import PROJECT_DIR

    items = pd.read_csv(PROJECT_DIR / "seeds" / "qualitative_items.csv", dtype=str)
    return {k: tuple(g["item_code"]) for k, g in items.groupby("indicator_code", sort=True)}


def rng_for(seed: int, *keys) -> np.random.Generator:
    """An independent, reproducible random stream per (seed, key…)."""
    parts = [int(seed)]
    for k in keys:
        parts.append(k if isinstance(k, int) else zlib.crc32(str(k).encode()))
    return np.random.default_rng(parts)


@dataclass
class County:
    idx: int
    code: str
    name: str
    city_code: str
    city_name: str
    population: int  # base (first year) resident population


def make_counties(n: int, seed: int) -> list[County]:
    rng = rng_for(seed, "counties")
    out = []
    for i in range(n):
        city_no, within = divmod(i, COUNTIES_PER_CITY)
        city = f"99{city_no + 1:02d}00"
        cname = f"示例{CITY_SUFFIX[city_no % 10]}市" + (str(city_no // 10) if city_no >= 10 else "")
        name = f"示例{CN_NUM[i % 10]}县" + (str(i // 10) if i >= 10 else "")
        code = f"99{city_no + 1:02d}{21 + within:02d}"
        out.append(County(i, code, name, city, cname, int(rng.integers(200, 801)) * 1000))
    return out


def city_district(city_code: str) -> str:
    return city_code[:4] + "02"  # 市辖区 holding the city hospitals (never a generated county)


# ── facilities ──────────────────────────────────────────────────────────────────────────────

FAC_COLS = [c.name for c in contract.SOURCE_BY_NAME["facilities"].columns]


MASTER_COLUMNS = (
    "org_code fixmedins_code org_name county_code category_code is_tcm_class hospital_level "
    "ownership consortium_code is_lead_hospital is_imaging_center is_ecg_center "
    "_cls _size _first_year _u_ecg _u_link _county_idx"
).split()


def _facility_row(
    org: str,
    fix: str,
    name: str,
    county: str,
    cat: str,
    cls: str,
    *,
    level: str = "",
    own: str = "public",
    consortium: str = "",
    lead: int = 0,
    tcm: int = 0,
    img: int = 0,
    ecg: int = 0,
    size: float = 1.0,
    first_year: int = 0,
    u_ecg: float = 1.0,
    u_link: float = 1.0,
    county_idx: int = -1,
) -> dict:
    """One master-list row: register columns, then the internal ones (class, size, the year
    it opens, the draws deciding its ECG device and link, its county's index)."""
    register = (org, fix, name, county, cat, str(tcm), level, own, consortium)
    flags = (str(lead), str(img), str(ecg))
    internal = (cls, size, first_year, u_ecg, u_link, county_idx)
    return dict(zip(MASTER_COLUMNS, register + flags + internal, strict=True))


def make_facilities(counties: list[County], seed: int) -> pd.DataFrame:
    """Master facility list (all years). Internal columns start with '_'."""
    rows = []
    for c in counties:
        rng = rng_for(seed, "facilities", c.code)
        seq = iter(range(1, 100000))
        fseq = iter(range(1, 100000))
        pseq = iter(range(1, 100000))
        P = c.population
        two_consortia = P >= 500_000
        cons = [f"{c.code}YGT01"] + ([f"{c.code}YGT02"] if two_consortia else [])

        def add(cls, cat, name, level="", contracted=True, pharmacy=False, **kw):
            """Append one of the county's facilities (other keywords: `_facility_row`)."""
            org = f"{c.code}{next(seq):05d}"
            if pharmacy:
                fix = f"P{c.code}{next(pseq):05d}"
            else:
                fix = f"H{c.code}{next(fseq):05d}" if contracted else ""
            u_ecg, u_link = rng.random(), rng.random()
            rows.append(
                _facility_row(
                    org,
                    fix,
                    name,
                    c.code,
                    cat,
                    cls,
                    level=level,
                    u_ecg=u_ecg,
                    u_link=u_link,
                    county_idx=c.idx,
                    **kw,
                )
            )
            return org

        add(
            "LEAD",
            "A1",
            f"{c.name}人民医院",
            "3" if P > 600_000 else "2",
            consortium=cons[0],
            lead=1,
            size=P / 1e5,
            img=1,
            ecg=1,
        )
        add(
            "TCMH",
            "A2",
            f"{c.name}中医院",
            "2",
            consortium=cons[-1],
            lead=int(two_consortia),
            tcm=1,
            size=P / 1e5,
        )
        n_town = int(np.clip(round(P / 45_000), 4, 18))
        n_central = int(np.ceil(n_town / 4))
        for t in range(n_town):
            cat = "C21" if t < n_central else "C22"
            town = f"示{CN_NUM[t % 10]}{'镇乡'[t % 2]}" + (str(t // 10) if t >= 10 else "")
            consortium = cons[t % len(cons)]
            if c.idx == 0 and t == n_town - 1:
                consortium = ""  # one township centre outside any consortium (I06 edge)
            add(
                "TOWN",
                cat,
                f"{c.name}{town}{'中心' if cat == 'C21' else ''}卫生院",
                "1",
                consortium=consortium,
                size=2.0 if cat == "C21" else 1.0,
            )
            for v in range(int(rng.integers(4, 8))):
                add(
                    "VILLAGE",
                    "D5",
                    f"{c.name}{town}{CN_NUM[v % 10]}村卫生室",
                    consortium=consortium,
                    size=float(rng.uniform(0.6, 1.4)),
                )
        for p in range(max(2, round(P / 25_000))):
            tcm = int(rng.random() < 0.2)
            add(
                "PRIVATE",
                "D2",
                f"{c.name}{ids.SURNAMES[p % len(ids.SURNAMES)]}氏{'中医' if tcm else ''}诊所",
                own="private",
                tcm=tcm,
                contracted=rng.random() < 0.7,
                size=float(rng.uniform(0.5, 1.5)),
                first_year=1 if p == 0 else 0,
            )
        if c.idx % 2 == 0:
            add("B1", "B1", f"{c.name}城关社区卫生服务中心", consortium=cons[0], size=1.0)
        add("CDC", "J1", f"{c.name}疾病预防控制中心", contracted=False)
        for p in range(round(P / 60_000) + 2):
            add("PHARM", "P1", f"示例大药房{c.name}{p + 1}店", own="private", pharmacy=True)
    for city in sorted({c.city_code for c in counties}):
        cname = next(c.city_name for c in counties if c.city_code == city)
        district = city_district(city)
        for j, nm in enumerate(("第一人民医院", "中心医院")):
            org = f"{district}{90001 + j:05d}"
            rows.append(
                _facility_row(org, f"H{org}", f"{cname}{nm}", district, "A1", "CITY", level="3")
            )
    return pd.DataFrame(rows)


def register_for_year(master: pd.DataFrame, year_idx: int, last_year_idx: int) -> pd.DataFrame:
    """The facility register of one year (contract columns + internal `_` columns)."""
    f = master[master["_first_year"] <= year_idx].copy()
    village = f["category_code"] == "D5"
    has = village & (f["_u_ecg"] < 0.4 + 0.2 * year_idx)
    linked = has & (f["_u_link"] < 0.75 + 0.1 * year_idx)
    f["has_ecg_device"] = np.where(village, has.astype(int).astype(str), "")
    f["ecg_linked_to_center"] = np.where(village, linked.astype(int).astype(str), "")
    f["active"] = "1"
    if year_idx == last_year_idx and year_idx > 0:
        # one village clinic of the first county closed in the last year (still listed, inactive)
        first_village = f.index[village & (f["_county_idx"] == 0)][:1]
        f.loc[first_village, "active"] = "0"
    return f.reset_index(drop=True)


# ── population ──────────────────────────────────────────────────────────────────────────────


def make_population(counties: list[County], years: tuple[int, ...], seed: int) -> pd.DataFrame:
    rows = []
    for c in counties:
        rng = rng_for(seed, "population", c.code)
        growth = rng.uniform(-0.006, 0.008)
        male_share = rng.uniform(0.505, 0.52)
        for t, y in enumerate(years):
            noise = rng.normal(1.0, 0.01, size=(2, len(AGE_SHARES)))
            for s, share in (("1", male_share), ("2", 1 - male_share)):
                pops = np.round(
                    c.population * (1 + growth) ** t * share * AGE_SHARES * noise[int(s) - 1]
                ).astype(int)
                for ag, p in zip(contract.AGE_GROUPS, pops):
                    rows.append((c.code, y, s, ag, int(p)))
    return pd.DataFrame(rows, columns=["county_code", "year", "sex", "age_group", "population"])


# ── people ──────────────────────────────────────────────────────────────────────────────────


def _people(
    rng,
    n: int,
    region: str,
    ref: np.datetime64,
    block: str,
    age_p: np.ndarray | None = None,
    min_age: int = 0,
) -> pd.DataFrame:
    p = AGE_SHARES if age_p is None else age_p
    grp = rng.choice(len(p), size=n, p=p)
    lo, hi = np.maximum(AGE_LO[grp], min_age), np.maximum(AGE_HI[grp], min_age)
    age_days = (lo + rng.random(n) * (hi - lo + 1)) * 365.25
    birth = (ref - age_days.astype("timedelta64[D]")).astype("datetime64[D]")
    sex = np.where(rng.random(n) < 0.51, "1", "2")
    df = pd.DataFrame({"sex": sex, "birth_date": birth.astype("datetime64[s]")})
    df["id_no"] = ids.make_ids(pd.Series([region] * n), df["birth_date"], df["sex"], block).values
    df["name"] = ids.make_names(rng, n).values
    return df


def make_pool(c: County, scale: float, first_year: int, seed: int) -> pd.DataFrame:
    """The county's synthetic residents who use care (insured in the county)."""
    rng = rng_for(seed, "pool", c.code)
    n = int(min(c.population, max(MIN_POOL, round(c.population * POOL_FACTOR * scale))))
    # ages are counted back from 1 January of the first year, so nobody is born after an event
    df = _people(rng, n, c.code, np.datetime64(f"{first_year}-01-01"), "pool")
    df["county_code"] = c.code
    df["psn_no"] = [f"{c.code}{i:014d}" for i in range(n)]
    u = rng.random(n)
    df["insutype"] = np.where(u < 0.24, "310", np.where(u < 0.97, "390", ""))  # '' = uninsured
    df["insured"] = df["insutype"] != ""  # kept as bool: converting the strings costs per call
    # invalid check digits for a few people: used consistently in every source
    n_bad = max(2, int(round(n * 0.003)))
    bad = rng.choice(n, size=n_bad, replace=False)
    df["id_valid"] = True
    df.loc[bad, "id_no"] = ids.corrupt_check(df.loc[bad, "id_no"])
    df.loc[bad, "id_valid"] = False
    # chronic disease (stable per person): thresholds by age in the first year
    age = (
        np.datetime64(f"{first_year}-01-01") - df["birth_date"].to_numpy().astype("datetime64[D]")
    ).astype(int) / 365.25
    p_htn = np.select([age >= 60, age >= 45, age >= 35], [0.30, 0.16, 0.06], 0.0)
    p_dm = np.select([age >= 60, age >= 45, age >= 35], [0.11, 0.06, 0.02], 0.0)
    df["htn"] = rng.random(n) < p_htn
    df["dm"] = rng.random(n) < p_dm
    df["age0"] = age
    # propensity to use care: children and elderly more
    df["w_visit"] = np.select([age < 5, age >= 65, age >= 45], [1.8, 2.0, 1.3], 1.0) * (
        1 + 0.8 * (df["htn"] | df["dm"])
    )
    df["w_admit"] = np.select([age < 5, age >= 65, age >= 45], [1.2, 3.0, 1.5], 0.8) * (
        1 + 2.5 * (df["htn"] | df["dm"])
    )
    return df


def make_visitors(seed: int, n: int, first_year: int) -> pd.DataFrame:
    """Insured of a neighbouring (synthetic) province treated in our counties."""
    rng = rng_for(seed, "visitors")
    df = _people(rng, n, OUT_PROVINCE, np.datetime64(f"{first_year}-01-01"), "pool")
    df["county_code"] = OUT_PROVINCE
    df["psn_no"] = [f"{OUT_PROVINCE}{i:014d}" for i in range(n)]
    df["insutype"] = np.where(rng.random(n) < 0.4, "310", "390")
    df["insured"] = True
    df["id_valid"] = True
    df["htn"] = False
    df["dm"] = False
    df["age0"] = 40.0
    df["w_visit"] = 1.0
    df["w_admit"] = 1.0
    return df


# ── staff ───────────────────────────────────────────────────────────────────────────────────

STAFF_MIX = {  # practice type shares, title shares, mean income (yuan), empty-income share
    "hospital": (
        {"11": 0.30, "12": 0.03, "21": 0.42, "31": 0.05, "41": 0.08, "61": 0.07, "69": 0.05},
        {"1": 0.04, "2": 0.12, "3": 0.30, "4": 0.35, "5": 0.12, "9": 0.07},
    ),
    "primary": (
        {"11": 0.25, "12": 0.15, "21": 0.30, "31": 0.06, "41": 0.08, "61": 0.08, "69": 0.08},
        {"2": 0.03, "3": 0.20, "4": 0.45, "5": 0.22, "9": 0.10},
    ),
    "village": ({"51": 0.70, "12": 0.20, "21": 0.10}, {"4": 0.3, "5": 0.3, "9": 0.4}),
    "private": ({"11": 0.50, "12": 0.20, "21": 0.30}, {"3": 0.2, "4": 0.5, "5": 0.2, "9": 0.1}),
    "other": (
        {"11": 0.2, "21": 0.2, "31": 0.3, "41": 0.1, "61": 0.1, "69": 0.1},
        {"3": 0.3, "4": 0.4, "5": 0.2, "9": 0.1},
    ),
}
STAFF_N = {"LEAD": 1.3e-3, "TCMH": 4e-4}  # per resident
STAFF_FIXED = {
    "TOWN": (30, 70),
    "VILLAGE": (1, 3),
    "PRIVATE": (1, 4),
    "B1": (20, 35),
    "CDC": (40, 70),
    "PHARM": (2, 4),
}
INCOME = {
    "LEAD": 165_000,
    "TCMH": 135_000,
    "TOWN": 96_000,
    "VILLAGE": 46_000,
    "B1": 102_000,
    "CDC": 110_000,
    "PRIVATE": 62_000,
    "PHARM": 52_000,
}


def make_staff(
    c: County, facilities: pd.DataFrame, scale: float, first_year: int, seed: int
) -> pd.DataFrame:
    """The county's health workforce (stable people; yearly attributes come later)."""
    rng = rng_for(seed, "staff", c.code)
    f = facilities[facilities["county_code"] == c.code]
    staff_factor = float(np.clip(0.5 * scale, 0.05, 0.5))
    parts = []
    for org_code, cls in zip(f["org_code"], f["_cls"]):
        if cls in STAFF_N:
            n = STAFF_N[cls] * c.population
        else:
            lo, hi = STAFF_FIXED[cls]
            n = rng.integers(lo, hi + 1)
        n = max(2 if cls in ("LEAD", "TCMH", "TOWN") else 1, int(round(n * staff_factor)))
        mix = {
            "LEAD": "hospital",
            "TCMH": "hospital",
            "TOWN": "primary",
            "B1": "primary",
            "VILLAGE": "village",
            "PRIVATE": "private",
        }.get(cls, "other")
        pt, tp = STAFF_MIX[mix]
        practice = rng.choice(list(pt), size=n, p=np.array(list(pt.values())) / sum(pt.values()))
        title = rng.choice(list(tp), size=n, p=np.array(list(tp.values())) / sum(tp.values()))
        if cls in ("LEAD", "TCMH", "TOWN"):
            practice[0], title[0] = "11", "3"  # at least one attending physician
        income = rng.lognormal(np.log(INCOME[cls]) - 0.06, 0.35, size=n)
        if cls in ("PRIVATE", "PHARM"):
            income = np.where(rng.random(n) < 0.4, np.nan, income)
        parts.append(
            pd.DataFrame(
                {
                    "org_code": org_code,
                    "practice_type": practice,
                    "title_post": title,
                    "base_income": income,
                    "_cls": cls,
                }
            )
        )
    staff = pd.concat(parts, ignore_index=True)
    ppl = _people(
        rng,
        len(staff),
        c.code,
        np.datetime64(f"{first_year}-07-01"),
        "staff",
        age_p=np.r_[np.zeros(5), np.full(8, 1.0), np.zeros(6)] / 8.0,
    )
    staff = pd.concat([staff, ppl], axis=1)
    staff["staff_id"] = [f"{i + 1:07d}" for i in range(len(staff))]
    staff["u_post"] = rng.random(len(staff))
    return staff


def personnel_for_year(staff: pd.DataFrame, year_idx: int, seed: int, county: str) -> pd.DataFrame:
    rng = rng_for(seed, "personnel", county, year_idx)
    df = staff.copy()
    df["on_post"] = np.where(rng.random(len(df)) < 0.95, "1", "0")
    inc = df["base_income"].to_numpy() * (1.04**year_idx) * rng.normal(1.0, 0.03, len(df))
    df["annual_income"] = pd.array(np.round(inc * 100), dtype="Int64")  # fen, <NA> = empty
    return df


# ── dispatches ──────────────────────────────────────────────────────────────────────────────


def make_city_physicians(
    counties: list[County], first_year: int, seed: int
) -> dict[str, pd.DataFrame]:
    """Physicians of the city hospitals (one pool per city district, shared by its counties)."""
    out = {}
    for city in sorted({c.city_code for c in counties}):
        rng = rng_for(seed, "city_physicians", city)
        out[city_district(city)] = _people(
            rng,
            2000,
            city_district(city),
            np.datetime64(f"{first_year}-07-01"),
            "staff",
            age_p=np.r_[np.zeros(6), np.full(7, 1.0), np.zeros(6)] / 7.0,
        )
    return out


def make_dispatches(
    c: County,
    facilities: pd.DataFrame,
    staff: pd.DataFrame,
    years: tuple[int, ...],
    seed: int,
    city_physicians: dict[str, pd.DataFrame],
) -> pd.DataFrame:
    """Dispatch records of physicians serving the county's primary-care facilities, all years.

    Every record appears, unchanged, in the ledger of each year it overlaps.
    """
    rng = rng_for(seed, "dispatches", c.code)
    f = facilities[(facilities["county_code"] == c.code) & (facilities["_first_year"] == 0)]
    hosts_town = f[f["_cls"] == "TOWN"]["org_code"].to_numpy()
    hosts_village = f[f["_cls"] == "VILLAGE"]["org_code"].to_numpy()
    tcm_host = f[f["_cls"] == "TCMH"]["org_code"].to_numpy()
    level = dict(zip(f["org_code"], f["hospital_level"]))
    cls_of = dict(zip(f["org_code"], f["_cls"]))
    district = city_district(c.city_code)
    city_orgs = [f"{district}{90001 + j:05d}" for j in range(2)]
    n_phys = max(6, int(c.population / 10_000 * rng.uniform(1.6, 3.0)))
    rows = []
    last = years[-1]
    ppl_city = city_physicians[district]
    within = c.idx % COUNTIES_PER_CITY
    seq = 0
    clinical = staff[staff["practice_type"].isin(["11", "12", "21"])]
    kind_pools = {k: clinical[clinical["_cls"] == k] for k in ("LEAD", "TCMH", "TOWN")}
    for t, i in ((t, i) for t in range(len(years)) for i in range(n_phys)):
        # home organisations: lead 55%, TCM hospital 20%, city hospitals 17%, township centres 8%
        kind = rng.choice(["LEAD", "TCMH", "CITY", "TOWN"], p=[0.55, 0.20, 0.17, 0.08])
        if kind == "CITY":
            home, home_level, home_county = city_orgs[i % 2], "3", district
            person = ppl_city.iloc[(within * 600 + t * 200 + i) % len(ppl_city)]
            pid, pname = person["id_no"], person["name"]
            title = rng.choice(["1", "2", "3", "4"], p=[0.1, 0.3, 0.45, 0.15])
            practice = rng.choice(["11", "12", "21"], p=[0.9, 0.03, 0.07])
        else:
            pool = kind_pools[kind]
            if pool.empty:
                continue
            person = pool.iloc[int(rng.integers(0, len(pool)))]
            pid, pname = person["id_no"], person["name"]
            title, practice = person["title_post"], person["practice_type"]
            home = person["org_code"]
            home_level, home_county = level[home], c.code
        # host: township centres mostly, some village clinics, rarely a non-primary facility
        u = rng.random()
        if u < 0.02 and len(tcm_host):
            host = tcm_host[0]
        elif u < 0.22 and len(hosts_village):
            host = hosts_village[int(rng.integers(0, len(hosts_village)))]
        else:
            host = hosts_town[int(rng.integers(0, len(hosts_town)))]
        if kind == "TOWN" and cls_of.get(host) == "TOWN" and host == home:
            host = hosts_village[0] if len(hosts_village) else host
        # pattern of service
        year = years[t]
        pattern = rng.choice(
            ["full", "long", "short", "span", "split", "rotation"],
            p=[0.30, 0.22, 0.15, 0.13, 0.10, 0.10],
        )
        jan1 = np.datetime64(f"{year}-01-01")
        stints = []
        if pattern == "full":
            stints = [(jan1, np.datetime64(f"{year}-12-31"), "long_term")]
        elif pattern == "long":
            s = jan1 + int(rng.integers(0, 150))
            stints = [(s, s + int(rng.integers(185, 300)), "long_term")]
        elif pattern == "short":
            s = jan1 + int(rng.integers(0, 200))
            stints = [(s, s + int(rng.integers(60, 175)), "long_term")]
        elif pattern == "span":
            s = jan1 + int(rng.integers(180, 330))
            stints = [(s, s + int(rng.integers(240, 420)), "long_term")]
        elif pattern == "split":
            s = jan1 + int(rng.integers(0, 60))
            e = s + int(rng.integers(90, 120))
            s2 = e + int(rng.integers(10, 40))
            stints = [(s, e, "long_term"), (s2, s2 + int(rng.integers(85, 110)), "long_term")]
        else:
            s = jan1 + int(rng.integers(0, 300))
            stints = [(s, s + int(rng.integers(20, 60)), "rotation")]
        for s, e, typ in stints:
            e = min(e, np.datetime64(f"{year + 1}-12-31"))
            seq += 1
            open_end = e > np.datetime64(f"{last}-12-31") or (
                pattern == "full" and i % 11 == 0 and year == last
            )
            rows.append(
                dict(
                    dispatch_id=f"PZ{c.code}{seq:05d}",
                    physician_id_no=pid,
                    physician_name=pname,
                    home_org_code=home,
                    home_org_level=home_level,
                    home_county_code=home_county,
                    title_post=str(title),
                    practice_type=str(practice),
                    host_org_code=host,
                    start_date=s,
                    end_date=pd.NaT if open_end else e,
                    dispatch_type=typ,
                )
            )
    rows += _planted_dispatches(c, years, ppl_city, city_orgs[0], district, hosts_town, seq)
    d = pd.DataFrame(rows)
    d["start_date"] = pd.to_datetime(d["start_date"]).astype("datetime64[s]")
    d["end_date"] = pd.to_datetime(d["end_date"]).astype("datetime64[s]")
    return d


def _planted_dispatches(
    c: County,
    years: tuple[int, ...],
    ppl_city: pd.DataFrame,
    home: str,
    district: str,
    hosts_town: np.ndarray,
    seq: int,
) -> list[dict]:
    """Deterministic records for the I04 rules, by eligible city-hospital physicians (level 3,
    attending title) at a township centre of the county:
    - 179, 180 and 181 days inside a year (the min_dispatch_days edge: 180 counts, 179 not);
    - an open-ended record listed only in one year's ledger (the dispatch ended unrecorded), and a
      120-day record of the same physician in the next year's ledger: 184 days count in the first
      year; in the second only the 120 days of that year's ledger (not counted).
    """
    within = c.idx % COUNTIES_PER_CITY
    rows = []

    def add(person_idx, start, end, only_ledger=None):
        nonlocal seq
        seq += 1
        p = ppl_city.iloc[person_idx]
        rows.append(
            dict(
                dispatch_id=f"PZ{c.code}{seq:05d}",
                physician_id_no=p["id_no"],
                physician_name=p["name"],
                home_org_code=home,
                home_org_level="3",
                home_county_code=district,
                title_post="3",
                practice_type="11",
                host_org_code=hosts_town[(person_idx + len(rows)) % len(hosts_town)],
                start_date=np.datetime64(start),
                end_date=pd.NaT if end is None else np.datetime64(end),
                dispatch_type="long_term",
                _ledger_only=only_ledger,
            )
        )

    for t, year in enumerate(years):
        base = 1900 + within * 30 + t * 6
        for k, days in enumerate((179, 180, 181)):
            start = np.datetime64(f"{year}-03-01")
            add(base + k, start, start + np.timedelta64(days - 1, "D"))
        if t + 1 < len(years):
            add(base + 3, f"{year}-07-01", None, only_ledger=year)
            start = np.datetime64(f"{years[t + 1]}-01-10")
            add(base + 3, start, start + np.timedelta64(119, "D"))
    return rows


def dispatch_ledger(d: pd.DataFrame, year: int) -> pd.DataFrame:
    """The year's ledger: the records that overlap the year, except open-ended ones that an
    earlier ledger listed and this one no longer does (`_ledger_only`)."""
    start, end = pd.Timestamp(f"{year}-01-01"), pd.Timestamp(f"{year}-12-31")
    m = (d["start_date"] <= end) & (d["end_date"].isna() | (d["end_date"] >= start))
    if "_ledger_only" in d:
        m &= d["_ledger_only"].isna() | (d["_ledger_only"] == year)
    return d[m].reset_index(drop=True)
