"""The frozen allow-list: nothing else leaves the transport, checked before any socket opens."""

from __future__ import annotations

import pytest

from exporter.gateway.allowlist import FORBIDDEN_PATHS, LOGIN_PATH
from exporter.gateway.outcomes import ForbiddenRequest
from exporter.gateway.request import Request
from exporter.simulator import SimulatedGateway
from exporter.sources.json_api import endpoints as ep
from exporter.sources.registry import ALLOW_LIST, READ_PATHS
from tests.support.wiring import deadline, gateway_config, make_collector, make_transport


def test_allow_list_is_enforced_before_any_socket(sim: SimulatedGateway) -> None:
    client = make_transport(gateway_config(sim))
    client.fetch(ep.SOE, deadline())
    before = len(sim.requests)
    for path in [
        *sorted(FORBIDDEN_PATHS - READ_PATHS),
        "/api/status?x=1",
        "/api/meters/aggregates/",
        "/api/logout",
    ]:
        with pytest.raises(ForbiddenRequest):
            client._exchange(Request("GET", path), {}, deadline())
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        with pytest.raises(ForbiddenRequest):
            client._exchange(Request(method, "/api/operation"), {}, deadline())
    with pytest.raises(ForbiddenRequest):
        client._exchange(Request("GET", LOGIN_PATH), {}, deadline())
    assert len(sim.requests) == before
    client.close()


def test_only_allowed_requests_ever_reach_the_gateway(sim: SimulatedGateway) -> None:
    collector = make_collector(gateway_config(sim))
    for _ in range(3):
        collector.scrape()
    sim.faults.vitals_absent = True
    sim.invalidate_sessions()
    for _ in range(3):
        collector.scrape()
    collector.close()
    assert sim.requests
    for r in sim.requests:
        assert ALLOW_LIST.allows(r.method, r.path), (r.method, r.path)
        assert not r.query
        if r.method == "POST":
            assert b"force_sm_off" not in r.body
    assert not sim.dangerous_calls
    assert not sim.force_sm_off_seen


def test_allow_list_contains_no_dangerous_path() -> None:
    assert not READ_PATHS & (FORBIDDEN_PATHS - {"/api/operation"})
    assert ("POST", "/api/operation") not in ALLOW_LIST.requests
    assert {m for m, _ in ALLOW_LIST.requests} == {"GET", "POST"}
    # The login and TEDAPI's two paths, whose bodies are vetted (tests/sources/tedapi/test_envelope.py).
    assert sorted(p for m, p in ALLOW_LIST.requests if m == "POST") == [
        LOGIN_PATH,
        "/tedapi/device/<DIN>/v1",
        "/tedapi/v1",
        "/tedapi/v1r",
    ]
    assert all("?" not in p for p in READ_PATHS)
