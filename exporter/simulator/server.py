"""The simulated gateway: a threaded HTTPS server speaking the gateway's local API.

Why this exists: every test, the ``--demo`` mode and the benchmarks need a gateway that behaves like
the real one where it matters to a client (TLS with an un-verifiable self-signed certificate and SNI
checks, cookie/bearer sessions, 401/429/502 answers, protobuf vitals) and that can misbehave on demand
(``Faults``). It also *records* every request so tests can prove the exporter never sent anything
outside its allow-list, never a dangerous call, and never ``force_sm_off``.

Request handling order (documented because fault tests depend on it):

1. TLS: ``tls_fail`` closes the TCP connection before the handshake; a handshake whose SNI is set and
   is not ``teg``/``powerwall``/``powerpack`` is aborted (a bare IP sends no SNI and is fine).
2. The request is recorded (``requests``), then ``delay_seconds`` sleeps, then ``reset`` aborts.
3. Dangerous calls (``DANGEROUS_PATHS``, ``/api/meters/<x>/verify``, any non-GET other than the login
   POST) are recorded in ``dangerous_calls`` and answered 200 ``{}``, as a real gateway would obey them.
4. Forced answers: ``status``, ``html``, ``garbage``, ``giant``, ``gzip_bomb`` (login path included
   when the fault is global).
5. ``POST /api/login/Basic``: ``force_sm_off`` → flag + 400; ``login_status``; password check.
6. Other methods → 404. Paths outside ``/api/`` → 404. ``/api/*`` without a valid session → 401.
7. Content from the model (or the replay tree): unknown path → 404; ``sitemaster_stopped``,
   ``vitals_absent`` and ``extra_json`` are applied here. ``truncate_at`` / ``slow_drip`` shape how the
   body is sent.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import http.cookies
import http.server
import json
import logging
import os
import random
import secrets
import shutil
import socket
import socketserver
import ssl
import struct
import tempfile
import threading
import time
import urllib.parse
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from exporter.simulator import payloads
from exporter.simulator.certs import CertBundle, generate_certificate
from exporter.simulator.faults import Faults
from exporter.simulator.model import SiteModel
from exporter.simulator.replay import CannedResponse, ReplayStore
from exporter.simulator.vitals import build_vitals

logger = logging.getLogger(__name__)

LOGIN_PATH = "/api/login/Basic"
SNI_NAMES = frozenset({"teg", "powerwall", "powerpack"})
# Paths the simulator serves in model mode. Kept independent of exporter.gateway.endpoints on purpose: the
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
        # No "Server:" header: the gateway sends none.
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

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


class NoWritableTempDirError(OSError):
    """No temporary directory can be written (a read-only container without a tmpfs on /tmp)."""


def _temp_dir_candidates() -> list[str]:
    env = [os.environ.get(k) for k in ("TMPDIR", "TEMP", "TMP")]
    defaults = ["/tmp", "/var/tmp", "/usr/tmp"] if os.name == "posix" else []  # noqa: S108 - the usual temp dirs
    return list(dict.fromkeys(d for d in (*env, *defaults) if d))


def private_tmpdir(prefix: str, candidates: Sequence[str] | None = None) -> Path:
    """A new 0700 directory for the certificate and key files ``ssl`` insists on reading from disk.

    ``tempfile.mkdtemp()`` alone falls back to the *current directory* when no temporary directory is
    writable, which would drop a private key wherever the process happens to run (or fail with a
    confusing message in a read-only container). Only real temporary directories are tried here, in
    ``tempfile``'s order; the caller removes the directory when done.
    """
    tried: list[str] = []
    for d in _temp_dir_candidates() if candidates is None else candidates:
        try:
            return Path(tempfile.mkdtemp(prefix=prefix, dir=d))
        except OSError as exc:
            tried.append(f"{d}: {exc.strerror or exc}")
    raise NoWritableTempDirError(
        "no writable temporary directory for the simulated gateway's certificate "
        f"({'; '.join(tried) or 'none configured'}); mount a tmpfs on /tmp or set TMPDIR"
    )


class SimulatedGateway:
    """See the package docstring for the API and ``Faults`` for the misbehaviour switches."""

    def __init__(
        self,
        password: str = "sim-password",  # noqa: S107 - a simulator default, documented
        host: str = "127.0.0.1",
        port: int = 0,
        model: SiteModel | None = None,
        replay_dir: Path | None = None,
        vitals_file: Path | None = None,
        faults: Faults | None = None,
    ) -> None:
        self.password = password
        self.host = host
        self._requested_port = port
        self.model = model if model is not None else SiteModel()
        self.replay = ReplayStore(Path(replay_dir), vitals_file) if replay_dir is not None else None
        self.faults = faults if faults is not None else Faults()
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._dangerous: list[RecordedRequest] = []
        self._sessions: set[str] = set()
        self._conns: dict[threading.Thread, socket.socket] = {}
        self._login_count = 0
        self._handshake_failures: list[str] = []
        self.force_sm_off_seen = False
        self._stopping = threading.Event()
        self._rng = random.Random(self.model.seed)
        bundle = generate_certificate()  # first: a missing cryptography then leaves no directory behind
        self._tmpdir = private_tmpdir("pwsim-")
        self._cert_gen = 0
        self._install_certificate(bundle)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> SimulatedGateway:
        if self._server is not None:
            raise RuntimeError("already started")
        self._stopping.clear()
        self._server = _Server(self, (self.host, self._requested_port))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="pwsim-accept", daemon=True
        )
        self._thread.start()
        logger.info("simulated gateway listening on %s (%s)", self.url, "replay" if self.replay else "model")
        return self

    def stop(self) -> None:
        """Stop serving, close every open connection, join all threads, remove the temp dir."""
        server, thread = self._server, self._thread
        self._stopping.set()
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(5)
        with self._lock:
            conns = dict(self._conns)
        for sock in conns.values():
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
        for t in conns:
            if t is not threading.current_thread():
                t.join(5)
        self._server = self._thread = None
        shutil.rmtree(self._tmpdir, ignore_errors=True)

    def __enter__(self) -> SimulatedGateway:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    # ---------------------------------------------------------------- TLS
    def _install_certificate(self, bundle: CertBundle) -> None:
        self._cert_gen += 1
        cert_path = self._tmpdir / f"gateway-cert-{self._cert_gen}.pem"
        key_path = self._tmpdir / f"gateway-key-{self._cert_gen}.pem"
        cert_path.write_bytes(bundle.cert_pem)
        key_path.touch(mode=0o600)
        key_path.write_bytes(bundle.key_pem)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(cert_path, key_path)
        ctx.sni_callback = self._sni_check
        self._bundle = bundle
        self._cert_path = cert_path
        self._ssl_context = ctx

    def _sni_check(self, sslobj: ssl.SSLObject, server_name: str | None, ctx: ssl.SSLContext) -> int | None:
        if server_name is not None and server_name.lower() not in SNI_NAMES:
            logger.debug("aborting handshake: unexpected SNI %r", server_name)
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        return None

    def rotate_certificate(self) -> None:
        """New key and certificate for new connections (like after a firmware update). ``cert_path``
        then names a new file; the old file keeps the old certificate."""
        self._install_certificate(generate_certificate())

    @property
    def cert_pem(self) -> bytes:
        return self._bundle.cert_pem

    @property
    def cert_path(self) -> Path:
        return self._cert_path

    @property
    def fingerprint_sha256(self) -> str:
        return self._bundle.fingerprint_sha256

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context trusting exactly this certificate; connect with server_hostname="powerwall"."""
        ctx = ssl.create_default_context(cafile=str(self._cert_path))
        return ctx

    @property
    def handshake_failures(self) -> list[str]:
        with self._lock:
            return list(self._handshake_failures)

    def _count_handshake_failure(self, why: str) -> None:
        logger.debug("TLS handshake failed: %s", why)
        with self._lock:
            self._handshake_failures.append(why)

    # ---------------------------------------------------------------- records
    def _track(self, t: threading.Thread, sock: socket.socket) -> None:
        with self._lock:
            self._conns[t] = sock

    def _untrack(self, t: threading.Thread) -> None:
        with self._lock:
            self._conns.pop(t, None)

    def _record(self, rec: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(rec)

    def _flag_dangerous(self, rec: RecordedRequest) -> None:
        logger.error("DANGEROUS call reached the simulated gateway: %s %s", rec.method, rec.path)
        with self._lock:
            self._dangerous.append(rec)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Snapshot (a new list) of every request received, in arrival order."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    @property
    def dangerous_calls(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._dangerous)

    @property
    def login_count(self) -> int:
        """POSTs to the login path received, successful or not (also those a fault answered)."""
        with self._lock:
            return self._login_count

    def unexpected_requests(self, allowed: frozenset[tuple[str, str]] | None = None) -> list[RecordedRequest]:
        """Requests whose (method, path) is not in ``allowed`` (default: the login POST plus GET of
        ``MODEL_PATHS``)."""
        if allowed is None:
            allowed = frozenset({("POST", LOGIN_PATH)} | {("GET", p) for p in MODEL_PATHS})
        return [r for r in self.requests if (r.method, r.path) not in allowed]

    def assert_safe(self) -> None:
        """Raise AssertionError if any dangerous call or force_sm_off login reached the simulator."""
        problems = [f"{r.method} {r.path}" for r in self.dangerous_calls]
        if self.force_sm_off_seen:
            problems.append("login with force_sm_off")
        if problems:
            raise AssertionError("dangerous requests reached the simulated gateway: " + ", ".join(problems))

    # ---------------------------------------------------------------- sessions
    def invalidate_sessions(self) -> None:
        """Forget every session: the next authenticated request gets 401 (as after a gateway reboot)."""
        with self._lock:
            self._sessions.clear()

    def _authenticated(self, headers: Any) -> bool:
        tokens: list[str] = []
        auth = headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            tokens.append(auth[7:].strip())
        cookie_header = headers.get("Cookie")
        if cookie_header:
            jar = http.cookies.SimpleCookie()
            with contextlib.suppress(http.cookies.CookieError):
                jar.load(cookie_header)
            if "AuthCookie" in jar:
                tokens.append(jar["AuthCookie"].value)
        with self._lock:
            return any(t in self._sessions for t in tokens)

    def _count_login(self) -> None:
        with self._lock:
            self._login_count += 1

    def _login(self, rec: RecordedRequest) -> _Reply:
        if b"force_sm_off" in rec.body:
            self.force_sm_off_seen = True
            self._flag_dangerous(rec)
            logger.error("LOGIN WITH force_sm_off reached the simulated gateway (this stops real systems)")
            return _json_reply(400, {"code": 400, "error": "force_sm_off refused by simulator", "message": "Bad"})
        forced = self.faults.take("login_status", LOGIN_PATH)
        if forced:
            code = int(forced)
            if code == 401:
                return _json_reply(401, _BODY_401_BAD)
            return _error_reply(code, self.faults.peek("retry_after", LOGIN_PATH))
        try:
            data = json.loads(rec.body or b"null")
        except (ValueError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict):
            return _json_reply(400, {"code": 400, "error": "invalid request body", "message": "Bad Request"})
        password = data.get("password")
        ok = (
            data.get("username") == "customer"
            and isinstance(password, str)
            and hmac.compare_digest(password.encode(), self.password.encode())
        )
        if not ok:
            return _json_reply(401, _BODY_401_BAD)
        token = secrets.token_urlsafe(64)
        with self._lock:
            self._sessions.add(token)
        email = str(data.get("email") or "")
        user = {"email": email, "firstname": "Tesla", "lastname": "Energy", "roles": ["Home_Owner"]}
        login_time = payloads.rfc3339_ns(time.time(), self.model.utc_offset_hours)
        body = {**user, "token": token, "provider": "Basic", "loginTime": login_time}
        record = base64.b64encode(json.dumps({**user, "loginSource": "Password"}).encode()).decode()
        return _json_reply(
            200,
            body,
            [("Set-Cookie", f"AuthCookie={token}; Path=/"), ("Set-Cookie", f"UserRecord={record}; Path=/")],
        )

    def _random_bytes(self, n: int) -> bytes:
        with self._lock:
            return self._rng.randbytes(n)

    # ---------------------------------------------------------------- content
    def _content(self, path: str) -> _Reply:
        f = self.faults
        if path == "/api/devices/vitals" and f.take("vitals_absent", path):
            return _error_reply(404)
        stopped = bool(f.peek("sitemaster_stopped", path))
        if stopped and path in STOPPED_502_PATHS:
            f.take("sitemaster_stopped", path)
            return _Reply(502, b"", None)
        replayed = self.replay is not None
        reply = self._replay_content(path, stopped) if replayed else self._model_content(path, stopped)
        extra = f.peek("extra_json", path)
        if (
            isinstance(extra, dict)
            and reply.status == 200
            and (reply.content_type or "").startswith("application/json")
        ):
            f.take("extra_json", path)
            reply.body = json.dumps(_deep_merge(json.loads(reply.body), extra)).encode()
        return reply

    def _replay_content(self, path: str, stopped: bool) -> _Reply:
        assert self.replay is not None
        canned: CannedResponse | None = self.replay.lookup(path)
        if canned is None:
            return _error_reply(404)
        body = canned.body
        if path == "/api/sitemaster" and stopped:
            body = json.dumps(payloads.sitemaster(False)).encode()
        if path == "/api/system_status/grid_status" and self.faults.peek("grid_outage"):
            body = json.dumps({"grid_status": "SystemIslandedActive", "grid_services_active": False}).encode()
        ctype = None
        headers = []
        for name, value in canned.headers:
            if name.lower() == "content-type":
                ctype = value
            else:
                headers.append((name, value))
        return _Reply(canned.status, body, ctype, headers)

    def _model_content(self, path: str, stopped: bool) -> _Reply:
        m = self.model
        if path not in MODEL_PATHS or (path == "/api/solar_powerwall" and not m.solar_powerwall):
            return _error_reply(404)
        m.set_forced_outage(bool(self.faults.peek("grid_outage")))
        snap = m.snapshot()
        if path == "/api/devices/vitals":
            return _Reply(200, build_vitals(snap, m), "application/octet-stream")
        builders: dict[str, Any] = {
            "/api/meters/aggregates": lambda: payloads.aggregates(snap, m),
            "/api/system_status/soe": lambda: payloads.soe(snap),
            "/api/system_status/grid_status": lambda: payloads.grid_status(snap),
            "/api/operation": lambda: payloads.operation(m),
            "/api/site_info": lambda: payloads.site_info(m),
            "/api/status": lambda: payloads.status(snap, m),
            "/api/system_status": lambda: payloads.system_status(snap, m),
            "/api/powerwalls": lambda: payloads.powerwalls(snap, m),
            "/api/sitemaster": lambda: payloads.sitemaster(not stopped),
            "/api/solar_powerwall": lambda: payloads.solar_powerwall(snap),
        }
        return _json_reply(200, builders[path]())


def _deep_merge(base: Any, extra: dict[str, Any]) -> Any:
    """``extra`` merged into ``base`` (the ``extra_json`` fault): nested dicts merge, other values replace."""
    if not isinstance(base, dict):
        return extra
    out = dict(base)
    for key, value in extra.items():
        out[key] = _deep_merge(out.get(key), value) if isinstance(value, dict) else value
    return out


def gunzip_size(body: bytes) -> int:
    """Inflated size of a gzip body (test helper; streams, so it never holds the inflated data)."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    total = 0
    buf = body
    while buf:
        total += len(d.decompress(buf, 1 << 20))
        buf = d.unconsumed_tail
    return total + len(d.flush())
