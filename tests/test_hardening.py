"""What the fault matrix missed: each test reproduces a failure a home owner met in the first bad week.

``powerwall_up`` that lied on current firmware, memory that grew through an outage, one nested answer
that made ``/metrics`` a 500, a login storm from an odd login answer, a token that wedged the client
across restarts, a hung gateway starving a healthy one, and a SIGTERM that waited for the gateway.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import signal
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.gateway.allowlist import LOGIN_PATH
from exporter.gateway.sessions import SessionStore
from exporter.simulator import SimulatedGateway, SiteModel
from exporter.sources.json_api import endpoints as ep
from tests.fault_env import Env, EnvFactory
from tests.scrape import Scrape
from tests.simtime import SIM_START
from tests.support.exporter import MB, ExporterProcess, gateway_entry, start_exporter
from tests.support.net import free_port
from tests.support.polling import wait_for
from tests.support.wiring import SIM_PASSWORD, gateway_config

NESTED = b"[" * 2000 + b"]" * 2000


# ------------------------------------------------------------------ 1. up reflects this scrape only
@pytest.mark.parametrize("vitals", [True, False], ids=["firmware-with-vitals", "firmware-without-vitals"])
def test_up_is_zero_as_soon_as_the_gateway_refuses_connections(vitals: bool, env: EnvFactory) -> None:
    sim = env.sim()
    if not vitals:
        sim.faults.vitals_absent = True  # firmware >= 23.44: a cached 404, not re-asked for 10 min
    e = env(sim)
    s = e.scrape()
    assert s.value("powerwall_up") == 1
    assert (s.value("powerwall_vitals_supported") == 1) is vitals
    sim.stop()  # connection refused from now on
    for _ in range(2):
        s = e.scrape()
        assert s.value("powerwall_up") == 0, s.success()
        assert s.value("powerwall_scrape_endpoint_success", endpoint=ep.SOE.path) == 0


# ------------------------------------------------------------------ 2. no memory kept per failure
def _grow(e: Env, scrapes: int) -> int:
    for _ in range(20):
        e.scrape()
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for _ in range(scrapes):
            e.scrape()
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return after - before


def test_failed_scrapes_keep_no_memory(env: EnvFactory) -> None:
    sim = env.sim()
    e = env(sim)
    assert e.scrape().value("powerwall_up") == 1
    sim.stop()
    grown = _grow(e, 200)
    # Before the fix each failure's traceback held the previous cached result: ~130 KiB a scrape.
    assert grown < 2 * MB, f"{grown / 1024:.0f} KiB over 200 failed scrapes"


def test_oversized_error_bodies_keep_no_memory(env: EnvFactory) -> None:
    sim = env.sim()
    sim.faults.giant = 8 * MB  # read up to the 4 MiB bound, then refused as too large
    e = env(sim)
    grown = _grow(e, 40)
    assert grown < 4 * MB, f"{grown / MB:.1f} MiB over 40 scrapes with 8 MiB bodies"


def test_a_long_outage_costs_the_process_no_memory(tmp_path: Path) -> None:
    """Through the CLI: logged in, then thousands of scrapes of a gateway refusing connections, RSS flat."""
    sim = SimulatedGateway(
        password=SIM_PASSWORD, port=free_port(), model=SiteModel(start_time=SIM_START, seed=3, powerwalls=2)
    )
    sim.start()
    entry = gateway_entry(sim, tmp_path, "down", min_interval_seconds=0)
    exp = start_exporter({"state_file": None, "gateways": [entry]}, tmp_path, log_level="warn")
    try:
        assert 'powerwall_up{gateway="down"} 1.0' in exp.scrape()  # a session exists, as in real life
        sim.stop()
        for _ in range(100):
            assert 'powerwall_up{gateway="down"} 0.0' in exp.scrape()
        rss = [exp.rss()]
        for i in range(2000):
            exp.scrape()
            if i % 500 == 499:
                rss.append(exp.rss())
    finally:
        err = exp.stop()
    assert max(rss) - rss[0] < 12 * MB, [round(r / MB, 1) for r in rss]
    assert "Traceback" not in err


# ------------------------------------------------------------------ 3. nested JSON fails its endpoint
@pytest.mark.parametrize("depth", [2000, 100_000])
def test_nested_json_fails_only_its_endpoint(depth: int, env: EnvFactory) -> None:
    bad, good = env.sim(), env.sim(seed=8)
    bad.faults.set("body", b"[" * depth + b"]" * depth, paths={ep.STATUS.path})
    e = env(gateways=[gateway_config(bad, "bad"), gateway_config(good, "good")])
    s = e.scrape()
    assert s.value("powerwall_scrape_endpoint_success", gateway="bad", endpoint=ep.STATUS.path) == 0
    assert s.value("powerwall_scrape_endpoint_errors_total", gateway="bad", endpoint=ep.STATUS.path, reason="decode")
    assert s.value("powerwall_scrape_endpoint_success", gateway="bad", endpoint=ep.SOE.path) == 1
    assert s.value("powerwall_up", gateway="bad") == 1
    assert s.value("powerwall_up", gateway="good") == 1
    assert all(v == 1 for lbl, v in s.samples["powerwall_scrape_endpoint_success"] if lbl["gateway"] == "good"), s.text


# ------------------------------------------------------------------ 4/5. login answers nobody expected
def _three_scrapes(e: Env) -> list[Scrape]:
    return [e.scrape() for _ in range(3)]


@pytest.mark.parametrize(
    "answer",
    [
        NESTED,
        json.dumps({"token": "abc\r\nX-Injected: 1"}).encode(),
        json.dumps({"token": "tök€n"}).encode(),
        json.dumps({"token": "x" * 100_000}).encode(),
        json.dumps({"token": ["not", "a", "string"]}).encode(),
        b"\xff\xfe garbage",
    ],
    ids=["nested", "crlf", "non-latin1", "huge", "list", "binary"],
)
def test_odd_login_answers_cost_at_most_two_logins(
    answer: bytes, env: EnvFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sim = env.sim()
    sim.faults.set("body", answer, paths={LOGIN_PATH})
    state = tmp_path / "sessions.json"
    e = env(sim, state_file=state)
    scrapes = _three_scrapes(e)
    assert sim.login_count <= 2, sim.login_count
    assert all(s.value("powerwall_up") == 0 for s in scrapes)
    assert "X-Injected" not in caplog.text and "abc" not in caplog.text
    assert not state.exists() or "X-Injected" not in state.read_text()
    assert not any(r.levelno >= logging.ERROR and r.exc_info for r in caplog.records)


_bodies = st.one_of(
    st.binary(max_size=300),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["token", "x"]), inner, max_size=3),
        max_leaves=12,
    ).map(lambda v: json.dumps(v).encode()),
    st.text(max_size=60).map(lambda t: json.dumps({"token": t}).encode()),
    st.integers(1, 5000).map(lambda n: b"[" * n + b"]" * n),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answer=_bodies)
def test_login_is_never_retried_in_a_loop_whatever_it_answers(answer: bytes, shared_sim: SimulatedGateway) -> None:
    """Property: for any 200 login body, three scrapes cost at most two login POSTs."""
    from tests.support.wiring import make_collector

    shared_sim.faults.set("body", answer, paths={LOGIN_PATH})
    before = shared_sim.login_count
    collector = make_collector(gateway_config(shared_sim))
    try:
        for _ in range(3):
            collector.scrape(timeout=2.0)
    finally:
        collector.close()
    assert shared_sim.login_count - before <= 2


@pytest.fixture(scope="module")
def shared_sim() -> Iterator[SimulatedGateway]:
    sim = SimulatedGateway(password=SIM_PASSWORD, model=SiteModel(start_time=SIM_START, seed=7, powerwalls=1))
    sim.start()
    yield sim
    sim.stop()


def test_an_unusable_saved_token_is_ignored_and_replaced(env: EnvFactory, tmp_path: Path) -> None:
    sim = env.sim()
    state = tmp_path / "sessions.json"
    cfg = gateway_config(sim)
    state.write_text(json.dumps({"home": {"address": cfg.base_url, "token": "abc\r\nX-Injected: 1"}}))
    from tests.support.wiring import make_collector

    collector = make_collector(cfg, state_file=state)
    try:
        assert collector.scrape(timeout=3.0).get("powerwall_up") == 1
    finally:
        collector.close()
    saved = SessionStore(state).load("home", cfg.base_url)
    assert saved is not None and "\r" not in saved[0]
    assert sim.login_count == 1


# ------------------------------------------------------------------ 6. a hung gateway starves nobody
def test_a_hung_gateway_never_takes_capacity_a_healthy_one_needs(tmp_path: Path) -> None:
    """The issue's reproduction through the CLI: rounds of 2, 4, 8, 8, 8 overlapping scrapes."""
    hung = SimulatedGateway(
        password=SIM_PASSWORD, port=free_port(), model=SiteModel(start_time=SIM_START, seed=3, powerwalls=2)
    )
    healthy = SimulatedGateway(
        password=SIM_PASSWORD, port=free_port(), model=SiteModel(start_time=SIM_START, seed=4, powerwalls=1)
    )
    hung.start()
    healthy.start()
    cfg = {"timeout_seconds": 10, "min_interval_seconds": 0}
    entries = [gateway_entry(hung, tmp_path, "hung", **cfg), gateway_entry(healthy, tmp_path, "healthy", **cfg)]
    exp = start_exporter({"state_file": None, "gateways": entries}, tmp_path, log_level="warn")
    down: list[str] = []
    try:
        assert 'powerwall_up{gateway="hung"} 1.0' in exp.scrape()  # logged in; then it stops answering
        hung.faults.delay_seconds = 60.0
        for size in (2, 4, 8, 8, 8):
            results: list[tuple[float, str]] = []
            threads = [threading.Thread(target=_scrape_into, args=(exp, results)) for _ in range(size)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert len(results) == size
            for elapsed, text in results:
                assert elapsed < 4.5, elapsed
                healthy_ok = 'powerwall_up{gateway="healthy"} 1.0' in text and (
                    'powerwall_battery_charge_ratio{gateway="healthy"}' in text
                )
                if not healthy_ok or 'gateway="healthy"} 0.0' in _success_lines(text):
                    down.append(_success_lines(text))
    finally:
        hung.faults.clear()
        exp.stop()
        hung.stop()
        healthy.stop()
    assert not down, down[0]


def _success_lines(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if line.startswith("powerwall_scrape_endpoint_success{"))


def _scrape_into(exp: ExporterProcess, results: list[tuple[float, str]]) -> None:
    t0 = time.monotonic()
    text = exp.scrape(scrape_timeout=4.0)
    results.append((time.monotonic() - t0, text))  # list.append is atomic


# ------------------------------------------------------------------ 8. SIGTERM does not wait
def test_sigterm_during_a_gateway_stall_exits_within_seconds(tmp_path: Path) -> None:
    sim = SimulatedGateway(
        password=SIM_PASSWORD, port=free_port(), model=SiteModel(start_time=SIM_START, seed=3, powerwalls=1)
    )
    sim.start()
    try:
        entry = gateway_entry(sim, tmp_path, "stalled", timeout_seconds=120, min_interval_seconds=0)
        exp = start_exporter({"state_file": None, "gateways": [entry]}, tmp_path)
        sim.faults.delay_seconds = 60.0
        seen = len(sim.requests)
        scraper = threading.Thread(target=_scrape_ignoring_errors, args=(exp,), daemon=True)
        scraper.start()
        # The simulator records a request before it stalls: once it has one, the scrape is waiting.
        wait_for("the scrape to reach the gateway", lambda: len(sim.requests) > seen, timeout=15)
        t0 = time.monotonic()
        exp.signal(signal.SIGTERM)
        exp.proc.wait(timeout=30)
        took = time.monotonic() - t0
        log = exp.stop()
    finally:
        sim.faults.clear()
        sim.stop()
    assert took < 6.0, f"exit took {took:.1f} s"
    assert exp.proc.returncode == 0, log[-2000:]
    assert "Traceback" not in log


def _scrape_ignoring_errors(exp: ExporterProcess) -> None:
    with contextlib.suppress(OSError):  # the exporter goes away under it
        exp.get("/metrics", None)
