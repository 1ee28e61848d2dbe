"""GE's Data Docs, readable offline: the latest result per batch, no page fetched from the web.

GE writes its Data Docs (gx/uncommitted/data_docs/local_site/ in the gates' GE project) with
Bootstrap, jQuery, Font Awesome and Vega from CDNs and a logo from S3 (with the project's id in
the address). On the isolated networks the warehouse runs on, those never load; the pages are
server-rendered HTML, so `make_offline` drops every external stylesheet, script and image and
puts a small stylesheet of its own in their place (links to GE's site stay: nothing loads them).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

EXTERNAL = re.compile(
    r"<link\b[^>]*href=\"(?:https?:)?//[^\"]*\"[^>]*>"
    r"|<script\b[^>]*src=\"(?:https?:)?//[^\"]*\"[^>]*>\s*</script>"
    r"|<img\b[^>]*src=\"(?:https?:)?//[^\"]*\"[^>]*>",
    re.IGNORECASE,
)
CSS_URL = re.compile(r"url\(\s*['\"]?(?:https?:)?//[^)]*\)", re.IGNORECASE)
STYLE = """<style>/* ygt: offline Data Docs */
body{font-family:system-ui,"Noto Sans CJK SC",sans-serif;margin:1rem 2rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.2rem .5rem;
vertical-align:top}.d-none,.modal{display:none}a{color:#1a5fb4}
.text-danger{color:#b00020}.text-success{color:#1b7a1b}i.fas{font-style:normal}
.fa-check-circle::before{content:"\\2714 passed"}.fa-times::before{content:"\\2718 failed"}
.fa-exclamation-triangle::before{content:"\\26A0"}.fa-question-circle::before{content:"?"}
</style>"""


def forget_results(gx_root: str | Path, suite: str, asset: str) -> None:
    """Delete the stored results of one suite on one batch, so the docs show the latest run."""
    folder = Path(gx_root) / "uncommitted" / "validations" / suite
    for f in folder.glob(f"*/*/*-{asset}.json"):
        f.unlink()
    for d in sorted(folder.glob("*/*"), reverse=True):
        if d.is_dir() and not any(d.iterdir()):
            d.rmdir()


def make_offline(site: Path) -> None:
    """Strip what would be fetched from the web from every page of the built site."""
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        cleaned = CSS_URL.sub("none", EXTERNAL.sub("", html))
        if cleaned != html:
            page.write_text(cleaned.replace("</head>", STYLE + "</head>", 1), encoding="utf-8")


def reset_site(site: Path) -> None:
    """Remove the built validation pages (rebuilt from the stored results by build_data_docs)."""
    shutil.rmtree(site / "validations", ignore_errors=True)
