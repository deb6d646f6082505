"""Block-file readers: BigQuery NDJSON, labelled CSV/Parquet, daily block counts and dating."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from pipelines.schemas.mining import BLOCK_SCHEMA
from pipelines.schemas.rejects import REJECT_SCHEMA
from pipelines.sources.block_files import (
    date_heights_from_block_counts,
    read_bigquery_coinbase_ndjson,
    read_block_counts_csv,
    read_labelled_blocks,
)
from tests.conftest import FIXTURES, SHARED_DATA, needs_shared_data

BLOCKS = FIXTURES / "blocks"
POOLS = SHARED_DATA / "pools"


def rejects_of(rejects: pl.DataFrame) -> list[tuple[str, str, str | None, str]]:
    return [
        (r["record"], r["field"], r["value"], r["problem"]) for r in rejects.iter_rows(named=True)
    ]


def check_shapes(blocks: pl.DataFrame, rejects: pl.DataFrame) -> None:
    assert blocks.schema == pl.Schema(BLOCK_SCHEMA)
    assert rejects.schema == pl.Schema(REJECT_SCHEMA)


@pytest.fixture
def block_counts() -> pl.DataFrame:
    return read_block_counts_csv(BLOCKS / "block-counts.csv")


# --- BigQuery NDJSON ------------------------------------------------------------------------------


def test_bigquery_fixture_keeps_good_blocks_and_quarantines_bad_lines() -> None:
    blocks, rejects = read_bigquery_coinbase_ndjson(BLOCKS / "bigquery-coinbase.ndjson", "bq")
    check_shapes(blocks, rejects)
    assert blocks["height"].to_list() == [700000, 700001, 700003, 700004, 700005]
    assert set(blocks["feed"]) == {"bq"}
    first = blocks.row(0, named=True)
    assert first["time"] == datetime(2021, 9, 11, 4, 14, 32, tzinfo=UTC)
    assert first["date"] == date(2021, 9, 11) and first["date_source"] == "header"
    # outputs sorted by index; the OP_RETURN pseudo-address is null; "628286234" is a number
    assert first["coinbase_addresses"] == ["bc1qxhmdufsvnuaaaer4ynz88fspdsxq2h9e9cetdj", None]
    assert first["coinbase_values_sats"] == [628286234, 0]
    assert first["coinbase_hex"].startswith("0360ae0a2f466f756e647279")
    bad_time = blocks.row(2, named=True)  # kept, with its time nulled
    assert bad_time["time"] is None and bad_time["date"] is None and bad_time["date_source"] is None
    assert blocks.row(3, named=True)["coinbase_values_sats"] == [None, 0]
    assert blocks.row(4, named=True)["coinbase_addresses"] == []
    assert rejects_of(rejects) == [
        ("line 4", "line", rejects["value"][0], "malformed JSON"),
        (
            "line 5",
            "timestamp",
            "2021-13-45 99:00:00 UTC",
            "not a 'YYYY-MM-DD hh:mm:ss UTC' timestamp",
        ),
        ("line 6", "outputs[0].value", "12.5 BTC", "not a non-negative integer number of satoshis"),
    ]
    assert rejects["value"][0].startswith('{"number":"700002"')
    assert set(rejects["feed"]) == {"bq"}


def test_bigquery_bad_fields_on_the_fast_path(tmp_path: Path) -> None:
    lines = (BLOCKS / "bigquery-coinbase.ndjson").read_text().splitlines()
    good, bad_time, bad_value = lines[0], lines[4], lines[5]
    no_height = good.replace('"number":"700000"', '"number":"7e5"')
    negative = good.replace('"number":"700000"', '"number":-3')
    no_time = good.replace('"timestamp":"2021-09-11 04:14:32 UTC",', "")
    path = tmp_path / "export.ndjson"
    path.write_text(
        "\n".join([good, "", bad_time, bad_value, no_height, negative, no_time, "null"])
    )
    blocks, rejects = read_bigquery_coinbase_ndjson(path, "bq")
    check_shapes(blocks, rejects)
    assert blocks["height"].to_list() == [700000, 700003, 700004, 700000]
    assert [r[:2] + r[3:] for r in rejects_of(rejects)] == [
        ("line 3", "timestamp", "not a 'YYYY-MM-DD hh:mm:ss UTC' timestamp"),
        ("line 4", "outputs[0].value", "not a non-negative integer number of satoshis"),
        ("line 5", "number", "not a non-negative integer"),
        ("line 6", "number", "not a non-negative integer"),
        ("line 7", "timestamp", "missing"),
        ("line 8", "line", "not a JSON object"),
    ]
    assert rejects["value"].to_list()[2:5] == ["7e5", "-3", None]


def test_bigquery_lines_of_the_wrong_shape_or_with_nul_bytes(tmp_path: Path) -> None:
    good = (BLOCKS / "bigquery-coinbase.ndjson").read_text().splitlines()[1]
    lines = [
        good,
        good.replace('"outputs":[', '"outputs":{"0":[').replace("}]}", "}]}}"),
        "   ",
        "[1, 2]",
        good[:40] + "\x00" + good[40:],
        good.replace("700001", "700009"),
    ]
    path = tmp_path / "export.ndjson"
    path.write_text("\r\n".join(lines) + "\r\n")
    blocks, rejects = read_bigquery_coinbase_ndjson(path, "bq")
    check_shapes(blocks, rejects)
    assert blocks["height"].to_list() == [700001, 700009]
    assert rejects["record"].to_list() == ["line 2", "line 4", "line 5"]
    assert rejects["problem"][0].startswith("not a block record")
    assert rejects["problem"].to_list()[1:] == ["not a JSON object", "line contains a NUL byte"]
    assert rejects["value"][2] == (good[:40] + r"\x00" + good[40:])[:200]


def test_bigquery_fractional_seconds_and_outputs_in_any_order(tmp_path: Path) -> None:
    """Fractions of a second are kept; outputs are put in index order however long the list,
    unparseable indexes first, ties in file order."""
    record = json.loads((BLOCKS / "bigquery-coinbase.ndjson").read_text().splitlines()[1])

    def block(number: int, indexes: list[str], timestamp: str = "2021-09-11 04:21:05 UTC") -> str:
        outputs = [
            {"index": index, "addresses": [f"1Payout{i}"], "value": i}
            for i, index in enumerate(indexes)
        ]
        return json.dumps(
            {**record, "number": str(number), "timestamp": timestamp, "outputs": outputs}
        )

    path = tmp_path / "export.ndjson"
    lines = [
        block(1, ["0", "1"], "2021-09-11 04:21:05.25 UTC"),
        block(2, ["5", "0", "3", "1", "4", "2"]),
        block(3, ["0", "1", "2", "3", "5", "4"]),  # in order as far as a first look goes
        block(4, ["1", "x", "0", "1"]),
    ]
    path.write_text("\n".join(lines))
    blocks, rejects = read_bigquery_coinbase_ndjson(path, "bq")
    check_shapes(blocks, rejects)
    assert rejects.is_empty()
    assert blocks["time"][0] == datetime(2021, 9, 11, 4, 21, 5, 250_000, tzinfo=UTC)
    assert blocks["coinbase_values_sats"].to_list() == [
        [0, 1],
        [1, 3, 5, 2, 4, 0],
        [0, 1, 2, 3, 5, 4],
        [1, 2, 0, 3],
    ]
    assert blocks["coinbase_addresses"][1].to_list() == [f"1Payout{i}" for i in (1, 3, 5, 2, 4, 0)]


def test_bigquery_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.ndjson").write_text("")
    blocks, rejects = read_bigquery_coinbase_ndjson(tmp_path / "empty.ndjson", "bq")
    check_shapes(blocks, rejects)
    assert blocks.is_empty() and rejects.is_empty()


# --- block counts and dating ----------------------------------------------------------------------


def test_block_counts_csv(block_counts: pl.DataFrame) -> None:
    assert block_counts.schema == pl.Schema({"date": pl.Date(), "blocks": pl.Int64()})
    assert block_counts["blocks"].to_list() == [0, 0, 3, 2, 4]
    assert block_counts["date"][0] == date(2009, 1, 3)


def test_dating_from_block_counts(block_counts: pl.DataFrame) -> None:
    # running totals: 01-03: 0, 01-04: 0, 01-05: 3, 01-06: 5, 01-07: 9
    heights = pl.Series("height", [9, 0, 1, 3, 4, None, 5, 6, 10])
    dates = date_heights_from_block_counts(heights, block_counts)
    day = lambda d: date(2009, 1, d)  # noqa: E731
    assert dates.to_list() == [day(7), day(3), day(5), day(5), day(6), None, day(6), day(7), None]
    assert dates.name == "date" and dates.dtype == pl.Date
    frame = pl.DataFrame({"height": [2, 8]})
    assert date_heights_from_block_counts(frame, block_counts).to_list() == [day(5), day(7)]
    with pytest.raises(ValueError, match="genesis day"):
        date_heights_from_block_counts(heights, block_counts.slice(1))


# --- labelled files -------------------------------------------------------------------------------


def test_labelled_csv_dated_from_block_counts(block_counts: pl.DataFrame) -> None:
    blocks, rejects = read_labelled_blocks(
        BLOCKS / "labelled-blocks.csv",
        "btccom",
        height_column="blockid",
        label_column="miningpool",
        label_scheme="name",
        block_counts=block_counts,
    )
    check_shapes(blocks, rejects)
    assert blocks["height"].to_list() == [0, 1, 3, 4, 6, 9, 10]
    assert blocks["label"].to_list() == [
        "Genesis",
        "Satoshi",
        "Satoshi",
        "Satoshi-relabelled",  # the last of the duplicates
        None,
        "Satoshi",
        "Satoshi",
    ]
    day = lambda d: date(2009, 1, d)  # noqa: E731
    assert blocks["date"].to_list() == [day(3), day(5), day(5), day(6), day(7), day(7), None]
    assert blocks["date_source"].to_list() == ["block_count_series"] * 6 + [None]
    assert blocks["time"].null_count() == 7 and set(blocks["label_scheme"]) == {"name"}
    assert rejects_of(rejects) == [
        ("line 5", "blockid", "4", "duplicate height: line 6 kept"),
        ("line 7", "blockid", "x5", "not a non-negative integer"),
        ("line 8", "miningpool", None, "missing label"),
        ("line 10", "blockid", "10", "height after the end of the block-count series"),
    ]


def test_labelled_parquet_with_times(tmp_path: Path) -> None:
    times = [datetime(2020, 1, 1, 23, 59, 59), None, datetime(2020, 1, 2, 0, 0, 1)]
    path = tmp_path / "pools.parquet"
    pl.DataFrame(
        {
            "block_height": [610800, 610801, 610802],
            "slug": ["foundryusa", "antpool", " "],
            "at": pl.Series(times, dtype=pl.Datetime("ns")).dt.replace_time_zone("Europe/Paris"),
            "block_hash": ["00aa", "00bb", "00cc"],
        }
    ).write_parquet(path)
    blocks, rejects = read_labelled_blocks(
        path,
        "mempool",
        height_column="block_height",
        label_column="slug",
        label_scheme="slug",
        time_column="at",
        hash_column="block_hash",
    )
    check_shapes(blocks, rejects)
    assert blocks["time"].to_list() == [
        datetime(2020, 1, 1, 22, 59, 59, tzinfo=UTC),
        None,
        datetime(2020, 1, 1, 23, 0, 1, tzinfo=UTC),
    ]
    assert blocks["date"].to_list() == [date(2020, 1, 1), None, date(2020, 1, 1)]
    assert blocks["date_source"].to_list() == ["header", None, "header"]
    assert blocks["hash"].to_list() == ["00aa", "00bb", "00cc"]
    assert rejects_of(rejects) == [
        ("row 2", "at", None, "missing"),
        ("row 3", "slug", " ", "missing label"),
    ]


@pytest.mark.parametrize(
    ("column", "expected_time"),
    [
        (["2019-12-31 23:05:05 UTC", "bad"], datetime(2019, 12, 31, 23, 5, 5, tzinfo=UTC)),
        (["2019-12-31T23:05:05+01:00", "bad"], datetime(2019, 12, 31, 22, 5, 5, tzinfo=UTC)),
        (
            pl.Series([datetime(2019, 12, 31, 23, 5, 5), None]),
            datetime(2019, 12, 31, 23, 5, 5, tzinfo=UTC),
        ),
        (pl.Series([date(2019, 12, 31), None]), None),
    ],
)
def test_labelled_time_as_text_or_date(
    tmp_path: Path, column: list[str] | pl.Series, expected_time: datetime | None
) -> None:
    path = tmp_path / "blocks.parquet"
    pl.DataFrame({"height": [1, 2], "pool": ["a", "b"], "when": column}).write_parquet(path)
    blocks, rejects = read_labelled_blocks(
        path,
        "f",
        height_column="height",
        label_column="pool",
        label_scheme="slug",
        time_column="when",
    )
    assert blocks["time"].to_list() == [expected_time, None]
    assert blocks["date"].to_list() == [date(2019, 12, 31), None]
    assert rejects_of(rejects)[0][:2] == ("row 2", "when")


def test_labelled_file_errors(tmp_path: Path, block_counts: pl.DataFrame) -> None:
    csv = BLOCKS / "labelled-blocks.csv"
    with pytest.raises(ValueError, match=r"no column height, pool; the file has: \['blockid', "):
        read_labelled_blocks(
            csv,
            "f",
            height_column="height",
            label_column="pool",
            label_scheme="name",
            block_counts=block_counts,
        )
    with pytest.raises(ValueError, match="block_counts are needed"):
        read_labelled_blocks(
            csv, "f", height_column="blockid", label_column="miningpool", label_scheme="name"
        )
    with pytest.raises(ValueError, match="label_scheme"):
        read_labelled_blocks(
            csv, "f", height_column="blockid", label_column="miningpool", label_scheme="tag"
        )
    (tmp_path / "blocks.txt").write_text("blockid,miningpool\n1,a\n")
    with pytest.raises(ValueError, match="unknown block file format 'txt'"):
        read_labelled_blocks(
            tmp_path / "blocks.txt",
            "f",
            height_column="blockid",
            label_column="miningpool",
            label_scheme="name",
            block_counts=block_counts,
        )
    blocks, _ = read_labelled_blocks(
        tmp_path / "blocks.txt",
        "f",
        height_column="blockid",
        label_column="miningpool",
        label_scheme="name",
        file_format="csv",
        block_counts=block_counts,
    )
    assert blocks["date"].to_list() == [date(2009, 1, 5)]


# --- real files (skipped without ../shared/data) --------------------------------------------------


@needs_shared_data
def test_real_bigquery_sample() -> None:
    blocks, rejects = read_bigquery_coinbase_ndjson(POOLS / "bigquery-coinbase-sample.ndjson", "bq")
    assert rejects.is_empty() and blocks.height == 13
    assert blocks["height"].to_list()[:3] == [507715, 508242, 511342]
    assert blocks["time"][0] == datetime(2018, 2, 5, 4, 54, 34, tzinfo=UTC)
    assert blocks["date"].min() == date(2018, 2, 4) and blocks["date"].max() == date(2021, 5, 9)
    assert blocks.filter(pl.col("height") == 682736)["coinbase_addresses"].to_list() == [
        [None, "18cBEMRxXHqzWWCxZNtU91F5sbUNKhL5PX"]
    ]


@needs_shared_data
def test_real_btccom_labels_dated_from_coin_metrics() -> None:
    counts = read_block_counts_csv(SHARED_DATA / "market" / "coinmetrics-btc-daily.csv")
    blocks, rejects = read_labelled_blocks(
        POOLS / "btccom-block-labels-2016-2018.csv",
        "btccom",
        height_column="blockid",
        label_column="miningpool",
        label_scheme="name",
        block_counts=counts,
    )
    assert rejects.is_empty() and blocks.height == 146_148
    assert blocks["date"].min() >= date(2016, 2, 1) and blocks["date"].max() < date(2018, 11, 1)
    assert set(blocks["date_source"]) == {"block_count_series"}


@needs_shared_data
def test_real_pool_parquet() -> None:
    blocks, rejects = read_labelled_blocks(
        POOLS / "blocks-by-pool-2020-2026.parquet",
        "sorukumar",
        height_column="height",
        label_column="pool_slug",
        label_scheme="slug",
        time_column="date",
    )
    assert rejects.is_empty() and blocks.height == 331_777
    assert blocks["height"].is_sorted() and blocks["height"].n_unique() == 331_777
    assert blocks["date"].min() == date(2019, 12, 31) and blocks["date"].max() == date(2026, 3, 27)


@needs_shared_data
def test_dating_accuracy_against_real_header_times() -> None:
    """Measured: 96.56 % of 30,416 blocks on the right day, the others one day early."""
    counts = read_block_counts_csv(SHARED_DATA / "market" / "coinmetrics-btc-daily.csv")
    real = pl.read_parquet(POOLS / "blocks-by-pool-2020-2026.parquet").filter(
        pl.col("date").dt.date() <= counts["date"].max()
    )
    estimated = date_heights_from_block_counts(real["height"], counts)
    error = (estimated - real["date"].dt.date()).dt.total_days()
    assert real.height == 30_416 and error.null_count() == 0
    assert (error == 0).mean() >= 0.96
    assert error.min() >= -1 and error.max() <= 1
