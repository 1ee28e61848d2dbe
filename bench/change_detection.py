"""Benchmark: how long the loader takes to tell which deliveries changed.

    .venv/bin/python bench/change_detection.py --landing demo/landing [--copies 10]

Every run fingerprints every delivery by content (orchestration/land/discovery.py). This
measures, over `--copies` copies of a landing folder (each with its own working database, as
each landing has one), three passes: the SHA-256 of every file (what every run paid before
raw.file_digests), a first run with the digest cache (nothing to reuse yet), and a second run
over unchanged files (stat only). Run as root, the page cache is dropped before each pass, so
the figures are for files read from disk; otherwise they are warm-cache figures and say so.
Appends its figures to bench/results/results.csv.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path

from orchestration import duck, land
from orchestration.land.discovery import DigestCache
from orchestration.land.schema import create_raw_schema

RESULTS = Path(__file__).parent / "results" / "results.csv"


def drop_page_cache() -> bool:
    if os.geteuid() != 0:
        return False
    subprocess.run(["sync"], check=True)
    Path("/proc/sys/vm/drop_caches").write_text("3\n")
    return True


def commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() or "?"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--landing", type=Path, required=True, help="a landing folder to copy")
    ap.add_argument("--copies", type=int, default=10, help="copies measured together (10)")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (a temp dir)")
    args = ap.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="ygt-change-"))
    try:
        print(f"copying {args.landing} {args.copies}x into {work} ...", flush=True)
        roots = []
        for i in range(args.copies):
            shutil.copytree(args.landing, work / f"landing{i}")
            roots.append((work / f"landing{i}").resolve())
        time.sleep(2.5)  # older than the racily-clean margin, as a landing folder is by a run
        cons = []
        for i in range(args.copies):
            cons.append(duck.connect(work / f"work{i}.duckdb"))
            create_raw_schema(cons[-1])
        found = [land.discover(r)[0] for r in roots]
        files = [f for ds in found for d in ds for f in d.files]
        size = sum(f.stat().st_size for f in files)
        print(f"{len(files):,} files, {size / 1e9:.2f} GB", flush=True)
        rows = []
        for step in ("hash every file", "digest cache, first run", "digest cache, unchanged"):
            cold = drop_page_cache()
            t0 = time.perf_counter()
            hashed = reused = 0
            for con, root, deliveries in zip(cons, roots, found):
                if step == "hash every file":
                    for d in deliveries:
                        land.fingerprint(d, root, "bench")
                    hashed += sum(len(d.files) for d in deliveries)
                    continue
                cache = DigestCache(con, root)
                for d in deliveries:
                    cache.fingerprint(d, "bench")
                hashed, reused = hashed + cache.hashed, reused + cache.reused
            s = time.perf_counter() - t0
            label = f"change detection: {step} ({'cold' if cold else 'warm'} cache)"
            print(
                f"{label}: {s:.1f} s, {size / 1e6 / s:,.0f} MB/s; "
                f"{hashed:,} files hashed, {reused:,} reused",
                flush=True,
            )
            rows.append((label, round(s, 2), len(files)))
        for con in cons:
            con.close()
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
        with open(RESULTS, "a", newline="") as fh:  # rows = files, rows_per_s = files per second
            w = csv.writer(fh)
            for label, s, n in rows:
                w.writerow(
                    [datetime.now().isoformat(timespec="seconds"), commit(), os.cpu_count(), mem_gb,
                     "", "", "", label, s, n, round(n / s), ""]
                )  # fmt: skip
        print(f"appended to {RESULTS}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
