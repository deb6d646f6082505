"""BitcoinRpc, HttpClient.post_json and block_cache against a fake Bitcoin Core on 127.0.0.1.

Fixture ``fixtures/blocks/rpc-getblock-905348-905350.json``: three ``getblock <hash> 2`` results.
Real: the hashes, heights, times, median times, bits, neighbours and the whole coinbase of 905349
(Foundry USA: P2WSH payout, witness commitment, CoreDAO and RSK OP_RETURNs; its txid matches its
hex). Made in the same shape: the coinbases of 905348 (Foundry) and 905350 (Luxor), following
those pools' real scriptSigs, and one payment per block (the real blocks hold ~1,500
transactions; ``nTx`` is set to match the trimmed list).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from pipelines.http import HttpClient, HttpSettings, SourceFormatError, SourceUnavailable
from pipelines.schemas.mining import BLOCK_SCHEMA
from pipelines.sources.bitcoin_rpc import ENV_PASSWORD, ENV_USER, BitcoinRpc, RpcError
from pipelines.sources.block_cache import (
    Reorg,
    claimed_fees_sats,
    fetch_range,
    heights_for_dates,
    subsidy_sats,
)
from tests.fakeserver import Delay, FakeServer, RecordedRequest, Reply, json_response

FIXTURE = Path(__file__).parent / "fixtures" / "blocks" / "rpc-getblock-905348-905350.json"
BLOCKS = json.loads(FIXTURE.read_text())
HASH_905349 = "00000000000000000001c45d9686bc4a33871e0cdaec02a2cc9ba26d908f7637"
COINBASE_905349 = (
    "0385d00d04a38873682f466f756e6472792055534120506f6f6c202364726f70676f6c642ffabe6d6dedd795"
    "db5040d2790083bb4cc320a97b0b7c0b086a2817425d7707d2de60028201000000000000005f3115a77fcd01"
    "0000000000"
)
FOUNDRY_P2WSH = "bc1qwzrryqr3ja8w7hnja2spmkgfdcgvqwp5swz4af4ngsjecfz0w0pqud7k38"
COOKIE_SECRET = "9f3c8a1e5b7d2046c1e8f0a3b5d7c9e1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2"
ENV_SECRET = "correct-horse-battery-staple-42"


class NoSleep:
    """A `sleep` that records the waits and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class FakeNode:
    """Bitcoin Core's JSON-RPC (v28 answer shape) over a dict of getblock-2 results."""

    def __init__(self, blocks: list[dict[str, Any]]) -> None:
        self.lock = threading.Lock()
        self.by_hash: dict[str, dict[str, Any]] = {}
        self.best: dict[int, str] = {}
        self.fail_from: int | None = None  # getblock of heights >= this answers HTTP 500
        self.calls: list[tuple[str, list]] = []
        for block in blocks:
            self.add(block)

    def add(self, block: dict[str, Any]) -> None:
        with self.lock:
            self.by_hash[block["hash"]] = block
            self.best[block["height"]] = block["hash"]

    def handle(self, request: RecordedRequest) -> Reply:
        calls = json.loads(request.body)
        with self.lock:
            self.calls += [(c["method"], c["params"]) for c in calls]
            for c in calls:
                block = self.by_hash.get(c["params"][0]) if c["method"] == "getblock" else None
                if block and self.fail_from is not None and block["height"] >= self.fail_from:
                    return 500, {}, b"Work queue depth exceeded"
            return json_response([self._answer(c) for c in calls])

    def _answer(self, call: dict[str, Any]) -> dict[str, Any]:
        method, params = call["method"], call["params"]
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": call["id"]}
        if method == "getblockcount":
            reply["result"] = max(self.best)
        elif method == "getblockhash" and params[0] in self.best:
            reply["result"] = self.best[params[0]]
        elif method == "getblockhash":
            reply["error"] = {"code": -8, "message": "Block height out of range"}
        elif params[0] not in self.by_hash:
            reply["error"] = {"code": -5, "message": "Block not found"}
        elif method == "getblock":
            reply["result"] = self.by_hash[params[0]]
        else:  # getblockheader
            block = self.by_hash[params[0]]
            reply["result"] = {k: v for k, v in block.items() if k not in ("tx", "size")}
        return reply

    def methods(self, since: int = 0) -> list[tuple[str, list]]:
        with self.lock:
            return list(self.calls[since:])


def fake_hash(height: int, branch: str = "a") -> str:
    return "00000000000000000000" + hashlib.sha256(f"{branch}{height}".encode()).hexdigest()[:44]


def synthetic_block(height: int, when: datetime, branch: str = "a") -> dict[str, Any]:
    """Block 905349's getblock-2 answer moved to `height` / `when`, with its own hash."""
    block = copy.deepcopy(BLOCKS[1])
    block.update(height=height, hash=fake_hash(height, branch), time=int(when.timestamp()))
    coinbase = block["tx"][0]["vin"][0]
    coinbase["coinbase"] = "03" + height.to_bytes(3, "little").hex() + coinbase["coinbase"][8:]
    return block


def synthetic_chain(first: int, count: int, branch: str = "a") -> list[dict[str, Any]]:
    start = datetime(2025, 7, 13, 10, 0, tzinfo=UTC)
    return [
        synthetic_block(h, start + timedelta(minutes=10 * (h - first)), branch)
        for h in range(first, first + count)
    ]


@pytest.fixture
def cookie_dir(tmp_path: Path) -> Path:
    datadir = tmp_path / "bitcoin"
    datadir.mkdir()
    (datadir / ".cookie").write_text(f"__cookie__:{COOKIE_SECRET}")
    return datadir


@pytest.fixture
def node(fake_server: FakeServer) -> FakeNode:
    fake = FakeNode(BLOCKS)
    fake_server.handler("/", fake.handle)
    return fake


@pytest.fixture
def sleep() -> NoSleep:
    return NoSleep()


@pytest.fixture
def rpc(fake_server: FakeServer, cookie_dir: Path, sleep: NoSleep) -> Iterator[BitcoinRpc]:
    with BitcoinRpc(
        fake_server.url("/"),
        cookie=cookie_dir,
        http=HttpSettings(timeout_seconds=5, max_attempts=3),
        sleep=sleep,
    ) as client:
        yield client


def assert_no_secret(*texts: str) -> None:
    token = base64.b64encode(f"__cookie__:{COOKIE_SECRET}".encode()).decode()
    for text in texts:
        for secret in (COOKIE_SECRET, token, ENV_SECRET):
            assert secret not in text


# --- HttpClient.post_json -------------------------------------------------------------------


def test_post_json_sends_json_and_parses_the_answer(fake_server: FakeServer) -> None:
    fake_server.route("/rpc", json_response({"ok": [1, 2]}))
    with HttpClient("node", sleep=NoSleep()) as http:
        assert http.post_json(fake_server.url("/rpc"), [{"method": "getblockcount"}]) == {
            "ok": [1, 2]
        }
    [request] = fake_server.requests
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == [{"method": "getblockcount"}]


def test_post_json_retries_like_get(
    fake_server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    sleep = NoSleep()
    fake_server.route("/rpc", (503, {"Retry-After": "2"}, b"busy"), (502, {}, b""), (200, {}, b"7"))
    with (
        caplog.at_level(logging.WARNING, logger="pipelines.http"),
        HttpClient("node", sleep=sleep) as http,
    ):
        assert http.post_json(fake_server.url("/rpc"), {"id": 1}) == 7
    assert sleep.calls == [2, 2.0]
    assert [r.body for r in fake_server.requests] == [b'{"id": 1}'] * 3
    assert "node: POST " in caplog.records[0].getMessage()


def test_post_json_errors_name_the_method_and_carry_the_status(fake_server: FakeServer) -> None:
    fake_server.route("/bad", (200, {}, b'[{"result": 1,'))
    fake_server.route("/gone", (404, {}, b"nope"))
    with HttpClient("node", sleep=NoSleep(), max_attempts=1, timeout=0.2) as http:
        with pytest.raises(SourceFormatError, match=r"node: POST http://\S+/bad returned bad JSON"):
            http.post_json(fake_server.url("/bad"), [])
        with pytest.raises(SourceUnavailable) as gone:
            http.post_json(fake_server.url("/gone"), [])
    assert gone.value.status == 404


# --- BitcoinRpc ------------------------------------------------------------------------------


def test_blocks_batches_getblockhash_and_getblock(
    fake_server: FakeServer, node: FakeNode, rpc: BitcoinRpc
) -> None:
    frame = rpc.blocks([905350, 905348, 905349])
    assert frame.schema == pl.Schema(BLOCK_SCHEMA)
    assert frame["height"].to_list() == [905348, 905349, 905350]
    assert frame["hash"].to_list() == [b["hash"] for b in BLOCKS]
    row = frame.row(1, named=True)
    assert row == {
        "height": 905349,
        "hash": HASH_905349,
        "time": datetime(2025, 7, 13, 10, 21, 23, tzinfo=UTC),
        "date": date(2025, 7, 13),
        "date_source": "header",
        "coinbase_hex": COINBASE_905349,
        "coinbase_addresses": [FOUNDRY_P2WSH, None, None, None],
        "coinbase_values_sats": [314_322_330, 0, 0, 0],
        "fees_sats": 1_822_330,  # 3.1432233 BTC claimed - 3.125 BTC subsidy
        "tx_count": 2,
        "label": None,
        "label_scheme": None,
        "feed": "bitcoin_rpc",
    }
    assert frame["coinbase_addresses"][2].to_list() == ["1MkCDCzHpBsYQivp8MxjY5AkTGG1f2baoe", None]
    # One POST of three getblockhash calls, then one POST of three getblock calls.
    bodies = [json.loads(r.body) for r in fake_server.requests]
    assert [[c["method"] for c in body] for body in bodies] == [
        ["getblockhash"] * 3,
        ["getblock"] * 3,
    ]
    assert [c["params"] for c in bodies[0]] == [[905350], [905348], [905349]]
    assert bodies[1][0] == {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "getblock",
        "params": [BLOCKS[2]["hash"], 2],
    }


def test_small_batches_and_single_calls(
    fake_server: FakeServer, node: FakeNode, cookie_dir: Path
) -> None:
    with BitcoinRpc(fake_server.url("/"), cookie=cookie_dir, hash_batch=2, block_batch=1) as rpc:
        assert rpc.blocks([905348, 905349, 905350]).height == 3
        assert len(fake_server.requests) == 2 + 3
        assert rpc.tip_height() == 905350
        assert rpc.block_hash(905349) == HASH_905349
        assert rpc.block(HASH_905349)["fees_sats"] == 1_822_330
        assert rpc.block_time(905349) == datetime(2025, 7, 13, 10, 21, 23, tzinfo=UTC)
        assert rpc.blocks([]).schema == pl.Schema(BLOCK_SCHEMA)


def test_cookie_auth_header(fake_server: FakeServer, node: FakeNode, cookie_dir: Path) -> None:
    for cookie in (cookie_dir, cookie_dir / ".cookie", str(cookie_dir)):
        with BitcoinRpc(fake_server.url("/"), cookie=cookie) as rpc:
            assert rpc.tip_height() == 905350
            assert COOKIE_SECRET not in repr(rpc)
            assert f"cookie file {cookie_dir / '.cookie'}" in repr(rpc)
    expected = base64.b64encode(f"__cookie__:{COOKIE_SECRET}".encode()).decode()
    assert {r.headers["Authorization"] for r in fake_server.requests} == {f"Basic {expected}"}


def test_env_auth_header(
    fake_server: FakeServer, node: FakeNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_USER, "observatory")
    monkeypatch.setenv(ENV_PASSWORD, ENV_SECRET)
    with BitcoinRpc(fake_server.url("/")) as rpc:
        assert rpc.tip_height() == 905350
        assert_no_secret(repr(rpc))
    expected = base64.b64encode(f"observatory:{ENV_SECRET}".encode()).decode()
    assert fake_server.requests[0].headers["Authorization"] == f"Basic {expected}"


def test_credential_problems_are_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_USER, raising=False)
    monkeypatch.delenv(ENV_PASSWORD, raising=False)
    with pytest.raises(ValueError, match=f"set {ENV_USER} and {ENV_PASSWORD}"):
        BitcoinRpc()
    with pytest.raises(FileNotFoundError, match=str(tmp_path / ".cookie")):
        BitcoinRpc(cookie=tmp_path)
    (tmp_path / ".cookie").write_text(COOKIE_SECRET)
    with pytest.raises(ValueError, match="not of the form <user>:<password>") as no_colon:
        BitcoinRpc(cookie=tmp_path)
    with pytest.raises(ValueError, match="not in the URL") as in_url:
        BitcoinRpc(f"http://alice:{ENV_SECRET}@127.0.0.1:8332/", cookie=tmp_path)
    assert_no_secret(str(no_colon.value), str(in_url.value))
    assert "http://127.0.0.1/" in str(in_url.value)


def test_401_is_an_authentication_error_without_the_secret(
    fake_server: FakeServer, rpc: BitcoinRpc, cookie_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake_server.route("/", (401, {"WWW-Authenticate": 'Basic realm="jsonrpc"'}, b""))
    with caplog.at_level(logging.DEBUG), pytest.raises(SourceUnavailable) as info:
        rpc.tip_height()
    message = str(info.value)
    assert "HTTP 401, authentication failed" in message
    assert f"check the cookie file {cookie_dir / '.cookie'}" in message
    assert info.value.status == 401
    assert len(fake_server.requests) == 1
    assert_no_secret(message, repr(info.value), str(info.value.__cause__), caplog.text)


def test_secrets_stay_out_of_retries_and_failures(
    fake_server: FakeServer, rpc: BitcoinRpc, caplog: pytest.LogCaptureFixture
) -> None:
    fake_server.route("/", (500, {}, b"Internal error"))
    with caplog.at_level(logging.DEBUG), pytest.raises(SourceUnavailable) as info:
        rpc.blocks([905349])
    assert "failed after 3 attempts" in str(info.value)
    assert "bitcoin_rpc: POST " in caplog.text
    assert_no_secret(str(info.value), caplog.text, repr(rpc))


def test_json_rpc_error_names_method_and_params(
    fake_server: FakeServer, node: FakeNode, rpc: BitcoinRpc
) -> None:
    with pytest.raises(RpcError) as info:
        rpc.blocks([905350, 905351])
    assert str(info.value).startswith(
        "bitcoin_rpc: getblockhash [905351] failed at http://127.0.0.1:"
    )
    assert str(info.value).endswith("RPC error -8: Block height out of range")
    assert (info.value.method, info.value.params, info.value.code) == ("getblockhash", [905351], -8)
    assert len(fake_server.requests) == 1  # an RPC error is an answer: no retry


def test_legacy_answer_shape(fake_server: FakeServer, rpc: BitcoinRpc) -> None:
    fake_server.route("/", json_response([{"result": 905350, "error": None, "id": 0}]))
    assert rpc.tip_height() == 905350


def test_429_with_retry_after_then_success(
    fake_server: FakeServer, rpc: BitcoinRpc, sleep: NoSleep
) -> None:
    fake_server.route(
        "/",
        (429, {"Retry-After": "3"}, b"slow down"),
        json_response([{"jsonrpc": "2.0", "result": 905350, "id": 0}]),
    )
    assert rpc.tip_height() == 905350
    assert sleep.calls == [3]


def test_500_then_success(fake_server: FakeServer, rpc: BitcoinRpc, sleep: NoSleep) -> None:
    fake_server.route(
        "/", (500, {}, b""), json_response([{"jsonrpc": "2.0", "result": 905350, "id": 0}])
    )
    assert rpc.tip_height() == 905350
    assert sleep.calls == [1.0]


def test_timeout_is_source_unavailable(fake_server: FakeServer, cookie_dir: Path) -> None:
    fake_server.route("/", Delay(5, json_response([])))
    with (
        BitcoinRpc(
            fake_server.url("/"),
            cookie=cookie_dir,
            http=HttpSettings(timeout_seconds=0.2, max_attempts=2),
            sleep=NoSleep(),
        ) as rpc,
        pytest.raises(SourceUnavailable, match=r"failed after 2 attempts.*Timeout") as info,
    ):
        rpc.tip_height()
    assert info.value.status is None


def test_malformed_json_is_a_format_error(fake_server: FakeServer, rpc: BitcoinRpc) -> None:
    fake_server.route("/", (200, {}, b'[{"jsonrpc": "2.0", "result": 905350, "id": 0'))
    with pytest.raises(SourceFormatError, match=r"bitcoin_rpc: POST http://127\.0\.0\.1:\d+/ "):
        rpc.tip_height()
    fake_server.route("/", json_response({"jsonrpc": "2.0", "result": 905350, "id": 0}))
    with pytest.raises(SourceFormatError, match="expected a JSON array answering the batch"):
        rpc.tip_height()
    fake_server.route("/", json_response([{"jsonrpc": "2.0", "id": 0}]))
    with pytest.raises(SourceFormatError, match=r"missing field 'result' .* getblockcount"):
        rpc.tip_height()


def test_missing_or_mistyped_block_fields_are_named(
    fake_server: FakeServer, node: FakeNode, rpc: BitcoinRpc
) -> None:
    broken = copy.deepcopy(BLOCKS[1])
    del broken["tx"][0]["vin"][0]["coinbase"]
    node.add(broken)
    with pytest.raises(SourceFormatError) as info:
        rpc.blocks([905349])
    assert str(info.value) == (
        f'bitcoin_rpc: getblock ["{HASH_905349}", 2] at {fake_server.url("/")}: '
        "missing field 'tx[0].vin[0].coinbase'"
    )
    broken["tx"][0]["vin"][0]["coinbase"] = COINBASE_905349
    broken["tx"][0]["vout"][2]["value"] = "0.00000000"
    with pytest.raises(SourceFormatError, match=r"field 'tx\[0\]\.vout\[2\]\.value' should be int"):
        rpc.blocks([905349])


def test_subsidy_and_claimed_fees() -> None:
    assert subsidy_sats(0) == subsidy_sats(209_999) == 5_000_000_000
    assert subsidy_sats(210_000) == 2_500_000_000
    assert subsidy_sats(905_349) == 312_500_000
    assert subsidy_sats(64 * 210_000) == 0
    assert claimed_fees_sats(905_349, [314_322_330, 0, 0, 0]) == 1_822_330
    assert claimed_fees_sats(124_724, [4_999_999_999]) is None  # under-claimed reward


# --- fetch_range -----------------------------------------------------------------------------


def chunk_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_fetch_range_resumes_after_an_interruption(
    fake_server: FakeServer, rpc: BitcoinRpc, tmp_path: Path
) -> None:
    node = FakeNode(synthetic_chain(905340, 20))
    fake_server.handler("/", node.handle)
    node.fail_from = 905344  # the second chunk fails
    cache = tmp_path / "cache"
    with pytest.raises(SourceUnavailable, match="Work queue depth exceeded"):
        fetch_range(rpc, 905340, 905359, cache, chunk_size=8)
    assert chunk_files(cache) == ["blocks-0905336-0905343.parquet", "tip.json"]
    first_chunk = pl.read_parquet(cache / "blocks-0905336-0905343.parquet")
    assert first_chunk["height"].to_list() == list(range(905340, 905344))

    node.fail_from = None
    before = len(node.methods())
    progress: list[tuple[int, int]] = []
    frame, report = fetch_range(
        rpc, 905340, 905359, cache, chunk_size=8, progress=lambda *p: progress.append(p)
    )
    asked = [params[0] for _, params in node.methods(before) if params]
    assert not set(asked) & {*range(905340, 905344), *first_chunk["hash"]}
    assert asked[:8] == list(range(905344, 905352))  # getblockhash batch of the second chunk
    assert frame["height"].to_list() == list(range(905340, 905360))
    assert frame["hash"].to_list() == [fake_hash(h) for h in range(905340, 905360)]
    assert frame.schema == pl.Schema(BLOCK_SCHEMA)
    assert (report.tip, report.fetched, report.from_cache) == (905359, 16, 4)
    assert report.reorgs == report.gaps == []
    assert progress == [(4, 20), (12, 20), (20, 20)]
    assert chunk_files(cache) == [
        "blocks-0905336-0905343.parquet",
        "blocks-0905344-0905351.parquet",
        "blocks-0905352-0905359.parquet",
        "tip.json",
    ]  # and no temporary files left behind

    _, again = fetch_range(rpc, 905340, 905359, cache, chunk_size=8)
    assert (again.fetched, again.from_cache) == (6, 14)  # only the re-check below the tip


def test_fetch_range_replaces_and_reports_a_reorg(
    fake_server: FakeServer, rpc: BitcoinRpc, tmp_path: Path
) -> None:
    node = FakeNode(synthetic_chain(905340, 20))
    fake_server.handler("/", node.handle)
    cache = tmp_path / "cache"
    _, first = fetch_range(rpc, 905340, 905359, cache, chunk_size=8)
    assert (first.fetched, first.from_cache, first.reorgs) == (20, 0, [])

    # A two-block reorg at the tip, and the new branch grows by two blocks.
    for block in synthetic_chain(905358, 4, branch="b"):
        node.add(block)
    before = len(node.methods())
    frame, report = fetch_range(rpc, 905340, 905361, cache, chunk_size=8)
    assert report.reorgs == [
        Reorg(905358, fake_hash(905358), fake_hash(905358, "b")),
        Reorg(905359, fake_hash(905359), fake_hash(905359, "b")),
    ]
    rechecked = [p[0] for m, p in node.methods(before) if m == "getblockhash"]
    assert rechecked == [*range(905354, 905360), 905360, 905361]
    assert (report.tip, report.fetched, report.from_cache, report.gaps) == (905361, 8, 14, [])
    expected = [fake_hash(h) for h in range(905340, 905358)]
    expected += [fake_hash(h, "b") for h in range(905358, 905362)]
    assert frame["hash"].to_list() == expected
    stored = pl.read_parquet(cache / "blocks-0905352-0905359.parquet")
    assert stored["hash"].to_list()[-2:] == [fake_hash(905358, "b"), fake_hash(905359, "b")]


def test_fetch_range_gaps_above_the_tip_and_unreadable_chunks(
    fake_server: FakeServer, rpc: BitcoinRpc, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    node = FakeNode(synthetic_chain(905340, 20))
    fake_server.handler("/", node.handle)
    cache = tmp_path / "cache"
    frame, report = fetch_range(rpc, 905350, 905365, cache, chunk_size=8, recheck=0)
    assert frame["height"].to_list() == list(range(905350, 905360))
    assert report.gaps == list(range(905360, 905366))

    (cache / "blocks-0905344-0905351.parquet").write_bytes(b"PAR1 torn")
    with caplog.at_level(logging.WARNING):
        frame, report = fetch_range(rpc, 905350, 905355, cache, chunk_size=8, recheck=0)
    assert "unreadable chunk" in caplog.text
    assert (report.fetched, report.from_cache) == (2, 4)
    assert frame["height"].to_list() == list(range(905350, 905356))
    with pytest.raises(ValueError, match="start_height <= end_height"):
        fetch_range(rpc, 10, 5, cache)


# --- heights_for_dates -----------------------------------------------------------------------


def day_chain() -> tuple[list[dict[str, Any]], list[datetime]]:
    """Heights 0..431: 10-minute blocks from 2025-07-12 00:05 UTC, with two midnight oddities.

    Block 140 carries a time 40 minutes ahead (2025-07-13 00:01) although 141..143 are dated
    2025-07-12, and block 146 is dated 2025-07-12 23:58 after blocks of 2025-07-13; both are
    valid (later than the median of the 11 blocks before them).
    """
    start = datetime(2025, 7, 12, 0, 5, tzinfo=UTC)
    times = [start + timedelta(minutes=10 * h) for h in range(432)]
    times[140] = datetime(2025, 7, 13, 0, 1, tzinfo=UTC)
    times[146] = datetime(2025, 7, 12, 23, 58, tzinfo=UTC)
    return [synthetic_block(h, t) for h, t in enumerate(times)], times


def test_heights_for_dates_with_non_monotonic_header_times(
    fake_server: FakeServer, rpc: BitcoinRpc
) -> None:
    blocks, times = day_chain()
    node = FakeNode(blocks)
    fake_server.handler("/", node.handle)
    day = date(2025, 7, 12)
    for first_day, last_day in [(0, 0), (1, 1), (2, 2), (0, 2), (1, 2), (0, 1)]:
        start, end = day + timedelta(days=first_day), day + timedelta(days=last_day)
        dated = [h for h, t in enumerate(times) if start <= t.date() <= end]
        assert heights_for_dates(rpc, start, end) == (min(dated), max(dated))
    assert heights_for_dates(rpc, day, day) == (0, 146)
    next_day = day + timedelta(days=1)
    assert heights_for_dates(rpc, next_day, next_day) == (140, 287)
    headers = sum(method == "getblockheader" for method, _ in node.methods())
    assert headers < 6 * 60  # binary searches and short widenings, not scans of 432 blocks
    for start, end in [
        (date(2025, 7, 15), date(2025, 7, 16)),
        (date(2025, 7, 1), date(2025, 7, 11)),
    ]:
        with pytest.raises(LookupError, match="no blocks dated"):
            heights_for_dates(rpc, start, end)
