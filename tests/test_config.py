"""Config files: valid ones load; every mistake is an error naming the file, key and choices."""

from pathlib import Path

import pytest

from pipelines.config import (
    DEFAULT_CONFIG,
    MARKET_TOLERANCES,
    PROJECT_ROOT,
    ConfigError,
    load_config,
    load_execution,
)
from tests.conftest import FIXTURES, SHARED_DATA, needs_shared_data

SAMPLE = str(FIXTURES / "pools-v2-sample.json")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def test_default_config_points_at_live_sources() -> None:
    config = load_config(DEFAULT_CONFIG)
    assert config.data_home == PROJECT_ROOT / "warehouse"
    registries = config.feeds("pool_registry")
    assert [r.kind for r in registries] == ["mempool_pools_v2", "edi_pools", "bitcoin_data_pools"]
    for registry in registries:
        assert registry.is_remote and registry.location.startswith("https://")
    assert registries[1].options.addresses.startswith("https://")


@needs_shared_data
def test_shared_data_config_reads_every_source_locally() -> None:
    config = load_config(PROJECT_ROOT / "configs" / "shared-data.toml")
    for source in config.sources.values():
        assert not source.is_remote
        assert Path(source.location).is_relative_to(SHARED_DATA.resolve())
    edi = config.source("pool_registry.edi")
    assert Path(edi.options.addresses).is_relative_to(SHARED_DATA.resolve())


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "p.json").write_text("[]")
    path = write(
        tmp_path,
        'data_home = "wh"\n[sources.pool_registry.m]\nkind = "mempool_pools_v2"\n'
        'location = "data/p.json"\n[sources.pool_registry.edi]\nkind = "edi_pools"\n'
        'location = "data/p.json"\naddresses = "data/p.json"\n',
    )
    config = load_config(path)
    assert config.data_home == tmp_path / "wh"
    assert config.source("pool_registry.m").location == str(tmp_path / "data" / "p.json")
    assert config.source("pool_registry.edi").options.addresses == str(tmp_path / "data" / "p.json")


def test_env_var_selects_the_file_and_data_home_override(tmp_path: Path, monkeypatch) -> None:
    path = write(tmp_path, 'data_home = "wh"\n')
    monkeypatch.setenv("OBSERVATORY_CONFIG", str(path))
    monkeypatch.setenv("OBSERVATORY_DATA_HOME", str(tmp_path / "elsewhere"))
    config = load_config()
    assert config.path == path
    assert config.data_home == tmp_path / "elsewhere"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'colour = "red"\n',
            "unknown key 'colour'; valid keys: dagster, data_home, execution, http, market, "
            "mining, nodes, sources, storage, trends, validation",
        ),
        (
            '[storage]\nlake = "s3://bucket/x"\naws_secret_access_key = "abc"\n',
            "[storage]: 'aws_secret_access_key': credentials are never read from the config file",
        ),
        ("[storage]\nlake = 3\n", "[storage] lake: expected an s3:// URL or a folder, got 3"),
        (
            '[storage]\nbucket = "b"\n',
            "[storage]: unknown key 'bucket'; valid keys: keep_versions, lake",
        ),
        ('[dagster]\nstorage = "mysql"\n', "[dagster] storage: 'mysql' is not a valid choice"),
        (
            '[execution]\nexecutor = "threads"\n',
            "[execution] executor: 'threads' is not a valid choice; valid choices: in_process, "
            "multiprocess, celery, k8s",
        ),
        (
            "[execution]\nchunk_months = 0\n",
            "[execution] chunk_months: expected an integer >= 1, got 0",
        ),
        (
            '[execution]\nexecutor = "celery"\n',
            "[execution] executor = 'celery' runs steps on other machines: it needs the lake on "
            'object storage ([storage] lake = "s3://…" or $OBSERVATORY_LAKE) and [dagster] '
            'storage = "postgres"',
        ),
        (
            "[dagster]\nlease_timeout_seconds = -1\n",
            "[dagster] lease_timeout_seconds: expected seconds >= 0, got -1",
        ),
        ("[storage]\nkeep_versions = 0\n", "keep_versions: expected a positive integer, got 0"),
        ("[http]\nretries = 3\n", "[http]: unknown key 'retries'; valid keys: backoff_seconds"),
        ("[http]\ntimeout_seconds = -1\n", "[http] timeout_seconds: expected a positive number"),
        (
            '[sources.pools]\nkind = "x"\nlocation = "y"\n',
            "unknown source [sources.pools]; valid sources: pool_registry",
        ),
        (
            '[sources.pool_registry.m]\nkind = "csv"\nlocation = "y"\n',
            "[sources.pool_registry.m] kind: 'csv' is not a valid kind; "
            "valid kinds: mempool_pools_v2, bitcoin_data_pools, edi_pools",
        ),
        (
            '[sources.pool_registry]\nkind = "mempool_pools_v2"\nlocation = "x"\n',
            "[sources.pool_registry]: 'kind' must be a feed table [sources.pool_registry.kind]",
        ),
        (
            '[sources.pool_registry.m]\nkind = "mempool_pools_v2"\n',
            "[sources.pool_registry.m]: missing key 'location'",
        ),
        (
            f'[sources.pool_registry.m]\nkind = "mempool_pools_v2"\nlocation = "{SAMPLE}"\n'
            "page_size = 5\n",
            "unknown key 'page_size'; valid keys: kind, location",
        ),
        (
            '[sources.pool_registry.m]\nkind = "mempool_pools_v2"\nlocation = "nowhere.json"\n',
            "[sources.pool_registry.m] location: file not found",
        ),
        (
            f'[sources.pool_registry.edi]\nkind = "edi_pools"\nlocation = "{SAMPLE}"\n'
            'addresses = "nowhere.json"\n',
            "[sources.pool_registry.edi] addresses: file not found",
        ),
        ("data_home = [", "not valid TOML"),
        ("[market]\nprecision = 2\n", "[market]: unknown key 'precision'; valid keys: tolerances"),
        ("[trends]\nalpha = 0.9\n", "[trends] alpha: expected a number in (0, 0.5], got 0.9"),
        ("[trends]\nrecent_years = 3\n", "[trends] recent_years: expected a list of positive"),
        ("[trends]\nmin_points = 2\n", "[trends] min_points: expected an integer >= 3, got 2"),
        ("[trends]\nspan = 3\n", "[trends]: unknown key 'span'; valid keys: alpha, fdr"),
        ("[trends]\nfdr = 0\n", "[trends] fdr: expected a number in (0, 0.5], got 0"),
        ("[trends]\nfdr = true\n", "[trends] fdr: expected a number in (0, 0.5], got True"),
        (
            "[market.tolerances]\nprice = 0.1\n",
            "[market] tolerances: unknown key 'price'; valid keys: block_count",
        ),
        (
            "[market.tolerances]\nprice_usd = 5\n",
            "[market] tolerances price_usd: expected a fraction between 0 and 1, got 5",
        ),
        (
            '[sources.market.mp]\nkind = "mempool_api"\nlocation = "https://mempool.space"\n'
            'period = "5y"\n',
            "period: '5y' is not one of 1m, 3m, 6m, 1y, 2y, 3y, all",
        ),
        (
            '[nodes]\nip_database = "dbip"\n',
            "[nodes] ip_database: 'dbip' is not a valid choice; valid choices: dbip_city_lite, "
            "iptocc or the path of a .mmdb file (not a .mmdb file: ",
        ),
        (
            '[nodes]\nip_database = "GeoLite2-City.mmdb"\n',
            "[nodes] ip_database: 'GeoLite2-City.mmdb' is not a valid choice; valid choices: "
            "dbip_city_lite, iptocc or the path of a .mmdb file (file not found: ",
        ),
        ("[nodes]\nip_database = 1\n", "[nodes] ip_database: expected a string, got 1"),
        ("[nodes]\ngeo = 1\n", "[nodes]: unknown key 'geo'; valid keys: asmap, ip_database"),
        (
            '[validation]\nengine = "pandas"\n',
            "[validation] engine: 'pandas' is not a valid choice; valid choices: polars, "
            "great_expectations",
        ),
        ("[validation]\nspeed = 1\n", "[validation]: unknown key 'speed'; valid keys: engine"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "absent.toml")


def test_unconfigured_source_is_named_when_used(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, 'data_home = "wh"\n'))
    with pytest.raises(ConfigError, match=r"\[sources.hashrate_geography\] is not configured"):
        config.source("hashrate_geography")
    with pytest.raises(ConfigError, match=r"no \[sources.pool_registry.<feed>\] table"):
        config.feeds("pool_registry")


def test_market_tolerances_default_and_override(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[market.tolerances]\nhashrate_ehs = 0.1\n"))
    assert config.market_tolerances == {**MARKET_TOLERANCES, "hashrate_ehs": 0.1}
    assert load_config(write(tmp_path, "")).market_tolerances == MARKET_TOLERANCES


def test_trend_settings(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[trends]\nalpha = 0.01\nrecent_years = [5, 3, 3]\n"))
    assert config.trends == {"fdr": 0.05, "alpha": 0.01, "recent_years": [3, 5], "min_points": 6}
    assert load_config(write(tmp_path, "[trends]\nfdr = 0.1\n")).trends["fdr"] == 0.1


def test_validation_engine_defaults_to_polars(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")).validation_engine == "polars"
    chosen = load_config(write(tmp_path, '[validation]\nengine = "great_expectations"\n'))
    assert chosen.validation_engine == "great_expectations"


def test_lake_location_defaults_to_the_data_home(tmp_path: Path) -> None:
    default = load_config(write(tmp_path, ""))
    assert default.lake_location == default.data_home / "lake"
    folder = load_config(write(tmp_path, '[storage]\nlake = "elsewhere/lake"\n'))
    assert folder.lake_location == (tmp_path / "elsewhere" / "lake").resolve()
    bucket = load_config(write(tmp_path, '[storage]\nlake = "s3://bucket/observatory/"\n'))
    assert bucket.lake_location == "s3://bucket/observatory"
    assert (default.keep_versions, bucket.keep_versions) == (7, 7)


def test_lake_env_var_overrides_the_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OBSERVATORY_LAKE", "s3://other/lake")
    config = load_config(write(tmp_path, '[storage]\nlake = "s3://bucket/observatory"\n'))
    assert config.lake_location == "s3://other/lake"


def test_ip_database_defaults_to_dbip_city_lite(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")).nodes["ip_database"] == "dbip_city_lite"
    assert load_config(DEFAULT_CONFIG).nodes["ip_database"] == "dbip_city_lite"
    iptocc = load_config(write(tmp_path, '[nodes]\nip_database = "iptocc"\n'))
    assert iptocc.nodes["ip_database"] == "iptocc"
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "City.mmdb").write_bytes(b"")
    mmdb = load_config(write(tmp_path, '[nodes]\nip_database = "db/City.mmdb"\n'))
    assert mmdb.nodes["ip_database"] == str(tmp_path / "db" / "City.mmdb")


@needs_shared_data
def test_shared_data_config_uses_dbip_city_lite_and_the_shared_asmap() -> None:
    config = load_config(PROJECT_ROOT / "configs" / "shared-data.toml")
    assert config.nodes["ip_database"] == "dbip_city_lite"
    assert Path(config.nodes["asmap"]) == (SHARED_DATA / "nodes" / "asmap-2025-12-04.dat").resolve()


def test_execution_defaults_to_one_process(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))
    assert config.execution.executor == "in_process"
    assert not config.execution.distributed


def test_distributed_execution_settings(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("OBSERVATORY_EXECUTOR", raising=False)
    path = write(
        tmp_path,
        '[storage]\nlake = "s3://bucket/lake"\n[dagster]\nstorage = "postgres"\n'
        '[execution]\nexecutor = "k8s"\nchunk_months = 3\n',
    )
    execution = load_config(path).execution
    assert (execution.executor, execution.chunk_months, execution.distributed) == ("k8s", 3, True)
    assert load_execution(path) == execution  # what the definitions read when imported
    monkeypatch.setenv("OBSERVATORY_EXECUTOR", "celery")
    assert load_execution(path).executor == "celery"
