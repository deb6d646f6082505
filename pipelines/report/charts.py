"""The report's Plotly figures: concentration over time (with interval bands) and latest shares.

Every builder takes the connection and returns a :class:`Chart`, or raises :class:`NoData` naming
what is missing; the page shows a "no data" note in its place. Text taken from the data (pool,
country, owner names) is HTML-escaped before it reaches Plotly, which reads a few HTML tags and
entities in labels.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import duckdb
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pipelines.report.data import columns_of, has_relation, rows

CHART_CLASS = "obs-chart"  # class of the element wrapping each Plotly figure on the page
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}

# Okabe–Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#8C6D31")
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
TEMPLATE = go.layout.Template(
    layout=go.Layout(
        font={"family": FONT, "size": 13, "color": "#222"},
        colorway=list(PALETTE),
        paper_bgcolor="white",
        plot_bgcolor="white",
        hoverlabel={"namelength": -1},
        xaxis={
            "showgrid": True,
            "gridcolor": "#e6e6e6",
            "linecolor": "#888",
            "ticks": "outside",
            "zeroline": False,
            "automargin": True,
        },
        yaxis={
            "showgrid": True,
            "gridcolor": "#e6e6e6",
            "linecolor": "#888",
            "ticks": "outside",
            "zeroline": False,
            "automargin": True,
        },
    )
)
HHI_AXIS = "HHI (0–10,000)"
NAKAMOTO_AXIS = "Nakamoto coefficient (entities)"
MONTHLY, QUARTERLY, YEARLY = timedelta(days=40), timedelta(days=100), timedelta(days=400)
TOP_N = 15


class NoData(Exception):
    """A chart cannot be drawn: its table is absent or holds no rows for it."""


@dataclass(frozen=True)
class Chart:
    """One figure of the report with its anchor id and a caption (plain text, escaped later)."""

    id: str
    figure: go.Figure
    caption: str


def rgba(colour: str, alpha: float) -> str:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def label(text: Any) -> str:
    """Data text made safe for Plotly's pseudo-HTML labels."""
    return html.escape(str(text))


def style(fig: go.Figure, title: str, x_title: str, y_title: str, height: int = 460) -> go.Figure:
    fig.update_layout(
        template=TEMPLATE,
        title={"text": title, "x": 0, "xanchor": "left", "y": 0.98, "yanchor": "top"},
        height=height,
        margin={"l": 10, "r": 20, "t": 96, "b": 10},
        legend={
            "orientation": "h",
            "x": 0,
            "xanchor": "left",
            "y": 1.01,
            "yanchor": "bottom",
            "font": {"size": 12},
        },
        hovermode="x unified",
    )
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=y_title)
    fig.for_each_yaxis(lambda axis: axis.update(tickformat=",.0f") if y_title == HHI_AXIS else None)
    return fig


def _segments(x: Sequence[Any], max_step: timedelta | None) -> list[list[int]]:
    """Indices of ``x`` split where consecutive points are more than ``max_step`` apart."""
    segments: list[list[int]] = []
    for i in range(len(x)):
        if segments and (max_step is None or x[i] - x[segments[-1][-1]] <= max_step):
            segments[-1].append(i)
        else:
            segments.append([i])
    return segments


def _joined(parts: list[list[Any]]) -> list[Any]:
    """Lists joined with a None between them (a gap in a Plotly line)."""
    out: list[Any] = []
    for part in parts:
        if out:
            out.append(None)
        out += part
    return out


def add_series(
    fig: go.Figure,
    x: Sequence[Any],
    y: Sequence[Any],
    name: str,
    colour: str,
    *,
    low: Sequence[Any] | None = None,
    high: Sequence[Any] | None = None,
    band_name: str = "95% interval",
    max_step: timedelta | None = None,
    mode: str = "lines",
    dash: str = "solid",
    secondary_y: bool | None = None,
    hover: str = "%{y:,.0f}",
    marker: dict[str, Any] | None = None,
) -> None:
    """A line, and when ``low``/``high`` are given a shaded band between them (same legend group;
    its legend entry toggles the band alone). Points more than ``max_step`` apart are not
    joined: a gap in the data stays a gap on the chart."""
    extra = {} if secondary_y is None else {"secondary_y": secondary_y}
    segments = _segments(x, max_step)
    if low is not None and high is not None:
        # one closed polygon per segment: along the top, then back along the bottom
        band_x, band_y = [], []
        for segment in segments:
            kept = [i for i in segment if low[i] is not None and high[i] is not None]
            if kept:
                band_x.append([x[i] for i in kept] + [x[i] for i in reversed(kept)])
                band_y.append([high[i] for i in kept] + [low[i] for i in reversed(kept)])
        if band_x:
            fig.add_trace(
                go.Scatter(
                    x=_joined(band_x),
                    y=_joined(band_y),
                    fill="toself",
                    fillcolor=rgba(colour, 0.18),
                    line={"width": 0, "color": rgba(colour, 0)},
                    hoverinfo="skip",
                    name=f"{name}: {band_name}",
                    legendgroup=name,
                ),
                **extra,
            )
    fig.add_trace(
        go.Scatter(
            x=_joined([[x[i] for i in segment] for segment in segments]),
            y=_joined([[y[i] for i in segment] for segment in segments]),
            mode=mode,
            name=name,
            legendgroup=name,
            line={"color": colour, "width": 2, "dash": dash},
            marker=marker or {"size": 6, "color": colour},
            hovertemplate=f"{hover}<extra>{name}</extra>",
        ),
        **extra,
    )


PARTIAL_NOTE = (
    " Hollow markers: partial periods (data for less than 90% of the period's days), left out "
    "of the trend tests."
)


def partial_starts(
    con: duckdb.DuckDBPyConnection, domain: str, variant: str
) -> dict[str, set[date]]:
    """Per dimension, the period starts the scoreboard marks partial for one domain and variant
    (empty when the scoreboard, or its partial column, is not in the database)."""
    if "partial" not in columns_of(con, "decentralization_scoreboard"):
        return {}
    found = rows(
        con,
        "SELECT DISTINCT dimension, period_start FROM decentralization_scoreboard "
        "WHERE domain = ? AND variant = ? AND partial",
        [domain, variant],
    )
    starts: dict[str, set[date]] = {}
    for r in found:
        starts.setdefault(r["dimension"], set()).add(r["period_start"])
    return starts


def mark_partial(
    fig: go.Figure,
    series: list[dict[str, Any]],
    x: str,
    y: str,
    partial: set[date],
    name: str,
    colour: str,
    scale: float | None = None,
) -> None:
    """Hollow markers over the points of ``series`` whose ``x`` is a partial period."""
    marked = [r for r in series if r[x] in partial and r[y] is not None]
    if marked:
        fig.add_trace(
            go.Scatter(
                x=_column(marked, x),
                y=_column(marked, y, scale),
                mode="markers",
                name=f"{name}: partial period, not tested",
                legendgroup=name,
                marker={"size": 9, "color": "white", "line": {"color": colour, "width": 2}},
                hovertemplate=f"%{{y:,.3g}}<extra>{name}: partial period</extra>",
            )
        )


def _require(con: duckdb.DuckDBPyConnection, *tables: str) -> None:
    missing = [t for t in tables if not has_relation(con, t)]
    if missing:
        raise NoData(f"table {', '.join(missing)} is not in the database")


def _found(
    con: duckdb.DuckDBPyConnection, table: str, query: str, what: str, params: list | None = None
) -> list[dict[str, Any]]:
    """The rows of ``query`` over ``table``; NoData when the table or its rows are missing."""
    _require(con, table)
    return _nonempty(rows(con, query, params), what)


def _nonempty(found: list[dict[str, Any]], what: str) -> list[dict[str, Any]]:
    if not found:
        raise NoData(f"no rows for {what}")
    return found


def _column(found: list[dict[str, Any]], key: str, scale: float | None = None) -> list[Any]:
    if scale is None:
        return [r[key] for r in found]
    return [None if r[key] is None else float(r[key]) * scale for r in found]


def _by(found: list[dict[str, Any]], key: str) -> dict[Any, list[dict[str, Any]]]:
    groups: dict[Any, list[dict[str, Any]]] = {}
    for row in found:
        groups.setdefault(row[key], []).append(row)
    return groups


MAX_TICKS = 12
_STEPS = {  # tick steps in months, smallest first, per period unit
    "month": (1, 2, 3, 6, 12, 24, 60),
    "quarter": (3, 6, 12, 24, 60),
    "year": (12, 24, 60, 120, 240),
}


def time_axis(
    fig: go.Figure, dates: Sequence[date], unit: str, start_year: int | None = None
) -> None:
    """Ticks on whole months, quarters or years (never mid-period days), at most about
    MAX_TICKS of them in the opening view. With ``start_year``, a long series opens on its
    recent part (double-click shows everything)."""
    if not dates:
        return
    first, last = min(dates), max(dates)
    if start_year is not None and first.year < start_year:
        first = date(start_year, 1, 1)
        fig.update_xaxes(range=[date(start_year - 1, 7, 1), date(last.year, 7, 1)])
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    step = next((s for s in _STEPS[unit] if months / s <= MAX_TICKS), _STEPS[unit][-1])
    fig.update_xaxes(
        tick0="2000-01-01",
        dtick=f"M{step}",
        tickformat="%Y" if step % 12 == 0 else "%b %Y",
        hoverformat={"year": "%Y", "quarter": "%b %Y"}.get(unit, "%b %Y"),
    )


# --- concentration over time --------------------------------------------------------------------

GROUPINGS = {
    "pool": "Pools",
    "owner": "Owners (pools grouped by owning entity)",
    "template_observed": "Template builders (observed sharing)",
    "template_inclusive": "Template builders (partial evidence too)",
}
TEMPLATE_GROUPINGS = ("template_observed", "template_inclusive")


def _mining(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Monthly rows of every grouping; template builders only from the month of the first
    observed template sharing (before it they are the pools, line for line)."""
    _require(con, "mining_concentration")
    first = (
        rows(con, "SELECT min(valid_from) AS first FROM dim_pool_template_builder")[0]["first"]
        if has_relation(con, "dim_pool_template_builder")
        else None
    )
    return _nonempty(
        rows(
            con,
            "SELECT grouping, window_start, hhi, hhi_ci_low, hhi_ci_high, nakamoto, "
            "nakamoto_ci_low, nakamoto_ci_high, blocks FROM mining_concentration "
            "WHERE \"window\" = 'month' AND unknown_policy = 'entity' "
            "AND (NOT list_contains(?, grouping) OR window_end >= ?) "
            "ORDER BY grouping, window_start",
            [list(TEMPLATE_GROUPINGS), first or date.max],
        ),
        "monthly mining concentration",
    )


def _mining_chart(con: duckdb.DuckDBPyConnection, metric: str) -> go.Figure:
    """Monthly ``metric`` of pools, owners and template builders with 95% bands, on a month
    time axis (template builders dashed)."""
    fig = go.Figure()
    found = _mining(con)
    partial = partial_starts(con, "bitcoin_mining", "unknown=entity")
    by_grouping = _by(found, "grouping")
    for i, (grouping, name) in enumerate(GROUPINGS.items()):
        if grouping not in by_grouping:
            continue
        series = by_grouping[grouping]
        add_series(
            fig,
            _column(series, "window_start"),
            _column(series, metric),
            name,
            PALETTE[i],
            low=_column(series, f"{metric}_ci_low"),
            high=_column(series, f"{metric}_ci_high"),
            max_step=MONTHLY,
            mode="lines+markers",
            dash="dash" if grouping in TEMPLATE_GROUPINGS else "solid",
            marker={"size": 3, "color": PALETTE[i]},
        )
        mark_partial(
            fig, series, "window_start", metric, partial.get(grouping, set()), name, PALETTE[i]
        )
    time_axis(fig, [r["window_start"] for r in found], "month")
    return fig


_TEMPLATE_NOTE = (
    "Template builders: a pool seen sending its miners another pool's block template (stratum "
    "jobs with the same Merkle branches, dbt_like_sql/seeds/pool_template_builders.csv) counts "
    "as that pool from the first observation on; shown from the month of the first observation "
    "(2024), since earlier template sharing is unknown, not absent."
)


def metric_chart(
    name: str, metric: str, fig: go.Figure, title: str, x_title: str, note: str
) -> Chart:
    """An HHI or Nakamoto chart over time (id ``chart-<name>-<metric>``): styled, with the
    Nakamoto axis from zero."""
    style(fig, title, x_title, HHI_AXIS if metric == "hhi" else NAKAMOTO_AXIS)
    if metric == "nakamoto":
        fig.update_yaxes(rangemode="tozero")
    return Chart(f"chart-{name}-{metric}", fig, note)


def mining_hhi(con: duckdb.DuckDBPyConnection) -> Chart:
    return metric_chart(
        "mining",
        "hhi",
        _mining_chart(con, "hhi"),
        "Bitcoin mining: HHI of block shares per month",
        "Month (UTC)",
        "Monthly Herfindahl–Hirschman index of each pool's (owner's, template builder's) share of "
        "the month's blocks; blocks of unknown origin count as one entity. Bands: 95% intervals "
        "(blocks are a sample of hash rate). " + _TEMPLATE_NOTE + " Source: mining_concentration "
        "(window = month, unknown_policy = entity)." + PARTIAL_NOTE,
    )


def mining_nakamoto(con: duckdb.DuckDBPyConnection) -> Chart:
    chart = metric_chart(
        "mining",
        "nakamoto",
        _mining_chart(con, "nakamoto"),
        "Bitcoin mining: Nakamoto coefficient per month",
        "Month (UTC)",
        "Smallest number of pools (owners, template builders) that together found more than half "
        "of the month's blocks; lower = more concentrated. Bands: 95% intervals. "
        + _TEMPLATE_NOTE
        + " Source: mining_concentration."
        + PARTIAL_NOTE,
    )
    chart.figure.update_yaxes(dtick=1)
    return chart


NODE_DIMENSIONS = {"country": "Country", "organization": "AS organisation"}
SOURCE_SYMBOLS = ("circle", "diamond", "square", "triangle-up", "x", "star")


def _nodes(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return _found(
        con,
        "node_dispersion",
        "SELECT dimension, source, reachability, snapshot_date, hhi, nakamoto, nodes "
        "FROM node_dispersion WHERE dimension IN ('country', 'organization') "
        "AND overlay_policy = 'excluded' ORDER BY dimension, source, snapshot_date",
        "node dispersion by country or organisation",
    )


def _node_chart(con: duckdb.DuckDBPyConnection, metric: str) -> go.Figure:
    found = _nodes(con)
    sources = sorted({r["source"] for r in found})
    fig = go.Figure()
    for d, (dimension, of_dimension) in enumerate(_by(found, "dimension").items()):
        for source, series in _by(of_dimension, "source").items():
            gossip = series[0]["reachability"] == "gossip"
            name = f"{NODE_DIMENSIONS.get(dimension, label(dimension))} · {label(source)}"
            add_series(
                fig,
                _column(series, "snapshot_date"),
                _column(series, metric),
                name + (" (unverified gossip)" if gossip else ""),
                PALETTE[d],
                mode="lines+markers",
                dash="dot" if gossip else "solid",
                marker={
                    "size": 9,
                    "color": PALETTE[d],
                    "symbol": SOURCE_SYMBOLS[sources.index(source) % len(SOURCE_SYMBOLS)],
                },
            )
    fig.update_layout(hovermode="closest")
    return fig


_NODE_X = "Snapshot date (UTC)"
_NODE_NOTE = (
    "Each point is one snapshot; the sources differ (a Bitnodes crawl, unverified getaddr "
    "gossip, EDI's published distributions), so compare within a source. Tor and other overlay "
    "nodes are left out (overlay_policy = excluded): shares are of located clearnet nodes. "
    "No intervals: a snapshot is a census of the nodes reached, not a sample. Source: "
    "node_dispersion."
)


def nodes_hhi(con: duckdb.DuckDBPyConnection) -> Chart:
    title = "Bitcoin nodes: HHI by country and by AS organisation"
    return metric_chart("nodes", "hhi", _node_chart(con, "hhi"), title, _NODE_X, _NODE_NOTE)


def nodes_nakamoto(con: duckdb.DuckDBPyConnection) -> Chart:
    title = "Bitcoin nodes: Nakamoto coefficient by country and by AS organisation"
    fig = _node_chart(con, "nakamoto")
    return metric_chart("nodes", "nakamoto", fig, title, _NODE_X, _NODE_NOTE)


def hashrate_geography(con: duckdb.DuckDBPyConnection) -> Chart:
    found = _found(
        con,
        "hashrate_geography_concentration",
        "SELECT other_policy, month, hhi FROM hashrate_geography_concentration "
        "ORDER BY other_policy, month",
        "hash rate geography",
    )
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    names = {
        "entity": "HHI, Other as one country",
        "excluded": "HHI, named countries only",
    }
    for i, (policy, series) in enumerate(_by(found, "other_policy").items()):
        add_series(
            fig,
            _column(series, "month"),
            _column(series, "hhi"),
            names.get(policy, f"HHI, other = {label(policy)}"),
            PALETTE[i],
            dash="solid" if policy == "entity" else "dash",
            max_step=MONTHLY,
            secondary_y=False,
        )
    if has_relation(con, "hashrate_geography"):
        china = rows(
            con,
            "SELECT month, share FROM hashrate_geography WHERE country = 'CN' ORDER BY month",
        )
        if china:
            add_series(
                fig,
                _column(china, "month"),
                _column(china, "share", 100),
                "China's share (right axis)",
                PALETTE[2],
                mode="lines+markers",
                max_step=MONTHLY,
                secondary_y=True,
                hover="%{y:.1f}%",
                marker={"size": 5, "color": PALETTE[2]},
            )
    style(fig, "Hash rate by country: HHI per month and China's share", "Month", HHI_AXIS)
    time_axis(fig, [r["month"] for r in found], "month")
    fig.update_yaxes(title_text="China's share of hash rate (%)", secondary_y=True, showgrid=False)
    fig.update_yaxes(range=[0, 100], tickmode="linear", tick0=0, dtick=20, secondary_y=True)
    fig.update_yaxes(rangemode="tozero", secondary_y=False)
    return Chart(
        "chart-hashrate-geography",
        fig,
        "Cambridge (CCAF CBECI) monthly country shares of hash rate, from pool geolocation data. "
        "Counting the published residual 'Other' as one country is the most concentrated reading "
        "the data allows. No intervals: shares are published without sample sizes. Sources: "
        "hashrate_geography_concentration, hashrate_geography.",
    )


AI_DIMENSIONS = {"organization": "Organisation", "country": "Country"}


def _ai(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return _found(
        con,
        "ai_concentration",
        "SELECT dimension, period_start, hhi, hhi_ci_low, hhi_ci_high, nakamoto, "
        "nakamoto_ci_low, nakamoto_ci_high, models FROM ai_concentration "
        "WHERE dataset = 'notable' AND weighting = 'models' AND period = 'year' "
        "AND dimension IN ('organization', 'country') ORDER BY dimension DESC, period_start",
        "AI concentration (notable models, yearly)",
    )


def _ai_chart(con: duckdb.DuckDBPyConnection, metric: str) -> go.Figure:
    found = _ai(con)
    partial = partial_starts(con, "ai_models", "dataset=notable; weighting=models")
    fig = go.Figure()
    for i, (dimension, series) in enumerate(_by(found, "dimension").items()):
        name = f"By {AI_DIMENSIONS.get(dimension, label(dimension)).lower()}"
        add_series(
            fig,
            _column(series, "period_start"),
            _column(series, metric),
            name,
            PALETTE[i],
            low=_column(series, f"{metric}_ci_low"),
            high=_column(series, f"{metric}_ci_high"),
            max_step=YEARLY,
            mode="lines+markers",
            marker={"size": 5, "color": PALETTE[i]},
        )
        mark_partial(
            fig, series, "period_start", metric, partial.get(dimension, set()), name, PALETTE[i]
        )
    time_axis(fig, [r["period_start"] for r in found], "year", start_year=2000)
    return fig


_AI_NOTE = (
    "Epoch AI's notable models, per publication year; each model counts 1, shared equally among "
    "its organisations (countries); models without one listed count as one 'unknown' entity. "
    "Bands: 95% intervals. The axis opens on 2000 onwards (earlier years have few models; "
    "double-click the chart to see all). Source: ai_concentration (dataset = notable, "
    "weighting = models, period = year)." + PARTIAL_NOTE
)


def ai_hhi(con: duckdb.DuckDBPyConnection) -> Chart:
    title = "AI models: HHI by organisation and by country per year"
    return metric_chart("ai", "hhi", _ai_chart(con, "hhi"), title, "Publication year", _AI_NOTE)


def ai_nakamoto(con: duckdb.DuckDBPyConnection) -> Chart:
    title = "AI models: Nakamoto coefficient by organisation and by country per year"
    fig = _ai_chart(con, "nakamoto")
    return metric_chart("ai", "nakamoto", fig, title, "Publication year", _AI_NOTE)


def ai_openness(con: duckdb.DuckDBPyConnection) -> Chart:
    found = _found(
        con,
        "ai_openness",
        "SELECT dataset, make_date(year, 1, 1) AS year, open_share, open_share_ci_low, "
        "open_share_ci_high, models_known FROM ai_openness "
        "WHERE dataset IN ('notable', 'all') AND open_share IS NOT NULL "
        "ORDER BY dataset DESC, year",
        "AI openness",
    )
    fig = go.Figure()
    names = {"notable": "Notable models", "all": "All models (Epoch database)"}
    for i, (dataset, series) in enumerate(_by(found, "dataset").items()):
        partial = partial_starts(con, "ai_models", f"dataset={dataset}").get("openness", set())
        add_series(
            fig,
            _column(series, "year"),
            _column(series, "open_share", 100),
            names.get(dataset, label(dataset)),
            PALETTE[i],
            low=_column(series, "open_share_ci_low", 100),
            high=_column(series, "open_share_ci_high", 100),
            band_name="95% Wilson interval",
            max_step=YEARLY,
            mode="lines+markers",
            hover="%{y:.0f}%",
            marker={"size": 5, "color": PALETTE[i]},
        )
        name = names.get(dataset, label(dataset))
        mark_partial(fig, series, "year", "open_share", partial, name, PALETTE[i], scale=100)
    time_axis(fig, [r["year"] for r in found], "year", start_year=2010)
    style(
        fig,
        "AI openness: share of models released with open weights per year",
        "Publication year",
        "Open-weight share of models (%)",
    )
    fig.update_yaxes(range=[0, 100])
    return Chart(
        "chart-ai-openness",
        fig,
        "Share of models with open weights (any licence) among those whose accessibility is "
        "known; bands: 95% Wilson intervals. The axis opens on 2010 onwards (double-click for "
        "all years). Source: ai_openness." + PARTIAL_NOTE,
    )


def ai_compute(con: duckdb.DuckDBPyConnection) -> Chart:
    found = _found(
        con,
        "ai_compute_concentration",
        "SELECT quarter, hhi, least(hhi, hhi_low, hhi_high) AS low, "
        "greatest(hhi, hhi_low, hhi_high) AS high, complete "
        "FROM ai_compute_concentration ORDER BY quarter",
        "AI compute concentration",
    )
    fig = go.Figure()
    add_series(
        fig,
        _column(found, "quarter"),
        _column(found, "hhi"),
        "HHI of owners' median chip stock",
        PALETTE[0],
        low=_column(found, "low"),
        high=_column(found, "high"),
        band_name="range of the 5th/95th-percentile scenarios",
        max_step=QUARTERLY,
        mode="lines+markers",
    )
    incomplete = [r for r in found if r["complete"] is False]
    if incomplete:
        fig.add_trace(
            go.Scatter(
                x=_column(incomplete, "quarter"),
                y=_column(incomplete, "hhi"),
                mode="markers",
                name="Quarter with missing series (incomplete)",
                marker={"size": 13, "color": "white", "line": {"color": PALETTE[1], "width": 2}},
                hovertemplate="%{y:,.0f}<extra>incomplete quarter</extra>",
            )
        )
    style(fig, "AI compute: HHI of AI-chip stock among owners per quarter", "Quarter", HHI_AXIS)
    time_axis(fig, [r["quarter"] for r in found], "quarter")
    fig.update_yaxes(rangemode="tozero")
    return Chart(
        "chart-ai-compute",
        fig,
        "Epoch AI's modelled cumulative AI-chip stock (H100-equivalents) per owner, with 'Other' "
        "as one entity. Band: the HHI when the largest owner is at one percentile bound and "
        "everyone else at the other (the extreme scenarios, not a confidence interval). "
        "Source: ai_compute_concentration.",
    )


# --- latest distributions -----------------------------------------------------------------------


def bar_chart(
    found: list[dict[str, Any]],
    *,
    title: str,
    x_title: str,
    value: str,
    low: str | None = None,
    high: str | None = None,
    scale: float | None = None,
    hover: str = "%{x:.1f}%",
    colour: str = PALETTE[0],
) -> go.Figure:
    """Horizontal bars, largest on top, with error bars when ``low``/``high`` are given."""
    ordered = found[::-1]
    xs = _column(ordered, value, scale)
    bar: dict[str, Any] = {}
    if low and high:
        bar["error_x"] = {
            "type": "data",
            "symmetric": False,
            "array": [(r[high] * (scale or 1) - x) for r, x in zip(ordered, xs, strict=True)],
            "arrayminus": [(x - r[low] * (scale or 1)) for r, x in zip(ordered, xs, strict=True)],
            "color": "#444",
            "thickness": 1.2,
            "width": 4,
        }
    fig = go.Figure(
        go.Bar(
            x=xs,
            y=[label(r["entity"]) for r in ordered],
            orientation="h",
            marker={"color": colour},
            name=x_title,
            showlegend=False,
            hovertemplate=f"%{{y}}: {hover}<extra></extra>",
            **bar,
        )
    )
    style(fig, title, x_title, "", height=150 + 26 * len(found))
    fig.update_layout(hovermode="closest", margin={"t": 60})
    fig.update_yaxes(showgrid=False, ticks="")
    fig.update_xaxes(rangemode="tozero")
    return fig


def _latest_pool_shares(con: duckdb.DuckDBPyConnection, grouping: str) -> Chart:
    _require(con, "pool_shares")
    latest = rows(
        con,
        "SELECT max(window_start) AS start FROM pool_shares "
        "WHERE \"window\" = 'month' AND unknown_policy = 'entity' AND grouping = ?",
        [grouping],
    )[0]["start"]
    if latest is None:
        raise NoData(f"no monthly pool shares by {grouping}")
    found = rows(
        con,
        "SELECT entity, share, share_ci_low, share_ci_high, blocks, window_label, window_end, "
        "sum(blocks) OVER () AS total FROM pool_shares "
        "WHERE \"window\" = 'month' AND unknown_policy = 'entity' AND grouping = ? "
        "AND window_start = ? ORDER BY share DESC, entity LIMIT ?",
        [grouping, latest, TOP_N],
    )
    first = found[0]
    noun = "pools" if grouping == "pool" else "owners"
    fig = bar_chart(
        found,
        title=f"Top {noun} by share of blocks, {label(first['window_label'])}",
        x_title="Share of the month's blocks (%)",
        value="share",
        low="share_ci_low",
        high="share_ci_high",
        scale=100,
        colour=PALETTE[0] if grouping == "pool" else PALETTE[1],
    )
    return Chart(
        f"chart-latest-{noun}",
        fig,
        f"The {len(found)} largest {noun} of the latest month in the data "
        f"({first['window_label']}, {int(first['total'] or 0):,} blocks to {first['window_end']}; "
        "the month may be partial). 'unknown' = blocks no pool could be attributed to. Error "
        "bars: 95% Wilson intervals. Source: pool_shares.",
    )


def latest_pools(con: duckdb.DuckDBPyConnection) -> Chart:
    return _latest_pool_shares(con, "pool")


def latest_owners(con: duckdb.DuckDBPyConnection) -> Chart:
    return _latest_pool_shares(con, "owner")


def _latest_nodes(con: duckdb.DuckDBPyConnection, dimension: str) -> Chart:
    _require(con, "node_distribution")
    latest = rows(
        con,
        "SELECT snapshot_date, source FROM node_distribution "
        "WHERE dimension = ? AND reachability <> 'gossip' "
        "ORDER BY snapshot_date DESC, source LIMIT 1",
        [dimension],
    )
    if not latest:
        raise NoData(f"no node snapshot by {dimension}")
    when, source = latest[0]["snapshot_date"], latest[0]["source"]
    found = rows(
        con,
        "SELECT entity, share, nodes FROM node_distribution WHERE dimension = ? "
        "AND snapshot_date = ? AND source = ? AND overlay_policy = 'excluded' "
        "ORDER BY share DESC, entity LIMIT ?",
        [dimension, when, source, TOP_N],
    )
    if not found:
        raise NoData(f"no located nodes by {dimension} on {when}")
    overlay = rows(
        con,
        "SELECT sum(share) AS share FROM node_distribution WHERE dimension = ? "
        "AND snapshot_date = ? AND source = ? AND overlay_policy = 'entity' AND entity = 'overlay'",
        [dimension, when, source],
    )[0]["share"]
    what = "countries" if dimension == "country" else "AS organisations"
    fig = bar_chart(
        found,
        title=f"Bitcoin nodes: top {what}, {when} ({label(source)})",
        x_title="Share of located clearnet nodes (%)",
        value="share",
        scale=100,
        colour=PALETTE[2],
    )
    overlay_note = (
        f" Tor and other overlay nodes ({overlay * 100:.0f}% of all nodes) are left out."
        if overlay
        else " Tor and other overlay nodes are left out."
    )
    return Chart(
        f"chart-latest-nodes-{dimension}",
        fig,
        f"Latest crawled or published snapshot ({when}, source {source}); the {len(found)} "
        f"largest {what}.{overlay_note} Source: node_distribution.",
    )


def latest_node_countries(con: duckdb.DuckDBPyConnection) -> Chart:
    return _latest_nodes(con, "country")


def latest_node_organizations(con: duckdb.DuckDBPyConnection) -> Chart:
    return _latest_nodes(con, "organization")


def latest_hashrate_countries(con: duckdb.DuckDBPyConnection) -> Chart:
    found = _found(
        con,
        "hashrate_geography",
        "SELECT coalesce(country_name, country) || CASE WHEN country = 'OTHER' "
        "THEN ' (residual)' ELSE '' END AS entity, share, month FROM hashrate_geography "
        "WHERE month = (SELECT max(month) FROM hashrate_geography) "
        "ORDER BY share DESC, country LIMIT ?",
        "hash rate by country",
        [TOP_N],
    )
    month = found[0]["month"]
    fig = bar_chart(
        found,
        title=f"Hash rate by country, {month:%Y-%m}",
        x_title="Share of Bitcoin's hash rate (%)",
        value="share",
        scale=100,
        colour=PALETTE[4],
    )
    return Chart(
        "chart-latest-hashrate",
        fig,
        f"Cambridge (CCAF CBECI) country shares for {month:%B %Y}, the latest month published; "
        "'Other' is Cambridge's residual of smaller countries. Source: hashrate_geography.",
    )


def latest_ai_compute(con: duckdb.DuckDBPyConnection) -> Chart:
    _require(con, "ai_compute_owners")
    complete = None
    if has_relation(con, "ai_compute_concentration"):
        complete = rows(
            con, "SELECT max(quarter) AS q FROM ai_compute_concentration WHERE complete"
        )[0]["q"]
    quarter = complete or rows(con, "SELECT max(quarter) AS q FROM ai_compute_owners")[0]["q"]
    if quarter is None:
        raise NoData("no AI-chip stock by owner")
    found = rows(
        con,
        "SELECT owner AS entity, h100e, least(h100e_p05, h100e) AS low, "
        "greatest(h100e_p95, h100e) AS high FROM ai_compute_owners "
        "WHERE quarter = ? ORDER BY h100e DESC, owner LIMIT ?",
        [quarter, TOP_N],
    )
    name = f"{quarter.year}-Q{(quarter.month - 1) // 3 + 1}"
    fig = bar_chart(
        found,
        title=f"AI compute by owner, {name}",
        x_title="Cumulative AI-chip stock (H100-equivalents)",
        value="h100e",
        low="low",
        high="high",
        hover="%{x:,.0f} H100e",
        colour=PALETTE[3],
    )
    which = "the latest complete quarter" if complete else "the latest quarter"
    return Chart(
        "chart-latest-ai-compute",
        fig,
        f"Epoch AI's modelled chip stock per owner in {which} ({name}); error bars: 5th–95th "
        "percentiles summed across chip makers. 'Other' is everyone else. Source: "
        "ai_compute_owners.",
    )


ChartBuilder = Callable[[duckdb.DuckDBPyConnection], Chart]
