"""The observatory's configuration: one TOML file choosing each source's kind and location.

Lookup order for the file: an explicit path, then ``$OBSERVATORY_CONFIG``, then
``configs/default.toml`` (the live public sources). Relative paths inside the file are resolved
against the file's own folder, so a config can be run from anywhere. ``$OBSERVATORY_DATA_HOME``,
when set, replaces the file's ``data_home``.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pipelines.http import HttpSettings, is_url
from pipelines.sources.ip_databases import DBIP_CITY_LITE, IPTOCC
from pipelines.sources.registry import SOURCES, Feed, kinds
from pipelines.storage import S3Location, is_s3_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "configs" / "default.toml"
CONFIG_ENV_VAR = "OBSERVATORY_CONFIG"
DATA_HOME_ENV_VAR = "OBSERVATORY_DATA_HOME"  # overrides the file's data_home (tests, sandboxes)
LAKE_ENV_VAR = "OBSERVATORY_LAKE"  # overrides the file's [storage] lake (deployments, benchmarks)
EXECUTOR_ENV_VAR = "OBSERVATORY_EXECUTOR"  # overrides the file's [execution] executor


class ConfigError(ValueError):
    """The config file is missing, malformed or names something that does not exist."""


IP_DATABASES = (DBIP_CITY_LITE, IPTOCC)  # packaged; any other value is a .mmdb file's path
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

# Engines that run the expectation suites of the blocking checks: Polars (GX 1.x's semantics,
# no GX import) or Great Expectations itself, the reference.
VALIDATION_ENGINES = ("polars", "great_expectations")
DEFAULT_VALIDATION_ENGINE = "polars"
DEFAULT_KEEP_VERSIONS = 7
# Where the Dagster instance keeps runs, event logs and schedules: SQLite files under the data
# home, or a PostgreSQL database shared by machines (connection from DAGSTER_PG_* variables)
DAGSTER_STORAGES = ("sqlite", "postgres")
DEFAULT_LEASE_TIMEOUT = 3600.0

TOP_LEVEL_KEYS = (
    "data_home",
    "sources",
    "http",
    "mining",
    "nodes",
    "market",
    "trends",
    "validation",
    "storage",
    "dagster",
    "execution",
)
EXECUTORS = ("in_process", "multiprocess", "celery", "k8s")
DISTRIBUTED_EXECUTORS = ("celery", "k8s")
# Celery queues: every step but those that write the DuckDB warehouse, which one machine serves.
COMPUTE_QUEUE = "dagster"  # dagster-celery's default queue
WAREHOUSE_QUEUE = "warehouse"


@dataclass(frozen=True)
class Execution:
    """``[execution]``: where a run's steps execute. ``in_process`` (the default: one process,
    steps in turn), ``multiprocess`` (a process per step on this machine), ``celery`` (steps
    taken from a broker by ``observatory worker`` processes, anywhere) or ``k8s`` (a pod per
    step, with the pod settings of the run launcher: the Helm values); the last two are
    distributed: the lake must be on object storage and the instance on PostgreSQL, so that every
    step sees the same tables and runs."""

    executor: str = "in_process"
    max_concurrent: int = 0  # multiprocess: steps at once (0: one per CPU)
    chunk_months: int = 48  # distributed: day-stamped ingest in concurrent runs of these months

    @property
    def distributed(self) -> bool:
        return self.executor in DISTRIBUTED_EXECUTORS


@dataclass(frozen=True)
class ObservatoryConfig:
    path: Path
    data_home: Path
    sources: dict[str, Feed]  # by Feed.key: "hashrate_geography", "blocks.<feed>"
    http: HttpSettings
    mining: dict[str, Any]
    nodes: dict[str, Any]
    market_tolerances: dict[str, float] = field(default_factory=lambda: dict(MARKET_TOLERANCES))
    trends: dict[str, Any] = field(default_factory=lambda: dict(TRENDS_DEFAULTS))
    validation_engine: str = DEFAULT_VALIDATION_ENGINE
    lake: str = ""  # where the lake lives: an s3:// URL or a folder; "" is <data_home>/lake
    keep_versions: int = DEFAULT_KEEP_VERSIONS  # published warehouses kept on object storage
    dagster_storage: str = "sqlite"
    lease_timeout_seconds: float = DEFAULT_LEASE_TIMEOUT  # a second writer of the lake waits
    execution: Execution = field(default_factory=Execution)

    @property
    def lake_location(self) -> str | Path:
        """The lake's ``s3://`` URL, or its folder."""
        return self.lake if is_s3_url(self.lake) else Path(self.lake or self.data_home / "lake")

    @property
    def report_dir(self) -> Path:
        """Where the report is written (``index.html`` and its charts)."""
        return self.data_home / "report"

    def source(self, name: str) -> Feed:
        try:
            return self.sources[name]
        except KeyError:
            raise ConfigError(
                f"{self.path}: [sources.{name}] is not configured; add it with one of the kinds "
                f"{sorted(kinds()[name])}"
            ) from None

    def feeds(self, name: str) -> list[Feed]:
        """The feeds of a multi-feed source, in config order (earlier feeds take precedence)."""
        feeds = [s for s in self.sources.values() if s.source == name]
        if not feeds:
            raise ConfigError(
                f"{self.path}: no [sources.{name}.<feed>] table; add one with a kind from "
                f"{sorted(kinds()[name])}"
            )
        return feeds


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
    data_home = _data_home(path, raw)

    http_keys = {f.name for f in dataclasses.fields(HttpSettings)}
    http_values = {}
    for key, value in raw.get("http", {}).items():
        if key not in http_keys:
            raise _unknown(f"{path} [http]", key, http_keys)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(f"{path} [http] {key}: expected a positive number, got {value!r}")
        http_values[key] = value
    http = HttpSettings(**http_values)

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
    validation_engine = _validation_engine(path, raw.get("validation", {}))
    lake, keep_versions = _storage(path, raw.get("storage", {}))
    if os.environ.get(LAKE_ENV_VAR):
        lake, _ = _storage(path, {"lake": os.environ[LAKE_ENV_VAR]})
    dagster_storage, lease_timeout = _dagster(path, raw.get("dagster", {}))
    execution = _execution(path, raw.get("execution", {}))
    if execution.distributed and not (is_s3_url(lake) and dagster_storage == "postgres"):
        raise ConfigError(
            f"{path} [execution] executor = {execution.executor!r} runs steps on other machines: "
            'it needs the lake on object storage ([storage] lake = "s3://…" or '
            f'${LAKE_ENV_VAR}) and [dagster] storage = "postgres"'
        )

    sources: dict[str, Feed] = {}
    for name, table in raw.get("sources", {}).items():
        if name not in SOURCES:
            raise ConfigError(
                f"{path}: unknown source [sources.{name}]; valid sources: {', '.join(SOURCES)}"
            )
        if not isinstance(table, dict):
            raise ConfigError(f"{path} [sources.{name}]: expected a table with kind and location")
        if SOURCES[name].multi_feed:
            for feed, feed_table in table.items():
                if not isinstance(feed_table, dict):
                    raise ConfigError(
                        f"{path} [sources.{name}]: {feed!r} must be a feed table "
                        f"[sources.{name}.{feed}] with kind and location"
                    )
                parsed = _parse_source(path, name, feed, feed_table, http)
                sources[parsed.key] = parsed
        else:
            sources[name] = _parse_source(path, name, name, table, http)
    return ObservatoryConfig(
        path=path,
        data_home=data_home,
        sources=sources,
        http=http,
        mining=mining,
        nodes=nodes,
        market_tolerances=market_tolerances,
        trends=trends,
        validation_engine=validation_engine,
        lake=lake,
        keep_versions=keep_versions,
        dagster_storage=dagster_storage,
        lease_timeout_seconds=lease_timeout,
        execution=execution,
    )


def _data_home(path: Path, raw: dict[str, Any]) -> Path:
    """``$OBSERVATORY_DATA_HOME``, else the file's ``data_home`` (relative to the file)."""
    configured = raw.get("data_home", "../warehouse")
    return Path(os.environ.get(DATA_HOME_ENV_VAR) or path.parent / str(configured)).resolve()


def load_execution(explicit: str | os.PathLike[str] | None = None) -> Execution:
    """Only the ``[execution]`` settings of the config file (the definitions choose their
    executor from them when imported, before any source file is needed)."""
    path = config_path(explicit)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return _execution(path, raw.get("execution", {}))


def _execution(path: Path, table: Any) -> Execution:
    """``[execution]`` (see ``Execution``); ``$OBSERVATORY_EXECUTOR`` overrides ``executor``."""
    where = f"{path} [execution]"
    _checked_table(where, table, ["executor", "max_concurrent", "chunk_months"])
    executor = os.environ.get(EXECUTOR_ENV_VAR) or table.get("executor", "in_process")
    if executor not in EXECUTORS:
        raise ConfigError(
            f"{where} executor: {executor!r} is not a valid choice; valid choices: "
            f"{', '.join(EXECUTORS)}"
        )
    numbers = {}
    for key, least in (("max_concurrent", 0), ("chunk_months", 1)):
        value = table.get(key, getattr(Execution, key))
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigError(f"{where} {key}: expected an integer >= {least}, got {value!r}")
        numbers[key] = value
    return Execution(executor=executor, **numbers)


def _checked_table(where: str, table: Any, keys: list[str]) -> dict[str, Any]:
    """``table`` if it is a TOML table with only ``keys``; else a ConfigError naming ``where``."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table")
    for key in table:
        if key not in keys:
            raise _unknown(where, key, keys)
    return table


def _storage(path: Path, table: Any) -> tuple[str, int]:
    """``[storage]``: ``lake``, an ``s3://bucket/prefix`` URL or a folder (relative to the config
    file), and ``keep_versions``, how many published warehouses object storage keeps; the
    endpoint and credentials of object storage come from the AWS environment."""
    where = f"{path} [storage]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table")
    secrets = [k for k in table if any(w in k.lower() for w in ("key", "secret", "token", "pass"))]
    if secrets:
        raise ConfigError(
            f"{where}: {secrets[0]!r}: credentials are never read from the config file; set "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in the environment"
        )
    _checked_table(where, table, ["lake", "keep_versions"])
    keep = table.get("keep_versions", DEFAULT_KEEP_VERSIONS)
    if not isinstance(keep, int) or isinstance(keep, bool) or keep < 1:
        raise ConfigError(f"{where} keep_versions: expected a positive integer, got {keep!r}")
    lake = table.get("lake", "")
    if not isinstance(lake, str):
        raise ConfigError(f"{where} lake: expected an s3:// URL or a folder, got {lake!r}")
    if is_s3_url(lake):
        try:
            S3Location.from_url(lake, {})
        except ValueError as error:
            raise ConfigError(f"{where} lake: {error}") from None
        return lake.rstrip("/"), keep
    return (str((path.parent / lake).resolve()) if lake else ""), keep


def _dagster(path: Path, table: Any) -> tuple[str, float]:
    """``[dagster]``: ``storage``, sqlite (files under the data home) or postgres, and
    ``lease_timeout_seconds``, how long a run waits for another writer of the lake (postgres)."""
    where = f"{path} [dagster]"
    _checked_table(where, table, ["storage", "lease_timeout_seconds"])
    storage = table.get("storage", "sqlite")
    if storage not in DAGSTER_STORAGES:
        raise ConfigError(
            f"{where} storage: {storage!r} is not a valid choice; valid choices: "
            f"{', '.join(DAGSTER_STORAGES)}"
        )
    timeout = table.get("lease_timeout_seconds", DEFAULT_LEASE_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
        raise ConfigError(f"{where} lease_timeout_seconds: expected seconds >= 0, got {timeout!r}")
    return storage, float(timeout)


def _validation_engine(path: Path, table: Any) -> str:
    """``[validation]``: the engine that runs the expectation suites."""
    where = f"{path} [validation]"
    _checked_table(where, table, ["engine"])
    engine = table.get("engine", DEFAULT_VALIDATION_ENGINE)
    if engine not in VALIDATION_ENGINES:
        raise ConfigError(
            f"{where} engine: {engine!r} is not a valid choice; valid choices: "
            f"{', '.join(VALIDATION_ENGINES)}"
        )
    return engine


def _trends(path: Path, table: Any) -> dict[str, Any]:
    """``[trends]``: fdr and alpha in (0, 0.5], recent_years positive integers, min_points >= 3."""
    where = f"{path} [trends]"
    trends = {**TRENDS_DEFAULTS, **_checked_table(where, table, list(TRENDS_DEFAULTS))}
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
    _checked_table(where, market, ["tolerances"])
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
    path: Path, source: str, name: str, table: dict[str, Any], http: HttpSettings
) -> Feed:
    """Validate one [sources.<source>(.<name>)] table against the kinds that source accepts."""
    key = f"{source}.{name}" if SOURCES[source].multi_feed else source
    where = f"{path} [sources.{key}]"
    valid = kinds()[source]
    kind = table.get("kind")
    if kind not in valid:
        raise ConfigError(
            f"{where} kind: {kind!r} is not a valid kind; valid kinds: {', '.join(valid)}"
        )
    spec = valid[kind]
    if "location" not in table:
        raise ConfigError(f"{where}: missing key 'location' (an https URL or a local path)")
    fields = spec.option_fields()
    options = spec.defaults()
    for key_, value in table.items():
        if key_ in ("kind", "location"):
            continue
        if key_ not in fields:
            error = _unknown(f"{where} (kind {kind})", key_, ["kind", "location", *fields])
            helps = "; ".join(f"{name}: {f.metadata['help']}" for name, f in fields.items())
            raise ConfigError(f"{error} ({helps})" if helps else str(error))
        default, meta = options[key_], fields[key_].metadata
        expected = (int, float) if isinstance(default, float) else type(default)
        if not isinstance(value, expected) or isinstance(value, bool) != isinstance(default, bool):
            raise ConfigError(f"{where} {key_}: expected {type(default).__name__}, got {value!r}")
        choices = meta.get("choices")
        if choices and value not in choices:
            raise ConfigError(f"{where} {key_}: {value!r} is not one of {', '.join(choices)}")
        if meta.get("path") and value:
            value = _resolve_path(path, f"{where} {key_}", value)
        if meta.get("location") and value and not is_url(value):
            value = _resolve_path(path, f"{where} {key_}", value)
        options[key_] = value
    for key_, value in options.items():  # options with choices and no valid default are required
        choices = fields[key_].metadata.get("choices")
        if choices and value not in choices:
            raise ConfigError(f"{where}: missing key {key_!r}, one of {', '.join(choices)}")
    location = str(table["location"])
    if not is_url(location):
        location = _resolve_path(path, f"{where} location", location)
    feed = Feed(source, name, kind, location, spec.options(**options), http)
    problem = spec.check(feed) if spec.check else None
    if problem:
        raise ConfigError(f"{where} {problem}")
    return feed
