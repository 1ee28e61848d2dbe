"""The check catalogue: seeds/dq_check_catalog.csv, one row per check (one definition).

dbt loads the same file as the seed `reference.dq_check_catalog`; this module reads it for the
gates. Columns: check_id, stage (raw | mart), source, field (columns, `|`-separated),
category (conformance | completeness | plausibility), severity (blocking | warning),
threshold (tolerated share of failing rows; GE's `mostly` = 1 - threshold), rule (mapped to
Great Expectations expectations in expectations.plan, or SQL in rules.RULES where none fits),
params (JSON), description, expectation (the GE expectation type the rule maps to, or `sql`).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field

from orchestration.settings import PROJECT_DIR

CATALOG_PATH = PROJECT_DIR / "seeds" / "dq_check_catalog.csv"
CATEGORIES = ("conformance", "completeness", "plausibility")
SEVERITIES = ("blocking", "warning")


@dataclass(frozen=True)
class Check:
    check_id: str
    stage: str
    source: str
    fields: tuple[str, ...]
    category: str
    severity: str
    threshold: float
    rule: str
    params: dict = field(default_factory=dict, hash=False, compare=False)
    description: str = ""


def load_catalog(stage: str | None = None) -> list[Check]:
    with CATALOG_PATH.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    checks = []
    for r in rows:
        check = Check(
            check_id=r["check_id"],
            stage=r["stage"],
            source=r["source"],
            fields=tuple(f for f in r["field"].split("|") if f),
            category=r["category"],
            severity=r["severity"],
            threshold=float(r["threshold"]),
            rule=r["rule"],
            params=json.loads(r["params"]) if r["params"] else {},
            description=r["description"],
        )
        if check.category not in CATEGORIES or check.severity not in SEVERITIES:
            raise ValueError(
                f"{CATALOG_PATH.name}: check {check.check_id} has an unknown category or severity"
            )
        if stage is None or check.stage == stage:
            checks.append(check)
    return checks
