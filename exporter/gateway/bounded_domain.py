"""An auth domain with a host of its own (TEDAPI's access point): few connections, and left alone while silent.

Why a module of its own: such a host is more fragile than the gateway's JSON API and fails in its
own way (it vanishes, rather than answering 429), so it gets two guards of its own that the
transport applies around every request of the domain:

* at most ``connections`` requests at once (and as many kept-alive connections), whatever the
  scrapers do; a request that finds no free connection before its deadline fails as a timeout;
* while the host does not answer at all (a connection failure or a timeout), a back-off of
  :data:`UNREACHABLE_BACKOFF_SECONDS`, doubling per failure in a row up to
  :data:`UNREACHABLE_BACKOFF_MAX_SECONDS`, so a vanished access point is not hammered. Any answer
  ends it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from exporter.gateway.backoff import Pause, whole_seconds
from exporter.gateway.outcomes import FetchError

log = logging.getLogger(__name__)

UNREACHABLE_BACKOFF_SECONDS = 10.0
UNREACHABLE_BACKOFF_MAX_SECONDS = 600.0
_UNREACHABLE_REASONS = frozenset({"connection", "timeout"})


class BoundedDomain:
    """The connection bound and the unreachable back-off of one auth domain (module docstring)."""

    def __init__(self, gateway: str, domain: str, connections: int, clock: Callable[[], float]) -> None:
        self.connections = connections
        self._gateway = gateway
        self._domain = domain
        self._clock = clock
        self._slots = threading.BoundedSemaphore(connections)
        self._unreachable = Pause(clock)

    def unreachable_for(self) -> float:
        """Seconds until the host is asked again after it did not answer (0: ask now)."""
        return self._unreachable.remaining()

    def answered(self) -> None:
        """The host answered (whatever the status): the next silence backs off from the start again."""
        self._unreachable.reset()

    def failed(self, exc: FetchError) -> None:
        """A request of the domain failed; a host that did not answer at all is left alone for a while."""
        if exc.reason not in _UNREACHABLE_REASONS:
            return
        delay = self._unreachable.block(UNREACHABLE_BACKOFF_SECONDS, once=True, cap=UNREACHABLE_BACKOFF_MAX_SECONDS)
        if delay is not None:
            log.warning(
                "gateway %s: %s; leaving the %s host alone for %d s",
                self._gateway,
                exc,
                self._domain,
                whole_seconds(delay),
            )

    @contextmanager
    def connection(self, label: str, deadline: float) -> Iterator[None]:
        """Hold one of the domain's connections while the block runs; raises a timeout when none
        comes free before ``deadline``."""
        if not self._slots.acquire(timeout=max(0.0, deadline - self._clock())):
            raise FetchError("timeout", f"{label}: no free {self._domain} connection before the deadline")
        try:
            yield
        finally:
            self._slots.release()
