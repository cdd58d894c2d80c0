"""The collector's own behaviour across scrapes (what no single source or transport test sees)."""

from __future__ import annotations

import gc

import pytest

from exporter.config import TLSConfig
from exporter.simulator import SimulatedGateway
from tests.support.wiring import gateway_config, make_collector


def test_health_changes_are_logged_once(sim: SimulatedGateway, caplog: pytest.LogCaptureFixture) -> None:
    fp = sim.fingerprint_sha256.replace(":", "").lower()
    collector = make_collector(gateway_config(sim, tls=TLSConfig(fingerprint_sha256=fp)))
    collector.scrape()
    sim.rotate_certificate()
    for client in (s.transport for s in collector.scrapers.values()):
        client.close()  # a rebooted gateway drops its connections
    for _ in range(3):
        collector.scrape()
    errors = [r for r in caplog.records if r.levelname == "ERROR" and "tls_pin_mismatch" in r.getMessage()]
    assert len(errors) == 1, [r.getMessage() for r in caplog.records]
    assert "pinned fingerprint" in errors[0].getMessage()
    collector.close()


def test_a_scrape_leaves_no_reference_cycles_behind(sim: SimulatedGateway) -> None:
    """Answers, futures and what was decoded go by reference counting, not at the next collection.

    A cycle per scrape (each future's done-callback held the scrape's jobs, which held the futures)
    kept every answer and its decoded series until the cyclic collector ran: in a replica of 1,000
    gateways its pauses took hundreds of milliseconds. The simulator runs in this process too, so
    only the exporter's own objects are looked for in what the collector finds.
    """
    collector = make_collector(gateway_config(sim))
    try:
        collector.scrape()  # log in, open connections
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for _ in range(3):
                assert collector.scrape().get("powerwall_up") == 1
            gc.collect()
            ours = [
                type(o).__qualname__ for o in gc.garbage if type(o).__module__.startswith(("exporter.", "concurrent."))
            ]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
    finally:
        collector.close()
    assert ours == [], sorted(set(ours))


def test_a_scrape_sends_its_requests_side_by_side_from_one_gateway_thread(sim: SimulatedGateway) -> None:
    """A scrape's first round (every JSON endpoint and vitals) is one job of the shared gateway pool:
    one thread sends them all and reads the answers as they come, so a fleet's threads follow the
    scrapes in flight, not the requests (a thread per request was 354 threads at 1,000 gateways)."""
    collector = make_collector(gateway_config(sim))
    try:
        before = len(sim.requests)
        for _ in range(2):
            assert collector.scrape().get("powerwall_up") == 1
        assert len(sim.requests) - before > 10, "the login and two scrapes' requests reached the gateway"
        assert collector.pool.size == 1
    finally:
        collector.close()
