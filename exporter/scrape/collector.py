"""The gateway set: a ``prometheus_client`` collector over every configured gateway, the reload that
swaps the set, and one scrape across the gateways it selects.

Each gateway's own work is its scraper's (:mod:`exporter.scrape.gateway`); this module decides which
scrapers exist, splits the worker budget between them, and times the scrape on the exporter's one
clock (:mod:`exporter.clock`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client.core import Metric as PromMetric
from prometheus_client.registry import Collector

from exporter import __version__
from exporter.clock import SYSTEM_CLOCK, Clock
from exporter.config import Config, GatewayConfig
from exporter.gateway.sessions import SessionStore
from exporter.gateway.transport import GatewayTransport
from exporter.metrics.metricset import MetricSet
from exporter.scrape.gateway import MAX_WORKERS_PER_GATEWAY, GatewayScraper, tls_digest
from exporter.scrape.jobs import ScrapeJobs
from exporter.scrape.selfmetrics import BUILD_INFO, RELOAD_OK, RELOAD_TIME
from exporter.scrape.workers import WorkerPool
from exporter.sources.registry import ALLOW_LIST

DEFAULT_TIMEOUT_MARGIN = 0.5
# Gateways whose expired answers each scrape drops, in turn (see PowerwallCollector._sweep): at a
# probe per gateway per 30 s, every gateway is swept every few seconds, at a cost bounded per scrape.
SWEEP_PER_SCRAPE = 8


def _lane_cap(config: Config) -> int:
    """Each gateway's cap on requests running at once: every request of a scrape side by side (single
    flight means no request ever needs two workers), never more than the whole pool. Not split by the
    number of gateways: the shared pool bounds the total, and a split left one worker per gateway in a
    large fleet, so a probe's requests ran one after another."""
    return max(1, min(MAX_WORKERS_PER_GATEWAY, config.max_concurrent_requests))


@dataclass(frozen=True, slots=True)
class ApplySummary:
    """Which gateways a reload kept (with all their state), replaced, added and removed."""

    kept: tuple[str, ...]
    replaced: tuple[str, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]

    def __str__(self) -> str:
        parts = [f"{what} {len(names)}" + (f" ({', '.join(names)})" if names else "") for what, names in self._parts()]
        return ", ".join(parts)

    def _parts(self) -> list[tuple[str, tuple[str, ...]]]:
        return [("kept", self.kept), ("replaced", self.replaced), ("added", self.added), ("removed", self.removed)]


class PowerwallCollector(Collector):
    """A ``prometheus_client`` collector over all configured gateways.

    ``scrapers`` is replaced whole by :meth:`apply`, never changed in place, so a reader holding the
    old dict (a scrape in progress, the landing page) keeps a consistent set.
    """

    def __init__(
        self, config: Config, transports: Sequence[GatewayTransport] | None = None, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.config = config
        self.clock = clock
        self._store = SessionStore(config.state_file) if config.state_file else None
        transports = transports or [self._transport(g, self._store) for g in config.gateways]
        # Every gateway's requests run on this one pool: threads bounded by max_concurrent_requests,
        # whatever the number of gateways; each gateway's lane caps its own share (_lane_cap).
        self.pool = WorkerPool(config.max_concurrent_requests, "gateway")
        cap = _lane_cap(config)
        self.scrapers: dict[str, GatewayScraper] = {
            t.cfg.name: GatewayScraper(t, cap, clock, self.pool) for t in transports
        }
        self._lock = threading.Lock()  # guards the swap of scrapers/config and the reload state
        self._apply_lock = threading.Lock()  # one apply at a time
        self.reload_successful = True
        self.reload_success_time = clock.wall()  # the start-up load counts as the first successful one
        self._sweep_at = 0  # the next gateway (by position) whose expired answers a scrape drops

    def _transport(self, cfg: GatewayConfig, store: SessionStore | None) -> GatewayTransport:
        return GatewayTransport(cfg, ALLOW_LIST, store, clock=self.clock.monotonic)

    def apply(self, config: Config) -> ApplySummary:
        """Switch to ``config``, keeping every unchanged gateway's scraper (session, caches, counter
        guard, accounting) as it is.

        A gateway is unchanged when its :class:`GatewayConfig` is equal and its pinned CA file has the
        same contents. Changed gateways get a new scraper and removed ones are closed, each once no
        scrape uses it any more. Top-level settings: a changed ``state_file`` opens the new file and
        replaces every gateway (each transport holds the store it saves its sessions to); a changed
        ``max_concurrent_requests`` resizes the shared pool and the kept gateways' lanes in place.
        """
        with self._apply_lock:
            old = self.scrapers
            store_changed = config.state_file != self.config.state_file
            store = (SessionStore(config.state_file) if config.state_file else None) if store_changed else self._store
            cap = _lane_cap(config)
            new: dict[str, GatewayScraper] = {}
            kept: list[str] = []
            try:
                for g in config.gateways:
                    s = old.get(g.name)
                    if s is not None and not store_changed and s.cfg == g and s.tls_digest == tls_digest(g):
                        new[g.name] = s
                        kept.append(g.name)
                    else:
                        new[g.name] = GatewayScraper(self._transport(g, store), cap, self.clock, self.pool)
            except BaseException:
                for s in new.values():
                    if s.name not in kept:
                        s.retire()
                raise
            self.pool.resize(config.max_concurrent_requests)
            for name in kept:
                new[name].pool.resize(cap)
            with self._lock:
                self.scrapers = new
                self.config = config
                self._store = store
                self.reload_successful = True
                self.reload_success_time = self.clock.wall()
            for s in old.values():
                if new.get(s.name) is not s:
                    s.retire()
            return ApplySummary(
                kept=tuple(kept),
                replaced=tuple(n for n in new if n in old and n not in kept),
                added=tuple(n for n in new if n not in old),
                removed=tuple(n for n in old if n not in new),
            )

    def reload_failed(self) -> None:
        """A reload was refused: the running configuration stays, and the metric says so."""
        with self._lock:
            self.reload_successful = False

    def pending(self) -> list[str]:
        """Configured gateways whose first collection has not been attempted yet (for ``/-/ready``)."""
        return [name for name, s in self.scrapers.items() if s.status.at is None]

    def describe(self) -> Iterable[PromMetric]:
        # Declaring no fixed families keeps registration free of gateway I/O (no auto-describe call).
        return []

    def collect(self) -> Iterator[PromMetric]:
        yield from self.scrape().families()

    def scrape(self, names: Iterable[str] | None = None, timeout: float | None = None) -> MetricSet:
        """Collect the named gateways (all by default) within ``timeout`` seconds."""
        start = self.clock.monotonic()
        with self._lock:  # a reload swaps the set under this lock: this scrape finishes on the one it took
            scrapers = self.scrapers
            # A name a reload removed since the caller checked it is skipped, not an error.
            selected = [scrapers[n] for n in names if n in scrapers] if names is not None else list(scrapers.values())
            for s in selected:
                s.acquire()
            reload_ok, reload_time = self.reload_successful, self.reload_success_time
        try:
            return self._scrape(selected, start, timeout, reload_ok, reload_time)
        finally:
            for s in selected:
                s.release()
            self._sweep(scrapers)

    def _sweep(self, scrapers: dict[str, GatewayScraper]) -> None:
        """Drop the expired answers (and what was decoded from them) of the next few gateways in turn.

        Why here and not on a timer: the answers only expire between scrapes, and scrapes are what
        runs; a probe of one gateway (``/probe``) must not pay for the whole fleet, hence a few at a time.
        """
        every = list(scrapers.values())
        if not every:
            return
        with self._lock:
            first = self._sweep_at % len(every)
            self._sweep_at = first + SWEEP_PER_SCRAPE
        for i in range(min(SWEEP_PER_SCRAPE, len(every))):
            every[(first + i) % len(every)].transport.sweep()

    def _scrape(
        self, selected: list[GatewayScraper], start: float, timeout: float | None, reload_ok: bool, reload_time: float
    ) -> MetricSet:
        jobs: dict[str, ScrapeJobs] = {}
        for s in selected:
            budget = s.cfg.timeout_seconds
            if timeout is not None:
                budget = min(budget, max(0.1, timeout - DEFAULT_TIMEOUT_MARGIN))
            jobs[s.name] = s.start(start + budget)
        out = MetricSet()
        out.add(BUILD_INFO, 1, {"version": __version__})
        out.add(RELOAD_OK, 1 if reload_ok else 0)
        out.add(RELOAD_TIME, reload_time)
        for s in selected:
            all_done = jobs[s.name].wait()
            # The transport decides what a request not done by now is, and counts it (once per request).
            settle = s.transport.settle
            results = [(source, request, settle(request, future)) for source, request, future in jobs[s.name].jobs]
            finished_at = jobs[s.name].finished_at
            end = finished_at if all_done and finished_at is not None else self.clock.monotonic()
            jobs[s.name].close()
            out.merge(s.build(results, max(0.0, end - start), jobs[s.name].begun), adopt=True)
        return out

    def close(self) -> None:
        """Stop at once: requests in flight are abandoned (their daemon workers never delay exit)."""
        for s in self.scrapers.values():
            s._close()
        self.pool.close()
