"""Failure messages a person can act on, for every way a request fails.

Logs, the landing page and ``GatewayStatus.error`` show these; urllib3's ``HTTPSConnectionPool(...):
Max retries exceeded with url ...`` cut off before the cause was what users saw before.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pytest

from exporter.config import TLSConfig
from exporter.gateway.outcomes import FetchError
from exporter.simulator import SimulatedGateway
from exporter.sources.json_api import endpoints as ep
from tests.support.net import free_port
from tests.support.wiring import gateway_config, make_collector, make_transport

NOISE = ("HTTPSConnectionPool", "Max retries", "urllib3", "object at 0x")


def _failure(cfg_sim: SimulatedGateway, seconds: float = 5.0, **overrides: Any) -> FetchError:
    transport = make_transport(gateway_config(cfg_sim, **overrides))
    try:
        result = transport.fetch(ep.SYSTEM_STATUS, time.monotonic() + seconds)
    finally:
        transport.close()
    assert isinstance(result, FetchError), result
    assert not any(n in str(result) for n in NOISE), str(result)
    return result


def test_connection_refused(sim: SimulatedGateway) -> None:
    port = free_port()  # nothing listens there
    transport = make_transport(replace(gateway_config(sim), port=port))
    try:
        r = transport.fetch(ep.SYSTEM_STATUS, time.monotonic() + 5)
    finally:
        transport.close()
    assert isinstance(r, FetchError) and r.reason == "connection"
    assert str(r) == "login: connection refused"


def test_timeout_names_the_budget(sim: SimulatedGateway) -> None:
    make_collector(gateway_config(sim)).scrape()  # the simulator is up; now it stalls
    sim.faults.delay_seconds = 3.0
    r = _failure(sim, seconds=0.5)
    assert r.reason == "timeout"
    assert "timed out after 0.5 s" in str(r)


def test_http_error_names_code_and_endpoint(sim: SimulatedGateway) -> None:
    sim.faults.set("status", 502, paths={ep.SYSTEM_STATUS.path})
    r = _failure(sim)
    assert (r.reason, str(r)) == ("http_error", "HTTP 502 from /api/system_status")


def test_pin_mismatch_says_so(sim: SimulatedGateway) -> None:
    r = _failure(sim, tls=TLSConfig(fingerprint_sha256="00" * 32))
    assert r.reason == "tls_pin_mismatch"
    assert "TLS: the gateway's certificate does not match the pinned fingerprint" in str(r)


def test_untrusted_certificate_says_why(sim: SimulatedGateway) -> None:
    r = _failure(sim, tls=TLSConfig())  # system CAs: the gateway's self-signed certificate is not trusted
    assert r.reason == "tls"
    assert str(r).startswith("login: TLS: certificate verification failed (")


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("reset", "/api/system_status: connection reset by the gateway"),
        ("html", "/api/system_status: answered HTML, not JSON (a captive portal or the gateway's web UI?)"),
    ],
)
def test_other_failures_stay_short_and_clean(sim: SimulatedGateway, fault: str, message: str) -> None:
    make_collector(gateway_config(sim)).scrape()
    sim.faults.set(fault, True, paths={ep.SYSTEM_STATUS.path})
    collector = make_collector(gateway_config(sim))
    try:
        collector.scrape()
    finally:
        collector.close()
    error = collector.scrapers["home"].status.error or ""
    assert error == message
