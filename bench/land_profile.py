"""Where a landing spends its time: every SQL statement the loader runs, timed and grouped.

    .venv/bin/python bench/land_profile.py LANDING [--source S] [--period P] [--threads N]

Lands LANDING (or the deliveries of one source / period) into a new scratch working database
with each statement the loader sends to DuckDB timed, then prints the time per kind of
statement (reading files, parsing, de-duplicating, writing raw.<source>, ...), the statements'
total and the time spent outside them (Python: discovery, fingerprints, spreadsheets, DBF).
One large delivery of a benchmark landing alone: `--source outpatient_visits --period 2024Q4`.
The scratch database is deleted at the end.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from orchestration import duck
from orchestration.land import LandingError, land

# (kind, pattern matched against the statement's text, whitespace collapsed), first match wins
KINDS = [
    ("stage: read files (multi-file reads, file by file)", r"read_csv|read_parquet|read_xlsx|CREATE TEMP TABLE file_rows"),
    ("stage: rows into staged_rows", r"^INSERT INTO staged_rows"),
    ("stage: counts, line numbers, rejects", r"FROM file_rows|AS file_rows|row_lines|skipped_lines|file_reject|DESCRIBE"),
    ("exact duplicates (row hash)", r"duplicate_rows AS"),
    ("de-duplicate + trim + parse + judge (parsed_rows)", r"TEMP TABLE parsed_rows"),
    ("conflicting keys", r"conflicting_keys|^UPDATE parsed_rows"),
    ("write raw.<source> (typed, keyed hashes)", r"^INSERT INTO raw\.\"?(?!quarantine|load_audit|deliveries|file_digests)"),
    ("write raw.quarantine", r"^INSERT INTO raw\.quarantine"),
    ("delete the delivery's old rows", r"^DELETE FROM raw\."),
    ("commit", r"^COMMIT"),
    ("checkpoint", r"^CHECKPOINT"),
]  # fmt: skip


def kind_of(sql: str) -> str:
    text = " ".join(str(sql).split())
    for kind, pattern in KINDS:
        if re.search(pattern, text):
            return kind
    return "other: " + " ".join(text.split()[:3])


class TimedConnection:
    """A DuckDB connection whose execute / executemany add their time to `spent` by kind."""

    def __init__(self, con, spent: dict):
        self._con, self._spent = con, spent

    def _timed(self, method, sql, *args):
        t = time.perf_counter()
        try:
            return method(sql, *args)
        finally:
            entry = self._spent[kind_of(sql)]
            entry[0] += 1
            entry[1] += time.perf_counter() - t

    def execute(self, sql, *args):
        return self._timed(self._con.execute, sql, *args)

    def executemany(self, sql, *args):
        return self._timed(self._con.executemany, sql, *args)

    def __getattr__(self, name):
        return getattr(self._con, name)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("landing", type=Path, help="landing folder (<source>/<period>/ files)")
    ap.add_argument("--source", help="land only this source")
    ap.add_argument("--period", help="land only this delivery period (2024Q4, 2024)")
    ap.add_argument("--threads", type=int, help="DuckDB threads (default: DuckDB's, one per core)")
    args = ap.parse_args()
    spent: dict[str, list] = defaultdict(lambda: [0, 0.0])
    with tempfile.TemporaryDirectory(prefix="ygt-land-profile-") as tmp:
        con = duck.connect(Path(tmp) / "work.duckdb")
        if args.threads:
            con.execute(f"SET threads = {args.threads}")
        t0 = time.perf_counter()
        try:
            report = land(
                TimedConnection(con, spent),
                args.landing,
                periods={args.period} if args.period else None,
                sources={args.source} if args.source else None,
                progress=lambda _msg: None,
            )
            wall = time.perf_counter() - t0
        except LandingError as exc:  # a missing folder, or a delivery that failed to land
            sys.exit(f"land_profile: {exc}")
        finally:
            con.close()
    landed = [d for d in report.deliveries if d.status == "landed"]
    what = "delivery" if len(landed) == 1 else "deliveries"
    print(
        f"landed {len(landed)} {what} ({sum(d.rows_read for d in landed):,} rows read) in {wall:.1f} s"
    )
    print(f"{'seconds':>9} {'share':>6} {'statements':>10}  kind")

    def line(seconds: float, statements: str, label: str) -> None:
        print(f"{seconds:9.2f} {seconds / wall:6.1%} {statements:>10}  {label}")

    ranked = sorted(spent.items(), key=lambda kv: -kv[1][1])
    shown = [(kind, n, s) for kind, (n, s) in ranked if s >= 0.01 * wall]
    rest = [(n, s) for _, (n, s) in ranked[len(shown) :]]  # ranked: the small ones come last
    for kind, n, s in shown:
        line(s, f"{n:,}", kind)
    if rest:
        line(
            sum(s for _, s in rest),
            f"{sum(n for n, _ in rest):,}",
            f"{len(rest)} other kinds, each under 1%",
        )
    in_sql = sum(s for _, s in spent.values())
    line(in_sql, f"{sum(n for n, _ in spent.values()):,}", "all statements")
    line(wall - in_sql, "", "outside statements (Python)")


if __name__ == "__main__":
    main()
