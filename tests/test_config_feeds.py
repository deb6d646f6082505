"""Multi-feed sources ([sources.blocks.<feed>]) and the [mining] table of the config file."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from pathlib import Path

import pytest

from pipelines.config import ConfigError, load_config


def write(folder: Path, text: str) -> Path:
    """A config file in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "observatory.toml"
    path.write_text(text)
    return path


def touch(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def labelled_feed(name: str, location: str, **options: str) -> str:
    """TOML for a labelled_blocks feed table."""
    lines = [f"[sources.blocks.{name}]", 'kind = "labelled_blocks"', f'location = "{location}"']
    lines += [f'{key} = "{value}"' for key, value in options.items()]
    return "\n".join(lines) + "\n"


MEMPOOL = '[sources.blocks.{name}]\nkind = "mempool_rest"\nlocation = "https://mempool.space"\n'


def assert_config_error(path: Path, *fragments: str) -> None:
    """Loading ``path`` fails with a ConfigError naming the file and every fragment."""
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message


# --- feeds --------------------------------------------------------------------------------------


def test_feeds_keep_file_order(tmp_path: Path) -> None:
    """feeds() lists the feed tables in file order (not alphabetical), even when another source's
    table comes between them; that order is the feeds' precedence."""
    touch(tmp_path / "labels.csv", "height,pool\n")
    touch(tmp_path / "pools.json", "[]")
    path = write(
        tmp_path,
        MEMPOOL.format(name="zeta")
        + '[sources.pool_registry.m]\nkind = "mempool_pools_v2"\nlocation = "pools.json"\n'
        + labelled_feed("alpha", "labels.csv")
        + MEMPOOL.format(name="mid"),
    )
    config = load_config(path)
    feeds = config.feeds("blocks")
    assert [feed.name for feed in feeds] == ["zeta", "alpha", "mid"]
    assert [feed.key for feed in feeds] == ["blocks.zeta", "blocks.alpha", "blocks.mid"]
    assert [feed.kind for feed in feeds] == ["mempool_rest", "labelled_blocks", "mempool_rest"]
    assert config.source("pool_registry.m").kind == "mempool_pools_v2"
    assert config.source("blocks.alpha").location == str(tmp_path / "labels.csv")


def test_feed_options_get_their_defaults(tmp_path: Path) -> None:
    """Options left out take the kind's defaults; a float option accepts an integer."""
    path = write(
        tmp_path,
        MEMPOOL.format(name="m") + "min_interval_seconds = 2\n" + labelled_feed("l", "x.csv"),
    )
    touch(tmp_path / "x.csv")
    feeds = {feed.name: feed for feed in load_config(path).feeds("blocks")}
    assert asdict(feeds["m"].options) == {"min_interval_seconds": 2, "concurrency": 1}
    assert feeds["m"].is_remote
    assert asdict(feeds["l"].options) == {
        "height_column": "height",
        "label_column": "pool",
        "label_scheme": "name",
        "time_column": "",
        "hash_column": "",
        "block_counts": "",  # empty: no path to resolve
    }


def test_path_option_resolves_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """block_counts is a path relative to the config file, not to the working directory."""
    folder = tmp_path / "configs"
    counts = touch(tmp_path / "data" / "counts.csv", "date,blocks\n")
    touch(tmp_path / "data" / "labels.csv", "height,pool\n")
    path = write(
        folder,
        labelled_feed(
            "btccom",
            "../data/labels.csv",
            label_scheme="slug",
            block_counts="../data/counts.csv",
        ),
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    (feed,) = load_config(path).feeds("blocks")
    assert feed.name == "btccom"
    assert feed.options.block_counts == str(counts.resolve())
    assert feed.options.label_scheme == "slug"
    assert feed.location == str((tmp_path / "data" / "labels.csv").resolve())


def test_missing_path_option_names_the_key(tmp_path: Path) -> None:
    """A block_counts file that does not exist is an error naming the feed and the key."""
    touch(tmp_path / "labels.csv")
    path = write(tmp_path, labelled_feed("btccom", "labels.csv", block_counts="absent.csv"))
    assert_config_error(
        path,
        "[sources.blocks.btccom] block_counts: file not found",
        str(tmp_path / "absent.csv"),
    )


def test_missing_feed_location_names_the_feed(tmp_path: Path) -> None:
    """A feed file that does not exist is an error naming the feed."""
    path = write(tmp_path, labelled_feed("btccom", "nowhere.csv"))
    assert_config_error(path, "[sources.blocks.btccom] location: file not found")


@pytest.mark.parametrize(
    ("option", "fragment"),
    [
        ('concurrency = "two"', "concurrency: expected int, got 'two'"),
        ("concurrency = 2.5", "concurrency: expected int, got 2.5"),
        ("concurrency = true", "concurrency: expected int, got True"),
        ('min_interval_seconds = "1s"', "min_interval_seconds: expected float, got '1s'"),
        ("min_interval_seconds = false", "min_interval_seconds: expected float, got False"),
    ],
)
def test_wrong_option_type(tmp_path: Path, option: str, fragment: str) -> None:
    """An option of the wrong type (booleans included) names the feed, key and value."""
    path = write(tmp_path, MEMPOOL.format(name="m") + option + "\n")
    assert_config_error(path, f"[sources.blocks.m] {fragment}")


def test_label_scheme_must_be_a_known_choice(tmp_path: Path) -> None:
    """label_scheme accepts name or slug only, and the error lists both."""
    touch(tmp_path / "labels.csv")
    path = write(tmp_path, labelled_feed("l", "labels.csv", label_scheme="nickname"))
    assert_config_error(
        path, "[sources.blocks.l] label_scheme: 'nickname' is not one of name, slug"
    )


def test_unknown_feed_option_lists_the_valid_ones(tmp_path: Path) -> None:
    """An option the kind does not take is named, with the kind's valid keys and what each is."""
    path = write(tmp_path, MEMPOOL.format(name="m") + "cookie_file = 'x'\n")
    assert_config_error(
        path,
        "[sources.blocks.m] (kind mempool_rest): unknown key 'cookie_file'",
        "concurrency",
        "min_interval_seconds",
        "(min_interval_seconds: least time between two requests; concurrency: requests in "
        "flight at once)",
    )


def test_unknown_feed_kind_lists_the_kinds(tmp_path: Path) -> None:
    """A feed kind that does not exist is named with the block kinds."""
    path = write(tmp_path, '[sources.blocks.x]\nkind = "mempool_pools_v2"\nlocation = "y"\n')
    assert_config_error(
        path, "[sources.blocks.x] kind: 'mempool_pools_v2' is not a valid kind", "labelled_blocks"
    )


def test_blocks_without_feed_tables_is_an_error(tmp_path: Path) -> None:
    """[sources.blocks] with kind/location directly (no feed name) says to use a feed table."""
    path = write(tmp_path, '[sources.blocks]\nkind = "mempool_rest"\n')
    assert_config_error(path, "[sources.blocks]: 'kind' must be a feed table [sources.blocks.kind]")


def test_feeds_without_any_feed_is_an_error(tmp_path: Path) -> None:
    """Asking for the feeds of a config without any names the missing table and the kinds."""
    config = load_config(write(tmp_path, 'data_home = "wh"\n'))
    with pytest.raises(ConfigError) as err:
        config.feeds("blocks")
    message = str(err.value)
    assert "no [sources.blocks.<feed>] table" in message
    assert "mempool_rest" in message and str(config.path) in message


def test_feed_name_is_not_a_single_source(tmp_path: Path) -> None:
    """A multi-feed source is reached through feeds(), not source('blocks')."""
    config = load_config(write(tmp_path, MEMPOOL.format(name="m")))
    with pytest.raises(ConfigError, match=r"\[sources.blocks\] is not configured"):
        config.source("blocks")
    assert config.source("blocks.m").location == "https://mempool.space"


# --- [mining] -----------------------------------------------------------------------------------


def test_mining_defaults(tmp_path: Path) -> None:
    """Without a [mining] table the 30-day windows start on 2018-01-01."""
    config = load_config(write(tmp_path, 'data_home = "wh"\n'))
    assert config.mining == {"anchor_30d": "2018-01-01"}


@pytest.mark.parametrize("value", ['"2020-01-06"', "2020-01-06"], ids=["string", "toml-date"])
def test_anchor_30d_accepts_a_date(tmp_path: Path, value: str) -> None:
    """anchor_30d may be a quoted or a TOML date; consumers always get an ISO string.

    Regression: a TOML date passed validation (checked through str()) but reached the asset as a
    datetime.date, where date.fromisoformat() raised TypeError.
    """
    config = load_config(write(tmp_path, f"[mining]\nanchor_30d = {value}\n"))
    assert config.mining["anchor_30d"] == "2020-01-06"
    assert date.fromisoformat(config.mining["anchor_30d"]) == date(2020, 1, 6)


@pytest.mark.parametrize(
    "value",
    ['"2018-13-01"', '"yesterday"', '""', "2018-01-01T00:00:00", "20180101", "true"],
)
def test_anchor_30d_rejects_what_is_not_a_day(tmp_path: Path, value: str) -> None:
    """An impossible date, text, a datetime or a number is an error naming the key."""
    path = write(tmp_path, f"[mining]\nanchor_30d = {value}\n")
    assert_config_error(path, "[mining] anchor_30d: expected a date YYYY-MM-DD")


def test_unknown_mining_key(tmp_path: Path) -> None:
    """[mining] takes only known keys."""
    path = write(tmp_path, "[mining]\nanchor = 2018-01-01\n")
    assert_config_error(path, "[mining]: unknown key 'anchor'; valid keys: anchor_30d")
