"""The node tables built in batches: nodes enriched offline, then their distribution and
dispersion per snapshot and dimension (used by ``pipelines/defs/node_dispersion.py``).

``build_node_tables`` reads ``raw/node_snapshots`` a batch of monthly partitions at a time (at most
``batch_rows`` rows by the Parquet footers, a bigger day alone), enriches each batch from the
offline IP databases and measures it (every metric is per snapshot, so per batch is exact), and
appends the results as parts of the unpartitioned lake tables ``intermediate/nodes``,
``node_distribution`` and ``node_dispersion`` (``Lake.parts_writer``: swapped in only when
complete). Peak memory is that of one batch, whatever the length of the history. The published
distributions (small) are appended as a last part. The operator seeds ``raw/node_organizations``
and ``raw/hosting_providers`` are read from the lake and passed to the measures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from pipelines.lake import Lake
from pipelines.nodes.dispersion import distribution_dispersion, hosting_asns
from pipelines.nodes.dispersion import node_tables as measure_nodes
from pipelines.nodes.enrichment import (
    add_agreement_counts,
    addresses_to_fill,
    agreement_counts,
    agreement_rates,
    fill_from_lookup,
    ip_addresses,
    mark_recorded,
)
from pipelines.schemas.nodes import NODE_SCHEMA, OVERLAY_NETWORKS
from pipelines.sources.ip_databases import IpDatabase, lookup_unique

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


def enrich(nodes: pl.DataFrame, databases: Sequence[IpDatabase]) -> pl.DataFrame:
    """``nodes`` with their missing geography and AS filled from ``databases``, earlier ones
    first, each asked only for the addresses still lacking a field
    (``pipelines.nodes.enrichment``)."""
    enriched = mark_recorded(nodes)
    for db in databases:
        wanted = addresses_to_fill(enriched)
        if wanted.is_empty():
            break
        enriched = fill_from_lookup(enriched, lookup_unique(db, wanted), db.name)
    return enriched


def partition_batches(
    lake: Lake, files: Sequence[Path], batch_rows: int = BATCH_ROWS
) -> list[list[Path]]:
    """Consecutive partition files of ``lake`` grouped so a group has at most ``batch_rows``
    rows (Parquet footer counts); a day with more is a group of its own."""
    batches: list[list[Path]] = []
    rows = 0
    for path in files:
        day_rows = lake.file_rows(path)
        if not batches or rows + day_rows > batch_rows:
            batches.append([])
            rows = 0
        batches[-1].append(path)
        rows += day_rows
    return [batch for batch in batches if batch]


def build_node_tables(
    lake: Lake,
    databases: Sequence[IpDatabase],
    organizations: pl.DataFrame,
    hosting: pl.DataFrame,
    *,
    batch_rows: int = BATCH_ROWS,
    progress: Callable[[int, int, int], None] | None = None,
) -> NodeTables:
    """Write the three node tables to ``lake`` from all of ``raw/node_snapshots`` (and
    ``raw/node_distributions``), batch by batch, with the operator seeds ``organizations`` and
    ``hosting``; ``progress(done, batches, rows)`` per batch."""
    batches = partition_batches(lake, lake.files("raw", "node_snapshots"), batch_rows)
    result = NodeTables(batches=len(batches), days=sum(map(len, batches)))
    totals: dict[str, dict[str, Any]] = {}
    hosting_ases = hosting_asns(organizations, hosting)
    with ExitStack() as stack:
        writers = {t: stack.enter_context(lake.parts_writer("intermediate", t)) for t in TABLES}
        rows = 0
        for done, files in enumerate(batches or [[]], start=1):
            raw = lake.read_files(files) if files else pl.DataFrame(schema=NODE_SCHEMA)
            known = raw.filter(
                ~pl.col("network").is_in(OVERLAY_NETWORKS) & pl.col("country_code").is_not_null()
            )
            if known.height:
                for db in databases:
                    found = lookup_unique(db, ip_addresses(known))
                    totals[db.name] = add_agreement_counts(
                        totals.get(db.name), agreement_counts(known, found, db.name, hosting_ases)
                    )
            del known
            nodes = enrich(raw, databases)
            measured = (nodes, *measure_nodes(nodes, organizations, hosting))
            for table, frame in zip(TABLES, measured, strict=True):
                if table not in result.previews or result.previews[table].is_empty():
                    result.previews[table] = frame.head(10)
                writers[table].append(frame)
            rows += raw.height
            del raw, nodes, measured
            if progress and files:
                progress(done, len(batches), rows)
        if lake.files("raw", "node_distributions"):
            published = distribution_dispersion(lake.read("raw", "node_distributions"))
            writers["node_distribution"].append(published.distribution)
            writers["node_dispersion"].append(published.dispersion)
    result.rows = {table: writer.rows for table, writer in writers.items()}
    result.agreement = {name: agreement_rates(counts) for name, counts in totals.items()}
    return result
