"""The raw data contract in code: one place that says what lands and how it is typed.

Everything that touches raw data reads this module: the generator writes these columns,
the loader checks and parses them, the quality catalogue refers to them, and
`ygt contract --dbt-sources` renders `models/staging/_sources.yml` from it.
`ygt contract` prints it; docs/architecture.md ("Raw schema") describes what landing makes of it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field

from orchestration.settings import PROJECT_DIR

# Column kinds. `code` stays text (leading zeros matter); `pii_hash` is replaced by a keyed
# hash under `hash_as`; `pii_drop` (names) never enters the warehouse.
KINDS = ("code", "text", "int", "flag", "date", "timestamp", "money", "pii_hash", "pii_drop")

# DuckDB type of each kind after landing.
DUCKDB_TYPE = {
    "code": "VARCHAR",
    "text": "VARCHAR",
    "int": "BIGINT",
    "flag": "SMALLINT",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "money": "DECIMAL(18,2)",
    "pii_hash": "VARCHAR",
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str = "code"
    required: bool = True  # the column must be present in the file header
    enum: tuple[str, ...] | None = None  # allowed values; anything else is quarantined
    hash_as: str | None = None  # for pii_hash: name of the hashed column in raw.*
    doc: str = ""
    # other spellings of enum / flag values that mean a contract code (男 -> 1, 是 -> 1, 01 -> 1):
    # mapped before the value is checked, so they load as the code
    aliases: tuple[tuple[str, str], ...] = ()
    # other spellings of the column's name in the contract layout's header (mdtrtarea_admvs)
    also_named: tuple[str, ...] = ()


@dataclass(frozen=True)
class Source:
    name: str  # folder name under <landing>/ and table name in schema raw
    frequency: str  # "annual" -> period YYYY, "quarterly" -> period YYYYQn
    system: str  # the sending system, used in staging model names stg_<system>__<entity>
    entity: str
    columns: tuple[Column, ...]
    doc: str = ""
    # columns that together identify a row within one delivery (documentation + quality checks)
    natural_key: tuple[str, ...] = field(default_factory=tuple)

    @property
    def staging_model(self) -> str:
        return f"stg_{self.system}__{self.entity}"

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


FLAG = ("0", "1")
# flags as county offices write them (是/否, Y/N)
FLAG_ALIASES = (("是", "1"), ("否", "0"), ("Y", "1"), ("N", "0"), ("y", "1"), ("n", "0"))
SEX = ("1", "2")  # population counts: male, female
# a person's sex, GB/T 2261.1: 0 unknown, 1 male, 2 female, 9 unspecified; 男/女 accepted
PERSON_SEX = ("0", "1", "2", "9")
SEX_ALIASES = (("男", "1"), ("女", "2"))


def seed_codes(seed: str, column: str) -> tuple[str, ...]:
    """The codes of a reference seed (seeds/<seed>.csv), so a code list has one definition."""
    with (PROJECT_DIR / "seeds" / f"{seed}.csv").open(encoding="utf-8", newline="") as fh:
        return tuple(row[column] for row in csv.DictReader(fh))


# WS 218-2002 four-character categories (A100 ... Q900) and this project's earlier short codes
# (A1, C21, D5 = 村卫生室, P1 = 零售药店 ...), with their flags: seeds/facility_categories.csv
FACILITY_CATEGORIES = seed_codes("facility_categories", "category_code")
# 卫统2 从事专业类别代码: 11 执业医师, 12 执业助理医师, 13 见习医师, 21 注册护士, 22 助产士,
# 31 西药师(士), 32 中药师(士), 41 检验技师(士), 42 影像技师(士), 50 卫生监督员,
# 69 其他卫生技术人员, 70 其他技术人员, 80 管理人员, 90 工勤技能人员; this project's earlier
# 51 乡村医生 and 61 管理 stay accepted
PRACTICE_TYPES = (
    "11", "12", "13", "21", "22", "31", "32", "41", "42", "50", "51", "61", "69", "70", "80", "90",
)  # fmt: skip
# 专业技术职务(聘): 1 正高, 2 副高, 3 中级, 4 师级/助理, 5 士级, 6 待聘; 9 = 待聘 in this project's
# earlier code (still accepted)
TITLE_POSTS = ("1", "2", "3", "4", "5", "6", "9")
# 医疗付费方式 (front page): 1-9; the two-digit forms 01-08 and 99 are the same codes
PAY_METHODS = tuple("123456789")
PAY_METHOD_ALIASES = tuple((f"0{d}", d) for d in "12345678") + (("99", "9"),)
# remote diagnosis modalities (IMAGING = DR/CT/MR); I05a counts every one, I05b the ECG ones
MODALITIES = ("IMAGING", "ULTRASOUND", "ECG", "NUCLEAR", "EMG", "EEG", "OTHER")
AGE_GROUPS = ("0", "1-4") + tuple(f"{a}-{a + 4}" for a in range(5, 85, 5)) + ("85+",)


def C(name, kind="code", **kw) -> Column:
    if kind == "flag":
        kw.setdefault("aliases", FLAG_ALIASES)
    return Column(name, kind, **kw)


def SEX_OF(name) -> Column:
    """A person's sex (GB/T 2261.1 codes, 男/女 accepted); no indicator splits persons by sex."""
    return Column(name, "code", enum=PERSON_SEX, aliases=SEX_ALIASES)


def ID(name, hash_as="person_key") -> Column:
    return Column(name, "pii_hash", hash_as=hash_as, doc="personal identifier, keyed hash only")


def NAME(name) -> Column:
    return Column(name, "pii_drop", required=False, doc="personal name, dropped at landing")


SOURCES: tuple[Source, ...] = (
    Source("facilities", "annual", "registry", "facilities", (
        C("org_code"), C("fixmedins_code"), C("org_name", "text"), C("county_code"),
        C("category_code", enum=FACILITY_CATEGORIES), C("is_tcm_class", "flag"),
        C("hospital_level", enum=("1", "2", "3")), C("ownership", enum=("public", "private")),
        C("consortium_code"), C("is_lead_hospital", "flag"), C("has_ecg_device", "flag"),
        C("ecg_linked_to_center", "flag"), C("is_imaging_center", "flag"),
        C("is_ecg_center", "flag"), C("active", "flag"),
    ), "facility register 机构名录", ("org_code",)),
    Source("population", "annual", "registry", "population", (
        C("county_code"), C("year", "int"), C("sex", enum=SEX), C("age_group", enum=AGE_GROUPS),
        C("population", "int"),
    ), "resident population 常住人口", ("county_code", "year", "sex", "age_group")),
    Source("personnel", "annual", "hr", "staff", (
        C("org_code"), C("staff_id"), NAME("name"), ID("id_no"), SEX_OF("sex"),
        C("birth_date", "date"), C("practice_type", enum=PRACTICE_TYPES),
        C("title_post", enum=TITLE_POSTS), C("on_post", "flag"), C("annual_income", "money"),
    ), "health personnel roster 卫生人力基本信息", ("org_code", "staff_id")),
    Source("dispatches", "annual", "registry", "dispatches", (
        C("dispatch_id"), ID("physician_id_no"), NAME("physician_name"), C("home_org_code"),
        C("home_org_level", enum=("1", "2", "3")), C("home_county_code"),
        C("title_post", enum=TITLE_POSTS), C("practice_type", enum=PRACTICE_TYPES),
        C("host_org_code"), C("start_date", "date"), C("end_date", "date"),
        C("dispatch_type", enum=("long_term", "rotation")),
    ), "dispatch ledger 派驻登记", ("dispatch_id",)),
    Source("outpatient_visits", "quarterly", "his", "outpatient_visits", (
        C("visit_id"), C("org_code"), C("dept_code"), C("visit_time", "timestamp"),
        C("visit_type", enum=("outpatient", "emergency", "home_visit", "health_check")),
        C("cancel_flag", "flag"), ID("id_no"), NAME("patient_name"), SEX_OF("sex"),
        C("birth_date", "date"), C("dx_code"), C("total_fee", "money"),
        C("insutype", required=False),
    ), "HIS outpatient and emergency records 门急诊", ("org_code", "visit_id")),
    Source("inpatient_discharges", "quarterly", "his", "inpatient_discharges", (
        C("admission_id"), C("org_code"), ID("mr_no", hash_as="mr_key"), ID("id_no"),
        NAME("patient_name"), SEX_OF("sex"), C("birth_date", "date"),
        C("admit_time", "timestamp"), C("discharge_time", "timestamp"), C("admit_dept"),
        C("main_dx_code"), C("discharge_way", enum=("1", "2", "3", "4", "5", "9")),
        C("pay_method", enum=PAY_METHODS, aliases=PAY_METHOD_ALIASES), C("total_cost", "money"),
    ), "front page of the medical record 病案首页", ("org_code", "admission_id")),
    Source("insurance_settlements", "quarterly", "insurance", "settlements", (
        C("setl_id"), C("mdtrt_id"), ID("psn_no", hash_as="psn_key"), ID("certno"),
        SEX_OF("gend"), C("brdy", "date"), C("insutype"), C("med_type"),
        C("insu_admdvs"), C("mdtrtarea_admdvs", also_named=("mdtrtarea_admvs",)), C("fixmedins_code"),
        C("fixmedins_name", "text", required=False), C("fixmedins_type", enum=("1", "2")),
        C("begndate", "date"), C("enddate", "date"), C("setl_time", "timestamp"),
        C("dise_codg"), C("medfee_sumamt", "money"), C("hifp_pay", "money"),
        C("fund_pay_sumamt", "money"), C("acct_pay", "money"), C("psn_cash_pay", "money"),
        C("refd_setl_flag", "flag"), C("init_setl_id"),
    ), "insurance settlement extract 医保结算", ("setl_id",)),
    Source("chronic_disease_roster", "annual", "phis", "chronic_disease_roster", (
        C("county_code"), C("year", "int"), ID("id_no"), C("disease", enum=("HTN", "T2DM")),
        C("managing_org_code"), C("managed_at_year_end", "flag"), C("standard_managed", "flag"),
    ), "managed hypertension and diabetes patients 慢病管理", ("county_code", "year", "person_key", "disease")),
    Source("deaths", "annual", "dsp", "deaths", (
        C("death_id"), ID("id_no"), SEX_OF("sex"), C("birth_date", "date"),
        C("death_date", "date"), C("residence_county_code"), C("underlying_cause"),
    ), "death-cause surveillance 死因监测", ("death_id",)),
    Source("remote_diagnoses", "quarterly", "telemed", "remote_diagnoses", (
        C("request_id"), C("requesting_org_code"), C("center_org_code"),
        C("modality", enum=MODALITIES), C("requested_at", "timestamp"),
        C("reported_at", "timestamp"),
    ), "remote imaging / ECG platform log", ("request_id",)),
    Source("qualitative_assessments", "annual", "assessment", "qualitative_assessments", (
        C("county_code"), C("year", "int"), C("indicator_code", enum=("I01", "I02", "I03")),
        C("item_code"), C("has_policy", "flag"), C("implemented", "flag"),
        C("evidence", "text"), C("assessor_level", enum=("county", "city", "province")),
        C("assessed_at", "date"),
    ), "evidence for the qualitative indicators I01-I03", ("county_code", "year", "indicator_code", "item_code", "assessor_level")),
)  # fmt: skip

SOURCE_BY_NAME = {s.name: s for s in SOURCES}

# Columns the loader adds to every raw.* table.
LINEAGE_COLUMNS = {
    "_period": "VARCHAR",  # delivery period (folder name): YYYY or YYYYQn
    "_file": "VARCHAR",  # file path relative to the landing folder
    "_line": "BIGINT",  # 1-based line in the file, header = line 1 (row number + 1 for xlsx/parquet)
    "_loaded_at": "TIMESTAMP",
}
# Added for every pii_hash column that holds a 身份证号: GB 11643 check-digit validity.
ID_VALID_SUFFIX = "_valid"  # e.g. person_key_valid


def raw_columns(source: Source) -> list[tuple[str, str]]:
    """(name, duckdb type) of raw.<source> after landing, in order."""
    cols: list[tuple[str, str]] = []
    for c in source.columns:
        if c.kind == "pii_drop":
            continue
        if c.kind == "pii_hash":
            cols.append((c.hash_as, "VARCHAR"))
            if c.hash_as == "person_key":  # a 身份证号: its check digit can be verified
                cols.append((c.hash_as + ID_VALID_SUFFIX, "BOOLEAN"))
            continue
        cols.append((c.name, DUCKDB_TYPE[c.kind]))
    return cols + list(LINEAGE_COLUMNS.items())
