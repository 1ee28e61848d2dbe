"""How the steps' messages reach a person: the `ygt` loggers, the command line's handler
(`Reporter`: one line per step, problems always, details with --verbose, a bar on a terminal,
Ctrl-C at the next message), dbt's JSON events as messages, the landing's and the gates'
summaries split by level, and the same messages in Dagster's log.

The records are logged here as the steps log them; the expected lines are written out by hand.
"""

import io
import json
import logging
import threading

import pytest

from orchestration import dbt, pipeline
from orchestration.land.report import DeliveryResult, FileResult, LandingReport
from orchestration.progress import ROOT, Reporter, relayed
from orchestration.quality.gates import GateResult

LAND, DBT, PIPE = (logging.getLogger(f"ygt.{n}") for n in ("land", "dbt", "pipeline"))


@pytest.fixture
def shown():
    """shown(verbose, tty) -> the stream a Reporter attached to the `ygt` logger writes to."""
    attached = []

    def attach(verbose=False, tty=False):
        stream = io.StringIO()
        reporter = Reporter(verbose, stream, tty=tty)
        logging.getLogger(ROOT).addHandler(reporter)
        attached.append(reporter)
        return stream

    yield attach
    for reporter in attached:
        logging.getLogger(ROOT).removeHandler(reporter)


def a_landing():
    """Two deliveries as a run logs them: a file read, a file rejected, a failed delivery."""
    PIPE.info("── land (2 deliveries)", extra={"event": "start", "step": "land", "total": 2})
    LAND.debug("visits/2024Q1: landing 2 file(s)", extra={"where": "visits/2024Q1"})
    LAND.debug(
        "  visits/2024Q1/a.csv: read 10 rows in 0.1s", extra={"where": "visits/2024Q1/a.csv"}
    )
    LAND.debug("  visits/2024Q1/b.csv: REJECTED -- missing required column(s) x")
    LAND.debug("visits/2024Q1: landed 10 rows in 0.1s", extra={"advance": 1})
    LAND.warning("visits/2024Q2: failed -- not landed, previous delivery kept: IOException",
                 extra={"advance": 1, "where": "visits/2024Q2"})  # fmt: skip
    PIPE.info(
        "✓ land: 1 deliveries landed, 1 FAILED (0.3s)", extra={"event": "done", "step": "land"}
    )
    DBT.debug("   dbt 35/350 nodes", extra={"done": 35, "total": 350})
    DBT.warning(
        "   dbt 12 of 350 ERROR creating sql table model x", extra={"done": 36, "total": 350}
    )


LOGGED = [
    "── land (2 deliveries)",
    "visits/2024Q1: landing 2 file(s)",
    "  visits/2024Q1/a.csv: read 10 rows in 0.1s",
    "  visits/2024Q1/b.csv: REJECTED -- missing required column(s) x",
    "visits/2024Q1: landed 10 rows in 0.1s",
    "visits/2024Q2: failed -- not landed, previous delivery kept: IOException",
    "✓ land: 1 deliveries landed, 1 FAILED (0.3s)",
    "   dbt 35/350 nodes",
    "   dbt 12 of 350 ERROR creating sql table model x",
]


def test_without_verbose_a_log_shows_the_steps_and_the_problems(shown):
    stream = shown(verbose=False, tty=False)
    a_landing()
    assert stream.getvalue().splitlines() == [
        "── land (2 deliveries)",
        "visits/2024Q2: failed -- not landed, previous delivery kept: IOException",
        "✓ land: 1 deliveries landed, 1 FAILED (0.3s)",
        "   dbt 12 of 350 ERROR creating sql table model x",
    ]


def test_with_verbose_every_message_is_shown(shown):
    stream = shown(verbose=True, tty=False)
    a_landing()
    assert stream.getvalue().splitlines() == LOGGED


def test_on_a_terminal_a_status_line_counts_the_deliveries(shown):
    stream = shown(verbose=False, tty=True)
    PIPE.info("── land (2 deliveries)", extra={"event": "start", "step": "land", "total": 2})
    LAND.debug(
        "visits/2024Q1: landed 10 rows in 0.1s", extra={"advance": 1, "where": "visits/2024Q1"}
    )
    text = stream.getvalue()
    assert "── land" not in text  # the status line stands for the step's first line
    assert text.endswith("\r\x1b[Kland [##########..........] 1/2  visits/2024Q1")
    PIPE.info("✓ land: 2 deliveries landed (0.2s)", extra={"event": "done", "step": "land"})
    assert stream.getvalue().endswith("\r\x1b[K✓ land: 2 deliveries landed (0.2s)\n")


def test_after_ctrl_c_the_next_message_raises_keyboard_interrupt(shown):
    stream = shown(verbose=False, tty=False)
    reporter = logging.getLogger(ROOT).handlers[-1]
    reporter.interrupted = True  # what the SIGINT handler of install_interrupt() records
    with pytest.raises(KeyboardInterrupt):
        LAND.debug("a detail nobody sees")  # even a message that would not be shown
    assert stream.getvalue() == ""


def test_a_callback_gets_the_messages_of_its_own_thread_only():
    said = []
    with relayed(said.append):
        LAND.debug("mine")
        other = threading.Thread(target=LAND.warning, args=("another run's",))
        other.start()
        other.join()
    LAND.debug("after the block")
    assert said == ["mine"]


# ── dbt's events ─────────────────────────────────────────────────────────────────────────


def event(name, level, msg, **data):
    """One line of `dbt --log-format json` (dbt 1.11: `info` and `data`)."""
    return json.dumps({"info": {"name": name, "level": level, "msg": msg}, "data": data})


def node(name, level, msg, index, total, status, **data):
    info = {"unique_id": f"model.ygt.m{index}", "node_status": status}
    return event(name, level, msg, index=index, total=total, node_info=info, **data)


def test_dbt_events_become_a_line_per_tenth_the_problems_and_the_tally(shown):
    stream = shown(verbose=True, tty=False)
    events = dbt.DbtEvents()
    lines = [event("MainReportVersion", "info", "Running with dbt=1.11.16")]
    for i in range(1, 21):
        lines.append(node("LogStartLine", "info", f"{i} of 20 START m{i}", i, 20, "started"))
        if i == 7:
            lines.append(
                node("LogModelResult", "error", "7 of 20 ERROR creating m7", i, 20, "error")
            )
        elif i == 9:
            lines.append(
                node("SkippingDetails", "info", "9 of 20 SKIP relation m9", i, 20, "skipped")
            )
        else:
            lines.append(
                node("LogModelResult", "info", f"{i} of 20 OK created m{i}", i, 20, "success")
            )
    lines += [
        event("RunResultFailure", "error", "Failure in model m7 (models/m7.sql)"),
        event(
            "RunResultError",
            "error",
            "  Database Error in model m7 (models/m7.sql)\n  Conversion Error: 'a value'",
        ),
        event(
            "StatsLine",
            "info",
            "Done. PASS=18 WARN=0 ERROR=1 SKIP=1 NO-OP=0 TOTAL=20",
            stats={"pass": 18, "warn": 0, "error": 1, "skip": 1, "total": 20},
        ),
        "Traceback (most recent call last):",
    ]
    for line in lines:
        events.feed(line)
    assert stream.getvalue().splitlines() == [
        *(f"   dbt {n}/20 nodes" for n in (1, 2, 4, 6)),
        "   dbt 7 of 20 ERROR creating m7",
        *(f"   dbt {n}/20 nodes" for n in (8, 10, 12, 14, 16, 18, 20)),
        "   dbt Database Error in model m7 (models/m7.sql)",  # the head only: the rest quotes data
        "   dbt Done. PASS=18 WARN=0 ERROR=1 SKIP=1 NO-OP=0 TOTAL=20",
        "   dbt Traceback (most recent call last):",
    ]
    assert "Conversion Error: 'a value'" in "\n".join(events.text)  # kept for DbtError


def test_without_verbose_dbt_shows_its_problems_and_a_clean_tally(shown):
    stream = shown(verbose=False, tty=False)
    events = dbt.DbtEvents()
    events.feed(node("LogTestResult", "info", "1 of 2 PASS t1", 1, 0, "pass", num_models=2))
    events.feed(node("LogTestResult", "warn", "2 of 2 WARN 3 t2", 2, 0, "warn", num_models=2))
    stats = {"pass": 1, "warn": 1, "error": 0, "skip": 0, "total": 2}
    events.feed(event("StatsLine", "info", "Done. PASS=1 WARN=1 TOTAL=2", stats=stats))
    events.feed(event("EndOfRunSummary", "info", "Completed with 1 warning:"))
    assert stream.getvalue().splitlines() == [
        "   dbt 2 of 2 WARN 3 t2",
        "   dbt Done. PASS=1 WARN=1 TOTAL=2",
    ]


# ── summaries ────────────────────────────────────────────────────────────────────────────


def test_landing_summary_shows_what_needs_a_person_without_verbose(shown, tmp_path):
    stream = shown(verbose=False, tty=False)
    ok = FileResult("visits", "2024Q1", "visits/2024Q1/a.csv", "csv", rows_read=10)
    ok.rows_loaded, ok.rows_quarantined = 9, 1
    bad = FileResult("visits", "2024Q1", "visits/2024Q1/b.csv", "csv", status="rejected")
    bad.message = "visits/2024Q1/b.csv: missing required column(s) x"
    report = LandingReport(tmp_path, problems=["stray file README.txt"])
    report.deliveries = [
        DeliveryResult(
            "visits",
            "2024Q1",
            "landed",
            "f1",
            files=[ok, bad],
            skipped_files=["visits/2024Q1/~lock.csv: a lock file"],
        ),  # fmt: skip
        DeliveryResult("visits", "2024Q2", "failed", "f2", message="not landed: IOException"),
    ]
    pipeline.log_landing(report)
    assert stream.getvalue().splitlines() == [
        "  REJECTED visits/2024Q1/b.csv: missing required column(s) x",  # delivery by delivery
        "  visits/2024Q2: failed -- not landed: IOException",
        "  SKIPPED FILE visits/2024Q1/~lock.csv: a lock file",
        "  PROBLEM: stray file README.txt",
        "  details: raw.load_audit (per file) and raw.quarantine (file, line, reason); "
        "fix the files in the landing folder and land again.",
    ]


def test_gate_summary_shows_the_blocking_failures_without_verbose(shown):
    stream = shown(verbose=False, tty=False)

    def row(check, severity):
        return {"check_id": check, "source": "visits", "period": "2024Q1", "severity": severity,
                "status": "failed", "rows_failed": 3, "rows_checked": 10, "message": "m",
                "finding": ""}  # fmt: skip

    blocking = [row("R01", "blocking"), row("R02", "blocking")]
    pipeline.log_gates(
        GateResult("raw", rows=[*blocking, row("R12", "warning")], outstanding=blocking)
    )
    assert stream.getvalue().splitlines() == [
        "  BLOCKING R01 visits 2024Q1: 3 of 10 rows failed (m)",
        "  BLOCKING R02 visits 2024Q1: 3 of 10 rows failed (m)",
    ]


# ── Dagster ──────────────────────────────────────────────────────────────────────────────


def test_dagster_steps_get_the_messages_at_their_levels():
    from dagster_project.logs import forwarded

    class Context:
        log = logging.getLogger("a dagster step")

    got = []
    sink = logging.Handler()
    sink.emit = lambda record: got.append((record.levelname, record.getMessage()))
    Context.log.addHandler(sink)
    Context.log.setLevel(logging.DEBUG)
    with forwarded(Context):
        LAND.debug("visits/2024Q1: landed 10 rows in 0.1s")
        LAND.warning("  REJECTED visits/2024Q1/b.csv: missing required column(s) x")
    LAND.warning("after the step")
    assert got == [
        ("DEBUG", "visits/2024Q1: landed 10 rows in 0.1s"),
        ("WARNING", "REJECTED visits/2024Q1/b.csv: missing required column(s) x"),
    ]


# ── the generator ────────────────────────────────────────────────────────────────────────


def test_generate_says_what_it_writes_and_names_each_delivery_with_verbose(shown, tmp_path):
    from orchestration.generate import generate

    quiet, loud = shown(verbose=False), shown(verbose=True)
    landing = tmp_path / "landing"
    generate(landing, counties=1, years=(2024,), scale=0.02, seed=5, progress=None)
    files = [p for p in landing.rglob("*") if p.is_file()]
    lines = quiet.getvalue().splitlines()
    assert lines[0] == "generating 1 counties, years 2024, scale 0.02, seed 5"
    assert lines[1].startswith(f"wrote {len(files)} files, ") and len(lines) == 2
    said = loud.getvalue().splitlines()
    for folder in (p for p in landing.glob("*/*") if p.is_dir()):
        where = f"{folder.parent.name}/{folder.name}"
        assert any(line.startswith(f"  {where}: ") for line in said), where
