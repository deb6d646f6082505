"""The verdict: trends of every scoreboard series, and the HTML report built from the warehouse.

``intermediate/decentralization_trends`` reads the SQL mart ``decentralization_scoreboard`` and
tests each series for a monotonic trend (``pipelines/metrics/trends.py``);
``report/decentralization_report`` renders ``<data home>/report/index.html`` from the published
serving database, so the report always shows what analysts can query.
"""

from datetime import UTC, datetime

import dagster as dg
import polars as pl

from pipelines.config import ObservatoryConfig
from pipelines.execution import warehouse_tags
from pipelines.metadata import markdown_table
from pipelines.metrics.trends import fdr_summary, partial_summary, series_trends
from pipelines.report import licence_for, render_report
from pipelines.resources import ObservatoryResource
from pipelines.schemas.decentralization import DECENTRALIZATION_TRENDS
from pipelines.serving import KEY as SERVING
from pipelines.sources.ip_databases import ip_database_origin
from pipelines.sources.registry import kind_of

SCOREBOARD = dg.AssetKey(["marts", "decentralization_scoreboard"])
TRENDS = dg.AssetKey(["intermediate", "decentralization_trends"])
REPORT = dg.AssetKey(["report", "decentralization_report"])
# the raw asset that reads each source (multi-feed sources by their prefix)
ENRICHED_NODES = ["intermediate", "nodes"]  # the asset that reads the offline IP databases


@dg.asset(
    key=TRENDS,
    deps=[SCOREBOARD],
    kinds={"python", "parquet"},
    op_tags=warehouse_tags(),  # reads a mart from the build database
)
def decentralization_trends(observatory: ObservatoryResource) -> dg.MaterializeResult:
    settings = observatory.config().trends
    with observatory.warehouse().writer() as con:
        scoreboard = con.sql("select * from main.decentralization_scoreboard").pl()
    trends = series_trends(
        scoreboard,
        spans=[None, *settings["recent_years"]],
        alpha=settings["alpha"],
        fdr=settings["fdr"],
        min_points=settings["min_points"],
    )
    verdicts = (
        trends.filter(pl.col("span") == "all")
        .group_by("domain", "verdict")
        .len()
        .sort("domain", "verdict")
    )
    return dg.MaterializeResult(
        metadata={
            **observatory.store_table(trends, DECENTRALIZATION_TRENDS),
            "series": scoreboard.select("domain", "dimension", "variant", "metric").unique().height,
            "verdicts_whole_series": dg.MetadataValue.md(markdown_table(verdicts, 50)),
            "significant_before_after_fdr": dg.MetadataValue.md(
                markdown_table(fdr_summary(trends), 50)
            ),
            "partial_periods_left_out": dg.MetadataValue.md(
                markdown_table(partial_summary(scoreboard), 50)
            ),
            "settings": dg.MetadataValue.json(settings),
        }
    )


def _retrieved_at(instance: dg.DagsterInstance, key: list[str]) -> str:
    """When the asset ``key`` last materialised (ISO, UTC), or ``never``."""
    event = instance.get_latest_materialization_event(dg.AssetKey(key))
    if event is None:
        return "never"
    return datetime.fromtimestamp(event.timestamp, UTC).isoformat(timespec="seconds")


def provenance(config: ObservatoryConfig, instance: dg.DagsterInstance) -> list[dict[str, str]]:
    """One row per configured source and, when nodes are read, per offline database that
    enriches them: kind, location, licence and when its asset last read it."""
    inputs = [
        (feed.key, feed.kind, feed.location, kind_of(feed).table.split("."))
        for feed in config.sources.values()
    ]
    if any(name.startswith("nodes.") for name in config.sources):
        kind, location = ip_database_origin(config.nodes["ip_database"])
        inputs.append(("[nodes] ip_database", kind, location, ENRICHED_NODES))
        if config.nodes["asmap"]:
            inputs.append(("[nodes] asmap", "asmap", config.nodes["asmap"], ENRICHED_NODES))
    return [
        {
            "source": name,
            "kind": kind,
            "location": location,
            "licence": licence_for(kind),
            "retrieved_at": _retrieved_at(instance, key),
        }
        for name, kind, location, key in inputs
    ]


@dg.asset(
    key=REPORT,
    deps=[SERVING],
    op_tags=warehouse_tags(),  # reads the serving database
    description="A self-contained HTML report (no network needed): the verdict table, "
    "concentration over time with interval bands, the latest distributions, the data dictionary "
    "and the provenance of every input. Written to <data home>/report/index.html.",
)
def decentralization_report(
    context: dg.AssetExecutionContext, observatory: ObservatoryResource
) -> dg.MaterializeResult:
    config = observatory.config()
    rows = provenance(config, context.instance)
    with observatory.warehouse().reader() as con:
        path = render_report(
            con,
            config.report_dir,
            provenance=rows,
            generated_at=datetime.now(UTC),
        )
    context.log.info(f"report written to {path}")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "open": dg.MetadataValue.url(path.as_uri()),
            "bytes": dg.MetadataValue.int(path.stat().st_size),
            "provenance": dg.MetadataValue.md(markdown_table(pl.DataFrame(rows), 50)),
        }
    )
