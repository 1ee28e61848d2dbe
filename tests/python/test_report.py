"""The HTML report renders offline in a real browser, and the analyst queries run.

A small published-like warehouse is built by hand (3 counties, their city, province and
national rows; 2 years and their quarters), the report is written and opened in headless
Chromium driven over the DevTools protocol (pipe transport: no extra Python package). The
test asserts it renders the county names, makes no console error, loads nothing but the file
itself, and saves a screenshot under tests/python/artifacts/.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from orchestration import duck
from orchestration.export import export_parquet
from orchestration.report import write_report

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ANALYST_QUERIES = ROOT / "docs" / "analyst_queries.sql"

PROVINCE = ("990000", "示例省")
CITY = ("990100", "示例市")
COUNTIES = [("990121", "甲县"), ("990122", "乙县"), ("990123", "丙县")]

# code, dimension, name_zh, name_en, unit, direction, frequency
CATALOG = [
    (
        "I01",
        "紧密型",
        "资源统一管理",
        "Unified management of resources",
        "ratio",
        "higher_better",
        "annual",
    ),
    (
        "I05a",
        "同质化",
        "每万常住人口影像、心电中心开展远程诊断数量",
        "Remote diagnoses per 10k residents",
        "per_10k",
        "higher_better",
        "quarterly",
    ),
    (
        "I07",
        "促分工",
        "县域内基层医疗卫生机构诊疗人次数占比",
        "Primary-care visit share",
        "ratio",
        "higher_better",
        "quarterly",
    ),
    (
        "I08",
        "促分工",
        "医保基金县域内支出占比",
        "In-county insurance fund share",
        "ratio",
        "higher_better",
        "quarterly",
    ),
    (
        "I10a",
        "提效能",
        "参保人在县域内住院人均费用",
        "Inpatient cost per admission",
        "yuan",
        "lower_better",
        "quarterly",
    ),
    (
        "I14",
        "保健康",
        "县域内四类慢性病过早死亡率",
        "Premature NCD mortality",
        "ratio",
        "lower_better",
        "annual",
    ),
]

IV_COLUMNS = (
    "area_level varchar, area_code varchar, area_name varchar, period varchar, year integer, "
    "quarter integer, indicator_code varchar, numerator double, denominator double, "
    "value double, unit varchar, status varchar"
)


def county_numbers(
    i: int, code: str, year: int, quarter: int | None
) -> tuple[float | None, float | None]:
    """Deterministic made-up numerator and denominator for county i (0..2)."""
    share = (quarter or 4) / 4
    growth = 1 + 0.05 * (year - 2023)
    if code == "I07":
        den = (100_000 + 20_000 * i) * share * growth
        return den * (0.55 + 0.05 * i + 0.01 * (year - 2023) + 0.005 * (quarter or 4)), den
    if code == "I08":
        den = (5e7 + 1e7 * i) * share * growth
        return den * (0.70 + 0.06 * i), den
    if code == "I10a":
        den = (3000 + 500 * i) * share
        return den * (6000 + 400 * i) * growth, den
    if code == "I05a":
        den = 20.0 + 5 * i  # residents / 10,000
        return den * (120 + 40 * i) * share, den
    if code == "I14":
        return 0.16 - 0.01 * i, None
    if code == "I01":
        return float(5 - i * 2), 5.0
    raise KeyError(code)


def indicator_rows() -> list[tuple]:
    rows = []
    unit = {c[0]: c[4] for c in CATALOG}
    frequency = {c[0]: c[6] for c in CATALOG}
    for year in (2023, 2024):
        for quarter in (1, 2, 3, 4, None):
            period = f"{year}" if quarter is None else f"{year}Q{quarter}"
            for code, *_ in CATALOG:
                if quarter is not None and frequency[code] != "quarterly":
                    continue
                sums = [0.0, 0.0, 0, 0]  # numerator, denominator, flagged counties, 达标 counties
                for i, (area_code, area_name) in enumerate(COUNTIES):
                    num, den = county_numbers(i, code, year, quarter)
                    status = None
                    if code == "I14":
                        value, num, den = num, None, None
                    else:
                        value = num / den
                        if code == "I01":
                            status = {5.0: "达标", 3.0: "部分达标", 1.0: "部分达标"}[num]
                            sums[3] += status == "达标"
                        sums[0] += num
                        sums[1] += den
                    rows.append(
                        (
                            "county",
                            area_code,
                            area_name,
                            period,
                            year,
                            quarter,
                            code,
                            num,
                            den,
                            value,
                            unit[code],
                            status,
                        )
                    )
                for level, (area_code, area_name) in (
                    ("city", CITY),
                    ("province", PROVINCE),
                    ("national", ("000000", "全国")),
                ):
                    if code == "I01":
                        num, den = float(sums[3]), 3.0
                    elif code == "I14":
                        num, den = None, None
                    else:
                        num, den = sums[0], sums[1]
                    value = 0.15 if code == "I14" else num / den
                    rows.append(
                        (
                            level,
                            area_code,
                            area_name,
                            period,
                            year,
                            quarter,
                            code,
                            num,
                            den,
                            value,
                            unit[code],
                            None,
                        )
                    )
    return rows


def build_warehouse(path: Path, scorecard: bool = True, scoring_rules: bool = True) -> Path:
    """A published-like warehouse: schema marts with the output-contract tables."""
    con = duck.connect(path)
    con.execute("create schema marts")
    con.execute(f"create table marts.indicator_values ({IV_COLUMNS})")
    con.executemany(
        f"insert into marts.indicator_values values ({', '.join('?' * 12)})", indicator_rows()
    )
    con.execute("""create table marts.indicator_catalog (indicator_code varchar, dimension varchar,
        name_zh varchar, name_en varchar, unit varchar, direction varchar, frequency varchar,
        definition varchar, spec_version varchar)""")
    con.executemany(
        "insert into marts.indicator_catalog values (?, ?, ?, ?, ?, ?, ?, ?, '2024')",
        [(*c, f"definition of {c[0]} <see indicators.md>") for c in CATALOG],
    )
    if scorecard:
        con.execute("""create table marts.county_scorecard (county_code varchar, county_name varchar,
            year integer, score double, grade varchar, rank integer, attainment_I07 double)""")
        con.executemany(
            "insert into marts.county_scorecard values (?, ?, ?, ?, ?, ?, ?)",
            [
                ("990121", "甲县", 2023, 78.0, "合格", 2, 0.8),
                ("990122", "乙县", 2023, 85.5, "良好", 1, 0.9),
                ("990123", "丙县", 2023, 55.0, "不合格", 3, 0.4),
                ("990121", "甲县", 2024, 91.2, "优秀", 1, 1.0),
                ("990122", "乙县", 2024, 84.0, "良好", 2, 0.9),
                ("990123", "丙县", 2024, 62.5, "合格", 3, 0.5),
            ],
        )
    if scoring_rules:
        con.execute("create schema reference")
        con.execute("""create table reference.scoring_rules (indicator_code varchar, direction varchar,
            target double, floor double, weight double)""")
        con.executemany(
            "insert into reference.scoring_rules values (?, ?, ?, ?, ?)",
            [
                ("I07", "higher_better", 0.65, 0.40, 10),
                ("I08", "higher_better", 0.90, 0.60, 10),
                ("I14", "lower_better", 0.15, 0.25, 5),
            ],
        )
    con.execute("""create table marts.data_quality (check_id varchar, source varchar, period varchar,
        category varchar, severity varchar, rows_checked bigint, rows_failed bigint, status varchar)""")
    con.executemany(
        "insert into marts.data_quality values (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                "visits_columns_present",
                "outpatient_visits",
                "2024Q4",
                "conformance",
                "blocking",
                1200,
                0,
                "passed",
            ),
            (
                "settlement_ids_valid",
                "insurance_settlements",
                "2024",
                "conformance",
                "blocking",
                800,
                0,
                "passed",
            ),
            (
                "visit_time_in_period",
                "outpatient_visits",
                "2024Q4",
                "plausibility",
                "warning",
                1200,
                3,
                "failed",
            ),
            (
                "<script>alert('x')</script>",
                "deaths",
                "2024",
                "completeness",
                "warning",
                10,
                1,
                "failed",
            ),
            (
                "population_delivered",
                "population",
                "2023",
                "completeness",
                "blocking",
                12,
                0,
                "passed",
            ),
            (
                "roster_unique",
                "chronic_disease_roster",
                "2024",
                "plausibility",
                "warning",
                0,
                0,
                "not_applicable",
            ),
        ],
    )
    con.execute("""create table marts.load_audit (source varchar, period varchar, file varchar,
        rows_read bigint, rows_loaded bigint, rows_quarantined bigint, rows_duplicate bigint,
        loaded_at timestamp, status varchar)""")
    con.executemany(
        "insert into marts.load_audit values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                "outpatient_visits",
                "2024Q4",
                "visits_990121.csv",
                1210,
                1200,
                7,
                3,
                "2025-01-15 08:00:00",
                "loaded",
            ),
            (
                "outpatient_visits",
                "2023",
                "visits_2023.csv",
                900,
                900,
                0,
                0,
                "2025-01-15 08:00:01",
                "loaded",
            ),
            (
                "insurance_settlements",
                "2024",
                "setl.parquet",
                805,
                800,
                5,
                0,
                "2025-01-15 08:00:02",
                "loaded",
            ),
            ("deaths", "2024", "deaths.xlsx", 10, 0, 0, 0, "2025-01-15 08:00:03", "rejected"),
        ],
    )
    con.close()
    return path


# ---------------------------------------------------------------- headless Chromium over CDP


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--window-size=1280,2000",
    "--remote-debugging-pipe",
]


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None


class Chromium:
    """Headless Chromium driven over --remote-debugging-pipe (fd 3 in, fd 4 out, NUL-framed JSON)."""

    def __init__(self, binary: str, user_data_dir: Path):
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def fds():  # in the child: its fd 3 reads our commands, its fd 4 writes replies
            r, w = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(r, 3)
            os.dup2(w, 4)

        self.proc = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={user_data_dir}", "about:blank"],
            preexec_fn=fds,
            close_fds=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._next_id = 0
        self.events: list[dict] = []
        self._replies: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buf = b""
        with os.fdopen(self._from_chrome, "rb", buffering=0) as pipe:
            while chunk := pipe.read(1 << 16):
                buf += chunk
                while b"\0" in buf:
                    raw, buf = buf.split(b"\0", 1)
                    msg = json.loads(raw)
                    if "id" in msg:
                        self._replies.put(msg)
                    else:
                        self.events.append(msg)

    def send(
        self,
        method: str,
        params: dict | None = None,
        session: str | None = None,
        timeout: float = 30,
    ) -> dict:
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._replies.get(timeout=timeout)
            if reply["id"] == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def wait_event(self, method: str, timeout: float = 30) -> dict:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for ev in self.events:
                if ev["method"] == method:
                    return ev
            time.sleep(0.02)
        raise TimeoutError(f"no {method} within {timeout}s")

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)


def render(binary: str, page: Path, tmp: Path, screenshot: Path | None = None) -> dict:
    """Open `page`; return its DOM, console/JS errors and requests other than the page itself."""
    chrome = Chromium(binary, tmp / "chromium-profile")
    try:
        target = chrome.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = chrome.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Runtime", "Log", "Network", "Page"):
            chrome.send(f"{domain}.enable", session=session)
        chrome.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1280, "height": 2000, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        chrome.events.clear()
        chrome.send("Page.navigate", {"url": page.as_uri()}, session=session)
        chrome.wait_event("Page.loadEventFired")
        dom = chrome.send(
            "Runtime.evaluate",
            {"expression": "document.documentElement.outerHTML", "returnByValue": True},
            session=session,
        )["result"]["value"]
        text = chrome.send(
            "Runtime.evaluate",
            {"expression": "document.body.innerText", "returnByValue": True},
            session=session,
        )["result"]["value"]
        if screenshot is not None:
            size = chrome.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
            shot = chrome.send(
                "Page.captureScreenshot",
                {
                    "format": "png",
                    "captureBeyondViewport": True,
                    "clip": {
                        "x": 0,
                        "y": 0,
                        "width": 1280,
                        "height": min(size["height"], 16000),
                        "scale": 1,
                    },
                },
                session=session,
            )
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
        time.sleep(0.2)  # let late console events arrive
        errors = []
        requests = []
        for ev in chrome.events:
            method, p = ev["method"], ev.get("params", {})
            if method == "Runtime.exceptionThrown":
                errors.append(
                    p["exceptionDetails"].get("exception", {}).get("description")
                    or p["exceptionDetails"].get("text")
                )
            elif method == "Runtime.consoleAPICalled" and p["type"] in (
                "error",
                "assert",
                "warning",
            ):
                errors.append(
                    " ".join(str(a.get("value", a.get("description"))) for a in p["args"])
                )
            elif method == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
                errors.append(p["entry"]["text"])
            elif method == "Network.loadingFailed":
                errors.append(f"failed to load: {p.get('errorText')}")
            elif method == "Network.requestWillBeSent":
                requests.append(p["request"]["url"])
        return {
            "dom": dom,
            "text": text,
            "errors": errors,
            "foreign_requests": [u for u in requests if u != page.as_uri()],
        }
    finally:
        chrome.close()


@pytest.fixture(scope="module")
def browser():
    binary = chromium_path()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail(
                "chromium is not installed (CI must install it: apt-get install -y chromium)"
            )
        pytest.skip(
            "chromium is not installed: `sudo apt-get install -y chromium` to run the browser tests"
        )
    return binary


# ---------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    return build_warehouse(tmp_path_factory.mktemp("wh") / "warehouse.duckdb")


def test_report_is_static_self_contained_and_escaped(warehouse, tmp_path):
    out = write_report(warehouse, tmp_path / "report.html")
    page = out.read_text(encoding="utf-8")
    assert "<script" not in page.lower().replace("&lt;script", "")
    assert not re.search(r"(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", page), (
        "external reference in the report"
    )
    assert not re.search(r"(?i)<(link|img|iframe|object)\b", page)
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page  # markupsafe's escapes
    for _, name in COUNTIES:
        assert name in page
    assert page.count("<svg") >= 6
    assert "目标 target ≥ 65.0%" in page and "目标 target ≤ 15.0%" in page
    assert "County league table" in page and "优秀" in page
    assert not list(tmp_path.glob(".report.html.tmp*"))


def test_report_without_scorecard_or_targets_says_so(tmp_path):
    wh = build_warehouse(tmp_path / "wh.duckdb", scorecard=False, scoring_rules=False)
    page = write_report(wh, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "no marts.county_scorecard table" in page
    assert "values are shown without targets" in page
    assert "目标 target" not in page.replace("目标 target</span>", "")
    assert "甲县" in page


def test_report_renders_in_headless_chromium(warehouse, tmp_path, browser):
    out = write_report(warehouse, ARTIFACTS / "report.html")
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    t0 = time.perf_counter()
    result = render(browser, out, tmp_path, screenshot=shot)
    seconds = time.perf_counter() - t0
    assert result["errors"] == [], result["errors"]
    assert result["foreign_requests"] == [], result["foreign_requests"]
    for _, name in COUNTIES:
        assert name in result["text"]
    assert "示例市" in result["text"] and "全国" in result["text"]
    assert "<script>alert('x')</script>" in result["text"]  # shown as text, not run
    assert result["dom"].count("<svg") >= 6
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    print(f"rendered in {seconds:.1f}s; screenshot {shot} ({shot.stat().st_size // 1024} KB)")


def test_browser_check_catches_errors_and_external_requests(tmp_path, browser):
    """The error detection itself works: a page with a JS error, a console error and a CDN link."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        "<link rel='stylesheet' href='https://cdn.example.invalid/x.css'></head>"
        "<body><p>甲县</p><script>console.error('boom'); throw new Error('kaboom')</script>"
        "</body></html>",
        encoding="utf-8",
    )
    result = render(browser, bad, tmp_path)
    joined = " | ".join(map(str, result["errors"]))
    assert "kaboom" in joined and "boom" in joined
    assert any("cdn.example.invalid" in u for u in result["foreign_requests"])
    assert "甲县" in result["text"]


def analyst_statements() -> list[str]:
    sql = ANALYST_QUERIES.read_text(encoding="utf-8")
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


def test_analyst_queries_run(warehouse):
    statements = analyst_statements()
    assert len(statements) == 6
    con = duck.connect(warehouse, read_only=True)
    try:
        results = [con.execute(s).fetchall() for s in statements]
    finally:
        con.close()
    league, trend, city, behind, quality, rates = results
    assert [r[2] for r in league] == ["甲县", "乙县", "丙县"] and league[0][4] == "优秀"
    assert len(trend) == 8 and trend[0][0] == "2023Q1" and trend[-1][0] == "2024Q4"
    assert len(city) == 1 and city[0][5] == 3 and city[0][4] == city[0][8]
    assert len(behind) == 1 and behind[0][5] is not None and behind[0][6] is not None
    sources = {r[0]: r for r in quality}
    assert (
        sources["deaths"][2] == 1
        and sources["outpatient_visits"][10] == "visit_time_in_period 2024Q4"
    )
    # I05a of the fixture: 丙县 (30 x 200) per 30 = 200 per 10k first, then 乙县 160 and 甲县 120
    assert [(r[1], r[2], r[5]) for r in rates] == [
        ("丙县", "I05a", 200.0),
        ("乙县", "I05a", 160.0),
        ("甲县", "I05a", 120.0),
    ]


def test_export_parquet(warehouse, tmp_path):
    import pyarrow.parquet as pq

    dest = tmp_path / "parquet"
    rows = export_parquet(warehouse, dest)
    assert set(rows) == {
        "indicator_values",
        "indicator_catalog",
        "county_scorecard",
        "data_quality",
        "load_audit",
    }
    assert rows["indicator_values"] == len(indicator_rows())
    assert pq.read_table(dest / "indicator_values.parquet").num_rows == rows["indicator_values"]
    assert pq.read_table(dest / "indicator_values.parquet").column_names[:3] == [
        "area_level",
        "area_code",
        "area_name",
    ]
    # a second export replaces the folder whole and leaves no temp folder behind
    (dest / "stale_table.parquet").write_bytes(b"old")
    assert export_parquet(warehouse, dest) == rows
    assert not (dest / "stale_table.parquet").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["parquet"]


def test_report_of_an_empty_warehouse_explains_what_is_missing(tmp_path):
    con = duck.connect(tmp_path / "empty.duckdb")
    con.execute("create schema marts")
    con.close()
    page = write_report(tmp_path / "empty.duckdb", tmp_path / "r.html").read_text(encoding="utf-8")
    for table in (
        "marts.county_scorecard",
        "marts.indicator_values",
        "marts.data_quality",
        "marts.load_audit",
    ):
        assert table in page


# ---------------------------------------------------------------- 20.7: trends, axes, reasons, misses


def svg_of(page: str, label: str) -> str:
    m = re.search(r"<svg[^>]*aria-label=\"" + re.escape(label) + r"\".*?</svg>", page, re.S)
    assert m, f"no chart {label}"
    return m.group(0)


def test_trends_are_small_multiples_on_a_focused_axis_with_a_distinct_target(warehouse, tmp_path):
    page = write_report(warehouse, tmp_path / "r.html").read_text(encoding="utf-8")
    svg = svg_of(page, "I07 quarterly year-to-date")
    # one panel per county, titled with its name
    titles = re.findall(r"<text[^>]*font-weight=\"bold\"[^>]*>([^<]+)</text>", svg)
    assert titles == [name for _, name in COUNTIES]
    lines = re.findall(r"<polyline points=\"([^\"]+)\"[^>]*stroke=\"([^\"]+)\"", svg)
    # per panel: the county's 2023 and 2024 and the province's 2024 behind them, Q1..Q4 each;
    # no line joins Q4 to the next year's Q1
    assert len(lines) == 3 * 3 and all(len(pts.split()) == 4 for pts, _ in lines)
    # the axis is focused: I07 values run from 55.5% (甲县 2023 Q1) to 68% (丙县 2024 Q4),
    # the target is 65%; an axis from zero would label 0.0%
    axis = [
        float(t.rstrip("%"))
        for t in re.findall(r"<text[^>]*text-anchor=\"end\"[^>]*>([^<]+)</text>", svg)
    ]
    assert 50 < min(axis) <= 55.5 and 68 <= max(axis) < 72
    # the target: a dashed line in each panel, in a colour no series line uses
    targets = re.findall(r"<line [^>]*stroke=\"([^\"]+)\"[^>]*stroke-dasharray", svg)
    assert len(targets) == 3 and len(set(targets)) == 1
    assert targets[0] not in {colour for _, colour in lines}
    assert "2023" in page and "目标 target 65.0%" in page  # the legend


def test_league_chart_focuses_on_the_scores_with_dots(warehouse, tmp_path):
    page = write_report(warehouse, tmp_path / "r.html").read_text(encoding="utf-8")
    svg = svg_of(page, "2024 县域得分 county scores")
    assert "<rect" not in svg  # dots, not bars from an axis that does not start at 0
    assert len(re.findall(r"<circle ", svg)) == 3
    # 2024 scores 91.2, 84.0 and 62.5: the axis spans about 59.6 to 94.1, not 0 to 100
    ticks = [
        float(t)
        for t in re.findall(r"<text[^>]*text-anchor=\"middle\" fill=\"#555\">([\d.]+)</text>", svg)
    ]
    assert 55 < min(ticks) < 62.5 and 91.2 < max(ticks) < 100
    assert "轴不从 0 开始" in svg


def test_value_labels_stand_clear_of_bars_and_the_target_line(warehouse, tmp_path):
    page = write_report(warehouse, tmp_path / "r.html").read_text(encoding="utf-8")
    svg = svg_of(page, "I07 2024")
    target_x = float(re.search(r"<line x1=\"([\d.]+)\"[^>]*stroke-dasharray", svg).group(1))
    bar_ends = [
        float(x) + float(w)
        for x, w in re.findall(r"<rect x=\"([\d.]+)\" y=\"[\d.]+\" width=\"([\d.]+)\"", svg)
    ]
    labels = [
        float(x) for x in re.findall(r"<text x=\"([\d.]+)\" y=\"[\d.]+\" font-size=\"12\">", svg)
    ]
    assert len(bar_ends) == 3 and len(labels) == 3
    assert min(labels) > max(bar_ends) and min(labels) > target_x + 5


def test_report_quality_page_and_dbt_docs_link_to_each_other(warehouse, tmp_path):
    from orchestration.report import write_quality_page
    from orchestration.report.pages import link_dbt_docs

    wh = tmp_path / "w.duckdb"
    shutil.copy(warehouse, wh)
    docs = tmp_path / "w_dbt_docs" / "index.html"
    docs.parent.mkdir()
    docs.write_text("<html><body><div>dbt</div></body></html>", encoding="utf-8")
    report = write_report(wh, tmp_path / "w_report.html")
    quality = write_quality_page(wh, tmp_path / "w_quality.html")
    link_dbt_docs(wh)
    link_dbt_docs(wh)  # twice: still one box

    def targets(page: Path) -> set[Path]:
        hrefs = re.findall(r"<a href=\"([^\"#][^\"]*)\"", page.read_text(encoding="utf-8"))
        return {(page.parent / h).resolve() for h in hrefs}

    assert {quality, docs.resolve()} <= targets(report)
    assert {report, docs.resolve()} <= targets(quality)
    assert targets(docs) == {report, quality}
    assert docs.read_text(encoding="utf-8").count('id="ygt-links"') == 1


def test_missing_values_say_why_and_counties_missing_targets_are_listed(tmp_path):
    wh = build_warehouse(tmp_path / "wh.duckdb")
    con = duck.connect(wh)
    con.executemany(
        "insert into marts.indicator_values values (?, ?, ?, '2024', 2024, null, 'I14p', "
        "null, null, null, 'per_10k', null)",
        [("county", c, n) for c, n in COUNTIES],
    )
    con.close()
    page = write_report(wh, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "no value for 甲县, 乙县, 丙县: 三年合并值需要连续三年的死亡和人口数据" in page
    assert "deaths and population for the year and the two before it" in page
    # 2024 values worked out from county_numbers: I07 58% / 63% / 68% against >= 65%,
    # I08 70% / 76% / 82% against >= 90%, I14 16% / 15% / 14% against <= 15%
    table = re.search(r"id=\"targets\".*?<tbody>(.*?)</tbody>", page, re.S).group(1)
    rows = re.findall(
        r"<tr><td>([^<]+)</td><td>([^<]+)</td><td class=\"num\">(\d+)</td></tr>", table
    )
    missed = {county: (codes, int(n)) for county, codes, n in rows}
    assert {c: n for c, (_, n) in missed.items()} == {"甲县": 3, "乙县": 2, "丙县": 1}
    assert "I07 58.0%" in missed["甲县"][0] and "I14 16.0%" in missed["甲县"][0]
    assert "I07" not in missed["丙县"][0] and "I08 82.0%" in missed["丙县"][0]


def test_report_pages_have_no_hand_escaping_outside_the_chart_module():
    pkg = ROOT / "orchestration" / "report"
    for path in pkg.glob("*.py"):
        if path.name != "charts.py":
            text = path.read_text(encoding="utf-8")
            assert "escape(" not in text and "import html" not in text, path
    assert sorted(p.name for p in (pkg / "templates").glob("*.html.j2")) == [
        "base.html.j2",
        "quality.html.j2",
        "report.html.j2",
    ]


# ---------------------------------------------------------------- 20.1: the quality page


DQ_FULL = [  # check_id, stage, source, period, category, severity, threshold, checked, failed, status,
    # description, finding, message
    (
        "R07",
        "raw",
        "outpatient_visits",
        "2024Q4",
        "conformance",
        "blocking",
        0.001,
        123456,
        0,
        "passed",
        "Visits have an id, a facility and a time",
        "",
        "Visits have an id, a facility and a time",
    ),
    (
        "R12",
        "raw",
        "outpatient_visits",
        "2024Q4",
        "completeness",
        "warning",
        0.0,
        74,
        8,
        "failed",
        "Every facility that delivered last quarter delivered this quarter",
        "H0001 甲县卫生院, H0002 乙县卫生院, H0003 x, H0004 y, H0005 z and 3 more",
        "",
    ),
    (
        "R13",
        "raw",
        "outpatient_visits",
        "2024Q4",
        "plausibility",
        "warning",
        0.02,
        200000,
        3,
        "passed",
        "Share of invalid 身份证号 check digits is small",
        "visits.csv:12, visits.csv:40, visits.csv:99",
        "",
    ),
    (
        "R30",
        "raw",
        "chronic_disease_roster",
        "2024",
        "plausibility",
        "warning",
        0.0,
        0,
        0,
        "not_applicable",
        "Roster rows are unique",
        "",
        "",
    ),
    (
        "M01",
        "mart",
        "indicator_values",
        "2024",
        "plausibility",
        "warning",
        0.0,
        540,
        1,
        "failed",
        "Indicator values lie in their plausible range",
        "I07 990121 = 1.2",
        "",
    ),
]


def quality_warehouse(path: Path) -> Path:
    con = duck.connect(path)
    con.execute("create schema marts")
    con.execute("""create table marts.data_quality (check_id varchar, stage varchar, source varchar,
        period varchar, category varchar, severity varchar, threshold double, rows_checked bigint,
        rows_failed bigint, status varchar, description varchar, finding varchar, message varchar)""")
    con.executemany(f"insert into marts.data_quality values ({', '.join('?' * 13)})", DQ_FULL)
    con.close()
    return path


def external_refs(page: str) -> list[str]:
    """Every src/href/url() that would leave the file (http, https, protocol-relative)."""
    from html.parser import HTMLParser

    found = []

    class Refs(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.extend(
                v
                for k, v in attrs
                if k in ("src", "href", "xlink:href")
                and v
                and re.match(r"(?i)^(https?:)?//", v.strip())
            )

    Refs().feed(page)
    return found + re.findall(r"(?i)url\(\s*['\"]?(?:https?:)?//[^)]*\)", page)


def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA PNG (what Chromium writes): width, height, rows of pixel bytes."""
    import struct
    import zlib

    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and colour in (2, 6)
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        f, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, [bytes(r[i : i + 3]) for r in rows for i in range(0, stride, bpp)]


def test_quality_page_says_in_words_what_was_checked_and_found(tmp_path):
    from orchestration.report import write_quality_page

    page = write_quality_page(quality_warehouse(tmp_path / "wh.duckdb"), tmp_path / "q.html")
    html = page.read_text(encoding="utf-8")
    assert external_refs(html) == [] and "<script" not in html.lower()
    assert "No blocking failure: the warehouse is published; 2 warning(s) to look into" in html
    rows = re.findall(r"<tr><td class=\"[a-z]*\">([^<]+)</td><td><b>(\w+)</b>.*?</tr>", html, re.S)
    status = dict((check, words) for words, check in rows)
    assert status == {
        "R07": "通过 passed",
        "R12": "警告 warning",
        "R13": "通过 passed",
        "R30": "不适用 not applicable",
        "M01": "警告 warning",
    }
    r12 = re.search(r"<td><b>R12</b>.*?</tr>", html, re.S).group(0)
    # 8 of 74 = 10.81 %; integers with thousands separators; tolerated 0 %
    assert ">74<" in r12 and ">8<" in r12 and "10.81%" in r12 and ">0%<" in r12
    assert "H0001 甲县卫生院" in r12 and "and 3 more" in r12
    r07 = re.search(r"<td><b>R07</b>.*?</tr>", html, re.S).group(0)
    assert ">123,456<" in r07 and "0.1%" in r07
    assert "Raw data, after landing" in html and "Indicator results, after the dbt build" in html
    assert html.index("<td><b>R12</b>") < html.index("<td><b>R07</b>")  # problems first
    for raw_word in ("None", "failed_share", "row_condition", "Status: Failed"):
        assert raw_word not in html


def test_quality_page_renders_offline_in_headless_chromium(tmp_path, browser):
    from orchestration.report import write_quality_page

    out = write_quality_page(quality_warehouse(tmp_path / "wh.duckdb"), ARTIFACTS / "quality.html")
    shot = ARTIFACTS / "quality.png"
    shot.unlink(missing_ok=True)
    result = render(browser, out, tmp_path, screenshot=shot)
    assert result["errors"] == [] and result["foreign_requests"] == []
    assert "警告 warning" in result["text"] and "H0001 甲县卫生院" in result["text"]
    width, height, pixels = png_pixels(shot)
    assert width == 1280 and height > 300
    inked = sum(p != b"\xff\xff\xff" for p in pixels)
    assert inked > 0.01 * len(pixels), f"screenshot nearly blank: {inked} of {len(pixels)} pixels"
    assert len(set(pixels)) > 20  # text in several colours, not one flat fill


# ---------------------------------------------------------------- issue 18: a page per county


def county_table(page: str, code: str) -> str:
    return re.search(r"id=\"county-" + code + r"\".*?<tbody>(.*?)</tbody>", page, re.S).group(1)


def indicator_row(table: str, code: str) -> list[str]:
    row = re.search(r"<tr><td>" + code + r" .*?</tr>", table, re.S).group(0)
    return [
        re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    ]


def test_county_pages_rank_in_city_and_province_and_name_top_facilities(tmp_path):
    wh = build_warehouse(tmp_path / "wh.duckdb")
    con = duck.connect(wh)
    # a fourth county in another city of the same province, I07 2024 = 60 %
    con.execute(
        "insert into marts.indicator_values values ('county', '990221', '丁县', '2024', 2024, "
        "null, 'I07', 60, 100, 0.60, 'ratio', null)"
    )
    con.execute("""create table marts.indicator_breakdown (area_level varchar, area_code varchar,
        area_name varchar, period varchar, year integer, quarter integer, indicator_code varchar,
        facility_code varchar, facility_name varchar, facility_category varchar,
        facility_county_code varchar, numerator double, denominator double)""")
    con.executemany(
        "insert into marts.indicator_breakdown values ('county', '990121', '甲县', '2024', 2024, "
        "null, 'I07', ?, ?, 'C21', '990121', ?, ?)",
        [
            ("F1", "一号卫生院", 500, 1000),
            ("F2", "二号卫生院", 900, 1200),
            ("F3", "三号卫生院", 100, 300),
            ("F4", "四号卫生院", 300, 400),
        ],
    )
    con.close()
    page = write_report(wh, tmp_path / "r.html").read_text(encoding="utf-8")
    # I07 2024 (higher is better): 丙县 68 %, 乙县 63 %, 丁县 60 %, 甲县 58 %
    jia = indicator_row(county_table(page, "990121"), "I07")
    assert jia[1] == "58.0%" and jia[4:6] == ["3 / 3", "4 / 4"]
    assert jia[6] == "二号卫生院 900 / 1,200; 一号卫生院 500 / 1,000; 四号卫生院 300 / 400"
    assert indicator_row(county_table(page, "990221"), "I07")[4:6] == ["1 / 1", "3 / 4"]
    assert indicator_row(county_table(page, "990123"), "I07")[4:6] == ["1 / 3", "1 / 4"]
    # I10a (lower is better) 2024: 甲县 6,300 is the cheapest of the three
    assert indicator_row(county_table(page, "990121"), "I10a")[4] == "1 / 3"
    # year-to-date quarters of 甲县 I07 2024: (0.55 + 0.01 + 0.005 q) for q = 1..4
    assert "56.5% · 57.0% · 57.5% · 58.0%" in jia[3]


def test_county_pages_without_breakdown_say_so(warehouse, tmp_path):
    page = write_report(warehouse, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "No marts.indicator_breakdown table: the top facilities are omitted" in page
    assert "Top facilities" not in page
    assert all(f'id="county-{code}"' in page for code, _ in COUNTIES)
