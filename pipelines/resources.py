"""The one Dagster resource every asset uses: config, lake, build warehouse and HTTP clients."""

from __future__ import annotations

from typing import Any

import dagster as dg
import polars as pl
from pydantic import Field

from pipelines.config import ObservatoryConfig, SourceConfig, load_config
from pipelines.http import HttpClient, read_location
from pipelines.lake import Lake
from pipelines.metadata import frame_metadata
from pipelines.warehouse import Warehouse, load_parquet_table


class ObservatoryResource(dg.ConfigurableResource):
    """Where the observatory reads from and writes to, chosen by one config file."""

    config_file: str | None = Field(
        default=None,
        description="Config file; default: $OBSERVATORY_CONFIG, then configs/default.toml.",
    )

    def config(self) -> ObservatoryConfig:
        return load_config(self.config_file)

    def lake(self) -> Lake:
        return Lake(self.config().data_home / "lake")

    def warehouse(self) -> Warehouse:
        return Warehouse(self.config().data_home)

    def http_settings(self) -> dict[str, Any]:
        """The ``[http]`` settings as keyword arguments of HttpClient and the API clients."""
        http = self.config().http
        return {
            "timeout": http["timeout_seconds"],
            "max_attempts": int(http["max_attempts"]),
            "backoff": http["backoff_seconds"],
            "max_retry_after": http["max_retry_after_seconds"],
        }

    def http_client(self, source: str, **overrides: float) -> HttpClient:
        return HttpClient(source=source, **{**self.http_settings(), **overrides})

    def store_table(
        self,
        frame: pl.DataFrame,
        layer: str,
        table: str,
        *,
        description: str,
        column_descriptions: dict[str, str],
    ) -> dict[str, Any]:
        """Replace an unpartitioned lake table and its copy in the build database.

        Returns Dagster metadata: row count, schema, preview and the lake path.
        """
        path = self.lake().write(frame, layer, table)
        return {
            **self.load_table(
                layer,
                table,
                preview=frame,
                description=description,
                column_descriptions=column_descriptions,
            ),
            "lake_path": dg.MetadataValue.path(str(path)),
        }

    def load_table(
        self,
        layer: str,
        table: str,
        *,
        preview: pl.DataFrame,
        description: str,
        column_descriptions: dict[str, str],
    ) -> dict[str, Any]:
        """Replace the build database's copy of a lake table (all its files, e.g. parts).

        Returns Dagster metadata: row count (of the loaded table), schema and preview (of
        ``preview``, e.g. the table's first rows) and the lake path.
        """
        lake = self.lake()
        with self.warehouse().writer() as con:
            rows = load_parquet_table(
                con,
                f"{layer}.{table}",
                lake.files(layer, table),
                description=description,
                column_descriptions=column_descriptions,
                empty_schema=preview.schema,
            )
        return {
            **frame_metadata(preview, descriptions=column_descriptions),
            "dagster/row_count": dg.MetadataValue.int(rows),
            "lake_path": dg.MetadataValue.path(str(lake.table_dir(layer, table))),
        }

    def read_source(self, name: str) -> tuple[SourceConfig, bytes]:
        """The configured source ``name`` and its raw bytes (from its URL or local file)."""
        source = self.config().source(name)
        body = read_location(source.location, source=name, client=self.http_client(name))
        return source, body
