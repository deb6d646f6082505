"""Node snapshot files: Bitnodes crawler exports, bitnod.es CSVs, address lists, EDI counts.

Every node reader returns ``(nodes, rejects)``: nodes in ``NODE_SCHEMA``, rejects in
``REJECT_SCHEMA`` naming the record (``row 17``, ``line 17``, ``<file> line 17``) and the field.
A row without a usable address or port, or of the wrong shape, is left out; any other bad field
is nulled and reported, and the node kept. Overlay networks (onion, I2P, CJDNS) have no place:
their geography, AS number and organisation are null whatever the source says (Bitnodes gives
lat/lon 0.0 and asn "TOR"), and lat/lon 0,0 means "no location" for any node.

Addresses are lower-cased, IPv6 without brackets (in the text form the source gave), and an
IPv4-mapped IPv6 address (``::ffff:1.2.3.4``) is the IPv4 address. The parsing is done with
Polars expressions over all rows at once, so it scales to millions of rows.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from pipelines.countries import country_code
from pipelines.http import SourceFormatError
from pipelines.schemas.nodes import (
    DISTRIBUTION_SCHEMA,
    NODE_SNAPSHOTS,
    OVERLAY_NETWORKS,
    conform_nodes,
)
from pipelines.schemas.rejects import MAX_REJECT_VALUE, REJECT_SCHEMA, empty_rejects
from pipelines.sources.lines import scan_lines
from pipelines.sources.registry import Feed, FeedRead, ReadScope, SourceKind

# The 15 fields of a crawler export row; an API snapshot row is the 13 after the port.
EXPORT_FIELDS = (
    "address",
    "port",
    "protocol_version",
    "user_agent",
    "connected_since",
    "services",
    "height",
    "hostname",
    "city",
    "country_code",
    "latitude",
    "longitude",
    "timezone",
    "asn",
    "organization",
)
NODE_FIELDS = EXPORT_FIELDS[2:]
GEOGRAPHY_FIELDS = ("city", "country_code", "latitude", "longitude", "asn", "organization")
NOT_AN_ADDRESS = "not an IPv4, IPv6, onion, I2P or CJDNS address"
NOT_A_COUNT = "not a non-negative integer"
NOT_PLAIN = "not a list of plain values"

_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_IPV4 = rf"(?:{_OCTET}\.){{3}}{_OCTET}"
_HEX = "[0-9a-f]{1,4}"


def _ipv6_pattern() -> str:
    """Every IPv6 text form: 8 groups, or fewer around one "::", maybe ending in an IPv4."""
    forms = [f"(?:{_HEX}:){{7}}{_HEX}", f"(?:{_HEX}:){{6}}{_IPV4}"]
    for left in range(8):
        head = f"{_HEX}(?::{_HEX}){{{left - 1}}}" if left else ""
        if left < 7:
            forms.append(f"{head}::(?:{_HEX}(?::{_HEX}){{0,{6 - left}}})?")
        else:
            forms.append(f"{head}::")
        if left < 6:
            forms.append(f"{head}::(?:{_HEX}:){{0,{5 - left}}}{_IPV4}")
    return "^(?:" + "|".join(forms) + ")$"


IPV4 = f"^{_IPV4}$"
IPV6 = _ipv6_pattern()
ONION = r"^(?:[a-z2-7]{16}|[a-z2-7]{56})\.onion$"  # v2 (until 2021) and v3 services
I2P = r"^[a-z2-7]{52,}\.b32\.i2p$"
CJDNS = r"^fc[0-9a-f]{2}:"  # fc00::/8
HOST_PORT = r"^(?:\[([^\]]*)\]|([^\[\]]*)):([^:\]]*)$"
EXPORT_NAME = re.compile(r"bitnodes-export-(\d+)\.json$")
NAME_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})[_T ](\d{2})[-:](\d{2})[-:](\d{2})")

# --- addresses -----------------------------------------------------------------------------------


def address_and_network(host: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """``(address, network)`` of a host (address without port); both null when invalid."""
    text = host.str.strip_chars().str.to_lowercase().str.replace(r"^\[(.*)\]$", "$1")
    address = pl.coalesce(text.str.extract(f"^::ffff:({_IPV4})$", 1), text)
    network = (
        pl.when(address.str.contains(IPV4))
        .then(pl.lit("ipv4"))
        .when(address.str.contains(ONION))
        .then(pl.lit("onion"))
        .when(address.str.contains(I2P))
        .then(pl.lit("i2p"))
        .when(address.str.contains(IPV6) & address.str.contains(CJDNS))
        .then(pl.lit("cjdns"))
        .when(address.str.contains(IPV6))
        .then(pl.lit("ipv6"))
    )
    return pl.when(network.is_not_null()).then(address), network


def split_host_port(text: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """``(host, port)`` texts of ``host:port`` or ``[ipv6]:port``; both null without a port.

    Without brackets the port is what follows the last colon, as in ``2001:db8::1:8333``.
    """
    parts = text.str.strip_chars().str.extract_groups(HOST_PORT)
    return (
        pl.coalesce(parts.struct.field("1"), parts.struct.field("2")),
        parts.struct.field("3"),
    )


def port_number(raw: pl.Expr) -> pl.Expr:
    """The port as Int64, null unless it is a whole number 0–65535.

    Port 0 cannot be connected to, but gossip does carry it, so it is kept as given.
    """
    port = raw.str.strip_chars().str.extract(r"^([0-9]{1,5})$", 1).cast(pl.Int64)
    return pl.when(port <= 65535).then(port)


# --- rejects -------------------------------------------------------------------------------------


def _reject(
    frame: pl.DataFrame,
    source: str,
    field: str | pl.Expr,
    value: pl.Expr,
    problem: str | pl.Expr,
) -> pl.DataFrame:
    """Rejects for the rows of ``frame`` (with ``record`` and ``sort_key``)."""
    return frame.select(
        pl.lit(source).alias("feed"),
        pl.col("record").cast(pl.String),
        (pl.lit(field) if isinstance(field, str) else field).cast(pl.String).alias("field"),
        value.cast(pl.String).str.slice(0, MAX_REJECT_VALUE).alias("value"),
        (pl.lit(problem) if isinstance(problem, str) else problem).cast(pl.String).alias("problem"),
        pl.col("sort_key").cast(pl.Int64),
    )


def _rejects(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """One reject frame in ``REJECT_SCHEMA``, in record order (parts in order within a record)."""
    if not parts:
        return empty_rejects()
    rejects = pl.concat(parts).sort("sort_key", maintain_order=True)
    return rejects.select(pl.col(name).cast(dtype) for name, dtype in REJECT_SCHEMA.items())


def _missing_or(raw: pl.Expr, problem: str) -> pl.Expr:
    return pl.when(raw.is_null()).then(pl.lit("missing")).otherwise(pl.lit(problem))


def _blank_as_null(text: pl.Expr) -> pl.Expr:
    text = text.str.strip_chars()
    return pl.when(text != "").then(text)


def _utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive one is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- JSON rows -----------------------------------------------------------------------------------


def _plain_texts(row: Any) -> list[str | None] | None:
    """A JSON row as texts (as Polars decodes them), or None unless a list of plain values."""
    if not isinstance(row, list) or any(isinstance(v, list | dict) for v in row):
        return None
    return [v if v is None or isinstance(v, str) else json.dumps(v) for v in row]


def decode_rows(text: str, where: str) -> pl.DataFrame:
    """A JSON list of rows as ``row`` (List(String): numbers as text), ``problem`` and ``value``.

    The list is decoded by Polars in one pass. Only when that fails (a row that is not a list
    of plain values, or broken JSON) is it parsed again with ``json`` to find the bad rows:
    those get a null ``row``, a ``problem`` and their JSON as ``value``. Broken JSON or a
    document that is not a list raises SourceFormatError naming `where`.
    """
    try:
        decoded = pl.Series([text]).str.json_decode(pl.List(pl.List(pl.String)))
    except pl.exceptions.ComputeError:
        decoded = None
    if decoded is not None and decoded[0] is not None:
        return pl.DataFrame({"row": decoded[0]}).with_columns(
            pl.when(pl.col("row").is_null()).then(pl.lit(NOT_PLAIN)).alias("problem"),
            pl.when(pl.col("row").is_null()).then(pl.lit("null")).alias("value"),
        )
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceFormatError(f"{where}: not JSON: {exc}") from exc
    if not isinstance(document, list):
        raise SourceFormatError(f"{where}: expected a JSON list of rows, got {text[:80]!r}")
    rows = [_plain_texts(row) for row in document]
    return pl.DataFrame(
        {
            "row": pl.Series(rows, dtype=pl.List(pl.String)),
            "problem": [None if r is not None else NOT_PLAIN for r in rows],
            "value": [
                None if r is not None else json.dumps(d)
                for r, d in zip(rows, document, strict=True)
            ],
        },
        schema={"row": pl.List(pl.String), "problem": pl.String, "value": pl.String},
    )


def row_text(row: pl.Expr) -> pl.Expr:
    """A decoded row shown for a reject: ``[a, 1, null]``."""
    return pl.format("[{}]", row.list.eval(pl.element().fill_null("null")).list.join(", "))


# --- crawled nodes -------------------------------------------------------------------------------


def _endpoints(
    frame: pl.DataFrame, source: str, names: Mapping[str, str]
) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    """Rows with a valid ``address``, ``network`` and ``port`` (from ``raw_address`` and
    ``raw_port``), and rejects for the others."""
    address, network = address_and_network(pl.col("raw_address"))
    frame = frame.with_columns(
        address.alias("address"),
        network.alias("network"),
        port_number(pl.col("raw_port")).alias("port"),
    )
    bad_address = frame.filter(pl.col("address").is_null())
    bad_port = frame.filter(pl.col("address").is_not_null() & pl.col("port").is_null())
    rejects = [
        _reject(
            bad_address,
            source,
            names["address"],
            pl.col("raw_address"),
            _missing_or(pl.col("raw_address"), NOT_AN_ADDRESS),
        ),
        _reject(
            bad_port,
            source,
            names["port"],
            pl.col("raw_port"),
            _missing_or(pl.col("raw_port"), "not a port number (0-65535)"),
        ),
    ]
    return frame.drop_nulls(["address", "port"]), rejects


def _parsed_fields(overlay: pl.Expr) -> dict[str, tuple[pl.Expr, str | None]]:
    """Node field -> (value parsed from ``raw_<field>``, problem when it fails to parse)."""

    def raw(name: str) -> pl.Expr:
        return pl.col(f"raw_{name}")

    def count(name: str) -> pl.Expr:
        value = raw(name).cast(pl.Int64, strict=False)
        return pl.when(value >= 0).then(value)

    def coordinate(name: str, limit: float) -> pl.Expr:
        value = raw(name).cast(pl.Float64, strict=False)
        return pl.when(value.is_between(-limit, limit)).then(value)

    asn = raw("asn").str.extract(r"^(?i:AS)?([0-9]{1,10})$", 1).cast(pl.Int64)
    return {
        "protocol_version": (count("protocol_version"), NOT_A_COUNT),
        "user_agent": (raw("user_agent"), None),
        "services": (count("services"), NOT_A_COUNT),
        "height": (count("height"), NOT_A_COUNT),
        "city": (pl.when(~overlay).then(raw("city")), None),
        "country_code": (
            pl.when(~overlay).then(country_code(raw("country_code"))),
            "not an ISO 3166 country code or known country name",
        ),
        "latitude": (pl.when(~overlay).then(coordinate("latitude", 90)), "not a latitude"),
        "longitude": (pl.when(~overlay).then(coordinate("longitude", 180)), "not a longitude"),
        "asn": (pl.when(~overlay).then(asn), "not an AS number like 'AS12389'"),
        "organization": (pl.when(~overlay).then(raw("organization")), None),
    }


def crawled_nodes(
    frame: pl.DataFrame,
    source: str,
    *,
    field_names: Mapping[str, str] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Nodes and rejects from rows a crawler reported.

    `frame` has ``sort_key`` (record order), ``record``, ``snapshot_time``, ``raw_address``,
    ``raw_port``, ``fields`` (List(String) in ``NODE_FIELDS`` order, maybe shorter: the missing
    ones are null), and ``problem_field``, ``problem`` and ``value``, null unless the row cannot
    be used at all. `field_names` renames fields in the rejects to the source's column names. Of
    rows with the same address and port in one snapshot the first is kept.
    """
    names = {**{name: name for name in EXPORT_FIELDS}, **(field_names or {})}
    parts = [
        _reject(
            frame.filter(pl.col("problem").is_not_null()),
            source,
            pl.col("problem_field"),
            pl.col("value"),
            pl.col("problem"),
        )
    ]
    rows, endpoint_rejects = _endpoints(frame.filter(pl.col("problem").is_null()), source, names)
    parts += endpoint_rejects

    key = ["snapshot_time", "address", "port"]
    rows = rows.with_columns(
        pl.col("sort_key").min().over(key).alias("first_key"),
        pl.col("record").sort_by("sort_key").first().over(key).alias("kept"),
    )
    parts.append(
        _reject(
            rows.filter(pl.col("sort_key") != pl.col("first_key")),
            source,
            names["address"],
            pl.format("{}:{}", "address", "port"),
            pl.format("duplicate address and port: {} kept", "kept"),
        )
    )
    rows = rows.filter(pl.col("sort_key") == pl.col("first_key"))

    raw = pl.col("fields").list.get
    rows = rows.with_columns(
        _blank_as_null(raw(i, null_on_oob=True)).alias(f"raw_{name}")
        for i, name in enumerate(NODE_FIELDS)
    )
    overlay = pl.col("network").is_in(OVERLAY_NETWORKS)
    parsed = _parsed_fields(overlay)
    rows = rows.with_columns(value.alias(name) for name, (value, _) in parsed.items())
    for name, (_, problem) in parsed.items():
        if problem is None:
            continue
        raw = pl.col(f"raw_{name}")
        failed = raw.is_not_null() & pl.col(name).is_null()
        if name in GEOGRAPHY_FIELDS:
            failed &= ~overlay
        parts.append(_reject(rows.filter(failed), source, names[name], raw, problem))

    no_place = ((pl.col("latitude") == 0) & (pl.col("longitude") == 0)).fill_null(False)
    nodes = rows.sort("sort_key").with_columns(
        pl.col("snapshot_time").dt.date().alias("snapshot_date"),
        pl.lit("crawled").alias("reachability"),
        pl.when(~no_place).then(pl.col("latitude")).alias("latitude"),
        pl.when(~no_place).then(pl.col("longitude")).alias("longitude"),
    )
    located = pl.any_horizontal(
        pl.col(name).is_not_null() for name in ("city", "country_code", "latitude")
    )
    identified = pl.col("asn").is_not_null() | pl.col("organization").is_not_null()
    nodes = nodes.with_columns(
        pl.when(located).then(pl.lit("source")).alias("location_source"),
        pl.when(identified).then(pl.lit("source")).alias("asn_source"),
    )
    return conform_nodes(nodes, source), _rejects(parts)


# --- Bitnodes crawler export ---------------------------------------------------------------------


def export_time(path: str | Path) -> datetime:
    """The snapshot time in a ``bitnodes-export-<unix seconds>.json`` file name."""
    match = EXPORT_NAME.search(Path(path).name)
    if match is None:
        raise ValueError(
            f"{path}: no snapshot time in the file name (expected bitnodes-export-<unix ts>.json); "
            "pass snapshot_time"
        )
    return datetime.fromtimestamp(int(match.group(1)), UTC)


def read_bitnodes_export(
    path: str | Path, source: str, snapshot_time: datetime | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Nodes of a Bitnodes crawler export: a JSON list of 15-field rows (``EXPORT_FIELDS``).

    The snapshot time comes from the file name unless given. Records are ``row N``, N the
    0-based index in the list. A row of the wrong shape or without a valid address or port is
    rejected; other bad fields are nulled and reported.
    """
    path = Path(path)
    when = _utc(snapshot_time or export_time(path))
    rows = decode_rows(path.read_text(encoding="utf-8"), str(path))
    row, size = pl.col("row"), pl.col("row").list.len()
    wrong_size = pl.format("expected {} fields, got {}", pl.lit(len(EXPORT_FIELDS)), size)
    problem = pl.coalesce(pl.col("problem"), pl.when(size != len(EXPORT_FIELDS)).then(wrong_size))
    frame = rows.with_row_index("sort_key").select(
        "sort_key",
        pl.format("row {}", "sort_key").alias("record"),
        pl.lit(when).cast(pl.Datetime("us", "UTC")).alias("snapshot_time"),
        pl.lit("row").alias("problem_field"),
        problem.alias("problem"),
        pl.when(problem.is_not_null()).then(pl.coalesce("value", row_text(row))).alias("value"),
        row.list.get(0, null_on_oob=True).alias("raw_address"),
        row.list.get(1, null_on_oob=True).alias("raw_port"),
        row.list.slice(2).alias("fields"),
    )
    return crawled_nodes(frame, source)


# --- bitnod.es daily CSV -------------------------------------------------------------------------


def _utc_time(text: pl.Expr) -> pl.Expr:
    """A date (00:00) or a date-time, in UTC unless the text ends in ``Z`` or ``UTC``."""
    text = text.str.replace("T", " ", literal=True).str.replace(r"(?i)(?:z| ?utc)$", "")
    formats = ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%d")
    return pl.coalesce(
        text.str.to_datetime(f, time_unit="us", time_zone="UTC", strict=False) for f in formats
    )


CSV_COLUMNS = (
    "export_date",
    "ip_address",
    "port",
    "country",
    "isp",
    "services",
    "protocol_version",
    "user_agent",
    "block_height",
)
CSV_FIELD_NAMES = {
    "address": "ip_address",
    "country_code": "country",
    "height": "block_height",
    "organization": "isp",
}


def _require_columns(frame: pl.LazyFrame, columns: tuple[str, ...], path: Path) -> None:
    present = frame.collect_schema().names()
    missing = [column for column in columns if column not in present]
    if missing:
        raise ValueError(f"{path}: no column {', '.join(missing)}; the file has: {present}")


def read_bitnodes_csv(path: str | Path, source: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Nodes of a bitnod.es daily CSV (``CSV_COLUMNS``); records are ``line N``.

    ``export_date`` (a date, taken as 00:00 UTC, or a UTC date-time) is the snapshot time; a row
    without one is rejected. ``country`` may be an ISO code or an English name (normalised to
    ISO alpha-2; an unknown one is nulled and reported); ``isp`` is the organization.
    """
    path = Path(path)
    scan = pl.scan_csv(path, infer_schema=False)
    _require_columns(scan, CSV_COLUMNS, path)
    text = pl.col("export_date").str.strip_chars()
    snapshot_time = _utc_time(text)
    fields = {name: pl.lit(None, pl.String) for name in NODE_FIELDS} | {
        "protocol_version": pl.col("protocol_version"),
        "user_agent": pl.col("user_agent"),
        "services": pl.col("services"),
        "height": pl.col("block_height"),
        "country_code": pl.col("country"),
        "organization": pl.col("isp"),
    }
    frame = (
        scan.with_row_index("sort_key", offset=2)
        .select(
            "sort_key",
            pl.format("line {}", "sort_key").alias("record"),
            snapshot_time.alias("snapshot_time"),
            pl.lit("export_date").alias("problem_field"),
            pl.when(snapshot_time.is_null())
            .then(_missing_or(text, "not a date or date-time"))
            .alias("problem"),
            pl.col("export_date").alias("value"),
            pl.col("ip_address").alias("raw_address"),
            pl.col("port").alias("raw_port"),
            pl.concat_list(fields.values()).alias("fields"),
        )
        .collect()
    )
    return crawled_nodes(frame, source, field_names=CSV_FIELD_NAMES)


# --- address lists (getaddr answers) -------------------------------------------------------------


def name_time(path: str | Path) -> datetime | None:
    """The UTC time in a file name like ``addresses_2024-07-25_13-59-00_.txt``, if any."""
    match = NAME_TIME.search(Path(path).name)
    if match is None:
        return None
    day, hour, minute, second = match.groups()
    return datetime.fromisoformat(f"{day}T{hour}:{minute}:{second}").replace(tzinfo=UTC)


def _address_lines(path: Path, file_no: int, when: datetime) -> pl.LazyFrame:
    """Non-blank lines of one address list, with the file's time and a global ``sort_key``."""
    return scan_lines(path).select(
        (pl.lit(file_no, pl.Int64) * 2**32 + pl.col("line_no")).alias("sort_key"),
        pl.format(f"{path.name} line {{}}", "line_no").alias("record"),
        pl.lit(when).cast(pl.Datetime("us", "UTC")).alias("file_time"),
        pl.col("line"),
        pl.col("nul"),
    )


def read_address_list(
    path: str | Path, source: str, snapshot_time: datetime | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Gossip nodes from ``address:port`` lines (``getaddr`` answers), reachability "gossip".

    `path` is one file or a folder of ``*.txt`` files. Each file's time comes from its name
    (``addresses_2024-07-25_13-59-00_.txt``) unless `snapshot_time` is given; a folder file
    without one is rejected whole. Each UTC day is one snapshot, timed at the day's last file,
    with an address and port listed several times that day kept once. Records are
    ``<file name> line N``.
    """
    path = Path(path)
    files = sorted(p for p in path.glob("*.txt") if p.is_file()) if path.is_dir() else [path]
    parts: list[pl.DataFrame] = []
    scans: list[pl.LazyFrame] = []
    for file_no, file in enumerate(files):
        when = snapshot_time or name_time(file)
        if when is None and not path.is_dir():
            raise ValueError(f"{file}: no time in the file name; pass snapshot_time")
        if when is None:
            parts.append(
                _reject(
                    pl.DataFrame({"record": [file.name], "sort_key": [file_no * 2**32]}),
                    source,
                    "file name",
                    pl.lit(file.name),
                    "no time in the file name (expected ..._YYYY-MM-DD_hh-mm-ss...)",
                )
            )
            continue
        scans.append(_address_lines(file, file_no, _utc(when)))
    if not scans:
        return conform_nodes(NODE_SNAPSHOTS.empty(), source), _rejects(parts)
    lines = pl.concat(scans).collect()
    host, port = split_host_port(pl.col("line"))
    frame = lines.with_columns(host.alias("raw_address"), port.alias("raw_port"))
    bad_line = pl.col("nul").is_not_null() | pl.col("raw_address").is_null()
    parts.append(
        _reject(
            frame.filter(bad_line),
            source,
            "line",
            pl.col("line"),
            pl.when(pl.col("nul").is_not_null())
            .then(pl.lit("line contains a NUL byte"))
            .otherwise(pl.lit("expected address:port")),
        )
    )
    names = {"address": "address", "port": "port"}
    rows, endpoint_rejects = _endpoints(frame.filter(~bad_line), source, names)
    parts += endpoint_rejects
    rows = rows.with_columns(pl.col("file_time").dt.date().alias("snapshot_date"))
    nodes = (
        rows.sort("sort_key")
        .unique(["snapshot_date", "address", "port"], keep="first", maintain_order=True)
        .with_columns(
            pl.col("file_time").max().over("snapshot_date").alias("snapshot_time"),
            pl.lit("gossip").alias("reachability"),
        )
        .sort("snapshot_date", "sort_key")
    )
    return conform_nodes(nodes, source), _rejects(parts)


# --- EDI published distributions ----------------------------------------------------------------

# file name -> (dimension, header word, includes_overlay)
EDI_FILES = {
    "countries_bitcoin.csv": ("country", "Countries", True),
    "countries_bitcoin_without_tor.csv": ("country", "Countries", False),
    "clustered_organizations_bitcoin.csv": ("organization", "Organizations", True),
    "clustered_organizations_bitcoin_without_tor.csv": ("organization", "Organizations", False),
}
TOR_ENTITY = "overlay:tor"
UNKNOWN_ENTITY = "unknown"


def _edi_header(path: Path) -> tuple[str, date | None]:
    """``(word, date)`` of an EDI file's first line ``Countries,2025-03-28``."""
    with path.open(encoding="utf-8", newline="") as handle:
        first = next(csv.reader([handle.readline()]), [])
    word = first[0].strip() if first else ""
    try:
        day = date.fromisoformat(first[1].strip()) if len(first) == 2 else None
    except ValueError:
        day = None
    return word, day


def _edi_rows(path: Path, file_no: int, day: date, dimension: str, overlay: bool) -> pl.LazyFrame:
    """The ``name,count`` lines of one EDI file (after its first line)."""
    rows = pl.scan_csv(
        path,
        has_header=False,
        skip_rows=1,
        schema={"name": pl.String, "count": pl.String, "extra": pl.String},
        missing_columns="insert",
        truncate_ragged_lines=True,
    ).with_row_index("line_no", offset=2)
    return rows.select(
        (pl.lit(file_no, pl.Int64) * 2**32 + pl.col("line_no")).alias("sort_key"),
        pl.format(f"{path.parent.name}/{path.name} line {{}}", "line_no").alias("record"),
        pl.lit(day).alias("snapshot_date"),
        pl.lit(dimension).alias("dimension"),
        pl.lit(overlay).alias("includes_overlay"),
        "name",
        "count",
        "extra",
    )


def _edi_entities(rows: pl.DataFrame) -> pl.DataFrame:
    """``entity`` of each row, and ``unknown`` for country names not in the country table."""
    name = pl.col("name")
    lowered = name.str.to_lowercase()
    is_country = pl.col("dimension") == "country"
    code = country_code(name)
    special = name.is_null() | lowered.is_in(["tor", UNKNOWN_ENTITY])
    return rows.with_columns(
        pl.when(lowered == "tor")
        .then(pl.lit(TOR_ENTITY))
        .when(name.is_null() | (is_country & (lowered == UNKNOWN_ENTITY)))
        .then(pl.lit(UNKNOWN_ENTITY))
        .when(is_country)
        .then(pl.coalesce(code, name))
        .otherwise(name)
        .alias("entity"),
        (is_country & code.is_null() & ~special).alias("unknown"),
    )


def read_edi_distributions(folder: str | Path, source: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Node counts published by EDI: ``<folder>/<date>/<kind>.csv`` (``EDI_FILES``).

    Each file starts with ``Countries,<date>`` or ``Organizations,<date>`` (the date used),
    then ``name,count`` lines. Countries are normalised to ISO alpha-2; "Tor" is the entity
    ``overlay:tor`` in both dimensions, and a blank name (organisations) or "Unknown"
    (countries) the entity ``unknown``. An unknown country name is kept as published and
    reported; a line without a count is rejected, as is a file of another name or with
    another first line. Counts of names meaning the same entity are added up. Records are
    ``<date>/<file> line N``.
    """
    parts: list[pl.DataFrame] = []
    scans: list[pl.LazyFrame] = []
    for file_no, path in enumerate(sorted(Path(folder).glob("*/*.csv"))):
        kind = EDI_FILES.get(path.name)
        word, day = _edi_header(path)
        if kind is None:
            problem = f"not an EDI distribution file ({', '.join(EDI_FILES)})"
        elif word != kind[1] or day is None:
            problem = f"first line should be '{kind[1]},<YYYY-MM-DD>'"
        else:
            scans.append(_edi_rows(path, file_no, day, kind[0], kind[2]))
            continue
        header = pl.DataFrame(
            {"record": [f"{path.parent.name}/{path.name} line 1"], "sort_key": [file_no * 2**32]}
        )
        parts.append(_reject(header, source, "line", pl.lit(word), problem))
    if not scans:
        return pl.DataFrame(schema=DISTRIBUTION_SCHEMA), _rejects(parts)

    rows = pl.concat(scans).collect()
    rows = rows.with_columns(
        _blank_as_null(pl.col("name")).alias("name"),
        _blank_as_null(pl.col("count")).cast(pl.Int64, strict=False).alias("nodes"),
    )
    ragged = pl.col("extra").is_not_null()
    bad_count = pl.col("nodes").is_null() | (pl.col("nodes") < 0)
    parts += [
        _reject(
            rows.filter(ragged),
            source,
            "line",
            pl.concat_str("name", "count", "extra", separator=",", ignore_nulls=True),
            "more than two fields",
        ),
        _reject(
            rows.filter(~ragged & bad_count),
            source,
            "count",
            pl.col("count"),
            _missing_or(pl.col("count"), NOT_A_COUNT),
        ),
    ]
    rows = _edi_entities(rows.filter(~ragged & ~bad_count))
    parts.append(
        _reject(
            rows.filter(pl.col("unknown")), source, "name", pl.col("name"), "unknown country name"
        )
    )
    keys = ["snapshot_date", "dimension", "includes_overlay", "entity"]
    distributions = (
        rows.group_by(keys)
        .agg(pl.col("nodes").sum())
        .with_columns(pl.lit(source).alias("source"))
        .sort(
            ["snapshot_date", "dimension", "includes_overlay", "nodes", "entity"],
            descending=[False, False, True, True, False],
        )
    )
    return (
        distributions.select(pl.col(n).cast(t) for n, t in DISTRIBUTION_SCHEMA.items()),
        _rejects(parts),
    )


def _snapshots_in_scope(nodes: pl.DataFrame, rejects: pl.DataFrame, scope: ReadScope) -> FeedRead:
    """The file's nodes of snapshots dated in the scope's days (rejects are whole-file)."""
    report = {
        "nodes": nodes.height,
        "rejected": rejects.height,
        "snapshots": nodes.select("snapshot_time").unique().height,
    }
    if scope.start is not None and scope.end is not None:
        nodes = nodes.filter(pl.col("snapshot_date").is_between(scope.start, scope.end))
    return FeedRead(nodes, rejects, report)


def _file_reader(parse):
    def read(feed: Feed, scope: ReadScope) -> FeedRead:
        return _snapshots_in_scope(*parse(Path(feed.location), feed.name), scope)

    return read


def read_distribution_feed(feed: Feed, scope: ReadScope) -> FeedRead:
    rows, rejects = read_edi_distributions(Path(feed.location), feed.name)
    return FeedRead(rows, rejects, {"rows": rows.height, "dates": rows["snapshot_date"].n_unique()})


KINDS = (
    SourceKind(
        "bitnodes_export",
        "nodes",
        "a Bitnodes crawler export: JSON list of 15-field rows, time in the file name",
        _file_reader(read_bitnodes_export),
        table="raw.node_snapshots",
        licence=(
            "Bitnodes crawler export (ayeowch/bitnodes: MIT); geography from MaxMind GeoLite2 "
            "(GeoLite2 EULA, attribution required)"
        ),
    ),
    SourceKind(
        "bitnodes_csv",
        "nodes",
        "bitnod.es daily CSV: export_date, ip_address, port, country, isp, services, ...",
        _file_reader(read_bitnodes_csv),
        table="raw.node_snapshots",
        licence=("bitnod.es daily CSV: see publisher's terms"),
    ),
    SourceKind(
        "address_list",
        "nodes",
        "ip:port lines (getaddr answers), a file or a folder; unverified gossip, kept apart",
        _file_reader(read_address_list),
        table="raw.node_snapshots",
        licence=(
            "getaddr answers: Blockchain-Technology-Lab/network-decentralization (MIT) for the "
            "shared copy; otherwise the operator's own node; see publisher's terms"
        ),
    ),
    SourceKind(
        "edi_distributions",
        "nodes",
        "published node distributions: <date>/<countries|clustered_organizations>_bitcoin*.csv",
        read_distribution_feed,
        table="raw.node_distributions",
        licence=(
            "Blockchain-Technology-Lab/edi-frontend: no licence file, see publisher's terms "
            "(generated by Blockchain-Technology-Lab/network-decentralization, MIT)"
        ),
    ),
)
