"""One run at a time per warehouse: an advisory `flock` on a lock file beside the working database.

DuckDB allows one writer per file and fails a second one with a lock traceback halfway through
a run. The lock is taken before anything is opened and held for the whole run (`ygt run`,
`ygt land`, each Dagster step). A second run either waits (`wait=True`) or stops at once with a
message naming the holder (pid, start time, command), which the holder writes into the file.

The lock is released by the kernel when the holding process ends, even on SIGKILL, so a stale
lock file is harmless: its content is only read while someone holds the lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path


class WarehouseBusy(RuntimeError):
    """Another run holds the warehouse; the message names it."""


def lock_path(work_db: Path) -> Path:
    work_db = Path(work_db)
    return work_db.with_name(work_db.name + ".lock")


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "another process"
    return f"pid {info.get('pid')}, started {info.get('started')}, command: {info.get('command')}"


@contextmanager
def hold(
    work_db: Path,
    command: str | None = None,
    wait: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the warehouse's run lock for the body; raise WarehouseBusy if another run holds it
    (or wait for it when `wait`)."""
    path = lock_path(work_db)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            if not wait:
                raise WarehouseBusy(
                    f"the warehouse is in use by another run ({holder}); lock file {path}. "
                    "Wait for that run to finish (or pass --wait to queue behind it) and run again."
                ) from None
            if progress:
                progress(f"waiting for the run that holds the warehouse ({holder}) …")
            fcntl.flock(fd, fcntl.LOCK_EX)
        info = {
            "pid": os.getpid(),
            "started": datetime.now().isoformat(timespec="seconds"),
            "command": command or " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info, ensure_ascii=False).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
