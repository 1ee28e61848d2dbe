"""The `ygt` command as a person meets it: Ctrl-C, refusals of output folders that do not
exist, the periods and codes it accepts, its help, `ygt contract`, and how much it prints.

The command runs in a subprocess (a real `ygt run` is interrupted with SIGINT); expected values
come from the seeds and the contract read here, never from the command's own output.
"""

import csv
import os
import re
import signal
import subprocess
import time

import pytest
from ygt_command import YGT, digest, ygt

from orchestration import contract, settings

SEEDS = settings.PROJECT_DIR / "seeds"


def seed(name: str) -> list[dict]:
    with open(SEEDS / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A one-county year landed, built and published by `ygt run`; its output kept."""
    from orchestration.generate import generate

    root = tmp_path_factory.mktemp("cli")
    landing = root / "landing"
    generate(landing, counties=1, years=(2024,), scale=0.02, seed=5, progress=lambda m: None)
    wh = root / "wh" / "w.duckdb"
    wh.parent.mkdir()
    env = {"DAGSTER_HOME": str(root / "dagster")}
    proc = ygt("run", "--landing", str(landing), "--warehouse", str(wh), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"landing": landing, "warehouse": wh, "env": env, "first": proc}


def again(published, command: str, *args) -> subprocess.CompletedProcess:
    """`ygt <command> --landing … --warehouse … <args>` on the published fixture's folders."""
    where = ["--landing", str(published["landing"]), "--warehouse", str(published["warehouse"])]
    return ygt(*command.split(), *where, *args, env=published["env"])


# ── Ctrl-C ─────────────────────────────────────────────────────────────────────────────────


@pytest.mark.slow
@pytest.mark.parametrize(
    "step, settle",
    [("── land", 0.3), ("── dbt build", 2.0)],
    ids=["during-landing", "during-dbt"],
)
def test_ctrl_c_stops_a_run_with_one_message_and_exit_130(published, step, settle):
    """SIGINT to a real `ygt run --force` once it has reached `step`: exit 130, one line saying
    what was interrupted and that the published warehouse is unchanged, no traceback, the
    published file byte for byte as it was, no dbt process left behind."""
    wh = published["warehouse"]
    before = digest(wh)
    proc = subprocess.Popen(
        [*YGT, "run", "--landing", str(published["landing"]), "--warehouse", str(wh), "--force"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=settings.PROJECT_DIR,
        env={**os.environ, **published["env"]},
    )
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith(step):
            break
    else:
        proc.wait()
        pytest.fail(f"the run never reached {step!r}: {''.join(seen)[-2000:]}")
    time.sleep(settle)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    err = "".join(seen) + err
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
    said = [line for line in err.splitlines() if "interrupted" in line.lower()]
    assert len(said) == 1, err[-3000:]
    assert said[0].startswith("ygt run: interrupted (Ctrl-C) during ")
    assert (
        said[0]
        .removeprefix("ygt run: interrupted (Ctrl-C) during ")
        .startswith(step.removeprefix("── "))
    )
    assert f"{wh} is untouched" in said[0] and "Run the same command again" in said[0]
    assert err.rstrip().endswith(said[0])  # the last thing printed
    assert digest(wh) == before
    assert not [p for p in wh.parent.iterdir() if ".tmp" in p.name]
    children = subprocess.run(
        ["pgrep", "-f", f"dbt.cli.main.*{settings.dbt_target_for(settings.work_db_for(wh))}"],
        capture_output=True,
    )
    assert children.stdout == b""


# ── output folders ─────────────────────────────────────────────────────────────────────────


def test_outputs_into_a_missing_folder_are_refused_unless_create_dir(published, tmp_path):
    wh = str(published["warehouse"])
    missing = tmp_path / "typo" / "deeper"
    cases = [  # each command with the output option that names a file in `missing`
        ["export-xlsx", "--year", "2024", "--out", str(missing / "a.xlsx")],
        ["report", "--out", str(missing / "r.html")],
        [
            *"explain --area 990121 --period 2024 --indicator I13 --list".split(),
            str(missing / "l.csv"),
        ],
    ]
    for args in cases:
        proc = ygt(*args, "--warehouse", wh)
        assert proc.returncode == 2, (args[0], proc.stderr)
        assert "does not exist" in proc.stderr and "--create-dir" in proc.stderr, proc.stderr
        assert not (tmp_path / "typo").exists()
    proc = ygt(*cases[1], "--warehouse", wh, "--create-dir")
    assert proc.returncode == 0, proc.stderr
    assert (missing / "r.html").is_file()


# ── periods and codes ──────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("given", ["2024-04", "2024q2", "2024Q2"])
def test_period_partition_key_and_lower_case_are_read_as_the_quarter(published, given):
    proc = ygt(
        "explain",
        "--warehouse",
        str(published["warehouse"]),
        "--area",
        "990121",
        "--period",
        given,
        "--indicator",
        "i07",
        "--format",
        "json",
    )
    assert proc.returncode == 0, proc.stderr
    assert '"period": "2024Q2"' in proc.stdout
    assert '"indicator_code": "I07"' in proc.stdout or '"code": "I07"' in proc.stdout
    if given != "2024Q2":
        assert f"--period {given}" in proc.stderr and "read as 2024Q2" in proc.stderr
    else:
        assert "read as" not in proc.stderr


def test_a_run_accepts_the_dagster_partition_key(published):
    """The quarterly refresh of the README, with the key `dg launch` takes (nothing new: the
    run is quick and publishes again)."""
    proc = again(published, "run", "--period", "2024-10")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "--period 2024-10 (Dagster partition key) read as 2024Q4" in proc.stderr


def test_a_period_that_is_no_period_is_still_refused(published):
    proc = again(published, "run", "--period", "2024-05")
    assert proc.returncode == 2
    assert "2024-05" in proc.stderr and "Traceback" not in proc.stderr


# ── help ───────────────────────────────────────────────────────────────────────────────────


def test_version_descriptions_and_warehouse_help():
    from importlib.metadata import version

    from orchestration.cli import build_parser

    proc = ygt("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"ygt {version('ygt')}"
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) >= {"generate", "land", "run", "show", "report", "export"}
    for name, sp in sub.choices.items():
        assert sp.description, f"ygt {name} has no description"
        for action in sp._actions:
            if "--warehouse" in action.option_strings:
                assert action.help, f"ygt {name} --warehouse has no help"


def test_explain_help_names_every_indicator_and_marks_the_reconciliation_lists():
    proc = ygt("explain", "--help")
    assert proc.returncode == 0
    lines = {
        line.split()[0]: line
        for line in proc.stdout.splitlines()
        if re.match(r"^\s+[IS]\d+\w*\s", line)
    }
    for r in seed("indicator_definitions.csv"):
        assert r["indicator_code"] in lines, r["indicator_code"]
        assert r["name_zh"] in lines[r["indicator_code"]]
    # person-level lists: I04 (dispatched physicians), I13 and I13x (the managed cohort)
    marked = {code for code, line in lines.items() if line.rstrip().endswith("[--list]")}
    assert marked == {"I04", "I13", "I13x"}


# ── ygt contract ───────────────────────────────────────────────────────────────────────────


def test_contract_lists_formats_flags_aliases_and_what_every_code_means():
    proc = ygt("contract")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "2024-03-05" in text and "20240305" in text and "2024/03/05" in text  # dates
    assert "是 = 1" in text and "否 = 0" in text  # flag spellings
    assert "男 = 1" in text and "女 = 2" in text  # a person's sex
    categories = {r["category_code"]: r["name_zh"] for r in seed("facility_categories.csv")}
    blocks = text.split("\n\n")
    for src in contract.SOURCES:
        block = next(b for b in blocks if b.startswith(f"{src.name}/"))
        for col in src.columns:
            assert re.search(rf"^    {col.name}\s", block, re.M), (src.name, col.name)
            if col.enum and col.kind != "flag":
                start = block.index(f"    {col.name} ")
                tail = block[start:].splitlines()[1:]
                for code in col.enum:
                    line = next(
                        (t for t in tail if re.match(rf"^\s+{re.escape(code)}\s+\S", t)), None
                    )
                    assert line, f"{src.name}.{col.name}: code {code} has no meaning"
                    if col.name == "category_code" and code in categories:
                        assert categories[code] in line


# ── what a run prints ──────────────────────────────────────────────────────────────────────


def test_a_run_prints_a_line_per_step_and_a_rerun_no_unchanged_lines(published):
    first = published["first"].stderr.splitlines()
    assert len(first) < 30, "\n".join(first)
    done = [line for line in first if line.startswith("✓ ")]
    assert [d.split(":")[0] for d in done] == [
        "✓ land",
        "✓ raw quality gates",
        "✓ dbt build",
        "✓ mart quality gates",
        "✓ publish",
        "✓ parquet, report and docs",
    ]
    # the first line of landing names its total: the <source>/<period> folders on disk
    folders = [
        p for p in published["landing"].glob("*/*") if p.is_dir() and p.parent.name != "_profiles"
    ]
    assert f"── land ({len(folders)} deliveries)" in first
    # no detail without --verbose: no delivery or file landed, no dbt tenth
    details = [
        line for line in first if re.search(r": (landing|landed|read) [\d,]+ |\bnodes$", line)
    ]
    assert details == [], details
    rerun = again(published, "run", "--period", "2024")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "unchanged, skipped" not in rerun.stderr
    assert re.search(r"^✓ land: 0 deliveries landed, \d+ unchanged \(skipped\)", rerun.stderr, re.M)
    verbose = again(published, "--verbose land")
    assert verbose.returncode == 0, verbose.stderr[-2000:]
    assert "unchanged, skipped" in verbose.stderr  # the details, when asked for


# ── summaries ──────────────────────────────────────────────────────────────────────────────


def test_gate_summary_counts_blocking_failures_and_warnings_apart():
    from orchestration.quality.gates import GateResult

    def row(check, severity, status):
        return {
            "check_id": check,
            "source": "visits",
            "period": "2024Q1",
            "severity": severity,
            "status": status,
            "rows_failed": 1,
            "rows_checked": 10,
            "message": "m",
            "finding": "",
        }

    warnings_only = GateResult("raw", rows=[row(f"R{i}", "warning", "failed") for i in range(8)])
    assert warnings_only.headline() == "8 results — 0 passed, 0 blocking failures, 8 warnings"
    blocking = [row("R1", "blocking", "failed")]
    mixed = GateResult(
        "raw",
        rows=[*blocking, row("R2", "warning", "failed"), row("R3", "blocking", "passed")],
        outstanding=blocking,
    )
    assert mixed.headline() == "3 results — 1 passed, 1 blocking failure, 1 warning"


def test_show_names_the_headline_indicators_from_the_catalogue(published):
    proc = ygt("show", "--warehouse", str(published["warehouse"]))
    assert proc.returncode == 0, proc.stderr
    names = {r["indicator_code"]: r["name_zh"] for r in seed("indicator_definitions.csv")}
    from orchestration.show import HEADLINE

    for code in HEADLINE:
        assert re.search(rf"^  {code}\s+{re.escape(names[code])}", proc.stdout, re.M), code


def test_a_run_links_its_pages_to_each_other(published):
    wh = published["warehouse"]
    docs = wh.with_name(f"{wh.stem}_dbt_docs") / "index.html"
    pages = [wh.with_name(f"{wh.stem}_report.html"), wh.with_name(f"{wh.stem}_quality.html")]
    for page in [*pages, docs]:
        hrefs = re.findall(r"<a href=\"([^\"#][^\"]*)\"", page.read_text(encoding="utf-8"))
        linked = {(page.parent / h).resolve() for h in hrefs}
        assert {p.resolve() for p in [*pages, docs] if p != page} <= linked, page


def test_verbose_is_taken_before_or_after_the_command():
    from orchestration.cli import build_parser

    parser = build_parser()
    run = ["run", "--landing", "l", "--warehouse", "w.duckdb"]
    assert parser.parse_args(run).verbose is False
    assert parser.parse_args([*run, "--verbose"]).verbose is True
    assert parser.parse_args(["--verbose", *run]).verbose is True
    assert parser.parse_args(["demo", "-v"]).verbose is True
