"""The script a county statistician writes today: I07, I08, I11 and I12 from the landing files.

    python bench/pandas_peer.py LANDING YEAR

Plain pandas, no warehouse: read the year's facility register, outpatient visits and insurance
settlements (CSV in UTF-8 or GB18030, Parquet, xlsx), drop exact duplicate rows, and compute the
four shares per county. It does none of the warehouse's contract work (no quarantine with line
numbers, no identifier hashing, no audit, no quality gates, no roll-ups): the benchmark times it
beside the pipeline as the peer a county's run must not be slower than. Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd

PRIMARY = {"B1", "B2", "C1", "C21", "C22", "D1", "D2", "D3", "D5"}
TCM = {"A2", "A3", "A4"}


def read(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path).astype(str)
    if path.suffix == ".xlsx":
        return pd.read_excel(path, dtype=str)
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except UnicodeDecodeError:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="gb18030")


def read_source(landing: Path, source: str, periods: list[str], columns: list[str]) -> pd.DataFrame:
    parts = []
    for period in periods:
        for f in sorted((landing / source / period).glob("*")):
            df = read(f)
            if all(c in df.columns for c in columns):
                parts.append(df[columns])
    return pd.concat(parts, ignore_index=True).drop_duplicates()


def main(landing: Path, year: int) -> dict:
    t0 = time.perf_counter()
    quarters = [f"{year}Q{q}" for q in range(1, 5)]
    reg = read_source(
        landing,
        "facilities",
        [str(year)],
        ["org_code", "fixmedins_code", "county_code", "category_code", "is_tcm_class"],
    )
    visits = read_source(
        landing, "outpatient_visits", quarters, ["org_code", "visit_id", "dept_code", "cancel_flag"]
    )
    setl = read_source(
        landing,
        "insurance_settlements",
        quarters,
        [
            "setl_id",
            "insu_admdvs",
            "fixmedins_code",
            "fixmedins_type",
            "med_type",
            "hifp_pay",
            "refd_setl_flag",
        ],
    )
    rows = len(reg) + len(visits) + len(setl)
    v = visits[visits["cancel_flag"] != "1"].merge(reg, on="org_code")
    v = v[~v["category_code"].isin({"P1", "J1"})]
    v["primary"] = v["category_code"].isin(PRIMARY)
    v["tcm"] = (
        v["category_code"].isin(TCM)
        | (v["is_tcm_class"] == "1")
        | v["dept_code"].isin({"50", "51", "52"})
    )
    by_county = v.groupby("county_code").agg(
        visits=("org_code", "size"), primary=("primary", "sum"), tcm=("tcm", "sum")
    )
    s = setl[setl["fixmedins_type"] != "2"].copy()
    s["fund"] = pd.to_numeric(s["hifp_pay"], errors="coerce").fillna(0)
    s["sign"] = (s["refd_setl_flag"] == "1").map({True: -1, False: 1})
    s["inpatient"] = s["med_type"].str.startswith("2") | (s["med_type"] == "52")
    codes = reg[reg["fixmedins_code"] != ""][["fixmedins_code", "county_code"]].drop_duplicates(
        "fixmedins_code"
    )
    s = s.merge(
        codes.rename(columns={"county_code": "facility_county"}), on="fixmedins_code", how="left"
    )
    s["in_county"] = s["facility_county"] == s["insu_admdvs"]
    result = {}
    for county, g in s.groupby("insu_admdvs"):
        if county not in by_county.index:
            continue
        c = by_county.loc[county]
        inp = g[g["inpatient"]]
        result[county] = {
            "I07": c["primary"] / c["visits"],
            "I12": c["tcm"] / c["visits"],
            "I08": g.loc[g["in_county"], "fund"].sum() / g["fund"].sum(),
            "I11": inp.loc[inp["in_county"], "sign"].sum() / inp["sign"].sum(),
        }
    return {"rows": rows, "counties": len(result), "seconds": time.perf_counter() - t0}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), int(sys.argv[2]))))
