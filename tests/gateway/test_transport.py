"""The gateway client against a real HTTPS simulated gateway: sessions, rate limits, TLS pinning, allow-list."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from exporter.config import TLSConfig
from exporter.gateway.allowlist import FORBIDDEN_PATHS, LOGIN_PATH
from exporter.gateway.outcomes import Fetched, FetchError, ForbiddenRequest
from exporter.gateway.request import Request
from exporter.gateway.sessions import SessionStore
from exporter.simulator import SimulatedGateway
from exporter.sources.json_api import endpoints as ep
from exporter.sources.registry import ALL_REQUESTS, ALLOW_LIST, READ_PATHS
from tests.conftest import gateway_config, make_collector, make_transport


def deadline(seconds: float = 5.0) -> float:
    return time.monotonic() + seconds


def test_fetch_json_with_pinned_ca(sim: SimulatedGateway) -> None:
    client = make_transport(gateway_config(sim))
    result = client.fetch(ep.SOE, deadline())
    assert isinstance(result, Fetched), result
    assert 0 <= result.json()["percentage"] <= 100
    client.close()


def test_one_login_across_many_scrapes(sim: SimulatedGateway) -> None:
    collector = make_collector(gateway_config(sim))
    for _ in range(10):
        assert collector.scrape().get("powerwall_up") == 1
    assert sim.login_count == 1
    collector.close()


def test_expired_session_logs_in_again_once_and_retries(sim: SimulatedGateway) -> None:
    client = make_transport(gateway_config(sim))
    assert isinstance(client.fetch(ep.SOE, deadline()), Fetched)
    sim.invalidate_sessions()
    assert isinstance(client.fetch(ep.SOE, deadline()), Fetched)
    assert sim.login_count == 2
    client.close()


def test_concurrent_401s_cause_exactly_one_relogin(sim: SimulatedGateway) -> None:
    collector = make_collector(gateway_config(sim))
    collector.scrape()
    assert sim.login_count == 1
    sim.invalidate_sessions()
    ms = collector.scrape()  # all endpoints get 401 concurrently
    assert ms.get("powerwall_up") == 1
    assert sim.login_count == 2
    collector.close()


def test_429_silences_the_gateway_for_the_cooldown(sim: SimulatedGateway) -> None:
    client = make_transport(gateway_config(sim))
    client.fetch(ep.SOE, deadline())
    sim.faults.status = 429
    first = client.fetch(ep.OPERATION, deadline())
    assert isinstance(first, FetchError) and first.reason == "rate_limited"
    sent = len(sim.requests)
    sim.faults.clear()
    for endpoint in ALL_REQUESTS:
        r = client.fetch(endpoint, deadline())
        assert isinstance(r, FetchError) and r.reason == "cooldown"
    assert len(sim.requests) == sent, "no request may reach a gateway that rate-limited us"
    assert client.cooldown_remaining() >= 300
    client.close()


def test_login_429_is_tried_at_most_twice_in_12_seconds(sim: SimulatedGateway) -> None:
    sim.faults.login_status = 429
    collector = make_collector(gateway_config(sim))
    end = time.monotonic() + 12
    scrapes = 0
    while time.monotonic() < end and scrapes < 60:
        assert collector.scrape(timeout=2).get("powerwall_up") == 0
        scrapes += 1
        time.sleep(0.1)
    logins = [r for r in sim.requests if r.path == LOGIN_PATH]
    assert 1 <= len(logins) <= 2
    assert collector.scrape().get("powerwall_gateway_cooldown_seconds") >= 280  # type: ignore[operator]
    collector.close()


def test_retry_after_is_honoured(sim: SimulatedGateway) -> None:
    client = make_transport(gateway_config(sim))
    client.fetch(ep.SOE, deadline())
    sim.faults.status = 429
    sim.faults.retry_after = 3600
    client.fetch(
        ep.SOE,
        deadline(),
    )
    assert client.cooldown_remaining() >= 3599
    client.close()


def test_bad_password_fails_clearly_without_a_login_loop(
    sim: SimulatedGateway, caplog: pytest.LogCaptureFixture
) -> None:
    from exporter.config import Secret

    client = make_transport(gateway_config(sim, password=Secret("wrong-password-1234")))
    for _ in range(5):
        r = client.fetch(ep.SOE, deadline())
        assert isinstance(r, FetchError) and r.reason in ("bad_credentials", "cooldown")
    assert sim.login_count == 1
    assert "login rejected" in caplog.text
    assert "wrong-password-1234" not in caplog.text
    client.close()


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
            client._exchange(Request("GET", path), 0, {}, deadline())
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        with pytest.raises(ForbiddenRequest):
            client._exchange(Request(method, "/api/operation"), 0, {}, deadline())
    with pytest.raises(ForbiddenRequest):
        client._exchange(Request("GET", LOGIN_PATH), 0, {}, deadline())
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
    assert [p for m, p in ALLOW_LIST.requests if m == "POST"] == [LOGIN_PATH]
    assert all("?" not in p for p in READ_PATHS)


def test_fingerprint_pin_accepts_the_right_certificate(sim: SimulatedGateway) -> None:
    client = make_transport(
        gateway_config(sim, tls=TLSConfig(fingerprint_sha256=sim.fingerprint_sha256.replace(":", "").lower()))
    )
    assert isinstance(client.fetch(ep.SOE, deadline()), Fetched)
    client.close()


def test_changed_certificate_is_a_clear_error(sim: SimulatedGateway, tmp_path: Path) -> None:
    fp = sim.fingerprint_sha256.replace(":", "").lower()
    old_ca = tmp_path / "old.pem"
    old_ca.write_bytes(sim.cert_pem)
    client = make_transport(gateway_config(sim, tls=TLSConfig(fingerprint_sha256=fp)))
    ca_client = make_transport(gateway_config(sim, tls=TLSConfig(ca_file=old_ca)))
    assert isinstance(ca_client.fetch(ep.SOE, deadline()), Fetched)
    sim.rotate_certificate()
    r = client.fetch(ep.SOE, deadline())
    assert isinstance(r, FetchError) and r.reason == "tls_pin_mismatch"
    assert "pinned fingerprint" in str(r)
    # A CA-file pin of the old certificate fails too: the new chain no longer verifies.
    ca_client.close()  # drop the kept-alive connection made with the old certificate
    r = ca_client.fetch(ep.OPERATION, deadline())
    assert isinstance(r, FetchError) and r.reason == "tls"
    client.close()
    ca_client.close()


def test_ca_pin_survives_requests_ca_bundle_env(sim: SimulatedGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    # With the system bundle forced through the environment, a pinned CA must still be the only trust.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    client = make_transport(gateway_config(sim))
    assert isinstance(client.fetch(ep.SOE, deadline()), Fetched)
    client.close()
    system = make_transport(gateway_config(sim, tls=TLSConfig()))
    r = system.fetch(ep.SOE, deadline())
    assert isinstance(r, FetchError) and r.reason == "tls"
    system.close()


def test_wrong_server_name_is_rejected(sim: SimulatedGateway) -> None:
    client = make_transport(gateway_config(sim, tls=TLSConfig(ca_file=Path(sim.cert_path), server_name="example.org")))
    r = client.fetch(ep.SOE, deadline())
    assert isinstance(r, FetchError) and r.reason in ("tls", "connection")
    client.close()


def test_insecure_mode_connects(sim: SimulatedGateway) -> None:
    client = make_transport(gateway_config(sim, tls=TLSConfig(insecure_skip_verify=True)))
    assert isinstance(client.fetch(ep.SOE, deadline()), Fetched)
    client.close()


def test_single_flight_bounds_gateway_requests(sim: SimulatedGateway) -> None:
    sim.faults.delay_seconds = 0.3
    collector = make_collector(gateway_config(sim, min_interval_seconds=5.0))
    collector.scrape()  # log in first
    start = len(sim.requests)
    threads = [threading.Thread(target=collector.scrape) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    per_path: dict[str, int] = {}
    for r in sim.requests[start:]:
        per_path[r.path] = per_path.get(r.path, 0) + 1
    assert all(n <= 2 for n in per_path.values()), per_path
    collector.close()


def test_session_survives_a_restart(sim: SimulatedGateway, tmp_path: Path) -> None:
    state = tmp_path / "state" / "sessions.json"
    c1 = make_collector(gateway_config(sim), state_file=state)
    assert c1.scrape().get("powerwall_up") == 1
    c1.close()
    assert state.stat().st_mode & 0o777 == 0o600
    assert "sim-password" not in state.read_text()
    c2 = make_collector(gateway_config(sim), state_file=state)
    assert c2.scrape().get("powerwall_up") == 1
    assert sim.login_count == 1
    sim.invalidate_sessions()
    assert c2.scrape().get("powerwall_up") == 1
    assert sim.login_count == 2
    c2.close()


def test_session_store_ignores_other_addresses(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "s.json")
    store.save("home", "https://10.0.0.1:443", "tok", "rec")
    assert store.load("home", "https://10.0.0.1:443") == ("tok", "rec")
    assert store.load("home", "https://10.0.0.2:443") is None
    store.drop("home")
    assert store.load("home", "https://10.0.0.1:443") is None


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


def test_default_pool_scales_with_gateways() -> None:
    from exporter.config import parse_config

    many = [{"name": f"g{i}", "address": "192.0.2.1", "password": "x"} for i in range(50)]
    assert parse_config({"gateways": many}).max_concurrent_requests == 512
    assert parse_config({"gateways": many[:3]}).max_concurrent_requests == 36
    assert parse_config({"gateways": many[:1]}).max_concurrent_requests == 16
