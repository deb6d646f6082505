"""The one Dagster resource every asset uses: config, lake, build warehouse and feed reads."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date
from typing import Any

import dagster as dg
import polars as pl
from pydantic import Field

from pipelines.config import ObservatoryConfig, load_config
from pipelines.lake import Lake
from pipelines.metadata import frame_metadata
from pipelines.object_lake import open_lake
from pipelines.schemas import Contract
from pipelines.sources.registry import Feed, FeedRead, ReadScope, read_feed
from pipelines.validation import suite_check_result, suite_partitions_check_result
from pipelines.warehouse import Warehouse, load_lake_tables


class ObservatoryResource(dg.ConfigurableResource):
    """Where the observatory reads from and writes to, chosen by one config file."""

    config_file: str | None = Field(
        default=None,
        description="Config file; default: $OBSERVATORY_CONFIG, then configs/default.toml.",
    )

    def config(self) -> ObservatoryConfig:
        return load_config(self.config_file)

    def lake(self) -> Lake:
        """The lake: ``[storage] lake`` (a folder or object storage), by default
        ``<data_home>/lake``."""
        return open_lake(self.config().lake_location)

    def warehouse(self) -> Warehouse:
        return Warehouse(self.config().data_home)

    def read(
        self,
        feed: Feed,
        start: date | None = None,
        end: date | None = None,
        log: Any = None,
    ) -> FeedRead:
        """Read one configured feed with its kind's reader (days ``start``..``end`` for daily
        sources); its cache folder, always on local disk, is
        ``<data_home>/lake/cache/<source>/<feed>``."""
        cache_dir = self.config().data_home / "lake" / "cache" / feed.source / feed.name
        scope = ReadScope(cache_dir, start, end, log or logging.getLogger(f"pipelines.{feed.key}"))
        read = read_feed(feed, scope)
        read.report = {"kind": feed.kind, **read.report}
        return read

    def store_table(self, frame: pl.DataFrame, contract: Contract) -> dict[str, Any]:
        """Replace an unpartitioned lake table with ``frame``; returns Dagster metadata: row
        count, schema, preview and the lake path. (The warehouse loads it when it is built.)"""
        self.lake().write(frame, contract.layer, contract.table)
        return self.lake_table_metadata(contract, preview=frame, rows=frame.height)

    def lake_table_metadata(
        self, contract: Contract, *, preview: pl.DataFrame, rows: int | None = None
    ) -> dict[str, Any]:
        """Dagster metadata of a lake table: row count (``rows``, or counted from its files'
        footers), schema and preview (of ``preview``, e.g. the rows this run wrote) and the
        lake path."""
        lake = self.lake()
        if rows is None:
            rows = sum(lake.file_rows(f) for f in lake.files(contract.layer, contract.table))
        return {
            **frame_metadata(preview, descriptions=contract.descriptions),
            "dagster/row_count": dg.MetadataValue.int(rows),
            "lake_path": dg.MetadataValue.path(str(lake.table_dir(contract.layer, contract.table))),
        }

    def load_lake_tables(self, contracts: Iterable[Contract]) -> list[str]:
        """Bring the build database's copies of these lake tables up to date (only those whose
        files changed); returns the relations loaded."""
        warehouse = self.warehouse()
        with warehouse.writer() as con:
            return load_lake_tables(con, self.lake(), contracts, warehouse.pinned_path)

    def check_suite(self, suite: str, frame: pl.DataFrame) -> dg.AssetCheckResult:
        """``expectations/<suite>.json`` on ``frame``, with the configured engine."""
        return suite_check_result(suite, frame, engine=self.config().validation_engine)

    def check_suite_by_partition(
        self, suite: str, partitions: Iterable[tuple[str, pl.DataFrame]]
    ) -> dg.AssetCheckResult:
        """The suite on each ``(partition, frame)``, with the configured engine; a failure names
        its partitions."""
        engine = self.config().validation_engine
        return suite_partitions_check_result(suite, partitions, engine=engine)
