"""Scrape-time collection: every source of every gateway concurrently, decode, map, guard, report.

Nothing is polled in the background: a scrape asks each gateway's sources for their requests,
starts them all (shared between concurrent scrapers by the transport), waits at most until the
scrape deadline, and reports per request what worked, the same way for every source. A failed
request's series are simply absent in that scrape — never a previous value. The collector names no
particular endpoint or source: what a request means is its source's business.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass
from functools import partial
from typing import Any

from prometheus_client.core import Metric as PromMetric
from prometheus_client.registry import Collector

from exporter import __version__
from exporter.accounting.site import SiteAccounting
from exporter.config import Config, GatewayConfig
from exporter.gateway.outcomes import REASONS, Fetched, FetchError, Result
from exporter.gateway.request import Request
from exporter.gateway.sessions import SessionStore
from exporter.gateway.transport import GatewayTransport, TransportStats
from exporter.gateway.workers import WorkerPool
from exporter.metrics.counters import CounterGuard
from exporter.metrics.metricset import MetricSet, counter, gauge, info
from exporter.sources.base import Output, Source
from exporter.sources.registry import ALL_REQUESTS, ALLOW_LIST, sources_for

log = logging.getLogger(__name__)

UP = gauge("powerwall_up", "1 when the gateway answered and login worked in this scrape, else 0.")
ENDPOINT_SUCCESS = gauge("powerwall_scrape_endpoint_success", "1 when the endpoint delivered usable data.")
ENDPOINT_DURATION = gauge("powerwall_scrape_endpoint_duration_seconds", "Gateway request time per endpoint.")
SCRAPE_DURATION = gauge("powerwall_scrape_duration_seconds", "Time to collect this gateway.")
BUILD_INFO = info("powerwall_exporter_build_info", "Version of powerwall-exporter.")
REQUESTS_TOTAL = counter(
    "powerwall_gateway_requests_total",
    'Requests sent to the gateway: outcome answered with the HTTP code, else the transport failure and code "".',
)
LOGIN_ATTEMPTS = counter("powerwall_login_attempts_total", "Login attempts, by result.")
COOLDOWN = gauge("powerwall_gateway_cooldown_seconds", "Seconds until the exporter talks to the gateway again.")
ERRORS_TOTAL = counter(
    "powerwall_scrape_endpoint_errors_total", "Failed endpoint fetches, by endpoint and reason (see README)."
)

DEFAULT_TIMEOUT_MARGIN = 0.5
MAX_WORKERS_PER_GATEWAY = len(ALL_REQUESTS)  # single flight: no request ever needs two workers


@dataclass(slots=True)
class GatewayStatus:
    """What the landing page shows about a gateway's last scrape."""

    up: bool | None = None
    at: float | None = None  # wall-clock time
    duration: float | None = None
    error: str | None = None
    series: int = 0


Job = tuple[Source, Request, "Future[Result]"]


class GatewayScraper:
    """One gateway: its transport, sources, own worker pool, counter guard and accounting.

    The pool is per gateway so that a gateway stuck until its timeout can only ever occupy its own
    workers: with one shared pool, overlapping scrapes of a hung gateway filled it and healthy
    gateways were reported down.
    """

    def __init__(self, transport: GatewayTransport, max_workers: int = MAX_WORKERS_PER_GATEWAY) -> None:
        self.transport = transport
        self.cfg: GatewayConfig = transport.cfg
        self.name = self.cfg.name
        self.sources = sources_for(self.cfg)
        self.pool = WorkerPool(max_workers, f"gw-{self.name}"[:15])
        self.guard = CounterGuard(self.name)
        self.accounting = SiteAccounting(self.cfg)  # flows, tariff cost, outages, battery dates
        self.status = GatewayStatus()
        self._failing: tuple[str, ...] = ()  # failure reasons of the last scrape, to log changes once
        self._lock = threading.Lock()

    def start(self, deadline: float, on_done: Any) -> list[Job]:
        """Start every request of every source for this scrape."""
        jobs: list[Job] = []
        for source in self.sources:
            for request in source.requests(self.transport):
                future = self.transport.begin(request, deadline, self.pool.submit)
                future.add_done_callback(on_done)
                jobs.append((source, request, future))
        return jobs

    def build(self, results: Sequence[tuple[Source, Request, Result]], duration: float) -> MetricSet:
        ms = MetricSet(base_labels={"gateway": self.name})
        answered = False
        decoded: dict[str, Any] = {}
        errors: list[FetchError] = []
        for source, request, result in results:
            label = request.label
            # Only contact in this scrape counts (a cached "not supported" carries no status).
            if isinstance(result, Fetched) or result.answered:
                answered = True
            if isinstance(result, Fetched):
                ms.add(ENDPOINT_DURATION, result.duration, {"endpoint": label})
                error = self._collect(source, request, result, ms, decoded)
            elif request.optional and result.reason == "not_supported":
                self._guarded(source.not_supported, request, ms)
                continue  # not a failure: this firmware has no such endpoint
            else:
                error = result
            if error is not None:
                errors.append(error)
            ms.add(ENDPOINT_SUCCESS, 0 if error else 1, {"endpoint": label})
        for source in self.sources:
            self._guarded(partial(source.finish, decoded), None, ms)
        ms.add(UP, 1 if answered else 0)
        ms.add(SCRAPE_DURATION, duration)
        self.guard.apply(ms)
        self.accounting.observe(ms, decoded)  # reads the raw decoded JSON, adds its own series
        self.guard.metrics(ms)
        _transport_metrics(self.transport.stats(), ms, (request.label for _, request, _ in results))
        self._log_changes(answered, errors)
        self.status = GatewayStatus(
            up=answered, at=time.time(), duration=duration, error=str(errors[0]) if errors else None, series=len(ms)
        )
        return ms

    def _collect(
        self, source: Source, request: Request, answer: Fetched, ms: MetricSet, decoded: dict[str, Any]
    ) -> FetchError | None:
        """Decode and map one answer, all or nothing; any failure of any kind costs this request only."""
        out = Output(MetricSet(base_labels=ms.base_labels))
        try:
            source.collect(request, answer, out)
        except FetchError as exc:
            self.transport.note_error(request.label, exc.reason)
            return exc.detached()
        except Exception as exc:  # a decoder or mapping bug must cost this request, not the scrape
            log.exception("gateway %s: decoding %s failed (a bug: please report it)", self.name, request.label)
            self.transport.note_error(request.label, "decode")
            return FetchError("decode", f"{request.label}: did not decode ({exc.__class__.__name__})", answer.status)
        ms.merge(out.ms)
        decoded.update(out.decoded)
        return None

    def _guarded(self, step: Any, request: Request | None, ms: MetricSet) -> None:
        """Run a source's extra step; a bug there costs its series only."""
        out = Output(MetricSet(base_labels=ms.base_labels))
        try:
            step(out) if request is None else step(request, out)
        except Exception:
            log.exception("gateway %s: a source step failed (a bug: please report it)", self.name)
            return
        ms.merge(out.ms)

    def _log_changes(self, answered: bool, errors: list[FetchError]) -> None:
        """Say when the gateway's health changes, once, instead of on every scrape."""
        failing = tuple(sorted({e.reason for e in errors}))
        with self._lock:
            before, self._failing = self._failing, failing
            was_up = self.status.up
        if failing == before and answered == was_up:
            return
        if not errors:
            if before or was_up is False:
                log.info("gateway %s: every endpoint answers again", self.name)
            return
        level = logging.ERROR if "tls_pin_mismatch" in failing or "bad_credentials" in failing else logging.WARNING
        log.log(
            level,
            "gateway %s: %s; %d endpoint(s) failing (%s): %s",
            self.name,
            "up" if answered else "DOWN",
            len(errors),
            ", ".join(failing),
            errors[0],
        )


def _transport_metrics(stats: TransportStats, ms: MetricSet, labels: Iterable[str] = ()) -> None:
    """Cumulative request/login/error counters and the cooldown gauge of one gateway.

    ``code`` carries HTTP status codes only: a request the gateway answered is
    ``outcome="answered", code="<status>"``, one that got no answer ``outcome="<reason>", code=""``.
    The error counter starts at 0 for every request label of this scrape (``labels``) and every
    reason, so ``increase()`` sees the first failure instead of a series that appears at 1.
    """
    for (label, code), n in sorted(stats.requests.items()):
        answered = code.isdigit()
        outcome = "answered" if answered else code
        ms.add(REQUESTS_TOTAL, n, {"endpoint": label, "outcome": outcome, "code": code if answered else ""})
    for result, n in stats.logins.items():
        ms.add(LOGIN_ATTEMPTS, n, {"result": result})
    errors = {(label, reason): 0 for label in sorted(set(labels)) for reason in sorted(REASONS)}
    errors.update(stats.errors)
    for (label, reason), n in sorted(errors.items()):
        ms.add(ERRORS_TOTAL, n, {"endpoint": label, "reason": reason})
    ms.add(COOLDOWN, stats.cooldown_seconds)


def _mark_done(finished: dict[str, float], name: str, _future: Future[Result]) -> None:
    finished[name] = time.monotonic()


class PowerwallCollector(Collector):
    """A ``prometheus_client`` collector over all configured gateways."""

    def __init__(self, config: Config, transports: Sequence[GatewayTransport] | None = None) -> None:
        self.config = config
        store = SessionStore(config.state_file) if config.state_file else None
        transports = transports or [GatewayTransport(g, ALLOW_LIST, store) for g in config.gateways]
        # max_concurrent_requests bounds the whole exporter; each gateway gets its share, at most one
        # worker per request (single flight means no request ever needs two).
        share = max(1, min(MAX_WORKERS_PER_GATEWAY, config.max_concurrent_requests // max(1, len(transports))))
        self.scrapers = {t.cfg.name: GatewayScraper(t, share) for t in transports}

    def describe(self) -> Iterable[PromMetric]:
        # Declaring no fixed families keeps registration free of gateway I/O (no auto-describe call).
        return []

    def collect(self) -> Iterator[PromMetric]:
        yield from self.scrape().families()

    def scrape(self, names: Iterable[str] | None = None, timeout: float | None = None) -> MetricSet:
        """Collect the named gateways (all by default) within ``timeout`` seconds."""
        start = time.monotonic()
        selected = [self.scrapers[n] for n in names] if names is not None else list(self.scrapers.values())
        jobs: dict[str, list[Job]] = {}
        finished: dict[str, float] = {}
        deadlines: dict[str, float] = {}
        for s in selected:
            budget = s.cfg.timeout_seconds
            if timeout is not None:
                budget = min(budget, max(0.1, timeout - DEFAULT_TIMEOUT_MARGIN))
            deadlines[s.name] = start + budget
            jobs[s.name] = s.start(deadlines[s.name], partial(_mark_done, finished, s.name))
        out = MetricSet()
        out.add(BUILD_INFO, 1, {"version": __version__})
        for s in selected:
            futures = [f for _, _, f in jobs[s.name]]
            wait(futures, timeout=max(0.0, deadlines[s.name] - time.monotonic()))
            results: list[tuple[Source, Request, Result]] = []
            for source, request, future in jobs[s.name]:
                if future.done():
                    results.append((source, request, future.result()))
                else:
                    late = FetchError("timeout", f"{request.label}: no answer before the scrape deadline")
                    s.transport.note_error(request.label, "timeout")
                    results.append((source, request, late))
            all_done = all(f.done() for f in futures)
            end = finished.get(s.name, time.monotonic()) if all_done else time.monotonic()
            out.merge(s.build(results, max(0.0, end - start)))
        return out

    def close(self) -> None:
        """Stop at once: requests in flight are abandoned (their daemon workers never delay exit)."""
        for s in self.scrapers.values():
            s.pool.close()
            s.transport.close()
