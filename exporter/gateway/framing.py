"""Reading one HTTP/1.1 answer from a buffered TLS connection: the head, the body's framing, the bounds.

Why apart from :mod:`exporter.gateway.wire` (the pool, connecting, sending, the retry): this is the
part a hostile or broken peer talks to, and every bound lives here. The head is read with large
``recv_into`` reads into the connection's buffer and parsed by hand, bounded by
:data:`MAX_HEAD_BYTES` and :data:`MAX_HEADER_LINES`; 1xx interim answers are skipped; the body is
framed by ``Content-Length``, chunked encoding (bounded size lines and trailers) or the end of the
connection, never longer than ``max_body``; 204, 304 and HEAD answers have none. Every read has a
socket timeout of the time left until the deadline.

:func:`read_response` says whether the connection may serve another request: only after an
HTTP/1.1 answer without ``Connection: close`` whose body ended exactly where its framing says.
Failures are :class:`WireError` subclasses, or the ``OSError``/``TimeoutError`` of a read before the
answer began (the caller knows what those mean there).
"""

from __future__ import annotations

import contextlib
import re
import select
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass

MAX_HEAD_BYTES = 64 * 1024
MAX_HEADER_LINES = 100
MAX_INTERIM_ANSWERS = 8  # 1xx answers skipped before the final one
MAX_CHUNK_LINE = 1024  # a chunk-size line, extensions included
_BUFFER_SIZE = 64 * 1024
_RECORD_SIZE = 16 * 1024  # the most one TLS record carries: what one non-blocking read can return
# What an idle connection holds instead of a read buffer (see Connection.rest): zero bytes, shared.
_IDLE = bytearray()
_IDLE_VIEW = memoryview(_IDLE)  # never written: fill() makes a buffer of its own first
_HEX = b"0123456789abcdefABCDEF"
_NO_BODY_STATUS = frozenset({204, 304})
# Header lines as the gateway sends them (a token, a colon, a value without CR/LF), each followed by
# CRLF: one C-level match vets a whole head, and the Python loop runs only for what fails it.
_PLAIN_HEADERS = re.compile(r"(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\r\n]*\r\n)*")


class WireError(Exception):
    """The answer was unusable; the message says why, without the request's label."""


class NoAnswer(WireError):
    """The connection ended before the first byte of an answer: cut (no TLS close, or a TCP reset,
    which Python's ``ssl`` does not tell apart) or closed in good order."""

    def __init__(self, cut: bool) -> None:
        super().__init__(
            "connection reset by the gateway" if cut else "the gateway closed the connection without an answer"
        )


class BrokenAnswer(WireError):
    """The connection ended or failed in the middle of an answer."""

    def __init__(self) -> None:
        super().__init__("the connection broke while reading the answer")


class BadAnswer(WireError):
    """The answer breaks HTTP/1.1 or one of our bounds."""


class BodyTimeout(WireError):
    """The deadline passed while the body was still arriving."""

    def __init__(self) -> None:
        super().__init__("body not complete before the deadline")


class BodyTooLarge(WireError):
    """The body is (or says it will be) larger than ``max_body``."""

    def __init__(self, status: int) -> None:
        super().__init__("answer larger than the bound")
        self.status = status


class Stale(Exception):
    """A reused connection failed before any answer: send once more on a fresh one."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Mapping[str, str]  # lower-cased names; repeated headers joined with ", "
    body: bytes  # as sent (not decompressed)


class Connection:
    """One TLS connection and its read buffer (``buf[start:end]`` is read but not yet consumed).

    The buffer exists only while an answer is read: :meth:`fill` makes it and :meth:`rest` drops it
    when the connection goes back to the pool. Idle keep-alive connections are what a replica holds
    most of (about ten per gateway, thousands in a fleet), and 64 KiB each would be most of a gateway's
    memory; making one per exchange costs a few microseconds. For the same reason an idle connection
    shares one empty view and keeps no poll object of its own.
    """

    __slots__ = ("buf", "clock", "cut", "end", "generation", "since", "sock", "start", "view")

    def __init__(self, sock: ssl.SSLSocket, clock: Callable[[], float], generation: int) -> None:
        self.sock = sock
        self.clock = clock
        self.generation = generation
        self.buf = _IDLE
        self.view = _IDLE_VIEW
        self.start = self.end = 0
        self.cut = False  # the last EOF came without TLS close_notify
        self.since = 0.0  # when it last went idle (on ``clock``)

    def usable(self) -> bool:
        """An idle connection can serve a request: nothing to read (a readable idle socket means
        the peer closed it or sent something unasked for)."""
        try:
            if self.sock.pending():
                return False
            # poll, not select: a replica with a fleet of gateways holds descriptors beyond FD_SETSIZE.
            poller = select.poll()
            poller.register(self.sock.fileno(), select.POLLIN)
            return not poller.poll(0)
        except (OSError, ValueError):
            return False

    def send(self, data: bytes, deadline: float) -> None:
        self.sock.settimeout(left(self.clock, deadline))
        self.sock.sendall(data)

    def rest(self) -> None:
        """Drop the read buffer of a connection going idle (its answer was read to the end: nothing
        unread is left in it)."""
        if self.buf is not _IDLE:
            self.buf = _IDLE
            self.view = _IDLE_VIEW
        self.start = self.end = 0

    def fill(self, deadline: float) -> int:
        """Read more into the buffer (moving unread bytes to its front when needed); 0 at EOF."""
        if self.buf is _IDLE:
            self.buf = bytearray(_BUFFER_SIZE)
            self.view = memoryview(self.buf)
        if self.start == self.end:
            self.start = self.end = 0
        elif self.end == len(self.buf):
            if self.start == 0:
                raise BadAnswer("a line longer than the read buffer")
            n = self.end - self.start
            self.buf[:n] = self.buf[self.start : self.end]
            self.start, self.end = 0, n
        n = self.recv_into(self.view[self.end :], deadline)
        self.end += n
        return n

    def recv_into(self, target: memoryview, deadline: float) -> int:
        """Read into ``target`` within the deadline; 0 at EOF (``cut`` says whether it was ragged)."""
        self.sock.settimeout(left(self.clock, deadline))
        try:
            return self.sock.recv_into(target)
        except ssl.SSLEOFError:
            self.cut = True
            return 0

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class NeedMore(Exception):
    """Raised by :class:`Arriving` where a read would have to wait for more of the answer."""


class Arriving(Connection):
    """An answer arriving on a connection read without blocking, for :func:`read_response` to parse.

    Why: one thread reads the answers of several requests (:meth:`wire.Pool.exchange_many`), so a
    read must never wait for one answer while another is ready. :meth:`receive` takes what the
    socket has (decrypted, a TLS record at a time) without blocking; :meth:`attempt` parses all
    received so far with the very :func:`read_response` a blocking read uses, from the first byte,
    and says "not yet" (None) where that would have waited. So every bound and every failure is the
    blocking read's, at the same point of the same bytes. A failure of the socket is replayed where
    the parser reaches it; past the deadline (``final``), where it would have waited, it times out
    as it would. Where the parser waited, :meth:`ready` says whether enough has come to try again: a
    body of known length is parsed once all of it is there, not once per record (or per part the
    gateway wrote).
    """

    __slots__ = ("chunk", "conn", "data", "eof", "error", "final", "reused", "wanted")

    def __init__(self, conn: Connection, reused: bool) -> None:
        # No Connection.__init__: this reads no socket itself; ``conn`` is the one the answer comes on.
        self.conn = conn
        self.reused = reused
        self.data = bytearray()
        self.chunk = bytearray(_RECORD_SIZE)
        self.eof = False
        self.error: OSError | None = None
        self.final = False
        self.wanted = 0  # how many bytes in all the parser waited for when it last stopped short
        self.cut = False
        self.clock = conn.clock
        self.generation = conn.generation

    def receive(self, limit: int) -> bool:
        """Take one read of what the socket has now (decrypted; at most a TLS record), without blocking;
        False when it had nothing new. Beyond ``limit`` bytes in all nothing more is taken: the parser
        has refused the answer as too large by then."""
        if self.eof or self.error is not None or len(self.data) > limit:
            return False
        sock = self.conn.sock
        sock.settimeout(0.0)
        try:
            n = sock.recv_into(self.chunk)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            return False
        except ssl.SSLEOFError:
            self.eof = self.cut = True
            return True
        except OSError as exc:
            self.error = exc
            return True
        finally:
            with contextlib.suppress(OSError):
                sock.settimeout(None)
        if n == 0:
            self.eof = True
        else:
            self.data += self.chunk[:n]
        return True

    def ready(self) -> bool:
        """Whether :meth:`attempt` could get further than last time: the connection ended or failed,
        or as many bytes have come as the parser waited for."""
        return self.eof or self.error is not None or len(self.data) >= self.wanted

    def attempt(self, head: bool, deadline: float, max_body: int) -> tuple[Response, bool] | None:
        """The answer and whether the connection may serve another request, once all of it has
        arrived; None while more must come. Raises what :func:`read_response` raises."""
        self.buf = bytearray(self.data)  # a copy: receive() grows ``data``, which a view would pin
        self.view = memoryview(self.buf)
        self.start, self.end = 0, len(self.buf)
        try:
            return read_response(self, head, deadline, max_body, self.reused)
        except NeedMore:
            return None

    def fill(self, deadline: float) -> int:
        if self.end - self.start >= _BUFFER_SIZE and self.start == 0:  # Connection.fill's full buffer
            raise BadAnswer("a line longer than the read buffer")
        return self._more(1)

    def recv_into(self, target: memoryview, deadline: float) -> int:
        # A body of known length: every byte received so far is used, and ``target`` is what is missing.
        return self._more(len(target))

    def _more(self, missing: int) -> int:
        """What a blocking read finds where the received bytes end: the end of the connection, its
        failure, the deadline, or (None of these yet) ``missing`` more bytes to wait for."""
        if self.eof:
            return 0
        if self.error is not None:
            raise self.error
        if self.final:
            raise TimeoutError("timed out")
        self.wanted = len(self.buf) + missing  # the parser has used every byte it was given
        raise NeedMore


def left(clock: Callable[[], float], deadline: float) -> float:
    remaining = deadline - clock()
    if remaining <= 0:
        raise TimeoutError("timed out")
    return remaining


# ---- reading an answer ------------------------------------------------------------------------------
def read_response(conn: Connection, head: bool, deadline: float, max_body: int, reused: bool) -> tuple[Response, bool]:
    """The final answer and whether the connection may serve another request."""
    first = True
    interim = 0
    while True:
        status, version, headers = _read_head(conn, deadline, first and reused, first)
        first = False
        if status >= 200 or status == 101:
            break
        interim += 1
        if interim > MAX_INTERIM_ANSWERS:
            raise BadAnswer(f"more than {MAX_INTERIM_ANSWERS} interim (1xx) answers")
    if status == 101:
        raise BadAnswer("the gateway switched protocols (HTTP 101)")
    keep = version == "HTTP/1.1" and "close" not in headers.get("connection", "").lower()
    try:
        if head or status in _NO_BODY_STATUS:
            body = b""
        elif "transfer-encoding" in headers:
            if headers["transfer-encoding"].rsplit(",", 1)[-1].strip().lower() == "chunked":
                body = _read_chunked(conn, deadline, max_body, status)
            else:  # another coding last: the body ends with the connection (RFC 9112 6.3)
                body, keep = _read_to_close(conn, deadline, max_body, status), False
        elif "content-length" in headers:
            length = _content_length(headers["content-length"])
            if length > max_body:
                raise BodyTooLarge(status)
            body = _read_exact(conn, length, deadline)
        else:
            body, keep = _read_to_close(conn, deadline, max_body, status), False
    except TimeoutError:
        raise BodyTimeout from None
    except OSError:  # reset, TLS record error: the answer is incomplete
        raise BrokenAnswer from None
    # Bytes beyond the answer were never asked for: the connection's framing is not to be trusted.
    return Response(status, headers, body), keep and conn.start == conn.end


def _read_head(conn: Connection, deadline: float, stale_if_empty: bool, first: bool) -> tuple[int, str, dict[str, str]]:
    """Status, version and headers of the next answer on ``conn``."""
    scanned = 0  # bytes after conn.start known not to hold the end of the head
    while True:
        end = conn.buf.find(b"\r\n\r\n", conn.start + scanned, conn.end)
        if end >= 0:
            break
        have = conn.end - conn.start
        if have >= MAX_HEAD_BYTES:
            raise BadAnswer(f"the answer's head is larger than {MAX_HEAD_BYTES // 1024} KiB")
        scanned = max(0, have - 3)
        try:
            n = conn.fill(deadline)
        except TimeoutError:
            raise
        except OSError:
            if stale_if_empty and have == 0:
                raise Stale from None
            if have == 0:
                raise
            raise BrokenAnswer from None
        if n == 0:
            if have == 0 and stale_if_empty:
                raise Stale
            if have == 0 and first:
                raise NoAnswer(conn.cut)
            raise BrokenAnswer
    text = conn.view[conn.start : end].tobytes().decode("latin-1")
    conn.start = end + 4
    lines = text.split("\r\n")
    if len(lines) - 1 > MAX_HEADER_LINES:
        raise BadAnswer(f"the answer has more than {MAX_HEADER_LINES} header lines")
    version, _, rest = lines[0].partition(" ")
    code = rest[:3]
    if version not in ("HTTP/1.1", "HTTP/1.0") or not (code.isascii() and code.isdigit()) or rest[3:4] not in ("", " "):
        raise BadAnswer(f"not an HTTP/1.x status line: {lines[0][:40]!r}")
    fields = text[len(lines[0]) + 2 :] + "\r\n" if len(lines) > 1 else ""
    if _PLAIN_HEADERS.fullmatch(fields):
        pairs = [line.split(":", 1) for line in lines[1:]]
        headers = {name.lower(): value.strip(" \t") for name, value in pairs}
        if len(headers) == len(pairs):
            return int(code), version, headers
    return int(code), version, _headers(lines[1:])


def _headers(lines: list[str]) -> dict[str, str]:
    """Header lines into a dict, repeats joined with ", ", obsolete folding undone; strict otherwise."""
    headers: dict[str, str] = {}
    name = ""
    for line in lines:
        if line[:1] in (" ", "\t"):  # obsolete line folding: part of the previous value
            if not name:
                raise BadAnswer("a header continuation line with no header before it")
            headers[name] = _fold(headers[name], line)
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name[-1] in " \t" or "\r" in line or "\n" in line:
            raise BadAnswer(f"malformed header line {line[:40]!r}")
        name = name.lower()
        value = value.strip(" \t")
        old = headers.get(name)
        headers[name] = value if old is None else f"{old}, {value}"
    return headers


def _fold(previous: str, line: str) -> str:
    more = line.strip(" \t")
    return f"{previous} {more}" if previous and more else previous or more


def _content_length(value: str) -> int:
    if value.isdigit() and value.isascii() and len(value) < 19:
        return int(value)
    # Repeated headers arrive joined with ", ": equal repeats are harmless, different ones are not.
    values = {v.strip() for v in value.split(",")}
    if len(values) != 1:
        raise BadAnswer("conflicting Content-Length headers")
    text = values.pop()
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise BadAnswer(f"invalid Content-Length {text[:20]!r}")
    return int(text)


def _read_exact(conn: Connection, length: int, deadline: float) -> bytes:
    have = conn.end - conn.start
    if have >= length:  # the usual case: the whole body arrived with the head
        body = conn.view[conn.start : conn.start + length].tobytes()
        conn.start += length
        return body
    out = bytearray(length)
    out[:have] = conn.view[conn.start : conn.end]
    conn.start = conn.end = 0
    view = memoryview(out)
    got = have
    while got < length:  # straight into the body: nothing past its end is read
        n = conn.recv_into(view[got:], deadline)
        if n == 0:
            raise BrokenAnswer
        got += n
    return bytes(out)


def _read_to_close(conn: Connection, deadline: float, max_body: int, status: int) -> bytes:
    parts = [conn.view[conn.start : conn.end].tobytes()]
    size = len(parts[0])
    conn.start = conn.end = 0
    while True:
        if size > max_body:
            raise BodyTooLarge(status)
        n = conn.recv_into(conn.view, deadline)
        if n == 0:
            return b"".join(parts)
        size += n
        parts.append(conn.view[:n].tobytes())


def _read_chunked(conn: Connection, deadline: float, max_body: int, status: int) -> bytes:
    out = bytearray()
    while True:
        line = _read_line(conn, deadline)
        size_text = line.split(b";", 1)[0].strip(b" \t")
        if not size_text or size_text.strip(_HEX) or len(size_text) > 16:
            raise BadAnswer(f"invalid chunk size line {line[:20]!r}")
        size = int(size_text, 16)
        if size == 0:
            break
        if len(out) + size > max_body:
            raise BodyTooLarge(status)
        _read_into(conn, out, size, deadline)
        if _read_line(conn, deadline):
            raise BadAnswer("chunk data longer than its size")
    for _ in range(MAX_HEADER_LINES + 1):  # trailers, ignored; an empty line ends them
        if not _read_line(conn, deadline):
            return bytes(out)
    raise BadAnswer(f"more than {MAX_HEADER_LINES} trailer lines")


def _read_line(conn: Connection, deadline: float) -> bytes:
    """The next CRLF-ended line of a chunked body (without the CRLF), bounded by MAX_CHUNK_LINE."""
    while True:
        end = conn.buf.find(b"\r\n", conn.start, conn.end)
        if end >= 0:
            line = conn.view[conn.start : end].tobytes()
            conn.start = end + 2
            return line
        if conn.end - conn.start > MAX_CHUNK_LINE:
            raise BadAnswer(f"a chunk line longer than {MAX_CHUNK_LINE} bytes")
        if conn.fill(deadline) == 0:
            raise BrokenAnswer


def _read_into(conn: Connection, out: bytearray, n: int, deadline: float) -> None:
    while n:
        if conn.start == conn.end and conn.fill(deadline) == 0:
            raise BrokenAnswer
        k = min(n, conn.end - conn.start)
        out += conn.view[conn.start : conn.start + k]
        conn.start += k
        n -= k
