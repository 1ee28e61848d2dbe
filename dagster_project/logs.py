"""The messages of ygt's steps (the `ygt` loggers, orchestration/progress.py) in Dagster's run
log: `forwarded(context)` hands every message a step logs to `context.log` at its level, the
same messages `ygt run` shows (the terminal's indentation dropped)."""

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from orchestration.progress import ROOT


class ContextLog(logging.Handler):
    """Hands the records of one thread to a Dagster log manager (`context.log`)."""

    def __init__(self, log: logging.Logger):
        super().__init__(logging.DEBUG)
        self.log = log
        self.thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:  # not another step's records in this process
            self.log.log(record.levelno, record.getMessage().strip())


@contextmanager
def forwarded(context) -> Iterator[None]:
    """While the block runs, ygt's messages reach the step's `context.log`."""
    handler = ContextLog(context.log)
    logging.getLogger(ROOT).addHandler(handler)
    try:
        yield
    finally:
        logging.getLogger(ROOT).removeHandler(handler)
