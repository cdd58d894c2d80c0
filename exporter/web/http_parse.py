"""HTTP/1.1 messages for the exporter's server: the request and response types, a strict parser.

Strict on purpose: anything ambiguous (both Content-Length and Transfer-Encoding, obsolete line
folding, a space before the colon) is a 400 and a closed connection, and every size is capped by
:class:`Limits` before anything is buffered.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VERSION = re.compile(rb"HTTP/(\d)\.(\d)")


@dataclass(frozen=True)
class Limits:
    """Every bound the server enforces; constructor arguments so tests can shrink the timeouts.

    The defaults fit the shipped systemd unit (``TasksMax``, ``MemoryMax``): ``workers`` threads at
    most, and ``max_connections`` sockets of a few KiB each; over TLS, a connection that has started
    its handshake costs ~256 KiB (asyncio's TLS read buffer), so 512 of them are ~128 MiB at worst.
    """

    header_timeout: float = 10.0  # a new request must arrive completely (line, headers, body) within this
    idle_timeout: float = 30.0  # an idle keep-alive connection is closed after this
    write_timeout: float = 30.0  # a client that does not read its answer is dropped after this
    max_header_bytes: int = 16 * 1024  # request line + headers
    max_headers: int = 100
    max_body_bytes: int = 64 * 1024
    max_connections: int = 512
    workers: int = 32  # --web.max-requests
    # Complete requests waiting for a worker; one more is refused at once (503) instead of answered
    # after its scraper gave up. 128 is ~2 s of a busy replica's work (32 workers, ~0.4 s a probe).
    max_queued: int = 128
    backlog: int = 128  # 40+ scrapers connecting at once must not find the accept queue full


@dataclass
class Request:
    """A complete request as the client sent it; header names are lower-case."""

    method: str
    target: str
    path: str  # still percent-encoded
    query: str
    version: str  # "HTTP/1.0" or "HTTP/1.1"
    headers: list[tuple[str, str]]
    body: bytes = b""
    keep_alive: bool = True
    peer: tuple[str, int] = ("", 0)
    # When the request began to arrive (time.monotonic): a scrape's deadline counts from here, since
    # the scraper's timeout runs from when it sent the request, not from when a worker took it up.
    arrived: float = 0.0

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name]
        return ", ".join(values) if values else None


@dataclass
class Response:
    status: str  # "200 OK"
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @classmethod
    def plain(cls, code: int, text: str | None = None, extra: Iterable[tuple[str, str]] = ()) -> Response:
        status = HTTPStatus(code)
        body = (text if text is not None else status.phrase + "\n").encode()
        headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))), *extra]
        return cls(f"{code} {status.phrase}", headers, body)


class HTTPError(Exception):
    """A request we refuse before the app sees it; the connection is closed after the answer."""

    def __init__(self, code: int, text: str | None = None) -> None:
        super().__init__(code, text)
        self.code = code
        self.text = text


Handler = Callable[[Request], Response]


# ----------------------------------------------------------------------------------- parsing
def find_head_end(buf: bytes | bytearray, start: int = 0) -> tuple[int, int] | None:
    """(end of the head, start of the body) if ``buf`` holds a whole request head, else None.

    Accepts bare LF line ends as RFC 9112 section 2.2 allows; ``start`` lets the caller skip what it
    already searched so a slowly arriving head costs linear, not quadratic, time.
    """
    start = max(0, start - 3)
    crlf = buf.find(b"\r\n\r\n", start)
    lf = buf.find(b"\n\n", start)
    if crlf < 0 and lf < 0:
        return None
    if lf < 0 or (0 <= crlf < lf):
        return crlf, crlf + 4
    return lf, lf + 2


def parse_head(head: bytes, limits: Limits) -> Request:
    """The request line and headers; raises :class:`HTTPError` for anything we will not serve."""
    lines = head.split(b"\n")
    lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or not parts[1]:
        raise HTTPError(400, "malformed request line\n")
    method, target, version = parts
    m = _VERSION.fullmatch(version)
    if m is None:
        raise HTTPError(400, "malformed request line\n")
    if m.group(1) != b"1":
        raise HTTPError(505)
    if len(lines) - 1 > limits.max_headers:
        raise HTTPError(431, "too many request headers\n")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            # Includes obsolete line folding and whitespace before the colon (RFC 9112 5.1, 5.2).
            raise HTTPError(400, "malformed header line\n")
        headers.append((name.decode("ascii").lower(), value.strip(b" \t").decode("latin-1")))
    try:
        target_s = target.decode("ascii")
    except UnicodeDecodeError:
        raise HTTPError(400, "non-ASCII request target\n") from None
    if target_s.startswith(("http://", "https://")):  # absolute-form: keep only path and query
        rest = target_s.split("://", 1)[1]
        target_s = "/" + rest.partition("/")[2]
    if not target_s.startswith("/") and target_s != "*":
        raise HTTPError(400, "bad request target\n")
    path, _, query = target_s.partition("?")
    version_s = version.decode("ascii")
    req = Request(method.decode("ascii"), target_s, path, query, version_s, headers)
    tokens = {t.strip().lower() for t in (req.header("connection") or "").split(",")}
    if version_s == "HTTP/1.0":
        req.keep_alive = "keep-alive" in tokens
    else:
        req.keep_alive = "close" not in tokens
    return req


def body_length(req: Request, limits: Limits) -> int:
    """How many body bytes follow the head; refuses what we cannot or will not read."""
    if req.header("transfer-encoding") is not None:
        if req.header("content-length") is not None:
            raise HTTPError(400, "both Transfer-Encoding and Content-Length\n")
        raise HTTPError(501, "Transfer-Encoding is not supported; send Content-Length\n")
    raw = req.header("content-length")
    if raw is None:
        return 0
    values = {v.strip() for v in raw.split(",")}
    if len(values) != 1 or not next(iter(values)).isdigit():
        raise HTTPError(400, "invalid Content-Length\n")
    n = int(next(iter(values)))
    if n > limits.max_body_bytes:
        raise HTTPError(413, f"request body over {limits.max_body_bytes} bytes\n")
    return n


def serialize(resp: Response, req: Request | None, keep_alive: bool) -> bytes:
    """Status line and headers (plus the body unless HEAD), adding the framing headers we own."""
    head, body = serialize_parts(resp, req, keep_alive)
    return head + body


_DATE: list[tuple[int, str]] = [(-1, "")]


def http_date() -> str:
    """The ``Date`` header's text for now: made once per second, not per response (formatting it
    was a few percent of a cached scrape's CPU). The pair is replaced whole, so threads never see
    one second with another second's text."""
    now = int(time.time())
    second, text = _DATE[0]
    if second != now:
        text = email.utils.formatdate(now, usegmt=True)
        _DATE[0] = (now, text)
    return text


def serialize_parts(resp: Response, req: Request | None, keep_alive: bool) -> tuple[bytes, bytes]:
    """:func:`serialize` as (status line and headers, body to send): the body is the response's own
    object, never a copy (a page shared by concurrent scrapes stays one object in memory)."""
    code = int(resp.status[:3])
    names = {k.lower() for k, _ in resp.headers}
    headers = [(k, v) for k, v in resp.headers if k.lower() not in ("connection", "keep-alive")]
    no_body = code < 200 or code in (204, 304)
    head_only = req is not None and req.method == "HEAD"
    if "content-length" not in names and not no_body and not head_only:
        headers.append(("Content-Length", str(len(resp.body))))
    if "date" not in names:
        headers.append(("Date", http_date()))
    if not keep_alive:
        headers.append(("Connection", "close"))
    elif req is not None and req.version == "HTTP/1.0":
        headers.append(("Connection", "keep-alive"))
    lines = [f"HTTP/1.1 {resp.status}", *(f"{k}: {v}" for k, v in headers)]
    out = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return out, b"" if (head_only or no_body) else resp.body
