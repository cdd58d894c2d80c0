"""One gateway's scraper: its transport, sources, worker pool, counter guard and accounting, from the
start of a scrape's requests to the metric set they make, and the gateway's lifecycle across reloads.

Nothing is polled in the background: a scrape asks each source for its requests, starts them all
(shared between concurrent scrapers by the transport), and reports per request what worked, the same
way for every source. A failed request's series are simply absent in that scrape, never a previous
value. The scraper names no particular endpoint or source: what a request means is its source's business.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from exporter.accounting.site import SiteAccounting
from exporter.clock import SYSTEM_CLOCK, Clock
from exporter.config import GatewayConfig
from exporter.devices.bounds import DeviceDrops, bound_gateway
from exporter.devices.reports import DeviceReport, merge_reports
from exporter.gateway.outcomes import Fetched, FetchError, Result
from exporter.gateway.request import Request
from exporter.gateway.transport import GatewayTransport
from exporter.metrics.counters import CounterGuard
from exporter.metrics.metricset import MetricSet
from exporter.metrics.naming import mapped_again
from exporter.scrape.jobs import ScrapeJobs
from exporter.scrape.selfmetrics import ENDPOINT_DURATION, ENDPOINT_SUCCESS, SCRAPE_DURATION, UP, transport_metrics
from exporter.scrape.workers import Lane, WorkerPool
from exporter.site.merge import SiteMerge
from exporter.site.shapes import Shape
from exporter.sources.base import Output, Source
from exporter.sources.peranswer import PerAnswer
from exporter.sources.registry import ALL_REQUESTS, ASKED_ONLY_WITHOUT, DEVICE_PRECEDENCE, SITE_PRECEDENCE, sources_for

log = logging.getLogger(__name__)

# Single flight: no request ever needs two workers; TEDAPI's chain adds a few more per scrape.
MAX_WORKERS_PER_GATEWAY = len(ALL_REQUESTS) + 6


# The families of a scrape the landing page shows (exporter.web.gateway_card): all a gateway's status
# keeps of its last scrape, since a whole metric set per gateway was most of a large fleet's memory.
STATUS_FAMILIES = (
    "powerwall_battery_charge_app_ratio",
    "powerwall_grid_status_info",
    "powerwall_grid_connected",
    "powerwall_operation_info",
    "powerwall_meter_power_watts",
)


@dataclass(slots=True)
class GatewayStatus:
    """What the landing page shows about a gateway's last scrape."""

    up: bool | None = None
    at: float | None = None  # wall-clock time
    duration: float | None = None
    error: str | None = None
    series: int = 0
    # The families of this scrape the landing page shows (STATUS_FAMILIES), without asking the gateway.
    metrics: MetricSet | None = field(default=None, repr=False, compare=False)


class GatewayScraper:
    """One gateway: its transport, sources, lane of the shared worker pool, counter guard and accounting.

    The lane caps the gateway's requests running at once, so a gateway stuck until its timeout can
    only ever occupy its own share of the pool: with a plain shared pool, overlapping scrapes of a
    hung gateway filled it and healthy gateways were reported down. Without a ``pool`` (tests, tools)
    the gateway gets a pool of its own.
    """

    def __init__(
        self,
        transport: GatewayTransport,
        max_workers: int = MAX_WORKERS_PER_GATEWAY,
        clock: Clock = SYSTEM_CLOCK,
        pool: WorkerPool | None = None,
    ) -> None:
        self.transport = transport
        self.clock = clock
        self.cfg: GatewayConfig = transport.cfg
        self.name = self.cfg.name
        self.sources = sources_for(self.cfg)
        for source in self.sources:
            for auth, connections in source.auths():
                transport.add_auth(auth, connections)
        self._own_pool = pool is None
        shared = pool if pool is not None else WorkerPool(max_workers, f"gw-{self.name}"[:15])
        self.pool = Lane(shared, max_workers, self.name)
        self.guard = CounterGuard(self.name)
        self.device_drops = DeviceDrops(self.name)
        # Flows, tariff cost, outages, battery dates; and which source's site answers are shown and read.
        self.accounting = SiteAccounting(self.cfg, self.clock.wall)
        self.site = SiteMerge(SITE_PRECEDENCE)
        self.status = GatewayStatus()
        self.tls_digest = tls_digest(self.cfg)
        self._failing: tuple[str, ...] = ()  # failure reasons of the last scrape, to log changes once
        # Each answer decoded and mapped once, shared by the scrapes using it at the same time
        # (read-only), and dropped when the last of them has built its set (see PerAnswer's keep).
        self._outputs: PerAnswer[Output] = PerAnswer(keep=False)
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
        if self._own_pool:
            self.pool.pool.close()
        self.transport.close()

    def start(self, deadline: float) -> ScrapeJobs:
        """Start every request of every source for this scrape (follow-ups start as answers arrive)."""
        jobs = ScrapeJobs(self.transport, self.pool.submit, self.name, deadline, self.clock.monotonic)
        # Every source chooses from the state at the scrape's start, before any request runs: a
        # fast answer (vitals' 404) must not change what a later source asks in the same scrape.
        asked = [source for source in self.sources if not self._yields(source)]
        planned = [(source, request) for source in asked for request in source.requests(self.transport)]
        jobs.add_many(planned)
        jobs.started()
        return jobs

    def _yields(self, source: Source) -> bool:
        """Whether ``source`` is not asked this scrape: the source it yields to (``ASKED_ONLY_WITHOUT``)
        serves this gateway, as far as the transport knows."""
        wanted = ASKED_ONLY_WITHOUT.get(source.name)
        if wanted is None:
            return False
        other = next((s for s in self.sources if s.name == wanted), None)
        if other is None:
            return True  # nothing says the other is not served: stay quiet, as before it is known
        return not all(self.transport.not_supported(r) for r in other.requests(self.transport))

    def build(self, results: Sequence[tuple[Source, Request, Result]], duration: float, begun: float) -> MetricSet:
        """This scrape's metric set from its results; ``begun``: when the scrape began, on the
        transport's clock, to tell this scrape's contact from reused answers."""
        ms = MetricSet(base_labels={"gateway": self.name})
        got = _Handover()
        errors: list[FetchError] = []
        outcomes: list[tuple[str, FetchError | None]] = []
        # Contact in this scrape: an answer no older at the scrape's start than the gateway's reuse
        # interval, or a failure with an HTTP status. An answer reused for longer (TEDAPI's DIN and
        # firmware for an hour, its config and the site info for 10 min) says nothing about the
        # gateway now unless this scrape read it: counted as contact, a Powerwall 3 that stopped
        # answering stayed up for an hour, and a gateway that stopped just after its site info was
        # read stayed up for the gateway's reuse interval. A cached "not supported" carries no status.
        fresh_since = begun - self.cfg.min_interval_seconds - 1.0
        answered = any(
            result.answered
            if isinstance(result, FetchError)
            else result.at >= (fresh_since if self._reused_briefly(request) else begun)
            for _, request, result in results
        )
        # The answers whose decoded output this scrape got, released when the set is built. A bug that
        # skips the release only keeps an output as long as its answer, as a memo that keeps does.
        used: list[Fetched] = []
        for source, request, result in results:
            label = request.label
            if isinstance(result, Fetched) and not answered:
                # Reused from an earlier scrape, and the gateway answers nothing now: not shown as live.
                ms.add(ENDPOINT_SUCCESS, 0, {"endpoint": label})
                continue
            if isinstance(result, Fetched):
                ms.add(ENDPOINT_DURATION, result.duration, {"endpoint": label})
                used.append(result)
                error = self._collect(source, request, result, ms, got)
            elif request.optional and result.reason == "not_supported":
                self._guarded(source, partial(source.not_supported, request), ms, got)
                continue  # not a failure: this firmware has no such endpoint
            else:
                error = result
            if error is not None:
                errors.append(error)
            outcomes.append((label, error))
            ms.add(ENDPOINT_SUCCESS, 0 if error else 1, {"endpoint": label})
        for source in self.sources:
            self._guarded(source, partial(source.finish, got.own.get(source.name, {})), ms, got)
        # One precedence for all sources, after every answer: the site's shapes, then the devices.
        try:
            site = self.site.merge(got.offers, ms)
        except Exception:  # a mapping bug costs the site series, not the scrape
            log.exception("gateway %s: the site merge failed (a bug: please report it)", self.name)
            site = {}
        budgets = merge_reports(got.reports, DEVICE_PRECEDENCE, ms)
        devices = bound_gateway(budgets, ms)  # before anything reads the device series
        ms.add(UP, 1 if answered else 0)
        ms.add(SCRAPE_DURATION, duration)
        self.guard.apply(ms)
        self.accounting.observe(ms, site)  # reads the chosen site answers as decoded, adds its own series
        self.guard.metrics(ms)
        self.device_drops.record(devices, ms)  # the exporter's own counter: after the gateway counters' guard
        for source in self.sources:
            try:
                source.health(ms)
            except Exception:
                log.exception("gateway %s: a source's health series failed (a bug: please report it)", self.name)
        transport_metrics(self.transport.stats(), ms, (request.label for _, request, _ in results))
        self._log_undecodable(outcomes)
        self._log_changes(answered, [e for e in errors if e.reason != "decode"])
        self.status = GatewayStatus(
            up=answered,
            at=self.clock.wall(),
            duration=duration,
            error=str(errors[0]) if errors else None,
            series=len(ms),
            metrics=ms.subset(STATUS_FAMILIES),
        )
        for answer in used:
            self._outputs.release(answer)
        return ms

    def _reused_briefly(self, request: Request) -> bool:
        """Whether ``request``'s answers are reused no longer than the gateway's own interval (so one
        a scraper beside us read just now still says the gateway answers)."""
        interval = request.min_interval_seconds
        return request.reuse_for is None and (interval is None or interval <= self.cfg.min_interval_seconds)

    def _collect(
        self, source: Source, request: Request, answer: Fetched, ms: MetricSet, got: _Handover
    ) -> FetchError | None:
        """Decode and map one answer, all or nothing; any failure of any kind costs this request only.

        Once per answer (:class:`PerAnswer`): a scrape handed an answer another scrape already decoded
        merges that result, and a failure is counted once per answer, not once per scrape reusing it.
        """
        made = self._outputs.get(
            answer, partial(self._decode, source, request, answer), partial(self._decode_again, source, request, answer)
        )
        if made.error is not None:
            if made.fresh:
                self.transport.note_error(request.label, made.error.reason)
                # Asked again at the next scrape, not after the request's reuse interval (an hour for
                # the TEDAPI DIN): an answer that does not decode is a failure like any other.
                self.transport.discard(request, answer)
            return made.error
        assert made.value is not None
        got.take(source.name, made.value, ms)  # the objects are shared: every reader treats them as read-only
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

    def _decode_again(self, source: Source, request: Request, answer: Fetched) -> Output:
        """:meth:`_decode` of an answer whose series an earlier scrape made and dropped (PerAnswer's
        keep): what the mapping counts per answer was counted then."""
        with mapped_again():
            return self._decode(source, request, answer)

    def _guarded(self, source: Source, step: Callable[[Output], None], ms: MetricSet, got: _Handover) -> None:
        """Run a source's extra step; a bug there costs its series only."""
        out = Output(MetricSet(base_labels=ms.base_labels))
        try:
            step(out)
        except Exception:
            log.exception("gateway %s: a source step failed (a bug: please report it)", self.name)
            return
        got.take(source.name, out, ms)

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


@dataclass(slots=True)
class _Handover:
    """What one scrape's answers hand over, by source: series go straight into the scrape's set;
    site shapes and device reports wait for the merges; ``own`` is each source's private ``decoded``."""

    own: dict[str, dict[str, Any]] = field(default_factory=dict)
    offers: list[tuple[str, Mapping[Shape, Any], bool]] = field(default_factory=list)
    reports: dict[str, list[DeviceReport]] = field(default_factory=dict)

    def take(self, source: str, out: Output, ms: MetricSet) -> None:
        ms.merge(out.ms)
        if out.decoded:
            self.own.setdefault(source, {}).update(out.decoded)
        if out.site:
            self.offers.append((source, out.site, out.site_mapped))
        if out.reports:
            self.reports.setdefault(source, []).extend(out.reports)
