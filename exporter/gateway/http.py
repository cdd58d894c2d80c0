"""One HTTP exchange with a gateway: total deadline, bounded body, gzip by magic, readable failures.

The exchange itself is our own small HTTP/1.1 client (:mod:`exporter.gateway.wire`: keep-alive pool,
TLS with the pin of :mod:`exporter.gateway.tls`); urllib3 and ``http.client`` cost half the
transport's CPU in objects and ``email`` header parsing the gateway's plain answers never needed.
The transport manages auth headers itself, never follows redirects and ignores the environment. A
request is prepared (:meth:`HttpChannel.prepare`: the bytes on the wire, made in one go) for each
send.

Failures come back as :class:`FetchError` with a message a person can act on ("connection refused",
"timed out after 10 s", "TLS: certificate does not match the pinned fingerprint"), never a library's
exception text cut off before the cause.
"""

from __future__ import annotations

import errno
import socket
import ssl
import sys
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

from exporter.config import TLSConfig
from exporter.gateway import wire
from exporter.gateway.outcomes import FetchError
from exporter.gateway.resolve import RESOLVER, LookupTimeout, Resolver
from exporter.gateway.tls import shared_ssl_context

MAX_BODY_BYTES = 4 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
_USER_AGENT = "powerwall-exporter"
_BASE_HEADERS = {"User-Agent": _USER_AGENT, "Accept-Encoding": "gzip, deflate", "Connection": "keep-alive"}


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: Mapping[str, str]  # lower-cased names; repeated headers joined with ", "
    body: bytes
    at: float = 0.0  # when it was read, on the channel's clock (0: not recorded)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A request ready to send: only what sending needs (the headers and target are in ``raw``)."""

    method: str
    host: str  # as connected to: an IPv6 address without brackets
    port: int
    raw: bytes = field(repr=False, compare=False)  # the request as sent: line, headers, body


class HttpChannel:
    """Sends prepared requests to one gateway host over a small keep-alive pool."""

    def __init__(
        self, tls: TLSConfig, pool_maxsize: int, clock: Callable[[], float], resolver: Resolver = RESOLVER
    ) -> None:
        self._clock = clock
        pin = bytes.fromhex(tls.fingerprint_sha256) if tls.mode == "fingerprint" and tls.fingerprint_sha256 else None
        self._pool = wire.Pool(shared_ssl_context(tls), tls.server_name, pin, pool_maxsize, clock, resolver)

    @staticmethod
    def prepare(method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Prepared:
        u = urlsplit(url)
        host, port = _address(u, url)
        named = f"[{host}]" if ":" in host else host
        target = (u.path or "/") + (f"?{u.query}" if u.query else "")
        raw = wire.request_bytes(
            method, target, named if port == 443 else f"{named}:{port}", {**_BASE_HEADERS, **headers}, body or None
        )
        return Prepared(method, host, port, raw)

    def send(self, prepared: Prepared, label: str, deadline: float) -> Answer:
        """One exchange under a total deadline; raises :class:`FetchError` with a readable message."""
        for _, outcome in self.send_many(((prepared, label),), deadline):
            if isinstance(outcome, FetchError):
                raise outcome
            return outcome
        raise AssertionError("unreachable: send_many yields once per request")

    def send_many(
        self, items: Sequence[tuple[Prepared, str]], deadline: float
    ) -> Iterator[tuple[int, Answer | FetchError]]:
        """Send every request (``(prepared, label)``, all to this channel's host) side by side from this
        thread; yields each one's index and answer, or the :class:`FetchError` of its failure, as each
        ends (see :meth:`wire.Pool.exchange_many`)."""
        budget = deadline - self._clock()
        if budget <= 0:
            for i, (_, label) in enumerate(items):
                yield i, FetchError("timeout", f"{label}: scrape deadline reached before the request")
            return
        first = items[0][0]
        requests = [(prepared.raw, prepared.method == "HEAD") for prepared, _ in items]
        for i, outcome, at in self._pool.exchange_many(first.host, first.port, requests, deadline, MAX_BODY_BYTES):
            yield i, _answer(outcome, at, items[i][1], budget)

    def spare(self, url: str) -> bool:
        """Close one idle keep-alive connection to ``url``'s host, if any (see :meth:`wire.Pool.spare`);
        whether one was."""
        return self._pool.spare(*_address(urlsplit(url), url))

    def idle(self) -> tuple[int, int]:
        """Idle keep-alive connections and the read-buffer bytes they hold (for tests and diagnostics)."""
        return self._pool.idle()

    def close(self) -> None:
        """Close every connection; a later request opens fresh ones (as after a certificate change)."""
        self._pool.close()


def _address(u: SplitResult, url: str) -> tuple[str, int]:
    """The host (an IPv6 address without brackets) and port an https URL connects to."""
    host = u.hostname
    if u.scheme != "https" or not host:
        raise ValueError(f"not an https URL with a host: {url!r}")
    return sys.intern(host), u.port or 443  # one string for a gateway's ten or so requests


def _answer(outcome: wire.Response | Exception, at: float, label: str, budget: float) -> Answer | FetchError:
    """The answer of one exchange, or its failure as a readable :class:`FetchError`."""
    if isinstance(outcome, Exception):
        return _failure(outcome, label, budget)
    try:
        body = _decoded(outcome.body, outcome.headers, label, outcome.status)
        return Answer(outcome.status, outcome.headers, body, at)
    except FetchError as exc:
        return exc


def _failure(exc: Exception, label: str, budget: float) -> FetchError:
    if isinstance(exc, wire.BodyTooLarge):
        return FetchError("too_large", f"{label}: answer larger than {MAX_BODY_BYTES} bytes", exc.status)
    if isinstance(exc, wire.BodyTimeout):
        return FetchError("timeout", f"{label}: body not complete after {budget:.1f} s")
    if isinstance(exc, wire.PinMismatch):
        return _pin_mismatch(label)
    if isinstance(exc, (wire.Unreachable, LookupTimeout)):  # timeouts, not after the budget classify names
        return FetchError("timeout", f"{label}: {exc}")
    if isinstance(exc, wire.WireError):
        return FetchError("connection", f"{label}: {exc}")
    return classify(exc, label, budget)  # ssl/OSError/timeouts: classify, never leak the chain


def _pin_mismatch(label: str) -> FetchError:
    return FetchError(
        "tls_pin_mismatch",
        f"{label}: TLS: the gateway's certificate does not match the pinned fingerprint "
        "(firmware update or a different device?); re-pin after checking",
    )


def classify(exc: BaseException, label: str, budget: float) -> FetchError:
    """The readable :class:`FetchError` for a transport exception (walks the cause chain)."""
    chain = _chain(exc)
    if any(isinstance(e, wire.PinMismatch) for e in chain):
        return _pin_mismatch(label)
    for e in chain:
        if isinstance(e, ssl.SSLCertVerificationError):
            why = e.verify_message or "not trusted"
            return FetchError("tls", f"{label}: TLS: certificate verification failed ({why}); check the pin")
    if any(isinstance(e, TimeoutError) for e in chain):
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
    for e in chain:
        if isinstance(e, wire.WireError):
            return FetchError("connection", f"{label}: {e}")
    root = chain[-1]
    return FetchError("connection", f"{label}: connection failed ({root.__class__.__name__})")


_ERRNO_TEXT = {
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ECONNABORTED: "connection aborted",
    errno.EPIPE: "connection closed while sending",
}


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception it wraps (cause, context, ``args``)."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 16:
        e = todo.pop(0)
        if any(e is s for s in seen):
            continue
        seen.append(e)
        for nxt in (e.__cause__, e.__context__, *e.args):
            if isinstance(nxt, BaseException):
                todo.append(nxt)
    return seen


def _decoded(body: bytes, headers: Mapping[str, str], label: str, status: int) -> bytes:
    """The body as the gateway meant it: decompressed, with a bound as well."""
    encoding = headers.get("content-encoding", "").strip().lower()
    # TEDAPI on firmware >= 25.42.2 gzips without saying so: the magic number decides as well.
    if encoding in ("gzip", "deflate", "x-gzip") or body.startswith(GZIP_MAGIC):
        return _inflate_bounded(body, label, status)
    if encoding not in ("", "identity"):
        raise FetchError("decode", f"{label}: unsupported content-encoding {encoding!r}", status)
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
