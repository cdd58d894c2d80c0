"""The site info (the site's configuration) is read every 10 minutes, the other endpoints every scrape;
a site info that carries a measurement (older firmware's grid frequency) is read every scrape too.

Against the simulated gateway, on an injected clock: the gateway counts what it was asked.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from exporter.gateway.outcomes import Fetched
from exporter.simulator import SimulatedGateway
from exporter.sources.json_api.endpoints import METERS_AGGREGATES, SITE_INFO, SITE_INFO_INTERVAL_SECONDS
from tests.clocks import START, ManualClock
from tests.sources.tedapi.clocked import clocked_scraper, scrape
from tests.support.wiring import gateway_config, replay


def _answer(body: bytes) -> Fetched:
    return Fetched(SITE_INFO.path, 200, body, 0.01, START)


def _asked(sim: SimulatedGateway, path: str) -> int:
    return sum(1 for r in sim.requests if r.path == path)


def test_the_site_info_is_read_every_ten_minutes_and_shown_in_between(sim: SimulatedGateway) -> None:
    clock = ManualClock()
    scraper = clocked_scraper(gateway_config(sim), clock)
    try:
        for t in (0.0, 30.0, 300.0, SITE_INFO_INTERVAL_SECONDS - 1):
            clock.now = START + t
            ms = scrape(scraper, clock)
            assert ms.get("powerwall_up") == 1
            assert ms.get("powerwall_scrape_endpoint_success", endpoint=SITE_INFO.path) == 1
            assert ms.get("powerwall_site_nominal_energy_joules") is not None
        assert _asked(sim, SITE_INFO.path) == 1
        assert _asked(sim, METERS_AGGREGATES.path) == 4
        clock.now = START + SITE_INFO_INTERVAL_SECONDS
        scrape(scraper, clock)
        assert _asked(sim, SITE_INFO.path) == 2
    finally:
        scraper.retire()


def test_a_reused_site_info_is_not_shown_and_says_nothing_when_the_gateway_is_gone(sim: SimulatedGateway) -> None:
    """Read one second ago, but the gateway answers nothing now: down, and no site series shown."""
    clock = ManualClock()
    scraper = clocked_scraper(gateway_config(sim), clock)
    try:
        assert scrape(scraper, clock).get("powerwall_up") == 1
        sim.stop()
        clock.advance(1.0)
        ms = scrape(scraper, clock)
        assert ms.get("powerwall_up") == 0
        assert ms.get("powerwall_scrape_endpoint_success", endpoint=SITE_INFO.path) == 0
        assert ms.get("powerwall_site_nominal_energy_joules") is None
        assert not ms.samples("powerwall_site_info")
    finally:
        scraper.retire()


def test_a_site_info_with_a_measurement_is_read_every_scrape() -> None:
    """Firmware 21.39's site info carries ``measured_frequency`` (captured): reused for 10 minutes,
    the grid frequency would be shown for 10 minutes after it was measured."""
    gw = replay("fw-21.39.1")
    gw.start()
    clock = ManualClock()
    scraper = clocked_scraper(gateway_config(gw), clock)
    try:
        for t in (0.0, 30.0, 60.0):
            clock.now = START + t
            ms = scrape(scraper, clock)
            assert ms.get("powerwall_site_measured_frequency_hertz") is not None
        assert _asked(gw, SITE_INFO.path) == 3
    finally:
        scraper.retire()
        gw.stop()


SETTINGS = {"nominal_system_energy_kWh": 13.5, "max_site_meter_power_kW": 1e9, "site_name": "Home", "grid_code": {}}


@pytest.mark.parametrize(
    ("body", "seconds"),
    [
        (SETTINGS, SITE_INFO_INTERVAL_SECONDS),
        (SETTINGS | {"battery_commission_date": "2026-04-22T12:07:43+10:00"}, SITE_INFO_INTERVAL_SECONDS),
        (SETTINGS | {"grid_code": {"grid_freq_setting": 60, "new_setting": 1}}, SITE_INFO_INTERVAL_SECONDS),
        (SETTINGS | {"measured_frequency": 60.02}, None),
        (SETTINGS | {"a_new_number": 1}, None),  # exported generically: maybe a measurement
        (SETTINGS | {"a_new_flag": True}, None),
        ([SETTINGS], None),
    ],
)
def test_only_a_site_info_of_settings_is_reused_for_long(body: Any, seconds: float | None) -> None:
    assert SITE_INFO.reuse_for is not None
    assert SITE_INFO.reuse_for(_answer(json.dumps(body).encode())) == seconds


@pytest.mark.parametrize("body", [b"", b"<html>", b"\xff\xfe", b"[" * 100_000])
def test_a_site_info_that_does_not_decode_gets_the_gateway_interval(body: bytes) -> None:
    assert SITE_INFO.reuse_for is not None
    assert SITE_INFO.reuse_for(_answer(body)) is None
