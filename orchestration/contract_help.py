"""`ygt contract`: the raw contract as a person reads it — sources, columns, the date formats
and flag values the loader accepts, the other spellings it maps (aliases), what every code means.

Everything comes from `orchestration/contract.py` (columns, kinds, codes, aliases), the loader's
own format lists (`orchestration/land/parse.py`) and the seeds where a code has one (facility
categories, assessor levels, qualitative items, indicators). Codes of national standards that no
seed holds (病案首页, 卫统, 医保 code sets) are explained in `STANDARD_CODES` below.
"""

from __future__ import annotations

import csv
from datetime import datetime

from orchestration import contract
from orchestration.settings import PROJECT_DIR

KIND_WORDS = {
    "code": "code (text; leading zeros kept)",
    "text": "text",
    "int": "whole number",
    "flag": "flag",
    "date": "date",
    "timestamp": "date and time",
    "money": "amount in yuan (at most 2 decimals)",
    "pii_hash": "personal identifier",
    "pii_drop": "personal name",
}

# Codes of national standards no seed holds, by column name: code -> meaning.
STANDARD_CODES: dict[str, dict[str, str]] = {
    "hospital_level": {"1": "一级 level 1", "2": "二级 level 2", "3": "三级 level 3"},
    "home_org_level": {"1": "一级 level 1", "2": "二级 level 2", "3": "三级 level 3"},
    "ownership": {"public": "公立 public", "private": "非公立 private"},
    "sex": {  # population counts: 1/2; persons: GB/T 2261.1
        "0": "未知的性别 unknown",
        "1": "男 male",
        "2": "女 female",
        "9": "未说明的性别 unspecified",
    },
    "gend": {},  # the insurance extract's sex: filled from "sex" below
    "practice_type": {  # 从事专业类别代码 (卫统2); 51 and 61 are this project's earlier codes
        "11": "执业医师 licensed physician",
        "12": "执业助理医师 assistant physician",
        "13": "见习医师 physician in training",
        "21": "注册护士 registered nurse",
        "22": "助产士 midwife",
        "31": "西药师（士） pharmacist",
        "32": "中药师（士） TCM pharmacist",
        "41": "检验技师（士） laboratory technician",
        "42": "影像技师（士） imaging technician",
        "50": "卫生监督员 health inspector",
        "51": "乡村医生 village doctor (earlier code)",
        "61": "管理人员 administrator (earlier code; 80 in 卫统2)",
        "69": "其他卫生技术人员 other health technician",
        "70": "其他技术人员 other technical staff",
        "80": "管理人员 administrator",
        "90": "工勤技能人员 support staff",
    },
    "title_post": {  # 专业技术职务（聘）
        "1": "正高 senior (full)",
        "2": "副高 senior (associate)",
        "3": "中级 intermediate",
        "4": "师级/助理 junior",
        "5": "士级 assistant",
        "6": "待聘 not appointed",
        "9": "待聘 not appointed (earlier code; 6 in 卫统2)",
    },
    "dispatch_type": {"long_term": "长期派驻 long-term", "rotation": "轮岗 rotation"},
    "visit_type": {
        "outpatient": "门诊 outpatient",
        "emergency": "急诊 emergency",
        "home_visit": "出诊 home visit",
        "health_check": "体检 health check",
    },
    "discharge_way": {  # 病案首页 离院方式
        "1": "医嘱离院 discharged on advice",
        "2": "医嘱转院 transferred to another hospital",
        "3": "医嘱转社区/乡镇卫生院 referred down to a community or township centre",
        "4": "非医嘱离院 left against advice",
        "5": "死亡 died",
        "9": "其他 other",
    },
    "pay_method": {  # 病案首页 医疗付费方式
        "1": "城镇职工基本医疗保险 employee basic insurance",
        "2": "城乡居民基本医疗保险 resident basic insurance",
        "3": "新型农村合作医疗 rural cooperative scheme",
        "4": "贫困救助 poverty relief",
        "5": "商业医疗保险 commercial insurance",
        "6": "全公费 fully publicly paid",
        "7": "全自费 fully self-paid",
        "8": "其他社会保险 other social insurance",
        "9": "其他 other",
    },
    "fixmedins_type": {"1": "定点医疗机构 medical facility", "2": "定点零售药店 pharmacy"},
    "disease": {"HTN": "高血压 hypertension", "T2DM": "2型糖尿病 type 2 diabetes"},
    "modality": {
        "IMAGING": "影像 imaging (DR/CT/MR)",
        "ULTRASOUND": "超声 ultrasound",
        "ECG": "心电 ECG",
        "NUCLEAR": "核医学 nuclear medicine",
        "EMG": "肌电 EMG",
        "EEG": "脑电 EEG",
        "OTHER": "其他 other",
    },
}


STANDARD_CODES["gend"] = STANDARD_CODES["sex"]


def _seed(name: str) -> list[dict]:
    with open(PROJECT_DIR / "seeds" / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def seed_codes() -> dict[str, dict[str, str]]:
    """Column name -> code -> meaning, from the seeds that define codes."""
    cats = {
        r["category_code"]: f"{r['name_zh']} {r['name_en']}"
        for r in _seed("facility_categories.csv")
    }
    levels = {r["assessor_level"]: r["name_zh"] for r in _seed("assessor_levels.csv")}
    indicators = {
        r["indicator_code"]: f"{r['name_zh']} {r['name_en']}"
        for r in _seed("indicator_definitions.csv")
    }
    return {"category_code": cats, "assessor_level": levels, "indicator_code": indicators}


def meanings(column: contract.Column, seeded: dict[str, dict[str, str]]) -> dict[str, str]:
    if column.kind == "flag":
        return {"1": "是 yes", "0": "否 no"}
    if column.name == "age_group":
        return {g: "age " + g.replace("85+", "85 and over") for g in column.enum or ()}
    table = seeded.get(column.name) or STANDARD_CODES.get(column.name) or {}
    return {code: table.get(code, "") for code in column.enum or ()}


PATTERN_WORDS = {
    "%Y": "YYYY",
    "%m": "MM",
    "%d": "DD",
    "%H": "hh",
    "%M": "mm",
    "%S": "ss",
    "%f": "ffffff",
}


def _formats(fmts) -> str:
    """`YYYY-MM-DD (2024-03-05)`, … for the loader's strptime formats."""
    example = datetime(2024, 3, 5, 14, 30, 0)
    out = []
    for f in fmts:
        words = f
        for code, word in PATTERN_WORDS.items():
            words = words.replace(code, word)
        out.append(f"{words} ({example.strftime(f)})")
    return ", ".join(out)


def render() -> str:
    from orchestration.land.parse import DATE_FORMATS, TIMESTAMP_FORMATS

    seeded = seed_codes()
    out = [
        "Raw data contract: <landing>/<source>/<period>/<files>.csv|xlsx|parquet",
        "  periods: YYYY for annual sources, YYYYQn for quarterly ones (2024, 2024Q2)",
        f"  dates accepted: {_formats(DATE_FORMATS)}",
        f"  date-times accepted: {_formats(TIMESTAMP_FORMATS)}",
        "  flags: 1 = 是 yes, 0 = 否 no; also accepted: "
        + ", ".join(f"{a} = {c}" for a, c in contract.FLAG_ALIASES),
        "  amounts: yuan with at most 2 decimals; empty cells load as empty (NULL)",
        "  personal identifiers are replaced by a keyed hash at landing; names are dropped",
        "",
    ]
    for src in contract.SOURCES:
        period = "YYYY" if src.frequency == "annual" else "YYYYQn"
        out.append(f"{src.name}/{period}/  — {src.doc}")
        for col in src.columns:
            flags = [KIND_WORDS.get(col.kind, col.kind)]
            if not col.required:
                flags.append("optional")
            if col.kind == "pii_hash":
                flags.append(f"stored only as keyed hash {col.hash_as}")
            if col.kind == "pii_drop":
                flags.append("dropped at landing")
            if col.kind == "flag":
                flags.append("1 / 0 (是/否, Y/N accepted)")
            out.append(f"    {col.name:<22} {', '.join(flags)}")
            if col.enum and col.kind != "flag":
                means = meanings(col, seeded)
                width = max(len(c) for c in col.enum)
                for code in col.enum:
                    out.append(f"        {code:<{width}}  {means.get(code, '')}".rstrip())
                if any(c in col.enum for _, c in col.aliases):
                    out.append(
                        "        also accepted: "
                        + ", ".join(f"{a} = {c}" for a, c in col.aliases if c in col.enum)
                    )
        out.append("")
    return "\n".join(out).rstrip() + "\n"
