"""The collector's own behaviour across scrapes (what no single source or transport test sees)."""

from __future__ import annotations

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
