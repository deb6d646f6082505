"""EsploraClient (mempool.space and Esplora flavours) against the fake server on 127.0.0.1.

Fixtures in ``fixtures/blocks/``:

- ``mempool-blocks-911248.json``: the answer of ``/api/v1/blocks/911248`` (15 blocks, 911248
  down to 911234). The first block is mempool.space's real answer for 911248 (MARA Pool); the
  others have the real hashes, times, previous hashes and pools, with extras made in the same
  shape (coinbaseRaw after each pool's real scriptSig pattern, fee figures made up).
- ``esplora-block-905349.json`` and ``esplora-tx-905349-coinbase.json``: ``/block/{hash}`` and
  ``/tx/{txid}`` for block 905349 (Foundry USA), built from the real block and coinbase.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from pipelines.http import SourceFormatError, SourceUnavailable
from pipelines.schemas.mining import BLOCK_SCHEMA
from pipelines.sources.block_cache import fetch_range
from pipelines.sources.esplora import EsploraClient
from tests.fakeserver import FakeServer, Handler, RecordedRequest, Reply, json_response

FIXTURES = Path(__file__).parent / "fixtures" / "blocks"
MEMPOOL_PAGE = json.loads((FIXTURES / "mempool-blocks-911248.json").read_text())
ESPLORA_BLOCK = json.loads((FIXTURES / "esplora-block-905349.json").read_text())
ESPLORA_TX = json.loads((FIXTURES / "esplora-tx-905349-coinbase.json").read_text())
HASH_911248 = "00000000000000000001ced364d101a671454761ea9f61656049b04dd92f5221"
HASH_905349 = ESPLORA_BLOCK["id"]
TXID_905349 = ESPLORA_TX["txid"]


def text(body: str) -> Reply:
    return 200, {"Content-Type": "text/plain"}, body.encode()


def mempool(fake_server: FakeServer, **options: Any) -> EsploraClient:
    options = {"min_interval": 0, "sleep": lambda s: None, **options}
    return EsploraClient(fake_server.base_url, flavour="mempool", **options)


def esplora(fake_server: FakeServer, **options: Any) -> EsploraClient:
    options = {"min_interval": 0, "sleep": lambda s: None, **options}
    return EsploraClient(fake_server.url("/api"), flavour="esplora", **options)


def route_esplora_905349(fake_server: FakeServer, block: Any = ESPLORA_BLOCK) -> None:
    fake_server.route("/api/blocks/tip/height", text("905351"))
    fake_server.route("/api/block-height/905349", text(HASH_905349))
    fake_server.route(f"/api/block/{HASH_905349}", json_response(block))
    fake_server.route(f"/api/block/{HASH_905349}/txid/0", text(TXID_905349))
    fake_server.route(f"/api/tx/{TXID_905349}", json_response(ESPLORA_TX))


# --- mempool flavour -------------------------------------------------------------------------


def test_mempool_blocks_from_one_page(fake_server: FakeServer) -> None:
    fake_server.route("/api/v1/blocks/911248", json_response(MEMPOOL_PAGE))
    fake_server.route("/api/v1/blocks/911245", json_response(MEMPOOL_PAGE[3:]))
    fake_server.route("/api/blocks/tip/height", text("911248\n"))
    with mempool(fake_server) as client:
        assert client.tip_height() == 911248
        frame = client.blocks(range(911234, 911249))
        assert client.block_time(911245) == datetime(2025, 8, 22, 23, 50, 47, tzinfo=UTC)
    assert frame.schema == pl.Schema(BLOCK_SCHEMA)
    assert frame["height"].to_list() == list(range(911234, 911249))
    assert frame["hash"].to_list() == [b["id"] for b in reversed(MEMPOOL_PAGE)]
    assert frame.row(-1, named=True) == {
        "height": 911248,
        "hash": HASH_911248,
        "time": datetime(2025, 8, 23, 1, 13, 6, tzinfo=UTC),
        "date": date(2025, 8, 23),
        "date_source": "header",
        "coinbase_hex": MEMPOOL_PAGE[0]["extras"]["coinbaseRaw"],
        "coinbase_addresses": ["bc1q695z03z6kweljcvpwft7vfu6kd0guf24yaaht2"],
        "coinbase_values_sats": None,
        "fees_sats": 6_325_116,
        "tx_count": 3308,
        "label": None,
        "label_scheme": None,
        "feed": "mempool",
    }
    assert frame.filter(pl.col("height") == 911245)["date"].item() == date(2025, 8, 22)
    paths = [r.path for r in fake_server.requests]
    assert paths == ["/api/blocks/tip/height", "/api/v1/blocks/911248", "/api/v1/blocks/911245"]


def test_mempool_pages_cover_sparse_heights(fake_server: FakeServer) -> None:
    fake_server.route("/api/v1/blocks/911248", json_response(MEMPOOL_PAGE))
    fake_server.route("/api/v1/blocks/911233", json_response([]))
    with mempool(fake_server, concurrency=2) as client:
        frame = client.blocks([911248, 911240, 911234, 911233, 911230])
    assert frame["height"].to_list() == [911234, 911240, 911248]  # 911233 and 911230: absent
    assert sorted(r.path for r in fake_server.requests) == [
        "/api/v1/blocks/911233",
        "/api/v1/blocks/911248",
    ]


def test_mempool_fetch_range_reports_absent_heights_as_gaps(
    fake_server: FakeServer, tmp_path: Path
) -> None:
    fake_server.route("/api/blocks/tip/height", text("911248"))
    fake_server.route("/api/v1/blocks/911248", json_response(MEMPOOL_PAGE))
    # This instance lacks the blocks below 911234 (chunks: 911220-911234, 911235-911249).
    fake_server.route("/api/v1/blocks/911234", json_response(MEMPOOL_PAGE[-1:]))
    with mempool(fake_server) as client:
        frame, report = fetch_range(client, 911230, 911248, tmp_path, chunk_size=15)
    assert frame["height"].to_list() == list(range(911234, 911249))
    assert report.gaps == [911230, 911231, 911232, 911233]
    assert (report.fetched, report.from_cache) == (15, 0)


def test_mempool_malformed_json(fake_server: FakeServer) -> None:
    fake_server.route("/api/v1/blocks/911248", (200, {}, b'[{"id": "0000", "height": 911248,'))
    with mempool(fake_server) as client, pytest.raises(SourceFormatError) as info:
        client.blocks([911248])
    message = str(info.value)
    assert message.startswith(f"mempool: GET {fake_server.url('/api/v1/blocks/911248')} ")
    assert "bad JSON" in message


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda b: b["extras"].pop("coinbaseRaw"), "missing field 'extras.coinbaseRaw'"),
        (lambda b: b.pop("extras"), "missing field 'extras'"),
        (lambda b: b.update(tx_count="3308"), "field 'tx_count' should be int, got \"3308\""),
        (
            lambda b: b["extras"].update(coinbaseAddresses=[None]),
            "field 'extras.coinbaseAddresses[0]' should be str, got null",
        ),
    ],
)
def test_mempool_missing_or_mistyped_field(
    fake_server: FakeServer, change: Any, problem: str
) -> None:
    page = copy.deepcopy(MEMPOOL_PAGE)
    change(page[3])
    fake_server.route("/api/v1/blocks/911248", json_response(page))
    with mempool(fake_server) as client, pytest.raises(SourceFormatError) as info:
        client.blocks([911248])
    url = fake_server.url("/api/v1/blocks/911248")
    assert str(info.value) == f"mempool: GET {url} (item 3): {problem}"


def test_mempool_block_time_above_the_tip(fake_server: FakeServer) -> None:
    fake_server.route("/api/v1/blocks/911300", json_response(MEMPOOL_PAGE))  # mempool clamps
    with mempool(fake_server) as client, pytest.raises(SourceUnavailable, match="no block at"):
        client.block_time(911300)


# --- esplora flavour -------------------------------------------------------------------------


def test_esplora_block_with_full_coinbase(fake_server: FakeServer) -> None:
    route_esplora_905349(fake_server)
    with esplora(fake_server) as client:
        assert client.tip_height() == 905351
        frame = client.blocks([905349])
        assert client.block_time(905349) == datetime(2025, 7, 13, 10, 21, 23, tzinfo=UTC)
    assert frame.schema == pl.Schema(BLOCK_SCHEMA)
    assert frame.row(0, named=True) == {
        "height": 905349,
        "hash": HASH_905349,
        "time": datetime(2025, 7, 13, 10, 21, 23, tzinfo=UTC),
        "date": date(2025, 7, 13),
        "date_source": "header",
        "coinbase_hex": ESPLORA_TX["vin"][0]["scriptsig"],
        "coinbase_addresses": [
            "bc1qwzrryqr3ja8w7hnja2spmkgfdcgvqwp5swz4af4ngsjecfz0w0pqud7k38",
            None,
            None,
            None,
        ],
        "coinbase_values_sats": [314_322_330, 0, 0, 0],
        "fees_sats": 1_822_330,
        "tx_count": 1466,
        "label": None,
        "label_scheme": None,
        "feed": "esplora",
    }
    assert [r.path for r in fake_server.requests[1:5]] == [
        "/api/block-height/905349",
        f"/api/block/{HASH_905349}",
        f"/api/block/{HASH_905349}/txid/0",
        f"/api/tx/{TXID_905349}",
    ]


class Gauge:
    """Slow handlers that record how many requests were in flight at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = self.peak = 0

    def slow(self, reply: Reply) -> Handler:
        def serve(request: RecordedRequest) -> Reply:
            with self.lock:
                self.in_flight += 1
                self.peak = max(self.peak, self.in_flight)
            time.sleep(0.02)
            with self.lock:
                self.in_flight -= 1
            return reply

        return serve


def test_esplora_concurrency_keeps_heights_and_blocks_together(fake_server: FakeServer) -> None:
    gauge = Gauge()
    heights = list(range(905349, 905357))
    for height in heights:
        block_hash, txid = f"{height:064x}", f"{height + 10**6:064x}"
        tx = copy.deepcopy(ESPLORA_TX)
        tx["vout"][0]["value"] = height  # tells the blocks apart
        for path, reply in [
            (f"/api/block-height/{height}", text(block_hash)),
            (
                f"/api/block/{block_hash}",
                json_response({**ESPLORA_BLOCK, "id": block_hash, "height": height}),
            ),
            (f"/api/block/{block_hash}/txid/0", text(txid)),
            (f"/api/tx/{txid}", json_response(tx)),
        ]:
            fake_server.handler(path, gauge.slow(reply))
    with esplora(fake_server, concurrency=4) as client:
        frame = client.blocks(list(reversed(heights)))
    assert frame["height"].to_list() == heights
    assert frame["hash"].to_list() == [f"{h:064x}" for h in heights]
    assert [values[0] for values in frame["coinbase_values_sats"].to_list()] == heights
    assert len(fake_server.requests) == 4 * len(heights)
    assert 1 < gauge.peak <= 4


def test_min_interval_spaces_requests(fake_server: FakeServer) -> None:
    waits: list[float] = []
    fake_server.route("/api/blocks/tip/height", text("905351"))
    with EsploraClient(
        fake_server.url("/api"), flavour="esplora", min_interval=30, sleep=waits.append
    ) as client:
        client.tip_height()
        client.tip_height()
    [wait] = waits
    assert 29 < wait <= 30


def test_esplora_malformed_and_missing_fields(fake_server: FakeServer) -> None:
    route_esplora_905349(fake_server, {k: v for k, v in ESPLORA_BLOCK.items() if k != "timestamp"})
    block_url = fake_server.url(f"/api/block/{HASH_905349}")
    with esplora(fake_server) as client:
        with pytest.raises(SourceFormatError) as missing:
            client.blocks([905349])
        assert str(missing.value) == f"esplora: GET {block_url}: missing field 'timestamp'"

        fake_server.route(f"/api/block/{HASH_905349}", (200, {}, b'{"id": "0000", "height":}'))
        with pytest.raises(SourceFormatError, match=f"esplora: GET {block_url} returned bad JSON"):
            client.blocks([905349])

        fake_server.route(f"/api/block/{HASH_905349}", json_response(ESPLORA_BLOCK))
        tx = copy.deepcopy(ESPLORA_TX)
        del tx["vout"][0]["value"]
        fake_server.route(f"/api/tx/{TXID_905349}", json_response(tx))
        with pytest.raises(SourceFormatError, match=r"/tx/\w+: missing field 'vout\[0\]\.value'"):
            client.blocks([905349])

        fake_server.route("/api/block-height/905349", text("<html>Too many requests</html>"))
        with pytest.raises(SourceFormatError, match="/block-height/905349: expected a hash"):
            client.blocks([905349])

        fake_server.route("/api/blocks/tip/height", text("soon"))
        with pytest.raises(SourceFormatError, match="expected a block height, got 'soon'"):
            client.tip_height()


def test_esplora_height_above_the_tip(fake_server: FakeServer) -> None:
    fake_server.route("/api/block-height/905400", (404, {}, b"Block not found"))
    with esplora(fake_server) as client, pytest.raises(SourceUnavailable) as info:
        client.blocks([905400])
    assert info.value.status == 404
    assert "Block not found" in str(info.value)


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="flavour"):
        EsploraClient(flavour="electrum")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="concurrency"):
        EsploraClient(concurrency=0)
    assert EsploraClient(flavour="esplora").base_url == "https://blockstream.info/api"
