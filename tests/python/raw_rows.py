"""Rows inserted straight into raw.* for the dbt tests (no landing), typed as the landing types
them."""

from __future__ import annotations

import datetime as dt

from orchestration import contract

# a facility's 0/1 flags: all 0 unless a test gives them
FACILITY_FLAGS = (
    "is_tcm_class",
    "is_lead_hospital",
    "has_ecg_device",
    "ecg_linked_to_center",
    "is_imaging_center",
    "is_ecg_center",
)


def insert_raw(con, source: str, period: str, rows: list[dict]) -> None:
    """Insert rows into raw.<source> as from <source>/<period>/test.csv, one a line from line 2,
    loaded 2025-01-01; a column a row does not give is null, one the table lacks fails."""
    cols = [c for c, _ in contract.raw_columns(contract.SOURCE_BY_NAME[source])]
    for i, row in enumerate(rows, start=2):
        full = {c: None for c in cols}
        full.update(row)
        full.update(
            _period=period,
            _file=f"{source}/{period}/test.csv",
            _line=i,
            _loaded_at=dt.datetime(2025, 1, 1),
        )
        unknown = set(full) - set(cols)
        assert not unknown, (source, unknown)
        con.execute(
            f"insert into raw.{source} ({', '.join(cols)}) values ({', '.join('?' * len(cols))})",
            [full[c] for c in cols],
        )


def raw_facility(org_code: str, category_code: str, county_code: str, **values) -> dict:
    """A raw.facilities row: an active public facility named by its code, every flag 0, no
    insurance code, level or consortium; `values` give any other column."""
    row = {"org_code": org_code, "org_name": org_code, "county_code": county_code}
    row.update(category_code=category_code, ownership="public", active=1)
    row.update(fixmedins_code=None, hospital_level=None, consortium_code=None)
    return row | dict.fromkeys(FACILITY_FLAGS, 0) | values
