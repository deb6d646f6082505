"""The node tables built from the whole snapshot history in batches of whole days.

``build_node_tables`` reads ``raw/node_snapshots`` a batch of daily partitions at a time (at most
``batch_rows`` rows by the Parquet footers, a bigger day alone), enriches each batch and measures
it (every metric is per snapshot, so per batch is exact), and appends the results as parts of the
unpartitioned lake tables ``intermediate/nodes``, ``node_distribution`` and ``node_dispersion``
(``Lake.parts_writer``: swapped in only when complete). Peak memory is that of one batch, whatever
the length of the history. The published distributions (small) are appended as a last part.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from pipelines.lake import Lake
from pipelines.nodes.dispersion import distribution_dispersion, hosting_asns, node_tables
from pipelines.nodes.ipdb import (
    IpDatabase,
    add_agreement_counts,
    agreement_counts,
    agreement_rates,
    enrich,
)
from pipelines.schemas.nodes import NODE_SCHEMA, OVERLAY_NETWORKS

BATCH_ROWS = 2_000_000
TABLES = ("nodes", "node_distribution", "node_dispersion")


@dataclass
class NodeTables:
    """What ``build_node_tables`` wrote: rows per table, the batches, a preview of each table
    (its first rows) and the summed agreement of each database with the sources' geography."""

    rows: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    days: int = 0
    previews: dict[str, pl.DataFrame] = field(default_factory=dict)
    agreement: dict[str, dict[str, Any]] = field(default_factory=dict)


def day_batches(files: Sequence[Path], batch_rows: int = BATCH_ROWS) -> list[list[Path]]:
    """Consecutive daily partition files grouped so a group has at most ``batch_rows`` rows
    (Parquet footer counts); a day with more is a group of its own."""
    batches: list[list[Path]] = []
    rows = 0
    for path in files:
        day_rows = pq.read_metadata(path).num_rows
        if not batches or rows + day_rows > batch_rows:
            batches.append([])
            rows = 0
        batches[-1].append(path)
        rows += day_rows
    return [batch for batch in batches if batch]


def _measure(raw: pl.DataFrame, databases: Sequence[IpDatabase]) -> tuple[pl.DataFrame, ...]:
    """One batch: enriched nodes, their distribution and their dispersion."""
    nodes = enrich(raw, databases)
    return nodes, *node_tables(nodes)


def build_node_tables(
    lake: Lake,
    databases: Sequence[IpDatabase],
    *,
    batch_rows: int = BATCH_ROWS,
    progress: Callable[[int, int, int], None] | None = None,
) -> NodeTables:
    """Write the three node tables to ``lake`` from all of ``raw/node_snapshots`` (and
    ``raw/node_distributions``), batch by batch; ``progress(done, batches, rows)`` per batch."""
    batches = day_batches(lake.files("raw", "node_snapshots"), batch_rows)
    result = NodeTables(batches=len(batches), days=sum(map(len, batches)))
    totals: dict[str, dict[str, Any]] = {}
    hosting = hosting_asns()
    with ExitStack() as stack:
        writers = {t: stack.enter_context(lake.parts_writer("intermediate", t)) for t in TABLES}
        rows = 0
        for done, files in enumerate(batches or [[]], start=1):
            raw = (
                pl.read_parquet(files, hive_partitioning=False)
                if files
                else pl.DataFrame(schema=NODE_SCHEMA)
            )
            known = raw.filter(
                ~pl.col("network").is_in(OVERLAY_NETWORKS) & pl.col("country_code").is_not_null()
            )
            if known.height:
                for db in databases:
                    totals[db.name] = add_agreement_counts(
                        totals.get(db.name), agreement_counts(known, db, hosting)
                    )
            del known
            for table, frame in zip(TABLES, _measure(raw, databases), strict=True):
                if table not in result.previews or result.previews[table].is_empty():
                    result.previews[table] = frame.head(10)
                writers[table].append(frame)
            rows += raw.height
            del raw
            if progress and files:
                progress(done, len(batches), rows)
        if lake.files("raw", "node_distributions"):
            published = distribution_dispersion(lake.read("raw", "node_distributions"))
            writers["node_distribution"].append(published.distribution)
            writers["node_dispersion"].append(published.dispersion)
    result.rows = {table: writer.rows for table, writer in writers.items()}
    result.agreement = {name: agreement_rates(counts) for name, counts in totals.items()}
    return result
