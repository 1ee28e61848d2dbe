"""The synthetic data generator: determinism, layout, encodings, realism, planted defects, truth.

Everything here is checked by reading the written FILES back (encoding-aware, with a small
independent reference loader), not by trusting the generator's own bookkeeping.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from orchestration import contract
from orchestration.generate import generate, world
from orchestration.generate.ids import is_valid_id

COUNTIES, YEARS, SCALE, SEED = 2, (2023, 2024), 0.2, 3
ID_COLS = ("id_no", "certno", "physician_id_no")
DATE_STYLES = {"iso": r"^\d{4}-\d{2}-\d{2}", "compact": r"^\d{8}", "slash": r"^\d{4}/\d{2}/\d{2}"}


# ── reading files as a loader would ─────────────────────────────────────────────────────────


def encoding_of(path: Path) -> str:
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "gb18030"


def read_any(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding_of(path))
    if path.suffix == ".parquet":
        return pd.read_parquet(path).astype(object).where(lambda d: d.notna(), "").astype(str)
    if path.suffix == ".xlsx":
        return pd.read_excel(path, dtype=str).fillna("")
    raise ValueError(path)


def parse_dt(s: pd.Series, with_time: bool) -> pd.Series:
    """Accept YYYY-MM-DD, YYYYMMDD, YYYY/MM/DD (+ ' HH:MM:SS' or 'THH:MM:SS'); NaT otherwise."""
    s = s.str.replace("T", " ", regex=False).str.replace("/", "-", regex=False)
    compact = s.str.match(r"^\d{8}")
    s = s.where(~compact, s.str[:4] + "-" + s.str[4:6] + "-" + s.str[6:])
    fmt = "%Y-%m-%d %H:%M:%S" if with_time else "%Y-%m-%d"
    return pd.to_datetime(s, format=fmt, errors="coerce")


def load_source(landing: Path, source: str) -> tuple[pd.DataFrame, dict]:
    """Reference loader: reject files missing a required column, quarantine unparseable rows,
    drop exact duplicates within a delivery (first file/line wins). Returns rows + counts."""
    src = contract.SOURCE_BY_NAME[source]
    cols = [c.name for c in src.columns]
    required = [c.name for c in src.columns if c.required]
    counts = {
        "rows": 0,
        "rejected": [],
        "duplicates": 0,
        "quarantined": {"bad_date": 0, "bad_amount": 0, "unknown_code": 0},
    }
    parts = []
    for period_dir in sorted((landing / source).iterdir()):
        for f in sorted(period_dir.iterdir()):
            df = read_any(f)
            counts["rows"] += len(df)
            missing = [c for c in required if c not in df.columns]
            if missing:
                counts["rejected"].append(
                    (f"{source}/{period_dir.name}/{f.name}", len(df), missing[0])
                )
                continue
            for c in cols:
                if c not in df:
                    df[c] = ""
            df = df[cols].copy()
            df["_period"] = period_dir.name
            df["_file"] = f.name
            parts.append(df)
    d = pd.concat(parts, ignore_index=True)
    reason = pd.Series("", index=d.index)
    parsed = {}
    for c in src.columns:
        if c.kind in ("date", "timestamp"):
            parsed[c.name] = parse_dt(d[c.name], c.kind == "timestamp")
            bad = (d[c.name] != "") & parsed[c.name].isna()
            reason = reason.where((reason != "") | ~bad, "bad_date")
    for c in src.columns:
        if c.kind == "money":
            bad = (d[c.name] != "") & ~d[c.name].str.fullmatch(r"-?\d+(\.\d{1,2})?")
            reason = reason.where((reason != "") | ~bad, "bad_amount")
    for c in src.columns:
        if c.enum:
            bad = (d[c.name] != "") & ~d[c.name].isin(c.enum)
            reason = reason.where((reason != "") | ~bad, "unknown_code")
    for r, n in reason[reason != ""].value_counts().items():
        counts["quarantined"][r] += int(n)
    good = reason == ""
    # duplicates are counted among parseable rows only (quarantined rows are never duplicates here)
    dup = (
        d[good]
        .duplicated(subset=cols + ["_period"], keep="first")
        .reindex(d.index, fill_value=False)
    )
    counts["duplicates"] = int(dup.sum())
    rows = d[good & ~dup].copy()
    for c in src.columns:
        if c.kind in ("date", "timestamp"):
            rows[c.name] = parsed[c.name][rows.index]
        elif c.kind == "money":
            rows[c.name] = pd.to_numeric(rows[c.name].replace("", np.nan))
    return rows.reset_index(drop=True), counts


def tree_hash(root: Path) -> dict:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# ── fixtures ────────────────────────────────────────────────────────────────────────────────


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    root = tmp_path_factory.mktemp("gen")
    landing = root / "landing"
    msgs = []
    summary = generate(
        landing, counties=COUNTIES, years=YEARS, scale=SCALE, seed=SEED, progress=msgs.append
    )
    truth = pd.read_csv(
        root / "ground_truth" / "indicators.csv", dtype={"area_code": str, "period": str}
    )
    defects = json.loads((root / "ground_truth" / "defects.json").read_text(encoding="utf-8"))
    meta = json.loads((root / "ground_truth" / "summary.json").read_text(encoding="utf-8"))
    loaded = {s.name: load_source(landing, s.name) for s in contract.SOURCES}
    return dict(
        root=root,
        landing=landing,
        summary=summary,
        truth=truth,
        defects=defects,
        meta=meta,
        loaded=loaded,
        msgs=msgs,
    )


# ── tests ───────────────────────────────────────────────────────────────────────────────────


def test_same_seed_gives_byte_identical_files(tmp_path):
    a = generate(
        tmp_path / "a" / "landing", counties=1, years=(2024,), scale=0.05, seed=5, progress=None
    )
    b = generate(
        tmp_path / "b" / "landing", counties=1, years=(2024,), scale=0.05, seed=5, progress=None
    )
    ha, hb = tree_hash(tmp_path / "a"), tree_hash(tmp_path / "b")
    assert ha == hb and len(ha) > 20
    assert a["files"] == b["files"]


def test_summary_and_layout(gen):
    s, landing = gen["summary"], gen["landing"]
    assert set(s) >= {"files", "rows", "seconds", "out", "truth_dir"}
    assert Path(s["truth_dir"]) == gen["root"] / "ground_truth"
    assert any("outpatient_visits" in m for m in gen["msgs"])
    for src in contract.SOURCES:
        periods = sorted(p.name for p in (landing / src.name).iterdir())
        if src.frequency == "annual":
            assert periods == [str(y) for y in YEARS], src.name
        else:
            assert periods == [f"{y}Q{q}" for y in YEARS for q in range(1, 5)], src.name
        for p in (landing / src.name).rglob("*"):
            if p.is_file():
                assert p.suffix in (".csv", ".xlsx", ".parquet"), p
    # rows of a quarterly file fall in its quarter
    v = gen["loaded"]["outpatient_visits"][0]
    q = v["visit_time"].dt.year.astype(str) + "Q" + v["visit_time"].dt.quarter.astype(str)
    assert (q == v["_period"]).all()
    s_ = gen["loaded"]["insurance_settlements"][0]
    q = s_["setl_time"].dt.year.astype(str) + "Q" + s_["setl_time"].dt.quarter.astype(str)
    assert (q == s_["_period"]).all()
    assert sum(s["rows"].values()) == sum(c["rows"] for _, c in gen["loaded"].values())


def test_encodings_formats_and_date_styles(gen):
    landing = gen["landing"]
    files = [p for p in landing.rglob("*") if p.is_file()]
    encs = {encoding_of(p) for p in files if p.suffix == ".csv"}
    assert encs == {"utf-8", "utf-8-sig", "gb18030"}
    assert any(p.suffix == ".xlsx" for p in (landing / "personnel").rglob("*"))
    assert any(p.suffix == ".parquet" for p in files)
    styles, seps = set(), set()
    for p in files:
        if p.suffix != ".csv" or "outpatient" in str(p) and len(styles) == 3:
            continue
        df = read_any(p)
        for col in ("visit_time", "setl_time", "death_date", "start_date", "requested_at"):
            if col in df and len(df):
                v = df[col].iloc[0]
                styles |= {k for k, rx in DATE_STYLES.items() if re.match(rx, v)}
                if len(v) > 10:
                    seps.add(v[8] if re.match(r"^\d{8}", v) else v[10])
    assert styles == {"iso", "compact", "slash"}
    assert seps == {"T", " "}
    # codes keep their leading zeros
    v = gen["loaded"]["outpatient_visits"][0]
    assert v["dept_code"].str.match(r"^0\d$").any()
    assert gen["loaded"]["inpatient_discharges"][0]["mr_no"].str.startswith("0").all()


def test_ids_valid_except_the_planted_ones(gen):
    for src in contract.SOURCES:
        col = next((c.name for c in src.columns if c.name in ID_COLS), None)
        if not col:
            continue
        rows, _ = gen["loaded"][src.name]
        bad = ~is_valid_id(rows[col])
        assert int(bad.sum()) == gen["defects"][src.name]["invalid_ids"], src.name
        assert rows[col].str.len().eq(18).all()
        if bad.any():  # an invalid id is the same person everywhere: one name/sex/birth date
            if "birth_date" in rows:
                assert rows[bad].groupby(col)["birth_date"].nunique().max() == 1
    assert gen["defects"]["outpatient_visits"]["invalid_ids"] > 0
    assert gen["defects"]["insurance_settlements"]["invalid_ids"] > 0
    # region prefix = the county code for residents
    v, _ = gen["loaded"]["chronic_disease_roster"]
    assert (v["id_no"].str[:6] == v["county_code"]).all()


def test_defect_counts_match_the_files(gen):
    d = gen["defects"]
    classes = {
        "duplicates": 0,
        "rejected": 0,
        **{r: 0 for r in ("bad_date", "bad_amount", "unknown_code")},
    }
    for src in contract.SOURCES:
        _, c = gen["loaded"][src.name]
        exp = d[src.name]
        assert c["rows"] == exp["rows_written"], src.name
        assert c["duplicates"] == exp["duplicates"], src.name
        assert c["quarantined"] == exp["quarantined"], src.name
        assert [(r["file"], r["rows"], r["missing_column"]) for r in exp["rejected_files"]] == c[
            "rejected"
        ], src.name
        assert exp["duplicates"] == exp["duplicates_within_file"] + exp["duplicates_across_files"]
        classes["duplicates"] += c["duplicates"]
        classes["rejected"] += len(c["rejected"])
        for r, n in c["quarantined"].items():
            classes[r] += n
    assert all(v > 0 for v in classes.values()), classes
    assert classes["rejected"] == 1
    assert (
        d["outpatient_visits"]["duplicates_within_file"] > 0
        and d["outpatient_visits"]["duplicates_across_files"] > 0
    )
    # per-file expectations add up
    files = pd.read_csv(gen["root"] / "ground_truth" / "files.csv")
    ok = files[files.status == "loaded"]
    assert (ok.rows_read == ok.rows_loaded + ok.rows_quarantined + ok.rows_duplicate).all()
    assert files.rows_read.sum() == sum(v["rows_written"] for v in d.values())


def test_reversals_same_and_earlier_quarter(gen):
    s, _ = gen["loaded"]["insurance_settlements"]
    rev = s[s["refd_setl_flag"] == "1"]
    orig = s.set_index("setl_id")
    assert rev["init_setl_id"].isin(orig.index).all()
    o = orig.loc[rev["init_setl_id"]]
    for col in ("medfee_sumamt", "hifp_pay", "fund_pay_sumamt", "acct_pay", "psn_cash_pay"):
        assert np.allclose(rev[col].to_numpy(), -o[col].to_numpy())
    assert (rev["setl_time"].dt.year.to_numpy() == o["setl_time"].dt.year.to_numpy()).all()
    same = rev["setl_time"].dt.quarter.to_numpy() == o["setl_time"].dt.quarter.to_numpy()
    d = gen["defects"]["insurance_settlements"]
    assert int(same.sum()) == d["reversals_same_quarter"] > 0
    assert int((~same).sum()) == d["reversals_earlier_quarter"] > 0
    # amounts are consistent: cost = funds + account + cash
    assert np.allclose(
        s["medfee_sumamt"], s["fund_pay_sumamt"] + s["acct_pay"] + s["psn_cash_pay"], atol=0.005
    )


def _registers(gen):
    f, _ = gen["loaded"]["facilities"]
    f = f.copy()
    f["year"] = f["_period"].astype(int)
    return f


def test_realism_from_files(gen):
    reg = _registers(gen)
    # nobody is admitted before birth (the loader quarantines it as implausible)
    d = gen["loaded"]["inpatient_discharges"][0]
    assert (d["birth_date"].dropna() <= d.loc[d["birth_date"].notna(), "admit_time"]).all()
    pop = gen["loaded"]["population"][0]
    pop["population"] = pop["population"].astype(int)
    v = gen["loaded"]["outpatient_visits"][0]
    v = v[v["cancel_flag"] == "0"].assign(year=v["visit_time"].dt.year)
    v = v.merge(
        reg[["org_code", "year", "county_code", "category_code", "is_tcm_class"]],
        on=["org_code", "year"],
    )
    v = v[~v["category_code"].isin(["P1", "J1"])]
    residents = pop["population"].sum()
    per_resident = len(v) / residents  # visits per resident-year (population summed over years)
    assert per_resident == pytest.approx(5.0 * SCALE * world.VOLUME_FACTOR, rel=0.15)
    primary = (
        v["category_code"].isin(["B1", "B2", "C1", "C21", "C22", "D1", "D2", "D3", "D5"]).mean()
    )
    assert 0.58 <= primary <= 0.67
    tcm = (
        v["category_code"].isin(["A2", "A3", "A4"])
        | (v["is_tcm_class"] == "1")
        | v["dept_code"].isin(["50", "51", "52"])
    ).mean()
    assert 0.12 <= tcm <= 0.19
    # in-county admissions of the county's insured (net settlements, pharmacy excluded)
    s = gen["loaded"]["insurance_settlements"][0]
    s = s[
        (s["med_type"].str.startswith("2") | (s["med_type"] == "52")) & (s["fixmedins_type"] != "2")
    ]
    s = s.assign(year=s["setl_time"].dt.year, sign=np.where(s["refd_setl_flag"] == "1", -1, 1))
    codes = reg[reg["fixmedins_code"] != ""][["fixmedins_code", "county_code", "year"]].rename(
        columns={"county_code": "fac_county"}
    )
    s = s.merge(codes, on=["fixmedins_code", "year"], how="left")
    own = s[
        s["insu_admdvs"].isin(reg["county_code"].unique())
        & s["insu_admdvs"].str.endswith(("21", "22", "23"))
    ]
    share = own.loc[own["fac_county"] == own["insu_admdvs"], "sign"].sum() / own["sign"].sum()
    assert 0.83 <= share <= 0.93
    # per-case inpatient cost by facility class (HIS front pages)
    d = gen["loaded"]["inpatient_discharges"][0]
    d = d.assign(year=d["discharge_time"].dt.year).merge(
        reg[["org_code", "year", "category_code"]], on=["org_code", "year"]
    )
    county_hosp = d.loc[d["category_code"] == "A1", "total_cost"].mean()
    township = d.loc[d["category_code"].isin(["C21", "C22"]), "total_cost"].mean()
    assert 6000 <= county_hosp <= 8000
    assert 2000 <= township <= 4500
    out_county = own[own["fac_county"].isna() & (own["refd_setl_flag"] == "0")][
        "medfee_sumamt"
    ].mean()
    assert out_county > county_hosp
    # in-county visits mostly by the county's own residents, some from elsewhere
    assert (v["id_no"].str[:6] == v["county_code"]).mean() > 0.9


def test_truth_shape(gen):
    t = gen["truth"]
    counties = sorted({c["code"] for c in gen["meta"]["counties"]})
    assert sorted(t.area_code.unique()) == counties
    assert not t.duplicated(["area_code", "period", "indicator_code"]).any()
    quarterly = [
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
    annual = ["I01", "I02", "I03", "I04", "I06", "I14", "I14p", "S03"]
    per = t.groupby("indicator_code").period.nunique()
    for code in quarterly:
        assert per[code] == 5 * len(YEARS), code
    for code in annual:
        assert per[code] == len(YEARS), code
    # YYYYQ4 equals YYYY
    a = t[t.period.str.len() == 4].set_index(["area_code", "period", "indicator_code"])
    q4 = (
        t[t.period.str.endswith("Q4")]
        .assign(period=lambda x: x.period.str[:4])
        .set_index(["area_code", "period", "indicator_code"])
    )
    pd.testing.assert_frame_equal(
        q4.loc[q4.index.isin(a.index)].sort_index(), a.loc[a.index.isin(q4.index)].sort_index()
    )
    assert t[t.indicator_code == "I14p"].value.isna().all()  # only two years
    first, second = (
        t[t.period.str.startswith(str(YEARS[0]))],
        t[t.period.str.startswith(str(YEARS[1]))],
    )
    assert first[first.indicator_code == "I10b"].value.isna().all()
    assert second[second.indicator_code == "I10b"].value.notna().all()
    qual = t[t.indicator_code.isin(["I01", "I02", "I03"])]
    assert set(qual.status) <= {"达标", "部分达标", "未达标"} and qual.status.notna().all()
    assert t[~t.indicator_code.isin(["I01", "I02", "I03"])].status.isna().all()
    i14 = t[t.indicator_code == "I14"].value
    assert i14.between(0.08, 0.25).all()
    i11 = t[(t.indicator_code == "I11") & (t.period.str.len() == 4)].value
    assert i11.between(0.8, 0.95).all()
    # the second county's ECG centre starts in April of the last year: no ECG report before
    i05b = t[(t.indicator_code == "I05b")].set_index(["area_code", "period"]).value
    second = sorted(t.area_code.unique())[1]
    assert i05b[(second, f"{YEARS[-1]}Q1")] == 0 and i05b[(second, str(YEARS[-1]))] > 0
    assert (t[t.indicator_code == "I05a"].value > 0).all()


def test_truth_agrees_with_a_reference_computation_from_files(gen):
    """I07, I12, I08, I11 and I13 recomputed from the files (after quarantine and de-duplication)."""
    t = gen["truth"].set_index(["area_code", "period", "indicator_code"])
    reg = _registers(gen)
    v = gen["loaded"]["outpatient_visits"][0]
    v = v[v["cancel_flag"] == "0"].assign(year=v["visit_time"].dt.year)
    v = v.merge(reg, on=["org_code", "year"])
    v = v[~v["category_code"].isin(["P1", "J1"])]
    s = gen["loaded"]["insurance_settlements"][0]
    s = s[s["fixmedins_type"] != "2"]
    s = s.assign(year=s["setl_time"].dt.year, sign=np.where(s["refd_setl_flag"] == "1", -1, 1))
    inp = s["med_type"].str.startswith("2") | (s["med_type"] == "52")
    r, _ = gen["loaded"]["chronic_disease_roster"]
    d, _ = gen["loaded"]["inpatient_discharges"]
    checked = 0
    for c in t.index.get_level_values(0).unique():
        for y in YEARS:
            vc = v[(v["county_code"] == c) & (v["year"] == y)]
            prim = (
                vc["category_code"]
                .isin(["B1", "B2", "C1", "C21", "C22", "D1", "D2", "D3", "D5"])
                .sum()
            )
            tcm = (
                vc["category_code"].isin(["A2", "A3", "A4"])
                | (vc["is_tcm_class"] == "1")
                | vc["dept_code"].isin(["50", "51", "52"])
            ).sum()
            assert t.loc[(c, str(y), "I07"), "numerator"] == prim
            assert t.loc[(c, str(y), "I07"), "denominator"] == len(vc)
            assert t.loc[(c, str(y), "I12"), "numerator"] == tcm
            codes = set(reg[(reg["county_code"] == c) & (reg["year"] == y)]["fixmedins_code"]) - {
                ""
            }
            sc = s[(s["insu_admdvs"] == c) & (s["year"] == y)]
            inc = sc["fixmedins_code"].isin(codes)
            assert t.loc[(c, str(y), "I08"), "numerator"] == pytest.approx(
                sc.loc[inc, "hifp_pay"].sum(), abs=0.01
            )
            assert t.loc[(c, str(y), "I08"), "denominator"] == pytest.approx(
                sc["hifp_pay"].sum(), abs=0.01
            )
            ic = inp.loc[sc.index]
            assert t.loc[(c, str(y), "I11"), "numerator"] == sc.loc[ic & inc, "sign"].sum()
            assert t.loc[(c, str(y), "I11"), "denominator"] == sc.loc[ic, "sign"].sum()
            cohort = set(
                r[
                    (r["county_code"] == c)
                    & (r["year"] == str(y))
                    & (r["managed_at_year_end"] == "1")
                ]["id_no"]
            )
            assert t.loc[(c, str(y), "I13"), "denominator"] == len(cohort)
            his = set(d[(d["discharge_time"].dt.year == y) & d["id_no"].isin(cohort)]["id_no"])
            orig = s[(s["year"] == y) & inp.loc[s.index]]
            reversed_ = set(orig.loc[orig["refd_setl_flag"] == "1", "init_setl_id"])
            outside = orig[
                (orig["refd_setl_flag"] == "0")
                & ~orig["setl_id"].isin(reversed_)
                & ~orig["fixmedins_code"].isin(codes)
                & orig["certno"].isin(cohort)
            ]
            assert t.loc[(c, str(y), "I13x"), "numerator"] == len(his | set(outside["certno"]))
            checked += 1
    assert checked == COUNTIES * len(YEARS)


def test_truth_i04_i06_i14_from_files(gen):
    t = gen["truth"].set_index(["area_code", "period", "indicator_code"])
    reg = _registers(gen)
    disp, _ = gen["loaded"]["dispatches"]
    pers, _ = gen["loaded"]["personnel"]
    deaths, _ = gen["loaded"]["deaths"]
    pop, _ = gen["loaded"]["population"]
    pop["population"] = pop["population"].astype(int)
    primary = ["B1", "B2", "C1", "C21", "C22", "D1", "D2", "D3", "D5"]
    for c in t.index.get_level_values(0).unique():
        for y in YEARS:
            rc = reg[(reg["county_code"] == c) & (reg["year"] == y)]
            # I04: annual, the year's ledger only, days >= 180 without pro-rating
            d = disp[
                (disp["_period"] == str(y))
                & (disp["dispatch_type"] == "long_term")
                & disp["practice_type"].isin(["11", "12"])
                & disp["title_post"].isin(["1", "2", "3"])
                & (disp["home_org_level"].astype(int) >= 2)
                & disp["host_org_code"].isin(rc.loc[rc["category_code"].isin(primary), "org_code"])
            ]
            start, end = pd.Timestamp(y, 1, 1), pd.Timestamp(y, 12, 31)
            days = (
                d["end_date"].fillna(end).clip(upper=end) - d["start_date"].clip(lower=start)
            ).dt.days + 1
            per = days.clip(lower=0).groupby(d["physician_id_no"]).sum()
            assert t.loc[(c, str(y), "I04"), "numerator"] == (per >= 180).sum(), (c, y)
            assert (c, f"{y}Q2", "I04") not in t.index
            popc = pop[(pop["county_code"] == c) & (pop["year"] == str(y))]
            assert t.loc[(c, str(y), "I04"), "denominator"] == pytest.approx(
                popc["population"].sum() / 1e4
            )
            # I06
            p = pers[pers["_period"] == str(y)].merge(rc, on="org_code")
            p = p[(p["on_post"] == "1") & p["annual_income"].notna()]
            prim = (
                p["category_code"].isin(primary)
                & (p["ownership"] == "public")
                & (p["consortium_code"] != "")
            )
            lead = p["is_lead_hospital"] == "1"
            assert t.loc[(c, str(y), "I06"), "numerator"] == pytest.approx(
                p.loc[prim, "annual_income"].mean(), abs=1e-6
            )
            assert t.loc[(c, str(y), "I06"), "denominator"] == pytest.approx(
                p.loc[lead, "annual_income"].mean(), abs=1e-6
            )
            # I14 life table
            dd = deaths[
                (deaths["residence_county_code"] == c) & (deaths["death_date"].dt.year == y)
            ]
            age = (
                dd["death_date"].dt.year
                - dd["birth_date"].dt.year
                - (
                    (dd["death_date"].dt.month * 100 + dd["death_date"].dt.day)
                    < (dd["birth_date"].dt.month * 100 + dd["birth_date"].dt.day)
                ).astype(int)
            )
            code = dd["underlying_cause"]
            n = pd.to_numeric(code.str[1:3], errors="coerce")
            four = (
                ((code.str[0] == "I") & n.between(0, 99))
                | ((code.str[0] == "C") & n.between(0, 97))
                | ((code.str[0] == "E") & n.between(10, 14))
                | ((code.str[0] == "J") & n.between(30, 98))
            )
            prob = 1.0
            for a in range(30, 70, 5):
                deaths_a = (four & age.between(a, a + 4)).sum()
                pop_a = popc.loc[popc["age_group"] == f"{a}-{a + 4}", "population"].sum()
                m = deaths_a / pop_a
                prob *= 1 - 5 * m / (1 + 2.5 * m)
            assert t.loc[(c, str(y), "I14"), "value"] == pytest.approx(1 - prob, abs=1e-12)


def test_planted_i04_cases_are_in_the_ledgers(gen):
    """The 179/180/181-day edge and the open-ended record of one ledger followed by a short
    record of the same physician in the next ledger (it must not carry over)."""
    disp, _ = gen["loaded"]["dispatches"]
    disp = disp[disp["dispatch_type"] == "long_term"]
    days = (disp["end_date"] - disp["start_date"]).dt.days + 1
    one_year = disp["start_date"].dt.year == disp["end_date"].dt.year
    for n in (179, 180, 181):
        assert ((days == n) & one_year).sum() >= COUNTIES * len(YEARS), n
    first, second = str(YEARS[0]), str(YEARS[1])
    open_first = disp[(disp["_period"] == first) & disp["end_date"].isna()]
    in_second = disp[disp["_period"] == second]
    carried = open_first[~open_first["dispatch_id"].isin(in_second["dispatch_id"])]
    again = in_second[in_second["physician_id_no"].isin(carried["physician_id_no"])]
    assert len(carried) >= COUNTIES and len(again) >= COUNTIES


def test_planted_remote_cases_and_i05_from_files(gen):
    """Every modality; the kinds of request that must not count; reports in the next quarter and
    the next year; I05a/I05b of the truth recomputed from the files."""
    t = gen["truth"].set_index(["area_code", "period", "indicator_code"])
    reg = _registers(gen)
    r, _ = gen["loaded"]["remote_diagnoses"]
    assert set(r["modality"]) == set(contract.MODALITIES)
    r = r.assign(year=r["reported_at"].dt.year)
    fac = reg[["org_code", "year", "county_code", "is_imaging_center", "is_ecg_center"]]
    r = r.merge(
        fac.rename(columns={"org_code": "center_org_code", "county_code": "centre_county"}),
        on=["center_org_code", "year"],
        how="left",
    )
    r = r.merge(
        fac[["org_code", "year", "county_code"]].rename(
            columns={"org_code": "requesting_org_code", "county_code": "requester_county"}
        ),
        on=["requesting_org_code", "year"],
        how="left",
    )
    centre = (r["is_imaging_center"] == "1") | (r["is_ecg_center"] == "1")
    own = r["requesting_org_code"] == r["center_org_code"]
    assert r["reported_at"].isna().any()  # unreported
    assert (own & centre).any()  # the centre's own requests
    assert (
        centre & r["requester_county"].notna() & (r["requester_county"] != r["centre_county"])
    ).any()
    assert (r["reported_at"].notna() & ~centre).any()  # a facility that is not a centre
    assert (
        r["reported_at"].notna() & (r["reported_at"].dt.quarter != r["requested_at"].dt.quarter)
    ).any()
    assert (r["reported_at"].dt.year > r["requested_at"].dt.year).any()
    counted = r[centre & ~own & (r["requester_county"] == r["centre_county"])]
    pop, _ = gen["loaded"]["population"]
    pop["population"] = pop["population"].astype(int)
    for c in t.index.get_level_values(0).unique():
        for y in YEARS:
            for q in (1, 4):
                k = counted[
                    (counted["centre_county"] == c)
                    & (counted["year"] == y)
                    & (counted["reported_at"].dt.quarter <= q)
                ]
                den = (
                    pop[(pop["county_code"] == c) & (pop["year"] == str(y))]["population"].sum()
                    / 1e4
                )
                period = f"{y}Q{q}"
                assert t.loc[(c, period, "I05a"), "numerator"] == len(k), (c, period)
                assert t.loc[(c, period, "I05b"), "numerator"] == (k["modality"] == "ECG").sum(), (
                    c,
                    period,
                )
                assert t.loc[(c, period, "I05a"), "denominator"] == pytest.approx(den)


def test_delivery_writer_accounts_duplicates_across_and_within_files(tmp_path):
    """Rows added file by file are compared by hash at close; counts worked out by hand."""
    from orchestration.generate.writer import DeliveryWriter, FileSpec, Ledger

    def rows(*ids):
        t = pd.Timestamp("2024-03-01 08:00:00")
        return pd.DataFrame(
            {
                "request_id": list(ids),
                "requesting_org_code": "A",
                "center_org_code": "B",
                "modality": "ECG",
                "requested_at": t,
                "reported_at": t,
            }
        )

    ledger = Ledger()
    w = DeliveryWriter(tmp_path, "remote_diagnoses", "2024Q1", ledger, np.random.default_rng(1))
    # added out of name order: "a" sorts first, so its r2 is the original and b's the copy
    w.add(FileSpec("b.csv", rows("r2", "r3", "r3", "r4")))
    w.add(FileSpec("a.csv", rows("r1", "r2")))
    w.close()
    st = ledger.sources["remote_diagnoses"]
    assert (st["files"], st["rows_written"], st["rows_loaded"]) == (2, 6, 4)
    assert (st["duplicates"], st["duplicates_across_files"], st["duplicates_within_file"]) == (
        2,
        1,
        1,
    )
    per = {f["file"].rsplit("/", 1)[1]: f for f in ledger.files}
    assert (per["a.csv"]["rows_loaded"], per["a.csv"]["rows_duplicate"]) == (2, 0)
    assert (per["b.csv"]["rows_loaded"], per["b.csv"]["rows_duplicate"]) == (2, 2)
    written = pd.read_csv(tmp_path / "remote_diagnoses" / "2024Q1" / "b.csv", dtype=str)
    assert list(written["request_id"]) == ["r2", "r3", "r3", "r4"]


def test_settlement_files_hold_the_insured_and_the_treated_copies(gen):
    """Each county's settlement file: its insured wherever treated, the insured of places
    outside the generated counties treated in it, and a copy of each generated county's insured
    treated in it (also in the insured county's file) — checked on every row written."""
    codes = {c["code"] for c in gen["meta"]["counties"]}
    files = sorted((gen["landing"] / "insurance_settlements").glob("*/setl_*.csv"))
    raw = pd.concat([read_any(f).assign(_file=f.name) for f in files], ignore_index=True)
    here = raw["_file"].str.extract(r"^setl_(\d{6})_")[0]
    insu, treated = raw["insu_admdvs"], raw["mdtrtarea_admdvs"]
    own = (insu == here) | (~insu.isin(codes) & (treated == here))
    copy = insu.isin(codes) & (insu != here) & (treated == here)
    assert (own | copy).all()
    assert copy.sum() > 10
    # a copy (not a planted quarantine row, whose id is fresh) is also in its insured's file
    loaded, _ = gen["loaded"]["insurance_settlements"]
    in_files = raw.groupby("setl_id")["_file"].agg(set)
    copies = raw[copy & raw["setl_id"].isin(loaded["setl_id"])]
    assert len(copies) > 10
    for sid, home, there in zip(copies["setl_id"], copies["insu_admdvs"], copies["_file"]):
        assert f"setl_{home}_{there.split('_')[2]}" in in_files[sid]
    # rows are in settlement-time order within each file
    for _, g in loaded.groupby("_file"):
        assert g["setl_time"].dropna().is_monotonic_increasing


def test_file_parts_keep_pieces_per_key_in_order(tmp_path):
    from orchestration.generate.writer import FileParts

    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "left-by-an-interrupted-run.pkl").write_bytes(b"x")
    parts = FileParts(tmp_path / "parts")
    assert list((tmp_path / "parts").iterdir()) == []
    a1, b1, a2 = (pd.DataFrame({"v": [i, i + 1]}) for i in (1, 10, 3))
    parts.add("a", a1)
    parts.add("b", b1)
    parts.add("a", a2)
    got = parts.take("a")
    assert [list(p["v"]) for p in got] == [[1, 2], [3, 4]]
    assert parts.take("a") == []
    parts.add("c", a1)  # a key opened after another was taken gets a file of its own
    assert [list(p["v"]) for p in parts.take("b")] == [[10, 11]]
    assert [list(p["v"]) for p in parts.take("c")] == [[1, 2]]
    parts.close()
    assert not (tmp_path / "parts").exists()


def test_no_production_module_imports_the_ground_truth():
    """The ground truth is the oracle: the warehouse side must not compute indicators with it.
    Only the generator itself (which writes ground_truth/) may import it; compare.py reads the
    written indicators.csv."""
    import ast

    from orchestration.settings import PROJECT_DIR

    package = PROJECT_DIR / "orchestration"
    offenders = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package)
        if rel.parts[0] == "generate" and rel.name != "compare.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            if any(n.startswith("orchestration.generate.truth") for n in names):
                offenders.append(str(rel))
    assert offenders == []


def test_csv_joined_by_arrow_is_what_pandas_writes(tmp_path):
    """The writer joins plain text with Arrow; a file with a cell pandas would quote (comma,
    quote, line end) or a column that is not text is left to pandas. Either way the bytes are
    pandas' own, in every encoding the generator writes."""
    from orchestration.generate.writer import FileSpec, _write_csv, _write_one

    frames = {
        "plain": pd.DataFrame({"a": ["x", None, "中文"], "b": ["1", "", "2024-01-01 08:00:00"]}),
        "empty": pd.DataFrame({"a": pd.Series([], dtype=str), "b": pd.Series([], dtype=str)}),
        "comma": pd.DataFrame({"a": ["x,y", "z"], "b": ["1", "2"]}),
        "quote": pd.DataFrame({"a": ['say "hi"', "z"], "b": ["1", "2"]}),
        "newline": pd.DataFrame({"a": ["x\ny", "z"], "b": ["1", "2"]}),
        "number": pd.DataFrame({"a": [1, 2], "b": ["1", "2"]}),
        "one column": pd.DataFrame({"a": ["", "x"]}),
    }
    for name, df in frames.items():
        for encoding in ("utf-8", "utf-8-sig", "gb18030"):
            ours, theirs = tmp_path / "ours.csv", tmp_path / "theirs.csv"
            _write_one(ours, df, FileSpec("ours.csv", None, encoding=encoding))
            with open(theirs, "w", encoding=encoding, newline="") as fh:
                df.to_csv(fh, index=False, lineterminator="\n")
            assert ours.read_bytes() == theirs.read_bytes(), (name, encoding)
        joined = _write_csv(tmp_path / "probe.csv", df, "utf-8")
        assert joined == (name in ("plain", "empty")), name
