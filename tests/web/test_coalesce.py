"""Concurrent identical scrapes share one scrape and one page (exporter/web/coalesce.py).

Why: a large site's page is megabytes; eight scrapers at once held eight copies, so the exporter's
peak memory grew with its number of scrapers. These tests pin the sharing (and that it never turns
into a cache) without timing: the shared scrape is held until every follower has joined.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from exporter.config import Config
from exporter.scrape.collector import PowerwallCollector
from exporter.simulator import SimulatedGateway, SiteModel
from exporter.web.coalesce import Coalescer
from exporter.web.server import ExporterApp, ExporterServer
from tests.scrape import get
from tests.simtime import SIM_START
from tests.support.polling import wait_for
from tests.support.wiring import SIM_PASSWORD, gateway_config

SCRAPERS = 8


def test_callers_that_overlap_share_one_run_and_later_ones_run_anew() -> None:
    c: Coalescer[str, object] = Coalescer()
    release = threading.Event()
    runs: list[object] = []

    def make() -> object:
        release.wait(30)
        runs.append(object())
        return runs[-1]

    with ThreadPoolExecutor(SCRAPERS) as pool:
        futures = [pool.submit(c.run, "k", make) for _ in range(SCRAPERS)]
        wait_for("every caller to join the first", lambda: c.shared == SCRAPERS - 1 or None, timeout=30)
        release.set()
        results = [f.result(timeout=30) for f in futures]
    assert len(runs) == 1 and all(r is runs[0] for r in results)
    assert c.run("k", make) is not runs[0] and len(runs) == 2  # finished: nothing is reused
    assert c.run("other", make) is runs[2]


def test_an_exception_reaches_every_caller_of_the_run() -> None:
    c: Coalescer[str, int] = Coalescer()
    release = threading.Event()

    def make() -> int:
        release.wait(30)
        raise RuntimeError("boom")

    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(c.run, "k", make) for _ in range(3)]
        wait_for("both followers to join", lambda: c.shared == 2 or None, timeout=30)
        release.set()
        for f in futures:
            with pytest.raises(RuntimeError, match="boom"):
                f.result(timeout=30)
    assert c.run("k", lambda: 7) == 7


@pytest.fixture
def slow_site() -> Iterator[tuple[SimulatedGateway, ExporterApp, ExporterServer]]:
    gw = SimulatedGateway(password=SIM_PASSWORD, model=SiteModel(start_time=SIM_START, seed=3, powerwalls=2)).start()
    collector = PowerwallCollector(
        Config(gateways=(gateway_config(gw, "slow", timeout_seconds=15.0),), state_file=None)
    )
    app = ExporterApp(collector)
    server = ExporterServer(app, "127.0.0.1:0")
    server.start()
    try:
        yield gw, app, server
    finally:
        server.stop()
        collector.close()
        gw.stop()


def test_eight_concurrent_probes_of_one_gateway_cost_one_scrape(
    slow_site: tuple[SimulatedGateway, ExporterApp, ExporterServer],
) -> None:
    gw, app, server = slow_site
    # Every gateway answer waits longer than the scrape may last: the first scrape is in flight until
    # its deadline, and the others arrive while it is (the wait below is on that, not on time).
    gw.faults.delay_seconds = 30.0
    scrape_timeout = 10.0
    with ThreadPoolExecutor(SCRAPERS) as pool:
        futures = [
            pool.submit(get, server.port, "/probe?target=slow", scrape_timeout, timeout=60) for _ in range(SCRAPERS)
        ]
        wait_for("the other probes to join the first", lambda: app.scrapes.shared == SCRAPERS - 1 or None, timeout=30)
        replies = [f.result(timeout=60) for f in futures]
    assert {r.status for r in replies} == {200}
    assert len({r.body for r in replies}) == 1  # one page, byte for byte
    assert b'powerwall_up{gateway="slow"} 0' in replies[0].body


def test_overlapping_probes_with_another_timeout_or_format_are_not_shared(
    slow_site: tuple[SimulatedGateway, ExporterApp, ExporterServer],
) -> None:
    gw, app, server = slow_site
    gw.faults.delay_seconds = 30.0
    openmetrics = {"Accept": "application/openmetrics-text; version=1.0.0"}
    with ThreadPoolExecutor(3) as pool:
        futures = [
            pool.submit(get, server.port, "/probe?target=slow", 10.0, timeout=60),
            pool.submit(get, server.port, "/probe?target=slow", 10.5, timeout=60),
            pool.submit(get, server.port, "/probe?target=slow", 10.0, openmetrics, timeout=60),
        ]
        wait_for("three scrapes in flight at once", lambda: app.scrapes.in_flight == 3 or None, timeout=30)
        replies = [f.result(timeout=60) for f in futures]
    assert {r.status for r in replies} == {200} and app.scrapes.shared == 0
