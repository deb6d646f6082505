"""Epoch AI's data: the model databases and the AI-chip owner estimates."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from pipelines.ai.compute_owners import read_chip_owner_files
from pipelines.ai.models import read_epoch_models
from pipelines.sources.registry import (
    Feed,
    FeedRead,
    ReadScope,
    SourceKind,
    location_bytes,
    option,
)


@dataclass(frozen=True)
class ModelsOptions:
    dataset: str = option(
        "",
        choices=("all", "notable", "large_scale", "frontier"),
        help="which of Epoch's four databases the file is",
    )


def read_models_feed(feed: Feed, scope: ReadScope) -> FeedRead:
    models, problems = read_epoch_models(location_bytes(feed), feed.options.dataset, feed.name)
    dates = models["publication_date"]
    report = {"dataset": feed.options.dataset, "first": str(dates.min()), "last": str(dates.max())}
    return FeedRead(models, problems, report)


@dataclass(frozen=True)
class ChipOwnerOptions:
    files: list = option([], help="CSV paths to fetch under a URL location (not for a folder)")


def check_chip_owner_files(feed: Feed) -> str | None:
    """``files`` is for a URL location, and a URL location needs it."""
    if not feed.is_remote and feed.options.files:
        return "files: only for a URL location"
    if feed.is_remote and not feed.options.files:
        return f"files: list the CSV paths to fetch under {feed.location}"
    return None


def read_chip_owners_feed(feed: Feed, scope: ReadScope) -> FeedRead:
    """The chip-owner files: a local folder, or ``files`` fetched under a URL."""
    if not feed.is_remote:
        return FeedRead(*read_chip_owner_files(Path(feed.location), feed.name))
    with tempfile.TemporaryDirectory(prefix="chip-owners-") as tmp:
        for path in feed.options.files:
            url = f"{feed.location.rstrip('/')}/{path.lstrip('/')}"
            (Path(tmp) / PurePosixPath(urlsplit(url).path).name).write_bytes(
                location_bytes(feed, url)
            )
        return FeedRead(*read_chip_owner_files(Path(tmp), feed.name))


KINDS = (
    SourceKind(
        "epoch_models_csv",
        "ai_models",
        "an Epoch AI model database CSV (all_ai_models, notable_ai_models, large_scale_ai_models "
        "or frontier_ai_models), a file or its download URL",
        read_models_feed,
        ModelsOptions,
        table="raw.ai_models",
        licence=("Epoch AI: CC BY 4.0 (cite Epoch AI)"),
    ),
    SourceKind(
        "epoch_chip_owners",
        "ai_chip_owners",
        "Epoch AI's cumulative AI-chip stock by owner (*_owners_cumulative_totals.csv): a folder, "
        "or a base URL with the file paths to fetch under it in `files`",
        read_chip_owners_feed,
        ChipOwnerOptions,
        table="raw.ai_chip_owners",
        check=check_chip_owner_files,
        licence=("Epoch AI, epoch-research/ai-chip-counts: MIT; modelled estimates, cite Epoch AI"),
    ),
)
