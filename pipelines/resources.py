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
from pipelines.warehouse import (
    Warehouse,
    load_arrow_table,
    load_parquet_table,
    load_parquet_view,
)


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
        """Replace an unpartitioned lake table and its copy in the build database.

        Returns Dagster metadata: row count, schema, preview and the lake path.
        """
        self.lake().write(frame, contract.layer, contract.table)
        return self.load_table(contract, preview=frame)

    def load_table(
        self, contract: Contract, *, preview: pl.DataFrame, in_place: bool = False
    ) -> dict[str, Any]:
        """Replace the build database's copy of a lake table (all its files, e.g. parts), with
        the contract's descriptions; ``in_place``: a view reading the lake's files where they
        lie instead of a copy (for the day-partitioned raw tables, which grow every day).

        Returns Dagster metadata: row count (of the loaded table), schema and preview (of
        ``preview``, e.g. the table's first rows) and the lake path.
        """
        lake = self.lake()
        files = lake.files(contract.layer, contract.table)
        described = {
            "description": contract.description,
            "column_descriptions": contract.descriptions,
        }
        relation, layer, table = contract.relation, contract.layer, contract.table
        with self.warehouse().writer() as con:
            if files and not lake.readable_in_place:  # object storage: through Arrow
                dataset = lake.arrow_dataset(layer, table)
                rows = load_arrow_table(con, relation, dataset, **described)
            elif in_place and files:
                rows = load_parquet_view(con, relation, lake.glob(layer, table), **described)
            else:
                rows = load_parquet_table(
                    con, relation, files, empty_schema=preview.schema, **described
                )
        return {
            **frame_metadata(preview, descriptions=contract.descriptions),
            "dagster/row_count": dg.MetadataValue.int(rows),
            "lake_path": dg.MetadataValue.path(str(lake.table_dir(contract.layer, contract.table))),
        }

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
