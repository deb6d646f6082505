"""A self-contained static HTML report of the serving database.

``render_report(con, out_dir, provenance=..., generated_at=...)`` writes ``out_dir/index.html``:
the verdict tables (from ``decentralization_trends``), concentration over time per domain with
interval bands, the latest distributions, a data dictionary with each source's freshness, and the
provenance of every input. The page needs no network: plotly.js, the CSS and every figure are
inside it. Missing tables give a "no data" note in their section, never an error.
"""

from pipelines.report.charts import CHART_CLASS
from pipelines.report.data import Freshness, source_freshness
from pipelines.report.provenance import LICENCES, licence_for
from pipelines.report.render import build_html, count_charts, render_report

__all__ = [
    "CHART_CLASS",
    "LICENCES",
    "Freshness",
    "build_html",
    "count_charts",
    "licence_for",
    "render_report",
    "source_freshness",
]
