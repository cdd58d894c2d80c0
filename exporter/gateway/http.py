"""One HTTP exchange with a gateway: total deadline, bounded body, gzip by magic, readable failures.

urllib3's keep-alive pool (with our TLS pinning, :func:`exporter.gateway.tls.connection_pool`) is
used directly: the transport manages auth headers itself, never follows redirects and ignores the
environment, so ``requests``' per-request work (building a response object, merging cookies and
settings, looking up the pool for each URL) was pure overhead, about a fifth of the transport's CPU.
A request is prepared once (:meth:`HttpChannel.prepare`) and the transport reuses it.

Failures come back as :class:`FetchError` with a message a person can act on ("connection refused",
"timed out after 10 s", "TLS: certificate does not match the pinned fingerprint"), never urllib3's
``HTTPSConnectionPool(...): Max retries exceeded`` cut off before the cause.
"""

from __future__ import annotations

import errno
import socket
import ssl
import threading
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import urllib3
from urllib3 import HTTPSConnectionPool
from urllib3.response import BaseHTTPResponse
from urllib3.util import parse_url

from exporter.config import TLSConfig
from exporter.gateway.outcomes import FetchError
from exporter.gateway.tls import build_ssl_context, connection_pool

MAX_BODY_BYTES = 4 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
_USER_AGENT = "powerwall-exporter"
_BASE_HEADERS = {"User-Agent": _USER_AGENT, "Accept-Encoding": "gzip, deflate", "Connection": "keep-alive"}


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: Mapping[str, str]  # lower-cased names; repeated headers joined with ", "
    body: bytes


@dataclass(frozen=True, slots=True)
class Prepared:
    """A request ready to send, built once and reused (nothing in it changes between sends)."""

    method: str
    host: str
    port: int
    target: str  # path and query, as sent on the request line
    headers: Mapping[str, str]
    body: bytes | None


class HttpChannel:
    """Sends prepared requests to one gateway host over a small keep-alive pool."""

    def __init__(self, tls: TLSConfig, pool_maxsize: int, clock: Callable[[], float]) -> None:
        self._tls = tls
        self._ctx = build_ssl_context(tls)
        self._maxsize = pool_maxsize
        self._clock = clock
        self._lock = threading.Lock()
        self._pools: dict[tuple[str, int], HTTPSConnectionPool] = {}
        if tls.insecure_skip_verify:
            # The user chose this and was warned loudly at start; urllib3 would repeat it per request.
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

    @staticmethod
    def prepare(method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Prepared:
        u = parse_url(url)
        if u.scheme != "https" or not u.host:
            raise ValueError(f"not an https URL with a host: {url!r}")
        return Prepared(
            method,
            u.host,
            u.port or 443,
            u.request_uri,
            {**_BASE_HEADERS, **headers},
            body or None,
        )

    def send(self, prepared: Prepared, label: str, deadline: float) -> Answer:
        """One exchange under a total deadline; raises :class:`FetchError` with a readable message."""
        budget = deadline - self._clock()
        if budget <= 0:
            raise FetchError("timeout", f"{label}: scrape deadline reached before the request")
        pool = self._pools.get((prepared.host, prepared.port)) or self._pool(prepared.host, prepared.port)
        try:
            # total= bounds connect + TLS handshake + response headers together; the body read below
            # is bounded by the same deadline.
            timeout = urllib3.Timeout(total=budget, connect=budget, read=budget)
            resp = pool.urlopen(
                prepared.method,
                prepared.target,
                body=prepared.body,
                headers=prepared.headers,
                retries=False,
                redirect=False,
                assert_same_host=False,
                timeout=timeout,
                preload_content=False,
                decode_content=False,
            )
            try:
                body = _read_bounded(resp, label, deadline, self._clock, budget)
            except BaseException:
                # Unread bytes may remain: the connection must not serve another request.
                resp.close()
                resp.release_conn()
                raise
            # Reading to the end returned the connection to the pool; this is a no-op then.
            resp.release_conn()
            return Answer(resp.status, {k.lower(): v for k, v in resp.headers.itermerged()}, body)
        except FetchError:
            raise
        except Exception as exc:  # urllib3/ssl/OSError: classify, never leak the chain
            raise classify(exc, label, budget) from None

    def _pool(self, host: str, port: int) -> HTTPSConnectionPool:
        with self._lock:
            pool = self._pools.get((host, port))
            if pool is None:
                pool = self._pools[(host, port)] = connection_pool(self._tls, self._ctx, host, port, self._maxsize)
            return pool

    def close(self) -> None:
        """Close every connection; a later request opens fresh ones (as after a certificate change)."""
        with self._lock:
            pools = list(self._pools.values())
            self._pools.clear()
        for pool in pools:
            pool.close()


def classify(exc: BaseException, label: str, budget: float) -> FetchError:
    """The readable :class:`FetchError` for a transport exception (walks the cause chain)."""
    chain = _chain(exc)
    text = " ".join(str(e) for e in chain).lower()
    if "fingerprint" in text:
        return FetchError(
            "tls_pin_mismatch",
            f"{label}: TLS: the gateway's certificate does not match the pinned fingerprint "
            "(firmware update or a different device?); re-pin after checking",
        )
    for e in chain:
        if isinstance(e, ssl.SSLCertVerificationError):
            why = e.verify_message or "not trusted"
            return FetchError("tls", f"{label}: TLS: certificate verification failed ({why}); check the pin")
    if any(_is_timeout(e) for e in chain) or "timed out" in text:
        return FetchError("timeout", f"{label}: timed out after {budget:.1f} s")
    for e in chain:
        if isinstance(e, ssl.SSLError):
            return FetchError("tls", f"{label}: TLS handshake failed ({e.reason or e.__class__.__name__})")
    for e in chain:
        if isinstance(e, socket.gaierror):
            return FetchError("connection", f"{label}: cannot resolve the gateway's host name")
        if isinstance(e, UnicodeError):  # IDNA refuses the name before any lookup
            return FetchError("connection", f"{label}: the gateway's address is not a valid host name")
        if isinstance(e, ConnectionRefusedError):
            return FetchError("connection", f"{label}: connection refused")
        if isinstance(e, ConnectionResetError):
            return FetchError("connection", f"{label}: connection reset by the gateway")
        if isinstance(e, OSError) and e.errno in _ERRNO_TEXT:
            return FetchError("connection", f"{label}: {_ERRNO_TEXT[e.errno]}")
    if "remotedisconnected" in text or "connection aborted" in text or "closed connection" in text:
        return FetchError("connection", f"{label}: the gateway closed the connection without an answer")
    root = chain[-1]
    return FetchError("connection", f"{label}: connection failed ({root.__class__.__name__})")


def _is_timeout(e: BaseException) -> bool:
    # urllib3's NewConnectionError is a ConnectTimeoutError for history's sake only: a refused or
    # unreachable connect is not a timeout (its cause, later in the chain, says what it is).
    if isinstance(e, urllib3.exceptions.NewConnectionError):
        return False
    return isinstance(e, (urllib3.exceptions.TimeoutError, TimeoutError, socket.timeout))


_ERRNO_TEXT = {
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ECONNABORTED: "connection aborted",
    errno.EPIPE: "connection closed while sending",
}


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception it wraps (cause, context, urllib3's ``reason``, ``args``)."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 16:
        e = todo.pop(0)
        if any(e is s for s in seen):
            continue
        seen.append(e)
        for nxt in (getattr(e, "reason", None), e.__cause__, e.__context__, *e.args):
            if isinstance(nxt, BaseException):
                todo.append(nxt)
    return seen


def _read_bounded(
    resp: BaseHTTPResponse, label: str, deadline: float, clock: Callable[[], float], budget: float
) -> bytes:
    """Read the body within the deadline and size bound; decompress with a bound as well."""
    chunks: list[bytes] = []
    size = 0
    while True:
        remaining = deadline - clock()
        if remaining <= 0:
            raise FetchError("timeout", f"{label}: body not complete after {budget:.1f} s")
        sock = getattr(resp.connection, "sock", None)
        if sock is not None:
            sock.settimeout(min(remaining, 30.0))
        try:
            chunk = resp.read1(65536, decode_content=False)
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
            raise FetchError("timeout", f"{label}: body not complete after {budget:.1f} s") from None
        except (urllib3.exceptions.ProtocolError, OSError):
            raise FetchError("connection", f"{label}: the connection broke while reading the answer") from None
        if not chunk:
            break
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise FetchError("too_large", f"{label}: answer larger than {MAX_BODY_BYTES} bytes", resp.status)
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = resp.headers.get("content-encoding", "").strip().lower()
    # TEDAPI on firmware >= 25.42.2 gzips without saying so: the magic number decides as well.
    if encoding in ("gzip", "deflate", "x-gzip") or body.startswith(GZIP_MAGIC):
        body = _inflate_bounded(body, label, resp.status)
    elif encoding not in ("", "identity"):
        raise FetchError("decode", f"{label}: unsupported content-encoding {encoding!r}", resp.status)
    return body


def _inflate_bounded(data: bytes, label: str, status: int) -> bytes:
    d = zlib.decompressobj(wbits=47)  # gzip or zlib header, auto-detected
    try:
        out = d.decompress(data, MAX_BODY_BYTES + 1)
    except zlib.error:
        raise FetchError("decode", f"{label}: corrupt compressed answer", status) from None
    if len(out) > MAX_BODY_BYTES or d.unconsumed_tail:
        raise FetchError("too_large", f"{label}: answer inflates beyond {MAX_BODY_BYTES} bytes", status)
    return out
