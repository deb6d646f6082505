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


# Every source the pipeline reads, and the kinds each may be read as. Later sources add entries.
SOURCES: dict[str, dict[str, SourceKind]] = {
    "pool_registry": {
        "mempool_pools_v2": SourceKind(
            "mempool_pools_v2",
            "mempool.space pools-v2.json: [{id, name, addresses[], tags[], link}]",
        ),
    },
}

HTTP_DEFAULTS: dict[str, Any] = {
    "timeout_seconds": 30.0,
    "max_attempts": 5,
    "backoff_seconds": 1.0,
    "max_retry_after_seconds": 300.0,
}

TOP_LEVEL_KEYS = ("data_home", "sources", "http")


@dataclass(frozen=True)
class SourceConfig:
    """A configured source: which kind, where from (URL or local path), and kind options."""

    name: str
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

    def source(self, name: str) -> SourceConfig:
        try:
            return self.sources[name]
        except KeyError:
            raise ConfigError(
                f"{self.path}: [sources.{name}] is not configured; add it with one of the kinds "
                f"{sorted(SOURCES[name])}"
            ) from None


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

    sources: dict[str, SourceConfig] = {}
    for name, table in raw.get("sources", {}).items():
        where = f"{path} [sources.{name}]"
        if name not in SOURCES:
            raise ConfigError(
                f"{path}: unknown source [sources.{name}]; valid sources: {', '.join(SOURCES)}"
            )
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: expected a table with kind and location")
        kinds = SOURCES[name]
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
            options[key] = value
        location = str(table["location"])
        if not is_url(location):
            local = (base / location).expanduser().resolve()
            if not local.exists():
                raise ConfigError(f"{where} location: file not found: {local}")
            location = str(local)
        sources[name] = SourceConfig(name, kind, location, options)
    return ObservatoryConfig(path=path, data_home=data_home, sources=sources, http=http)
