"""The simulated gateway's HTTP side: TLS per connection, reading requests, sending replies.

Why apart from the gateway: this is transport (and the transport faults ``tls_fail``,
``delay_seconds``, ``truncate_at``, ``slow_drip``, and the ``giant``/``gzip_bomb`` bodies it streams);
what to answer, and all of the gateway's state (sessions, model, replay store, recorded requests), is
:class:`~exporter.simulator.server.SimulatedGateway`'s. The two meet at :class:`Backend`, and at
:class:`~exporter.simulator.replies.Reply`. The paths and the request record here are public API of
the package.
"""

from __future__ import annotations

import contextlib
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
from email.message import Message
from typing import Any, Protocol

from exporter.simulator.faults import Faults
from exporter.simulator.replies import Reply

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


class Backend(Protocol):
    """What the HTTP side needs of the gateway, and all it may touch.

    Why an interface: the handler is transport (TLS per connection, reading a body, sending a reply
    in chunks, the transport faults ``tls_fail``, ``delay_seconds``, ``truncate_at`` and
    ``slow_drip``); every decision about *what* to answer is the gateway's
    (:meth:`~exporter.simulator.server.SimulatedGateway.answer`). Keeping the boundary this narrow
    lets either side change without reaching into the other's state.
    """

    @property
    def faults(self) -> Faults: ...

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context for the next connection (the certificate can rotate)."""
        ...

    def now(self) -> float:
        """The gateway's clock, for the ``Date`` header."""
        ...

    def wait(self, seconds: float) -> bool:
        """Sleep ``seconds``; True (early) when the gateway is stopping."""
        ...

    def record(self, rec: RecordedRequest) -> None:
        """Keep ``rec`` (and count it when it is a login attempt), before anything answers it."""
        ...

    def answer(self, rec: RecordedRequest, headers: Message) -> Reply:
        """What the gateway answers ``rec`` (``headers``: the request's, case-insensitive)."""
        ...

    def handshake_failed(self, why: str) -> None:
        """A TLS handshake failed or was refused (the ``handshake_failures`` record)."""
        ...


class Handler(http.server.BaseHTTPRequestHandler):
    """One HTTP/1.1 connection: reads each request, hands it to the gateway, sends the reply."""

    protocol_version = "HTTP/1.1"
    server: HttpsServer
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
            self._send(Reply(413, b"", None), None)
            return
        rec = RecordedRequest(self.command, path, query, dict(self.headers.items()), body)
        gw.record(rec)
        delay = gw.faults.take("delay_seconds", path)
        if delay and gw.wait(float(delay)):
            self.close_connection = True
            return
        reply = gw.answer(rec, self.headers)
        rec.status = None if reply.mode == "reset" else reply.status
        self._send(reply, rec)

    # ---------------------------------------------------------------- response
    def _send(self, reply: Reply, rec: RecordedRequest | None) -> None:
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
                    if gw.wait(float(drip)):
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


class HttpsServer(socketserver.TCPServer):
    """TCP server doing TLS per connection in its own daemon thread (so a slow or failed handshake
    never blocks the accept loop) and tracking connections so :meth:`close_connections` can end them."""

    allow_reuse_address = True
    daemon_threads = True
    # socketserver's default listen backlog is 5. A client opening ~11 connections at once (the
    # exporter after login) overflows it; the kernel drops the extra SYNs and the client retries only
    # after the 1 s SYN retransmit timeout, which looks like a slow gateway in timing-sensitive tests.
    request_queue_size = 64

    def __init__(self, gw: Backend, address: tuple[str, int]) -> None:
        self.gw = gw
        self._lock = threading.Lock()
        self._conns: dict[threading.Thread, socket.socket] = {}
        self.accepted = 0  # TCP connections accepted so far
        super().__init__(address, Handler)

    def open_connections(self) -> int:
        """Connections accepted and not yet ended (by either side), as this gateway sees them."""
        with self._lock:
            return len(self._conns)

    def close_connections(self) -> None:
        """Shut down every open connection and join its thread (after ``shutdown()``: no new ones)."""
        with self._lock:
            conns = dict(self._conns)
        for sock in conns.values():
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
        for t in conns:
            if t is not threading.current_thread():
                t.join(5)

    def _track(self, t: threading.Thread, sock: socket.socket) -> None:
        with self._lock:
            self._conns[t] = sock

    def _untrack(self, t: threading.Thread) -> None:
        with self._lock:
            self._conns.pop(t, None)

    def process_request(self, request: Any, client_address: Any) -> None:
        t = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name=f"pwsim-conn-{client_address[1]}",
            daemon=True,
        )
        self._track(t, request)
        with self._lock:
            self.accepted += 1
        t.start()

    def _serve_connection(self, raw: socket.socket, client_address: Any) -> None:
        gw = self.gw
        conn: socket.socket = raw
        try:
            if gw.faults.take("tls_fail"):
                gw.handshake_failed("tls_fail fault")
                with contextlib.suppress(OSError):
                    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            raw.settimeout(10.0)
            # Headers and body go out in separate writes; without this, Nagle + delayed ACK add 40 ms.
            with contextlib.suppress(OSError):
                raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                conn = gw.ssl_context.wrap_socket(raw, server_side=True)
            except (ssl.SSLError, OSError) as exc:
                gw.handshake_failed(f"{type(exc).__name__}: {exc}")
                return
            self._track(threading.current_thread(), conn)
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
            self._untrack(threading.current_thread())

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Only reached for errors outside _serve_connection's own handling; keep it quiet but visible.
        logger.debug("error serving %s", client_address)
