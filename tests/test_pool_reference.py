"""The curated pool reference seeds: owners by date range and label aliases."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from pipelines.schemas.mining import POOL_LABEL_ALIASES, POOL_OWNERS
from pipelines.sources.seeds import SEEDS, read_pool_label_aliases, read_pool_owners

OWNERS_HEADER = "pool,owner,valid_from,valid_to,source,note\n"


def write_owners(tmp_path: Path, rows: list[str]) -> Path:
    """An owners CSV with the seed's header; rows[0] is CSV line 2."""
    path = tmp_path / "pool_owners.csv"
    path.write_text(OWNERS_HEADER + "".join(f"{row}\n" for row in rows))
    return path


# --- the repo's seed files ----------------------------------------------------------------------


def test_seed_owners_parse_and_pass_their_checks() -> None:
    """Every owner row parses, cites an https source and has no range or overlap error."""
    owners = read_pool_owners()
    assert owners.columns == list(POOL_OWNERS.descriptions)
    assert owners.height > 0
    assert owners.schema["valid_from"] == pl.Date and owners.schema["valid_to"] == pl.Date
    assert owners["source"].str.starts_with("https://").all()
    assert owners.select(pl.col("pool", "owner").is_null().any()).row(0) == (False, False)
    assert owners["range_error"].null_count() == owners.height
    assert owners["overlap_error"].null_count() == owners.height


def test_seed_owners_give_btccom_consecutive_owners() -> None:
    """BTC.com's three owners follow each other without a gap or an overlap."""
    btccom = read_pool_owners().filter(pl.col("pool") == "BTC.com")
    assert btccom.select("owner", "valid_from", "valid_to").rows() == [
        ("Bitmain", None, date(2020, 12, 31)),
        ("Bitdeer", date(2021, 1, 1), date(2021, 3, 31)),
        ("BIT Mining", date(2021, 4, 1), None),
    ]


def test_seed_aliases_parse() -> None:
    """Every alias row names a pool, gives a reason and an https source; keys are unique."""
    aliases = read_pool_label_aliases()
    assert aliases.columns == list(POOL_LABEL_ALIASES.descriptions)
    assert aliases.height > 0
    assert aliases.select(pl.all().is_null().any()).row(0) == (False,) * len(
        POOL_LABEL_ALIASES.descriptions
    )
    assert aliases["source"].str.starts_with("https://").all()
    assert aliases["alias_key"].is_unique().all()
    assert (aliases["alias_key"] != "").all()
    # an alias never points at itself (that would be a no-op row)
    assert (aliases["alias"] != aliases["pool"]).all()


def test_seed_paths_are_in_the_repo() -> None:
    """The readers default to the files in dbt_like_sql/seeds."""
    assert (SEEDS / "pool_owners.csv").is_file()
    assert (SEEDS / "pool_label_aliases.csv").is_file()


# --- read_pool_owners checks --------------------------------------------------------------------


def test_overlapping_rows_are_both_flagged_with_the_other_line(tmp_path: Path) -> None:
    """Two owners of one pool on overlapping days: each row names the other row's CSV line."""
    path = write_owners(
        tmp_path,
        [
            "PoolX,Alpha,,2020-12-31,https://a.example,",  # line 2
            "PoolY,Gamma,2019-01-01,,https://c.example,",  # line 3: another pool, no overlap
            "PoolX,Beta,2020-06-01,,https://b.example,",  # line 4: overlaps line 2
        ],
    )
    owners = read_pool_owners(path)
    assert owners["overlap_error"].to_list() == [
        "PoolX: row 2 overlaps rows 4",
        None,
        "PoolX: row 4 overlaps rows 2",
    ]
    assert owners["range_error"].null_count() == 3


def test_adjacent_ranges_do_not_overlap(tmp_path: Path) -> None:
    """valid_to is inclusive: a range ending the day before the next one starts is fine."""
    path = write_owners(
        tmp_path,
        [
            "PoolX,Alpha,,2020-12-31,https://a.example,",
            "PoolX,Beta,2021-01-01,2021-03-31,https://b.example,",
            "PoolX,Gamma,2021-04-01,,https://c.example,",
        ],
    )
    owners = read_pool_owners(path)
    assert owners["overlap_error"].null_count() == 3


def test_shared_boundary_day_overlaps(tmp_path: Path) -> None:
    """A range ending on the day the next one starts gives the pool two owners that day."""
    path = write_owners(
        tmp_path,
        [
            "PoolX,Alpha,,2021-01-01,https://a.example,",
            "PoolX,Beta,2021-01-01,,https://b.example,",
        ],
    )
    assert read_pool_owners(path)["overlap_error"].to_list() == [
        "PoolX: row 2 overlaps rows 3",
        "PoolX: row 3 overlaps rows 2",
    ]


def test_several_overlaps_are_listed_in_line_order(tmp_path: Path) -> None:
    """An open-ended row overlapping two others lists both lines."""
    path = write_owners(
        tmp_path,
        [
            "PoolX,Open,,,https://a.example,",  # line 2: every day
            "PoolX,Early,2018-01-01,2018-12-31,https://b.example,",  # line 3
            "PoolX,Late,2020-01-01,2020-12-31,https://c.example,",  # line 4
        ],
    )
    assert read_pool_owners(path)["overlap_error"].to_list() == [
        "PoolX: row 2 overlaps rows 3, 4",
        "PoolX: row 3 overlaps rows 2",
        "PoolX: row 4 overlaps rows 2",
    ]


def test_reversed_range_is_a_range_error(tmp_path: Path) -> None:
    """valid_from after valid_to is flagged; a single-day range (from = to) is fine."""
    path = write_owners(
        tmp_path,
        [
            "PoolX,Alpha,2021-05-01,2021-01-31,https://a.example,typo",
            "PoolY,Beta,2021-05-01,2021-05-01,https://b.example,one day",
        ],
    )
    owners = read_pool_owners(path)
    assert owners["range_error"].to_list() == [
        "PoolX: valid_from 2021-05-01 is after valid_to 2021-01-31",
        None,
    ]
    assert owners["overlap_error"].null_count() == 2


def test_bad_date_fails_to_parse(tmp_path: Path) -> None:
    """An impossible date is an error, not a silent null."""
    path = write_owners(tmp_path, ["PoolX,Alpha,2021-13-01,,https://a.example,"])
    with pytest.raises(pl.exceptions.PolarsError):
        read_pool_owners(path)


# --- aliases ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alias", "key"),
    [
        ("BW.COM", "bwcom"),
        ("Bitcoin India", "bitcoinindia"),
        ("Rawpool.com", "rawpoolcom"),
        ("Foundry-USA", "foundryusa"),
        ("七彩神仙鱼", "七彩神仙鱼"),  # letters of any script are kept
        ("Pool #1 (EU)", "pool1eu"),
    ],
)
def test_alias_key_normalisation(tmp_path: Path, alias: str, key: str) -> None:
    """alias_key is the alias lower-cased with everything but letters and digits removed."""
    path = tmp_path / "aliases.csv"
    frame = pl.DataFrame(
        {"alias": [alias], "pool": ["Pool"], "reason": ["r"], "source": ["https://x.example"]}
    )
    frame.write_csv(path)
    aliases = read_pool_label_aliases(path)
    assert aliases.columns == list(POOL_LABEL_ALIASES.descriptions)
    assert aliases.row(0, named=True) == {
        "alias": alias,
        "alias_key": key,
        "pool": "Pool",
        "reason": "r",
        "source": "https://x.example",
    }


def test_owner_dates_must_be_iso(tmp_path: Path) -> None:
    """A day-first date is an error naming the value, never silently read either way."""
    path = tmp_path / "owners.csv"
    path.write_text("pool,owner,valid_from,valid_to,source,note\nA,B,31/12/2020,,https://x.org,n\n")
    with pytest.raises(pl.exceptions.InvalidOperationError, match="31/12/2020"):
        read_pool_owners(path)
