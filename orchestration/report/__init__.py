"""Static HTML pages of a published warehouse, readable offline.

`write_report(warehouse, out_html)`: the monitoring report (league table, each indicator by
county against its target, counties missing targets, quarterly year-to-date trends,
data-quality status, load audit). `write_quality_page(warehouse, out_html)`: every quality
check of `marts.data_quality` in words. Both read the published file read-only and write one
self-contained file (no script, no external CSS, font or image) from the Jinja2 templates in
`templates/` (autoescaped); the charts are inline SVG from `charts.py`.
"""

from orchestration.report.pages import write_quality_page, write_report

__all__ = ["write_quality_page", "write_report"]
