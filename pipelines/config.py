"""The observatory's configuration: one TOML file choosing each source's kind and location.

Lookup order for the file: an explicit path, then ``$OBSERVATORY_CONFIG``, then
``configs/default.toml`` (the live public sources). Relative paths inside the file are resolved
against the file's own folder, so a config can be run from anywhere. ``$OBSERVATORY_DATA_HOME``,
when set, replaces the file's ``data_home``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "configs" / "default.toml"
CONFIG_ENV_VAR = "OBSERVATORY_CONFIG"
DATA_HOME_ENV_VAR = "OBSERVATORY_DATA_HOME"  # overrides the file's data_home (tests, sandboxes)


class ConfigError(ValueError):
    """The config file is missing, malformed or names something that does not exist."""


@dataclass(frozen=True)
class SourceKind:
    """One way of reading a source: its format and which options it accepts."""

    name: str
    description: str
    options: dict[str, Any] = field(default_factory=dict)  # option name -> default value
    path_options: tuple[str, ...] = ()  # options naming local files, resolved and checked
    location_options: tuple[str, ...] = ()  # options naming a URL or a local file, like location


_BLOCK_FEED_OPTIONS = {"min_interval_seconds": 1.0, "concurrency": 1}


# Every source the pipeline reads, and the kinds each may be read as. Later sources add entries.
SOURCES: dict[str, dict[str, SourceKind]] = {
    # Several registries, each a table [sources.pool_registry.<name>]; earlier ones win conflicts.
    "pool_registry": {
        "mempool_pools_v2": SourceKind(
            "mempool_pools_v2",
            "mempool.space pools-v2.json: [{id, name, addresses[], tags[], link}]",
        ),
        "bitcoin_data_pools": SourceKind(
            "bitcoin_data_pools",
            "bitcoin-data/mining-pools' generated pool-list.json (the pools-v2.json shape)",
        ),
        "edi_pools": SourceKind(
            "edi_pools",
            "EDI (consensus-decentralization) identifiers {identifier: {name, link}} at location; "
            "optional addresses {address: {name, source}} at `addresses` (URL or path)",
            {"addresses": ""},
            location_options=("addresses",),
        ),
    },
    # Several feeds, each a table [sources.blocks.<feed>]; earlier feeds win for a height.
    "blocks": {
        "bitcoin_core_rpc": SourceKind(
            "bitcoin_core_rpc",
            "a Bitcoin Core node's JSON-RPC (getblockhash, getblock <hash> 2); credentials from "
            "cookie_file or $BITCOIN_RPC_USER/$BITCOIN_RPC_PASSWORD",
            {"cookie_file": ""},
            path_options=("cookie_file",),
        ),
        "mempool_rest": SourceKind(
            "mempool_rest",
            "mempool.space REST API (/api/v1/blocks/{height}); location is the base URL",
            dict(_BLOCK_FEED_OPTIONS),
        ),
        "esplora_rest": SourceKind(
            "esplora_rest",
            "esplora REST API (/block-height, /block, /tx); location is the base URL",
            dict(_BLOCK_FEED_OPTIONS),
        ),
        "bigquery_coinbase_ndjson": SourceKind(
            "bigquery_coinbase_ndjson",
            "BigQuery crypto_bitcoin blocks export with coinbase identifiers and outputs (NDJSON)",
        ),
        "labelled_blocks": SourceKind(
            "labelled_blocks",
            "CSV or Parquet of blocks already labelled with a pool name or mempool-style slug",
            {
                "height_column": "height",
                "label_column": "pool",
                "label_scheme": "name",
                "time_column": "",
                "hash_column": "",
                "block_counts": "",
            },
            path_options=("block_counts",),
        ),
    },
}
SOURCES["nodes"] = {
    "bitnodes_api": SourceKind(
        "bitnodes_api",
        "Bitnodes API snapshots (/api/v1/snapshots/); location is the base URL; the key, if any, "
        "is read from the environment variable named by api_key_env",
        {"api_key_env": "", "per_day": 1, "min_interval_seconds": 1.0},
    ),
    "bitnodes_export": SourceKind(
        "bitnodes_export",
        "a Bitnodes crawler export: JSON list of 15-field rows, time in the file name",
    ),
    "bitnodes_csv": SourceKind(
        "bitnodes_csv",
        "bitnod.es daily CSV: export_date, ip_address, port, country, isp, services, ...",
    ),
    "address_list": SourceKind(
        "address_list",
        "ip:port lines (getaddr answers), a file or a folder; unverified gossip, kept apart",
    ),
    "edi_distributions": SourceKind(
        "edi_distributions",
        "published node distributions: <date>/<countries|clustered_organizations>_bitcoin*.csv",
    ),
}
# Market feeds: which one a column's value comes from is decided per column by source kind
# (pipelines/market/daily.py PRECEDENCE), then by config order among feeds of the same kind.
SOURCES["market"] = {
    "coinmetrics_api": SourceKind(
        "coinmetrics_api",
        "Coin Metrics community API v4 (/v4/timeseries/asset-metrics, daily BTC metrics); "
        "location is the base URL; an optional key is read from the variable named by api_key_env",
        {"api_key_env": "", "page_size": 10000, "min_interval_seconds": 0.65, "start": ""},
    ),
    "coinmetrics_csv": SourceKind(
        "coinmetrics_csv",
        "Coin Metrics daily CSV (time, BlkCnt, PriceUSD, HashRate, DiffMean, FeeTotNtv, ...)",
    ),
    "mempool_api": SourceKind(
        "mempool_api",
        "mempool.space /api/v1/mining/hashrate/{period} and /api/v1/historical-price; location is "
        "the base URL",
        {"period": "all", "min_interval_seconds": 1.0},
    ),
    "blockchain_com": SourceKind(
        "blockchain_com",
        "Blockchain.com chart exports (CSV, a file or a folder) or its charts JSON API URL; the "
        "metric comes from the chart's name unless `metric` names it",
        {"metric": ""},
    ),
}
SOURCES["hashrate_geography"] = {
    "cbeci_csv": SourceKind(
        "cbeci_csv",
        "Cambridge (CCAF CBECI) mining map export: date, country, monthly_hashrate_%, "
        "monthly_absolute_hashrate_EH/S (a file or the download URL)",
    ),
}
# Epoch AI's model databases, one feed per file; `dataset` says which of Epoch's four it is.
SOURCES["ai_models"] = {
    "epoch_models_csv": SourceKind(
        "epoch_models_csv",
        "an Epoch AI model database CSV (all_ai_models, notable_ai_models, large_scale_ai_models "
        "or frontier_ai_models), a file or its download URL",
        {"dataset": ""},
    ),
}
SOURCES["ai_chip_owners"] = {
    "epoch_chip_owners": SourceKind(
        "epoch_chip_owners",
        "Epoch AI's cumulative AI-chip stock by owner (*_owners_cumulative_totals.csv): a folder, "
        "or a base URL with the file paths to fetch under it in `files`",
        {"files": []},
    ),
}
MULTI_FEED_SOURCES = frozenset({"pool_registry", "blocks", "nodes", "market", "ai_models"})
CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("labelled_blocks", "label_scheme"): ("name", "slug"),
    ("mempool_api", "period"): ("1m", "3m", "6m", "1y", "2y", "3y", "all"),
    ("epoch_models_csv", "dataset"): ("all", "notable", "large_scale", "frontier"),
}

HTTP_DEFAULTS: dict[str, Any] = {
    "timeout_seconds": 30.0,
    "max_attempts": 5,
    "backoff_seconds": 1.0,
    "max_retry_after_seconds": 300.0,
}

DBIP_CITY_LITE = "dbip_city_lite"  # DB-IP IP to City Lite, packaged (country, city, lat/lon)
IPTOCC = "iptocc"  # the registries' allocation country, packaged
IP_DATABASES = (DBIP_CITY_LITE, IPTOCC)
NODES_DEFAULTS: dict[str, Any] = {
    "ip_database": DBIP_CITY_LITE,  # one of IP_DATABASES, or a path to a .mmdb file
    "asmap": "",  # optional path to a Bitcoin Core asmap file for AS numbers
}

MINING_DEFAULTS: dict[str, Any] = {
    "anchor_30d": "2018-01-01",  # first day of the fixed 30-day windows (EDI-comparable)
}

# Relative difference above which two market feeds are said to disagree, per column (0.05 = 5%).
# Defaults reflect how the sources differ by method: hash rate is an estimate from block times
# and difficulty, smoothed differently by each publisher; prices close at different times.
MARKET_TOLERANCES: dict[str, float] = {
    "price_usd": 0.03,
    "hashrate_ehs": 0.25,
    "difficulty": 0.02,
    "block_count": 0.0,
    "fees_btc": 0.05,
    "fees_usd": 0.08,
    "issuance_btc": 0.01,
    "issuance_usd": 0.04,
    "miner_revenue_usd": 0.08,
    "market_cap_usd": 0.04,
}

TRENDS_DEFAULTS: dict[str, Any] = {
    "fdr": 0.05,  # false-discovery rate a verdict controls (Benjamini-Hochberg q <= fdr)
    "alpha": 0.05,  # per-test level of verdict_unadjusted (no multiple-testing control)
    "recent_years": [3],  # spans besides the whole series: the last N years, where available
    "min_points": 6,  # fewer points than this: no test, no verdict
}

TOP_LEVEL_KEYS = ("data_home", "sources", "http", "mining", "nodes", "market", "trends")


@dataclass(frozen=True)
class SourceConfig:
    """A configured source: which kind, where from (URL or local path), and kind options."""

    name: str  # "hashrate_geography", or "blocks.<feed>" for a feed of a multi-feed source
    kind: str
    location: str
    options: dict[str, Any]

    @property
    def is_remote(self) -> bool:
        return is_url(self.location)


@dataclass(frozen=True)
class ObservatoryConfig:
    path: Path
    data_home: Path
    sources: dict[str, SourceConfig]
    http: dict[str, Any]
    mining: dict[str, Any]
    nodes: dict[str, Any]
    market_tolerances: dict[str, float] = field(default_factory=lambda: dict(MARKET_TOLERANCES))
    trends: dict[str, Any] = field(default_factory=lambda: dict(TRENDS_DEFAULTS))

    def source(self, name: str) -> SourceConfig:
        try:
            return self.sources[name]
        except KeyError:
            raise ConfigError(
                f"{self.path}: [sources.{name}] is not configured; add it with one of the kinds "
                f"{sorted(SOURCES[name])}"
            ) from None

    def feeds(self, name: str) -> list[SourceConfig]:
        """The feeds of a multi-feed source, in config order (earlier feeds take precedence)."""
        feeds = [s for key, s in self.sources.items() if key.startswith(f"{name}.")]
        if not feeds:
            raise ConfigError(
                f"{self.path}: no [sources.{name}.<feed>] table; add one with a kind from "
                f"{sorted(SOURCES[name])}"
            )
        return feeds


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The config file to use: explicit, then $OBSERVATORY_CONFIG, then the default."""
    chosen = explicit or os.environ.get(CONFIG_ENV_VAR) or DEFAULT_CONFIG
    return Path(chosen).expanduser().resolve()


def _unknown(where: str, key: str, valid: Any) -> ConfigError:
    return ConfigError(f"{where}: unknown key {key!r}; valid keys: {', '.join(sorted(valid))}")


def load_config(explicit: str | os.PathLike[str] | None = None) -> ObservatoryConfig:
    """Read and validate a config file; every error names the file and the offending key."""
    path = config_path(explicit)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    for key in raw:
        if key not in TOP_LEVEL_KEYS:
            raise _unknown(str(path), key, TOP_LEVEL_KEYS)
    base = path.parent
    data_home = Path(
        os.environ.get(DATA_HOME_ENV_VAR) or base / str(raw.get("data_home", "../warehouse"))
    ).resolve()

    http = dict(HTTP_DEFAULTS)
    for key, value in raw.get("http", {}).items():
        if key not in HTTP_DEFAULTS:
            raise _unknown(f"{path} [http]", key, HTTP_DEFAULTS)
        if not isinstance(value, int | float) or value <= 0:
            raise ConfigError(f"{path} [http] {key}: expected a positive number, got {value!r}")
        http[key] = value

    mining = dict(MINING_DEFAULTS)
    for key, value in raw.get("mining", {}).items():
        if key not in MINING_DEFAULTS:
            raise _unknown(f"{path} [mining]", key, MINING_DEFAULTS)
        mining[key] = value
    anchor = mining["anchor_30d"]
    try:  # a string or a TOML date (a datetime is not a day); consumers get "YYYY-MM-DD"
        if not isinstance(anchor, date) or isinstance(anchor, datetime):
            anchor = date.fromisoformat(anchor)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{path} [mining] anchor_30d: expected a date YYYY-MM-DD, got {mining['anchor_30d']!r}"
        ) from None
    mining["anchor_30d"] = anchor.isoformat()

    nodes = dict(NODES_DEFAULTS)
    for key, value in raw.get("nodes", {}).items():
        if key not in NODES_DEFAULTS:
            raise _unknown(f"{path} [nodes]", key, NODES_DEFAULTS)
        if not isinstance(value, str):
            raise ConfigError(f"{path} [nodes] {key}: expected a string, got {value!r}")
        nodes[key] = value
    if nodes["asmap"]:
        nodes["asmap"] = _resolve_path(path, f"{path} [nodes] asmap", nodes["asmap"])
    if nodes["ip_database"] not in IP_DATABASES:
        nodes["ip_database"] = _ip_database_path(path, nodes["ip_database"])

    market_tolerances = _market_tolerances(path, raw.get("market", {}))
    trends = _trends(path, raw.get("trends", {}))

    sources: dict[str, SourceConfig] = {}
    for name, table in raw.get("sources", {}).items():
        if name not in SOURCES:
            raise ConfigError(
                f"{path}: unknown source [sources.{name}]; valid sources: {', '.join(SOURCES)}"
            )
        if not isinstance(table, dict):
            raise ConfigError(f"{path} [sources.{name}]: expected a table with kind and location")
        if name in MULTI_FEED_SOURCES:
            for feed, feed_table in table.items():
                if not isinstance(feed_table, dict):
                    raise ConfigError(
                        f"{path} [sources.{name}]: {feed!r} must be a feed table "
                        f"[sources.{name}.{feed}] with kind and location"
                    )
                key = f"{name}.{feed}"
                sources[key] = _parse_source(path, key, SOURCES[name], feed_table)
        else:
            sources[name] = _parse_source(path, name, SOURCES[name], table)
    return ObservatoryConfig(
        path=path,
        data_home=data_home,
        sources=sources,
        http=http,
        mining=mining,
        nodes=nodes,
        market_tolerances=market_tolerances,
        trends=trends,
    )


def _trends(path: Path, table: Any) -> dict[str, Any]:
    """``[trends]``: fdr and alpha in (0, 0.5], recent_years positive integers, min_points >= 3."""
    where = f"{path} [trends]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table")
    trends = dict(TRENDS_DEFAULTS)
    for key, value in table.items():
        if key not in TRENDS_DEFAULTS:
            raise _unknown(where, key, TRENDS_DEFAULTS)
        trends[key] = value
    years, points = trends["recent_years"], trends["min_points"]
    for key in ("fdr", "alpha"):
        level = trends[key]
        if isinstance(level, bool) or not isinstance(level, int | float) or not 0 < level <= 0.5:
            raise ConfigError(f"{where} {key}: expected a number in (0, 0.5], got {level!r}")
    if not isinstance(years, list) or not all(
        isinstance(y, int) and not isinstance(y, bool) and y > 0 for y in years
    ):
        raise ConfigError(
            f"{where} recent_years: expected a list of positive integers, got {years!r}"
        )
    if isinstance(points, bool) or not isinstance(points, int) or points < 3:
        raise ConfigError(f"{where} min_points: expected an integer >= 3, got {points!r}")
    return {
        "fdr": float(trends["fdr"]),
        "alpha": float(trends["alpha"]),
        "recent_years": sorted(set(years)),
        "min_points": points,
    }


def _market_tolerances(path: Path, market: Any) -> dict[str, float]:
    """``[market.tolerances]``: per-column overrides of MARKET_TOLERANCES (fractions, 0–1)."""
    where = f"{path} [market]"
    if not isinstance(market, dict):
        raise ConfigError(f"{where}: expected a table")
    for key in market:
        if key != "tolerances":
            raise _unknown(where, key, ["tolerances"])
    tolerances = dict(MARKET_TOLERANCES)
    overrides = market.get("tolerances", {})
    if not isinstance(overrides, dict):
        raise ConfigError(f"{where} tolerances: expected a table of column = fraction")
    for column, value in overrides.items():
        if column not in MARKET_TOLERANCES:
            raise _unknown(f"{where} tolerances", column, MARKET_TOLERANCES)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ConfigError(
                f"{where} tolerances {column}: expected a fraction between 0 and 1, got {value!r}"
            )
        tolerances[column] = float(value)
    return tolerances


def _ip_database_path(path: Path, value: str) -> str:
    """A ``[nodes] ip_database`` that is no packaged choice: an existing ``.mmdb`` file."""
    local = (path.parent / value).expanduser().resolve()
    if local.suffix != ".mmdb" or not local.is_file():
        problem = "file not found" if local.suffix == ".mmdb" else "not a .mmdb file"
        raise ConfigError(
            f"{path} [nodes] ip_database: {value!r} is not a valid choice; valid choices: "
            f"{', '.join(IP_DATABASES)} or the path of a .mmdb file ({problem}: {local})"
        )
    return str(local)


def _resolve_path(path: Path, where: str, value: str) -> str:
    local = (path.parent / value).expanduser().resolve()
    if not local.exists():
        raise ConfigError(f"{where}: file not found: {local}")
    return str(local)


def _parse_source(
    path: Path, name: str, kinds: dict[str, SourceKind], table: dict[str, Any]
) -> SourceConfig:
    """Validate one [sources.<name>] table against the kinds that source accepts."""
    where = f"{path} [sources.{name}]"
    kind = table.get("kind")
    if kind not in kinds:
        raise ConfigError(
            f"{where} kind: {kind!r} is not a valid kind; valid kinds: {', '.join(kinds)}"
        )
    spec = kinds[kind]
    if "location" not in table:
        raise ConfigError(f"{where}: missing key 'location' (an https URL or a local path)")
    options = dict(spec.options)
    for key, value in table.items():
        if key in ("kind", "location"):
            continue
        if key not in spec.options:
            raise _unknown(f"{where} (kind {kind})", key, ["kind", "location", *spec.options])
        default = spec.options[key]
        expected = (int, float) if isinstance(default, float) else type(default)
        if not isinstance(value, expected) or isinstance(value, bool) != isinstance(default, bool):
            raise ConfigError(f"{where} {key}: expected {type(default).__name__}, got {value!r}")
        choices = CHOICES.get((kind, key))
        if choices and value not in choices:
            raise ConfigError(f"{where} {key}: {value!r} is not one of {', '.join(choices)}")
        if key in spec.path_options and value:
            value = _resolve_path(path, f"{where} {key}", value)
        if key in spec.location_options and value and not is_url(value):
            value = _resolve_path(path, f"{where} {key}", value)
        options[key] = value
    for key, value in options.items():  # options with choices and no valid default are required
        choices = CHOICES.get((kind, key))
        if choices and value not in choices:
            raise ConfigError(f"{where}: missing key {key!r}, one of {', '.join(choices)}")
    location = str(table["location"])
    if not is_url(location):
        location = _resolve_path(path, f"{where} location", location)
    return SourceConfig(name, kind, location, options)
