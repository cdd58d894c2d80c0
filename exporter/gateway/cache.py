"""Single flight and reuse, keyed by request identity: N scrapers cost the gateway what one does.

Concurrent callers of the same request (method, path, body digest) share one in-flight future:
only the first caller's request runs, followers cost no thread while they wait. An answer younger
than the request's minimum interval (or the interval the answer itself earns, for a request that
judges its answers: the site info) is reused, and an optional request the firmware lacks is
remembered as "not supported" for a while instead of asked for on every scrape.

A failure is shared with the followers of its flight, never reused after it: the next caller
starts a new flight, and the transport's back-offs (unreachable host, 429/503 cooldown, credential
pause) decide whether that flight reaches the gateway. Kept like an answer, one failed
``GET /tedapi/din`` (reused for an hour) switched TEDAPI off for an hour after one bad second of
the access point, while the log promised a retry in 10 s.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from exporter.gateway.backoff import whole_seconds
from exporter.gateway.outcomes import Fetched, FetchError, Result
from exporter.gateway.request import Request

log = logging.getLogger(__name__)

NOT_SUPPORTED_TTL_SECONDS = 600.0

Key = tuple[str, str, str]


@dataclass(slots=True)
class _Cached:
    result: Fetched  # answers only: a failure is never reused (see the module docstring)
    at: float
    until: float  # reused before this instant, dropped from it on


def done(result: Result) -> Future[Result]:
    future: Future[Result] = Future()
    future.set_result(result)
    return future


class SingleFlight:
    def __init__(self, default_interval: float, clock: Callable[[], float]) -> None:
        self._default_interval = default_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._inflight: dict[Key, Future[Result]] = {}
        self._cache: dict[Key, _Cached] = {}
        self._not_supported_until: dict[Key, float] = {}

    def lookup(self, request: Request) -> tuple[Future[Result], bool]:
        """The future for ``request`` and whether the caller must lead (run it and :meth:`finish`)."""
        now = self._clock()
        key = request.key
        with self._lock:
            if self._not_supported_until.get(key, 0.0) > now:
                # No status: this is our memory of an old answer, not contact with the gateway now.
                return done(
                    FetchError("not_supported", f"{request.label}: not supported by this gateway (cached)")
                ), False
            cached = self._cache.get(key)
            if cached is not None:
                if now < cached.until:
                    return done(cached.result), False
                # Expired: forgotten now, not when its replacement's flight finishes, so that what was
                # decoded from it (exporter.sources.peranswer) is not held through that flight too.
                del self._cache[key]
            future = self._inflight.get(key)
            if future is not None:
                return future, False
            future = self._inflight[key] = Future()
            return future, True

    def _interval(self, request: Request, answer: Fetched) -> float:
        if request.reuse_for is not None:
            seconds = request.reuse_for(answer)
            if seconds is not None:
                return seconds
        return self._default_interval if request.min_interval_seconds is None else request.min_interval_seconds

    def finish(self, request: Request, future: Future[Result], result: Result, gateway: str) -> Result:
        """Publish the leader's result to every follower; returns the (detached) result."""
        if isinstance(result, FetchError):
            result = result.detached()
        key = request.key
        now = self._clock()
        with self._lock:
            self._inflight.pop(key, None)
            if isinstance(result, Fetched):
                self._cache[key] = _Cached(result, now, now + self._interval(request, result))
            else:
                # The expired answer this flight was to replace goes too: nothing of it is reused.
                self._cache.pop(key, None)
            if request.optional:
                if isinstance(result, FetchError) and result.reason == "not_supported":
                    if key not in self._not_supported_until:
                        log.info(
                            "gateway %s: %s is not supported by this firmware; asking again in %d s",
                            gateway,
                            request.label,
                            whole_seconds(NOT_SUPPORTED_TTL_SECONDS),
                        )
                    self._not_supported_until[key] = now + NOT_SUPPORTED_TTL_SECONDS
                elif not isinstance(result, FetchError):
                    self._not_supported_until.pop(key, None)
        future.set_result(result)
        return result

    def quiet_for(self, request: Request) -> float:
        """Seconds before ``request`` is next sent to the gateway: its answer is reused, or it is known
        not to be supported, until then; 0 if its next lookup sends it."""
        now = self._clock()
        with self._lock:
            cached = self._cache.get(request.key)
            until = max(cached.until if cached is not None else now, self._not_supported_until.get(request.key, now))
        return max(0.0, until - now)

    def not_supported(self, request: Request) -> bool:
        with self._lock:
            return self._not_supported_until.get(request.key, 0.0) > self._clock()

    def discard(self, request: Request, answer: Fetched) -> None:
        """Stop reusing ``answer`` (the reader found it does not decode): a 200 that is garbage is a
        failure, and a failure is never held for the success interval. Only that very answer goes;
        a newer one a concurrent flight stored meanwhile stays."""
        with self._lock:
            cached = self._cache.get(request.key)
            if cached is not None and cached.result is answer:
                del self._cache[request.key]

    def sweep(self) -> int:
        """Drop the answers whose reuse interval has passed; how many went.

        Without this an answer stayed until the next lookup of its request, with all that was decoded
        from it: a probe every 30 s held each gateway's last answers for 25 s after their 5 s of use,
        most of a large fleet's memory.
        """
        now = self._clock()
        with self._lock:
            expired = [key for key, cached in self._cache.items() if now >= cached.until]
            for key in expired:
                del self._cache[key]
        return len(expired)

    def forget_answers(self) -> None:
        """Drop every answer kept for reuse: the next lookup of each request goes to the gateway.

        In-flight requests and the "not supported" memory stay: this is a steady client whose
        answers have all just expired, not a new one. For benchmarks of a scrape's full cost.
        """
        with self._lock:
            self._cache.clear()
