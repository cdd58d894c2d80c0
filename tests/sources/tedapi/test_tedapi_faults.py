"""A fragile access point: whatever TEDAPI does, the JSON API and ``powerwall_up`` are untouched,
TEDAPI is left alone as long as it asks, and nothing hangs, crashes or is retried."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporter.metrics.metricset import MetricSet
from exporter.scrape.collector import PowerwallCollector
from exporter.simulator import SiteModel
from tests.clocks import START
from tests.simtime import SIM_START
from tests.sources.tedapi.clocked import Clock, clocked_scraper, scrape
from tests.sources.tedapi.test_tedapi_against_simulator import Site, start_site
from tests.support.wiring import make_collector


@pytest.fixture
def pw3(tmp_path: Path) -> Iterator[Site]:
    site = start_site(tmp_path, SiteModel.pw3(start_time=SIM_START), interval=1.0)
    yield site
    site.gw.stop()


def _tedapi(site: Site) -> int:
    return sum(1 for r in site.gw.requests if r.path.startswith("/tedapi") or r.path == "/")


def _json_intact(ms: MetricSet) -> None:
    assert ms.get("powerwall_up") == 1
    for endpoint in ("/api/meters/aggregates", "/api/system_status/soe", "/api/system_status/grid_status"):
        assert ms.get("powerwall_scrape_endpoint_success", endpoint=endpoint) == 1, endpoint
    assert ms.get("powerwall_meter_power_watts", meter="site") is not None


def _collector(site: Site, timeout: float = 5.0) -> PowerwallCollector:
    return make_collector(dataclasses.replace(site.cfg, timeout_seconds=timeout))


@pytest.mark.parametrize("status", [429, 503])
def test_rate_limits_silence_tedapi_only_for_at_least_five_minutes(pw3: Site, status: int) -> None:
    clock = Clock()
    scraper = clocked_scraper(pw3.cfg, clock)
    try:
        pw3.gw.faults.tedapi_status = status
        ms = scrape(scraper, clock)
        sent = _tedapi(pw3)
        assert sent == 1  # the DIN read; nothing is addressed without it
        _json_intact(ms)
        assert ms.get("powerwall_scrape_endpoint_success", endpoint="tedapi:din") == 0
        wait, why = scraper.transport._wait_before(scraper.sources[-1].requests(scraper.transport)[0])
        assert wait >= 300 and "tedapi" in why
        assert scraper.transport.cooldown_remaining() == 0  # the JSON API is not held back
        pw3.gw.faults.tedapi_status = None
        for t in (1.1, 2.2, 3.3, 150.0, 299.9):  # past the JSON API's 1 s interval every time
            clock.now = START + t
            _json_intact(scrape(scraper, clock))
        assert _tedapi(pw3) == sent
    finally:
        scraper.retire()


def test_a_vanished_access_point_backs_off(pw3: Site, caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    scraper = clocked_scraper(pw3.cfg, clock)
    pw3.gw.faults.tedapi_ap_gone = True
    try:
        with caplog.at_level(logging.WARNING):
            for i in range(32):  # a scrape every 0.25 s for 8 s
                clock.now = START + i * 0.25
                ms = scrape(scraper, clock)
                _json_intact(ms)
    finally:
        scraper.retire()
    # Back-off 10 s after the first failure: one attempt.
    assert _tedapi(pw3) == 1
    assert ms.get("powerwall_scrape_endpoint_success", endpoint="tedapi:din") == 0
    assert sum("leaving the tedapi host alone for 10 s" in m for m in caplog.messages) == 1


def test_a_gateway_that_stops_answering_is_down_although_tedapi_answers_are_still_reused(pw3: Site) -> None:
    """The DIN and firmware answers are reused for an hour, the config for 10 min: such an answer says
    nothing about the gateway now. Counted as contact, a stopped Powerwall 3 stayed ``powerwall_up 1``
    for up to an hour, and its unreachable alert could not fire."""
    clock = Clock()
    scraper = clocked_scraper(pw3.cfg, clock)
    try:
        assert scrape(scraper, clock).get("powerwall_up") == 1
        pw3.gw.stop()
        clock.now = START + 10.0  # past the JSON API's interval; well inside TEDAPI's long ones
        ms = scrape(scraper, clock)
        assert ms.get("powerwall_scrape_endpoint_success", endpoint="/api/system_status/soe") == 0
        assert ms.get("powerwall_up") == 0
    finally:
        scraper.retire()


def test_a_slow_access_point_never_holds_the_scrape_past_its_deadline(pw3: Site) -> None:
    collector = _collector(pw3, timeout=1.5)
    pw3.gw.faults.tedapi_delay = 5.0
    try:
        start = time.monotonic()
        ms = collector.scrape()
        assert time.monotonic() - start < 2.5
        _json_intact(ms)
        assert ms.get("powerwall_scrape_endpoint_success", endpoint="tedapi:din") == 0
    finally:
        collector.close()


@pytest.mark.parametrize("fault", ["tedapi_garbage", "tedapi_truncated", "tedapi_bad_gzip", "tedapi_empty_data"])
def test_broken_answers_cost_their_request_only(pw3: Site, fault: str) -> None:
    clock = Clock()
    scraper = clocked_scraper(pw3.cfg, clock)
    try:
        scrape(scraper, clock)  # a good first scrape: the DIN is known (and cached for an hour)
        setattr(pw3.gw.faults, fault, True)
        clock.now += 1.1  # past min_interval_seconds
        ms = scrape(scraper, clock)
    finally:
        scraper.retire()
    _json_intact(ms)
    success = {dict(k)["endpoint"]: v for k, v in ms.samples("powerwall_scrape_endpoint_success").items()}
    failed = {e for e, v in success.items() if v == 0}
    assert failed and all(e.startswith("tedapi:") for e in failed), success
    errors = {
        dict(k)["endpoint"]
        for k, v in ms.samples("powerwall_scrape_endpoint_errors_total").items()
        if v > 0 and dict(k)["reason"] == "decode"
    }
    assert errors == failed


def test_the_lan_block_of_firmware_25_10_says_what_to_do(pw3: Site, caplog: pytest.LogCaptureFixture) -> None:
    collector = _collector(pw3)
    pw3.gw.faults.tedapi_lan_403 = True
    try:
        with caplog.at_level(logging.ERROR):
            for _ in range(3):
                ms = collector.scrape()
    finally:
        collector.close()
    _json_intact(ms)
    assert _tedapi(pw3) == 1  # a refusal pauses TEDAPI; the same request is not sent again at once
    lines = [m for m in caplog.messages if "refused the tedapi credentials" in m]
    assert len(lines) == 1 and "WiFi" in lines[0] and "25.10" in lines[0]


def test_at_most_two_connections_and_no_post_is_retried(pw3: Site) -> None:
    collector = _collector(pw3, timeout=10.0)
    pw3.gw.faults.tedapi_delay = 0.4
    try:
        collector.scrape()
    finally:
        collector.close()
    posts = [r for r in pw3.gw.requests if r.method == "POST" and r.path.startswith("/tedapi")]
    # config, firmware, controller, and one components query per Powerwall 3: each exactly once.
    assert len(posts) == 3 + len(pw3.gw.model.battery_dins), [r.path for r in posts]
    assert len({(r.path, r.body) for r in posts}) == len(posts)
    arrivals = sorted(r.time for r in posts)
    # With 0.4 s per answer, a third request can only arrive once one of two connections is free.
    for i in range(len(arrivals) - 2):
        assert arrivals[i + 2] - arrivals[i] >= 0.3, arrivals
