"""What `ygt run` / `ygt demo` print while they work: one line per step, problems always.

The steps log to the standard `logging` module, under the `ygt` logger: `ygt.pipeline` (the
steps), `ygt.land` (the loader), `ygt.dbt` (dbt's events), `ygt.quality`, `ygt.generate`. The
level says who needs a message:

- DEBUG: details (each delivery and file landed, dbt's progress, every quality warning);
- INFO: a step's start and end, summaries;
- WARNING: what needs a person's attention — rejected and skipped files, failed deliveries,
  problems, blocking quality failures, dbt's warnings and errors, the demo key note, a run
  waiting for the lock.

Fields given with `extra=` drive the status line: `event` ("start" or "done" of a step),
`step` (its name), `total` (its bar's total), `done` (units done so far), `advance` (units
done by this message) and `where` (the delivery or file being worked on).

`Reporter` is the command line's handler and decides what reaches the terminal by these levels
and fields, never by the text:

- On a terminal: one status line per step that updates in place (a bar for landing and dbt,
  whose totals are known), replaced by the step's closing line (`✓ land: …`).
- Not a terminal (a log file, CI, a pipe): the step's first line (`── land (46 deliveries)`)
  and its closing line, nothing in between.
- Always: INFO and above.
- With `--verbose`: every message, DEBUG included.

It also turns Ctrl-C into a stop at a safe point: `install_interrupt()` makes SIGINT raise
KeyboardInterrupt (also interrupting a DuckDB query) and remembers it, and the next message any
step logs raises it again, so an interrupt that a step took for an error (DuckDB reports an
interrupted query as a failed query) still stops the run.

`relay_to(progress)` (or the block `relayed(progress)`) also hands the messages the calling
thread logs to a `progress(str)` callback, for callers that still pass one to `land()`,
`pipeline.run()` and the steps.
"""

from __future__ import annotations

import logging
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

ROOT = "ygt"
# The package logs everything; handlers (Reporter, Dagster's, a caller's) choose what to show.
# NullHandler: a program that uses ygt without a handler sees nothing (no lastResort output).
logging.getLogger(ROOT).setLevel(logging.DEBUG)
logging.getLogger(ROOT).addHandler(logging.NullHandler())


def fields(record: logging.LogRecord) -> dict:
    """The progress fields of a record (see the module docstring)."""
    names = ("event", "step", "total", "done", "advance", "where")
    return {n: getattr(record, n) for n in names if getattr(record, n, None) is not None}


class Reporter(logging.Handler):
    """The command line's handler (see the module docstring)."""

    def __init__(
        self, verbose: bool = False, stream: TextIO | None = None, tty: bool | None = None
    ):
        super().__init__(logging.DEBUG)  # every record: each one is a point where Ctrl-C stops
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

    # ── records ─────────────────────────────────────────────────────────────────────────────

    def emit(self, record: logging.LogRecord) -> None:
        if self.interrupted:
            raise KeyboardInterrupt
        f = fields(record)
        text = record.getMessage()
        if f.get("event") == "done":
            self.step, self.total = "", 0  # its closing line replaces the status line
            self._print(text)
            return
        if "step" in f:
            self.step, self.total = f["step"], f.get("total", 0)
            self.done, self.last = 0, ""
        self.done = f.get("done", self.done) + f.get("advance", 0)
        self.total = f.get("total", self.total)
        self.last = f.get("where", self.last)
        quiet = self.tty and not self.verbose
        if f.get("event") == "start" and quiet:
            self._status()  # the status line stands for the step's first line
        elif record.levelno >= logging.INFO or self.verbose:
            self._print(text)
        elif quiet and self.step:
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

    def _print(self, text: str) -> None:
        if self.status_shown:
            self.stream.write("\r\x1b[K")
            self.status_shown = False
        self.stream.write(text + "\n")
        self.stream.flush()
        if self.tty and not self.verbose and self.step:
            self._status()

    def finish(self) -> None:
        """Clear a status line left on the terminal (before a message or the summary)."""
        if self.status_shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.status_shown = False


class Relay(logging.Handler):
    """Hands each message logged by one thread to a `progress(str)` callback."""

    def __init__(self, progress: Callable[[str], None]):
        super().__init__(logging.DEBUG)
        self.progress = progress
        self.thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:  # not the messages of another run in this process
            self.progress(record.getMessage())


def relay_to(progress: Callable[[str], None] | None, logger: str = ROOT) -> Relay | None:
    """Start handing the messages of `logger` and below, logged by this thread, to `progress`
    as well (nothing when it is None); `stop_relay` ends it."""
    if progress is None:
        return None
    relay = Relay(progress)
    logging.getLogger(logger).addHandler(relay)
    return relay


def stop_relay(relay: Relay | None, logger: str = ROOT) -> None:
    if relay is not None:
        logging.getLogger(logger).removeHandler(relay)


@contextmanager
def relayed(progress: Callable[[str], None] | None, logger: str = ROOT) -> Iterator[None]:
    """`relay_to` for the duration of a block."""
    relay = relay_to(progress, logger)
    try:
        yield
    finally:
        stop_relay(relay, logger)
