"""Read the configured Epoch AI sources: model databases and chip-owner files."""

from __future__ import annotations

import tempfile
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import polars as pl

from pipelines.ai.compute_owners import read_chip_owner_files
from pipelines.ai.models import read_epoch_models
from pipelines.config import ConfigError, SourceConfig
from pipelines.http import read_location
from pipelines.resources import ObservatoryResource


def read_models_feed(
    feed: SourceConfig, observatory: ObservatoryResource
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(models, problems)`` of one ``[sources.ai_models.<feed>]`` file, read whole."""
    name = feed.name.split(".", 1)[1]
    data = read_location(feed.location, source=name, client=observatory.http_client(name))
    return read_epoch_models(data, feed.options["dataset"], name)


def read_chip_owners(
    source: SourceConfig, observatory: ObservatoryResource
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(rows, problems)`` of the chip-owner files: a local folder, or ``files`` under a URL."""
    files = source.options["files"]
    if not source.is_remote:
        folder = Path(source.location)
        if files:
            raise ConfigError(f"[sources.{source.name}] files: only for a URL location")
        return read_chip_owner_files(folder, source.name)
    if not files:
        raise ConfigError(
            f"[sources.{source.name}] files: list the CSV paths to fetch under {source.location}"
        )
    with (
        observatory.http_client(source.name) as client,
        tempfile.TemporaryDirectory(prefix="chip-owners-") as tmp,
    ):
        for path in files:
            url = f"{source.location.rstrip('/')}/{path.lstrip('/')}"
            body = read_location(url, source=source.name, client=client)
            (Path(tmp) / PurePosixPath(urlsplit(url).path).name).write_bytes(body)
        return read_chip_owner_files(Path(tmp), source.name)
