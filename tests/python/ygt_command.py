"""The `ygt` command as the command-line tests run it: in a subprocess from the project folder."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from orchestration import settings

YGT = [sys.executable, "-m", "orchestration.cli"]


def ygt(*args, env=None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*YGT, *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=settings.PROJECT_DIR,
        env={**os.environ, **(env or {})},
        **kw,
    )


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
