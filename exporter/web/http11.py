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
import logging
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from exporter.scrape.workers import WorkerPool
from exporter.web.dispatch import Dispatcher
from exporter.web.http_parse import (
    Handler,
    HTTPError,
    Limits,
    Request,
    Response,
    body_length,
    find_head_end,
    parse_head,
    serialize_parts,
)

log = logging.getLogger(__name__)

_READ_CHUNK = 16 * 1024
# A response body larger than this is written slice by slice (Server._send).
SEND_SLICE_BYTES = 256 * 1024


# ------------------------------------------------------------------------------ socket side
class _Closed(Exception):
    """The client went away or timed out: close without answering."""


class HTTPServer:
    """Serve ``handler`` on an already bound socket until :meth:`stop`.

    One thread runs the event loop (:meth:`serve_forever`); complete requests go to the
    :class:`~exporter.web.dispatch.Dispatcher`'s ``limits.workers`` threads, so the number of threads
    never depends on the number of clients.
    """

    def __init__(
        self,
        handler: Handler,
        sock: socket.socket,
        ssl_context: ssl.SSLContext | None,
        limits: Limits,
        inline: Callable[[Request], bool] | None = None,
        on_refuse: Callable[[str], None] | None = None,
    ) -> None:
        self.sock = sock
        self.ssl_context = ssl_context
        self.limits = limits
        self.dispatcher = Dispatcher(handler, limits, inline, on_refuse)
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
    def pool(self) -> WorkerPool:
        """The worker threads that run the app (the dispatcher's)."""
        return self.dispatcher.pool

    @property
    def abandoned(self) -> int:
        """Requests whose client closed the connection while they waited or ran."""
        return self.dispatcher.abandoned

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
        self.pool.close()
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
                resp = await self.dispatcher.dispatch(req, reader, buf)
                if resp is None:  # the client left before a worker took its request: nobody to answer
                    return
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
        arrived = accepted if accepted is not None else time.monotonic()
        deadline = arrived + lim.header_timeout
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
        req.arrived = arrived
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

    async def _send(self, writer: asyncio.StreamWriter, resp: Response, req: Request | None, keep_alive: bool) -> None:
        """Write the response within ``write_timeout`` for the whole of it.

        The body goes out in slices, each waited for before the next: the transport copies what the
        socket does not take at once into a buffer of its own, so a multi-megabyte page written whole
        would be copied once per slow connection (eight concurrent scrapes sharing one page held
        eight copies). Sliced, a connection buffers at most one slice.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.write_timeout
        head, body = serialize_parts(resp, req, keep_alive)
        if len(body) <= SEND_SLICE_BYTES:
            writer.write(head + body)
            await asyncio.wait_for(writer.drain(), self.limits.write_timeout)
            return
        writer.write(head)
        view = memoryview(body)
        for start in range(0, len(view), SEND_SLICE_BYTES):
            writer.write(view[start : start + SEND_SLICE_BYTES])
            await asyncio.wait_for(writer.drain(), max(0.0, deadline - loop.time()))


def _quiet_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Client misbehaviour (resets, failed TLS handshakes) is routine for a server: debug, not error.

    Anything else reaching the loop's handler is a bug of ours and is logged as an error.
    """
    exc = context.get("exception")
    if exc is None or isinstance(exc, (OSError, asyncio.TimeoutError, asyncio.CancelledError)):
        log.debug("event loop: %s %s", context.get("message"), exc.__class__.__name__ if exc else "")
    else:
        log.error("event loop: %s", context.get("message"), exc_info=exc)
