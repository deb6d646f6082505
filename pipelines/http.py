"""The single HTTP loader used by every live source: retries, rate limiting and clear errors."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Self
from urllib.parse import quote, urlsplit, urlunsplit

import requests

log = logging.getLogger("pipelines.http")

USER_AGENT = "decentralization-observatory/0.1 (+offline-capable)"
OFFLINE_HINT = "(no network? run offline with --config configs/shared-data.toml)"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_AFTER_STATUSES = frozenset({429, 503})
RETRY_EXCEPTIONS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
SNIPPET_CHARS = 200
MIN_SECRET_CHARS = 4


class SourceUnavailable(RuntimeError):
    """The source could not be reached, refused the request, or kept failing.

    `status` is the HTTP status of the last answer, or None when there was none (timeouts).
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class SourceFormatError(ValueError):
    """The source answered, but the body is malformed."""


def _snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """Collapse whitespace and cut `text` to about `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


def _body_snippet(body: bytes) -> str:
    """A short printable excerpt of a response body."""
    return _snippet(body[: SNIPPET_CHARS * 4].decode("utf-8", "replace")) or "<empty body>"


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if unusable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    return seconds if seconds >= 0 else None


def _shown_url(url: str, params: dict | None) -> str:
    """The URL as it goes on the wire, query string included."""
    try:
        return requests.Request("GET", url, params=params).prepare().url or url
    except requests.RequestException:
        return url


class Closeable:
    """``with obj:`` closes ``obj`` on exit (clients holding connections, servers)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release what the object holds."""


@dataclass
class HttpClient(Closeable):
    """GET with retries, backoff, Retry-After, rate limiting and errors that name the source.

    Every wait (backoff, Retry-After, rate limiting) goes through `sleep`. Values of `headers`
    (API keys) and of `secrets` (e.g. a key sent in the query string, also in its URL-quoted
    form) are redacted from every log line and error message.
    """

    source: str
    timeout: float = 30.0
    max_attempts: int = 5
    backoff: float = 1.0
    max_backoff: float = 60.0
    max_retry_after: float = 300.0
    min_interval: float = 0.0
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    secrets: tuple[str, ...] = field(default=(), repr=False)
    sleep: Callable[[float], None] = time.sleep
    _session: requests.Session = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)
    _next_start: float = field(init=False, repr=False, default=0.0)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"{self.source}: max_attempts must be >= 1, got {self.max_attempts}")
        self._session = requests.Session()
        self._session.headers["User-Agent"] = USER_AGENT
        self._session.headers.update(self.headers)

    def close(self) -> None:
        """Release pooled connections."""
        self._session.close()

    def get_bytes(self, url: str, params: dict | None = None) -> bytes:
        """GET `url` and return the body, retrying transient failures."""
        return self._send("GET", url, params=params)

    def get_json(self, url: str, params: dict | None = None) -> Any:
        """GET `url` and parse the body as JSON; malformed bodies raise SourceFormatError."""
        return self._parse_json("GET", url, params, self.get_bytes(url, params))

    def post_json(self, url: str, payload: Any) -> Any:
        """POST `payload` as JSON and parse the JSON answer, with the same retries as GET.

        Only for requests that are safe to repeat (read-only JSON-RPC calls, queries).
        """
        return self._parse_json("POST", url, None, self._send("POST", url, payload=payload))

    def _send(
        self, method: str, url: str, params: dict | None = None, payload: Any = None
    ) -> bytes:
        """Send one request, retrying transient failures, and return the body of the answer."""
        shown = _shown_url(url, params)
        cause = ""
        last_status: int | None = None
        for attempt in range(1, self.max_attempts + 1):
            self._wait_turn()
            wait: float | None = None
            try:
                response = self._session.request(
                    method, url, params=params, json=payload, timeout=self.timeout
                )
            except RETRY_EXCEPTIONS as exc:
                cause = f"{type(exc).__name__}: {exc}"
                last_status = None
            except requests.RequestException as exc:
                raise self._unavailable(
                    f"{method} {shown} failed: {type(exc).__name__}: {exc}"
                ) from exc
            else:
                if response.ok:
                    return response.content
                last_status = response.status_code
                status = f"HTTP {response.status_code} {response.reason or ''}".rstrip()
                cause = f"{status}: {_body_snippet(response.content)}"
                if response.status_code not in RETRY_STATUSES:
                    raise self._unavailable(f"{method} {shown} returned {cause}", last_status)
                if response.status_code in RETRY_AFTER_STATUSES:
                    wait = _retry_after(response.headers.get("Retry-After"))
            if wait is not None and wait > self.max_retry_after:
                raise self._unavailable(
                    f"{method} {shown} returned {cause}; Retry-After of {wait:.0f}s exceeds "
                    f"max_retry_after={self.max_retry_after:g}s, giving up",
                    last_status,
                )
            if attempt == self.max_attempts:
                break
            if wait is None:
                wait = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
            log.warning(
                self._redact(
                    f"{self.source}: {method} {shown} attempt {attempt}/{self.max_attempts} "
                    f"failed ({cause}); retrying in {wait:.1f}s"
                )
            )
            self.sleep(wait)
        raise self._unavailable(
            f"{method} {shown} failed after {self.max_attempts} attempts; last error: {cause} "
            + OFFLINE_HINT,
            last_status,
        )

    def _parse_json(self, method: str, url: str, params: dict | None, body: bytes) -> Any:
        """Parse `body` as JSON; malformed bodies raise SourceFormatError naming the request."""
        try:
            return json.loads(body)
        except json.JSONDecodeError as exc:
            near = _snippet(exc.doc[max(0, exc.pos - 40) : exc.pos + 40], limit=120)
            raise self._malformed(
                method,
                url,
                params,
                f"{exc.msg} at line {exc.lineno} column {exc.colno} near {near!r}",
            ) from exc
        except UnicodeDecodeError as exc:
            near = exc.object[max(0, exc.start - 20) : exc.start + 20]
            raise self._malformed(
                method, url, params, f"undecodable {exc.encoding} at byte {exc.start} near {near!r}"
            ) from exc

    def _wait_turn(self) -> None:
        """Reserve the next request slot so starts are at least `min_interval` apart."""
        if self.min_interval <= 0:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_start)
            self._next_start = start + self.min_interval
        if start > now:
            self.sleep(start - now)

    def _redact(self, text: str) -> str:
        """Replace every header value (and each word of it) and every secret with `***`."""
        secrets = {w for v in self.headers.values() for w in (v, *v.split())}
        secrets |= {form for v in self.secrets for form in (v, quote(v, safe=""))}
        for secret in sorted(secrets, key=len, reverse=True):
            if len(secret) >= MIN_SECRET_CHARS:
                text = text.replace(secret, "***")
        return text

    def _unavailable(self, detail: str, status: int | None = None) -> SourceUnavailable:
        return SourceUnavailable(self._redact(f"{self.source}: {detail}"), status)

    def _malformed(
        self, method: str, url: str, params: dict | None, detail: str
    ) -> SourceFormatError:
        shown = _shown_url(url, params)
        return SourceFormatError(
            self._redact(f"{self.source}: {method} {shown} returned bad JSON: {detail}")
        )


def read_location(location: str, *, source: str, client: HttpClient | None = None) -> bytes:
    """Fetch an http(s) URL (with `client`, or a default one) or read a local file."""
    if urlsplit(location).scheme.lower() in {"http", "https"}:
        if client is not None:
            return client.get_bytes(location)
        with HttpClient(source) as default_client:
            return default_client.get_bytes(location)
    path = Path(location).expanduser()
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise FileNotFoundError(
            f"{source}: local file {location!r} not found (resolved to {path.absolute()})"
        ) from exc


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


@dataclass(frozen=True)
class HttpSettings:
    """The ``[http]`` settings: every live reader builds its client from this one object."""

    timeout_seconds: float = 30.0
    max_attempts: int = 5
    backoff_seconds: float = 1.0
    max_retry_after_seconds: float = 300.0

    def client(self, source: str, **options: Any) -> HttpClient:
        """An ``HttpClient`` for ``source`` with these settings and the API's own ``options``
        (min_interval, headers, secrets, sleep)."""
        return HttpClient(
            source,
            timeout=self.timeout_seconds,
            max_attempts=int(self.max_attempts),
            backoff=self.backoff_seconds,
            max_retry_after=self.max_retry_after_seconds,
            **options,
        )


class ApiClient(Closeable):
    """Base of the API clients: base URL, source name (in every error) and one HttpClient built
    from the shared ``[http]`` settings plus the API's own pacing, headers and secrets."""

    def __init__(
        self,
        base_url: str,
        source: str,
        http: HttpSettings,
        sleep: Callable[[float], None] = time.sleep,
        **client: Any,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.source = source
        self._http = http.client(source, sleep=sleep, **client)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r}, source={self.source!r})"

    def close(self) -> None:
        """Release pooled connections."""
        self._http.close()

    def on_base_host(self, url: str) -> str:
        """``url`` (e.g. a next-page link) with the scheme and host of ``base_url``, so that a
        self-hosted, proxy or test server reporting another host still works."""
        base = urlsplit(self.base_url)
        return urlunsplit(urlsplit(url)._replace(scheme=base.scheme, netloc=base.netloc))
