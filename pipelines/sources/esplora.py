"""Blocks and their coinbase from a mempool.space or Esplora (Blockstream) REST API.

``flavour="mempool"``: ``GET {base}/api/v1/blocks/{height}`` answers the 15 blocks from
`height` down, each with ``extras`` (coinbaseRaw, coinbaseAddresses, totalFees, ...): one
request per 15 blocks. That answer has no per-output values, so ``coinbase_values_sats`` stays
null and ``coinbase_addresses`` is mempool's list (addressed outputs only, no null entries).

``flavour="esplora"``: four requests per block (``/block-height/{h}``, ``/block/{hash}``,
``/block/{hash}/txid/0``, ``/tx/{txid}``), with the coinbase outputs in full; fees are the
coinbase outputs minus the subsidy, as for the node.

Public instances: keep ``concurrency=1`` and a ``min_interval`` of a second or so; a
self-hosted instance can take ``concurrency=4`` and ``min_interval=0``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import polars as pl

from pipelines.http import Closeable, HttpSettings, SourceFormatError, SourceUnavailable
from pipelines.sources.block_cache import (
    blocks_frame,
    claimed_fees_sats,
    read_live_blocks,
    require,
)
from pipelines.sources.registry import Feed, FeedRead, ReadScope, SourceKind, option

Flavour = Literal["mempool", "esplora"]
DEFAULT_BASE_URLS: dict[str, str] = {
    "mempool": "https://mempool.space",
    "esplora": "https://blockstream.info/api",
}
MEMPOOL_PAGE = 15  # blocks per /api/v1/blocks/{height} answer
HASH = re.compile(r"[0-9a-f]{64}")

T = TypeVar("T")
R = TypeVar("R")


class EsploraClient(Closeable):
    """A mempool.space or Esplora instance as a block loader (see ``block_cache``)."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        flavour: Flavour = "mempool",
        feed: str | None = None,
        min_interval: float = 1.0,
        concurrency: int = 1,
        http: HttpSettings = HttpSettings(),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if flavour not in DEFAULT_BASE_URLS:
            raise ValueError(f"flavour must be 'mempool' or 'esplora', got {flavour!r}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self.flavour = flavour
        self.base_url = (base_url or DEFAULT_BASE_URLS[flavour]).rstrip("/")
        self.feed = feed or flavour
        self.concurrency = concurrency
        self._http = http.client(self.feed, min_interval=min_interval, sleep=sleep)

    def __repr__(self) -> str:
        return (
            f"EsploraClient({self.base_url!r}, flavour={self.flavour!r}, feed={self.feed!r}, "
            f"concurrency={self.concurrency})"
        )

    def close(self) -> None:
        """Release pooled connections."""
        self._http.close()

    def tip_height(self) -> int:
        """Height of the instance's best block."""
        path = "/api/blocks/tip/height" if self.flavour == "mempool" else "/blocks/tip/height"
        text = self._text(path)
        if not text.isdigit():
            raise SourceFormatError(f"{self._where(path)}: expected a block height, got {text!r}")
        return int(text)

    def block_time(self, height: int) -> datetime:
        """Header time (UTC) of the block at `height`."""
        if self.flavour == "mempool":
            row = self._mempool_page(height).get(height)
            if row is None:
                raise SourceUnavailable(
                    f"{self._where(f'/api/v1/blocks/{height}')}: no block at height {height} "
                    "(above the tip?)"
                )
            return row["time"]
        path = f"/block/{self._hash_at(height)}"
        block = self._json(path)
        return datetime.fromtimestamp(
            require(block, "timestamp", kind=int, where=self._where(path)), UTC
        )

    def blocks(self, heights: Sequence[int]) -> pl.DataFrame:
        """The blocks at `heights` in ``BLOCK_SCHEMA``, sorted by height.

        In the mempool flavour a height the answers lack (above the tip) is left out.
        """
        wanted = sorted(set(heights))
        if self.flavour == "esplora":
            return blocks_frame(self._map(self._esplora_row, wanted), self.feed)
        tops: list[int] = []
        for height in reversed(wanted):
            if not tops or height <= tops[-1] - MEMPOOL_PAGE:
                tops.append(height)
        pages = self._map(self._mempool_page, tops)
        wanted_set = set(wanted)
        rows = [row for page in pages for h, row in page.items() if h in wanted_set]
        return blocks_frame(rows, self.feed)

    def _map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """`fn` over `items` in order, on up to ``concurrency`` threads; the first error
        cancels the calls not yet started."""
        if self.concurrency == 1 or len(items) < 2:
            return [fn(item) for item in items]
        pool = ThreadPoolExecutor(max_workers=self.concurrency)
        try:
            return list(pool.map(fn, items))
        finally:
            pool.shutdown(cancel_futures=True)

    def _where(self, path: str) -> str:
        return f"{self.feed}: GET {self.base_url}{path}"

    def _json(self, path: str) -> Any:
        return self._http.get_json(self.base_url + path)

    def _text(self, path: str) -> str:
        body = self._http.get_bytes(self.base_url + path)
        try:
            return body.decode("ascii").strip()
        except UnicodeDecodeError as exc:
            raise SourceFormatError(
                f"{self._where(path)}: expected plain text, got {body[:80]!r}"
            ) from exc

    def _hash(self, path: str) -> str:
        text = self._text(path)
        if not HASH.fullmatch(text):
            raise SourceFormatError(f"{self._where(path)}: expected a hash, got {text[:80]!r}")
        return text

    def _hash_at(self, height: int) -> str:
        return self._hash(f"/block-height/{height}")

    def _mempool_page(self, top: int) -> dict[int, dict[str, Any]]:
        """Rows of ``/api/v1/blocks/{top}`` (blocks top, top-1, ... top-14), by height."""
        path = f"/api/v1/blocks/{top}"
        where = self._where(path)
        answer = require(self._json(path), kind=list, where=where)
        rows = [self._mempool_row(block, f"{where} (item {i})") for i, block in enumerate(answer)]
        return {row["height"]: row for row in rows}

    @staticmethod
    def _mempool_row(block: Any, where: str) -> dict[str, Any]:
        """One block of a ``/api/v1/blocks`` answer as a loader row."""
        addresses = require(block, "extras", "coinbaseAddresses", kind=list, where=where)
        return {
            "height": require(block, "height", kind=int, where=where),
            "hash": require(block, "id", kind=str, where=where),
            "time": datetime.fromtimestamp(require(block, "timestamp", kind=int, where=where), UTC),
            "coinbase_hex": require(block, "extras", "coinbaseRaw", kind=str, where=where),
            "coinbase_addresses": [
                require(block, "extras", "coinbaseAddresses", n, kind=str, where=where)
                for n in range(len(addresses))
            ],
            "coinbase_values_sats": None,
            "fees_sats": require(block, "extras", "totalFees", kind=int, where=where),
            "tx_count": require(block, "tx_count", kind=int, where=where),
        }

    def _esplora_row(self, height: int) -> dict[str, Any]:
        """One block and its coinbase transaction, in four requests."""
        block_hash = self._hash_at(height)
        block_path = f"/block/{block_hash}"
        block = self._json(block_path)
        where = self._where(block_path)
        if require(block, "id", kind=str, where=where) != block_hash:
            raise SourceFormatError(f"{where}: field 'id' is {block['id']!r}, not {block_hash!r}")
        if require(block, "height", kind=int, where=where) != height:
            raise SourceFormatError(f"{where}: field 'height' is {block['height']}, not {height}")
        tx_path = f"/tx/{self._hash(f'{block_path}/txid/0')}"
        tx = self._json(tx_path)
        tx_where = self._where(tx_path)
        if not require(tx, "vin", 0, "is_coinbase", kind=bool, where=tx_where):
            raise SourceFormatError(f"{tx_where}: transaction 0 of block {height} is no coinbase")
        outputs = require(tx, "vout", kind=list, where=tx_where)
        values = [
            require(tx, "vout", n, "value", kind=int, where=tx_where) for n in range(len(outputs))
        ]
        return {
            "height": height,
            "hash": block_hash,
            "time": datetime.fromtimestamp(require(block, "timestamp", kind=int, where=where), UTC),
            "coinbase_hex": require(tx, "vin", 0, "scriptsig", kind=str, where=tx_where),
            "coinbase_addresses": [
                require(
                    tx, "vout", n, "scriptpubkey_address", kind=str, where=tx_where, optional=True
                )
                for n in range(len(outputs))
            ],
            "coinbase_values_sats": values,
            "fees_sats": claimed_fees_sats(height, values),
            "tx_count": require(block, "tx_count", kind=int, where=where),
        }


@dataclass(frozen=True)
class RestBlockOptions:
    min_interval_seconds: float = option(1.0, help="least time between two requests")
    concurrency: int = option(1, help="requests in flight at once")


def _rest_reader(flavour: Flavour):
    def read(feed: Feed, scope: ReadScope) -> FeedRead:
        client = EsploraClient(
            feed.location,
            flavour=flavour,
            feed=feed.name,
            min_interval=feed.options.min_interval_seconds,
            concurrency=feed.options.concurrency,
            http=feed.http,
        )
        return read_live_blocks(client, feed.name, scope)

    return read


KINDS = (
    SourceKind(
        "mempool_rest",
        "blocks",
        "mempool.space REST API (/api/v1/blocks/{height}); location is the base URL",
        _rest_reader("mempool"),
        RestBlockOptions,
        table="raw.blocks",
        licence=(
            "mempool.space API: see publisher's terms (the block data itself is public block-chain "
            "data)"
        ),
    ),
    SourceKind(
        "esplora_rest",
        "blocks",
        "esplora REST API (/block-height, /block, /tx); location is the base URL",
        _rest_reader("esplora"),
        RestBlockOptions,
        table="raw.blocks",
        licence=(
            "Esplora API (e.g. blockstream.info): see publisher's terms (the block data itself is "
            "public block-chain data; Esplora software: MIT)"
        ),
    ),
)
