"""The simulated gateway's request handling: faults, replies, TLS per connection.

Everything one request sees happens here, in the order the fault docs describe; the gateway's state
(sessions, model, replay store, recorded requests) lives in :class:`~exporter.simulator.server.SimulatedGateway`.
"""

from __future__ import annotations

import contextlib
import http.cookies
import http.server
import json
import logging
import re
import socket
import socketserver
import ssl
import struct
import threading
import time
import urllib.parse
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from exporter.simulator.server import SimulatedGateway

logger = logging.getLogger(__name__)

LOGIN_PATH = "/api/login/Basic"
SNI_NAMES = frozenset({"teg", "powerwall", "powerpack"})
# Paths the simulator serves in model mode. Kept independent of the exporter's endpoint list on purpose: the
# simulator is the oracle tests check the exporter's allow-list against.
MODEL_PATHS = frozenset(
    {
        "/api/meters/aggregates",
        "/api/system_status/soe",
        "/api/system_status/grid_status",
        "/api/operation",
        "/api/site_info",
        "/api/status",
        "/api/system_status",
        "/api/powerwalls",
        "/api/sitemaster",
        "/api/devices/vitals",
        "/api/solar_powerwall",
    }
)
# Calls that change a real system (gateway-api.md "Never call"), whatever the method.
DANGEROUS_PATHS = frozenset(
    {
        "/api/sitemaster/stop",
        "/api/sitemaster/run",
        "/api/sitemaster/run_for_commissioning",
        "/api/config/completed",
        "/api/v2/islanding/mode",
        "/api/logging",
        "/api/customer/registration/legal",
        "/api/system/networks/ping_test",
        "/api/logout",
    }
)
# What a Powerwall 3 still serves of the JSON API (shared/docs/tedapi.md §1).
PW3_JSON_PATHS = frozenset({"/api/meters/aggregates", "/api/system_status/soe", "/api/system_status/grid_status"})
TEDAPI_USER = "Tesla_Energy_Device"
TEDAPI_DIN_PATH = "/tedapi/din"
TEDAPI_PATH = "/tedapi/v1"
TEDAPI_V1R_PATH = "/tedapi/v1r"
TEDAPI_DEVICE_RE = re.compile(r"^/tedapi/device/(?P<din>[^/]+)/v1$")
STOPPED_502_PATHS = frozenset({"/api/meters/aggregates", "/api/system_status"})
MAX_BODY = 1 << 20
GZIP_SEGMENT = 1 << 20

_BODY_401_SESSION = {"code": 401, "error": "Unable to authenticate", "message": "Login Required"}
_BODY_401_BAD = {"code": 401, "error": "bad credentials", "message": "Login Error"}
_BODY_403 = {"code": 403, "error": "Unable to GET to resource", "message": "User does not have adequate access rights"}
_BODY_429 = {"code": 429, "error": "Api Limit reached for this endpoint", "message": "API Limit Reached"}
_HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Tesla Energy Gateway</title></head>"
    b"<body><div id='root'>Please log in</div><script src='/static/js/main.js'></script></body></html>\n"
)


def is_tedapi_path(path: str) -> bool:
    """``/tedapi/...``: handled by the TEDAPI side (``/`` too, while TEDAPI is on)."""
    return path == "/tedapi" or path.startswith("/tedapi/")


def is_dangerous(method: str, path: str) -> bool:
    """True for requests that would change a real system (see ``DANGEROUS_PATHS``)."""
    if path in DANGEROUS_PATHS:
        return True
    parts = path.split("/")
    if len(parts) == 5 and parts[1:3] == ["api", "meters"] and parts[4] == "verify":
        return True
    return method != "GET" and not (method == "POST" and path == LOGIN_PATH)


@dataclass(slots=True)
class RecordedRequest:
    """One request as it reached the simulator. ``status`` is None until answered, and stays None
    when the connection was reset or the client went away first."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    status: int | None = None
    time: float = field(default_factory=time.time)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(slots=True)
class _Reply:
    status: int
    body: bytes = b""
    content_type: str | None = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    mode: str = "normal"  # normal | reset | giant | gzip_bomb
    size: int = 0  # giant / gzip_bomb


def _json_reply(status: int, obj: Any, headers: list[tuple[str, str]] | None = None) -> _Reply:
    return _Reply(status, json.dumps(obj).encode(), "application/json", headers or [])


def _error_reply(code: int, retry_after: object = None) -> _Reply:
    """The gateway's answer for a given error code (see Faults.status)."""
    if code in (401,):
        return _json_reply(401, _BODY_401_SESSION)
    if code == 403:
        return _json_reply(403, _BODY_403)
    if code == 404:
        return _Reply(404, b"404 page not found\n", "text/plain; charset=utf-8")
    if code == 429:
        hdrs = [("Retry-After", str(retry_after))] if retry_after is not None else []
        return _json_reply(429, _BODY_429, hdrs)
    if code == 502:
        return _Reply(502, b"", None)
    if code == 503:
        return _Reply(503, b"Service Unavailable\n", "text/plain; charset=utf-8")
    return _json_reply(code, {"code": code, "error": "simulated failure", "message": "Simulated Error"})


class _GzipBombCache:
    """Precomputed gzip bodies (inflated size → bytes); building one costs ~1 ms per inflated MiB."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[int, bytes] = {}

    def get(self, inflated: int) -> bytes:
        with self._lock:
            if inflated not in self._cache:
                self._cache[inflated] = self._build(inflated)
            return self._cache[inflated]

    @staticmethod
    def _build(inflated: int) -> bytes:
        segments = max(1, -(-inflated // GZIP_SEGMENT))
        zeros = bytes(GZIP_SEGMENT)
        comp = zlib.compressobj(9, zlib.DEFLATED, -15)
        # After a full flush the stream is byte-aligned with no back-references, so the compressed
        # segment can be repeated verbatim: a valid deflate stream of N MiB of zeros.
        seg = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
        tail = comp.flush(zlib.Z_FINISH)
        crc = 0
        for _ in range(segments):
            crc = zlib.crc32(zeros, crc)
        size = (segments * GZIP_SEGMENT) & 0xFFFFFFFF
        header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
        return header + seg * segments + tail + struct.pack("<II", crc, size)


_GZIP_BOMBS = _GzipBombCache()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 30  # idle keep-alive connections go away on their own

    # ---------------------------------------------------------------- plumbing
    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def send_response(self, code: int, message: str | None = None) -> None:
        # No "Server:" header: the gateway sends none. "Date" is the gateway's own clock (offset
        # included): v1r clients learn the gateway's idea of "now" from it.
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string(self.server.gw.now()))

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def do_HEAD(self) -> None:
        self._dispatch()

    # ---------------------------------------------------------------- request
    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY:
            raise ValueError("bad Content-Length")
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        gw = self.server.gw
        split = urllib.parse.urlsplit(self.path)
        path, query = split.path, split.query
        try:
            body = self._read_body()
        except ValueError:
            self.close_connection = True
            self._send(_Reply(413, b"", None), None)
            return
        rec = RecordedRequest(self.command, path, query, dict(self.headers.items()), body)
        gw._record(rec)
        if rec.method == "POST" and path == LOGIN_PATH:
            gw._count_login()  # every attempt, whatever answers it (faults included)
        delay = gw.faults.take("delay_seconds", path)
        if delay and gw._stopping.wait(float(delay)):
            self.close_connection = True
            return
        reply = self._decide(rec)
        rec.status = None if reply.mode == "reset" else reply.status
        self._send(reply, rec)

    def _decide(self, rec: RecordedRequest) -> _Reply:
        gw = self.server.gw
        f = gw.faults
        method, path = rec.method, rec.path
        if f.take("reset", path):
            return _Reply(0, mode="reset")
        if is_tedapi_path(path) or (path == "/" and gw.gateway_password is not None):
            return gw._tedapi(rec)
        if is_dangerous(method, path):
            gw._flag_dangerous(rec)
            return _json_reply(200, {})
        forced = f.take("status", path)
        if forced:
            return _error_reply(int(forced), f.peek("retry_after", path))
        if f.take("html", path):
            return _Reply(200, _HTML_PAGE, "text/html; charset=utf-8")
        garbage = f.take("garbage", path)
        if garbage:
            n = 512 if garbage is True else int(garbage)
            return _Reply(200, gw._random_bytes(n), "application/json")
        body = f.take("body", path)
        if body:
            return _Reply(200, bytes(body), "application/json")
        giant = f.take("giant", path)
        if giant:
            return _Reply(200, content_type="application/json", mode="giant", size=int(giant))
        bomb = f.take("gzip_bomb", path)
        if bomb:
            return _Reply(200, content_type="application/json", mode="gzip_bomb", size=int(bomb))
        if path == LOGIN_PATH and method == "POST":
            return gw._login(rec)
        if method != "GET" or not path.startswith("/api/"):
            return _error_reply(404)
        if not gw._authenticated(self.headers):
            return _json_reply(401, _BODY_401_SESSION)
        return gw._content(path)

    # ---------------------------------------------------------------- response
    def _send(self, reply: _Reply, rec: RecordedRequest | None) -> None:
        gw = self.server.gw
        path = rec.path if rec else None
        if reply.mode == "reset":
            self._reset()
            return
        body = reply.body
        if reply.mode == "gzip_bomb":
            body = _GZIP_BOMBS.get(reply.size)
        length = reply.size if reply.mode == "giant" else len(body)
        self.send_response(reply.status)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        self.send_header("Cache-Control", "no-cache, no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        if reply.mode == "gzip_bomb":
            self.send_header("Content-Encoding", "gzip")
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if self.command == "HEAD":
            return
        truncate = gw.faults.take("truncate_at", path) if rec else None
        drip = gw.faults.take("slow_drip", path) if rec else None
        stream = self._giant_chunks(reply.size) if reply.mode == "giant" else iter((body,))
        sent = 0
        for chunk in stream:
            if truncate is not None and sent + len(chunk) >= int(truncate):
                self.wfile.write(chunk[: int(truncate) - sent])
                self.wfile.flush()
                self.close_connection = True
                self._hard_close()
                return
            if drip:
                for i in range(len(chunk)):
                    self.wfile.write(chunk[i : i + 1])
                    self.wfile.flush()
                    if gw._stopping.wait(float(drip)):
                        self.close_connection = True
                        return
            else:
                self.wfile.write(chunk)
            sent += len(chunk)
        if truncate is not None:
            # Body shorter than the cut: still close, so the client sees the connection end.
            self.close_connection = True

    @staticmethod
    def _giant_chunks(size: int) -> Iterator[bytes]:
        """Exactly ``size`` bytes of valid JSON ({"pad":"xxx..."}) in 64 KiB pieces."""
        head, tail = b'{"pad":"', b'"}'
        if size < len(head) + len(tail):
            yield b" " * size
            return
        yield head
        left = size - len(head) - len(tail)
        block = b"x" * 65536
        while left > 0:
            n = min(left, len(block))
            yield block[:n]
            left -= n
        yield tail

    def _hard_close(self) -> None:
        with contextlib.suppress(OSError):
            socket.socket.shutdown(self.connection, socket.SHUT_RDWR)

    def _reset(self) -> None:
        """Close with a TCP RST and no answer (SO_LINGER 0)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            socket.socket.close(self.connection)


class _Server(socketserver.TCPServer):
    """TCP server doing TLS per connection in its own daemon thread (so a slow or failed handshake
    never blocks the accept loop) and tracking connections so ``stop()`` can close them."""

    allow_reuse_address = True
    daemon_threads = True
    # socketserver's default listen backlog is 5. A client opening ~11 connections at once (the
    # exporter after login) overflows it; the kernel drops the extra SYNs and the client retries only
    # after the 1 s SYN retransmit timeout, which looks like a slow gateway in timing-sensitive tests.
    request_queue_size = 64

    def __init__(self, gw: SimulatedGateway, address: tuple[str, int]) -> None:
        self.gw = gw
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        t = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name=f"pwsim-conn-{client_address[1]}",
            daemon=True,
        )
        self.gw._track(t, request)
        t.start()

    def _serve_connection(self, raw: socket.socket, client_address: Any) -> None:
        gw = self.gw
        conn: socket.socket = raw
        try:
            if gw.faults.take("tls_fail"):
                gw._count_handshake_failure("tls_fail fault")
                with contextlib.suppress(OSError):
                    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            raw.settimeout(10.0)
            # Headers and body go out in separate writes; without this, Nagle + delayed ACK add 40 ms.
            with contextlib.suppress(OSError):
                raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                conn = gw._ssl_context.wrap_socket(raw, server_side=True)
            except (ssl.SSLError, OSError) as exc:
                gw._count_handshake_failure(f"{type(exc).__name__}: {exc}")
                return
            gw._track(threading.current_thread(), conn)
            self.finish_request(conn, client_address)
        except (OSError, ssl.SSLError, ValueError) as exc:
            # Clients going away mid-answer are normal (timeouts, truncation tests): no traceback.
            logger.debug("connection from %s ended: %s", client_address, exc)
        except Exception:
            logger.exception("simulated gateway: unexpected error serving %s", client_address)
        finally:
            with contextlib.suppress(OSError):
                conn.close()
            with contextlib.suppress(OSError):
                raw.close()
            gw._untrack(threading.current_thread())

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Only reached for errors outside _serve_connection's own handling; keep it quiet but visible.
        logger.debug("error serving %s", client_address)
