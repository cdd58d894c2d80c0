"""A small, bounded HTTP/1.1 server: one asyncio thread for all sockets, a fixed pool for the app.

Why not ``wsgiref`` + ``ThreadingMixIn`` (what we had): it spends a thread per connection and never
times out a read, so a few hundred idle or half-sent connections hold hundreds of threads and their
buffers; under the systemd unit's ``TasksMax`` that starved real scrapes. Here idle and slow clients
cost a coroutine and a few KiB, never a thread: a request reaches a worker thread only once it has
arrived completely, within the size caps and the read deadline.

Why our own parser rather than a server library: the exporter serves a handful of GET paths (and a
small POST later), stdlib ``asyncio`` already does TLS with client-certificate verification and a
handshake timeout, and a dependency would have to be trusted with exactly the limits this module
exists for. The parser is deliberately strict: anything ambiguous (both Content-Length and
Transfer-Encoding, obsolete line folding, a space before the colon) is a 400 and a closed connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import io
import logging
import re
import socket
import ssl
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

log = logging.getLogger(__name__)

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VERSION = re.compile(rb"HTTP/(\d)\.(\d)")
_READ_CHUNK = 16 * 1024


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
    workers: int = 32
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
    code = int(resp.status[:3])
    names = {k.lower() for k, _ in resp.headers}
    headers = [(k, v) for k, v in resp.headers if k.lower() not in ("connection", "keep-alive")]
    no_body = code < 200 or code in (204, 304)
    head_only = req is not None and req.method == "HEAD"
    if "content-length" not in names and not no_body and not head_only:
        headers.append(("Content-Length", str(len(resp.body))))
    if "date" not in names:
        headers.append(("Date", email.utils.formatdate(usegmt=True)))
    if not keep_alive:
        headers.append(("Connection", "close"))
    elif req is not None and req.version == "HTTP/1.0":
        headers.append(("Connection", "keep-alive"))
    lines = [f"HTTP/1.1 {resp.status}", *(f"{k}: {v}" for k, v in headers)]
    out = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return out if (head_only or no_body) else out + resp.body


# --------------------------------------------------------------------------------- app side
class WorkerPool:
    """At most ``size`` daemon threads running submitted jobs in order; a thread ends when the queue is empty.

    Not ``concurrent.futures.ThreadPoolExecutor``: its threads are joined at interpreter exit, so a
    scrape stuck on a dead gateway would hold up SIGTERM. Daemon threads let the process exit; the
    answer of an abandoned job is simply dropped. Threads do not linger idle: at rest the pool holds
    none, so the unit's ``TasksMax`` is spent only while requests are actually running.
    """

    def __init__(self, size: int, name: str) -> None:
        self.size = size
        self.name = name
        self._jobs: deque[Callable[[], None]] = deque()
        self._lock = threading.Lock()
        self._running = 0
        self._started = 0
        self._closed = False

    @property
    def running(self) -> int:
        return self._running

    def submit(self, job: Callable[[], None]) -> None:
        """Queue ``job``; raises RuntimeError when shut down, or when no thread can run it at all."""
        with self._lock:
            if self._closed:
                raise RuntimeError("worker pool is shut down")
            self._jobs.append(job)
            if self._running >= self.size:
                return
            self._running += 1
            self._started += 1
            t = threading.Thread(target=self._run, name=f"{self.name}-{self._started}", daemon=True)
            try:
                t.start()
            except RuntimeError:  # "can't start new thread": e.g. the unit's TasksMax is reached
                self._running -= 1
                if self._running == 0:  # nobody else will pick it up
                    self._jobs.pop()
                    raise

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._closed or not self._jobs:
                    self._running -= 1
                    return
                job = self._jobs.popleft()
            try:
                job()
            except Exception:  # jobs handle their own errors; this is the last line of defence
                log.exception("worker job failed")
            del job

    def shutdown(self) -> None:
        """Drop queued jobs and stop taking new ones; never waits for a busy thread."""
        with self._lock:
            self._closed = True
            self._jobs.clear()


class _ErrorStream(io.TextIOBase):
    """``wsgi.errors``: what the app writes there goes to our log, not to a terminal."""

    def write(self, s: str) -> int:
        if s.strip():
            log.warning("app: %s", s.rstrip())
        return len(s)


_ERRORS = _ErrorStream()


def wsgi_handler(
    app: Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]], scheme: str, server_port: int
) -> Handler:
    """Adapt a WSGI-style callable to a :data:`Handler`, buffering its whole answer.

    Buffering is what lets any exception, even one raised while the body is produced, still become a
    clean 500: nothing has reached the client yet.
    """

    def handle(req: Request) -> Response:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": req.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(req.path, encoding="latin-1"),
            "QUERY_STRING": req.query,
            "SERVER_NAME": "localhost",
            "SERVER_PORT": str(server_port),
            "SERVER_PROTOCOL": req.version,
            "REMOTE_ADDR": req.peer[0],
            "REMOTE_PORT": str(req.peer[1]),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": scheme,
            "wsgi.input": io.BytesIO(req.body),
            "wsgi.errors": _ERRORS,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in req.headers:
            if "_" in name:
                continue  # would alias a dash-named header in the environ (header spoofing)
            key = name.upper().replace("-", "_")
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[key] = value
            else:
                key = "HTTP_" + key
                environ[key] = f"{environ[key]}, {value}" if key in environ else value
        started: list[Response] = []
        chunks: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], Any]:
            if started and exc_info is None:
                raise RuntimeError("start_response called twice without exc_info")
            started[:] = [Response(status, list(headers))]
            return chunks.append

        try:
            result = app(environ, start_response)
            try:
                chunks.extend(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            if not started:
                raise RuntimeError("the app returned without calling start_response")
            resp = started[0]
            if not re.fullmatch(r"[1-5]\d\d [^\r\n]*", resp.status) or any(
                "\r" in k + v or "\n" in k + v or ":" in k for k, v in resp.headers
            ):
                raise RuntimeError(f"the app produced an invalid status or header: {resp.status!r}")
            resp.body = b"".join(chunks)
            return resp
        except Exception:
            log.exception("internal error answering %s %s", req.method, req.path)
            return Response.plain(500, "internal server error\n")

    return handle


# ------------------------------------------------------------------------------ socket side
class _Closed(Exception):
    """The client went away or timed out: close without answering."""


class HTTPServer:
    """Serve ``handler`` on an already bound socket until :meth:`stop`.

    One thread runs the event loop (:meth:`serve_forever`); complete requests go to a
    :class:`WorkerPool` of ``limits.workers`` threads, so the number of threads never depends on the
    number of clients.
    """

    def __init__(
        self,
        handler: Handler,
        sock: socket.socket,
        ssl_context: ssl.SSLContext | None,
        limits: Limits,
        inline: Callable[[Request], bool] | None = None,
    ) -> None:
        self.handler = handler
        # Requests the handler answers without blocking (liveness) run on the event loop itself, so a
        # pool full of slow scrapes cannot make a liveness probe time out and get the exporter killed.
        self.inline = inline
        self.sock = sock
        self.ssl_context = ssl_context
        self.limits = limits
        self.pool = WorkerPool(limits.workers, "http-worker")
        sock.setblocking(False)
        sock.listen(limits.backlog)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._done = threading.Event()
        self._stop_requested = False
        self._lock = threading.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._transports: set[asyncio.Transport] = set()
        self._last_full_warning = 0.0

    @property
    def connections(self) -> int:
        """Open client connections (including TLS handshakes in progress)."""
        return len(self._tasks)

    # -- lifecycle
    def serve_forever(self) -> None:
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(_quiet_exception_handler)
        with self._lock:
            if self._stop_requested:
                loop.close()
                self._done.set()
                return
            self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self.sock.close()
            self._done.set()

    def stop(self, timeout: float = 1.0) -> None:
        """Close the listener and every connection; returns within ``timeout`` even while the app is
        busy (busy workers finish on their own and their answers are dropped)."""
        with self._lock:
            self._stop_requested = True
            loop = self._loop
        self.pool.shutdown()
        if loop is None:
            self.sock.close()
            return
        with contextlib.suppress(RuntimeError):  # loop already closed
            loop.call_soon_threadsafe(self._request_stop)
        self._done.wait(timeout)

    def _request_stop(self) -> None:
        if self._stopping is not None:
            self._stopping.set()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        if self._stop_requested:
            return
        accept = asyncio.create_task(self._accept_loop())
        await self._stopping.wait()
        accept.cancel()
        for transport in list(self._transports):
            transport.abort()
        for task in list(self._tasks):
            task.cancel()
        pending = [accept, *self._tasks]
        await asyncio.wait(pending, timeout=0.5)
        await asyncio.sleep(0)  # let aborted transports run connection_lost (closes their sockets)

    async def _accept_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, addr = await loop.sock_accept(self.sock)
            except OSError as exc:  # e.g. EMFILE: back off instead of spinning
                log.warning("accept failed: %s", exc)
                await asyncio.sleep(0.1)
                continue
            if len(self._tasks) >= self.limits.max_connections:
                now = time.monotonic()
                if now - self._last_full_warning > 60:
                    self._last_full_warning = now
                    log.warning("%d connections open (the limit); refusing new ones", len(self._tasks))
                conn.close()
                continue
            task = asyncio.create_task(self._connection(conn, addr))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _connection(self, conn: socket.socket, addr: Any) -> None:
        loop = asyncio.get_running_loop()
        lim = self.limits
        peer = (str(addr[0]), int(addr[1])) if isinstance(addr, tuple) else ("", 0)
        accepted = time.monotonic()
        reader = asyncio.StreamReader(limit=lim.max_header_bytes, loop=loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        try:
            tls: dict[str, Any] = {}
            if self.ssl_context is not None:
                if not await self._readable(conn, accepted + lim.header_timeout):
                    log.debug("connection from %s sent nothing before the deadline", peer[0])
                    conn.close()
                    return
                remaining = max(0.1, accepted + lim.header_timeout - time.monotonic())
                tls = {"ssl": self.ssl_context, "ssl_handshake_timeout": remaining}
                if sys.version_info >= (3, 11):  # else asyncio's fixed default applies
                    # A client ignoring our close_notify would otherwise keep its TLS buffers 30 s.
                    tls["ssl_shutdown_timeout"] = min(5.0, lim.write_timeout)
            transport, _ = await loop.connect_accepted_socket(lambda: protocol, conn, **tls)
        except (OSError, asyncio.TimeoutError, ssl.SSLError) as exc:
            log.debug("connection from %s failed before HTTP: %s", peer[0], exc.__class__.__name__)
            conn.close()
            return
        except BaseException:  # cancelled by stop()
            conn.close()
            raise
        self._transports.add(transport)
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        buf = bytearray()
        first = True
        try:
            while True:
                try:
                    req = await self._read_request(reader, writer, buf, accepted if first else None)
                except HTTPError as err:
                    await self._refuse(reader, writer, err)
                    return
                first = False
                req.peer = peer
                resp = await self._dispatch(req)
                await self._send(writer, resp, req, keep_alive=req.keep_alive)
                if not req.keep_alive:
                    return
        except (_Closed, ConnectionError, OSError, asyncio.TimeoutError):
            pass
        except Exception:  # a bug of ours: say so, and lose only this connection
            log.exception("HTTP connection from %s failed", peer[0])
        finally:
            self._transports.discard(transport)
            if transport.is_closing():
                transport.abort()
            else:
                transport.close()

    async def _readable(self, conn: socket.socket, deadline: float) -> bool:
        """Wait until the client sends its first bytes (a TLS ClientHello), at most until ``deadline``.

        asyncio's TLS layer allocates a 256 KiB buffer per connection as soon as it takes it over;
        waiting for the client to speak first means silent connections cost only this coroutine.
        """
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        fd = conn.fileno()
        loop.add_reader(fd, wake)
        try:
            await asyncio.wait_for(ready, max(0.0, deadline - time.monotonic()))
            return True
        except asyncio.TimeoutError:
            return False
        finally:
            loop.remove_reader(fd)

    async def _refuse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, err: HTTPError) -> None:
        """Answer a refused request, then read (and drop) what the client still sends for a moment.

        Closing a socket with unread input makes the kernel send a reset, which can destroy our 413 or
        431 before the client reads it; half-closing and draining briefly (nginx's "lingering close")
        lets the answer arrive. Bounded in time and bytes, so it costs nothing an attacker can grow.
        """
        await self._send(writer, Response.plain(err.code, err.text), None, keep_alive=False)
        if writer.can_write_eof():
            writer.write_eof()
        deadline = time.monotonic() + min(2.0, self.limits.header_timeout)
        scratch = bytearray()
        drained = 0
        with contextlib.suppress(_Closed, OSError, asyncio.TimeoutError):
            while drained < 1024 * 1024:
                await self._fill(reader, scratch, deadline)
                drained += len(scratch)
                scratch.clear()

    async def _read_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, buf: bytearray, accepted: float | None
    ) -> Request:
        """Read one request into ``buf`` (which keeps pipelined bytes for the next one).

        ``accepted`` is set for a connection's first request: its deadline counts from the accept.
        Later requests may wait ``idle_timeout`` for their first byte, then have ``header_timeout``.
        """
        lim = self.limits
        while buf.startswith((b"\r\n", b"\n")):  # RFC 9112 2.2: ignore blank lines before a request
            del buf[: 2 if buf.startswith(b"\r\n") else 1]
        if accepted is None and not buf:
            await self._fill(reader, buf, time.monotonic() + lim.idle_timeout)
        deadline = (accepted if accepted is not None else time.monotonic()) + lim.header_timeout
        searched = 0
        while True:
            while buf.startswith((b"\r\n", b"\n")):
                del buf[: 2 if buf.startswith(b"\r\n") else 1]
            found = find_head_end(buf, searched)
            if found is not None:
                break
            if len(buf) > lim.max_header_bytes:
                raise HTTPError(431, f"request line and headers over {lim.max_header_bytes} bytes\n")
            searched = len(buf)
            await self._fill(reader, buf, deadline)
        head_end, body_start = found
        if head_end > lim.max_header_bytes:
            raise HTTPError(431, f"request line and headers over {lim.max_header_bytes} bytes\n")
        req = parse_head(bytes(buf[:head_end]), lim)
        del buf[:body_start]
        need = body_length(req, lim)
        if need:
            expect = (req.header("expect") or "").lower()
            if expect == "100-continue" and req.version == "HTTP/1.1" and len(buf) < need:
                # curl waits a second for this before sending a body over 1 KiB.
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                await asyncio.wait_for(writer.drain(), lim.write_timeout)
            while len(buf) < need:
                await self._fill(reader, buf, deadline)
            req.body = bytes(buf[:need])
            del buf[:need]
        return req

    async def _fill(self, reader: asyncio.StreamReader, buf: bytearray, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Closed
        try:
            chunk = await asyncio.wait_for(reader.read(_READ_CHUNK), remaining)
        except asyncio.TimeoutError:
            raise _Closed from None
        if not chunk:
            raise _Closed
        buf += chunk

    async def _dispatch(self, req: Request) -> Response:
        if self.inline is not None and self.inline(req):
            return self.handler(req)
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Response] = loop.create_future()

        def deliver(resp: Response) -> None:
            if not fut.done():
                fut.set_result(resp)

        def job() -> None:
            try:
                resp = self.handler(req)
            except Exception:
                log.exception("internal error answering %s %s", req.method, req.path)
                resp = Response.plain(500, "internal server error\n")
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile (shutdown)
                loop.call_soon_threadsafe(deliver, resp)

        try:
            self.pool.submit(job)
        except RuntimeError:  # shutting down
            return Response.plain(503)
        return await fut

    async def _send(self, writer: asyncio.StreamWriter, resp: Response, req: Request | None, keep_alive: bool) -> None:
        writer.write(serialize(resp, req, keep_alive))
        await asyncio.wait_for(writer.drain(), self.limits.write_timeout)


def _quiet_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Client misbehaviour (resets, failed TLS handshakes) is routine for a server: debug, not error.

    Anything else reaching the loop's handler is a bug of ours and is logged as an error.
    """
    exc = context.get("exception")
    if exc is None or isinstance(exc, (OSError, asyncio.TimeoutError, asyncio.CancelledError)):
        log.debug("event loop: %s %s", context.get("message"), exc.__class__.__name__ if exc else "")
    else:
        log.error("event loop: %s", context.get("message"), exc_info=exc)
