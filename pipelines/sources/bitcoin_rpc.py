"""Blocks and their coinbase from a Bitcoin Core node over JSON-RPC.

Every call goes out as a JSON-RPC batch (a JSON array, one POST): Bitcoin Core answers a batch
with HTTP 200 and puts errors in the items, whatever its version, so a JSON-RPC error is never
mistaken for a server failure and retried. ``getblockhash`` over a range is batched
``hash_batch`` heights at a time; ``getblock <hash> 2`` (a few MB of JSON per block) only
``block_batch`` at a time.

Credentials come from the node's cookie file (``<datadir>/.cookie``, ``__cookie__:<password>``,
rewritten at each node start) or from ``BITCOIN_RPC_USER`` / ``BITCOIN_RPC_PASSWORD``. They go
only into the Authorization header, which ``HttpClient`` redacts from logs and errors.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import polars as pl

from pipelines.http import Closeable, HttpSettings, SourceFormatError, SourceUnavailable
from pipelines.sources.block_cache import (
    blocks_frame,
    claimed_fees_sats,
    read_live_blocks,
    require,
)
from pipelines.sources.registry import Feed, FeedRead, ReadScope, SourceKind, option

ENV_USER = "BITCOIN_RPC_USER"
ENV_PASSWORD = "BITCOIN_RPC_PASSWORD"
SATS_PER_BTC = 100_000_000


class RpcError(SourceUnavailable):
    """The node answered a call with a JSON-RPC error (``code``, e.g. -8 for a bad height)."""

    def __init__(self, message: str, *, method: str, params: list, code: int | None) -> None:
        super().__init__(message)
        self.method = method
        self.params = params
        self.code = code


def _credentials(cookie: str | Path | None, feed: str) -> tuple[str, str, str]:
    """(user, password, where they came from) from the cookie file or the environment."""
    if cookie is not None:
        path = Path(cookie).expanduser()
        if path.is_dir():
            path = path / ".cookie"
        try:
            text = path.read_text().strip()
        except FileNotFoundError as exc:
            raise FileNotFoundError(
                f"{feed}: RPC cookie file {path} not found (is bitcoind running on that datadir?)"
            ) from exc
        user, _, password = text.partition(":")
        if not user or not password:
            raise ValueError(f"{feed}: RPC cookie file {path} is not of the form <user>:<password>")
        return user, password, f"cookie file {path}"
    user, password = os.environ.get(ENV_USER), os.environ.get(ENV_PASSWORD)
    if user and password:
        return user, password, f"env {ENV_USER}/{ENV_PASSWORD}"
    raise ValueError(
        f"{feed}: no RPC credentials: pass cookie= (the node's datadir or its .cookie file) "
        f"or set {ENV_USER} and {ENV_PASSWORD}"
    )


def _sats(btc: float) -> int:
    """Satoshis of a JSON amount in BTC: exact, as every amount below 21M BTC with at most 8
    decimals is within half a satoshi of its nearest double."""
    return round(btc * SATS_PER_BTC)


class BitcoinRpc(Closeable):
    """A Bitcoin Core node as a block loader (see ``pipelines.sources.block_cache``)."""

    def __init__(
        self,
        url: str = "http://127.0.0.1:8332",
        *,
        cookie: str | Path | None = None,
        feed: str = "bitcoin_rpc",
        hash_batch: int = 500,
        block_batch: int = 4,
        http: HttpSettings = HttpSettings(),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        split = urlsplit(url)
        if split.username or split.password:
            shown = split._replace(netloc=split.hostname or "").geturl()
            raise ValueError(
                f"{feed}: put RPC credentials in the cookie file or {ENV_USER}/{ENV_PASSWORD}, "
                f"not in the URL ({shown})"
            )
        if hash_batch < 1 or block_batch < 1:
            raise ValueError(f"{feed}: hash_batch and block_batch must be >= 1")
        self.url = url
        self.feed = feed
        self.hash_batch = hash_batch
        self.block_batch = block_batch
        user, password, self._auth_source = _credentials(cookie, feed)
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self._http = http.client(feed, headers={"Authorization": f"Basic {token}"}, sleep=sleep)

    def __repr__(self) -> str:
        return f"BitcoinRpc(url={self.url!r}, feed={self.feed!r}, auth={self._auth_source!r})"

    def close(self) -> None:
        """Release pooled connections."""
        self._http.close()

    def batch(self, calls: Sequence[tuple[str, list]]) -> list[Any]:
        """Send `calls` ((method, params) pairs) as one JSON-RPC batch; results in call order."""
        payload = [
            {"jsonrpc": "2.0", "id": i, "method": method, "params": params}
            for i, (method, params) in enumerate(calls)
        ]
        try:
            answer = self._http.post_json(self.url, payload)
        except SourceUnavailable as exc:
            if exc.status == 401:
                raise SourceUnavailable(
                    f"{self.feed}: POST {self.url}: HTTP 401, authentication failed "
                    f"(check the {self._auth_source})",
                    401,
                ) from exc
            raise
        where = f"{self.feed}: POST {self.url}"
        if not isinstance(answer, list):
            shown = json.dumps(answer)[:200]
            raise SourceFormatError(f"{where}: expected a JSON array answering the batch: {shown}")
        items = {item.get("id"): item for item in answer if isinstance(item, dict)}
        results = []
        for i, (method, params) in enumerate(calls):
            call = f"{method} {json.dumps(params)}"
            item = items.get(i)
            if item is None:
                raise SourceFormatError(f"{where}: no answer with id {i} ({call}) in the batch")
            error = item.get("error")
            if error is not None:
                code = error.get("code") if isinstance(error, dict) else None
                message = error.get("message") if isinstance(error, dict) else error
                raise RpcError(
                    f"{self.feed}: {call} failed at {self.url}: RPC error {code}: {message}",
                    method=method,
                    params=params,
                    code=code,
                )
            if "result" not in item:
                raise SourceFormatError(f"{where}: missing field 'result' in the answer to {call}")
            results.append(item["result"])
        return results

    def call(self, method: str, *params: Any) -> Any:
        """One JSON-RPC call (sent as a batch of one)."""
        return self.batch([(method, list(params))])[0]

    def _where(self, method: str, *params: Any) -> str:
        return f"{self.feed}: {method} {json.dumps(list(params))} at {self.url}"

    def tip_height(self) -> int:
        """Height of the node's best block (``getblockcount``)."""
        count = self.call("getblockcount")
        return require(count, kind=int, where=self._where("getblockcount"))

    def block_hash(self, height: int) -> str:
        """Hash of the block at `height` in the node's best chain (``getblockhash``)."""
        return self.block_hashes([height])[0]

    def block_hashes(self, heights: Sequence[int]) -> list[str]:
        """Hashes of the blocks at `heights`, ``hash_batch`` heights per request."""
        hashes = []
        for i in range(0, len(heights), self.hash_batch):
            group = heights[i : i + self.hash_batch]
            results = self.batch([("getblockhash", [h]) for h in group])
            hashes += [
                require(r, kind=str, where=self._where("getblockhash", h))
                for r, h in zip(results, group, strict=True)
            ]
        return hashes

    def block_time(self, height: int) -> datetime:
        """Header time (UTC) of the block at `height` (``getblockheader``)."""
        block_hash = self.block_hash(height)
        header = self.call("getblockheader", block_hash)
        seconds = require(header, "time", kind=int, where=self._where("getblockheader", block_hash))
        return datetime.fromtimestamp(seconds, UTC)

    def block(self, block_hash: str) -> dict[str, Any]:
        """One block as a loader row (``getblock <hash> 2``)."""
        return self._row(self.call("getblock", block_hash, 2), block_hash)

    def blocks(self, heights: Sequence[int]) -> pl.DataFrame:
        """The blocks at `heights` in ``BLOCK_SCHEMA``, sorted by height."""
        hashes = self.block_hashes(list(heights))
        rows = []
        for i in range(0, len(hashes), self.block_batch):
            group = hashes[i : i + self.block_batch]
            results = self.batch([("getblock", [h, 2]) for h in group])
            rows += [self._row(r, h) for r, h in zip(results, group, strict=True)]
        return blocks_frame(rows, self.feed)

    def _row(self, block: Any, block_hash: str) -> dict[str, Any]:
        """A ``getblock`` verbosity-2 result as a loader row; fees are coinbase − subsidy."""
        where = self._where("getblock", block_hash, 2)
        height = require(block, "height", kind=int, where=where)
        txs = require(block, "tx", kind=list, where=where)
        outputs = require(block, "tx", 0, "vout", kind=list, where=where)
        values, addresses = [], []
        for n in range(len(outputs)):
            value = require(block, "tx", 0, "vout", n, "value", kind=(int, float), where=where)
            values.append(_sats(value))
            require(block, "tx", 0, "vout", n, "scriptPubKey", kind=dict, where=where)
            addresses.append(
                require(
                    block,
                    *("tx", 0, "vout", n, "scriptPubKey", "address"),
                    kind=str,
                    where=where,
                    optional=True,
                )
            )
        return {
            "height": height,
            "hash": require(block, "hash", kind=str, where=where),
            "time": datetime.fromtimestamp(require(block, "time", kind=int, where=where), UTC),
            "coinbase_hex": require(block, "tx", 0, "vin", 0, "coinbase", kind=str, where=where),
            "coinbase_addresses": addresses,
            "coinbase_values_sats": values,
            "fees_sats": claimed_fees_sats(height, values),
            "tx_count": len(txs),
        }


@dataclass(frozen=True)
class BitcoinRpcOptions:
    cookie_file: str = option(
        "", path=True, help="the node's .cookie file (else $BITCOIN_RPC_USER/PASSWORD)"
    )


def read_rpc_feed(feed: Feed, scope: ReadScope) -> FeedRead:
    rpc = BitcoinRpc(
        feed.location,
        cookie=feed.options.cookie_file or None,
        feed=feed.name,
        http=feed.http,
    )
    return read_live_blocks(rpc, feed.name, scope)


KINDS = (
    SourceKind(
        "bitcoin_core_rpc",
        "blocks",
        "a Bitcoin Core node's JSON-RPC (getblockhash, getblock <hash> 2); credentials from "
        "cookie_file or $BITCOIN_RPC_USER/$BITCOIN_RPC_PASSWORD",
        read_rpc_feed,
        BitcoinRpcOptions,
        table="raw.blocks",
        licence=(
            "public block-chain data read from the operator's own Bitcoin Core node (Bitcoin Core "
            "software: MIT)"
        ),
    ),
)
