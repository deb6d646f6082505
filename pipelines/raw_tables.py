"""The one writer of raw tables: every raw asset reads its configured feeds and hands them here.

For a raw table (its contract) and the feeds read this run, in config order, it
- writes the rows: one lake partition per feed (``partition="feed"``), per UTC month for
  day-stamped tables (``partition="month"``: the run's days replaced inside the months they fall
  in, days without rows emptied, ``Lake.replace_days``), or the whole table (``partition=None``);
- writes each feed's rejects as that feed's partition of the rejects table beside it;
- prunes the partitions of feeds no longer configured, from the table and its rejects;
- returns the asset's metadata: rows, columns, preview, the feeds' reports and a rejects sample.
Re-running with the same feeds gives the same files; each file is replaced atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import dagster as dg
import polars as pl

from pipelines.metadata import markdown_table
from pipelines.resources import ObservatoryResource
from pipelines.schemas import Contract
from pipelines.sources.registry import FeedRead


@dataclass(frozen=True)
class RawTable:
    contract: Contract
    rejects: Contract | None  # None: the table keeps its problems in its own columns
    partition: Literal["feed", "month"] | None
    sort_by: tuple[str, ...] = ()
    day_column: str = ""  # the date column of partition="month"


def write_raw_table(
    observatory: ObservatoryResource,
    table: RawTable,
    reads: dict[str, FeedRead],
    *,
    days: tuple[date, date] | None = None,
    whole: pl.DataFrame | None = None,
    log: Any = None,
) -> dict[str, Any]:
    """Store the feeds' rows and rejects (see the module docstring); returns Dagster metadata.

    ``whole`` is an unpartitioned table built from the reads, when it is more than the reads
    stacked in order (e.g. the pool registries with their precedence).
    """
    lake = observatory.lake()
    layer, name = table.contract.layer, table.contract.table
    feeds = list(reads)
    written = ""
    rows = whole if whole is not None else _stack([r.rows for r in reads.values()], table.contract)
    if table.partition == "feed":
        for feed, read in reads.items():
            lake.write(_sorted(read.rows, table), layer, name, ("feed", feed))
    elif table.partition == "month":
        if days is None:
            raise ValueError(f"{table.contract.relation}: day-stamped rows need the run's days")
        start, end = days
        rows = rows.filter(pl.col(table.day_column).is_between(start, end))

        def progress(done: int, total: int, with_rows: int) -> None:
            if log is not None:
                log.info(f"{name}: {done:,}/{total:,} months ({with_rows:,} with rows)")

        kept, emptied = lake.replace_days(
            rows,
            layer,
            name,
            column=table.day_column,
            start=start,
            end=end,
            sort_by=list(table.sort_by),
            progress=progress,
        )
        written = f"{start}..{end}: {kept:,} months written, {emptied:,} emptied"
    else:
        rows = (
            whole if whole is not None else _stack([r.rows for r in reads.values()], table.contract)
        )
        lake.write(_sorted(rows, table), layer, name)
    contracts = [table.contract]
    if table.rejects is not None:
        contracts.append(table.rejects)
        # rejects written whole by an earlier version of the asset, before they were per feed
        lake.delete_partition(table.rejects.layer, table.rejects.table, None)
        for feed, read in reads.items():
            lake.write(read.rejects, table.rejects.layer, table.rejects.table, ("feed", feed))
    removed = {}
    for contract in contracts:
        if contract is table.rejects or table.partition == "feed":
            stale = lake.keep_partitions(contract.layer, contract.table, "feed", feeds)
            if stale:
                removed[contract.relation] = stale
                if log is not None:
                    log.info(f"{contract.relation}: removed feeds {stale}, no longer configured")
    loaded = observatory.lake_table_metadata(table.contract, preview=rows)
    if table.rejects is not None:
        rejects = pl.concat([r.rejects for r in reads.values()] or [table.rejects.empty()])
        loaded_rejects = observatory.lake_table_metadata(table.rejects, preview=rejects)
    reports = pl.DataFrame(
        [{"feed": f, "kind": None, "rows": r.rows.height, **r.report} for f, r in reads.items()],
        infer_schema_length=None,
    )
    metadata = {
        **loaded,
        "rows_this_run": rows.height,
        "feeds": dg.MetadataValue.md(markdown_table(reports, 50)),
    }
    if table.rejects is not None:
        metadata["rejected_rows"] = loaded_rejects["dagster/row_count"].value
        metadata["rejects_sample"] = dg.MetadataValue.md(markdown_table(rejects, 20))
    if written:
        metadata["days"] = written
    if removed:
        metadata["feeds_removed"] = dg.MetadataValue.json(removed)
    return metadata


def _stack(frames: list[pl.DataFrame], contract: Contract) -> pl.DataFrame:
    """The frames stacked in order (each already conforms to the contract)."""
    frames = [f for f in frames if f.height] or frames[:1] or [contract.empty()]
    return pl.concat(frames) if len(frames) > 1 else frames[0]


def _sorted(frame: pl.DataFrame, table: RawTable) -> pl.DataFrame:
    return frame.sort(list(table.sort_by), maintain_order=True) if table.sort_by else frame
