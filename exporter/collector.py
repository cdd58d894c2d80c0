"""Scrape-time collection: every source of every gateway concurrently, decode, map, guard, report.

Nothing is polled in the background: a scrape asks each gateway's sources for their requests,
starts them all (shared between concurrent scrapers by the transport), waits at most until the
scrape deadline, and reports per request what worked, the same way for every source. A failed
request's series are simply absent in that scrape — never a previous value. The collector names no
particular endpoint or source: what a request means is its source's business.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from prometheus_client.core import Metric as PromMetric
from prometheus_client.registry import Collector

from exporter import __version__
from exporter.accounting.site import SiteAccounting
from exporter.config import Config, GatewayConfig
from exporter.devices.bounds import DeviceBudget, DeviceDrops, bound_gateway
from exporter.gateway.outcomes import REASONS, Fetched, FetchError, Result
from exporter.gateway.request import Request
from exporter.gateway.sessions import SessionStore
from exporter.gateway.transport import GatewayTransport, TransportStats
from exporter.metrics.counters import CounterGuard
from exporter.metrics.metricset import MetricSet, counter, gauge, info
from exporter.scrapejobs import ScrapeJobs
from exporter.sources.base import Output, Source
from exporter.sources.peranswer import PerAnswer
from exporter.sources.registry import ALL_REQUESTS, ALLOW_LIST, sources_for
from exporter.workers import WorkerPool

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
RELOAD_OK = gauge(
    "powerwall_exporter_config_last_reload_successful",
    "1 when the last configuration load (start-up, SIGHUP or POST /-/reload) was applied, 0 when it was refused.",
)
RELOAD_TIME = gauge(
    "powerwall_exporter_config_last_reload_success_timestamp_seconds",
    "Unix time of the last successful configuration load, the start-up load included.",
)

DEFAULT_TIMEOUT_MARGIN = 0.5
# Single flight: no request ever needs two workers; TEDAPI's chain adds a few more per scrape.
MAX_WORKERS_PER_GATEWAY = len(ALL_REQUESTS) + 6


@dataclass(slots=True)
class GatewayStatus:
    """What the landing page shows about a gateway's last scrape."""

    up: bool | None = None
    at: float | None = None  # wall-clock time
    duration: float | None = None
    error: str | None = None
    series: int = 0
    # The set this scrape built, so the landing page shows its numbers without asking the gateway.
    metrics: MetricSet | None = field(default=None, repr=False, compare=False)


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
        for source in self.sources:
            for auth, connections in source.auths():
                transport.add_auth(auth, connections)
        self.pool = WorkerPool(max_workers, f"gw-{self.name}"[:15])
        self.guard = CounterGuard(self.name)
        self.device_drops = DeviceDrops(self.name)
        self.accounting = SiteAccounting(self.cfg)  # flows, tariff cost, outages, battery dates
        self.status = GatewayStatus()
        self.tls_digest = tls_digest(self.cfg)
        self._failing: tuple[str, ...] = ()  # failure reasons of the last scrape, to log changes once
        # Each answer decoded and mapped once, shared by every scrape handed it (read-only).
        self._outputs: PerAnswer[Output] = PerAnswer()
        self._undecodable: set[str] = set()  # request labels whose answers do not decode, to log once
        self._lock = threading.Lock()
        self._users = 0  # scrapes using this gateway now
        self._retired = False

    def acquire(self) -> None:
        """A scrape starts using this gateway; a reload that drops it closes it only after release."""
        with self._lock:
            self._users += 1

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            close = self._retired and self._users == 0
        if close:
            self._close()

    def retire(self) -> None:
        """Close now, or when the last scrape still using this gateway has finished with it.

        Closing at once would drop a running scrape's queued requests and cut its connections, so it
        would report the gateway down although only the configuration changed.
        """
        with self._lock:
            self._retired = True
            close = self._users == 0
        if close:
            self._close()

    def _close(self) -> None:
        self.pool.close()
        self.transport.close()

    def start(self, deadline: float) -> ScrapeJobs:
        """Start every request of every source for this scrape (follow-ups start as answers arrive)."""
        jobs = ScrapeJobs(self.transport, self.pool.submit, self.name, deadline)
        # Every source chooses from the state at the scrape's start, before any request runs: a
        # fast answer (vitals' 404) must not change what a later source asks in the same scrape.
        planned = [(source, request) for source in self.sources for request in source.requests(self.transport)]
        for source, request in planned:
            jobs.add(source, request)
        jobs.started()
        return jobs

    def build(self, results: Sequence[tuple[Source, Request, Result]], duration: float) -> MetricSet:
        ms = MetricSet(base_labels={"gateway": self.name})
        answered = False
        decoded: dict[str, Any] = {}
        errors: list[FetchError] = []
        outcomes: list[tuple[str, FetchError | None]] = []
        budgets: list[DeviceBudget] = []  # each merged output's devices, in order (exporter.devices.bounds)
        for source, request, result in results:
            label = request.label
            # Only contact in this scrape counts (a cached "not supported" carries no status).
            if isinstance(result, Fetched) or result.answered:
                answered = True
            if isinstance(result, Fetched):
                ms.add(ENDPOINT_DURATION, result.duration, {"endpoint": label})
                error = self._collect(source, request, result, ms, decoded, budgets)
            elif request.optional and result.reason == "not_supported":
                self._guarded(source.not_supported, request, ms, budgets)
                continue  # not a failure: this firmware has no such endpoint
            else:
                error = result
            if error is not None:
                errors.append(error)
            outcomes.append((label, error))
            ms.add(ENDPOINT_SUCCESS, 0 if error else 1, {"endpoint": label})
        for source in self.sources:
            self._guarded(partial(source.finish, decoded), None, ms, budgets)
        devices = bound_gateway(budgets, ms)  # before anything reads the device series
        ms.add(UP, 1 if answered else 0)
        ms.add(SCRAPE_DURATION, duration)
        self.guard.apply(ms)
        self.accounting.observe(ms, decoded)  # reads the raw decoded JSON, adds its own series
        self.guard.metrics(ms)
        self.device_drops.record(devices, ms)  # the exporter's own counter: after the gateway counters' guard
        for source in self.sources:
            try:
                source.health(ms)
            except Exception:
                log.exception("gateway %s: a source's health series failed (a bug: please report it)", self.name)
        _transport_metrics(self.transport.stats(), ms, (request.label for _, request, _ in results))
        self._log_undecodable(outcomes)
        self._log_changes(answered, [e for e in errors if e.reason != "decode"])
        self.status = GatewayStatus(
            up=answered,
            at=time.time(),
            duration=duration,
            error=str(errors[0]) if errors else None,
            series=len(ms),
            metrics=ms,
        )
        return ms

    def _collect(
        self,
        source: Source,
        request: Request,
        answer: Fetched,
        ms: MetricSet,
        decoded: dict[str, Any],
        budgets: list[DeviceBudget],
    ) -> FetchError | None:
        """Decode and map one answer, all or nothing; any failure of any kind costs this request only.

        Once per answer (:class:`PerAnswer`): a scrape handed an answer another scrape already decoded
        merges that result, and a failure is counted once per answer, not once per scrape reusing it.
        """
        made = self._outputs.get(answer, partial(self._decode, source, request, answer))
        if made.error is not None:
            if made.fresh:
                self.transport.note_error(request.label, made.error.reason)
                # Asked again at the next scrape, not after the request's reuse interval (an hour for
                # the TEDAPI DIN): an answer that does not decode is a failure like any other.
                self.transport.discard(request, answer)
            return made.error
        assert made.value is not None
        ms.merge(made.value.ms)
        budgets.append(made.value.devices)
        decoded.update(made.value.decoded)  # the objects are shared: every reader treats them as read-only
        return None

    def _decode(self, source: Source, request: Request, answer: Fetched) -> Output:
        out = Output(MetricSet(base_labels={"gateway": self.name}))
        try:
            source.collect(request, answer, out)
        except FetchError:
            raise
        except Exception as exc:  # a decoder or mapping bug must cost this request, not the scrape
            log.exception("gateway %s: decoding %s failed (a bug: please report it)", self.name, request.label)
            raise FetchError(
                "decode", f"{request.label}: did not decode ({exc.__class__.__name__})", answer.status
            ) from None
        return out

    def _guarded(self, step: Any, request: Request | None, ms: MetricSet, budgets: list[DeviceBudget]) -> None:
        """Run a source's extra step; a bug there costs its series only."""
        out = Output(MetricSet(base_labels=ms.base_labels))
        try:
            step(out) if request is None else step(request, out)
        except Exception:
            log.exception("gateway %s: a source step failed (a bug: please report it)", self.name)
            return
        ms.merge(out.ms)
        budgets.append(out.devices)

    def _log_undecodable(self, outcomes: list[tuple[str, FetchError | None]]) -> None:
        """One line when a request's answers stop decoding and one when it answers usable data again.

        An episode is the run of failures of that request until it succeeds, however many scrapes
        and answers it lasts. No traceback: an answer that does not decode is the gateway's doing,
        not a bug of ours (a bug inside a decoder is logged with its traceback where it happens).
        Decode failures are left out of :meth:`_log_changes`, so the start is said once, here.
        """
        for label, error in outcomes:
            failing = error is not None and error.reason == "decode"
            with self._lock:
                known = label in self._undecodable
                if failing and not known:
                    self._undecodable.add(label)
                elif error is None and known:
                    self._undecodable.discard(label)
                else:
                    continue
            if failing:
                log.warning("gateway %s: %s does not decode: %s", self.name, label, error)
            else:
                log.info("gateway %s: %s answers usable data again", self.name, label)

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


def tls_digest(cfg: GatewayConfig) -> str | None:
    """A digest of the pinned CA file's contents, or None without one (or when it cannot be read).

    The config holds the file's path only, so a certificate replaced under the same name compares
    equal; a reload compares this too, so re-pinning a gateway takes effect without a restart.
    """
    if cfg.tls.ca_file is None:
        return None
    try:
        return hashlib.sha256(cfg.tls.ca_file.read_bytes()).hexdigest()
    except OSError:
        return None


def _worker_share(config: Config, gateways: int) -> int:
    """Each gateway's worker bound: max_concurrent_requests bounds the whole exporter, split evenly,
    at most one worker per request (single flight means no request ever needs two)."""
    return max(1, min(MAX_WORKERS_PER_GATEWAY, config.max_concurrent_requests // max(1, gateways)))


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

    def __init__(self, config: Config, transports: Sequence[GatewayTransport] | None = None) -> None:
        self.config = config
        self._store = SessionStore(config.state_file) if config.state_file else None
        transports = transports or [GatewayTransport(g, ALLOW_LIST, self._store) for g in config.gateways]
        share = _worker_share(config, len(transports))
        self.scrapers: dict[str, GatewayScraper] = {t.cfg.name: GatewayScraper(t, share) for t in transports}
        self._lock = threading.Lock()  # guards the swap of scrapers/config and the reload state
        self._apply_lock = threading.Lock()  # one apply at a time
        self.reload_successful = True
        self.reload_success_time = time.time()  # the start-up load counts as the first successful one

    def apply(self, config: Config) -> ApplySummary:
        """Switch to ``config``, keeping every unchanged gateway's scraper (session, caches, counter
        guard, accounting) as it is.

        A gateway is unchanged when its :class:`GatewayConfig` is equal and its pinned CA file has the
        same contents. Changed gateways get a new scraper and removed ones are closed, each once no
        scrape uses it any more. Top-level settings: a changed ``state_file`` opens the new file and
        replaces every gateway (each transport holds the store it saves its sessions to); a changed
        ``max_concurrent_requests`` (or gateway count) resizes the kept gateways' worker pools in place.
        """
        with self._apply_lock:
            old = self.scrapers
            store_changed = config.state_file != self.config.state_file
            store = (SessionStore(config.state_file) if config.state_file else None) if store_changed else self._store
            share = _worker_share(config, len(config.gateways))
            new: dict[str, GatewayScraper] = {}
            kept: list[str] = []
            try:
                for g in config.gateways:
                    s = old.get(g.name)
                    if s is not None and not store_changed and s.cfg == g and s.tls_digest == tls_digest(g):
                        new[g.name] = s
                        kept.append(g.name)
                    else:
                        new[g.name] = GatewayScraper(GatewayTransport(g, ALLOW_LIST, store), share)
            except BaseException:
                for s in new.values():
                    if s.name not in kept:
                        s.retire()
                raise
            for name in kept:
                new[name].pool.resize(share)
            with self._lock:
                self.scrapers = new
                self.config = config
                self._store = store
                self.reload_successful = True
                self.reload_success_time = time.time()
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
        start = time.monotonic()
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
            end = finished_at if all_done and finished_at is not None else time.monotonic()
            out.merge(s.build(results, max(0.0, end - start)))
        return out

    def close(self) -> None:
        """Stop at once: requests in flight are abandoned (their daemon workers never delay exit)."""
        for s in self.scrapers.values():
            s._close()
