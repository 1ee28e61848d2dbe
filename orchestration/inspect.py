"""`ygt inspect PATH`: what landing would make of a file or a delivery folder, nothing written.

For each file: the layout profile its header matched and why, each contract column's source
field(s), the required fields missing and the fields nothing reads; then the delivery landed
into an in-memory database: rows read = loaded + quarantined + duplicate, five parsed rows
(identifiers shown as the first characters of their keyed hash, names dropped, as in the
warehouse) and the quarantine reasons with their counts. The first thing to run on a new
county's export."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from orchestration import contract, duck
from orchestration.land import FORMATS, LandingError, land
from orchestration.land.profile import LOCAL, Profiles, lookup_rules, mapping
from orchestration.land.read import UNNAMED, read_file
from orchestration.land.report import FileRejected
from orchestration.periods import period_frequency

SAMPLE = 5


class InspectError(ValueError):
    """The path cannot be inspected; the message says why and what to give instead."""


@dataclass
class Target:
    source: contract.Source
    period: str
    files: list[Path]
    landing: Path | None  # the landing folder the path sits in (for _profiles/ and the register)


def target(path: Path, source: str | None = None, period: str | None = None) -> Target:
    """The source, period and files of `path` (a file or a `<source>/<period>/` folder): taken
    from the folder names unless `source` / `period` say otherwise."""
    path = Path(path).resolve()
    if not path.exists():
        raise InspectError(f"{path} does not exist")
    folder = path if path.is_dir() else path.parent
    files = (
        sorted(
            f
            for f in folder.iterdir()
            if f.suffix.lower() in FORMATS and not f.name.startswith((".", "~$"))
        )
        if path.is_dir()
        else [path]
    )
    if not files:
        raise InspectError(f"{folder} holds no {'/'.join(FORMATS)} file")
    for f in files:
        if f.suffix.lower() not in FORMATS:
            raise InspectError(f"{f.name}: not a {'/'.join(FORMATS)} file")
    name = source or folder.parent.name
    src = contract.SOURCE_BY_NAME.get(name)
    if src is None:
        raise InspectError(
            f"cannot tell the source from the path ({name!r} is not one): put the file in "
            f"<landing>/<source>/<period>/ or give --source (one of {', '.join(contract.SOURCE_BY_NAME)})"
        )
    per = period or folder.name
    if period_frequency(per) != src.frequency:
        raise InspectError(
            f"cannot tell the period from the path ({per!r} is not a {src.frequency} period of "
            f"{src.name}): give --period (e.g. {'2024' if src.frequency == 'annual' else '2024Q2'})"
        )
    landing = folder.parent.parent if source is None and period is None else None
    return Target(src, per, files, landing)


def _short(v) -> str:
    if v is None:
        return ""
    s = str(v)
    return s[:8] + "…" if len(s) == 64 and all(c in "0123456789abcdef" for c in s) else s


def inspect(path: Path, source: str | None = None, period: str | None = None) -> str:
    """The report of `ygt inspect` as text."""
    t = target(path, source, period)
    profiles = Profiles.for_landing(t.landing)
    out = [f"{t.source.name} / {t.period}: {len(t.files)} file(s)"]
    tmp = Path(tempfile.mkdtemp(prefix="ygt-inspect-"))
    con = duck.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        for f in t.files:
            out += _layout(con, t, f, profiles, tmp)
        out += _landed(t, tmp)
    finally:
        con.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return "\n".join(out) + "\n"


def _layout(con, t: Target, f: Path, profiles: Profiles, tmp: Path) -> list[str]:
    out = ["", f"{f.name}"]
    try:
        read_file(con, f, FORMATS[f.suffix.lower()], tmp)
        header = [r[0] for r in con.execute("DESCRIBE file_rows").fetchall()]
        chosen, why = profiles.choose(t.source.name, t.period, header)
    except FileRejected as exc:
        return out + [f"  REJECTED: {exc}"]
    m = mapping(chosen, why, header)
    out.append(f"  layout: {chosen.name} -- {chosen.description}")
    out.append(f"  chosen because {why}")
    width = max(len(c.name) for c in t.source.columns)
    for c, expr in zip(t.source.columns, m.exprs):
        rule = chosen.columns[c.name]
        got = (
            rule.describe()
            if expr != "NULL" or rule.kind == "lookup"
            else "(absent: loads as NULL)"
        )
        flag = "" if c.required else " (optional)"
        out.append(f"    {c.name:<{width}} <- {got}{flag}")
    unmapped = [h for h in m.unmapped(header) if not h.startswith(UNNAMED)]
    if unmapped:  # a header cell with many digits is shown as hidden: it may be data
        shown = ["<hidden>" if sum(ch.isdigit() for ch in h) >= 6 else h for h in unmapped[:30]]
        out.append(f"  fields nothing reads ({len(unmapped)}): {', '.join(shown)}")
    if lookup_rules(chosen):
        out.append("  (facility names are looked up in the register landed for the year: the "
                   "landing folder's facilities/ delivery is landed first when present)")  # fmt: skip
    return out


def _landed(t: Target, tmp: Path) -> list[str]:
    """Land the files into an in-memory database through a folder of links to them."""
    landing = tmp / "landing"
    delivery = landing / t.source.name / t.period
    delivery.mkdir(parents=True)
    for f in t.files:
        _link(f, delivery / f.name)
    if t.landing is not None:
        if (t.landing / LOCAL).is_dir():
            shutil.copytree(t.landing / LOCAL, landing / LOCAL)
        year = t.period[:4]
        register = t.landing / "facilities" / year
        if t.source.name != "facilities" and register.is_dir():
            (landing / "facilities" / year).mkdir(parents=True)
            for f in register.iterdir():
                if f.is_file():
                    _link(f, landing / "facilities" / year / f.name)
    con = duck.connect()
    try:
        try:
            report = land(con, landing, progress=lambda _m: None, tmp_dir=tmp)
        except LandingError as exc:
            return ["", f"landing would fail: {exc}"]
        res = next(d for d in report.deliveries if d.source == t.source.name)
        out = ["", "what landing would do (nothing written):"]
        for fr in res.files:
            out.append(
                f"  {Path(fr.file).name}: "
                + (
                    f"REJECTED -- {fr.message.split(': ', 1)[-1]}"
                    if fr.status == "rejected"
                    else f"read {fr.rows_read:,} = loaded {fr.rows_loaded:,} + quarantined "
                    f"{fr.rows_quarantined:,} + duplicate {fr.rows_duplicate:,}"
                )
            )
        table = f'raw."{t.source.name}"'
        cols = [c for c, _ in contract.raw_columns(t.source) if not c.startswith("_")]
        sample = con.execute(
            f"SELECT {', '.join(cols)} FROM {table} ORDER BY _file, _line LIMIT {SAMPLE}"
        ).fetchall()
        if sample:
            out.append(
                f"  first {len(sample)} parsed row(s) (identifiers as the start of their keyed hash):"
            )
            for r in sample:
                out.append("    " + ", ".join(f"{c}={_short(v)}" for c, v in zip(cols, r)))
        reasons = con.execute(
            "SELECT reason, count(*), min(line) FROM raw.quarantine WHERE source = ? "
            "GROUP BY 1 ORDER BY 2 DESC, 3 LIMIT 15",
            [t.source.name],
        ).fetchall()
        if reasons:
            out.append("  quarantine reasons (rows, first line):")
            out += [f"    {n:>7,} x {reason} (line {first})" for reason, n, first in reasons]
        return out
    finally:
        con.close()


def _link(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
