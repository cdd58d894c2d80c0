"""From a complete request to its answer: who runs it, and which requests are not run at all.

Apart from the socket side (:mod:`exporter.web.http11`) because this is the server's one policy: a
scrape answered after its scraper gave up is work for nobody, so admission (a bounded queue, and
dropping a request whose client has gone) lives here, next to the worker pool it protects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable

from exporter.scrape.workers import WorkerPool
from exporter.web.http_parse import Handler, Limits, Request, Response

log = logging.getLogger(__name__)

_WATCH_CHUNK = 16 * 1024  # bytes read at a time while watching for the client to close


def _ignore(reason: str) -> None:
    """The default refusal callback: nothing counts refusals."""


HTTP_WORKER_IDLE_SECONDS = 10.0


class Dispatcher:
    """Runs the handler for each complete request on ``limits.workers`` threads, or refuses it."""

    def __init__(
        self,
        handler: Handler,
        limits: Limits,
        inline: Callable[[Request], bool] | None = None,
        on_refuse: Callable[[str], None] | None = None,
    ) -> None:
        self.handler = handler
        self.limits = limits
        # Requests the handler answers without blocking (liveness) run on the event loop itself, so a
        # pool full of slow scrapes cannot make a liveness probe time out and get the exporter killed.
        self.inline = inline
        # Told each request turned away before the app saw it: "queue_full" or "client_gone".
        self.on_refuse = on_refuse or _ignore
        # Workers stay parked a few seconds after a request: a replica probed many times a second
        # reuses them instead of starting a thread per request (a tenth of a millisecond each, and
        # more system time than the request's own routing); at rest they leave.
        self.pool = WorkerPool(limits.workers, "http-worker", idle_seconds=HTTP_WORKER_IDLE_SECONDS)
        self.abandoned = 0  # requests whose client closed the connection while they waited or ran

    async def dispatch(self, req: Request, reader: asyncio.StreamReader, buf: bytearray) -> Response | None:
        """The handler's answer, from a worker; None when the client left before a worker took it.

        Admission, because a scrape answered after its scraper gave up is work for nobody: a request
        finding ``max_queued`` others waiting is refused at once (503), and one whose client closed
        the connection while it waited is dropped without running (what nginx logs as 499). The app
        refuses what has too little of its scrape timeout left (see ``ExporterApp``).
        """
        if self.inline is not None and self.inline(req):
            return self.handler(req)
        if self.pool.queued >= self.limits.max_queued:
            self.on_refuse("queue_full")
            return Response.plain(503, f"busy: {self.pool.queued} requests are waiting; try again\n")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Response | None] = loop.create_future()
        gone = threading.Event()
        watcher = asyncio.create_task(self._watch(reader, buf, gone))

        def deliver(resp: Response | None) -> None:
            if not fut.done():
                fut.set_result(resp)

        def job() -> None:
            resp: Response | None
            if gone.is_set():
                self.on_refuse("client_gone")
                resp = None
            else:
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
            watcher.cancel()
            return Response.plain(503)
        try:
            return await fut
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _watch(self, reader: asyncio.StreamReader, buf: bytearray, gone: threading.Event) -> None:
        """Notice the client closing while its request waits or runs (Prometheus closes the connection
        when its scrape times out). What the client sends meanwhile (a pipelined request) is kept in
        ``buf`` for the next read, up to the header bound; beyond it, reading pauses."""
        try:
            while len(buf) <= self.limits.max_header_bytes:
                chunk = await reader.read(_WATCH_CHUNK)
                if not chunk:
                    break
                buf += chunk
            else:
                return
        except (ConnectionError, OSError):
            pass
        gone.set()
        self.abandoned += 1
