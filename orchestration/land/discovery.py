"""Finding the deliveries `<landing>/<source>/<period>/` and telling when one changed."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from orchestration import contract
from orchestration.duck import insert_rows
from orchestration.land.profile import LOCAL as LOCAL_PROFILES
from orchestration.land.read import CHUNK
from orchestration.land.report import LandingError
from orchestration.periods import FREQUENCY_HELP, period_frequency

# Bump when the loader's output for the same files changes: every delivery is then re-landed.
LOADER_VERSION = "land-3"  # land-3: strict field counts, totals rows, profiles
FORMATS = {
    ".csv": "csv",
    ".xlsx": "xlsx",
    ".xls": "xls",
    ".dbf": "dbf",
    ".parquet": "parquet",
}


@dataclass
class Delivery:
    source: contract.Source
    period: str
    folder: Path
    files: list[Path]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why) not landed


def _skip_reason(p: Path, landing: Path) -> str | None:
    """Why discovery skips `p` (None: it is looked at). Only hidden files, Office lock files and
    the Windows/macOS folder metadata are skipped, plus links that lead out of the landing
    folder (never followed: the loader reads only what was delivered into it)."""
    if p.name.startswith("."):
        return "hidden file"
    if p.name.startswith("~$"):
        return "Office lock file"
    if p.name in ("Thumbs.db", "desktop.ini"):
        return "folder metadata file"
    if p.is_symlink():
        try:
            target = p.resolve(strict=True)
        except (OSError, RuntimeError):
            return "broken symbolic link, not followed"
        if not target.is_relative_to(landing):
            return "symbolic link pointing outside the landing folder, not followed"
    return None


def discover(
    landing: Path, periods: set[str] | None = None, sources: set[str] | None = None
) -> tuple[list[Delivery], list[str]]:
    """The deliveries under `landing` (filtered), and a message for every misplaced thing."""
    landing = Path(landing).resolve()
    problems: list[str] = []
    if not landing.is_dir():
        raise LandingError(f"landing folder {landing} does not exist or is not a folder")
    known = ", ".join(s.name for s in contract.SOURCES)
    for s in sorted(sources or ()):
        if s not in contract.SOURCE_BY_NAME:
            problems.append(f"unknown source {s!r} requested; known sources: {known}")
    deliveries: list[Delivery] = []
    for sdir in sorted(landing.iterdir()):
        if why := _skip_reason(sdir, landing):
            problems.append(f"{sdir.name}: skipped ({why})")
            continue
        if not sdir.is_dir():
            problems.append(
                f"{sdir.name}: a file directly in the landing folder is ignored; files go "
                f"in <landing>/<source>/<period>/"
            )
            continue
        if sdir.name == LOCAL_PROFILES:
            continue  # the landing's own layout profiles (profile.py)
        src = contract.SOURCE_BY_NAME.get(sdir.name)
        if src is None:
            problems.append(
                f"{sdir.name}/: unknown source folder, ignored; known sources: {known}. "
                f"Rename it to one of these or move it out of the landing folder"
            )
            continue
        if sources is not None and src.name not in sources:
            continue
        for pdir in sorted(sdir.iterdir()):
            rel = f"{src.name}/{pdir.name}"
            if why := _skip_reason(pdir, landing):
                problems.append(f"{rel}: skipped ({why})")
                continue
            if not pdir.is_dir():
                problems.append(
                    f"{rel}: file outside a period folder, ignored; move it to "
                    f"{src.name}/<period>/ with period {FREQUENCY_HELP[src.frequency]}"
                )
                continue
            if period_frequency(pdir.name) != src.frequency:
                problems.append(
                    f"{rel}/: period folder does not match {src.name}'s {src.frequency} "
                    f"frequency, ignored; expected {FREQUENCY_HELP[src.frequency]}"
                )
                continue
            if periods is not None and pdir.name not in periods:
                continue
            files, skipped = [], []
            for f in sorted(pdir.iterdir()):
                if why := _skip_reason(f, landing):
                    skipped.append((f"{rel}/{f.name}", why))
                    continue
                if f.is_dir():
                    problems.append(
                        f"{rel}/{f.name}/: sub-folder ignored; put files directly in {rel}/"
                    )
                elif f.suffix.lower() not in FORMATS:
                    skipped.append((f"{rel}/{f.name}", f"not a {'/'.join(FORMATS)} file, not read"))
                else:
                    files.append(f)
            if not files:
                problems += [f"{name}: skipped ({why})" for name, why in skipped]
                problems.append(
                    f"{rel}/: no .csv/.xlsx/.xls/.dbf/.parquet files, nothing landed for this period"
                )
                continue
            deliveries.append(Delivery(src, pdir.name, pdir, files, skipped))
    return deliveries, problems


def file_digest(path: Path) -> str:
    """SHA-256 of the file's bytes, streamed in CHUNK-sized reads."""
    h, buf = hashlib.sha256(), bytearray(CHUNK)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


def fingerprint(
    delivery: Delivery, landing: Path, key_id: str, digest: Callable[[Path], str] = file_digest
) -> str:
    """Names and content hashes of the delivery's files, the loader version, the source's
    contract and the hash key's id: any change re-lands the delivery. Content, not size and
    modification time: `cp -p`, unzip and rsync keep those for a corrected file. `digest` is
    the content hash of one file (`DigestCache.digest` reuses the ones already taken)."""
    h = hashlib.sha256()
    h.update(
        f"{LOADER_VERSION}|{key_id}|{contract.raw_columns(delivery.source)}|"
        f"{[(c.name, c.kind, c.required, c.enum, c.aliases) for c in delivery.source.columns]}".encode()
    )
    for f in delivery.files:
        h.update(f"|{f.relative_to(landing).as_posix()}|{digest(f)}".encode())
    return h.hexdigest()


# A stored digest is reused only for a file last changed at least this long before the digest
# was taken, so a same-size rewrite within one tick of a coarse file-system clock is never
# taken for unchanged (git's "racily clean" rule).
RACY_NS = 2_000_000_000


class DigestCache:
    """Content hashes of the landing files, kept in raw.file_digests and reused while a file's
    size, modification time, change time and inode are those it was hashed at: an unchanged
    landing folder is not read again on every run, yet the decision stays by content. The
    change time (ctime) cannot be set back by `cp -p`, unzip or rsync, so a corrected file is
    always read again."""

    def __init__(self, con, landing: Path):
        self.con, self.landing = con, landing
        self.known = {
            r[0]: r[1:]
            for r in con.execute(
                "SELECT file, size, mtime_ns, ctime_ns, inode, sha256, hashed_at_ns "
                "FROM raw.file_digests"
            ).fetchall()
        }
        self.rows: dict[str, tuple] = {}  # file -> the row to keep for it
        self.hashed = self.reused = 0

    def digest(self, path: Path) -> str:
        rel = path.relative_to(self.landing).as_posix()
        st = path.stat()
        stat = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        old = self.known.get(rel)
        if old is not None and old[:4] == stat and st.st_ctime_ns + RACY_NS <= old[5]:
            self.reused += 1
            self.rows[rel] = old
            return old[4]
        started = time.time_ns()  # before the read: a change while it runs is re-read next time
        sha = file_digest(path)
        self.hashed += 1
        self.rows[rel] = (*stat, sha, started)
        return sha

    def fingerprint(self, delivery: Delivery, key_id: str) -> str:
        """`fingerprint` of the delivery; its files' digests are stored (their old rows and
        those of removed files replaced) for the next run."""
        fp = fingerprint(delivery, self.landing, key_id, self.digest)
        rows = [
            (delivery.source.name, delivery.period, rel, *self.rows[rel])
            for rel in (f.relative_to(self.landing).as_posix() for f in delivery.files)
        ]
        self.con.execute(
            "DELETE FROM raw.file_digests WHERE source = ? AND period = ?",
            [delivery.source.name, delivery.period],
        )
        insert_rows(self.con, "raw.file_digests", rows)
        return fp


def file_signature(delivery: Delivery) -> tuple[str, float]:
    """(hash of each file's name, size, modification and change time and inode; newest mtime):
    a cheap stat-only signature that changes when a file is added, removed, replaced, touched
    or rewritten in place. The landing sensor watches it; the loader decides by `fingerprint`
    (content), since `cp -p`, unzip and rsync can keep size and mtime of a corrected file."""
    h = hashlib.sha256()
    newest = 0.0
    for f in sorted(delivery.files):
        st = f.stat()
        newest = max(newest, st.st_mtime)
        h.update(
            f"{f.name}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}\n".encode()
        )
    return h.hexdigest()[:16], newest
