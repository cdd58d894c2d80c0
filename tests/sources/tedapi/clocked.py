"""Scrapes on an injected clock: the collector's own parts, with "when" in the test's hands.

A :class:`GatewayScraper` over a transport with an injected clock; a scrape runs its requests in the
test thread (the collector's :class:`ScrapeJobs` with an inline runner), follow-ups included. The
clock stands still during a scrape, so each request gets the whole budget of real socket time: the
only real wait is a request that gets no answer (a hanging access point), for ``budget`` seconds.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from exporter.config import GatewayConfig
from exporter.gateway.transport import GatewayTransport
from exporter.metrics.metricset import MetricSet
from exporter.scrape.gateway import GatewayScraper
from exporter.scrape.jobs import ScrapeJobs
from exporter.sources.registry import ALLOW_LIST
from tests.clocks import ManualClock

# The suite's one manual clock, under the name these tests have always used.
Clock = ManualClock


def clocked_scraper(cfg: GatewayConfig, clock: Clock, *, tedapi_only: bool = False) -> GatewayScraper:
    """The gateway's scraper on ``clock`` (seeded jitter); ``tedapi_only``: TEDAPI's chain and nothing else."""
    scraper = GatewayScraper(GatewayTransport(cfg, ALLOW_LIST, clock=clock, rng=random.Random(17)))
    if tedapi_only:
        scraper.sources = [s for s in scraper.sources if s.name == "tedapi"]
    return scraper


def _inline(job: Callable[[], None]) -> None:
    job()


def scrape(scraper: GatewayScraper, clock: Clock, budget: float = 2.0) -> MetricSet:
    """One scrape at the clock's time, the collector's way (follow-ups start as answers arrive)."""
    jobs = ScrapeJobs(scraper.transport, _inline, scraper.name, clock() + budget)
    for source in scraper.sources:
        for request in source.requests(scraper.transport):
            jobs.add(source, request)
    jobs.started()  # inline: every request and follow-up is done by now
    results = [(s, r, scraper.transport.settle(r, f)) for s, r, f in jobs.jobs]
    return scraper.build(results, 0.0, jobs.begun)
