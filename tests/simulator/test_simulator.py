"""The simulated gateway behaves like the real one where a client can tell: TLS, sessions, content.

Fault switches are in test_simulator_faults.py.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from exporter.proto import vitals_pb2 as _vitals_pb2
from exporter.simulator import (
    LOGIN_PATH,
    MODEL_PATHS,
    SimulatedGateway,
    SiteModel,
    Snapshot,
    is_dangerous,
    parse_http,
)
from exporter.simulator.model import STEP_SECONDS
from exporter.simulator.payloads import JSON_PAGES, go_duration, rfc3339_ns
from exporter.simulator.testclient import SimClient
from tests.simtime import SIM_START
from tests.support.polling import wait_for
from tests.support.prereqs import require_fixtures
from tests.support.processes import start_process

PB: Any = _vitals_pb2  # generated module: no type information
PW = "sim-password"
# 2024-06-21 00:00 at UTC-8: midnight local on a long day.
MIDNIGHT = 1718956800.0  # 08:00 UTC


class FakeClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def gw() -> Iterator[SimulatedGateway]:
    g = SimulatedGateway(password=PW, model=SiteModel(start_time=SIM_START, seed=1, powerwalls=2, solar_powerwall=True))
    with g:
        yield g


@pytest.fixture
def client(gw: SimulatedGateway) -> SimClient:
    c = SimClient(gw)
    assert c.login().status == 200
    return c


# ------------------------------------------------------------------ login and sessions
def test_login_returns_gateway_shaped_answer_and_cookies(gw: SimulatedGateway) -> None:
    c = SimClient(gw)
    r = c.login()
    assert r.status == 200
    body = r.json()
    assert set(body) == {"email", "firstname", "lastname", "roles", "token", "provider", "loginTime"}
    assert body["roles"] == ["Home_Owner"] and body["provider"] == "Basic"
    cookies = r.headers.get_all("Set-Cookie") or []
    assert any(ck.startswith(f"AuthCookie={body['token']};") for ck in cookies)
    assert any(ck.startswith("UserRecord=") for ck in cookies)
    assert gw.login_count == 1
    sent = gw.requests[0].json()
    assert sent["username"] == "customer" and sent["password"] == PW


def test_cookie_and_bearer_auth_work_and_missing_auth_is_401(gw: SimulatedGateway) -> None:
    c = SimClient(gw)
    c.login()
    assert c.get("/api/status").status == 200  # bearer
    r = c.get("/api/status", headers={"Cookie": f"AuthCookie={c.token}; UserRecord=x"})
    assert r.status == 200
    assert c.get("/api/status", auth=False).status == 401
    assert c.get("/api/status", headers={"Authorization": "Bearer nope"}).status == 401
    assert c.get("/api/status", headers={"Cookie": "AuthCookie=nope"}).status == 401


def test_bad_password_and_bad_username(gw: SimulatedGateway) -> None:
    c = SimClient(gw)
    r = c.login(password="wrong")
    assert r.status == 401
    assert r.json() == {"code": 401, "error": "bad credentials", "message": "Login Error"}
    r = c.request("POST", "/api/login/Basic", json.dumps({"username": "installer", "password": PW}).encode())
    assert r.status == 401
    assert c.request("POST", "/api/login/Basic", b"not json").status == 400
    assert gw.login_count == 3


def test_invalidate_sessions_gives_401_until_next_login(client: SimClient, gw: SimulatedGateway) -> None:
    assert client.get("/api/sitemaster").status == 200
    gw.invalidate_sessions()
    assert client.get("/api/sitemaster").status == 401
    client.login()
    assert client.get("/api/sitemaster").status == 200


def test_force_sm_off_is_refused_and_flagged(gw: SimulatedGateway) -> None:
    c = SimClient(gw)
    gw.assert_safe()
    r = c.login(force_sm_off=False)  # even false: the key itself must never be sent
    assert r.status == 400
    assert gw.force_sm_off_seen
    with pytest.raises(AssertionError, match="force_sm_off"):
        gw.assert_safe()


def test_dangerous_calls_are_answered_and_recorded(client: SimClient, gw: SimulatedGateway) -> None:
    assert client.get("/api/sitemaster/stop").status == 200
    assert client.request("POST", "/api/operation", b'{"real_mode":"backup"}').status == 200
    assert client.get("/api/meters/METER1/verify").status == 200
    assert client.get("/api/operation").status == 200  # the GET is harmless
    assert [(r.method, r.path) for r in gw.dangerous_calls] == [
        ("GET", "/api/sitemaster/stop"),
        ("POST", "/api/operation"),
        ("GET", "/api/meters/METER1/verify"),
    ]
    with pytest.raises(AssertionError, match="sitemaster/stop"):
        gw.assert_safe()
    assert is_dangerous("GET", "/api/logout") and not is_dangerous("POST", "/api/login/Basic")


def test_unknown_paths_are_404_and_requests_are_recorded(client: SimClient, gw: SimulatedGateway) -> None:
    assert client.get("/api/meters/readings").status == 404
    assert client.get("/").status == 404
    assert client.get("/api/status?x=1").status == 200
    paths = [(r.method, r.path, r.query, r.status) for r in gw.requests]
    assert paths[-3:] == [
        ("GET", "/api/meters/readings", "", 404),
        ("GET", "/", "", 404),
        ("GET", "/api/status", "x=1", 200),
    ]
    assert {r.path for r in gw.unexpected_requests()} == {"/api/meters/readings", "/"}
    gw.clear_requests()
    assert gw.requests == []


def test_every_model_path_answers(client: SimClient) -> None:
    for path in sorted(MODEL_PATHS):
        r = client.get(path)
        assert r.status == 200, path
        if path != "/api/devices/vitals":
            assert isinstance(r.json(), dict)
            assert r.headers["Content-Type"] == "application/json"


def test_the_json_routing_table_covers_every_model_path_but_vitals() -> None:
    assert set(JSON_PAGES) | {"/api/devices/vitals"} == MODEL_PATHS


def test_solar_powerwall_absent_without_pvac() -> None:
    with SimulatedGateway(password=PW, model=SiteModel(start_time=SIM_START, seed=2, solar_powerwall=False)) as g:
        c = SimClient(g)
        c.login()
        assert c.get("/api/solar_powerwall").status == 404
        msg = PB.DevicesWithVitals.FromString(c.get("/api/devices/vitals").body)
        types = {d.device.device.din.value.split("--")[0] for d in msg.devices}
        assert "PVAC" not in types and "PVS" not in types


# ------------------------------------------------------------------ TLS
def test_certificate_is_gateway_like_and_pinnable(gw: SimulatedGateway) -> None:
    ctx = ssl.create_default_context(cafile=str(gw.cert_path))
    with (
        socket.create_connection(("127.0.0.1", gw.port), 5) as raw,
        ctx.wrap_socket(raw, server_hostname="powerwall") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        peer: Any = tls.getpeercert()
    assert der is not None
    fp = ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
    assert fp == gw.fingerprint_sha256
    sans = {v for _, v in peer["subjectAltName"]}
    assert {"teg", "powerwall", "powerpack", "192.168.91.1"} <= sans
    assert "127.0.0.1" not in sans
    assert gw.cert_pem == gw.cert_path.read_bytes()


def test_hostname_127_0_0_1_fails_verification_like_a_real_lan_ip(gw: SimulatedGateway) -> None:
    ctx = ssl.create_default_context(cafile=str(gw.cert_path))
    with (
        socket.create_connection(("127.0.0.1", gw.port), 5) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        ctx.wrap_socket(raw, server_hostname="127.0.0.1")


@pytest.mark.parametrize("name", ["teg", "powerwall", "POWERPACK"])
def test_known_sni_names_are_accepted(gw: SimulatedGateway, name: str) -> None:
    c = SimClient(gw, sni=name)
    assert c.login().status == 200


def test_no_sni_is_accepted(gw: SimulatedGateway) -> None:
    assert SimClient(gw, sni=None).login().status == 200


def test_unexpected_sni_is_rejected(gw: SimulatedGateway) -> None:
    ctx = ssl.create_default_context(cafile=str(gw.cert_path))
    ctx.check_hostname = False
    with (
        socket.create_connection(("127.0.0.1", gw.port), 5) as raw,
        pytest.raises((ssl.SSLError, ConnectionError)),
    ):
        ctx.wrap_socket(raw, server_hostname="gateway.example.com")
    # The server thread records the failed handshake a moment after the client saw it fail.
    wait_for("the failed handshake on record", lambda: gw.handshake_failures, timeout=5)
    assert gw.requests == []


def test_rotate_certificate_breaks_the_old_pin(gw: SimulatedGateway) -> None:
    old_path, old_fp = gw.cert_path, gw.fingerprint_sha256
    gw.rotate_certificate()
    assert gw.fingerprint_sha256 != old_fp and gw.cert_path != old_path
    ctx = ssl.create_default_context(cafile=str(old_path))
    with (
        socket.create_connection(("127.0.0.1", gw.port), 5) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        ctx.wrap_socket(raw, server_hostname="powerwall")
    assert SimClient(gw).login().status == 200  # new pin works


def test_requests_with_per_request_verify_and_server_name(gw: SimulatedGateway) -> None:
    """The recipe for `requests`: verify= per request (REQUESTS_CA_BUNDLE overrides Session.verify)
    and an adapter that sets the TLS server name the certificate carries."""

    class ServerName(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            kwargs["server_hostname"] = "powerwall"
            super().init_poolmanager(*args, **kwargs)

    with requests.Session() as s:
        s.mount("https://", ServerName())
        r = s.post(
            f"{gw.url}/api/login/Basic",
            json={"username": "customer", "password": PW, "email": "", "clientInfo": {}},
            verify=str(gw.cert_path),
            timeout=5,
        )
        assert r.status_code == 200
        assert s.cookies.get("AuthCookie") == r.json()["token"]
        r = s.get(f"{gw.url}/api/meters/aggregates", verify=str(gw.cert_path), timeout=5)
        assert r.status_code == 200 and "site" in r.json()


# ------------------------------------------------------------------ model
def _day(seed: int = 1, days: float = 2.0, **kw: object) -> list[Snapshot]:
    clock = FakeClock()
    m = SiteModel(seed=seed, clock=clock, start_time=MIDNIGHT, **kw)  # type: ignore[arg-type]
    return [m.snapshot(at=MIDNIGHT + i * 600.0) for i in range(int(days * 144))]


def test_model_solar_follows_the_sun() -> None:
    snaps = _day()
    for s in snaps:
        hour = ((s.sim_time - MIDNIGHT) % 86400) / 3600
        if hour < 6 or hour > 20:
            assert s.solar.power_w == 0, hour
        if 11 <= hour <= 13:
            assert s.solar.power_w > 1000, hour
        assert s.solar.power_w >= 0 and s.load.power_w > 0


def test_model_battery_stays_within_reserve_and_full() -> None:
    snaps = _day(days=3)
    socs = [s.soe_percent for s in snaps]
    assert all(24.0 - 0.5 <= x <= 100.0 for x in socs), (min(socs), max(socs))
    assert max(socs) - min(socs) > 20  # it actually cycles
    assert any(s.battery.power_w < -100 for s in snaps) and any(s.battery.power_w > 100 for s in snaps)


def test_model_energy_balance_and_monotonic_counters() -> None:
    snaps = _day(days=2)
    for s in snaps:
        assert s.load.power_w == pytest.approx(s.site.power_w + s.battery.power_w + s.solar.power_w, abs=1e-6)
        assert sum(b.power_w for b in s.blocks) == pytest.approx(s.battery.power_w)
    for a, b in itertools.pairwise(snaps):
        for name in ("site", "battery", "load", "solar"):
            ma, mb = getattr(a, name), getattr(b, name)
            assert mb.imported_wh >= ma.imported_wh and mb.exported_wh >= ma.exported_wh, name
        for ba, bb in zip(a.blocks, b.blocks, strict=True):
            assert bb.energy_charged_wh >= ba.energy_charged_wh
            assert bb.energy_discharged_wh >= ba.energy_discharged_wh
        assert b.solar_lifetime_wh >= a.solar_lifetime_wh
    # Counters integrate power: a day of load energy matches the average load power.
    first, last = snaps[0], snaps[144]
    avg_load = sum(s.load.power_w for s in snaps[:144]) / 144
    assert last.load.imported_wh - first.load.imported_wh == pytest.approx(avg_load * 24, rel=0.1)


def test_model_is_deterministic_whatever_the_query_pattern() -> None:
    clock = FakeClock()
    a = SiteModel(seed=5, clock=clock, start_time=MIDNIGHT)
    b = SiteModel(seed=5, clock=clock, start_time=MIDNIGHT)
    for i in range(50):  # a is queried often, b only at the end
        a.snapshot(at=MIDNIGHT + i * 997.0)
    t = MIDNIGHT + 50 * 997.0
    assert a.snapshot(at=t) == b.snapshot(at=t)
    c = SiteModel(seed=6, clock=clock, start_time=MIDNIGHT)
    assert c.snapshot(at=t) != b.snapshot(at=t)


def test_model_time_scale_and_injected_clock() -> None:
    clock = FakeClock(500.0)
    m = SiteModel(seed=1, clock=clock, start_time=MIDNIGHT, time_scale=60.0)
    assert m.sim_time() == MIDNIGHT
    clock.advance(60.0)
    assert m.sim_time() == MIDNIGHT + 3600.0
    s = m.snapshot()
    assert s.sim_time == MIDNIGHT + 3600.0
    # Asking for an earlier time never rewinds.
    assert m.snapshot(at=MIDNIGHT).sim_time >= MIDNIGHT + 3600.0 - STEP_SECONDS


def test_model_random_outages_island_and_recover() -> None:
    snaps = _day(seed=1, days=12, random_outages=True)  # seed 1 has outages in these 12 days
    islanded = [s for s in snaps if s.islanded]
    assert islanded, "expected at least one random outage in 12 simulated days"
    assert len(islanded) < len(snaps) / 4
    for s in islanded:
        assert s.site.power_w == 0 and s.grid_status == "SystemIslandedActive"
        assert s.load.power_w == pytest.approx(s.battery.power_w + s.solar.power_w, abs=1e-6)
    assert not any(s.islanded for s in _day(seed=1, days=12))  # off by default


def test_model_over_http_moves_with_simulated_time() -> None:
    clock = FakeClock()
    model = SiteModel(seed=1, clock=clock, start_time=MIDNIGHT, time_scale=1.0)
    with SimulatedGateway(password=PW, model=model) as g:
        c = SimClient(g)
        c.login()
        night = c.get("/api/meters/aggregates").json()
        e0 = night["load"]["energy_imported"]
        assert night["solar"]["instant_power"] == 0
        clock.advance(12 * 3600)
        noon = c.get("/api/meters/aggregates").json()
        assert noon["solar"]["instant_power"] > 500
        assert noon["load"]["energy_imported"] > e0 + 12 * 80  # >= 80 W minimum load for 12 h
        soe = c.get("/api/system_status/soe").json()["percentage"]
        assert 0 < soe <= 100
        sysst = c.get("/api/system_status").json()
        assert len(sysst["battery_blocks"]) == 2
        assert sysst["nominal_energy_remaining"] == pytest.approx(
            sum(b["nominal_energy_remaining"] for b in sysst["battery_blocks"]), abs=2
        )
        status = c.get("/api/status").json()
        assert status["device_type"] == "teg" and status["up_time_seconds"].endswith("s")


def test_json_field_names_match_the_captures(client: SimClient) -> None:
    """Every field the captures have for these endpoints, we have too (the same names, no typos)."""
    fixtures = require_fixtures()
    pairs = {
        "/api/meters/aggregates": "pypowerwall-sim/api/meters/aggregates.json",
        "/api/system_status/soe": "fw-21.39.1/api/system_status/soe.json",
        "/api/system_status/grid_status": "fw-21.39.1/api/system_status/grid_status.json",
        "/api/operation": "fw-21.39.1/api/operation.json",
        "/api/site_info": "pypowerwall-sim/api/site_info.json",
        "/api/status": "pypowerwall-sim/api/status.json",
        "/api/system_status": "fw-21.39.1/api/system_status.json",
        "/api/sitemaster": "fw-21.39.1/api/sitemaster.json",
    }

    def keys(obj: object, prefix: str = "") -> set[str]:
        out: set[str] = set()
        if isinstance(obj, dict):
            for k, v in obj.items():
                out.add(prefix + k)
                out |= keys(v, prefix + k + ".")
        elif isinstance(obj, list) and obj:
            out |= keys(obj[0], prefix + "[].")
        return out

    for path, fixture in pairs.items():
        ours = keys(client.get(path).json())
        theirs = keys(json.loads((fixtures / fixture).read_text()))
        theirs = {k for k in theirs if not k.startswith(("battery_blocks.[].", "grid_code."))} | {
            k for k in theirs if k.startswith("battery_blocks.[].")
        }
        missing = theirs - ours - {"leader", "followers", "measured_frequency"}
        missing -= {"grid_code.distributor", "grid_code.retailer", "grid_code.region"}
        assert not missing, (path, missing)
    pv = client.get("/api/solar_powerwall").json()
    assert {"pvac_status", "pvs_status", "pv_power_limit", "pvac_alerts", "pvs_alerts"} <= set(pv)
    assert len(pv["pvac_status"]["string_vitals"]) == 4


def test_go_duration_and_timestamps() -> None:
    assert go_duration(55 * 3600 + 46 * 60 + 11.021029341) == "55h46m11.021029341s"
    assert go_duration(61.5) == "1m1.5s"
    assert go_duration(3.0) == "3s"
    assert rfc3339_ns(1639380286.5, -7) == "2021-12-13T00:24:46.500000000-07:00"


# ------------------------------------------------------------------ vitals
def test_vitals_decode_and_match_the_model(client: SimClient) -> None:
    r = client.get("/api/devices/vitals")
    assert r.headers["Content-Type"] == "application/octet-stream"
    msg = PB.DevicesWithVitals.FromString(r.body)
    devices = {d.device.device.din.value: d for d in msg.devices}
    types = sorted(din.split("--")[0] for din in devices)
    assert types == sorted(
        ["STSTSM", "TESYNC", "TETHC", "TEPOD", "TEPINV", "TETHC", "TEPOD", "TEPINV", "PVAC", "PVS", "NEURIO"]
    )
    by_type: dict[str, list[dict[str, Any]]] = {}
    parents: dict[str, str] = {}
    for din, d in devices.items():
        dev = d.device.device
        vitals: dict[str, Any] = {}
        for v in d.vitals:
            vitals[v.name] = getattr(v, v.WhichOneof("value"))
            assert v.WhichOneof("value") != "intValue"  # like the real gateway: no ints
        by_type.setdefault(din.split("--")[0], []).append(vitals)
        parents[din.split("--")[0]] = dev.componentParentDin.value
        assert dev.lastCommunicationTime.seconds > 0
        if not din.startswith("NEURIO"):
            assert din == f"{din.split('--')[0]}--{dev.partNumber.value}--{dev.serialNumber.value}"
    assert parents["TESYNC"].startswith("STSTSM--") and parents["PVS"].startswith("PVAC--")
    assert parents["TEPOD"].startswith("TETHC--") and parents["PVAC"].startswith("TETHC--")
    assert parents["STSTSM"] == ""
    sysst = client.get("/api/system_status").json()
    pinv_kw = sum(float(v["PINV_Pout"]) for v in by_type["TEPINV"])
    assert pinv_kw * 1000 == pytest.approx(sum(b["p_out"] for b in sysst["battery_blocks"]), abs=300)
    pvac = by_type["PVAC"][0]
    assert float(pvac["PVAC_Pout"]) >= 0
    assert {f"PVAC_PVMeasuredPower_{s}" for s in "ABCD"} <= set(pvac)
    tesync = by_type["TESYNC"][0]
    assert tesync["ISLAND_GridConnected"] is True
    assert {"METER_X_CTA_InstRealPower", "METER_Y_LifetimeEnergyImport", "ISLAND_VL1N_Main"} <= set(tesync)
    assert isinstance(by_type["NEURIO"][0]["NEURIO_CT0_InstRealPower"], float)


# ------------------------------------------------------------------ replay
@pytest.mark.parametrize("capture", ["fw-21.39.1", "pypowerwall-sim"])
def test_replay_serves_captures_verbatim(capture: str) -> None:
    base = require_fixtures() / capture
    with SimulatedGateway(password=PW, replay_dir=base) as g:
        c = SimClient(g)
        assert c.get("/api/meters/aggregates", auth=False).status == 401  # auth still applies
        assert c.login().status == 200
        for rel in ("meters/aggregates", "system_status/soe", "status", "sitemaster", "operation"):
            r = c.get(f"/api/{rel}")
            assert r.status == 200 and r.headers["Content-Type"] == "application/json"
            assert r.body == (base / "api" / f"{rel}.json").read_bytes()
        assert c.get("/api/devices/vitals").status == 404
        assert c.get("/api/does/not/exist").status == 404
        assert c.get("/api/../../etc/passwd").status == 404
        g.faults.status = 503
        assert c.get("/api/status").status == 503


def test_replay_http_files_and_vitals_file() -> None:
    base = require_fixtures() / "fw-21.39.1"
    pb = base.parent / "vitals" / "pwsim-vitals.pb"
    with SimulatedGateway(password=PW, replay_dir=base, vitals_file=pb) as g:
        c = SimClient(g)
        c.login()
        r = c.get("/api/powerwalls/phase_usages")
        assert r.status == 500
        assert r.json()["error"] == "no phase information"
        assert r.headers["Cache-Control"] == "no-cache, no-store"
        v = c.get("/api/devices/vitals")
        assert v.status == 200 and v.body == pb.read_bytes()
        assert len(PB.DevicesWithVitals.FromString(v.body).devices) == 13
        # Dangerous calls stay intercepted even where a capture file exists.
        assert c.get("/api/config/completed").status == 200
        assert [r.path for r in g.dangerous_calls] == ["/api/config/completed"]


def test_parse_http_variants() -> None:
    r = parse_http(b"HTTP/1.1 429 Too Many\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
    assert r.status == 429 and r.headers == [("Content-Type", "application/json")] and r.body == b"{}"
    assert parse_http(b"HTTP/2 502 \n\n").status == 502
    with pytest.raises(ValueError):
        parse_http(b"garbage\n\nx")


# ------------------------------------------------------------------ lifecycle
def test_stop_closes_open_connections_and_leaks_no_threads() -> None:
    before = set(threading.enumerate())
    g = SimulatedGateway(password=PW).start()
    port = g.port
    c = SimClient(g)
    c.login()
    ctx = c.context()
    raw = socket.create_connection(("127.0.0.1", g.port), 5)
    tls = ctx.wrap_socket(raw, server_hostname="powerwall")  # idle keep-alive connection
    g.faults.slow_drip = 0.5
    errors: list[BaseException] = []

    def dripped_login() -> None:
        try:
            SimClient(g, timeout=10).login()
        except Exception as exc:  # the stop cuts the answer short
            errors.append(exc)

    hung = threading.Thread(target=dripped_login, daemon=True)
    hung.start()
    # Stop while the login answer is being dripped: wait until the simulator has the request.
    wait_for("the dripped login to reach the simulator", lambda: sum(r.path == LOGIN_PATH for r in g.requests) >= 2)
    t0 = time.monotonic()
    g.stop()
    assert time.monotonic() - t0 < 3
    hung.join(5)
    assert errors  # the dripping answer was cut short by stop()
    tls.close()
    assert set(threading.enumerate()) - before == set()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), 0.5)


def test_module_entry_point_runs_until_signal(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    argv = [sys.executable, "-m", "exporter.simulator", "--port", "0", "--password", "x", "--cert-out", str(cert)]
    sim = start_process("simulator", argv, tmp_path)
    try:
        # Start-up imports and key generation take a while on a loaded CI machine.
        url = sim.wait_until("the simulator's URL", lambda: re.search(r" URL (https://\S+)", sim.log()), timeout=60)[1]
        assert url.startswith("https://127.0.0.1:")
        assert cert.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
        sim.signal(signal.SIGINT)
        assert sim.proc.wait(30) == 0
    finally:
        sim.stop()
