"""Scrape-time collection: fetch every endpoint of every gateway concurrently, map, guard, report.

Nothing is polled in the background: a scrape triggers the fetches (shared between concurrent
scrapers by the client), waits at most until the scrape deadline, and reports per endpoint what
worked. A failed endpoint's series are simply absent in that scrape — never a previous value.
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
from exporter.config import Config
from exporter.devices.flatten import flatten_solar_powerwall, flatten_vitals
from exporter.gateway import endpoints as ep
from exporter.gateway.client import Fetched, FetchError, GatewayClient, Result
from exporter.gateway.sessions import SessionStore
from exporter.gateway.workers import WorkerPool
from exporter.metrics.counters import CounterGuard
from exporter.metrics.metricset import MetricSet, counter, gauge, info
from exporter.sources.json_api import tables as mapping
from exporter.sources.vitals.decode import VitalsDecodeError, decode_vitals

log = logging.getLogger(__name__)

UP = gauge("powerwall_up", "1 when the gateway answered and login worked in this scrape, else 0.")
ENDPOINT_SUCCESS = gauge("powerwall_scrape_endpoint_success", "1 when the endpoint delivered usable data.")
ENDPOINT_DURATION = gauge("powerwall_scrape_endpoint_duration_seconds", "Gateway request time per endpoint.")
SCRAPE_DURATION = gauge("powerwall_scrape_duration_seconds", "Time to collect this gateway.")
VITALS_SUPPORTED = gauge("powerwall_vitals_supported", "1 when the firmware serves /api/devices/vitals.")
VITALS_DECODE_ERRORS = counter("powerwall_vitals_decode_errors_total", "Vitals payloads that failed to decode.")
BUILD_INFO = info("powerwall_exporter_build_info", "Version of powerwall-exporter.")

DEFAULT_TIMEOUT_MARGIN = 0.5


@dataclass(slots=True)
class GatewayStatus:
    """What the landing page shows about a gateway's last scrape."""

    up: bool | None = None
    at: float | None = None  # wall-clock time
    duration: float | None = None
    error: str | None = None
    series: int = 0


class GatewayScraper:
    """One gateway: its client, its own worker pool, counter guard and identity memory.

    The pool is per gateway so that a gateway stuck until its timeout can only ever occupy its own
    workers: with one shared pool, overlapping scrapes of a hung gateway filled it and healthy
    gateways were reported down.
    """

    def __init__(self, client: GatewayClient, max_workers: int | None = None) -> None:
        self.client = client
        self.name = client.cfg.name
        self.pool = WorkerPool(max_workers or len(ep.SCRAPE_ENDPOINTS), f"gw-{self.name}"[:15])
        self.guard = CounterGuard(self.name)
        self.status = GatewayStatus()
        self._vitals_errors = 0
        self._failing: tuple[str, ...] = ()  # failure reasons of the last scrape, to log changes once
        self._site_info: Any = None  # last good /api/site_info, for identity labels only
        self._lock = threading.Lock()
        self.energy = SiteAccounting(client.cfg)  # issue 11: flows, tariff cost, outages, battery dates

    def endpoints(self) -> list[ep.Endpoint]:
        # /api/solar_powerwall only repeats what vitals carries; ask for it only where vitals is gone.
        vitals_gone = self.client.is_not_supported(ep.VITALS.path)
        return [e for e in ep.SCRAPE_ENDPOINTS if e is not ep.SOLAR_POWERWALL or vitals_gone]

    def build(self, results: dict[ep.Endpoint, Result], duration: float) -> MetricSet:
        ms = MetricSet(base_labels={"gateway": self.name})
        answered = False
        data: dict[str, Any] = {}
        errors: list[FetchError] = []
        for endpoint, result in results.items():
            path = endpoint.path
            # Only contact in this scrape counts (a cached "not supported" carries no status).
            if isinstance(result, Fetched) or result.answered:
                answered = True
            if isinstance(result, Fetched):
                ms.add(ENDPOINT_DURATION, result.duration, {"endpoint": path})
                try:
                    error = self._map(endpoint, result, ms, data)
                except Exception as exc:  # any decode failure of any kind costs this endpoint only
                    log.exception("gateway %s: decoding %s failed", self.name, path)
                    self.client.note_error(path, "decode")
                    error = FetchError("decode", f"{path}: did not decode ({exc.__class__.__name__})", result.status)
            elif endpoint.optional and result.reason == "not_supported":
                if endpoint is ep.VITALS:
                    ms.add(VITALS_SUPPORTED, 0)
                continue  # not a failure: this firmware has no such endpoint
            else:
                error = result
            if error is not None:
                errors.append(error)
            ms.add(ENDPOINT_SUCCESS, 0 if error else 1, {"endpoint": path})
        with self._lock:
            if ep.SITE_INFO.path in data:
                self._site_info = data[ep.SITE_INFO.path]
            site_info = self._site_info
        labels = mapping.gateway_info_labels(data.get(ep.STATUS.path), site_info)
        if labels is not None:
            ms.add(mapping.GATEWAY_INFO, 1, labels)
        ms.add(UP, 1 if answered else 0)
        ms.add(SCRAPE_DURATION, duration)
        self.guard.apply(ms)
        self.energy.observe(ms, data)  # issue 11 hook: reads the raw JSON in `data`, adds its own series
        self.guard.metrics(ms)
        with self._lock:
            ms.add(VITALS_DECODE_ERRORS, self._vitals_errors)
        self.client.health_metrics(ms)
        self._log_changes(answered, errors)
        self.status = GatewayStatus(
            up=answered,
            at=time.time(),
            duration=duration,
            error=str(errors[0]) if errors else None,
            series=len(ms),
        )
        return ms

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

    def _map(self, endpoint: ep.Endpoint, result: Fetched, ms: MetricSet, data: dict[str, Any]) -> FetchError | None:
        """Decode and map one answer; a body that does not decode is that endpoint's failure."""
        path = endpoint.path
        if endpoint is ep.VITALS:
            try:
                devices = decode_vitals(result.body)
            except VitalsDecodeError as exc:
                with self._lock:
                    self._vitals_errors += 1
                self.client.note_error(path, "decode")
                return FetchError("decode", f"{path}: protobuf payload did not decode: {exc}", result.status)
            ms.add(VITALS_SUPPORTED, 1)
            flatten_vitals(devices, ms)
            return None
        try:
            obj = result.json()
        except FetchError as exc:
            self.client.note_error(path, exc.reason)
            return exc
        if not isinstance(obj, dict):
            self.client.note_error(path, "decode")
            return FetchError("decode", f"{path}: JSON is a {type(obj).__name__}, not an object", result.status)
        data[path] = obj
        mapper = flatten_solar_powerwall if endpoint is ep.SOLAR_POWERWALL else mapping.JSON_MAPPERS[path]
        partial_set = MetricSet(base_labels={"gateway": self.name})
        try:
            mapper(obj, partial_set)
        except Exception:  # a mapping bug must cost this endpoint, not the scrape
            log.exception("gateway %s: mapping %s failed (a bug: please report it with the payload)", self.name, path)
            self.client.note_error(path, "decode")
            return FetchError("decode", f"{path}: mapping failed", result.status)
        ms.merge(partial_set)
        return None


def _mark_done(finished: dict[str, float], name: str, _future: Future[Result]) -> None:
    finished[name] = time.monotonic()


class PowerwallCollector(Collector):
    """A ``prometheus_client`` collector over all configured gateways."""

    def __init__(self, config: Config, clients: Sequence[GatewayClient] | None = None) -> None:
        self.config = config
        store = SessionStore(config.state_file) if config.state_file else None
        clients = clients or [GatewayClient(g, store) for g in config.gateways]
        # max_concurrent_requests bounds the whole exporter; each gateway gets its share, at most one
        # worker per endpoint (single-flight means no endpoint ever needs two).
        share = max(1, min(len(ep.SCRAPE_ENDPOINTS), config.max_concurrent_requests // max(1, len(clients))))
        self.scrapers = {c.cfg.name: GatewayScraper(c, share) for c in clients}

    def describe(self) -> Iterable[PromMetric]:
        # Declaring no fixed families keeps registration free of gateway I/O (no auto-describe call).
        return []

    def collect(self) -> Iterator[PromMetric]:
        yield from self.scrape().families()

    def scrape(self, names: Iterable[str] | None = None, timeout: float | None = None) -> MetricSet:
        """Collect the named gateways (all by default) within ``timeout`` seconds."""
        start = time.monotonic()
        selected = [self.scrapers[n] for n in names] if names is not None else list(self.scrapers.values())
        jobs: dict[str, dict[ep.Endpoint, Future[Result]]] = {}
        finished: dict[str, float] = {}
        deadlines: dict[str, float] = {}
        for s in selected:
            budget = s.client.cfg.timeout_seconds
            if timeout is not None:
                budget = min(budget, max(0.1, timeout - DEFAULT_TIMEOUT_MARGIN))
            deadline = start + budget
            deadlines[s.name] = deadline
            jobs[s.name] = {}
            for endpoint in s.endpoints():
                fut = s.client.begin(endpoint, deadline, s.pool.submit)
                fut.add_done_callback(partial(_mark_done, finished, s.name))
                jobs[s.name][endpoint] = fut
        out = MetricSet()
        out.add(BUILD_INFO, 1, {"version": __version__})
        for s in selected:
            futures = jobs[s.name]
            wait(list(futures.values()), timeout=max(0.0, deadlines[s.name] - time.monotonic()))
            results: dict[ep.Endpoint, Result] = {}
            for endpoint, fut in futures.items():
                if fut.done():
                    results[endpoint] = fut.result()
                else:
                    results[endpoint] = FetchError("timeout", f"{endpoint.path}: no answer before the scrape deadline")
                    s.client.note_error(endpoint.path, "timeout")
            all_done = all(f.done() for f in futures.values())
            end = finished.get(s.name, time.monotonic()) if all_done else time.monotonic()
            out.merge(s.build(results, max(0.0, end - start)))
        return out

    def close(self) -> None:
        """Stop at once: requests in flight are abandoned (their daemon workers never delay exit)."""
        for s in self.scrapers.values():
            s.pool.close()
            s.client.close()
