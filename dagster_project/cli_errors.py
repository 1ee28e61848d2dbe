"""A partition key that does not exist ends `dg launch` with one message, not a traceback.

`dg launch --partition 2024-05` validates the key inside Dagster's own CLI before any project
code runs, and the `DagsterUnknownPartitionError` it raises reaches the terminal as a
traceback. This hook, installed when the code location is loaded, turns that one uncaught
error into a message naming the key and the keys ygt uses; every other error keeps Python's
default report. The webserver and the daemon never let that error go uncaught, so for them
nothing changes.
"""

from __future__ import annotations

import sys

from dagster._core.errors import DagsterUnknownPartitionError

from orchestration.periods import PARTITION_KEY_HELP


def unknown_partition_message(error: BaseException) -> str:
    return (
        f"ygt: {error}\n"
        f"  The job's partitions: {PARTITION_KEY_HELP}.\n"
        "  Example: dg launch --job quarterly_refresh --partition 2024-04   (2024Q2)\n"
        "  `dg list defs` lists the jobs; the UI (`dg dev`) lists every partition."
    )


def install() -> None:
    previous = sys.excepthook
    if getattr(previous, "_ygt_partition_hook", False):
        return

    def hook(kind, error, tb):
        if isinstance(error, DagsterUnknownPartitionError):
            print(unknown_partition_message(error), file=sys.stderr)
            return
        previous(kind, error, tb)

    hook._ygt_partition_hook = True  # type: ignore[attr-defined]
    sys.excepthook = hook
