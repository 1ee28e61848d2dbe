"""Ground truth: every indicator per county × period, computed in pandas from the generated records.

This is the test oracle for the dbt models. Each indicator is its own small computation that
follows docs/indicators.md (the rules of every indicator) literally, on the records as generated
(before defects: quarantined rows, rejected files and duplicate copies are not in these frames).

Periods: quarterly indicators get YYYYQ1..YYYYQ4 (year to date) and YYYY (= YYYYQ4); annual-only
indicators (I01–I03, I06, I14, I14p, S03) get YYYY.

Interpretations (choices the spec leaves open, made here and to be mirrored by the models)
------------------------------------------------------------------------------------------
1. I05a/I05b: remote diagnoses (every modality / ECG) with reported_at in the period, whose
   center_org_code is a facility registered in the county (register of the reported year)
   flagged as imaging or ECG centre and whose requesting_org_code is another facility
   registered in the same county; per 10,000 residents of the period's year.
2. Qualitative I01–I03: numerator and denominator null (output contract), value = items met ÷
   number of default items (5/3/4), status 达标 (all) / 部分达标 (some) / 未达标 (none). Only rows
   at the highest assessor level present for that county × year × indicator count; an item is
   met when has_policy = 1, implemented = 1 and evidence is non-empty (after trimming).
3. I14 and I14p: numerator and denominator null, value set. I14p is null (value too) unless the
   year and the two before it are all generated (population and deaths delivered).
4. I10b and S04: numerator = cost(period) − cost(same period a year earlier), denominator =
   cost(year earlier), value = numerator / denominator; all three null when the earlier year
   is not generated or either cost is undefined. S04 is the GROWTH of the per-case inpatient
   cost at the county's primary-care facilities (county's insured, in-county, net), i.e. I10b
   restricted to primary care; the level itself is not published under a separate code.
5. Zero denominators give value null (numerator and denominator kept, e.g. 0 and 0).
6. I04 (annual only) and S03 use only the dispatch ledger delivered for the year (an open-ended
   record of an earlier ledger does not carry over). home_org_level is taken from the ledger
   row (not the register). An empty end_date runs to Dec 31; days = inclusive overlap with the
   year, summed per physician over the ledger's records, counted at >= 180 (no pro-rating).
7. S03 (annual only): covered township centre = active C21/C22 of the county with at least one
   physician (practice 11/12, title 1–3, long_term) whose home_org_code is a lead hospital of
   the county in the year's register and whose days at that host in the calendar year (summed
   over that physician's records at that host) reach min_dispatch_days (180).
8. S01: counts of net settlement rows (+1 original, −1 reversal) of the county's insured,
   pharmacies excluded; visits and admissions both count one per row; in-county by register.
9. S02: net hifp_pay ÷ net medfee_sumamt of inpatient settlements of the county's insured at
   in-county facilities (pharmacies excluded).
10. S05: HIS discharges (by discharge_time) at facilities registered in the county with
   category A1–A5 ("county-level hospitals"); numerator discharge_way = 3.
11. I13: the person key is the 身份证号 as delivered (an invalid one is its own person); HIS
   discharges count at any facility in the year's register (any county); insurance inpatient
   originals count when refd_setl_flag = 0, not cancelled by a reversal dated in the same year,
   and their fixmedins_code is not registered in the county (codes absent from the register
   count as out of county); pharmacy rows never count. Related diagnosis by the 3-character
   ICD-10 category of main_dx_code / dise_codg; a person in both cohorts is related for either.
12. I06: staff joined to the year's register by org_code; "public primary-care consortium
   member" = category in B1 B2 C1 C21 C22 D1 D2 D3 D5, ownership public, consortium_code
   non-empty; lead hospital = is_lead_hospital = 1; on_post = 1; empty income excluded.
13. Money numerators/denominators are in yuan (exact cents), counts are plain numbers.
14. In-county for settlements: fixmedins_code ∈ non-empty fixmedins_code of the county's
   register for the settlement's year; primary care by that facility's category.
15. I07/I12: the year's register decides county, category and is_tcm_class; visits at P1 and
   J1 excluded; cancelled rows (cancel_flag = 1) excluded.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from orchestration.generate.world import qualitative_items

PRIMARY = {"B1", "B2", "C1", "C21", "C22", "D1", "D2", "D3", "D5"}
TCM_CATEGORIES = {"A2", "A3", "A4"}
TCM_DEPTS = {"50", "51", "52"}
HOSPITALS = {"A1", "A2", "A3", "A4", "A5"}
MIN_DISPATCH_DAYS = 180
RELATED = {
    "HTN": [("I", 10, 15), ("I", 20, 25), ("I", 50, 50), ("I", 60, 69)],
    "T2DM": [("E", 10, 14)],
}
FOUR_CAUSES = [("I", 0, 99), ("C", 0, 97), ("E", 10, 14), ("J", 30, 98)]
QUAL_ITEMS = qualitative_items()
LEVEL_RANK = {"county": 1, "city": 2, "province": 3}
QUARTERLY = [
    "I05a",
    "I05b",
    "I05c",
    "I07",
    "I08",
    "I09",
    "I10a",
    "I10b",
    "I11",
    "I12",
    "I13",
    "I13x",
    "S01",
    "S02",
    "S04",
    "S05",
]
ANNUAL = ["I01", "I02", "I03", "I04", "I06", "I14", "I14p", "S03"]


def in_ranges(codes: pd.Series, ranges) -> pd.Series:
    s = codes.fillna("").astype(str).str.upper()
    letter = s.str[:1]
    num = pd.to_numeric(s.str[1:3], errors="coerce")
    out = pd.Series(False, index=s.index)
    for L, lo, hi in ranges:
        out |= (letter == L) & (num >= lo) & (num <= hi)
    return out


def member(values: pd.Series, of) -> pd.Series:
    """`values.isin(of)` by a hash lookup: pandas' isin on Arrow text converts `of` to Python
    strings one at a time, which is most of the truth's time in a large run."""
    index = pd.Index(of).unique()
    return pd.Series(index.get_indexer(values) >= 0, index=values.index)


def period_end(year: int, q: int) -> pd.Timestamp:
    return pd.Timestamp(year, 3 * q, 1) + pd.offsets.MonthEnd(0)


def ytd(ts: pd.Series, year: int, q: int) -> pd.Series:
    return (ts.dt.year == year) & (ts.dt.quarter <= q)


def ratio(num, den):
    if num is None or den is None or pd.isna(num) or pd.isna(den) or den == 0:
        return None
    return num / den


class Truth:
    def __init__(self, f: dict, years):
        self.f = f
        self.years = tuple(years)
        self.reg = f["registers"]
        self.pop = f["population"]
        self.rows: list[dict] = []
        s = f["setl_agg"]
        s = s.assign(sign=np.where(s["refd_setl_flag"] == "1", -1, 1))
        s["cnt"] = s["n"] * s["sign"]
        s["inpatient"] = s["med_type"].str.startswith("2") | (s["med_type"] == "52")
        self.setl = s[s["fixmedins_type"] != "2"]
        self.memo: dict = {}  # county registers and settlement figures, asked for repeatedly

    def add(self, county, period, code, num, den, value, status=None):
        self.rows.append(
            dict(
                area_code=county,
                period=period,
                indicator_code=code,
                numerator=None if num is None else float(num),
                denominator=None if den is None else float(den),
                value=None if value is None else float(value),
                status=status,
            )
        )

    def county_reg(self, county, year):
        if ("reg", county, year) not in self.memo:
            r = self.reg[year]
            self.memo["reg", county, year] = r[r["county_code"] == county]
        return self.memo["reg", county, year]

    # ── I04 ──
    def i04(self, county, year):
        reg = self.county_reg(county, year)
        hosts = set(reg[reg["category_code"].isin(PRIMARY)]["org_code"])
        d = self.f["dispatches"][year]  # the ledger delivered for the year, as written
        d = d[
            (d["dispatch_type"] == "long_term")
            & d["practice_type"].isin(["11", "12"])
            & d["title_post"].isin(["1", "2", "3"])
            & (d["home_org_level"].astype(int) >= 2)
            & d["host_org_code"].isin(hosts)
        ]
        p0, p1 = pd.Timestamp(year, 1, 1), pd.Timestamp(year, 12, 31)
        s = d["start_date"].clip(lower=p0)
        e = d["end_date"].fillna(p1).clip(upper=p1)
        days = ((e - s).dt.days + 1).clip(lower=0)
        per = days.groupby(d["physician_id_no"]).sum()
        num = int((per >= MIN_DISPATCH_DAYS).sum())
        den = self.population(county, year) / 10_000
        return num, den, ratio(num, den)

    def population(self, county, year):
        return self.pop[(self.pop["county_code"] == county) & (self.pop["year"] == year)][
            "population"
        ].sum()

    # ── I05 ──
    def i05(self, county, year, q):
        """(I05a, I05b): counted remote reports per 10,000 residents, year to date."""
        r = self.f["remote"]
        r = r[r["reported_at"].notna() & ytd(r["reported_at"], year, q)]
        reg = self.county_reg(county, year)  # reported in `year`: that year's register
        centres = set(
            reg[(reg["is_imaging_center"] == "1") | (reg["is_ecg_center"] == "1")]["org_code"]
        )
        orgs = set(reg["org_code"])
        m = (
            r["center_org_code"].isin(centres)
            & r["requesting_org_code"].isin(orgs)
            & (r["requesting_org_code"] != r["center_org_code"])
        )
        den = self.population(county, year) / 10_000
        n_all, n_ecg = int(m.sum()), int((m & (r["modality"] == "ECG")).sum())
        return (n_all, den, ratio(n_all, den)), (n_ecg, den, ratio(n_ecg, den))

    def i05c(self, county, year):
        reg = self.county_reg(county, year)
        v = reg[(reg["category_code"] == "D5") & (reg["active"] == "1")]
        num = int(((v["has_ecg_device"] == "1") & (v["ecg_linked_to_center"] == "1")).sum())
        return num, len(v), ratio(num, len(v))

    # ── I06 ──
    def i06(self, county, year):
        p = self.f["personnel"]
        p = p[p["year"] == year].merge(
            self.reg[year][
                [
                    "org_code",
                    "county_code",
                    "category_code",
                    "ownership",
                    "consortium_code",
                    "is_lead_hospital",
                ]
            ],
            on="org_code",
            how="inner",
            suffixes=("_staff", ""),
        )
        p = p[(p["county_code"] == county) & (p["on_post"] == "1") & p["annual_income"].notna()]
        inc = p["annual_income"].astype("int64") / 100
        prim = (
            p["category_code"].isin(PRIMARY)
            & (p["ownership"] == "public")
            & (p["consortium_code"] != "")
        )
        lead = p["is_lead_hospital"] == "1"
        num = ratio(inc[prim].sum(), int(prim.sum()))
        den = ratio(inc[lead].sum(), int(lead.sum()))
        return num, den, ratio(num, den)

    # ── I07 / I12 ──
    def visits(self, county, year, q):
        v = self.f["visits_agg"]
        v = v[(v["year"] == year) & (v["quarter"] <= q) & (v["cancel_flag"] == "0")]
        reg = self.county_reg(county, year)
        v = v.merge(reg[["org_code", "category_code", "is_tcm_class"]], on="org_code", how="inner")
        v = v[~v["category_code"].isin(["P1", "J1"])]
        den = int(v["n"].sum())
        prim = int(v.loc[v["category_code"].isin(PRIMARY), "n"].sum())
        tcm = v["category_code"].isin(TCM_CATEGORIES) | (v["is_tcm_class"] == "1") | v["tcm_dept"]
        return (prim, den, ratio(prim, den)), (
            int(v.loc[tcm, "n"].sum()),
            den,
            ratio(int(v.loc[tcm, "n"].sum()), den),
        )

    # ── settlements: I08 I09 I10a I11 S01 S02 S04 ──
    def settlements(self, county, year, q):
        """I08 I09 I10a I11 S01 S02 and the S04 cost (year to date); asked for again as the
        year before's figures of the next year."""
        if ("setl", county, year, q) not in self.memo:
            self.memo["setl", county, year, q] = self._settlements(county, year, q)
        return self.memo["setl", county, year, q]

    def _settlements(self, county, year, q):
        s = self.setl
        s = s[(s["insu_admdvs"] == county) & (s["year"] == year) & (s["quarter"] <= q)]
        reg = self.county_reg(county, year)
        codes = reg.loc[reg["fixmedins_code"] != "", ["fixmedins_code", "category_code"]]
        pcodes = codes.loc[codes["category_code"].isin(PRIMARY), "fixmedins_code"]
        inc = member(s["fixmedins_code"], codes["fixmedins_code"])
        prim = member(s["fixmedins_code"], pcodes)
        inp = s["inpatient"]
        y = lambda x: x.sum() / 100  # noqa: E731  fen -> yuan
        out = {}
        i08n, i08d = y(s.loc[inc, "hifp_pay"]), y(s["hifp_pay"])
        out["I08"] = (i08n, i08d, ratio(i08n, i08d))
        i09n = y(s.loc[inc & prim, "hifp_pay"])
        out["I09"] = (i09n, i08n, ratio(i09n, i08n))
        cost, adm = y(s.loc[inp & inc, "medfee_sumamt"]), int(s.loc[inp & inc, "cnt"].sum())
        out["I10a"] = (cost, adm, ratio(cost, adm))
        out["I11"] = (adm, int(s.loc[inp, "cnt"].sum()), ratio(adm, int(s.loc[inp, "cnt"].sum())))
        out["S01"] = (
            int(s.loc[inc, "cnt"].sum()),
            int(s["cnt"].sum()),
            ratio(int(s.loc[inc, "cnt"].sum()), int(s["cnt"].sum())),
        )
        s02n, s02d = y(s.loc[inp & inc, "hifp_pay"]), cost
        out["S02"] = (s02n, s02d, ratio(s02n, s02d))
        pc, pa = (
            y(s.loc[inp & inc & prim, "medfee_sumamt"]),
            int(s.loc[inp & inc & prim, "cnt"].sum()),
        )
        out["_S04cost"] = ratio(pc, pa)
        return out

    # ── I13 / I13x ──
    def i13(self, county, year, q):
        r = self.f["roster"]
        r = r[
            (r["county_code"] == county) & (r["year"] == year) & (r["managed_at_year_end"] == "1")
        ]
        cohort = pd.Index(r["id_no"].unique())  # managed persons; per disease below
        d = self.f["discharges"]
        all_orgs = self.reg[year]["org_code"]
        d = d[
            ytd(d["discharge_time"], year, q)
            & member(d["org_code"], all_orgs)
            & member(d["id_no"], cohort)
        ]
        adm = [d[["id_no", "main_dx_code"]].rename(columns={"main_dx_code": "dx"})]
        s = self.f["setl_inpatient"]
        same_year_rev = s[(s["refd_setl_flag"] == "1")]
        rev_ids = same_year_rev.loc[same_year_rev["setl_time"].dt.year == year, "init_setl_id"]
        codes = self.county_reg(county, year)["fixmedins_code"]
        codes = codes[codes != ""]
        s = s[
            (s["refd_setl_flag"] == "0")
            & ~member(s["setl_id"], rev_ids)
            & (s["fixmedins_type"] != "2")
            & ytd(s["setl_time"], year, q)
            & ~member(s["fixmedins_code"], codes)
            & member(s["certno"], cohort)
        ]
        adm.append(
            s[["certno", "dise_codg"]].rename(columns={"certno": "id_no", "dise_codg": "dx"})
        )
        a = pd.concat(adm, ignore_index=True)
        related = pd.Series(False, index=a.index)
        for disease, ranges in RELATED.items():
            has = member(a["id_no"], r.loc[r["disease"] == disease, "id_no"])
            related |= has & in_ranges(a["dx"], ranges)
        den = len(cohort)
        n13 = a.loc[related, "id_no"].nunique()
        n13x = a["id_no"].nunique()
        return (n13, den, ratio(n13, den)), (n13x, den, ratio(n13x, den))

    # ── S05 ──
    def s05(self, county, year, q):
        reg = self.county_reg(county, year)
        hosp = set(reg[reg["category_code"].isin(HOSPITALS)]["org_code"])
        d = self.f["discharges"]
        d = d[ytd(d["discharge_time"], year, q) & d["org_code"].isin(hosp)]
        num = int((d["discharge_way"] == "3").sum())
        return num, len(d), ratio(num, len(d))

    # ── S03 ──
    def s03(self, county, year):
        reg = self.county_reg(county, year)
        towns = reg[reg["category_code"].isin(["C21", "C22"]) & (reg["active"] == "1")]["org_code"]
        leads = set(reg[reg["is_lead_hospital"] == "1"]["org_code"])
        d = self.f["dispatches"][year]
        d = d[
            (d["dispatch_type"] == "long_term")
            & d["practice_type"].isin(["11", "12"])
            & d["title_post"].isin(["1", "2", "3"])
            & d["home_org_code"].isin(leads)
            & d["host_org_code"].isin(set(towns))
        ]
        p0, p1 = pd.Timestamp(year, 1, 1), pd.Timestamp(year, 12, 31)
        days = (
            (d["end_date"].fillna(p1).clip(upper=p1) - d["start_date"].clip(lower=p0)).dt.days + 1
        ).clip(lower=0)
        per = days.groupby([d["host_org_code"], d["physician_id_no"]]).sum()
        covered = set(per[per >= MIN_DISPATCH_DAYS].index.get_level_values(0))
        num = len(covered & set(towns))
        return num, len(towns), ratio(num, len(towns))

    # ── I14 ──
    def _deaths_pop(self, county, year):
        d = self.f["deaths"]
        d = d[(d["residence_county_code"] == county) & (d["death_date"].dt.year == year)]
        b, t = d["birth_date"], d["death_date"]
        age = (
            t.dt.year
            - b.dt.year
            - (
                (t.dt.month < b.dt.month) | ((t.dt.month == b.dt.month) & (t.dt.day < b.dt.day))
            ).astype(int)
        )
        four = in_ranges(d["underlying_cause"], FOUR_CAUSES)
        m = four & (age >= 30) & (age <= 69)
        deaths = ((age[m] - 30) // 5).value_counts().reindex(range(8), fill_value=0).to_numpy()
        p = self.pop[(self.pop["county_code"] == county) & (self.pop["year"] == year)]
        groups = [f"{a}-{a + 4}" for a in range(30, 70, 5)]
        pop = p.groupby("age_group")["population"].sum().reindex(groups, fill_value=0).to_numpy()
        return deaths, pop

    @staticmethod
    def life_table(deaths, pop):
        M = deaths / pop
        q5 = 5 * M / (1 + 2.5 * M)
        return float(1 - np.prod(1 - q5))

    def i14(self, county, year):
        return self.life_table(*self._deaths_pop(county, year))

    def i14p(self, county, year):
        if not all(y in self.years for y in (year - 2, year - 1, year)):
            return None
        dp = [self._deaths_pop(county, y) for y in (year - 2, year - 1, year)]
        return self.life_table(sum(x[0] for x in dp), sum(x[1] for x in dp))

    # ── I01–I03 ──
    def qualitative(self, county, year, ind):
        a = self.f["qualitative"]
        a = a[(a["county_code"] == county) & (a["year"] == year) & (a["indicator_code"] == ind)]
        items = QUAL_ITEMS[ind]
        met = 0
        if len(a):
            top = max(a["assessor_level"], key=LEVEL_RANK.get)
            a = a[a["assessor_level"] == top]
            ok = (
                (a["has_policy"] == "1")
                & (a["implemented"] == "1")
                & (a["evidence"].fillna("").str.strip() != "")
            )
            met = len(set(a.loc[ok, "item_code"]) & set(items))
        status = "达标" if met == len(items) else ("部分达标" if met > 0 else "未达标")
        return None, None, met / len(items), status


def _positions(values: pd.Series, pairs: pd.DataFrame) -> dict:
    """Row positions per county of the rows whose `values` map to it in `pairs` (key, county)."""
    at = pd.DataFrame({"key": values.to_numpy(), "pos": np.arange(len(values))}).merge(
        pairs, on="key"
    )
    return {c: g.to_numpy() for c, g in at.groupby("county")["pos"]}


def county_frames(frames: dict, codes: list[str]):
    """Yield (county, frames) with every per-row frame cut to the rows the county's indicators
    can read (a superset of each rule's filter, rows in their original order), so computing a
    county's truth reads its own rows rather than the province's. Registers and population
    are passed whole: the rules read other counties' registers too (I13, any facility)."""
    org_pairs = (
        pd.concat([r[["org_code", "county_code"]] for r in frames["registers"].values()])
        .drop_duplicates()
        .set_axis(["key", "county"], axis=1)
    )
    code_pairs = pd.DataFrame({"key": codes, "county": codes})
    roster = frames["roster"]
    person_pairs = (
        roster[["id_no", "county_code"]].drop_duplicates().set_axis(["key", "county"], axis=1)
        if len(roster)
        else code_pairs.iloc[:0]
    )
    # frame -> the (column, mapping) pairs whose union decides a row's counties
    plan = {
        "visits_agg": [("org_code", org_pairs)],
        "discharges": [("org_code", org_pairs), ("id_no", person_pairs)],  # S05; I13
        "setl_agg": [("insu_admdvs", code_pairs)],
        "setl_inpatient": [("certno", person_pairs)],  # I13
        "remote": [("center_org_code", org_pairs)],
        "roster": [("county_code", code_pairs)],
        "deaths": [("residence_county_code", code_pairs)],
        "personnel": [("org_code", org_pairs)],
        "qualitative": [("county_code", code_pairs)],
    }
    empty = np.array([], dtype=np.int64)

    def cutter(df: pd.DataFrame, rules):
        if not len(df.columns):
            return lambda c: df
        found = [_positions(df[col], pairs) for col, pairs in rules]
        return lambda c: df.iloc[
            np.unique(np.concatenate([f.get(c, empty) for f in found]).astype(np.int64))
        ]

    cut = {name: cutter(frames[name], rules) for name, rules in plan.items()}
    dispatches = {
        y: cutter(d, [("host_org_code", org_pairs)]) for y, d in frames["dispatches"].items()
    }
    for c in codes:
        f = dict(frames)
        f.update({name: cut[name](c) for name in plan})
        f["dispatches"] = {y: d(c) for y, d in dispatches.items()}
        yield c, f


def compute(frames: dict, counties, years) -> pd.DataFrame:
    rows = []
    for cc, f in county_frames(frames, [c.code for c in counties]):
        t = Truth(f, years)
        for y in years:
            cache = {}
            for q in (1, 2, 3, 4):
                periods = [f"{y}Q{q}"] + ([str(y)] if q == 4 else [])
                vals = {}
                vals["I05a"], vals["I05b"] = t.i05(cc, y, q)
                vals["I05c"] = t.i05c(cc, y)
                vals["I07"], vals["I12"] = t.visits(cc, y, q)
                s = t.settlements(cc, y, q)
                for k in ("I08", "I09", "I10a", "I11", "S01", "S02"):
                    vals[k] = s[k]
                cache[(y, q)] = (s["I10a"][2], s["_S04cost"])
                prev = _prev_costs(t, cc, y, q)
                for code, idx in (("I10b", 0), ("S04", 1)):
                    cur = cache[(y, q)][idx]
                    old = None if prev is None else prev[idx]
                    if cur is None or old is None or old == 0:
                        vals[code] = (None, None, None)
                    else:
                        vals[code] = (cur - old, old, (cur - old) / old)
                vals["I13"], vals["I13x"] = t.i13(cc, y, q)
                vals["S05"] = t.s05(cc, y, q)
                for p in periods:
                    for code in QUARTERLY:
                        t.add(cc, p, code, *vals[code])
            p = str(y)
            for ind in ("I01", "I02", "I03"):
                t.add(cc, p, ind, *t.qualitative(cc, y, ind))
            t.add(cc, p, "I04", *t.i04(cc, y))
            t.add(cc, p, "I06", *t.i06(cc, y))
            t.add(cc, p, "I14", None, None, t.i14(cc, y))
            t.add(cc, p, "I14p", None, None, t.i14p(cc, y))
            t.add(cc, p, "S03", *t.s03(cc, y))
        rows += t.rows
    out = pd.DataFrame(
        rows,
        columns=[
            "area_code",
            "period",
            "indicator_code",
            "numerator",
            "denominator",
            "value",
            "status",
        ],
    )
    return out.sort_values(["area_code", "period", "indicator_code"], kind="stable").reset_index(
        drop=True
    )


def _prev_costs(t: Truth, county, year, q):
    if year - 1 not in t.years:
        return None
    s = t.settlements(county, year - 1, q)
    return s["I10a"][2], s["_S04cost"]
