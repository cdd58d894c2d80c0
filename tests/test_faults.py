"""Fault-injection matrix: every way a gateway misbehaves, through the real exporter HTTP server.

Why: the gateway is a fragile embedded device on flaky WiFi. Whatever it does, ``/metrics`` must answer
within Prometheus' scrape timeout, report per endpoint what worked (``powerwall_up``,
``powerwall_scrape_endpoint_success``), never present a failed endpoint's old values as live, never
hammer the login, never let an exception escape and never leak threads or memory. Each case below
switches one fault on in the simulated gateway (real HTTPS on 127.0.0.1), scrapes ``/metrics`` over
HTTP with an ``X-Prometheus-Scrape-Timeout-Seconds`` header, and checks all of that. The ``env``
fixture's teardown checks the cross-cutting properties (no traceback logged, no dangerous request,
every exporter thread gone).
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from exporter.config import GatewayConfig, Secret, TLSConfig
from exporter.gateway.allowlist import LOGIN_PATH
from exporter.gateway.http import MAX_BODY_BYTES
from exporter.gateway.outcomes import Fetched, FetchError
from exporter.gateway.request import Request
from exporter.metrics.metricset import MetricSet
from exporter.simulator import SimulatedGateway, SiteModel
from exporter.sources.base import Output
from exporter.sources.json_api import endpoints as ep
from exporter.sources.registry import ALL_REQUESTS, READ_PATHS, source_of
from exporter.sources.solar_powerwall.source import SOLAR_POWERWALL
from exporter.sources.vitals.source import VITALS
from tests.fault_env import FW, SCRAPE_TIMEOUT, SLOW, EnvFactory, exporter_threads
from tests.scrape import Scrape
from tests.simtime import SIM_START
from tests.support.net import SilentListener
from tests.support.polling import wait_for
from tests.support.prereqs import require_fixtures
from tests.support.wiring import SIM_PASSWORD, gateway_config, make_transport

pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")


def _names_of(cfg: GatewayConfig, request: Request, result: Fetched) -> set[str]:
    """The metric names one answer maps to, through the source that owns the request."""
    out = Output(MetricSet())
    source_of(request)(cfg).collect(request, result, out)
    return set(out.ms.names())


@pytest.fixture(scope="module")
def owned() -> dict[str, set[str]]:
    """Which metric names each endpoint produces for the model site (the oracle for "no stale series")."""
    gw = SimulatedGateway(
        password=SIM_PASSWORD, model=SiteModel(start_time=SIM_START, seed=7, powerwalls=2, solar_powerwall=True)
    )
    gw.start()
    client = make_transport(gateway_config(gw))
    try:
        out: dict[str, set[str]] = {}
        for endpoint in ALL_REQUESTS:
            result = client.fetch(endpoint, time.monotonic() + 5)
            assert isinstance(result, Fetched), result
            out[endpoint.path] = _names_of(client.cfg, endpoint, result)
        return out
    finally:
        client.close()
        gw.stop()


def assert_no_stale(s: Scrape, failed: set[str], owned: dict[str, set[str]]) -> None:
    """No series that only a failed endpoint produces may be exposed (old values are never live)."""
    ok = set(s.success()) - failed
    stale = set().union(*(owned[p] for p in failed)) - set().union(*(owned[p] for p in ok))
    assert not stale & s.names(), sorted(stale & s.names())


def settle() -> None:
    """Let requests abandoned at the last deadline finish.

    A scrape that starts while an abandoned request is still in flight joins it (single flight) and
    inherits its timeout a few milliseconds later (a failure is never reused after its flight, so
    this is the only way to see an old one). Recovery is only checked once they are gone.
    """
    time.sleep(0.3)


def all_ok(s: Scrape) -> None:
    assert s.value("powerwall_up") == 1
    errors = [(lbl, v) for lbl, v in s.samples.get("powerwall_scrape_endpoint_errors_total", [])]
    assert s.success() and set(s.success().values()) == {1.0}, (s.success(), s.elapsed, errors)


# ------------------------------------------------------------------------- the generic fault table
@dataclass(frozen=True)
class Case:
    id: str
    fault: str
    value: Any
    paths: frozenset[str] | None  # None: every path (the login too)
    up: int
    reason: str  # powerwall_scrape_endpoint_errors_total reason for each failed endpoint
    scrapes: int = 2


AGG, STATUS, SYS = ep.METERS_AGGREGATES.path, ep.STATUS.path, ep.SYSTEM_STATUS.path
CASES = [
    Case("slow_beyond_timeout", "delay_seconds", SLOW, None, 0, "timeout"),
    Case("one_endpoint_slow", "delay_seconds", SLOW, frozenset({STATUS}), 1, "timeout"),
    Case("connection_reset", "reset", True, None, 0, "connection"),
    Case("one_endpoint_reset", "reset", True, frozenset({AGG}), 1, "connection"),
    Case("http_502", "status", 502, None, 1, "http_error"),
    Case("http_503", "status", 503, None, 1, "http_error"),
    Case("one_endpoint_502", "status", 502, frozenset({SYS}), 1, "http_error"),
    Case("html_instead_of_json", "html", True, None, 1, "decode"),
    Case("truncated_body", "truncate_at", 100, frozenset({AGG}), 1, "connection"),
    Case("giant_body", "giant", 64 << 20, frozenset({STATUS}), 1, "too_large"),
    Case("gzip_bomb", "gzip_bomb", 256 << 20, frozenset({SYS}), 1, "too_large"),
    Case("slow_drip_body", "slow_drip", 0.05, frozenset({ep.OPERATION.path}), 1, "timeout"),
    Case("vitals_garbage", "garbage", 512, frozenset({VITALS.path}), 1, "decode"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fault_matrix(case: Case, env: EnvFactory, owned: dict[str, set[str]]) -> None:
    e = env()
    base = e.scrape()
    all_ok(base)
    fetched = set(base.success())
    logins = e.gw.login_count
    e.gw.faults.set(case.fault, case.value, paths=case.paths)
    # The site info is read every 10 minutes: a fault of every path is not asked of it here. Its
    # answer of the first scrape is shown while the gateway answers, and not at all when it does not.
    reused = {ep.SITE_INFO.path} if case.paths is None else set()
    failed = (fetched if case.paths is None else set(case.paths)) - reused
    for _ in range(case.scrapes):
        s = e.scrape()
        assert s.value("powerwall_up") == case.up
        shown = {p: float(case.up) for p in reused}
        assert s.success() == {p: (0.0 if p in failed else 1.0) for p in fetched} | shown
        assert_no_stale(s, failed if case.up else failed | reused, owned)
        for p in failed:
            assert s.errors(p, case.reason) > base.errors(p, case.reason), (p, case.reason)
        if case.up == 0:
            assert s.value("powerwall_info") is None, "identity must not outlive the gateway"
    e.gw.faults.clear()
    settle()
    all_ok(e.scrape())
    assert e.gw.login_count == logins, "no fault here is a reason to log in again"


# ------------------------------------------------------------------------ a late request, once
def test_a_late_request_counts_exactly_one_timeout(env: EnvFactory) -> None:
    """A request that misses the scrape deadline counts one timeout, not two.

    The scrape gives up on it at its deadline, and the transport's own deadline (the same instant)
    then ends the request with a timeout of its own: both are the same failed request. The test
    waits until that second end has happened (the transport has recorded the request's timeout
    outcome) before it reads the counter again.
    """
    e = env()
    transport = e.collector.scrapers["home"].transport
    base = e.scrape()
    all_ok(base)
    before = base.errors(STATUS, "timeout")
    e.gw.faults.set("delay_seconds", SLOW, paths={STATUS})

    def own_timeouts() -> int:
        return transport.stats().requests.get((STATUS, "timeout"), 0)

    def own_timeouts_reach(n: int) -> bool:
        return own_timeouts() >= n

    for late in (1, 2):
        s = e.scrape()
        assert s.success()[STATUS] == 0
        assert s.errors(STATUS, "timeout") == before + late  # counted by the scrape that gave up
        # The request's own deadline fires after the scrape gave up: wait until it has been counted.
        wait_for(f"{late} timeout outcome(s) of the request itself", partial(own_timeouts_reach, late), timeout=10)
        assert own_timeouts() == late
    e.gw.faults.clear()
    after = e.scrape()
    all_ok(after)
    assert after.errors(STATUS, "timeout") == before + 2
    assert after.value("powerwall_gateway_requests_total", endpoint=STATUS, outcome="timeout") == 2


# ------------------------------------------------------------------------------ truncated JSON
def test_truncated_json_cut_at_every_byte(env: EnvFactory) -> None:
    """A real /api/meters/aggregates answer cut after each byte: a clean per-endpoint failure, every time.

    ``truncate_at`` 0 means "off" in the simulator, so the cuts run 1..len (the full length is the
    control: the whole body arrives and must parse). The client announces the cut through the
    Content-Length check, so even a cut after the last ``}`` (valid JSON prefix) is not taken as data.
    """
    gw = env.sim(replay_dir=require_fixtures() / FW)
    e = env(gw)
    client = make_transport(gateway_config(gw))
    try:
        full = client.fetch(ep.METERS_AGGREGATES, time.monotonic() + 5)
        assert isinstance(full, Fetched)
        body = (require_fixtures() / FW / "api/meters/aggregates.json").read_bytes()
        assert full.body == body
        reasons: dict[str, int] = {}
        for cut in range(1, len(body) + 1):
            gw.faults.set("truncate_at", cut, paths={AGG}, times=1)
            r = client.fetch(ep.METERS_AGGREGATES, time.monotonic() + 5)
            if cut == len(body):
                assert isinstance(r, Fetched) and r.json() == json.loads(body)
            else:
                assert isinstance(r, FetchError), f"a body cut at {cut}/{len(body)} was accepted"
                reasons[r.reason] = reasons.get(r.reason, 0) + 1
        assert set(reasons) <= {"connection", "decode"}, reasons
        assert client.login_count == 1
    finally:
        client.close()
    # The same through the exporter: the cut endpoint fails alone, its series are absent.
    base = e.scrape()
    all_ok(base)
    for cut in (1, len(body) // 2, len(body) - 1):
        gw.faults.set("truncate_at", cut, paths={AGG}, times=1)
        s = e.scrape()
        assert s.value("powerwall_up") == 1
        assert s.success()[AGG] == 0 and sum(s.success().values()) == len(s.success()) - 1
        assert s.value("powerwall_meter_power_watts") is None
        assert s.value("powerwall_meter_energy_imported_joules_total") is None
        assert s.value("powerwall_battery_charge_ratio") is not None


# ----------------------------------------------------------------- giant bodies and gzip bombs
@pytest.mark.parametrize(("fault", "size"), [("giant", 64 << 20), ("gzip_bomb", 1 << 30)])
def test_giant_and_bomb_bodies_are_read_bounded(fault: str, size: int, env: EnvFactory) -> None:
    """A 64 MiB body or a 1 GiB gzip bomb costs at most a few MiB: the read and the inflate are bounded."""
    e = env()
    all_ok(e.scrape())
    e.gw.faults.set(fault, size, paths={STATUS, SYS})
    tracemalloc.start()
    try:
        ms = e.collector.scrape(timeout=SCRAPE_TIMEOUT + 3)  # tracing slows everything down
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ms.get("powerwall_up") == 1
    assert ms.get("powerwall_scrape_endpoint_success", endpoint=STATUS) == 0
    assert ms.get("powerwall_scrape_endpoint_success", endpoint=SYS) == 0
    assert ms.get("powerwall_scrape_endpoint_errors_total", endpoint=STATUS, reason="too_large") == 1
    assert ms.get("powerwall_meter_power_watts", meter="site") is not None
    # Two endpoints at once, each bounded to MAX_BODY_BYTES (+ one join copy, + inflate output).
    assert peak < 6 * MAX_BODY_BYTES, f"peak {peak / 2**20:.1f} MiB"


# --------------------------------------------------------------------- TLS: handshake and pinning
def test_tls_handshake_failure(env: EnvFactory, owned: dict[str, set[str]]) -> None:
    e = env()
    all_ok(e.scrape())
    logins = e.gw.login_count
    e.gw.faults.tls_fail = True
    e.restart_gateway()  # kept-alive connections predate the fault; a restart drops them
    for _ in range(2):
        s = e.scrape()
        assert s.value("powerwall_up") == 0
        assert set(s.success().values()) == {0.0}
        assert s.errors(AGG, "tls") + s.errors(AGG, "connection") >= 1
        assert_no_stale(s, set(s.success()), owned)
    assert e.gw.handshake_failures
    e.gw.faults.clear()
    all_ok(e.scrape())
    assert e.gw.login_count == logins


def test_tls_handshake_failure_at_start_never_sends_the_password(env: EnvFactory) -> None:
    gw = env.sim()
    gw.faults.tls_fail = True
    e = env(gw)
    for _ in range(3):
        s = e.scrape()
        assert s.value("powerwall_up") == 0
        assert s.logins("error") >= 1 and s.logins("success") == 0
    assert not gw.requests, "nothing may be sent over a failed handshake"


@pytest.mark.parametrize("pin", ["fingerprint", "ca_file"])
def test_changed_certificate_is_refused_with_a_clear_error(
    pin: str, env: EnvFactory, owned: dict[str, set[str]], tmp_path: Path
) -> None:
    gw = env.sim()
    if pin == "fingerprint":
        tls = TLSConfig(fingerprint_sha256=gw.fingerprint_sha256.replace(":", "").lower())
        reason = "tls_pin_mismatch"
    else:
        ca = tmp_path / "pinned.pem"
        ca.write_bytes(gw.cert_pem)
        tls = TLSConfig(ca_file=ca)
        reason = "tls"
    e = env(gw, tls=tls)
    all_ok(e.scrape())
    gw.rotate_certificate()  # like a firmware update or another device answering on the address
    e.restart_gateway()
    sent = len(gw.requests)
    for _ in range(2):
        s = e.scrape()
        assert s.value("powerwall_up") == 0
        assert set(s.success().values()) == {0.0}
        assert s.errors(AGG, reason) >= 1, s.text
        assert_no_stale(s, set(s.success()), owned)
    assert len(gw.requests) == sent, "no token or password may go to an unpinned certificate"
    status, page, _ = e.get("/", None)
    assert status == 200
    if pin == "fingerprint":
        assert b"pinned fingerprint" in page


# -------------------------------------------------------------------------- sessions and logins
def test_401_mid_session_relogs_in_once(env: EnvFactory) -> None:
    e = env()
    all_ok(e.scrape())
    assert e.gw.login_count == 1
    e.gw.invalidate_sessions()  # a gateway reboot
    all_ok(e.scrape())
    assert e.gw.login_count == 2
    e.gw.faults.set("status", 401, paths={ep.OPERATION.path}, times=1)  # one stray 401
    all_ok(e.scrape())
    assert e.gw.login_count == 3
    for _ in range(3):
        all_ok(e.scrape())
    assert e.gw.login_count == 3


def test_persistent_401_does_not_loop_logins(env: EnvFactory, owned: dict[str, set[str]]) -> None:
    """A gateway that accepts the login but refuses every read: one re-login, then a pause.

    Logging in again cannot fix a refused fresh session; without the pause each concurrent request
    would log in again on every scrape and the gateway would lock the account out.
    """
    e = env()
    all_ok(e.scrape())
    e.gw.faults.set("status", 401, paths=set(READ_PATHS))
    logins: list[int] = []
    for _ in range(4):
        s = e.scrape()
        assert s.value("powerwall_up") == 0
        assert set(s.success().values()) == {0.0}
        assert_no_stale(s, set(s.success()), owned)
        logins.append(e.gw.login_count)
    # One re-login for the first 401s (a request racing it with the new token may add one), then a
    # pause: no logins in the later scrapes.
    assert logins[0] <= 3 and logins[-1] == logins[0], logins
    assert (s.value("powerwall_gateway_cooldown_seconds") or 0) >= 55


def test_401_on_concurrent_scrapes_causes_exactly_one_relogin(env: EnvFactory) -> None:
    e = env()
    all_ok(e.scrape())
    e.gw.invalidate_sessions()
    e.gw.faults.delay_seconds = 0.2  # so the scrapes' requests overlap at the gateway
    results: list[Scrape] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            results.append(e.scrape())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert all(r.value("powerwall_up") == 1 for r in results)
    assert e.gw.login_count == 2
    logins = [r for r in e.gw.requests if r.path == LOGIN_PATH]
    assert len(logins) == 2


def test_429_storm_silences_the_gateway(env: EnvFactory, owned: dict[str, set[str]]) -> None:
    e = env()
    all_ok(e.scrape())
    e.gw.faults.status = 429
    s = e.scrape()
    assert s.value("powerwall_up") == 0
    assert set(s.success().values()) == {0.0}
    cooldown = s.value("powerwall_gateway_cooldown_seconds")
    # One burst is one cooldown episode: 5 min plus jitter, not escalated per concurrent 429.
    assert cooldown is not None and 290 <= cooldown <= 365, cooldown
    sent = len(e.gw.requests)
    e.gw.faults.clear()  # the gateway recovers, but we stay away for the cooldown
    for _ in range(5):
        s = e.scrape()
        assert s.elapsed < 0.5
        assert s.value("powerwall_up") == 0
        assert set(s.success().values()) == {0.0}
        assert s.errors(AGG, "cooldown") >= 1
        assert_no_stale(s, set(s.success()), owned)
    assert len(e.gw.requests) == sent, "no request may reach a gateway during its cooldown"
    assert e.gw.login_count == 1


# ------------------------------------------------------------------ unreachable gateways
def test_unresolvable_host(env: EnvFactory) -> None:
    # A 64-character label cannot be a host name: resolution fails before any DNS query leaves the
    # machine (a ".invalid" name would still be sent to the system's resolver).
    cfg = GatewayConfig(
        name="nowhere", host="a" * 64 + ".invalid", port=443, password=Secret(SIM_PASSWORD), min_interval_seconds=0
    )
    e = env(gateways=[cfg])
    for _ in range(3):
        s = e.scrape()
        assert s.value("powerwall_up", gateway="nowhere") == 0
        assert set(s.success().values()) == {0.0}
        assert s.value("powerwall_meter_power_watts") is None
    # At most one login attempt per scrape, however many endpoints wanted it.
    assert 1 <= s.logins("error") <= 3 and s.logins("success") == 0
    # No answer means no HTTP code: the failure is the outcome, and code stays empty.
    requests = s.samples["powerwall_gateway_requests_total"]
    assert requests and all(lbl["outcome"] == "connection" and lbl["code"] == "" for lbl, _ in requests)
    # Every endpoint has every reason from the start (at 0 where it never happened).
    assert s.errors(STATUS, "connection") >= 1
    assert s.value("powerwall_scrape_endpoint_errors_total", endpoint=STATUS, reason="tls_pin_mismatch") == 0


@pytest.mark.parametrize("mode", ["never_accepts", "accepts_never_answers"])
def test_blackholed_address(mode: str, env: EnvFactory) -> None:
    """A loopback socket that swallows connections: the scrape still ends at its deadline."""
    accepts = mode == "accepts_never_answers"
    hole = SilentListener(accept=accepts, backlog=64 if accepts else 0)
    port = hole.port
    cfg = GatewayConfig(
        name="hole",
        host="127.0.0.1",
        port=port,
        password=Secret(SIM_PASSWORD),
        tls=TLSConfig(insecure_skip_verify=True),
        timeout_seconds=5.0,
        min_interval_seconds=0.0,
    )
    e = env(gateways=[cfg])
    try:
        for _ in range(2):
            s = e.scrape()
            assert s.value("powerwall_up") == 0
            assert set(s.success().values()) == {0.0}
            settle()
        # The second scrape's attempt may still be counting when the scrape is rendered.
        assert s.logins("success") == 0 and 1 <= s.logins("error") <= 2
    finally:
        hole.close()


def test_gateway_flapping(env: EnvFactory, owned: dict[str, set[str]]) -> None:
    """WiFi gateways drop off and come back: up follows, nothing stale while down, no login storm."""
    e = env()
    for cycle in range(3):
        all_ok(e.scrape())
        e.gw.stop()
        s = e.scrape()
        assert s.value("powerwall_up") == 0
        assert set(s.success().values()) == {0.0}
        assert_no_stale(s, set(s.success()), owned)
        assert s.value("powerwall_info") is None
        if cycle == 2:
            e.gw.invalidate_sessions()  # this time it rebooted
        e.gw.start()
    all_ok(e.scrape())
    assert e.gw.login_count == 2
    # Fault toggling: every other scrape resets every connection.
    for i in range(6):
        e.gw.faults.reset = i % 2 == 0
        s = e.scrape()
        assert s.value("powerwall_up") == (0 if i % 2 == 0 else 1)
    assert e.gw.login_count == 2


# -------------------------------------------------------------------- gateway states and payloads
def test_sitemaster_stopped(env: EnvFactory, owned: dict[str, set[str]]) -> None:
    e = env()
    all_ok(e.scrape())
    e.gw.faults.sitemaster_stopped = True
    for _ in range(2):
        s = e.scrape()
        assert s.value("powerwall_up") == 1
        assert s.success()[AGG] == 0
        assert s.success()[SYS] == 0
        assert s.value("powerwall_sitemaster_running") == 0
        assert not {n for n in s.names() if n.startswith("powerwall_meter_")}, "no invented meter values"
        assert_no_stale(s, {p for p, v in s.success().items() if v == 0}, owned)
    e.gw.faults.clear()
    all_ok(e.scrape())


def test_vitals_404_is_supported_0_and_logged_once(
    env: EnvFactory, owned: dict[str, set[str]], caplog: pytest.LogCaptureFixture
) -> None:
    e = env()
    e.gw.faults.vitals_absent = True
    for _ in range(4):
        s = e.scrape()
        assert s.value("powerwall_up") == 1
        assert s.value("powerwall_vitals_supported") == 0
        assert VITALS.path not in s.success(), "an absent optional endpoint is not a failure"
        assert set(s.success().values()) == {1.0}
        for path, names in owned.items():
            if path not in (VITALS.path, SOLAR_POWERWALL.path):
                assert names <= s.names(), (path, sorted(names - s.names()))
        # Only the vitals status gauge (now 0) remains of what vitals answers give.
        stale = (owned[VITALS.path] - owned[SOLAR_POWERWALL.path] - {"powerwall_vitals_supported"}) & s.names()
        assert not stale, stale
    vitals_asks = [r for r in e.gw.requests if r.path == VITALS.path]
    assert len(vitals_asks) == 1, "404 is cached negatively"
    notes = [r for r in caplog.records if VITALS.path in r.getMessage() and r.levelno >= logging.INFO]
    assert len(notes) == 1, [r.getMessage() for r in notes]


def test_vitals_garbage_counts_a_decode_error_and_keeps_the_rest(env: EnvFactory, owned: dict[str, set[str]]) -> None:
    e = env()
    base = e.scrape()
    all_ok(base)
    assert base.errors(VITALS.path, "decode") == 0
    e.gw.faults.set("garbage", 4096, paths={VITALS.path})
    for n in (1, 2):
        s = e.scrape()
        assert s.value("powerwall_up") == 1
        assert s.success() == {p: (0.0 if p == VITALS.path else 1.0) for p in base.success()}
        assert s.errors(VITALS.path, "decode") == n
        assert_no_stale(s, {VITALS.path}, owned)
        assert s.value("powerwall_meter_power_watts", meter="site") is not None


def _replay_copy(tmp_path: Path) -> Path:
    """The scrape endpoints of a real capture, copied into tmp_path so a test may edit them."""
    src = require_fixtures() / FW
    dst = tmp_path / "replay"
    for endpoint in ALL_REQUESTS:
        for suffix in (".json", ".http"):
            f = src / (endpoint.path.lstrip("/") + suffix)
            if f.is_file():
                target = dst / f.relative_to(src)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, target)
    return dst


def _edit(root: Path, path: str, change: Callable[[Any], Any]) -> None:
    f = root / (path.lstrip("/") + ".json")
    f.write_text(json.dumps(change(json.loads(f.read_text()))))


def test_nulls_missing_and_new_fields(env: EnvFactory, tmp_path: Path) -> None:
    """Firmware changes: a null or missing field is an absent series (never 0); new fields and enum
    values pass through without failing the endpoint."""
    root = _replay_copy(tmp_path)

    def aggregates(d: dict[str, Any]) -> dict[str, Any]:
        d["site"]["instant_power"] = None
        del d["battery"]["instant_power"]
        d["load"]["brand_new_field"] = 42.5
        d["solar"]["energy_exported"] = None
        d["busway2"] = {"instant_power": 12.0, "energy_imported": 1.0, "energy_exported": 2.0}
        d["weird"] = None
        return d

    def operation(d: dict[str, Any]) -> dict[str, Any]:
        d["real_mode"] = "future_mode"
        d["backup_reserve_percent"] = None
        return d

    _edit(root, AGG, aggregates)
    _edit(root, ep.OPERATION.path, operation)
    _edit(root, ep.SOE.path, lambda d: {"percentage": None, "new": {"nested": [1, 2]}})
    _edit(root, ep.GRID_STATUS.path, lambda d: {**d, "grid_status": "SystemFutureState"})
    _edit(root, ep.SITEMASTER.path, lambda d: {k: v for k, v in d.items() if k != "running"})
    e = env(env.sim(replay_dir=root))
    s = e.scrape()
    assert s.value("powerwall_up") == 1
    assert set(s.success().values()) == {1.0}, s.success()
    assert s.value("powerwall_meter_power_watts", meter="site") is None
    assert s.value("powerwall_meter_power_watts", meter="battery") is None
    assert s.value("powerwall_meter_power_watts", meter="load") is not None
    assert s.value("powerwall_meter_power_watts", meter="busway2") == 12.0
    assert s.value("powerwall_meter_energy_exported_joules_total", meter="solar") is None
    assert s.value("powerwall_meter_energy_imported_joules_total", meter="site") is not None
    assert s.value("powerwall_operation_info", mode="future_mode") == 1
    # state sets: the unknown current value is added as the 1, every known one stays at 0
    assert s.value("powerwall_operation_mode", mode="future_mode") == 1
    assert s.value("powerwall_operation_mode", mode="self_consumption") == 0
    assert s.value("powerwall_backup_reserve_ratio") is None
    assert s.value("powerwall_battery_charge_ratio") is None
    assert s.value("powerwall_grid_status_info", grid_status="SystemFutureState") == 1
    assert s.value("powerwall_grid_state", state="SystemFutureState") == 1
    assert s.value("powerwall_grid_state", state="SystemGridConnected") == 0
    assert s.value("powerwall_grid_connected") == 0
    assert s.value("powerwall_sitemaster_running") is None
    assert s.value("powerwall_sitemaster_connected_to_tesla") == 1
    assert s.value("powerwall_info") is not None


def test_counter_dip_never_decreases_the_exposed_total(env: EnvFactory, tmp_path: Path) -> None:
    root = _replay_copy(tmp_path)
    name = "powerwall_meter_energy_imported_joules_total"
    original = json.loads((root / "api/meters/aggregates.json").read_text())["site"]["energy_imported"]

    def set_site_import(wh: float) -> None:
        def change(d: dict[str, Any]) -> dict[str, Any]:
            d["site"]["energy_imported"] = wh
            return d

        _edit(root, AGG, change)

    e = env(env.sim(replay_dir=root))
    readings = [original, original - 5.0, 0.0, original * 0.5, original + 1.0, original - 1.0]
    exposed: list[float] = []
    dips: list[float] = []
    for wh in readings:
        set_site_import(wh)
        s = e.scrape()
        v = s.value(name, meter="site")
        assert v is not None
        exposed.append(v)
        dips.append(s.value("powerwall_monotonic_dips_total", metric=name) or 0.0)
    assert exposed == sorted(exposed), f"an exposed _total went down: {exposed}"
    assert exposed[0] == pytest.approx(original * 3600)
    assert exposed[4] == pytest.approx((original + 1.0) * 3600)
    assert dips == [0, 1, 2, 3, 3, 4]


# ------------------------------------------------------------- nothing leaks across many faults
def test_no_thread_growth_across_repeated_faults(env: EnvFactory) -> None:
    e = env()
    all_ok(e.scrape())
    counts: list[int] = []
    cycle = [("reset", True), ("status", 503), ("delay_seconds", SLOW), ("html", True)]
    for _round in range(3):
        for fault, value in cycle:
            e.gw.faults.clear()
            e.gw.faults.set(fault, value)
            e.scrape()
        counts.append(len(exporter_threads()))
    e.gw.faults.clear()
    all_ok(e.scrape())
    # The pool reuses its workers: the count after round 3 is no higher than after round 1 (+ slack).
    assert counts[-1] <= counts[0] + 2, counts
