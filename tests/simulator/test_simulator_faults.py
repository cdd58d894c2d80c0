"""Each Faults switch does what its documentation says (exporter/simulator/faults.py)."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator

import pytest

from exporter.simulator import FAULT_NAMES, Faults, SimulatedGateway, SiteModel, gunzip_size
from exporter.simulator.faults import TEDAPI_FAULT_NAMES, V1R_FAULT_NAMES, _Fault
from exporter.simulator.testclient import SimClient
from tests.simtime import SIM_START
from tests.support.prereqs import require_fixtures

PW = "sim-password"


@pytest.fixture
def gw() -> Iterator[SimulatedGateway]:
    with SimulatedGateway(password=PW, model=SiteModel(start_time=SIM_START, seed=1)) as g:
        yield g


@pytest.fixture
def client(gw: SimulatedGateway) -> SimClient:
    c = SimClient(gw)
    assert c.login().status == 200
    return c


def test_faults_api_set_clear_paths_times() -> None:
    f = Faults()
    assert f.status is None and f.active() == {}
    f.status = 503
    assert f.status == 503 and f.peek("status", "/any") == 503
    f.set("status", 500, paths={"/api/status"}, times=2)
    assert f.peek("status", "/api/other") is None
    assert f.take("status", "/api/status") == 500
    assert f.take("status", "/api/status") == 500
    assert f.take("status", "/api/status") is None  # budget used up
    f.delay_seconds = 1.0
    f.html = True
    f.clear("html")
    assert f.active() == {"delay_seconds": 1.0}
    f.delay_seconds = 0  # zero/False/None = off
    assert f.active() == {}
    with pytest.raises(ValueError):
        f.set("nonsense", 1)


def test_every_fault_is_listed_once_and_is_a_working_attribute() -> None:
    """The name lists are what ``Faults.set`` accepts and what tests iterate over (every TEDAPI fault
    must leave the JSON API alone, test_simulator_tedapi.py). A fault added as an attribute but not
    listed could not be set by name; one listed without an attribute would not exist."""
    listed = [*FAULT_NAMES, *TEDAPI_FAULT_NAMES, *V1R_FAULT_NAMES]
    assert len(listed) == len(set(listed)), "a fault is listed twice"
    assert set(listed) == {name for name, attr in vars(Faults).items() if isinstance(attr, _Fault)}
    # The group decides which paths a fault acts on; the prefix says so where it is used.
    assert all(n.startswith("tedapi_") for n in TEDAPI_FAULT_NAMES)
    assert all(n.startswith("v1r_") for n in V1R_FAULT_NAMES)
    assert not [n for n in FAULT_NAMES if n.startswith(("tedapi_", "v1r_"))]
    for name in listed:
        f = Faults()
        setattr(f, name, True)
        assert f.active() == {name: True} and getattr(f, name) is True, name
        f.clear(name)
        assert f.active() == {}, name


def test_delay_seconds(client: SimClient, gw: SimulatedGateway) -> None:
    gw.faults.set("delay_seconds", 0.3, paths={"/api/status"})
    t0 = time.monotonic()
    assert client.get("/api/status").status == 200
    assert time.monotonic() - t0 >= 0.3
    t0 = time.monotonic()
    client.get("/api/operation")
    assert time.monotonic() - t0 < 0.25


@pytest.mark.parametrize(
    ("code", "check"),
    [
        (401, lambda r: r.json()["code"] == 401),
        (403, lambda r: r.json()["code"] == 403),
        (404, lambda r: b"not found" in r.body),
        (429, lambda r: r.json()["message"] == "API Limit Reached"),
        (500, lambda r: r.json()["code"] == 500),
        (502, lambda r: r.body == b"" and "Content-Type" not in r.headers),
        (503, lambda r: r.status == 503),
    ],
)
def test_status_forced_per_path(client: SimClient, gw: SimulatedGateway, code: int, check: object) -> None:
    gw.faults.set("status", code, paths={"/api/meters/aggregates"})
    r = client.get("/api/meters/aggregates")
    assert r.status == code
    assert callable(check) and check(r)
    assert client.get("/api/system_status/soe").status == 200
    assert gw.requests[-2].status == code


def test_status_once_then_recovers(client: SimClient, gw: SimulatedGateway) -> None:
    gw.faults.set("status", 503, times=1)
    assert client.get("/api/status").status == 503
    assert client.get("/api/status").status == 200


def test_retry_after_on_429(client: SimClient, gw: SimulatedGateway) -> None:
    gw.faults.status = 429
    assert "Retry-After" not in client.get("/api/status").headers
    gw.faults.retry_after = 120
    assert client.get("/api/status").headers["Retry-After"] == "120"


def test_login_status(gw: SimulatedGateway) -> None:
    c = SimClient(gw)
    gw.faults.login_status = 429
    gw.faults.retry_after = "300"
    r = c.login()
    assert r.status == 429 and r.headers["Retry-After"] == "300"
    assert r.json()["error"] == "Api Limit reached for this endpoint"
    gw.faults.login_status = 401
    r = c.login()
    assert r.status == 401 and r.json()["error"] == "bad credentials"
    gw.faults.clear()
    assert c.login().status == 200
    assert gw.login_count == 3


def test_html(client: SimClient, gw: SimulatedGateway) -> None:
    gw.faults.html = True
    r = client.get("/api/status")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        r.json()


def test_garbage(client: SimClient, gw: SimulatedGateway) -> None:
    gw.faults.garbage = 300
    r = client.get("/api/status")
    assert r.status == 200 and len(r.body) == 300
    with pytest.raises(ValueError):
        json.loads(r.body.decode("utf-8", "replace"))
    gw.faults.garbage = True
    assert len(client.get("/api/status").body) == 512


def test_truncate_at(client: SimClient, gw: SimulatedGateway, capfd: pytest.CaptureFixture[str]) -> None:
    gw.faults.truncate_at = 10
    with pytest.raises(http.client.IncompleteRead) as exc:
        client.get("/api/meters/aggregates")
    assert len(exc.value.partial) == 10
    assert "Traceback" not in capfd.readouterr().err


def test_reset(client: SimClient, gw: SimulatedGateway, capfd: pytest.CaptureFixture[str]) -> None:
    gw.faults.set("reset", True, paths={"/api/status"})
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected, ssl.SSLError)):
        client.get("/api/status")
    assert gw.requests[-1].path == "/api/status" and gw.requests[-1].status is None
    assert client.get("/api/operation").status == 200
    assert "Traceback" not in capfd.readouterr().err


def test_slow_drip(client: SimClient, gw: SimulatedGateway) -> None:
    gw.faults.set("slow_drip", 0.01, paths={"/api/system_status/soe"})
    t0 = time.monotonic()
    r = client.get("/api/system_status/soe")
    elapsed = time.monotonic() - t0
    assert r.status == 200 and "percentage" in r.json()
    assert elapsed >= len(r.body) * 0.01 * 0.9


def test_slow_drip_client_timeout_is_quiet(
    client: SimClient, gw: SimulatedGateway, capfd: pytest.CaptureFixture[str]
) -> None:
    gw.faults.slow_drip = 1.0  # longer than the client's per-read timeout
    slow = SimClient(gw, timeout=0.3)
    slow.token = client.token
    before = set(threading.enumerate())
    with pytest.raises((TimeoutError, socket.timeout)):
        slow.get("/api/status")
    gw.faults.clear()
    # The handler notices the client has gone at its next dripped write: wait until it has ended,
    # so that whatever it prints is in stderr before we look.
    handlers = [t for t in set(threading.enumerate()) - before if t.name.startswith("pwsim-conn")]
    assert handlers
    for t in handlers:
        t.join(10)
        assert not t.is_alive(), "the simulator kept dripping to a client that had gone"
    assert "Traceback" not in capfd.readouterr().err


def test_giant(client: SimClient, gw: SimulatedGateway) -> None:
    gw.faults.giant = 5_000_000
    r = client.get("/api/status")
    assert r.status == 200 and len(r.body) == 5_000_000
    assert r.headers["Content-Length"] == "5000000"
    assert len(r.json()["pad"]) == 5_000_000 - 10


def test_extra_json_deep_merges_into_the_normal_answer(client: SimClient, gw: SimulatedGateway) -> None:
    gw.faults.set("extra_json", {"site": {"energy_imported": 1e306, "new": 1}}, paths={"/api/meters/aggregates"})
    site = client.get("/api/meters/aggregates").json()["site"]
    assert site["energy_imported"] == 1e306 and site["new"] == 1
    assert "instant_power" in site  # the rest of the meter is still there
    assert "new" not in client.get("/api/status").json()  # other paths untouched
    gw.faults.clear("extra_json")
    assert "new" not in client.get("/api/meters/aggregates").json()["site"]


def test_gzip_bomb(client: SimClient, gw: SimulatedGateway) -> None:
    gw.faults.gzip_bomb = 64 << 20
    r = client.get("/api/status")  # http.client does not inflate: we see the wire bytes
    assert r.status == 200 and r.headers["Content-Encoding"] == "gzip"
    assert len(r.body) < 200_000
    assert gunzip_size(r.body) == 64 << 20


def test_tls_fail(gw: SimulatedGateway) -> None:
    c = SimClient(gw)
    gw.faults.set("tls_fail", True, times=1)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        c.login()
    assert gw.requests == [] and gw.handshake_failures == ["tls_fail fault"]
    assert c.login().status == 200


def test_sitemaster_stopped(client: SimClient, gw: SimulatedGateway) -> None:
    gw.faults.sitemaster_stopped = True
    for path in ("/api/meters/aggregates", "/api/system_status"):
        r = client.get(path)
        assert r.status == 502 and r.body == b""
    sm = client.get("/api/sitemaster").json()
    assert sm["running"] is False and sm["status"] == "StatusDown"
    assert client.get("/api/system_status/grid_status").status == 200
    gw.faults.sitemaster_stopped = False
    assert client.get("/api/sitemaster").json()["running"] is True
    assert client.get("/api/meters/aggregates").status == 200


def test_grid_outage(client: SimClient, gw: SimulatedGateway) -> None:
    gw.faults.grid_outage = True
    gs = client.get("/api/system_status/grid_status").json()
    assert gs["grid_status"] == "SystemIslandedActive"
    agg = client.get("/api/meters/aggregates").json()
    assert agg["site"]["instant_power"] == 0
    load, batt, solar = (agg[k]["instant_power"] for k in ("load", "battery", "solar"))
    assert load == pytest.approx(batt + solar, abs=0.1)
    assert client.get("/api/system_status").json()["system_island_state"] == "SystemIslandedActive"
    gw.faults.grid_outage = False
    assert client.get("/api/system_status/grid_status").json()["grid_status"] == "SystemGridConnected"


def test_vitals_absent(client: SimClient, gw: SimulatedGateway) -> None:
    assert client.get("/api/devices/vitals").status == 200
    gw.faults.vitals_absent = True
    assert client.get("/api/devices/vitals").status == 404
    assert client.get("/api/status").status == 200


def test_faults_apply_in_replay_mode() -> None:
    base = require_fixtures() / "fw-21.39.1"
    with SimulatedGateway(password=PW, replay_dir=base) as g:
        c = SimClient(g)
        c.login()
        g.faults.sitemaster_stopped = True
        g.faults.grid_outage = True
        assert c.get("/api/meters/aggregates").status == 502
        assert c.get("/api/sitemaster").json()["running"] is False
        assert c.get("/api/system_status/grid_status").json()["grid_status"] == "SystemIslandedActive"
        g.faults.vitals_absent = True
        assert c.get("/api/devices/vitals").status == 404


def test_global_status_fault_answers_login_too_and_counts_it(gw: SimulatedGateway) -> None:
    gw.faults.status = 503
    assert SimClient(gw).login().status == 503
    assert gw.login_count == 1
    gw.faults.set("status", 503, paths={"/api/status"})
    assert SimClient(gw).login().status == 200
    assert gw.login_count == 2
