"""Assemble the report page and write it atomically.

The page is one self-contained HTML file: plotly.js is inlined once in the head, each figure is
a ``<div>`` drawn by its own small script, the CSS is inlined, and nothing is fetched from the
network. A tiny script counts drawn figures (``window.__chartsDrawn``) against the figures on
the page (``window.__chartsExpected``) so that a browser test can wait for all of them.
"""

from __future__ import annotations

import html
import logging
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import duckdb
from plotly.offline import get_plotlyjs

from pipelines.atomic import replace_with
from pipelines.report import charts as ch
from pipelines.report.charts import CHART_CLASS, PLOTLY_CONFIG, Chart, ChartBuilder, NoData
from pipelines.report.data import source_freshness
from pipelines.report.provenance import ATTRIBUTIONS, licence_for
from pipelines.report.verdicts import verdict_section
from pipelines.warehouse import describe_relations

log = logging.getLogger(__name__)

TITLE = "Decentralization Observatory — report"
INDEX = "index.html"

# Section 2: (anchor, heading, charts)
OVER_TIME: tuple[tuple[str, str, tuple[ChartBuilder, ...]], ...] = (
    ("time-mining", "Bitcoin mining", (ch.mining_hhi, ch.mining_nakamoto)),
    ("time-nodes", "Bitcoin nodes", (ch.nodes_hhi, ch.nodes_nakamoto)),
    ("time-hashrate", "Hash rate by country", (ch.hashrate_geography,)),
    ("time-ai-models", "AI models", (ch.ai_hhi, ch.ai_nakamoto, ch.ai_openness)),
    ("time-ai-compute", "AI compute", (ch.ai_compute,)),
)
# Section 3
LATEST: tuple[ChartBuilder, ...] = (
    ch.latest_pools,
    ch.latest_owners,
    ch.latest_node_countries,
    ch.latest_node_organizations,
    ch.latest_hashrate_countries,
    ch.latest_ai_compute,
)

# Runs right after plotly.js: every Plotly.newPlot call counts its figure once it is drawn (the
# promise newPlot returns resolves after the first plotly_afterplot).
HEAD_SCRIPT = """
window.__chartsDrawn = 0;
window.__chartsExpected = 0;
window.__chartsFitted = false;
// Once every figure is drawn, fit each to its box: one drawn before the page's grid settled
// would keep its first width. __chartsFitted tells a browser test the page is final.
window.__fitCharts = function () {
  if (window.__chartsFitted || !window.__chartsExpected ||
      window.__chartsDrawn < window.__chartsExpected) { return; }
  var charts = document.querySelectorAll(".plotly-graph-div");
  Promise.all(Array.prototype.map.call(charts, function (gd) {
    return Plotly.Plots.resize(gd);
  })).then(function () { window.__chartsFitted = true; });
};
(function () {
  var newPlot = Plotly.newPlot;
  function counted(gd) {
    if (gd && !gd.__observatoryDrawn) {
      gd.__observatoryDrawn = true;
      window.__chartsDrawn += 1;
      window.__fitCharts();
    }
    return gd;
  }
  Plotly.newPlot = function () {
    var target = arguments[0];
    var gd = typeof target === "string" ? document.getElementById(target) : target;
    var result = newPlot.apply(this, arguments);
    if (gd && gd.on) {
      gd.on("plotly_afterplot", function () { counted(gd); });
    }
    return Promise.resolve(result).then(counted);
  };
})();
""".strip()

# Runs after every figure's script: the number of figures to wait for, and sortable tables.
FOOT_SCRIPT = f"""
window.__chartsExpected = document.querySelectorAll(".{CHART_CLASS} .plotly-graph-div").length;
window.__fitCharts();
document.querySelectorAll("table.sortable").forEach(function (table) {{
  var heads = table.querySelectorAll("thead tr:last-child th");
  heads.forEach(function (th, index) {{
    th.addEventListener("click", function () {{
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      heads.forEach(function (h) {{ h.removeAttribute("aria-sort"); }});
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var numeric = th.dataset.type === "num";
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      function key(row) {{
        var cell = row.cells[index];
        var text = cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent;
        if (!numeric) return text;
        var x = parseFloat(text);
        return isNaN(x) ? Infinity : x;
      }}
      rows.sort(function (a, b) {{
        var x = key(a), y = key(b);
        var order = numeric ? (x === y ? 0 : x < y ? -1 : 1) : String(x).localeCompare(String(y));
        return ascending ? order : -order;
      }});
      rows.forEach(function (row) {{ body.appendChild(row); }});
    }});
  }});
}});
""".strip()


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def count_charts(page: str) -> int:
    """How many figures a rendered page holds (elements of class :data:`CHART_CLASS`)."""
    return page.count(f'class="{CHART_CLASS}"')


@cache
def _resource(name: str) -> str:
    return resources.files("pipelines.report").joinpath(name).read_text(encoding="utf-8")


@cache
def _plotlyjs() -> str:
    return get_plotlyjs()


def no_data(reason: str) -> str:
    return f'<p class="no-data">No data: {esc(reason)}.</p>'


def chart_html(chart: Chart) -> str:
    div = chart.figure.to_html(
        full_html=False, include_plotlyjs=False, div_id=chart.id, config=PLOTLY_CONFIG
    )
    return (
        f'<figure class="chart" id="figure-{esc(chart.id)}">'
        f'<div class="{CHART_CLASS}">{div}</div>'
        f"<figcaption>{esc(chart.caption)}</figcaption></figure>"
    )


def draw(builder: ChartBuilder, con: duckdb.DuckDBPyConnection) -> str:
    """A chart's HTML, or a "no data" note when its data is missing or unreadable."""
    try:
        return chart_html(builder(con))
    except NoData as missing:
        return no_data(str(missing))
    except duckdb.Error as error:  # a table of an older or partial warehouse
        log.warning("report chart %s not drawn: %s", builder.__name__, error)
        return no_data(f"{builder.__name__} could not be drawn ({type(error).__name__}: {error})")


# --- sections -----------------------------------------------------------------------------------


def over_time_section(con: duckdb.DuckDBPyConnection) -> str:
    parts = [
        '<p class="section-note">Shaded bands are intervals where the data has them: 95% '
        "intervals for samples (blocks, models), the percentile-scenario range for modelled AI "
        "chip stock. Click a legend entry to hide a series; drag to zoom, double-click to "
        "reset.</p>"
    ]
    for anchor, heading, builders in OVER_TIME:
        parts.append(f'<h3 id="{anchor}">{esc(heading)}</h3>')
        parts += [draw(b, con) for b in builders]
    return "\n".join(parts)


def latest_section(con: duckdb.DuckDBPyConnection) -> str:
    figures = "\n".join(draw(b, con) for b in LATEST)
    return (
        '<p class="section-note">The largest entities in the latest period each source '
        "covers. The periods differ between sources: read each chart's caption.</p>"
        f'<div class="chart-grid">{figures}</div>'
    )


def dictionary_section(con: duckdb.DuckDBPyConnection) -> str:
    try:
        relations = describe_relations(con)
    except duckdb.Error as error:
        return no_data(f"the catalogue could not be read ({error})")
    if not relations:
        return no_data("the database holds no tables")
    by_schema: dict[str, list[dict[str, Any]]] = {}
    for rel in relations:
        name = str(rel["name"])
        schema = name.split(".", 1)[0] if "." in name else "main"
        by_schema.setdefault(schema, []).append(rel)
    parts = [
        f'<p class="section-note">{len(relations)} tables and views, with their descriptions, '
        "row counts and columns (click one to open it).</p>"
    ]
    for schema, rels in by_schema.items():
        parts.append(f'<h3 id="dictionary-{esc(schema)}">Schema <code>{esc(schema)}</code></h3>')
        for rel in rels:
            columns = "".join(
                f"<tr><td><code>{esc(c['name'])}</code></td><td><code>{esc(c['type'])}</code></td>"
                f"<td>{esc(c['description'])}</td></tr>"
                for c in rel["columns"]  # type: ignore[union-attr]
            )
            count = int(rel["rows"])  # type: ignore[call-overload]
            rows_text = f"{count:,} row{'' if count == 1 else 's'}"
            parts.append(
                '<details class="relation">'
                f"<summary><code>{esc(rel['name'])}</code> "
                f'<span class="kind">{esc(rel["kind"])}</span> · '
                f'<span class="rows">{esc(rows_text)}</span>'
                f'<span class="desc">{esc(rel["description"] or "(no description)")}</span>'
                "</summary>"
                "<table><thead><tr><th>Column</th><th>Type</th><th>Description</th></tr></thead>"
                f"<tbody>{columns}</tbody></table></details>"
            )
    return "\n".join(parts)


def freshness_section(con: duckdb.DuckDBPyConnection) -> str:
    try:
        found = source_freshness(con)
    except duckdb.Error as error:
        return no_data(f"freshness could not be read ({error})")
    if not found:
        return no_data("no raw source table is in the database")
    body = "".join(
        f"<tr><td>{esc(f.source)}</td><td><code>{esc(f.table)}</code></td>"
        f"<td>{esc(f.latest_date or '–')}</td></tr>"
        for f in found
    )
    return (
        '<p class="section-note">The latest date present in the data of each source and feed '
        "(a block's day, an observation's day, a snapshot, a Cambridge month, a model's "
        "publication date, the end of a chip-stock quarter).</p>"
        '<table class="sortable"><thead><tr><th>Source</th><th>Table</th>'
        "<th>Latest date</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return "–" if value in (None, "") else str(value)


def provenance_section(provenance: Sequence[Mapping[str, Any]]) -> str:
    if not provenance:
        return no_data("the run supplied no provenance")
    body = "".join(
        "<tr>"
        f"<td>{esc(p.get('source'))}</td>"
        f"<td><code>{esc(p.get('kind'))}</code></td>"
        f'<td class="location"><code>{esc(p.get("location"))}</code></td>'
        f"<td>{esc(p.get('licence') or licence_for(str(p.get('kind') or '')))}</td>"
        f"<td>{esc(_when(p.get('retrieved_at')))}</td>"
        "</tr>"
        for p in provenance
    )
    kinds = {str(p.get("kind") or "") for p in provenance}
    links = "".join(
        f'<p class="section-note attribution"><a href="{esc(url)}">{esc(text)}</a></p>'
        for kind, (text, url) in sorted(ATTRIBUTIONS.items())
        if kind in kinds
    )
    return (
        '<p class="section-note">Every input of the run that built this warehouse, with where it '
        "was read from and its licence. Cite the publishers when you reuse these numbers.</p>"
        '<table class="provenance"><thead><tr><th>Source</th><th>Kind</th><th>Location</th>'
        "<th>Licence</th><th>Retrieved at</th></tr></thead>"
        f"<tbody>{body}</tbody></table>{links}"
    )


def _verdicts(con: duckdb.DuckDBPyConnection) -> str:
    try:
        return verdict_section(con)
    except duckdb.Error as error:
        log.warning("report verdicts not shown: %s", error)
        return no_data(f"the verdicts could not be read ({type(error).__name__}: {error})")


TOC = """<ol>
<li><a href="#verdicts">Verdicts: is concentration rising or falling?</a>
<ol><li><a href="#verdicts-significant">All significant trends</a></li>
<li><a href="#verdicts-fdr">Which verdicts survive multiple testing</a></li></ol></li>
<li><a href="#over-time">Concentration over time</a>
<ol>{over_time}</ol></li>
<li><a href="#latest">Latest distributions</a></li>
<li><a href="#dictionary">Data dictionary</a>
<ol><li><a href="#freshness">Freshness of each source</a></li></ol></li>
<li><a href="#provenance">Provenance</a></li>
</ol>"""


def build_html(
    con: duckdb.DuckDBPyConnection,
    *,
    provenance: Sequence[Mapping[str, Any]],
    generated_at: datetime,
) -> str:
    """The whole page as a string."""
    sections = [
        ("verdicts", "1. Verdicts: is concentration rising or falling?", _verdicts(con)),
        ("over-time", "2. Concentration over time", over_time_section(con)),
        ("latest", "3. Latest distributions", latest_section(con)),
        (
            "dictionary",
            "4. Data dictionary",
            dictionary_section(con)
            + '<h3 id="freshness">Freshness of each source</h3>'
            + freshness_section(con),
        ),
        ("provenance", "5. Provenance", provenance_section(provenance)),
    ]
    body = "\n".join(
        f'<section id="{anchor}"><h2>{esc(heading)}</h2>\n{content}</section>'
        for anchor, heading, content in sections
    )
    toc = TOC.format(
        over_time="".join(
            f'<li><a href="#{anchor}">{esc(heading)}</a></li>' for anchor, heading, _ in OVER_TIME
        )
    )
    return Template(_resource("template.html")).substitute(
        title=esc(TITLE),
        style=_resource("style.css"),
        plotlyjs=_plotlyjs(),
        head_script=HEAD_SCRIPT,
        generated_at=esc(_when(generated_at)),
        chart_count=count_charts(body),
        toc=toc,
        body=body,
        foot_script=FOOT_SCRIPT,
    )


def render_report(
    con: duckdb.DuckDBPyConnection,
    out_dir: Path,
    *,
    provenance: list[dict],
    generated_at: datetime,
) -> Path:
    """Write the report to ``out_dir/index.html`` atomically and return its path.

    ``provenance`` holds one dict per input with the keys source, kind, location, licence and
    retrieved_at (a datetime or text); an empty licence is filled in from ``licence_for(kind)``.

    The page is written to a temporary file in ``out_dir`` and renamed over ``index.html``, so a
    reader sees the old page or the new one, never a half-written file.
    """
    started = time.perf_counter()
    page = build_html(con, provenance=provenance, generated_at=generated_at)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / INDEX
    handle, name = tempfile.mkstemp(prefix=f".{INDEX}.", suffix=".tmp", dir=out_dir)
    tmp = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(page)
        tmp.chmod(0o644)  # mkstemp creates 0600; the page is meant to be read
        replace_with(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    log.info(
        "report: %s (%d bytes, %d charts) in %.2fs",
        target,
        len(page.encode()),
        count_charts(page),
        time.perf_counter() - started,
    )
    return target
