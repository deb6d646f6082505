"""Block attribution: address > tag > label > unknown, owners by date, and merging of feeds."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from pipelines.mining.attribution import (
    UNKNOWN,
    PoolLookup,
    attribute,
    build_lookup,
    is_literal_tag,
    merge_feeds,
    owners_on_date,
)
from pipelines.schemas.mining import (
    ATTRIBUTION_COLUMNS,
    BLOCK_SCHEMA,
    POOL_LABEL_ALIASES,
    conform_blocks,
)
from pipelines.sources.pool_registry import SCHEMA, combine_registries
from pipelines.sources.seeds import read_pool_label_aliases

DAY = date(2024, 1, 1)

# Payout addresses (shapes of real ones; only equality matters).
FOUNDRY_ADDRESS = "bc1qxhmdufsvnuaaaer4ynz88fspdsxq2h9e9cetdj"
ANTPOOL_ADDRESS = "12dRugNcdxK39288NjcDV4GX7rMsKCGn6B"
BTCCOM_ADDRESS = "1Bf9sZvBHPFGVPX71WX2njhd1NXKv5y7v5"
STRANGER_ADDRESS = "bc1qstrangerstrangerstrangerstrangerstrang"

# Registry order matters for ties: CKPool is listed before Solo CK on purpose, so that only the
# length of the tag can make Solo CK win; PoolA before PoolB for the equal-length tie.
REGISTRY_ROWS: list[dict[str, Any]] = [
    {"id": 1, "name": "CKPool", "addresses": [], "tags": ["/ckpool.org/"]},
    {"id": 2, "name": "Solo CK", "addresses": [], "tags": ["/solo.ckpool.org/"]},
    {"id": 3, "name": "BTC.com", "addresses": [BTCCOM_ADDRESS], "tags": ["/BTC.COM/"]},
    {"id": 4, "name": "7pool", "addresses": [], "tags": ["/$Mined by 7pool.com/"]},
    {"id": 5, "name": "F2Pool", "addresses": [], "tags": ["七彩神仙鱼", "/F2Pool/"]},
    {"id": 6, "name": "CanoePool", "addresses": [], "tags": ["/CanoePool/"]},
    {"id": 7, "name": "CANOE", "addresses": [], "tags": ["/CANOE/"]},  # a registry duplicate
    {
        "id": 8,
        "name": "Foundry USA",
        "addresses": [FOUNDRY_ADDRESS],
        "tags": ["/Foundry USA Pool #dropgold/"],
    },
    {"id": 9, "name": "AntPool", "addresses": [ANTPOOL_ADDRESS], "tags": ["/AntPool/"]},
    {"id": 10, "name": "PoolA", "addresses": [], "tags": ["/TieA/"]},
    {"id": 11, "name": "PoolB", "addresses": [], "tags": ["/TieB/"]},
    {"id": 12, "name": "RegexPool", "addresses": [], "tags": ["Mined by [0-9]+pool"]},
]

ALIASES_CSV = (
    "alias,pool,reason,source\n"
    "CANOE,CanoePool,The registry lists CANOE and CanoePool separately,https://www.canoepool.com\n"
    "SlushPool,Braiins Pool,Renamed,https://braiins.com/pool\n"
)

OWNERS = pl.DataFrame(
    {
        "pool": ["BTC.com", "BTC.com", "BTC.com", "AntPool"],
        "owner": ["Bitmain", "Bitdeer", "BIT Mining", "Bitmain"],
        "valid_from": [None, date(2021, 1, 1), date(2021, 4, 1), None],
        "valid_to": [date(2020, 12, 31), date(2021, 3, 31), None, None],
        "source": ["https://example.org/a"] * 4,
        "note": [""] * 4,
        "range_error": [None] * 4,
        "overlap_error": [None] * 4,
    },
    schema_overrides={
        "valid_from": pl.Date,
        "valid_to": pl.Date,
        "range_error": pl.String,
        "overlap_error": pl.String,
    },
)


def registry_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """A one-registry raw.pool_registry frame (mempool-style tags) from partial pool records."""
    full = [
        {
            **row,
            "link": f"https://pool{row['id']}.example",
            "n_addresses": len(row["addresses"]),
            "n_tags": len(row["tags"]),
        }
        for row in rows
    ]
    frame = pl.DataFrame(full, schema=SCHEMA)
    return combine_registries([("mempool", "mempool_pools_v2", "regex_like", frame)])


@pytest.fixture(scope="module")
def aliases(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    """The alias table read the way the pipeline reads its seed file."""
    path: Path = tmp_path_factory.mktemp("seeds") / "pool_label_aliases.csv"
    path.write_text(ALIASES_CSV)
    frame = read_pool_label_aliases(path)
    assert frame.columns == list(POOL_LABEL_ALIASES.descriptions)
    return frame


@pytest.fixture(scope="module")
def lookup(aliases: pl.DataFrame) -> PoolLookup:
    return build_lookup(registry_frame(REGISTRY_ROWS), aliases)


def coinbase(height: int, payload: str | bytes) -> str:
    """Hex of a realistic coinbase scriptSig: BIP34 height push, extranonce bytes, then text."""
    body = payload.encode() if isinstance(payload, str) else payload
    return (b"\x03" + height.to_bytes(3, "little") + b"\x04\x8a\x1f\x00\x00" + body).hex()


def blocks(rows: list[dict[str, Any]], feed: str = "test") -> pl.DataFrame:
    """Blocks in BLOCK_SCHEMA from partial rows (missing fields are null; date defaults to DAY)."""
    full = [{"date": DAY, **row} for row in rows]
    columns = sorted({key for row in full for key in row})
    frame = pl.DataFrame(
        [{c: row.get(c) for c in columns} for row in full],
        schema={c: BLOCK_SCHEMA[c] for c in columns},
    )
    return conform_blocks(frame, feed)


def attribute_rows(
    rows: list[dict[str, Any]], lookup: PoolLookup, owners: pl.DataFrame = OWNERS
) -> dict[int, dict[str, Any]]:
    """Attribute the rows and return them by height."""
    out = attribute(blocks(rows), lookup, owners)
    assert out.columns == list(ATTRIBUTION_COLUMNS)
    assert out.height == len(rows)
    return {row["height"]: row for row in out.iter_rows(named=True)}


def tagged(text: str | bytes, lookup: PoolLookup) -> dict[str, Any]:
    """Attribution of one block whose coinbase carries ``text``."""
    return attribute_rows([{"height": 800_000, "coinbase_hex": coinbase(800_000, text)}], lookup)[
        800_000
    ]


# --- literal tags -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "literal"),
    [
        ("/BTC.COM/", True),  # '.' is meant literally
        ("/$Mined by 7pool.com/", True),  # so is '$'
        ("七彩神仙鱼", True),
        ("Mined by [0-9]+pool", False),  # real regex syntax
        ("^start", False),
        ("a|b", False),
        ("x*", False),
        (r"\d", False),
        ("(group)", False),
    ],
)
def test_is_literal_tag(tag: str, literal: bool) -> None:
    """Only '.' and '$' are read literally; any other regex syntax makes the tag a regex."""
    assert is_literal_tag(tag) is literal


def test_lookup_splits_literal_and_regex_tags(lookup: PoolLookup) -> None:
    """The regex tag goes to regex_tags; every other tag is literal and keyed lower-case."""
    assert lookup.regex_tags["tag"].to_list() == ["Mined by [0-9]+pool"]
    keys = set(lookup.literal_tags["tag_key"].to_list())
    assert {"/btc.com/", "/$mined by 7pool.com/", "七彩神仙鱼", "/canoe/"} <= keys


def test_dot_in_tag_is_literal(lookup: PoolLookup) -> None:
    """'/BTC.COM/' matches itself but not '/BTCXCOM/', which a regex '.' would accept."""
    assert tagged("Mined by /BTC.COM/ for you", lookup)["pool"] == "BTC.com"
    unmatched = tagged("Mined by /BTCXCOM/ for you", lookup)
    assert unmatched["pool"] == UNKNOWN
    assert unmatched["method"] == UNKNOWN
    assert unmatched["tag_pool"] is None


def test_dollar_in_tag_is_literal(lookup: PoolLookup) -> None:
    """'/$Mined by 7pool.com/' matches mid-coinbase (as a regex, '$' could never match there)."""
    # RegexPool's 'Mined by [0-9]+pool' matches this text too, but 7pool's tag is longer.
    row = tagged("\x10/$Mined by 7pool.com/\x00\x01", lookup)
    assert (row["pool"], row["method"], row["tag_pool"]) == ("7pool", "tag", "7pool")
    # The literal '.' again: '7poolXcom' is another text (only the regex tag is left).
    assert tagged("/$Mined by 7poolXcom/", lookup)["pool"] == "RegexPool"


@pytest.mark.parametrize("text", ["/btc.com/", "/Btc.Com/", "/BTC.COM/"])
def test_tags_match_ignoring_ascii_case(text: str) -> None:
    """A registry tag '/BTC.com/' matches whatever the ASCII case in the coinbase."""
    only = build_lookup(
        registry_frame([{"id": 3, "name": "BTC.com", "addresses": [], "tags": ["/BTC.com/"]}]),
        pl.DataFrame(schema={"alias": pl.String, "pool": pl.String}),
    )
    assert tagged(f"xx{text}yy", only)["pool"] == "BTC.com"


def test_non_ascii_tag_matches_amid_invalid_utf8(lookup: PoolLookup) -> None:
    """F2Pool's '七彩神仙鱼' is found although the bytes around it are not valid UTF-8."""
    payload = b"\x03\xff\xfe" + "七彩神仙鱼".encode() + b"\xc3"
    row = tagged(payload, lookup)
    assert (row["pool"], row["method"], row["pool_id"]) == ("F2Pool", "tag", 5)


def test_non_ascii_capitals_in_a_tag_match_themselves() -> None:
    """A tag with non-ASCII capitals matches its exact text; only ASCII case is ignored.

    Regression: the tags used to be lower-cased (Unicode) before the ASCII-case-insensitive
    search, so 'ÄPool' searched for 'äpool' and never found 'ÄPool'.
    """
    only = build_lookup(
        registry_frame([{"id": 1, "name": "Umlaut", "addresses": [], "tags": ["/ÄPool/"]}]),
        pl.DataFrame(schema={"alias": pl.String, "pool": pl.String}),
    )
    assert tagged("xx/ÄPool/yy", only)["pool"] == "Umlaut"
    assert tagged("xx/Äpool/yy", only)["pool"] == "Umlaut"  # ASCII letters: any case
    assert tagged("xx/äpool/yy", only)["pool"] == UNKNOWN  # 'ä' is not 'Ä' ASCII-wise


@pytest.mark.parametrize(
    "text",
    [
        "/solo.ckpool.org/ckpool.org/",  # both tags, overlapping on one '/'
        "/ckpool.org/ then /solo.ckpool.org/",  # shorter tag first in the text
        "/solo.ckpool.org/ then /ckpool.org/",
    ],
)
def test_longest_tag_wins(lookup: PoolLookup, text: str) -> None:
    """Solo CK's longer tag beats CKPool's, although CKPool comes first in the registry."""
    assert tagged(text, lookup)["pool"] == "Solo CK"
    assert tagged("/ckpool.org/", lookup)["pool"] == "CKPool"


def test_equal_length_tags_follow_registry_order(lookup: PoolLookup) -> None:
    """Two tags of the same length: the pool listed first in the registry wins."""
    assert tagged("/TieB//TieA/", lookup)["pool"] == "PoolA"


def test_regex_tag_is_matched_as_regex(lookup: PoolLookup) -> None:
    """'Mined by [0-9]+pool' has real regex syntax, so it matches 'Mined by 42pool' (any case)."""
    assert not is_literal_tag("Mined by [0-9]+pool")
    assert tagged("/Mined by 42pool/", lookup)["pool"] == "RegexPool"
    assert tagged("/mined BY 7POOL/", lookup)["pool"] == "RegexPool"
    # Its literal text is not what it matches: '[' is not a digit.
    assert tagged("Mined by [0-9]+pool", lookup)["pool"] == UNKNOWN


# --- addresses ----------------------------------------------------------------------------------


def test_address_beats_tag_and_disagreement_is_a_conflict(lookup: PoolLookup) -> None:
    """The payout address is the stronger evidence; a tag of another pool flags a conflict."""
    rows = attribute_rows(
        [
            # pays Foundry, tagged AntPool: address wins, conflict
            {
                "height": 1,
                "coinbase_hex": coinbase(1, "/AntPool/"),
                "coinbase_addresses": [FOUNDRY_ADDRESS],
            },
            # pays Foundry, tagged Foundry: agreement is no conflict
            {
                "height": 2,
                "coinbase_hex": coinbase(2, "/Foundry USA Pool #dropgold/"),
                "coinbase_addresses": [FOUNDRY_ADDRESS],
            },
            # address only
            {
                "height": 3,
                "coinbase_hex": coinbase(3, "hello"),
                "coinbase_addresses": [FOUNDRY_ADDRESS],
            },
            # tag only (pays an unregistered address)
            {
                "height": 4,
                "coinbase_hex": coinbase(4, "/AntPool/"),
                "coinbase_addresses": [STRANGER_ADDRESS],
            },
            # address beats the label too
            {"height": 5, "coinbase_addresses": [ANTPOOL_ADDRESS], "label": "Foundry USA"},
        ],
        lookup,
    )
    conflict = rows[1]
    assert (conflict["pool"], conflict["method"], conflict["conflict"]) == (
        "Foundry USA",
        "address",
        True,
    )
    assert (conflict["address_pool"], conflict["tag_pool"]) == ("Foundry USA", "AntPool")
    assert (rows[2]["method"], rows[2]["conflict"]) == ("address", False)
    assert (rows[3]["pool"], rows[3]["method"], rows[3]["tag_pool"]) == (
        "Foundry USA",
        "address",
        None,
    )
    assert rows[3]["conflict"] is False
    assert (rows[4]["pool"], rows[4]["method"], rows[4]["address_pool"]) == ("AntPool", "tag", None)
    assert (rows[5]["pool"], rows[5]["method"], rows[5]["conflict"]) == (
        "AntPool",
        "address",
        False,
    )
    assert rows[5]["label_matched"] is True  # the label is still checked and kept


def test_address_match_uses_lowest_output_index(lookup: PoolLookup) -> None:
    """Two outputs paying two pools: the earlier output decides, whatever the registry order."""
    rows = attribute_rows(
        [
            {"height": 1, "coinbase_addresses": [ANTPOOL_ADDRESS, FOUNDRY_ADDRESS]},
            {"height": 2, "coinbase_addresses": [FOUNDRY_ADDRESS, ANTPOOL_ADDRESS]},
            # unregistered first output, null output: skipped
            {"height": 3, "coinbase_addresses": [STRANGER_ADDRESS, None, ANTPOOL_ADDRESS]},
            {"height": 4, "coinbase_addresses": []},
        ],
        lookup,
    )
    assert rows[1]["pool"] == "AntPool"
    assert rows[2]["pool"] == "Foundry USA"
    assert rows[3]["pool"] == "AntPool"
    assert (rows[4]["pool"], rows[4]["method"]) == (UNKNOWN, UNKNOWN)


def test_address_of_two_pools_goes_to_the_first_in_the_registry() -> None:
    """An address registered by two pools is given to the one listed first."""
    shared = "bc1qshared"
    two = build_lookup(
        registry_frame(
            [
                {"id": 1, "name": "First", "addresses": [shared], "tags": []},
                {"id": 2, "name": "Second", "addresses": [shared], "tags": []},
            ]
        ),
        pl.DataFrame(schema={"alias": pl.String, "pool": pl.String}),
    )
    rows = attribute_rows([{"height": 1, "coinbase_addresses": [shared]}], two)
    assert rows[1]["pool"] == "First"


# --- labels -------------------------------------------------------------------------------------


def test_labels_are_normalised_to_registry_names(lookup: PoolLookup) -> None:
    """Aliases, slugs and spellings that differ in case or punctuation reach one registry name."""
    labels = ["CANOE", "btccom", "Foundry USA", "foundryusa", "FOUNDRY-USA", "BTC.com", "f2pool"]
    rows = attribute_rows([{"height": h, "label": label} for h, label in enumerate(labels)], lookup)
    got = [(rows[h]["pool"], rows[h]["method"], rows[h]["label_matched"]) for h in rows]
    expected = ["CanoePool", "BTC.com", "Foundry USA", "Foundry USA", "Foundry USA", "BTC.com"]
    assert got == [(pool, "label", True) for pool in [*expected, "F2Pool"]]
    assert [rows[h]["label"] for h in rows] == labels  # the label is kept as written
    assert rows[0]["pool_id"] == 6  # CanoePool's id, not the duplicate CANOE's


@pytest.mark.parametrize("label", ["unknown", "Unknown", "failed", "FAILED", "", "  "])
def test_unknown_labels_are_no_evidence(lookup: PoolLookup, label: str) -> None:
    """'unknown', 'failed' and empty labels leave the block unknown, with no label verdict."""
    row = attribute_rows([{"height": 1, "label": label}], lookup)[1]
    assert (row["pool"], row["method"], row["owner"]) == (UNKNOWN, UNKNOWN, UNKNOWN)
    assert row["label_matched"] is None
    assert row["pool_id"] is None
    assert row["label"] == label


def test_unmatched_label_is_kept_and_flagged(lookup: PoolLookup) -> None:
    """A label naming no registry pool becomes its own entity, flagged label_matched = False."""
    row = attribute_rows([{"height": 1, "label": "NotAPool"}], lookup)[1]
    assert (row["pool"], row["method"], row["label_matched"]) == ("NotAPool", "label", False)
    assert row["pool_id"] is None
    assert row["owner"] == "NotAPool"


def test_tag_beats_label_and_no_evidence_is_unknown(lookup: PoolLookup) -> None:
    """A coinbase tag is stronger than a file's label; nothing at all is 'unknown'."""
    rows = attribute_rows(
        [
            {"height": 1, "coinbase_hex": coinbase(1, "/F2Pool/"), "label": "AntPool"},
            {"height": 2, "coinbase_hex": coinbase(2, "no tag here"), "label": "AntPool"},
            {"height": 3},
        ],
        lookup,
    )
    assert (rows[1]["pool"], rows[1]["method"], rows[1]["conflict"]) == ("F2Pool", "tag", False)
    assert (rows[2]["pool"], rows[2]["method"]) == ("AntPool", "label")
    assert (rows[3]["pool"], rows[3]["method"], rows[3]["label_matched"]) == (
        UNKNOWN,
        UNKNOWN,
        None,
    )
    assert rows[3]["conflict"] is False


def test_aliased_registry_duplicate_resolves_to_the_canonical_pool(lookup: PoolLookup) -> None:
    """The duplicate entry CANOE is one pool with CanoePool: its tag gives CanoePool's id."""
    row = tagged("/CANOE/", lookup)
    assert (row["pool"], row["pool_id"], row["method"]) == ("CanoePool", 6, "tag")
    assert "CANOE" not in lookup.pools["pool"].to_list()
    canoe = lookup.pools.filter(pl.col("pool") == "CanoePool").row(0, named=True)
    assert canoe["pool_id"] == 6


# --- owners -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "owner"),
    [
        (date(2016, 6, 1), "Bitmain"),  # open start
        (date(2020, 12, 31), "Bitmain"),  # valid_to is inclusive
        (date(2021, 1, 1), "Bitdeer"),
        (date(2021, 3, 31), "Bitdeer"),
        (date(2021, 4, 1), "BIT Mining"),
        (date(2025, 1, 1), "BIT Mining"),  # open end
    ],
)
def test_owner_depends_on_the_block_date(lookup: PoolLookup, day: date, owner: str) -> None:
    """BTC.com changed hands: the owner is the one valid on the block's day."""
    row = attribute_rows([{"height": 1, "date": day, "label": "BTC.com"}], lookup)[1]
    assert (row["pool"], row["owner"]) == ("BTC.com", owner)


def test_pools_without_owner_row_own_themselves(lookup: PoolLookup) -> None:
    """A pool without an owner row is its own owner; unknown's owner is 'unknown'."""
    rows = attribute_rows(
        [
            {"height": 1, "label": "Foundry USA"},
            {"height": 2},
            {"height": 3, "label": "AntPool"},
        ],
        lookup,
    )
    assert [rows[h]["owner"] for h in (1, 2, 3)] == ["Foundry USA", UNKNOWN, "Bitmain"]


def test_owners_on_date_only_returns_blocks_with_a_valid_row() -> None:
    """owners_on_date gives a row only for blocks whose pool has an owner on that day."""
    attributed = pl.DataFrame(
        {
            "height": [1, 2, 3],
            "pool": ["BTC.com", "BTC.com", "Foundry USA"],
            "date": [date(2020, 12, 31), date(2021, 1, 1), date(2021, 1, 1)],
        }
    )
    got = owners_on_date(attributed, OWNERS).sort("height")
    assert got.rows() == [(1, "Bitmain"), (2, "Bitdeer")]


# --- merging feeds ------------------------------------------------------------------------------


def _two_feeds() -> pl.DataFrame:
    """Height 100 in a coinbase feed (header time) and a labelled feed (estimated date)."""
    header_time = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    coinbase_feed = blocks(
        [
            {
                "height": 100,
                "hash": "00aa",
                "time": header_time,
                "date": header_time.date(),
                "date_source": "header",
                "coinbase_hex": coinbase(100, "/AntPool/"),
                "coinbase_addresses": [STRANGER_ADDRESS],
            },
            {
                "height": 101,
                "hash": "00bb",
                "time": header_time,
                "date": header_time.date(),
                "date_source": "header",
                "coinbase_hex": coinbase(101, "/F2Pool/"),
            },
        ],
        feed="coinbase",
    )
    labelled_feed = blocks(
        [
            {
                "height": 100,
                "date": date(2024, 1, 1),
                "date_source": "block_count_series",
                "label": "antpool",
                "label_scheme": "slug",
            },
            {
                "height": 102,
                "date": date(2024, 1, 1),
                "date_source": "block_count_series",
                "label": "foundryusa",
                "label_scheme": "slug",
            },
        ],
        feed="labels",
    )
    return pl.concat([labelled_feed, coinbase_feed])


@pytest.mark.parametrize("order", [["coinbase", "labels"], ["labels", "coinbase"]])
def test_merge_combines_the_evidence_of_both_feeds(order: list[str]) -> None:
    """A height in two feeds keeps the coinbase of one and the label of the other; the header
    time wins over an estimated date whichever feed comes first; 'feed' is the first feed."""
    merged, report = merge_feeds(_two_feeds(), order)
    assert merged.columns == list(BLOCK_SCHEMA)
    assert merged["height"].to_list() == [100, 101, 102]
    row = merged.row(0, named=True)
    assert row["feed"] == order[0]
    assert row["coinbase_hex"] == coinbase(100, "/AntPool/")
    assert row["coinbase_addresses"] == [STRANGER_ADDRESS]
    assert (row["label"], row["label_scheme"], row["hash"]) == ("antpool", "slug", "00aa")
    assert (row["time"], row["date"], row["date_source"]) == (
        datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        date(2024, 1, 2),
        "header",
    )
    only_labels = merged.row(2, named=True)
    assert (only_labels["feed"], only_labels["date_source"]) == ("labels", "block_count_series")
    assert report == {
        "rows": 4,
        "blocks": 3,
        "heights_in_several_feeds": 1,
        "heights_with_conflicting_hashes": 0,
    }


def test_merge_feed_order_decides_between_disagreeing_feeds() -> None:
    """Two feeds with different labels and hashes: the earlier feed's values are kept, and the
    conflicting hashes are counted."""
    first = blocks([{"height": 7, "hash": "aa", "label": "AntPool"}], feed="first")
    second = blocks(
        [
            {"height": 7, "hash": "bb", "label": "F2Pool"},
            {"height": 8, "hash": "cc", "label": "F2Pool"},
        ],
        feed="second",
    )
    frame = pl.concat([second, first])
    merged, report = merge_feeds(frame, ["first", "second"])
    assert merged.filter(pl.col("height") == 7).select("hash", "label", "feed").row(0) == (
        "aa",
        "AntPool",
        "first",
    )
    merged, _ = merge_feeds(frame, ["second", "first"])
    assert merged.filter(pl.col("height") == 7).select("hash", "label", "feed").row(0) == (
        "bb",
        "F2Pool",
        "second",
    )
    assert report["heights_with_conflicting_hashes"] == 1
    assert report["heights_in_several_feeds"] == 1
    assert (report["rows"], report["blocks"]) == (3, 2)


def test_merge_ranks_unlisted_feeds_last() -> None:
    """A feed missing from the order loses against every listed feed."""
    frame = pl.concat(
        [
            blocks([{"height": 1, "label": "AntPool"}], feed="stray"),
            blocks([{"height": 1, "label": "F2Pool"}], feed="listed"),
        ]
    )
    merged, _ = merge_feeds(frame, ["listed"])
    assert merged.select("label", "feed").row(0) == ("F2Pool", "listed")


def test_merged_blocks_attribute_with_tag_over_label(lookup: PoolLookup) -> None:
    """After the merge, the coinbase tag of one feed outranks the label of the other."""
    merged, _ = merge_feeds(_two_feeds(), ["labels", "coinbase"])
    out = attribute(merged, lookup, OWNERS)
    got = out.select("height", "pool", "method", "owner", "label_matched").rows()
    assert got == [
        (100, "AntPool", "tag", "Bitmain", True),
        (101, "F2Pool", "tag", "F2Pool", None),
        (102, "Foundry USA", "label", "Foundry USA", True),
    ]


def _feeds(*feeds: tuple[str, list[dict[str, Any]]]) -> pl.DataFrame:
    return pl.concat([blocks(rows, feed=name) for name, rows in feeds])


def _decided(frame: pl.DataFrame, lookup: PoolLookup, order: list[str]) -> dict[int, tuple]:
    out = attribute(frame, lookup, OWNERS, order)
    assert out.columns == list(ATTRIBUTION_COLUMNS)
    columns = ["pool", "method", "evidence_feed", "label", "conflict"]
    return {row[0]: row[1:] for row in out.select("height", *columns).iter_rows()}


@pytest.mark.parametrize("order", [["node", "slugs"], ["slugs", "node"]])
def test_an_unknown_label_never_hides_a_pool_another_feed_names(
    lookup: PoolLookup, order: list[str]
) -> None:
    """One feed says 'unknown' (or 'failed', or nothing usable), the other names the pool: the
    pool wins whichever feed comes first, decided by the naming feed, without a conflict."""
    frame = _feeds(
        ("node", [{"height": 1, "label": "unknown"}, {"height": 2, "label": "Failed"}]),
        ("slugs", [{"height": 1, "label": "antpool"}, {"height": 2, "label": "canoe"}]),
    )
    assert _decided(frame, lookup, order) == {
        1: ("AntPool", "label", "slugs", "antpool", False),
        2: ("CanoePool", "label", "slugs", "canoe", False),
    }
    merged, _ = merge_feeds(frame, order)
    assert merged.select("label", "label_scheme").rows() == [("antpool", None), ("canoe", None)]


def test_a_registry_entry_named_unknown_identifies_no_pool(aliases: pl.DataFrame) -> None:
    """A registry's own "Unknown" entry (mempool's legacy registry has one) is no pool either."""
    rows = [*REGISTRY_ROWS, {"id": 99, "name": "Unknown", "addresses": [], "tags": []}]
    lookup = build_lookup(registry_frame(rows), aliases)
    frame = _feeds(
        ("a", [{"height": 5, "label": "UNKNOWN"}]), ("b", [{"height": 5, "label": "F2Pool"}])
    )
    assert _decided(frame, lookup, ["a", "b"]) == {5: ("F2Pool", "label", "b", "F2Pool", False)}


def test_two_feeds_naming_different_pools_follow_precedence_and_conflict(
    lookup: PoolLookup,
) -> None:
    """Both feeds identify the block, differently: the earlier feed wins and the block is flagged.
    The same pool spelt two ways (slug and name) is no conflict."""
    frame = _feeds(
        ("first", [{"height": 7, "label": "AntPool"}, {"height": 8, "label": "btccom"}]),
        ("second", [{"height": 7, "label": "f2pool"}, {"height": 8, "label": "BTC.com"}]),
    )
    assert _decided(frame, lookup, ["first", "second"]) == {
        7: ("AntPool", "label", "first", "AntPool", True),
        8: ("BTC.com", "label", "first", "btccom", False),
    }
    assert _decided(frame, lookup, ["second", "first"])[7] == (
        "F2Pool",
        "label",
        "second",
        "f2pool",
        True,
    )


def test_a_coinbase_that_matches_nothing_gives_way_to_a_label(lookup: PoolLookup) -> None:
    """A coinbase with no known tag or address is no evidence: the other feed's label decides;
    a coinbase that does match beats the label and is credited to its own feed."""
    frame = _feeds(
        (
            "coinbase",
            [
                {
                    "height": 3,
                    "coinbase_hex": coinbase(3, "nothing to see"),
                    "coinbase_addresses": [STRANGER_ADDRESS],
                },
                {"height": 4, "coinbase_hex": coinbase(4, "/F2Pool/")},
            ],
        ),
        ("labels", [{"height": 3, "label": "foundryusa"}, {"height": 4, "label": "unknown"}]),
    )
    assert _decided(frame, lookup, ["coinbase", "labels"]) == {
        3: ("Foundry USA", "label", "labels", "foundryusa", False),
        4: ("F2Pool", "tag", "coinbase", "unknown", False),
    }


def test_a_block_no_feed_identifies_stays_unknown(lookup: PoolLookup) -> None:
    """Every feed says unknown: the block is unknown, decided by no feed, its label kept."""
    frame = _feeds(("a", [{"height": 9, "label": "unknown"}]), ("b", [{"height": 9, "label": ""}]))
    assert _decided(frame, lookup, ["a", "b"]) == {9: (UNKNOWN, UNKNOWN, None, "unknown", False)}


def test_feeds_whose_coinbases_name_different_pools_conflict(lookup: PoolLookup) -> None:
    """Two feeds' coinbases tag different pools (a stale block in one): precedence, and a flag."""
    frame = _feeds(
        ("rpc", [{"height": 11, "coinbase_hex": coinbase(11, "/AntPool/")}]),
        ("export", [{"height": 11, "coinbase_hex": coinbase(11, "/F2Pool/")}]),
    )
    assert _decided(frame, lookup, ["export", "rpc"]) == {
        11: ("F2Pool", "tag", "export", None, True)
    }


# --- scale --------------------------------------------------------------------------------------


def test_attribution_of_many_mixed_blocks(lookup: PoolLookup) -> None:
    """20,000 mixed blocks in one call (speed is benchmarked by pipelines.benchmarks.mining)."""
    n = 20_000
    payloads = [
        "/AntPool/",
        "七彩神仙鱼",
        "/solo.ckpool.org/",
        "Mined by 9pool",
        "nothing",
        "/BTC.COM/",
    ]
    frame = blocks(
        [
            {
                "height": h,
                "coinbase_hex": coinbase(h, payloads[h % len(payloads)]),
                "coinbase_addresses": [FOUNDRY_ADDRESS] if h % 7 == 0 else [STRANGER_ADDRESS],
                "label": "foundryusa" if h % 5 == 0 else None,
            }
            for h in range(n)
        ]
    )
    out = attribute(frame, lookup, OWNERS)
    assert out.height == n
    assert out["height"].is_sorted()
    counts = dict(out.group_by("method").len().rows())
    assert counts["address"] == len(range(0, n, 7))
    expected_unknown = sum(1 for h in range(n) if h % 6 == 4 and h % 7 and h % 5)
    assert counts[UNKNOWN] == expected_unknown
    assert out.filter(pl.col("height") == 3)["pool"].item() == "RegexPool"
    assert out.filter(pl.col("height") == 2)["pool"].item() == "Solo CK"
