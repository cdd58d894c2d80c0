"""Concurrent identical scrapes share one scrape and one rendered page.

Why: the gateway's answers are already shared (single flight, one decode per answer), but every
scrape still builds its own metric set and renders its own page: with a large site, eight scrapers
arriving together (an HA pair, a few dashboards' ad-hoc probes, a retry storm) held eight copies of
the same megabytes at once, so the exporter's peak memory grew with its number of scrapers. A scrape
that arrives while an identical one is in flight now waits for that one and serves its bytes: the
same answers it would have computed, from the same instant, at the cost of one.

"Identical" is the whole request as it shapes the page: path, target, exposition format, gzip and
the scrape timeout the client announced (a follower never waits longer than its own leader was
allowed to run). A scrape that starts after the previous one finished always runs anew: nothing here
is a cache. Entries live only while their scrape runs, so they are bounded by the scrapes in flight.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Coalescer(Generic[K, V]):
    """Runs ``make`` once per key among the callers that overlap in time; all of them get its result
    (or its exception)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inflight: dict[K, Future[V]] = {}
        self.shared = 0  # callers served by another caller's run (for tests and the benchmark)

    @property
    def in_flight(self) -> int:
        """Runs in progress (distinct keys)."""
        with self._lock:
            return len(self._inflight)

    def run(self, key: K, make: Callable[[], V]) -> V:
        with self._lock:
            future = self._inflight.get(key)
            leader = future is None
            if future is None:
                future = self._inflight[key] = Future()
            else:
                self.shared += 1
        if not leader:
            return future.result()
        try:
            value = make()
        except BaseException as exc:
            self._forget(key)
            future.set_exception(exc)
            raise
        self._forget(key)  # before publishing: a caller arriving from now on starts a scrape of its own
        future.set_result(value)
        return value

    def _forget(self, key: K) -> None:
        with self._lock:
            del self._inflight[key]
