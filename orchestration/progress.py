"""What `ygt run` / `ygt demo` print while they work: one line per step, problems always.

The steps (orchestration/pipeline.py) and the loader (orchestration/land/deliver.py) report
through a `progress(str)` callback, a line per delivery, file and dbt tenth. `Reporter` is that
callback on the command line's side and decides what reaches the terminal:

- On a terminal: one status line per step that updates in place (a bar for landing and dbt,
  whose totals are known), replaced by the step's closing line (`✓ land: …`).
- Not a terminal (a log file, CI, a pipe): the step's first line (`── land (46 deliveries)`)
  and its closing line, nothing in between.
- Always: what needs a person's attention — rejected files, skipped files, failed deliveries,
  problems, blocking quality failures, dbt warnings and errors, the demo key note, a run
  waiting for the lock.
- With `--verbose`: every line, as the steps send them.

It also turns Ctrl-C into a stop at a safe point: `install_interrupt()` makes SIGINT raise
KeyboardInterrupt (also interrupting a DuckDB query) and remembers it, and the next line any
step reports raises it again, so an interrupt that a step took for an error (DuckDB reports an
interrupted query as a failed query) still stops the run.
"""

from __future__ import annotations

import re
import shutil
import signal
import sys
from typing import TextIO

# Step lines the pipeline sends: `── <step>` when a step starts (`── land (46 deliveries)`
# gives a bar its total), `✓ <step>: <counts> (<seconds>)` when it is done; every other line
# is a detail or a problem.
STEP_START, STEP_DONE = "── ", "✓ "
DELIVERY = re.compile(r"^(\S+/\S+): (landing \d+|unchanged, skipped|landed|failed)")
DBT_NODES = re.compile(r"^\s*dbt (\d+)/(\d+) nodes$")
TOTAL = re.compile(r"\((\d+) deliveries\)$")
# Lines shown even without --verbose (stripped of leading spaces before matching).
ALWAYS = (
    "REJECTED",
    "SKIPPED FILE",
    "PROBLEM",
    "BLOCKING",
    "… and",
    "details:",
    "note:",
    "waiting for",
    "dbt build skipped",
    "stopped",
)
DBT_PROBLEM = re.compile(r"^\s*dbt .*\b(WARN|ERROR|FAIL)\b")
# Detail lines of the steps, shown with --verbose only.
DETAIL = (
    re.compile(r"^\s+\S+/\S+: \d+ (file|county)"),  # generator: a delivery written
    re.compile(r"^\s+\d+ of \d+ file\(s\) with the same header"),  # loader: a batch read
    re.compile(r"^\s+\S.*: read [\d,]+ rows"),  # loader: a file read
    re.compile(r"^\s+\S+: REJECTED -- "),  # loader: a file rejected (the summary lists it)
    re.compile(r"^\s+skipped "),  # loader: a skipped file (listed again in the summary)
    re.compile(r"^\s*dbt "),  # dbt's tally lines
    re.compile(r"^\s*recomputing "),
    re.compile(r"^(raw|mart) quality gates: "),  # the gate summary's head: the ✓ line has it
    re.compile(r"^\s+warning "),  # warnings: counted on the ✓ line, listed on the quality page
    re.compile(r"^\s+… and \d+ more warning"),
    re.compile(r"^landing .*: \d+ deliveries landed"),  # the landing summary: the ✓ line has it
    re.compile(r"^rows: read "),
    re.compile(r"^change detection: "),
    re.compile(r"^NOTE: identifiers hashed with the labelled DEMO key"),  # said once already
    re.compile(r"^\s+source\s+deliveries"),  # the per-source table
    re.compile(r"^\s+\S+\s+\d+\s+\d+\s+[\d,]+\s+[\d,]+\s+[\d,]+\s+[\d,]+\s+\d+$"),
    re.compile(r"^\s+unchanged since last landing"),
    re.compile(r"^\s+\S+: read [\d,]+, loaded"),  # verbose summary: per file
    re.compile(r"^computing the ground truth"),
)


class Reporter:
    """The `progress` callback of the command line (see the module docstring)."""

    def __init__(
        self, verbose: bool = False, stream: TextIO | None = None, tty: bool | None = None
    ):
        self.verbose = verbose
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.step = ""
        self.done = 0
        self.total = 0
        self.last = ""
        self.status_shown = False
        self.interrupted = False

    # ── Ctrl-C ──────────────────────────────────────────────────────────────────────────────

    def install_interrupt(self):
        """Take over SIGINT (main thread only); returns the previous handler, for restoring."""

        def on_sigint(signum, frame):
            self.interrupted = True
            raise KeyboardInterrupt

        try:
            return signal.signal(signal.SIGINT, on_sigint)
        except ValueError:  # not the main thread: Ctrl-C keeps Python's default behaviour
            return None

    # ── lines ───────────────────────────────────────────────────────────────────────────────

    def __call__(self, message: str) -> None:
        if self.interrupted:
            raise KeyboardInterrupt
        for line in str(message).splitlines() or [""]:
            self._line(line)

    def _line(self, line: str) -> None:
        if line.startswith(STEP_START):
            self.step = line[len(STEP_START) :].split(" (")[0]
            m = TOTAL.search(line)
            self.done, self.total, self.last = 0, int(m.group(1)) if m else 0, ""
            if self.tty and not self.verbose:
                self._status()
            else:
                self._print(line)
            return
        if line.startswith(STEP_DONE):
            self._print(line)
            self.step, self.total = "", 0
            return
        if line.startswith("generating "):  # the generator's first line: its own step
            self.step, self.done, self.total = "generate", 0, 0
        m = DELIVERY.match(line)
        if m:
            if not m.group(2).startswith("landing"):
                self.done += 1
            self.last = m.group(1)
            if m.group(2) == "failed":
                self._print(line)
            elif self.verbose:
                self._print(line)
            elif self.tty:
                self._status()
            return
        m = DBT_NODES.match(line)
        if m:
            self.done, self.total = int(m.group(1)), int(m.group(2))
            if self.verbose:
                self._print(line)
            elif self.tty:
                self._status()
            return
        text = line.strip()
        important = text.startswith(ALWAYS) or DBT_PROBLEM.match(line)
        if self.verbose or important or not any(p.match(line) for p in DETAIL):
            self._print(line)
        elif self.tty and self.step:
            self.done += self.step == "generate"
            where = text.split(":")[0]
            self.last = where if "/" in where else self.last  # a delivery or a file
            self._status()

    # ── the terminal ───────────────────────────────────────────────────────────────────────

    def _status(self) -> None:
        width = shutil.get_terminal_size((100, 20)).columns - 1
        if self.total:
            filled = min(20, self.done * 20 // max(self.total, 1))
            bar = f"[{'#' * filled}{'.' * (20 - filled)}] {self.done}/{self.total}"
        else:
            bar = f"{self.done}" if self.done else "…"
        text = f"{self.step} {bar}" + (f"  {self.last}" if self.last else "")
        self.stream.write("\r\x1b[K" + text[:width])
        self.stream.flush()
        self.status_shown = True

    def _print(self, line: str) -> None:
        if self.status_shown:
            self.stream.write("\r\x1b[K")
            self.status_shown = False
        self.stream.write(line + "\n")
        self.stream.flush()
        if self.tty and not self.verbose and self.step and not line.startswith(STEP_DONE):
            self._status()

    def finish(self) -> None:
        """Clear a status line left on the terminal (before a message or the summary)."""
        if self.status_shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.status_shown = False
