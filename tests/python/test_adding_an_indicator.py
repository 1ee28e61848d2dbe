"""docs/adding-an-indicator.md tells the truth: its worked example (a summed share on existing
measures: one seed row and one folder) is applied to a copy of the project, rendered, built by
dbt on the tiny dataset of test_dbt_models and found in marts.indicator_values,
marts.indicator_breakdown and `ygt explain`.

The expected values are worked out from other published values of the same build: S06 is
S02's numerator (net in-county inpatient pooled fund) over I08's numerator (net in-county
pooled fund), whose values test_dbt_models checks by hand.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import duckdb
import pytest

from orchestration.dbt import DBT_MAIN
from orchestration.explain import format_number
from orchestration.settings import PROJECT_DIR

DOC = PROJECT_DIR / "docs" / "adding-an-indicator.md"
COPIED = (
    "orchestration",
    "models",
    "macros",
    "seeds",
    "docs/indicators.md",
    "tests/dbt",
    "dbt_project.yml",
    "profiles.yml",
)
CODE = "S06"


def doc_blocks() -> list[tuple[str, str, str]]:
    """(action, path, text) of the worked example: each fenced block after a comment
    `<!-- file: PATH -->` (a new file) or `<!-- append: PATH -->` (lines added to a file)."""
    text = DOC.read_text(encoding="utf-8")
    return re.findall(r"<!-- (file|append): (\S+) -->\n```\w*\n(.*?)```", text, re.S)


def _run(args: list[str], cwd, env=None) -> str:
    proc = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    from test_dbt_models import load_tiny_dataset

    root = tmp_path_factory.mktemp("addind")
    project = root / "project"
    skip = shutil.ignore_patterns("__pycache__", "target", "logs")
    for name in COPIED:
        src = PROJECT_DIR / name
        if src.is_dir():
            shutil.copytree(src, project / name, ignore=skip)
        else:
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, project / name)
    blocks = doc_blocks()
    for action, rel, text in blocks:
        path = project / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if action == "file":
            path.write_text(text, encoding="utf-8")
        else:
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(text)
    # the copy's own orchestration package renders the copy (cwd first on sys.path)
    _run(["-m", "orchestration.catalogue"], cwd=project)
    work_db = root / "tiny.work.duckdb"
    con = duckdb.connect(str(work_db))
    load_tiny_dataset(con)
    con.close()
    env = {
        **os.environ,
        "YGT_DUCKDB_PATH": str(work_db),
        "DBT_PROFILES_DIR": str(project),
        "DO_NOT_TRACK": "1",
    }
    env.pop("YGT_DBT_VARS", None)
    dbt = ["-c", DBT_MAIN]
    where = ["--project-dir", str(project), "--target-path", str(project / "target")]
    # the new folder's unit test, then the marts and what they read (with their data tests)
    _run([*dbt, "build", *where, "--select", "+marts", "int_indicator__s06"], cwd=project, env=env)
    return {"project": project, "work_db": work_db, "blocks": blocks}


def _q(work_db, sql, params=()):
    con = duckdb.connect(str(work_db), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def test_the_worked_example_is_one_seed_row_and_one_folder(copy):
    blocks = copy["blocks"]
    assert [(a, p.split("/")[0]) for a, p, _ in blocks] == [
        ("append", "seeds"),
        ("file", "models"),
        ("file", "models"),
    ]
    folders = {p.rsplit("/", 1)[0] for a, p, _ in blocks if a == "file"}
    assert folders == {"models/intermediate/indicators/s06_inpatient_fund_share"}
    registry = (copy["project"] / "macros" / "indicator_registry.sql").read_text(encoding="utf-8")
    assert f"'{CODE}': ('settlements'" in registry and "'int_indicator__s06'" in registry


def test_its_values_are_s02s_numerator_over_i08s_numerator(copy):
    rows = _q(
        copy["work_db"],
        """
        select s06.area_code, s06.period, s06.numerator, s06.denominator, s06.value,
            s02.numerator, i08.numerator, s06.unit, s06.area_level
        from marts.indicator_values as s06
        join marts.indicator_values as s02
            on s02.area_code = s06.area_code and s02.period = s06.period
            and s02.indicator_code = 'S02'
        join marts.indicator_values as i08
            on i08.area_code = s06.area_code and i08.period = s06.period
            and i08.indicator_code = 'I08'
        where s06.indicator_code = ?""",
        [CODE],
    )
    # every area (2 counties, city, province, nation) x every period (quarterly: 2 years and
    # 3 year-to-date quarters) of the tiny dataset
    assert len(rows) == 5 * 5
    assert {r[8] for r in rows} == {"county", "city", "province", "national"}
    assert any(r[2] for r in rows), "no inpatient pooled fund at all: the check proves nothing"
    for area, period, num, den, value, s02_num, i08_num, unit, _ in rows:
        assert (num, den) == pytest.approx((s02_num, i08_num)), (area, period)
        assert value == (pytest.approx(num / den) if den else None), (area, period)
        assert unit == "ratio"


def test_its_facilities_sum_to_the_county_values(copy):
    rows = _q(
        copy["work_db"],
        """
        select v.area_code, v.period, v.numerator, v.denominator,
            sum(b.numerator), sum(b.denominator), count(b.facility_code)
        from marts.indicator_values as v
        left join marts.indicator_breakdown as b
            on b.area_code = v.area_code and b.period = v.period
            and b.indicator_code = v.indicator_code
        where v.indicator_code = ? and v.area_level = 'county'
        group by all""",
        [CODE],
    )
    assert len(rows) == 2 * 5 and sum(r[6] for r in rows) > 0
    for area, period, num, den, b_num, b_den, n in rows:
        if n:
            assert (b_num, b_den) == pytest.approx((num, den)), (area, period)
        else:
            assert num == 0 and den == 0, (area, period)


def test_ygt_explain_shows_it(copy):
    out = _run(
        [
            "-m", "orchestration.cli", "explain", "--warehouse", str(copy["work_db"]),
            "--area", "990101", "--period", "2024", "--indicator", CODE,
        ],
        cwd=copy["project"],
    )  # fmt: skip
    assert out.startswith(
        f"{CODE} 县域内医保基金住院支出占比 (Share of the in-county pooled fund spent on inpatient care)"
    )
    assert f"机构构成 Facilities ({CODE}," in out
    # the computation in the seed's units, numerator and denominator those of S02 and I08
    (s02,), (i08,) = (
        _q(
            copy["work_db"],
            "select numerator from marts.indicator_values where area_code = '990101' "
            "and period = '2024' and indicator_code = ?",
            [code],
        )
        for code in ("S02", "I08")
    )
    assert (
        f"分子 numerator {format_number(s02[0])} 元 / 分母 denominator {format_number(i08[0])} 元"
        in out
    )
    assert "pooled_fund_column = hifp_pay" in out  # a parameter the seed row names
