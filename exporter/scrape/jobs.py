"""One gateway's requests in one scrape: the sources' own, and the follow-ups their answers make possible.

Split from the collector because it is the one piece of a scrape that is concurrent by itself:
follow-ups start from workers' done-callbacks, and the scrape waits for all of them (or the deadline)
on one condition.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from functools import partial

from exporter.gateway.outcomes import Fetched, FetchError, Result
from exporter.gateway.request import Request
from exporter.gateway.transport import GatewayTransport, Run
from exporter.sources.base import Source

log = logging.getLogger(__name__)

MAX_JOBS_PER_SCRAPE = 64  # per gateway: every request of every source, follow-ups included

Job = tuple[Source, Request, "Future[Result]"]
# A request's place in a scrape's tree of requests: (depth, *its parent's place, its index among the
# requests started with it). Places of one depth have one length, so tuple order is breadth first.
Place = tuple[int, ...]


class ScrapeJobs:
    """The requests of one gateway in one scrape, including follow-ups started as answers arrive.

    A source may need one answer to address the next request (see :meth:`Source.followups`); the
    follow-up starts in the worker that delivered the answer, so dependent requests cost one round
    trip each and never a scrape each. Bounded: a request is asked once per scrape, and at most
    :data:`MAX_JOBS_PER_SCRAPE` requests are started in all.
    """

    def __init__(
        self,
        transport: GatewayTransport,
        run: Run,
        gateway: str,
        deadline: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._transport = transport
        self._clock = clock
        self._run = run
        self._gateway = gateway
        self._deadline = deadline
        self._cond = threading.Condition()
        self._jobs: list[Job] = []
        self._keys: set[tuple[str, str, str]] = set()
        # Where each request stands in the scrape's tree of requests: see :attr:`jobs`.
        self._place: dict[tuple[str, str, str], Place] = {}
        self._pending = 1  # released by started(): no early "all done" while the first round is added
        self._closed = False
        self.finished_at: float | None = None
        # When the scrape began, on the transport's clock (the one its answers are dated on).
        self.begun = transport.now()

    def add(self, source: Source, request: Request) -> None:
        self.add_many([(source, request)])

    def add_many(self, planned: Iterable[tuple[Source, Request]], parent: Request | None = None) -> None:
        """Start these requests together (see :meth:`GatewayTransport.begin_many`): a request already
        asked in this scrape, or one past :data:`MAX_JOBS_PER_SCRAPE`, is skipped. ``parent``: the
        request whose answer made these (None: the scrape's first round)."""
        taken: list[tuple[Source, Request]] = []
        with self._cond:
            above: Place = () if parent is None else self._place.get(parent.key, ())
            for source, request in planned:
                if self._closed or request.key in self._keys or len(self._jobs) + len(taken) >= MAX_JOBS_PER_SCRAPE:
                    continue
                self._keys.add(request.key)
                self._place[request.key] = (above[0] + 1 if above else 0, *above, len(taken))
                self._pending += 1
                taken.append((source, request))
        if not taken:
            return
        futures = self._transport.begin_many([request for _, request in taken], self._deadline, self._run)
        started = [(source, request, future) for (source, request), future in zip(taken, futures, strict=True)]
        with self._cond:
            self._jobs.extend(started)
        for source, request, future in started:
            future.add_done_callback(partial(self._done, source, request))

    def started(self) -> None:
        self._release()

    def _done(self, source: Source, request: Request, future: Future[Result]) -> None:
        try:
            result = future.result()
            if isinstance(result, Fetched):
                self.add_many([(source, more) for more in source.followups(request, result)], request)
        except FetchError as exc:
            # The answer does not decode: no bug, and collect() of the same answer reports and counts it.
            log.debug("gateway %s: no follow-ups of %s: %s", self._gateway, request.label, exc)
        except Exception:
            log.exception("gateway %s: follow-ups of %s failed (a bug: please report it)", self._gateway, request.label)
        finally:
            self._release()

    def _release(self) -> None:
        with self._cond:
            self._pending -= 1
            if self._pending == 0:
                self.finished_at = self._clock()
                self._cond.notify_all()

    def wait(self) -> bool:
        """Wait until every request (follow-ups included) is done or the deadline passed; True: all done."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout=max(0.0, self._deadline - self._clock()))

    @property
    def jobs(self) -> list[Job]:
        """Every job, breadth first: the first round in the order planned, then each round of
        follow-ups in the order of the requests whose answers made them, whenever those arrived.

        Why not the order they started in: follow-ups start as answers arrive, so that order
        changes with timing, and a source collects its answers in this order (TEDAPI reads the
        firmware answer before the device answers that carry the version). Collected in the
        order they happened to start, a Powerwall 3's devices lost their firmware on a first
        scrape whenever its config answer came back before the firmware request had started.
        """
        with self._cond:
            return sorted(self._jobs, key=lambda job: self._place[job[1].key])

    def close(self) -> None:
        """The scrape has taken its results: forget the futures and start no more follow-ups.

        Why: each future keeps its done-callback, which holds this object, which held the futures: a
        reference cycle per scrape that only the cyclic garbage collector freed, and with it every
        answer and what was decoded from it. In a replica of 1,000 gateways that garbage made the
        collector's pauses take hundreds of milliseconds. Without the cycle, an answer goes as soon
        as the transport's cache lets it go.
        """
        with self._cond:
            self._closed = True
            self._jobs = []
