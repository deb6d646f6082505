"""mempool.space's mining-pool registry (``pools-v2.json``).

Shape: ``[{"id": int, "name": str, "addresses": [str], "tags": [str], "link": str}]``. Tags are
coinbase-tag patterns written as regexes; addresses are payout addresses.

A record whose fields have the wrong type is kept with the bad field nulled and the problem
written to ``record_errors`` (naming the source, record and field); the blocking check then fails
the whole registry, because a registry with holes would silently mis-attribute blocks.
"""

from __future__ import annotations

import json
import re
from typing import Any

import polars as pl

from pipelines.http import SourceFormatError

SCHEMA = {
    "id": pl.Int64,
    "name": pl.String,
    "addresses": pl.List(pl.String),
    "tags": pl.List(pl.String),
    "link": pl.String,
    "n_addresses": pl.Int64,
    "n_tags": pl.Int64,
    "tag_errors": pl.String,
    "record_errors": pl.String,
}

COLUMN_DESCRIPTIONS = {
    "id": "mempool.space pool id",
    "name": "pool name as mempool.space displays it",
    "addresses": "known coinbase payout addresses of the pool",
    "tags": "coinbase-tag patterns (regex syntax) the pool writes into its coinbase",
    "link": "pool website",
    "n_addresses": "number of payout addresses",
    "n_tags": "number of coinbase tags",
    "tag_errors": "tags that do not compile as a regex (null when all compile)",
    "record_errors": "fields of this record that had the wrong type (null when none)",
}


def tag_compile_error(tag: str) -> str | None:
    """Why ``tag`` fails to compile in Python's ``re`` or Polars' (Rust) regex, if it does."""
    try:
        re.compile(tag)
    except re.error as exc:
        return f"{tag!r}: python re: {exc}"
    try:
        pl.Series([""]).str.contains(tag)
    except pl.exceptions.ComputeError as exc:
        return f"{tag!r}: polars regex: {str(exc).splitlines()[0]}"
    return None


def _string_list(value: Any) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def parse_pools_v2(body: bytes, *, origin: str) -> pl.DataFrame:
    """Parse a pools-v2.json document into one row per pool (see ``SCHEMA``)."""
    try:
        document = json.loads(body)
    except json.JSONDecodeError as exc:
        raise SourceFormatError(
            f"pool_registry: {origin}: not valid JSON at line {exc.lineno} column {exc.colno}: "
            f"{exc.msg}"
        ) from exc
    if not isinstance(document, list):
        raise SourceFormatError(
            f"pool_registry: {origin}: expected a JSON list of pools, got {type(document).__name__}"
        )
    rows = []
    for index, record in enumerate(document):
        problems: list[str] = []
        if not isinstance(record, dict):
            record = {}
            problems.append("record is not a JSON object")

        def field(name: str, check: Any, record: dict = record, problems: list = problems) -> Any:
            value = record.get(name)
            ok = check(value)
            if value is None or not ok:
                problems.append(f"field {name!r}: got {json.dumps(value)[:60]}")
                return None
            return value

        pool_id = field("id", lambda v: isinstance(v, int) and not isinstance(v, bool))
        name = field("name", lambda v: isinstance(v, str))
        addresses = field("addresses", lambda v: _string_list(v) is not None)
        tags = field("tags", lambda v: _string_list(v) is not None)
        link = record.get("link") if isinstance(record.get("link"), str) else None
        tag_errors = [e for t in tags or [] if (e := tag_compile_error(t))]
        label = f"record {index} (id={record.get('id')!r}, name={record.get('name')!r})"
        rows.append(
            {
                "id": pool_id,
                "name": name,
                "addresses": addresses or [],
                "tags": tags or [],
                "link": link or "",
                "n_addresses": len(addresses or []),
                "n_tags": len(tags or []),
                "tag_errors": "; ".join(tag_errors) or None,
                "record_errors": f"{origin} {label}: " + "; ".join(problems) if problems else None,
            }
        )
    return pl.DataFrame(rows, schema=SCHEMA, orient="row") if rows else pl.DataFrame(schema=SCHEMA)
