"""Section 1: the verdict tables, read from ``decentralization_trends``.

The thesis "Bitcoin mining is centralizing while AI may decentralize" is checked series by
series: for each headline series, the whole-series and last-3-years Mann–Kendall verdicts. A
verdict holds only after false-discovery-rate control (Benjamini–Hochberg within each domain and
span); the tables show q beside p, and which trends significant at p < α do not survive.
"""

from __future__ import annotations

import html
from datetime import date
from decimal import Decimal
from typing import Any

import duckdb

from pipelines.report.data import has_relation, rows

TRENDS = "decentralization_trends"
SIGNIFICANT_LIMIT = 50
NO_TREND = "no significant trend"

DOMAINS = {
    "bitcoin_mining": "Bitcoin mining",
    "bitcoin_nodes": "Bitcoin nodes",
    "hashrate_geography": "Hash rate geography",
    "ai_models": "AI models",
    "ai_compute": "AI compute",
}
METRICS = {
    "hhi": "HHI",
    "nakamoto": "Nakamoto coefficient",
    "open_share": "Open-weight share",
    "compute_open_share": "Open-weight share of compute",
    "cr1": "CR1 (largest share)",
    "cr3": "CR3",
    "cr5": "CR5",
    "gini": "Gini",
    "theil": "Theil",
    "entropy_bits": "Entropy (bits)",
    "entropy_normalized": "Normalised entropy",
    "effective_entities": "Effective entities",
    "tau_033": "τ 1/3",
    "tau_066": "τ 2/3",
}
SPANS = {"all": "whole series", "last_3y": "last 3 years"}
# How each domain's periods are named in the tables (nodes: snapshot days).
PERIOD_UNITS = {
    "bitcoin_mining": "month",
    "hashrate_geography": "month",
    "ai_models": "year",
    "ai_compute": "quarter",
}
CONCENTRATION = ("hhi", "nakamoto")

# domain → rows of (label, dimension, variant LIKE pattern, metrics)
HEADLINE: dict[str, tuple[tuple[str, str, str, tuple[str, ...]], ...]] = {
    "bitcoin_mining": (
        ("Pools", "pool", "unknown=entity", CONCENTRATION),
        ("Owners", "owner", "unknown=entity", CONCENTRATION),
        ("Template builders, observed", "template_observed", "unknown=entity", CONCENTRATION),
        ("Template builders, inclusive", "template_inclusive", "unknown=entity", CONCENTRATION),
    ),
    "bitcoin_nodes": (
        ("Countries, Tor left out", "country", "overlay=excluded%", CONCENTRATION),
        ("AS organisations, Tor left out", "organization", "overlay=excluded%", CONCENTRATION),
        ("AS numbers, Tor left out", "asn", "overlay=excluded%", CONCENTRATION),
    ),
    "hashrate_geography": (("Countries, Other as one", "country", "other=entity%", CONCENTRATION),),
    "ai_models": (
        (
            "Organisations",
            "organization",
            "dataset=notable; weighting=models",
            CONCENTRATION,
        ),
        (
            "Countries",
            "country",
            "dataset=notable; weighting=models",
            CONCENTRATION,
        ),
        (
            "Organisations, rolling 12 months",
            "organization",
            "dataset=notable; weighting=models; period=rolling_12m",
            CONCENTRATION,
        ),
        (
            "Countries, rolling 12 months",
            "country",
            "dataset=notable; weighting=models; period=rolling_12m",
            CONCENTRATION,
        ),
        ("Open weights", "openness", "dataset=notable", ("open_share",)),
        ("Open weights", "openness", "dataset=all", ("open_share",)),
    ),
    "ai_compute": (("Chip owners", "owner", "%", CONCENTRATION),),
}

_VERDICT_CLASS = {"centralizing": "v-central", "decentralizing": "v-decentral"}


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def domain_name(domain: str) -> str:
    return DOMAINS.get(domain, domain.replace("_", " ").capitalize())


def number(value: Any, signed: bool = False) -> str:
    """Compact number: thousands separators for large values, 3 significant digits otherwise."""
    if value is None:
        return "–"
    x = float(value) if isinstance(value, Decimal | int | float) else value
    if not isinstance(x, float):
        return esc(x)
    if x != x:  # NaN
        return "–"
    sign = "+" if signed else ""
    if abs(x) >= 100:
        return f"{x:{sign},.0f}"
    if x == 0:
        return "0"
    return f"{x:{sign}.3g}"


def p_value(value: Any) -> str:
    if value is None:
        return "–"
    p = float(value)
    return "&lt; 0.001" if p < 0.001 else f"{p:.3f}"


def verdict_badge(verdict: Any) -> str:
    css = _VERDICT_CLASS.get(str(verdict), "v-none")
    return f'<span class="verdict {css}">{esc(verdict)}</span>'


def _sort_key(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal | int | float):
        return repr(float(value))
    return str(value)


def _cell(content: str, sort: Any = None, css: str = "") -> str:
    attrs = f' data-sort="{esc(_sort_key(sort))}"' if sort is not None else ""
    attrs += f' class="{css}"' if css else ""
    return f"<td{attrs}>{content}</td>"


def _short(day: Any, unit: str) -> str:
    if not isinstance(day, date):
        return esc(day) if day is not None else "–"
    if unit == "year":
        return f"{day.year}"
    if unit == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    if unit == "month":
        return f"{day:%Y-%m}"
    return day.isoformat()


def _period(row: dict[str, Any]) -> str:
    unit = PERIOD_UNITS.get(row.get("domain", ""), "day")
    if row.get("dimension") == "openness":
        unit = "year"
    first, last = _short(row.get("period_first"), unit), _short(row.get("period_last"), unit)
    return f'<span class="d">{first}</span> – <span class="d">{last}</span>'


def _head(headers: tuple[tuple[str, str, str], ...]) -> str:
    return "".join(
        f'<th scope="col" data-type="{kind}" title="{esc(tip)}">{esc(name)}</th>'
        for name, kind, tip in headers
    )


SERIES_HEADERS = (
    ("Series", "text", "What is measured and how it was counted"),
    ("Metric", "text", "HHI: 0–10,000, higher = more concentrated; Nakamoto: lower = more"),
)
TEST_HEADERS = (
    (
        "Verdict",
        "text",
        "Mann–Kendall trend test, read as concentration rising or falling; significant when q is "
        "within the false-discovery rate ([trends] fdr)",
    ),
    ("Slope/yr", "num", "Trend of the metric per year (slope_per_year); hover: first → last"),
    ("p", "num", "p_value of the trend test (p_value_independent assumes independence)"),
    (
        "q",
        "num",
        "q_value: p adjusted by Benjamini–Hochberg among the tests of the domain and span "
        "(family_size of them)",
    ),
    ("n", "num", "Periods tested"),
    ("Period", "text", "First and last period tested"),
)


def _test_cells(row: dict[str, Any] | None) -> list[str]:
    """Verdict, slope, p, q, points and period of one test (or dashes when there is none)."""
    if row is None:
        return [_cell("–", "")] + [_cell("–", "", "n")] * 4 + [_cell("–", "")]
    notes = [esc(row["note"])] if row.get("note") else []
    if row["verdict"] == NO_TREND and row.get("verdict_unadjusted", NO_TREND) != NO_TREND:
        notes.insert(0, f"{esc(row['verdict_unadjusted'])} at p &lt; α, not after FDR control")
    note = "".join(f'<div class="note">{n}</div>' for n in notes)
    first_last = f"first → last: {number(row.get('first_value'))} → {number(row.get('last_value'))}"
    slope = number(row.get("slope_per_year"), signed=True)
    return [
        _cell(verdict_badge(row["verdict"]) + note, row["verdict"]),
        _cell(f'<span title="{first_last}">{slope}</span>', row.get("slope_per_year"), "n"),
        _cell(p_value(row.get("p_value")), row.get("p_value"), "n"),
        _cell(
            f'<span title="family of {number(row.get("family_size"))} tests">'
            f"{p_value(row.get('q_value'))}</span>",
            row.get("q_value"),
            "n",
        ),
        _cell(number(row.get("points")), row.get("points"), "n"),
        _cell(_period(row), row.get("period_first"), "period"),
    ]


def _series_label(name: str, variant: str) -> str:
    return f'{esc(name)}<div class="variant">{esc(variant)}</div>'


def headline_tables(con: duckdb.DuckDBPyConnection) -> str:
    """One table per domain of the headline series: a row per series and metric, with the
    whole-series and the last-3-years test side by side."""
    group_row = (
        '<tr class="groups"><th colspan="2"></th>'
        + "".join(f'<th colspan="{len(TEST_HEADERS)}">{esc(SPANS[s])}</th>' for s in SPANS)
        + "</tr>"
    )
    head = f"<thead>{group_row}<tr>{_head(SERIES_HEADERS)}{_head(TEST_HEADERS * 2)}</tr></thead>"
    parts = []
    for domain, specs in HEADLINE.items():
        body = []
        for name, dimension, variant, metrics in specs:
            found = rows(
                con,
                f"SELECT * FROM {TRENDS} WHERE domain = ? AND dimension = ? AND variant LIKE ? "
                "AND list_contains(?, metric) ORDER BY list_position(?, metric), variant, span",
                [domain, dimension, variant, list(metrics), list(metrics)],
            )
            series: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
            for r in found:
                series.setdefault((r["variant"], r["metric"]), {})[r["span"]] = r
            for (found_variant, metric), spans in series.items():
                label = _series_label(name, found_variant)
                cells = [
                    _cell(label, f"{name} {found_variant}"),
                    _cell(esc(METRICS.get(metric, metric)), metric),
                ]
                for span in SPANS:
                    cells += _test_cells(spans.get(span))
                body.append(f"<tr>{''.join(cells)}</tr>")
        anchor = f"verdicts-{domain.replace('_', '-')}"
        parts.append(f'<h3 id="{anchor}">{esc(domain_name(domain))}</h3>')
        if body:
            table = f"{head}<tbody>{''.join(body)}</tbody>"
            parts.append(f'<table class="verdicts wide sortable">{table}</table>')
        else:
            parts.append('<p class="no-data">No trend rows for the headline series.</p>')
    return "\n".join(parts)


def summary(con: duckdb.DuckDBPyConnection) -> str:
    """One paragraph: per domain and span, how many series are centralizing, decentralizing or
    without a significant trend, and the headline HHI verdicts of mining and AI."""
    counts = rows(
        con,
        f"SELECT domain, span, verdict, count(*) AS n FROM {TRENDS} GROUP BY ALL",
    )
    if not counts:
        return '<p class="no-data">The trend table is empty.</p>'
    table: dict[str, dict[str, dict[str, int]]] = {}
    for r in counts:
        table.setdefault(r["domain"], {}).setdefault(r["span"], {})[r["verdict"]] = r["n"]
    total = sum(r["n"] for r in counts)
    by_verdict: dict[str, int] = {}
    for r in counts:
        by_verdict[r["verdict"]] = by_verdict.get(r["verdict"], 0) + r["n"]
    order = [d for d in DOMAINS if d in table] + sorted(d for d in table if d not in DOMAINS)
    unadjusted = rows(
        con, f"SELECT count(*) AS n FROM {TRENDS} WHERE verdict_unadjusted <> ?", [NO_TREND]
    )[0]["n"]
    significant = total - by_verdict.get(NO_TREND, 0)
    sentences = [
        f"Of {total:,} series tested (each metric of each series, over the whole series and "
        f"over its last 3 years), {by_verdict.get('centralizing', 0):,} are centralizing, "
        f"{by_verdict.get('decentralizing', 0):,} decentralizing and "
        f"{by_verdict.get(NO_TREND, 0):,} show no significant trend. With so many tests about "
        "one in twenty would look significant at p &lt; 0.05 by chance alone, so a verdict "
        "needs its false-discovery rate controlled (Benjamini–Hochberg q within its domain and "
        f"span): {significant:,} of the {unadjusted:,} trends significant at p &lt; α survive."
    ]
    for domain in order:
        spans = []
        for span in sorted(table[domain], key=lambda s: (s != "all", s)):
            c = table[domain][span]
            spans.append(
                f"{esc(SPANS.get(span, span))}: {c.get('centralizing', 0)} centralizing, "
                f"{c.get('decentralizing', 0)} decentralizing, {c.get(NO_TREND, 0)} no trend"
            )
        sentences.append(f"<strong>{esc(domain_name(domain))}</strong> — {'; '.join(spans)}.")
    key = rows(
        con,
        f"SELECT domain, dimension, span, verdict FROM {TRENDS} WHERE metric = 'hhi' AND ("
        "(domain = 'bitcoin_mining' AND dimension = 'pool' AND variant = 'unknown=entity') OR "
        "(domain = 'ai_models' AND dimension = 'organization' "
        "AND variant = 'dataset=notable; weighting=models')) "
        "ORDER BY domain DESC, span = 'last_3y'",
    )
    if key:
        names = {"bitcoin_mining": "mining pools", "ai_models": "AI organisations (notable)"}
        said = [
            f"{esc(names.get(r['domain'], r['domain']))}, {esc(SPANS.get(r['span'], r['span']))}: "
            f"{verdict_badge(r['verdict'])}"
            for r in key
        ]
        sentences.insert(0, "Thesis check on HHI — " + "; ".join(said) + ".")
    return f'<p class="summary">{" ".join(sentences)}</p>'


def _listing(found: list[dict[str, Any]], intro: str) -> str:
    """A sortable table of trend rows (series, metric, span and the test) under a note."""
    head = (
        f"<thead><tr>{_head(SERIES_HEADERS)}"
        '<th scope="col" data-type="text" title="Whole series or last 3 years">Span</th>'
        f"{_head(TEST_HEADERS)}</tr></thead>"
    )
    body = []
    for r in found:
        series = f"{domain_name(r['domain'])} · {r['dimension']}"
        cells = [
            _cell(_series_label(series, r["variant"]), f"{series} {r['variant']}"),
            _cell(esc(METRICS.get(r["metric"], r["metric"])), r["metric"]),
            _cell(esc(SPANS.get(r["span"], r["span"])), r["span"]),
            *_test_cells(r),
        ]
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<p class="cap-note">{esc(intro)}</p>'
        f'<table class="verdicts sortable">{head}<tbody>{"".join(body)}</tbody></table>'
    )


def significant_table(con: duckdb.DuckDBPyConnection) -> str:
    """Every verdict other than 'no significant trend', capped at the strongest 50 by q."""
    total = rows(con, f"SELECT count(*) AS n FROM {TRENDS} WHERE verdict <> ?", [NO_TREND])[0]["n"]
    found = rows(
        con,
        f"SELECT * FROM {TRENDS} WHERE verdict <> ? ORDER BY q_value NULLS LAST, p_value, "
        "domain, dimension, variant, metric, span LIMIT ?",
        [NO_TREND, SIGNIFICANT_LIMIT],
    )
    if not found:
        return '<p class="no-data">No series has a significant trend.</p>'
    intro = (
        f"All {total:,} series with a significant trend, smallest q-value first."
        if total <= SIGNIFICANT_LIMIT
        else f"The {len(found)} smallest q-values of the {total:,} series with a significant "
        f"trend (the full list is the table {TRENDS})."
    )
    return _listing(found, intro)


def fdr_table(con: duckdb.DuckDBPyConnection) -> str:
    """Per domain and span: series tested, significant at p < α, significant after FDR control
    (q ≤ fdr) and the difference, the verdicts that do not survive."""
    counts = rows(
        con,
        f"SELECT domain, span, count(p_value) AS tested, "
        "count(*) FILTER (WHERE verdict_unadjusted <> ?) AS unadjusted, "
        "count(*) FILTER (WHERE verdict <> ?) AS significant, "
        "count(*) FILTER (WHERE verdict_unadjusted <> ? AND verdict = ?) AS lost "
        f"FROM {TRENDS} GROUP BY ALL",
        [NO_TREND, NO_TREND, NO_TREND, NO_TREND],
    )
    order = {d: i for i, d in enumerate(DOMAINS)}
    counts.sort(
        key=lambda r: (
            order.get(r["domain"], len(order)),
            r["domain"],
            r["span"] != "all",
            r["span"],
        )
    )
    body = "".join(
        "<tr>"
        + _cell(esc(domain_name(r["domain"])), r["domain"])
        + _cell(esc(SPANS.get(r["span"], r["span"])), r["span"])
        + "".join(
            _cell(number(r[k]), r[k], "n") for k in ("tested", "unadjusted", "significant", "lost")
        )
        + "</tr>"
        for r in counts
    )
    head = _head(
        (
            ("Domain", "text", "Domain of the series"),
            ("Span", "text", "Whole series or last 3 years: each domain and span is one family"),
            ("Tested", "num", "Series with a test (at least 6 complete periods, not constant)"),
            ("p < α", "num", "Significant without multiple-testing control (verdict_unadjusted)"),
            ("q ≤ fdr", "num", "Significant after Benjamini–Hochberg control (verdict)"),
            ("Not surviving", "num", "Significant at p < α, not after control"),
        )
    )
    return (
        '<p class="section-note">Each domain and span is one family of tests; within it the '
        "p-values are adjusted by Benjamini–Hochberg, so that among the trends called "
        "significant the expected share of false ones stays within the false-discovery rate "
        "([trends] fdr, 5% by default). The p-values allow for autocorrelation with an AR(1) "
        "correction that holds its level on simulated series of 24 points or more; on shorter, "
        "strongly persistent series it can still be too eager (see the README).</p>"
        f'<table class="verdicts sortable"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def lost_table(con: duckdb.DuckDBPyConnection) -> str:
    """The trends significant at p < α that FDR control turns into 'no significant trend'."""
    where = "verdict_unadjusted <> ? AND verdict = ?"
    total = rows(con, f"SELECT count(*) AS n FROM {TRENDS} WHERE {where}", [NO_TREND] * 2)[0]["n"]
    found = rows(
        con,
        f"SELECT * FROM {TRENDS} WHERE {where} ORDER BY q_value, p_value, domain, dimension, "
        "variant, metric, span LIMIT ?",
        [NO_TREND, NO_TREND, SIGNIFICANT_LIMIT],
    )
    if not found:
        return '<p class="no-data">Every trend significant at p &lt; α survives FDR control.</p>'
    intro = (
        f"All {total:,} trends significant at p < α that do not survive, smallest q first."
        if total <= SIGNIFICANT_LIMIT
        else f"The {len(found)} smallest q-values of the {total:,} trends significant at p < α "
        f"that do not survive (the full list: verdict_unadjusted <> verdict in {TRENDS})."
    )
    return _listing(found, intro)


def verdict_section(con: duckdb.DuckDBPyConnection) -> str:
    if not has_relation(con, TRENDS):
        return (
            f'<p class="no-data">No data: the table {TRENDS} is not in the database, so no '
            "verdicts can be shown.</p>"
        )
    return "\n".join(
        [
            summary(con),
            '<p class="legend-note">Verdicts: <span class="verdict v-central">centralizing</span> '
            '<span class="verdict v-decentral">decentralizing</span> '
            f'<span class="verdict v-none">{NO_TREND}</span>. Click a column header to sort.</p>',
            headline_tables(con),
            '<h3 id="verdicts-significant">All significant trends</h3>',
            significant_table(con),
            '<h3 id="verdicts-fdr">Which verdicts survive multiple testing</h3>',
            fdr_table(con),
            lost_table(con),
        ]
    )
