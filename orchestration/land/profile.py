"""Mapping profiles: how a layout's header maps to the contract's columns (docs/landing-profiles.md).

A profile is data (YAML), one per layout and source: the shipped ones are in
`orchestration/land/profiles/`, a province adds its own as `<landing>/_profiles/<name>.yml`. The
contract's own column names are the built-in profile `contract` of every source. A file uses the
profile whose required fields its header holds -- exactly one, else it is refused naming them --
unless `<landing>/_profiles/pins.yml` pins a profile for its folder. Everything here builds SQL
over temp table file_rows (one VARCHAR column per header cell, see read.py); nothing is loaded.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from orchestration import contract
from orchestration.duck import lit, q
from orchestration.land.report import FileRejected

SHIPPED = Path(__file__).with_name("profiles")
LOCAL = "_profiles"  # <landing>/_profiles/: a province's own profiles and pins.yml
PINS = "pins.yml"
CONTRACT = "contract"
RULES = ("field", "concat", "date_hour", "lookup", "constant")


def norm(name: str) -> str:
    """A header cell as profiles match it: NFKC (full-width letters and digits as half-width),
    no BOM, no surrounding spaces, lower case."""
    return unicodedata.normalize("NFKC", name).replace("\ufeff", "").strip().lower()


@dataclass(frozen=True)
class Rule:
    """How one contract column is made. `field`: the first of `fields` the header holds;
    `concat`: all `fields` joined by `sep`; `date_hour`: a date field and an hour field (0-23);
    `lookup`: `fields[0]` resolved through the facility register (`match` -> `take`);
    `constant`: `value`."""

    kind: str
    fields: tuple[str, ...] = ()
    sep: str = ""
    value: str | None = None
    match: str = "org_name"
    take: str = "org_code"

    def present(self, header: dict[str, str]) -> bool:
        """Whether the header (normalised name -> header cell) holds what the rule needs."""
        if self.kind == "constant":
            return True
        if self.kind == "field":
            return any(norm(f) in header for f in self.fields)
        return all(norm(f) in header for f in self.fields)

    def describe(self) -> str:
        if self.kind == "field":
            return " or ".join(self.fields)
        if self.kind == "concat":
            return f" + {self.sep!r} + ".join(self.fields) if self.sep else " + ".join(self.fields)
        if self.kind == "date_hour":
            return f"{self.fields[0]} (date) + {self.fields[1]} (hour)"
        if self.kind == "lookup":
            return f"{self.fields[0]} looked up as the register's {self.match} -> {self.take}"
        return f"constant {self.value!r}"


@dataclass(frozen=True)
class Profile:
    name: str
    source: str
    description: str
    columns: dict[str, Rule]
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    formats: dict[str, str] = field(default_factory=dict)
    path: str = ""  # the YAML file it came from ("" for the built-in contract profile)

    def required_rules(self) -> dict[str, Rule]:
        src = contract.SOURCE_BY_NAME[self.source]
        return {c.name: self.columns[c.name] for c in src.columns if c.required}

    def missing(self, header: dict[str, str]) -> list[str]:
        """The fields of required contract columns that the header lacks."""
        out = []
        for rule in self.required_rules().values():
            if rule.kind == "field" and not rule.present(header):
                out.append(rule.fields[0])
            elif rule.kind != "field":
                out += [f for f in rule.fields if norm(f) not in header]
        return out

    def fingerprint(self) -> str:
        return repr((self.name, sorted(self.columns.items()), self.values, self.formats))


def contract_profile(src: contract.Source) -> Profile:
    """The contract's own layout: every column under its own name (or the other spellings the
    contract accepts, `Column.also_named`)."""
    return Profile(
        CONTRACT,
        src.name,
        "the contract's column names (`ygt contract`)",
        {c.name: Rule("field", (c.name, *c.also_named)) for c in src.columns},
    )


def _rule(column: str, spec, where: str) -> Rule:
    if isinstance(spec, str):
        return Rule("field", (spec,))
    if isinstance(spec, list) and spec and all(isinstance(x, str) for x in spec):
        return Rule("field", tuple(spec))
    if isinstance(spec, dict) and len(spec.keys() & set(RULES)) == 1:
        kind = next(k for k in RULES if k in spec)
        arg = spec[kind]
        if kind == "concat" and isinstance(arg, list) and len(arg) >= 2:
            return Rule("concat", tuple(map(str, arg)), sep=str(spec.get("sep", "")))
        if kind == "date_hour" and isinstance(arg, list) and len(arg) == 2:
            return Rule("date_hour", tuple(map(str, arg)))
        if kind == "lookup" and isinstance(arg, str):
            return Rule(
                "lookup",
                (arg,),
                match=str(spec.get("match", "org_name")),
                take=str(spec.get("take", "org_code")),
            )
        if kind == "constant":
            return Rule("constant", value=None if arg is None else str(arg))
        if kind == "field" and isinstance(arg, (str, list)):
            return _rule(column, arg, where)
    raise ValueError(
        f"{where}: column {column!r}: a rule is a field name, a list of alternative names, or "
        f"one of {{concat: [a, b], sep: '-'}}, {{date_hour: [date, hour]}}, "
        f"{{lookup: field, match: org_name, take: org_code}}, {{constant: value}}"
    )


def parse_profile(data: dict, where: str) -> Profile:
    """A profile from its YAML mapping; ValueError naming `where` and the problem."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: not a mapping")
    name, source = data.get("name"), data.get("source")
    if not isinstance(name, str) or not name or name == CONTRACT:
        raise ValueError(f"{where}: `name` must be a name other than {CONTRACT!r}")
    src = contract.SOURCE_BY_NAME.get(source)
    if src is None:
        raise ValueError(f"{where}: `source` must be one of {', '.join(contract.SOURCE_BY_NAME)}")
    cols = data.get("columns") or {}
    unknown = set(cols) - {c.name for c in src.columns}
    if unknown:
        raise ValueError(f"{where}: not columns of {source}: {', '.join(sorted(unknown))}")
    rules = {c: _rule(c, spec, where) for c, spec in cols.items()}
    missing = [c.name for c in src.columns if c.required and c.name not in rules]
    if missing:
        raise ValueError(f"{where}: no rule for the required column(s) {', '.join(missing)}")
    for c in src.columns:  # optional columns without a rule load as NULL
        rules.setdefault(c.name, Rule("constant", value=None))
    values = {
        str(k): {str(a): str(b) for a, b in (v or {}).items()}
        for k, v in (data.get("values") or {}).items()
    }
    formats = {str(k): str(v) for k, v in (data.get("formats") or {}).items()}
    for k in (*values, *formats):
        if k not in rules:
            raise ValueError(f"{where}: values/formats name {k!r}, not a column of {source}")
    return Profile(name, source, str(data.get("description", "")), rules, values, formats, where)


def _load_folder(folder: Path) -> list[Profile]:
    out = []
    for f in sorted(folder.glob("*.yml")) + sorted(folder.glob("*.yaml")):
        if f.name == PINS:
            continue
        try:
            data = yaml.safe_load(f.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ValueError(f"{f}: not valid YAML ({type(exc).__name__})") from None
        out.append(parse_profile(data, str(f)))
    return out


@cache
def shipped() -> tuple[Profile, ...]:
    return tuple(_load_folder(SHIPPED))


@dataclass
class Profiles:
    """The profiles in force for one landing folder: built-in, shipped and the landing's own."""

    by_source: dict[str, list[Profile]]
    pins: dict[str, str]  # "<source>" or "<source>/<period>" -> profile name

    @classmethod
    def for_landing(cls, landing: Path | None) -> Profiles:
        found = list(shipped())
        pins: dict[str, str] = {}
        local = Path(landing) / LOCAL if landing else None
        if local is not None and local.is_dir():
            found += _load_folder(local)
            if (local / PINS).is_file():
                raw = yaml.safe_load((local / PINS).read_text(encoding="utf-8")) or {}
                if not isinstance(raw, dict):
                    raise ValueError(
                        f"{local / PINS}: map folders (<source>[/<period>]) to profile names"
                    )
                pins = {str(k).strip("/"): str(v) for k, v in raw.items()}
        by_source: dict[str, list[Profile]] = {
            s.name: [contract_profile(s)] for s in contract.SOURCES
        }
        seen: dict[str, str] = {}
        for p in found:
            if p.name in seen:
                raise ValueError(
                    f"profile name {p.name!r} defined twice: {seen[p.name]} and {p.path}"
                )
            seen[p.name] = p.path
            by_source[p.source].append(p)
        for folder, name in pins.items():
            source = folder.split("/")[0]
            if not any(p.name == name for p in by_source.get(source, [])):
                raise ValueError(f"{PINS}: {folder}: no profile {name!r} for source {source!r}")
        return cls(by_source, pins)

    def fingerprint(self, source: str) -> str:
        """What decides how a file of `source` maps: its profiles and the pins for it."""
        pins = sorted((k, v) for k, v in self.pins.items() if k.split("/")[0] == source)
        return hashlib.sha256(
            repr(([p.fingerprint() for p in self.by_source[source]], pins)).encode()
        ).hexdigest()[:16]

    def choose(self, source: str, period: str, header: list[str]) -> tuple[Profile, str]:
        """(profile, why) for a file of `source`/`period` with this header; FileRejected when no
        profile or several match."""
        cells = header_index(header)
        candidates = self.by_source[source]
        for key in (f"{source}/{period}", source):
            if key in self.pins:
                p = next(p for p in candidates if p.name == self.pins[key])
                gaps = p.missing(cells)
                if gaps:
                    raise FileRejected(
                        f"the profile {p.name!r} pinned for {key}/ needs field(s) the header lacks: "
                        f"{', '.join(gaps)}"
                    )
                return p, f"pinned for {key}/ in {LOCAL}/{PINS}"
        matches = [p for p in candidates if not p.missing(cells)]
        if len(matches) == 1:
            p = matches[0]
            n = len(p.required_rules())
            return p, f"the header holds the fields of its {n} required column(s)"
        if matches:
            raise FileRejected(
                f"the header matches several layouts ({', '.join(p.name for p in matches)}); pin "
                f"one for this folder in <landing>/{LOCAL}/{PINS} (e.g. `{source}: {matches[0].name}`)"
            )
        default = candidates[0]
        closest = min(candidates, key=lambda p: (len(p.missing(cells)), p is not default))
        hint = (
            f"; the closest layout, {closest.name!r}, lacks {', '.join(closest.missing(cells)[:8])}"
            if closest is not default
            else ""
        )
        raise FileRejected(
            f"missing required column(s) {', '.join(default.missing(cells))} ({len(header)} "
            f"column(s) in line 1; is line 1 a header row?){hint}. Re-export the file with these "
            f"columns (names are matched case-insensitively), or describe its layout in a profile "
            f"(docs/landing-profiles.md; `ygt inspect` shows what matched) and land again"
        )


def header_index(header: list[str]) -> dict[str, str]:
    """Normalised name -> header cell (the first of cells that normalise alike)."""
    out: dict[str, str] = {}
    for h in header:
        out.setdefault(norm(h), h)
    return out


@dataclass
class Mapping:
    """A profile applied to one file's header: per contract column its SQL over file_rows, and
    the header cell each directly mapped column reads (for the number-cell and free-text
    checks)."""

    profile: Profile
    why: str
    exprs: list[str]
    direct: dict[str, str]  # contract column (lower case) -> header cell
    used: set[str]  # header cells some rule reads

    def unmapped(self, header: list[str]) -> list[str]:
        return [h for h in header if h not in self.used]


def _cell(h: str) -> str:
    return f"CAST(file_rows.{q(h)} AS VARCHAR)"


def mapping(
    p: Profile,
    why: str,
    header: list[str],
    types: dict[str, str] | None = None,
    fmt: str = "csv",
    lookups: dict[str, dict[str, str]] | None = None,
) -> Mapping:
    """SQL per contract column for a file with this header under profile `p`. `lookups`:
    contract column -> {field value -> register value} for its `lookup` rule (resolve_lookups)."""
    cells = header_index(header)
    src = contract.SOURCE_BY_NAME[p.source]
    exprs, direct, used = [], {}, set()
    for c in src.columns:
        rule = p.columns[c.name]
        if rule.kind == "constant":
            e = "NULL" if rule.value is None else lit(rule.value)
        elif rule.kind == "field":
            h = next((cells[norm(f)] for f in rule.fields if norm(f) in cells), None)
            if h is None:
                exprs.append("NULL")
                continue
            used.add(h)
            direct[c.name.lower()] = h
            e = _cell(h)
            t = ((types or {}).get(h) or "").upper()
            if fmt == "parquet" and t.startswith("TIMESTAMP") and c.kind == "date":
                e = f"CAST(CAST(file_rows.{q(h)} AS DATE) AS VARCHAR)"
        else:
            hs = [cells[norm(f)] for f in rule.fields]
            used.update(hs)
            parts = [f"trim({_cell(h)})" for h in hs]
            if rule.kind == "concat":
                anynull = " OR ".join(f"{x} IS NULL OR {x} = ''" for x in parts)
                e = f"CASE WHEN {anynull} THEN NULL ELSE {f' || {lit(rule.sep)} || '.join(parts)} END"
            elif rule.kind == "date_hour":
                d, hr = parts
                hour = f"TRY_CAST({hr} AS DOUBLE)"
                e = (
                    f"CASE WHEN {d} IS NULL OR {d} = '' THEN NULL WHEN {hr} IS NULL OR {hr} = '' THEN {d} "
                    f"WHEN {hour} BETWEEN 0 AND 23 AND {hour} = floor({hour}) "
                    f"THEN {d} || ' ' || lpad(CAST(CAST({hour} AS INTEGER) AS VARCHAR), 2, '0') || ':00:00' "
                    f"ELSE {d} || ' hour ' || {hr} END"
                )
            else:  # lookup: resolved per distinct value before staging
                table = (lookups or {}).get(c.name, {})
                cases = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in table.items())
                e = f"CASE {parts[0]} {cases} END" if cases else "NULL"
        if c.name in p.values:
            cases = " ".join(f"WHEN {lit(a)} THEN {lit(b)}" for a, b in p.values[c.name].items())
            e = f"(CASE trim({e}) {cases} ELSE {e} END)"
        if c.name in p.formats:
            out = "%Y-%m-%d" if c.kind == "date" else "%Y-%m-%d %H:%M:%S"
            e = f"coalesce(strftime(try_strptime(trim({e}), {lit(p.formats[c.name])}), {lit(out)}), {e})"
        exprs.append(e)
    return Mapping(p, why, exprs, direct, used)


def lookup_rules(p: Profile) -> dict[str, Rule]:
    return {c: r for c, r in p.columns.items() if r.kind == "lookup"}


def resolve_lookups(con, p: Profile, header: list[str], period: str) -> dict[str, dict[str, str]]:
    """For each `lookup` rule of `p`: {distinct value of its field in file_rows -> the facility
    register's `take` for the row whose `match` equals it}, from the register landed for the
    period's year (else the latest earlier one, else the earliest: as the models choose it).
    FileRejected naming the values the register does not hold."""
    out: dict[str, dict[str, str]] = {}
    cells = header_index(header)
    for column, rule in lookup_rules(p).items():
        h = cells[norm(rule.fields[0])]
        wanted = [
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT trim(CAST({q(h)} AS VARCHAR)) FROM file_rows WHERE {q(h)} IS NOT NULL"
            ).fetchall()
            if r[0]
        ]
        years = [
            r[0] for r in con.execute("SELECT DISTINCT _period FROM raw.facilities").fetchall()
        ]
        year = period[:4]
        chosen = max((y for y in years if y <= year), default=min(years, default=None))
        table: dict[str, str] = {}
        ambiguous: list[str] = []
        if chosen is not None:
            for name, takes in con.execute(
                f"SELECT trim({q(rule.match)}), list(DISTINCT {q(rule.take)}) FROM raw.facilities "
                f"WHERE _period = ? AND trim({q(rule.match)}) IN (SELECT unnest(?)) GROUP BY 1",
                [chosen, wanted],
            ).fetchall():
                if len(takes) == 1:
                    table[name] = takes[0]
                else:
                    ambiguous.append(name)
        if ambiguous:  # two facilities of one name: which one sent the file cannot be told
            raise FileRejected(
                f"{rule.fields[0]}: {len(ambiguous)} value(s) name several facilities in the "
                f"register of {chosen}: {', '.join(ambiguous[:5])}. Make the register's names "
                f"unique, or pin a profile that reads the facility code, and land again"
            )
        unknown = [w for w in wanted if w not in table]
        if unknown:
            where = (
                f"the facility register of {chosen}"
                if chosen
                else "any facility register (none landed yet)"
            )
            raise FileRejected(
                f"{rule.fields[0]}: {len(unknown)} value(s) not found as {rule.match} in {where}: "
                f"{', '.join(unknown[:5])}. Land the year's facilities register with these names, "
                f"or correct the names, and land again"
            )
        out[column] = table
    return out


DOC_BEGIN = "<!-- profiles: rendered by orchestration.land.profile.render_docs() -->"
DOC_END = "<!-- end of profiles -->"


def render_docs() -> str:
    """The shipped profiles as Markdown (docs/landing-profiles.md holds this between DOC_BEGIN
    and DOC_END; a test keeps the two equal)."""
    out = [DOC_BEGIN, ""]
    for p in shipped():
        out += [
            f"### `{p.name}` ({p.source})",
            "",
            p.description,
            "",
            "| column | from |",
            "|---|---|",
        ]
        for c in contract.SOURCE_BY_NAME[p.source].columns:
            rule = p.columns[c.name]
            if rule.kind == "constant" and rule.value is None:
                continue
            text = rule.describe()
            if c.name in p.values:
                text += "; values " + ", ".join(f"{a} → {b}" for a, b in p.values[c.name].items())
            out.append(f"| `{c.name}` | {text} |")
        out.append("")
    return "\n".join(out + [DOC_END])
