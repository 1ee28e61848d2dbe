"""dbt's documentation site for a published warehouse.

`dbt docs generate --static` writes one self-contained HTML page (manifest and catalog
embedded, opens from disk without a server) describing every model, column, test and the
lineage graph. It is generated on the working database, right after the build, and copied
next to the warehouse as `<stem>_dbt_docs/index.html`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from orchestration import dbt
from orchestration.settings import dbt_target_for


def write_dbt_docs(work_db: Path, dest: Path) -> Path:
    """Generate the static docs page for `work_db` into the folder `dest`; returns the page."""
    dbt.run_dbt(["docs", "generate", "--static"], work_db)
    dest = Path(dest)
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    target = dbt_target_for(work_db)
    shutil.copy2(target / "static_index.html", tmp / "index.html")
    for name in ("manifest.json", "catalog.json"):  # for tools that read dbt artefacts
        shutil.copy2(target / name, tmp / name)
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return dest / "index.html"
