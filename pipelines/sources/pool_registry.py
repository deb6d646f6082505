"""Mining-pool registries: tag and address lists naming the pool that mined a block.

Three shapes are read, each into one row per pool (``SCHEMA``):

* ``pools-v2.json`` (mempool.space, and bitcoin-data/mining-pools' generated ``pool-list.json``):
  ``[{"id": int, "name": str, "addresses": [str], "tags": [str], "link": str}]``. Tags are
  coinbase-tag patterns written as regexes (matched as described in
  ``pipelines/mining/attribution.py``: ``tag_matching = 'regex_like'``);
* the Edinburgh Decentralization Index's mapping files (Blockchain-Technology-Lab/
  consensus-decentralization): identifiers ``{identifier: {"name": str, "link": str}}`` and
  addresses ``{address: {"name": str, "source": str}}``, grouped into one row per pool name (no
  ids). EDI matches an identifier as a plain, case-sensitive substring of the coinbase (Python's
  ``in``), so its tags are ``tag_matching = 'literal'``.

A record whose fields have the wrong type is kept with the bad field nulled and the problem
written to ``record_errors`` (naming the source, record and field); the blocking check then fails
the whole registry, because a registry with holes would silently mis-attribute blocks.
``combine_registries`` stacks the configured registries in precedence order.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import polars as pl

from pipelines.http import SourceFormatError
from pipelines.schemas.mining import POOL_REGISTRY, REGISTRY_POOL_COLUMNS
from pipelines.schemas.rejects import empty_rejects
from pipelines.sources.registry import Feed, FeedRead, ReadScope, SourceKind, location_bytes, option

# One registry's pool rows; combine_registries adds the registry columns of raw.pool_registry.
SCHEMA = {name: dtype for name, dtype, _ in REGISTRY_POOL_COLUMNS}
TAG_MATCHING = ("regex_like", "literal")


def _load_json(body: bytes, origin: str) -> Any:
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise SourceFormatError(
            f"pool_registry: {origin}: not valid JSON at line {exc.lineno} column {exc.colno}: "
            f"{exc.msg}"
        ) from exc


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SCHEMA, orient="row") if rows else pl.DataFrame(schema=SCHEMA)


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
    document = _load_json(body, origin)
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
    return _frame(rows)


def _edi_entries(document: Any, origin: str, what: str) -> list[tuple[str, dict, list[str]]]:
    """``(key, value, problems)`` for each entry of an EDI mapping object ``{key: {name, ...}}``."""
    if not isinstance(document, dict):
        raise SourceFormatError(
            f"pool_registry: {origin}: expected a JSON object of {what}, "
            f"got {type(document).__name__}"
        )
    entries = []
    record = {"identifiers": "identifier", "addresses": "address"}[what]
    for key, value in document.items():
        problems = []
        if not isinstance(value, dict):
            problems.append(f"{origin} {record} {key!r}: value is not a JSON object")
            value = {}
        name = value.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.append(f"{origin} {record} {key!r}: field 'name': got {json.dumps(name)}")
        entries.append((key, value, problems))
    return entries


def parse_edi_pools(
    identifiers: bytes,
    addresses: bytes | None,
    *,
    origin: str,
    addresses_origin: str = "",
) -> pl.DataFrame:
    """Parse EDI's identifiers (and optional addresses) files into one row per pool name.

    Tags and addresses keep the files' order; a pool's link is the first non-empty link of its
    identifiers. An entry without a usable name becomes a row of its own with a null name and its
    problem in ``record_errors``; an empty identifier (it would match every block) is a tag error.
    """
    pools: dict[str, dict[str, Any]] = {}
    broken: list[dict[str, Any]] = []

    def pool(name: str) -> dict[str, Any]:
        return pools.setdefault(name, {"tags": [], "addresses": [], "link": "", "errors": []})

    sources = [(_load_json(identifiers, origin), origin, "identifiers", "tags")]
    if addresses is not None:
        sources.append(
            (_load_json(addresses, addresses_origin), addresses_origin, "addresses", "addresses")
        )
    for document, where, what, column in sources:
        for key, value, problems in _edi_entries(document, where, what):
            if problems:
                broken.append({column: [key], "errors": problems})
                continue
            entry = pool(value["name"])
            entry[column].append(key)
            link = value.get("link")
            if column == "tags" and link is not None and not isinstance(link, str):
                entry["errors"].append(
                    f"{where} identifier {key!r}: field 'link': got {json.dumps(link)[:60]}"
                )
            elif column == "tags" and link and not entry["link"]:
                entry["link"] = link
    rows = [
        _edi_row(name, entry["tags"], entry["addresses"], entry["link"], entry["errors"])
        for name, entry in pools.items()
    ]
    rows += [
        _edi_row(None, b.get("tags", []), b.get("addresses", []), "", b["errors"]) for b in broken
    ]
    return _frame(rows)


def _edi_row(
    name: str | None, tags: list[str], addresses: list[str], link: str, errors: list[str]
) -> dict[str, Any]:
    return {
        "id": None,
        "name": name,
        "addresses": addresses,
        "tags": tags,
        "link": link,
        "n_addresses": len(addresses),
        "n_tags": len(tags),
        "tag_errors": "empty identifier '' (it would match every block)" if "" in tags else None,
        "record_errors": "; ".join(errors) or None,
    }


def combine_registries(registries: list[tuple[str, str, str, pl.DataFrame]]) -> pl.DataFrame:
    """Stack parsed registries ``(name, kind, tag_matching, frame)``, first = precedence 0."""
    frames = [
        frame.select(
            pl.lit(name).alias("registry"),
            pl.lit(kind).alias("registry_kind"),
            pl.lit(precedence, pl.Int64).alias("precedence"),
            pl.lit(matching).alias("tag_matching"),
            *SCHEMA,
        )
        for precedence, (name, kind, matching, frame) in enumerate(registries)
    ]
    return pl.concat(frames) if frames else POOL_REGISTRY.empty()


def _read_v2(feed: Feed, scope: ReadScope) -> FeedRead:
    body = location_bytes(feed)
    frame = parse_pools_v2(body, origin=feed.location)
    report = {"location": feed.location, "sha256": hashlib.sha256(body).hexdigest()}
    return FeedRead(frame, empty_rejects(), {"tag_matching": "regex_like", **report})


@dataclass(frozen=True)
class EdiPoolsOptions:
    addresses: str = option("", location=True, help="EDI's address mapping (URL or path)")


def _read_edi(feed: Feed, scope: ReadScope) -> FeedRead:
    body = location_bytes(feed)
    report = {"location": feed.location, "sha256": hashlib.sha256(body).hexdigest()}
    addresses_at = feed.options.addresses
    addresses = location_bytes(feed, addresses_at) if addresses_at else None
    if addresses is not None:
        report |= {
            "addresses": addresses_at,
            "addresses_sha256": hashlib.sha256(addresses).hexdigest(),
        }
    frame = parse_edi_pools(body, addresses, origin=feed.location, addresses_origin=addresses_at)
    return FeedRead(frame, empty_rejects(), {"tag_matching": "literal", **report})


KINDS = (
    SourceKind(
        "mempool_pools_v2",
        "pool_registry",
        "mempool.space pools-v2.json: [{id, name, addresses[], tags[], link}]",
        _read_v2,
        table="raw.pool_registry",
        licence=("MIT (mempool/mining-pools registry)"),
    ),
    SourceKind(
        "bitcoin_data_pools",
        "pool_registry",
        "bitcoin-data/mining-pools' generated pool-list.json (the pools-v2.json shape)",
        _read_v2,
        table="raw.pool_registry",
        licence=("MIT (bitcoin-data/mining-pools registry)"),
    ),
    SourceKind(
        "edi_pools",
        "pool_registry",
        "EDI (consensus-decentralization) identifiers {identifier: {name, link}} at location; "
        "optional addresses {address: {name, source}} at `addresses` (URL or path)",
        _read_edi,
        EdiPoolsOptions,
        table="raw.pool_registry",
        licence=("MIT (Blockchain-Technology-Lab/consensus-decentralization mapping files)"),
    ),
)
