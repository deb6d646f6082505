"""A scripted HTTP server on 127.0.0.1 for tests that need real-shaped API responses.

Use the `fake_server` fixture (registered for all tests by tests/conftest.py)::

    def test_pools(fake_server):
        fake_server.route("/pools", (503, {}, b"busy"), json_response({"pools": []}))
        data = HttpClient("pools", sleep=lambda s: None).get_json(fake_server.url("/pools"))
        assert [r.path for r in fake_server.requests] == ["/pools", "/pools"]

Each route is a script of responses consumed in order; the last one repeats. A response is
`(status, headers, body)` or `Delay(seconds, response)`, which waits before answering (to
provoke client timeouts). Unrouted paths answer 404.

When the request decides the answer (JSON-RPC, where the body names the method), register a
function instead: ``fake_server.handler("/", fn)``, with ``fn(request) -> response``; it runs
on the server's threads, so it must be thread-safe.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from requests.structures import CaseInsensitiveDict

from pipelines.http import Closeable

Reply = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class Delay:
    """Wait `seconds` (cut short at server shutdown), then send `response`."""

    seconds: float
    response: Reply = (200, {}, b"")


Response = Reply | Delay


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it; `time` is `time.monotonic()` at arrival."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: CaseInsensitiveDict[str]
    body: bytes
    time: float


Handler = Callable[[RecordedRequest], Response]


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    """A JSON reply with the right Content-Type."""
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(obj).encode()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _serve(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        fake = self.server.fake
        request = RecordedRequest(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=CaseInsensitiveDict(self.headers.items()),
            body=self.rfile.read(length) if length else b"",
            time=time.monotonic(),
        )
        fake._record(request)
        response = fake._next_response(request)
        if isinstance(response, Delay):
            fake._closing.wait(response.seconds)
            response = response.response
        status, headers, body = response
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if not any(name.lower() == "content-length" for name in headers):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that hung up (e.g. after a timeout); report anything else."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeServer(Closeable):
    """A threaded HTTP server on an ephemeral 127.0.0.1 port, scripted per path."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: dict[str, list[Response] | Handler] = {}
        self._requests: list[RecordedRequest] = []
        self._closing = threading.Event()
        self._httpd = _Server(self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.01},
            name="fake-http-server",
            daemon=True,
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        """Absolute URL of `path` (which may carry a query string) on this server."""
        return self.base_url + "/" + path.lstrip("/")

    def route(self, path: str, *responses: Response) -> None:
        """Script `path`: answer with `responses` in order, repeating the last one."""
        if not responses:
            raise ValueError(f"route {path!r} needs at least one response")
        with self._lock:
            self._routes["/" + path.lstrip("/")] = list(responses)

    def handler(self, path: str, fn: Handler) -> None:
        """Answer every request to `path` with `fn(request)` (replaces any script).

        A `path` ending in ``*`` answers every path that starts with what precedes it.
        """
        with self._lock:
            self._routes["/" + path.lstrip("/")] = fn

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def close(self) -> None:
        """Wake delayed handlers, stop serving and free the port."""
        if self._closing.is_set():
            return
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _next_response(self, request: RecordedRequest) -> Response:
        with self._lock:
            script = self._routes.get(request.path)
            if script is None:  # "/prefix/*" routes answer every path below the prefix
                prefixes = [p for p in self._routes if p.endswith("*")]
                matching = [p for p in prefixes if request.path.startswith(p[:-1])]
                script = self._routes[max(matching, key=len)] if matching else None
            if script is None:
                return 404, {"Content-Type": "text/plain"}, f"no route for {request.path}".encode()
            if not callable(script):
                return script.pop(0) if len(script) > 1 else script[0]
        return script(request)


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    """A running FakeServer, shut down at teardown."""
    with FakeServer() as server:
        yield server
