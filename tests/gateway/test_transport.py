"""The gateway transport against a real HTTPS simulated gateway: login, re-login, rate limits, single flight."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial

import pytest

from exporter.gateway.allowlist import LOGIN_PATH
from exporter.gateway.outcomes import Fetched, FetchError, Result
from exporter.gateway.request import Request
from exporter.gateway.transport import GatewayTransport
from exporter.simulator import SimulatedGateway
from exporter.sources.json_api import endpoints as ep
from exporter.sources.registry import ALL_REQUESTS, ALLOW_LIST
from tests.clocks import ManualClock
from tests.support.polling import wait_for
from tests.support.wiring import deadline, gateway_config, make_collector, make_transport


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
    clock = ManualClock()
    collector = make_collector(gateway_config(sim), clock=clock.clock)
    for _ in range(60):  # 12 s of scrapes every 0.2 s, on the collector's clock
        assert collector.scrape(timeout=2).get("powerwall_up") == 0
        clock.advance(0.2)
    logins = [r for r in sim.requests if r.path == LOGIN_PATH]
    assert 1 <= len(logins) <= 2
    assert collector.scrape().get("powerwall_gateway_cooldown_seconds") >= 280  # type: ignore[operator]
    collector.close()


def test_retry_after_is_honoured(sim: SimulatedGateway, caplog: pytest.LogCaptureFixture) -> None:
    client = make_transport(gateway_config(sim))
    client.fetch(ep.SOE, deadline())
    sim.faults.status = 429
    sim.faults.retry_after = 3600
    client.fetch(
        ep.SOE,
        deadline(),
    )
    assert client.cooldown_remaining() >= 3599
    # The log names the code and the wait really applied: Retry-After's, not the 300 s minimum.
    assert "answered HTTP 429 (rate limited); leaving the gateway alone for 3600 s" in caplog.text
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


def test_forget_answers_sends_again_but_keeps_the_session(sim: SimulatedGateway) -> None:
    """The benchmarks' cold-cache hook: the next fetch reaches the gateway, without a new login."""
    client = make_transport(gateway_config(sim, min_interval_seconds=3600.0))
    assert isinstance(client.fetch(ep.SOE, deadline()), Fetched)
    assert isinstance(client.fetch(ep.SOE, deadline()), Fetched)
    assert sum(r.path == ep.SOE.path for r in sim.requests) == 1  # reused
    client.forget_answers()
    assert isinstance(client.fetch(ep.SOE, deadline()), Fetched)
    assert sum(r.path == ep.SOE.path for r in sim.requests) == 2
    assert sim.login_count == 1
    client.close()


def test_a_paused_customer_login_does_not_hold_back_another_auth_domain(sim: SimulatedGateway) -> None:
    """Auth domains back off on their own: a refused customer password must not silence e.g. TEDAPI."""
    from exporter.config import Secret
    from exporter.gateway.auth import HttpBasic

    transport = make_transport(gateway_config(sim, password=Secret("wrong-password-1234")))
    transport.add_auth(HttpBasic("other", "home", "user", Secret("other-secret")))
    try:
        refused = transport.fetch(ep.SOE, deadline())
        assert isinstance(refused, FetchError) and refused.reason == "bad_credentials"
        assert transport.cooldown_remaining() > 0  # customer logins are paused now
        before = len(sim.requests)
        other = transport.fetch(Request("GET", ep.STATUS.path, auth="other"), deadline())
        assert len(sim.requests) == before + 1, "the other domain's request was held back"
        assert isinstance(other, FetchError) and other.reason == "unauthorized"  # the simulator wants a session
    finally:
        transport.close()


@pytest.mark.parametrize("ends", ["own_deadline", "http_error", "answer"])
def test_a_late_request_counts_one_failure_however_it_ends(ends: str, sim: SimulatedGateway) -> None:
    """Scrapes that stop waiting count the request's timeout once; its own end then counts nothing.

    The request is held back (``run`` keeps the job) so "late" needs no timing: the callers give
    up before it runs, then it runs and ends by its own deadline (the injected clock is past it),
    with an HTTP error, or with an answer that came too late for them.
    """
    now = [100.0]
    client = GatewayTransport(gateway_config(sim), ALLOW_LIST, clock=lambda: now[0])
    held: list[Callable[[], None]] = []
    future = client.begin(ep.SOE, 110.0, held.append)
    for _ in range(2):  # the scrape that started it, and a concurrent one sharing it
        late = client.settle(ep.SOE, future)
        assert isinstance(late, FetchError) and late.reason == "timeout"
    if ends == "own_deadline":
        now[0] = 120.0
    elif ends == "http_error":
        sim.faults.set("status", 502, paths={ep.SOE.path})
    (job,) = held
    job()
    own = client.settle(ep.SOE, future)  # done now: the request's own result, nothing counted
    if ends == "answer":
        assert isinstance(own, Fetched)
    else:
        assert isinstance(own, FetchError) and own.reason == ("timeout" if ends == "own_deadline" else "http_error")
    assert client.stats().errors == {(ep.SOE.label, "timeout"): 1}
    client.close()


def test_a_failure_is_counted_before_a_waiting_scrape_sees_it(sim: SimulatedGateway) -> None:
    """The count comes first: whoever wakes on the failed request reads a counter that includes it."""
    client = make_transport(gateway_config(sim))
    sim.faults.set("status", 502, paths={ep.SOE.path})
    workers: list[threading.Thread] = []

    def run(job: Callable[[], None]) -> None:
        workers.append(threading.Thread(target=job))
        workers[-1].start()

    seen: list[int] = []
    woken = threading.Event()

    def on_done(_: Future[Result]) -> None:
        seen.append(client.stats().errors.get((ep.SOE.label, "http_error"), 0))
        woken.set()

    client.begin(ep.SOE, deadline(), run).add_done_callback(on_done)
    assert woken.wait(10)
    assert seen == [1]
    for w in workers:
        w.join(10)
    client.close()


def test_a_request_reused_for_minutes_leaves_no_idle_connection_behind(sim: SimulatedGateway) -> None:
    """The site info is read once in ten minutes, side by side with the rest of the first scrape. The
    connection it took is not kept: the gateway is left holding as many connections as a scrape
    sends requests at once, and the next scrapes use those without a new handshake. Counted by the
    gateway itself (connections open and accepted), not by the exporter."""
    collector = make_collector(gateway_config(sim))
    assert collector.scrape().get("powerwall_up") == 1
    first = [r for r in sim.requests if r.path != LOGIN_PATH]
    assert any(r.path == ep.SITE_INFO.path for r in first), "the first scrape reads the site info"
    accepted = sim.connections_accepted
    for _ in range(3):
        before = len(sim.requests)
        assert collector.scrape().get("powerwall_up") == 1
        sent = sim.requests[before:]
        assert ep.SITE_INFO.path not in {r.path for r in sent}, "reused, not asked again"
        assert sim.connections_accepted == accepted, "the next scrapes open no connection"
        wait_for(
            f"the gateway to hold {len(sent)} connections, one per request a scrape sends",
            partial(_holds, sim, len(sent)),
        )
    assert len(first) == len(sent) + 1
    collector.close()


def _holds(gw: SimulatedGateway, connections: int) -> bool:
    """Whether ``gw`` has exactly this many connections open now, as it sees them."""
    return gw.open_connections == connections
