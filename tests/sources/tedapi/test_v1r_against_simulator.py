"""The TEDAPI source over v1r end to end against the simulated gateway (real HTTPS on 127.0.0.1).

The simulated gateway checks every v1r request with its own wire walker and key ring
(:mod:`exporter.simulator.tedapi.v1r`), never with the exporter's encoder or vetter, and records its
verdict: so "accepted" below is the gateway's word, not ours. Scrapes run on an injected monotonic
clock (:mod:`tests.sources.tedapi.clocked`), so pauses, cadence and failover are judged in simulated
seconds. Wall time is only ever compared with itself: the gateway's ``Date`` and the exporter's
signer both read the host's clock, and the tests look at their difference.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporter.config import GatewayConfig, Secret
from exporter.config.tedapi import TedapiConfig
from exporter.gateway.outcomes import FetchError
from exporter.metrics.metricset import MetricSet
from exporter.scrape.gateway import GatewayScraper
from exporter.simulator import SimulatedGateway, SiteModel, write_query_file
from exporter.simulator.tedapi.v1r_serve import V1rRecord
from exporter.sources.registry import ALLOW_LIST
from exporter.sources.tedapi import v1r_key
from exporter.sources.tedapi.v1r_signer import FAILOVER_AFTER, PROBE_FIRST_SECONDS
from tests.simtime import SIM_START
from tests.sources.tedapi.clocked import Clock, clocked_scraper, scrape
from tests.support.wiring import SIM_PASSWORD, gateway_config

GATEWAY_PASSWORD = "ABCDEFGHIJ-gateway-secret"
READS = {"config", "firmware", "query:DeviceControllerQuery", "query:ComponentsQuery"}


@dataclasses.dataclass
class Site:
    gw: SimulatedGateway
    cfg: GatewayConfig
    key: v1r_key.ClientKey
    key_pem: bytes


@pytest.fixture(scope="module")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("v1r-key") / "key"
    v1r_key.generate(directory, bits=2048)  # real keys are 4096 bits: slower to make, no different here
    return directory


def start_site(
    tmp_path: Path,
    key_dir: Path,
    *,
    model: SiteModel | None = None,
    wifi: bool = False,
    register: str | None = "verified",
    interval: float = 5.0,
    din: str | None = None,
) -> Site:
    queries = tmp_path / "queries.json"
    pem = write_query_file(queries)
    model = model or SiteModel.pw3(start_time=SIM_START)
    gw = SimulatedGateway(
        password=SIM_PASSWORD, model=model, gateway_password=GATEWAY_PASSWORD if wifi else None, tedapi_keys=[pem]
    )
    key_file = key_dir / v1r_key.PRIVATE_KEY_FILE
    key = v1r_key.load(key_file)
    if register is not None:
        gw.v1r_keys.add(key.public_der, state=register)
    gw.start()
    base = gateway_config(gw)
    tedapi = TedapiConfig(
        Secret(GATEWAY_PASSWORD) if wifi else None,
        base.host,
        base.port,
        queries,
        pem,
        interval,
        v1r_key_file=key_file,
        din=din,
    )
    return Site(gw, dataclasses.replace(base, tedapi=tedapi, min_interval_seconds=1.0), key, key_file.read_bytes())


@pytest.fixture
def pw3(tmp_path: Path, key_dir: Path) -> Iterator[Site]:
    site = start_site(tmp_path, key_dir)
    yield site
    site.gw.stop()


def _series(ms: MetricSet, name: str) -> list[dict[str, str]]:
    return [dict(k) for k in ms.samples(name)]


def _records(gw: SimulatedGateway) -> list[V1rRecord]:
    return gw.v1r_requests


def _tedapi_success(ms: MetricSet) -> dict[str, float]:
    return {
        dict(k)["endpoint"]: v
        for k, v in ms.samples("powerwall_scrape_endpoint_success").items()
        if dict(k)["endpoint"].startswith("tedapi:")
    }


def _no_wifi(gw: SimulatedGateway) -> None:
    for r in gw.requests:
        assert r.path == "/tedapi/v1r" or not r.path.startswith("/tedapi/") or r.path == "/tedapi/din", r.path
        assert not r.headers.get("authorization", "").lower().startswith("basic"), r.path
        if r.path == "/tedapi/v1r":
            assert "authorization" not in {k.lower() for k in r.headers}, "a v1r POST carries no credentials"


def _scraper(site: Site, clock: Clock) -> GatewayScraper:
    return clocked_scraper(site.cfg, clock)


def test_a_powerwall_3_over_v1r_alone(pw3: Site, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    clock = Clock()
    scraper = _scraper(pw3, clock)
    try:
        ms = scrape(scraper, clock)
    finally:
        scraper.transport.close()
    model = pw3.gw.model
    assert ms.get("powerwall_up") == 1
    success = _tedapi_success(ms)
    assert success and all(v == 1 for v in success.values()), success
    assert {"tedapi:din", "tedapi:config", "tedapi:firmware", "tedapi:DeviceControllerQuery"} <= set(success)
    # Every pack by its serial, strings A-F, the active alert, firmware and operation mode.
    packs = {s["serial"] for s in _series(ms, "powerwall_pod_full_pack_energy_joules")}
    assert len(packs) >= 3 and "" not in packs, packs
    leader_serial = model.gateway_din.split("--")[1]
    strings = {s["string"] for s in _series(ms, "powerwall_solar_string_voltage_volts") if s["serial"] == leader_serial}
    assert strings == set("ABCDEF")
    assert [s for s in _series(ms, "powerwall_device_alert") if s["serial"] == leader_serial]
    info = _series(ms, "powerwall_info")
    assert len(info) == 1 and info[0]["din"] == model.gateway_din and info[0]["version"] == "26.18.3"
    assert _series(ms, "powerwall_operation_info")
    # The gateway accepted every v1r request, each one of the three reads, with a fresh uuid.
    records = _records(pw3.gw)
    assert records and all(r.verdict == "ok" for r in records), [(r.kind, r.verdict, r.detail) for r in records]
    assert {r.kind for r in records} <= READS
    assert not any(r.uuid_reused for r in records)
    assert {r.key_fingerprint for r in records} == {pw3.key.fingerprint}
    assert not pw3.gw.dangerous_calls
    for r in pw3.gw.requests:
        assert ALLOW_LIST.allows(r.method, r.path, r.body), (r.method, r.path)
    _no_wifi(pw3.gw)
    # The clock offset: both clocks are this host's, so about 0.
    offset = ms.get("powerwall_tedapi_clock_offset_seconds")
    assert offset is not None and abs(offset) < 2.0
    assert ms.get("powerwall_tedapi_v1r_key_accepted") == 1
    paths = {(s["unit"], s["path"]) for s in _series(ms, "powerwall_tedapi_path_info")}
    assert (model.gateway_din, "v1r") in paths and {p for _, p in paths} == {"v1r"}
    # The follower Powerwall 3 is not read over v1r, and the log says how to cover it.
    followers = model.battery_dins[1:]
    assert followers
    assert not any(s.get("din") in followers for s in _series(ms, "powerwall_device_info") if s["device"] == "PW3")
    uncovered = [r.getMessage() for r in caplog.records if "not read" in r.getMessage()]
    assert len(uncovered) == 1 and all(f in uncovered[0] for f in followers)
    # Neither the password nor key material anywhere in the exposition or the log.
    text = "\n".join(f"{n} {sorted(labels)} {v}" for n in ms.names() for labels, v in ms.samples(n).items())
    log_text = "\n".join(r.getMessage() for r in caplog.records)
    body = b"".join(pw3.key_pem.splitlines()[1:-1]).decode()
    for secret in (SIM_PASSWORD, GATEWAY_PASSWORD, body[:40], body[-40:]):
        assert secret not in text and secret not in log_text


def test_every_request_within_its_cadence(pw3: Site) -> None:
    clock = Clock()
    scraper = _scraper(pw3, clock)
    total = 60.0
    try:
        t = 0.0
        while t <= total:
            clock.now = Clock().now + t
            scrape(scraper, clock)
            t += 1.0
    finally:
        scraper.transport.close()
    counts: dict[str, int] = {}
    for r in _records(pw3.gw):
        counts[r.kind] = counts.get(r.kind, 0) + 1
    limit = math.ceil(total / 5) + 2
    assert counts and all(n <= limit for n in counts.values()), counts
    assert counts["query:DeviceControllerQuery"] >= total / 5 - 1, counts


@pytest.mark.parametrize("offset", [300.0, -300.0])
def test_a_gateway_clock_minutes_off_still_answers(tmp_path: Path, key_dir: Path, offset: float) -> None:
    site = start_site(tmp_path, key_dir)
    site.gw.clock_offset_seconds = offset
    clock = Clock()
    scraper = _scraper(site, clock)
    try:
        ms = scrape(scraper, clock)
        clock.now += 10
        ms = scrape(scraper, clock)
    finally:
        scraper.transport.close()
        site.gw.stop()
    assert all(v == 1 for v in _tedapi_success(ms).values()), _tedapi_success(ms)
    assert _series(ms, "powerwall_pod_full_pack_energy_joules")
    measured = ms.get("powerwall_tedapi_clock_offset_seconds")
    assert measured is not None and abs(measured - offset) < 2.0, measured


def test_an_unknown_key_leaves_the_json_api_alone(
    tmp_path: Path, key_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    site = start_site(tmp_path, key_dir, register=None)
    clock = Clock()
    scraper = _scraper(site, clock)
    try:
        for step in range(13):  # one scrape a second for 12 s
            clock.now = Clock().now + step
            ms = scrape(scraper, clock)
    finally:
        scraper.transport.close()
        site.gw.stop()
    assert ms.get("powerwall_up") == 1
    assert ms.get("powerwall_scrape_endpoint_success", endpoint="/api/meters/aggregates") == 1
    assert _series(ms, "powerwall_meter_power_watts")
    faults = ms.get("powerwall_tedapi_v1r_faults_total", fault="unknown_key_id")
    assert faults is not None and faults >= 1
    assert ms.get("powerwall_tedapi_v1r_key_accepted") == 0
    records = _records(site.gw)
    assert 1 <= len(records) <= 6, [(r.kind, r.verdict) for r in records]
    assert {r.verdict for r in records} == {"UNKNOWN_KEY_ID"}
    lines = [r.getMessage() for r in caplog.records if "v1r refused key" in r.getMessage()]
    assert len(lines) == 1, lines
    assert site.key.fingerprint in lines[0] and "unknown_key_id" in lines[0] and "register" in lines[0]


def test_a_pending_key_says_what_to_do_at_the_unit(
    tmp_path: Path, key_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    site = start_site(tmp_path, key_dir, register="pending")
    clock = Clock()
    scraper = _scraper(site, clock)
    try:
        ms = scrape(scraper, clock)
        clock.now += 5
        ms = scrape(scraper, clock)
        # Verified at the unit: after the pause the key is accepted, logged once.
        site.gw.v1r_keys.set_state(site.key.public_der, "verified")
        clock.now += 61
        after = scrape(scraper, clock)
    finally:
        scraper.transport.close()
        site.gw.stop()
    assert (ms.get("powerwall_tedapi_v1r_faults_total", fault="authorization_not_verified") or 0) >= 1
    assert not _series(ms, "powerwall_pod_full_pack_energy_joules")
    assert ms.get("powerwall_up") == 1
    lines = [r.getMessage() for r in caplog.records if "v1r refused key" in r.getMessage()]
    assert len(lines) == 1 and "not verified" in lines[0] and "On/Off switch" in lines[0], lines
    assert after.get("powerwall_tedapi_v1r_key_accepted") == 1
    assert _series(after, "powerwall_pod_full_pack_energy_joules")
    assert len([r for r in caplog.records if "accepted key" in r.getMessage()]) == 1


def test_a_configured_din_needs_no_customer_login(tmp_path: Path, key_dir: Path) -> None:
    model = SiteModel.pw3(start_time=SIM_START)
    site = start_site(tmp_path, key_dir, model=model, din=model.gateway_din)
    site = dataclasses.replace(site, cfg=dataclasses.replace(site.cfg, password=Secret("wrong-password")))
    clock = Clock()
    scraper = _scraper(site, clock)
    try:
        ms = scrape(scraper, clock)
    finally:
        scraper.transport.close()
        site.gw.stop()
    assert not any(r.path == "/tedapi/din" for r in site.gw.requests)
    success = _tedapi_success(ms)
    assert success and all(v == 1 for v in success.values()), success
    assert _series(ms, "powerwall_pod_full_pack_energy_joules")


def test_followers_over_wifi_the_leader_over_v1r(tmp_path: Path, key_dir: Path) -> None:
    site = start_site(tmp_path, key_dir, wifi=True)
    clock = Clock()
    scraper = _scraper(site, clock)
    try:
        ms = scrape(scraper, clock)
    finally:
        scraper.transport.close()
        site.gw.stop()
    model = site.gw.model
    paths = {s["unit"]: s["path"] for s in _series(ms, "powerwall_tedapi_path_info")}
    assert paths[model.gateway_din] == "v1r"
    assert all(paths[f] == "wifi" for f in model.battery_dins[1:]), paths
    assert all(v == 1 for v in _tedapi_success(ms).values()), _tedapi_success(ms)
    # The WiFi path carried the followers' components queries only.
    wifi = [kind for path, kind in site.gw.tedapi_requests if path.startswith("/tedapi/device/")]
    assert wifi and set(wifi) == {"query:ComponentsQuery"}
    assert not any(path == "/tedapi/v1" for path, _ in site.gw.tedapi_requests)


def test_the_leader_fails_over_to_wifi_and_comes_back(
    tmp_path: Path, key_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    site = start_site(tmp_path, key_dir, wifi=True)
    clock = Clock()
    scraper = _scraper(site, clock)
    gw = site.gw
    try:
        gw.faults.set("v1r_status", 500, times=FAILOVER_AFTER + 2)
        scrape(scraper, clock)  # the leader's reads fail on the LAN together
        clock.now += 15
        ms = scrape(scraper, clock)
        paths = {s["unit"]: s["path"] for s in _series(ms, "powerwall_tedapi_path_info")}
        assert paths[gw.model.gateway_din] == "wifi", paths
        assert _series(ms, "powerwall_pod_full_pack_energy_joules")
        sent = len(_records(gw))
        clock.now += PROBE_FIRST_SECONDS - 30
        scrape(scraper, clock)
        assert len(_records(gw)) == sent, "no probe before its time"
        gw.faults.clear()
        clock.now += 60
        probe = scrape(scraper, clock)
        assert len(_records(gw)) == sent + 1, "exactly one probe"
        assert probe.get("powerwall_scrape_endpoint_success", endpoint="tedapi:v1r_probe") == 1
        clock.now += 15
        back = scrape(scraper, clock)
    finally:
        scraper.transport.close()
        gw.stop()
    paths = {s["unit"]: s["path"] for s in _series(back, "powerwall_tedapi_path_info")}
    assert paths[gw.model.gateway_din] == "v1r", paths
    messages = [r.getMessage() for r in caplog.records]
    assert sum("reading the leader over WiFi" in m for m in messages) == 1
    assert sum("on the LAN again" in m for m in messages) == 1


# Series that name the path or the v1r domain itself, the only ones allowed to differ.
PATH_SERIES = {
    "powerwall_tedapi_path_info",
    "powerwall_tedapi_v1r_faults_total",
    "powerwall_tedapi_v1r_key_accepted",
    "powerwall_tedapi_clock_offset_seconds",
}
# Values that move with the model's time between two scrapes, or count the transport's work.
MOVING = ("_seconds", "_total", "_watts", "_volts", "_amperes", "_hertz", "_joules", "_ratio")


def _keys(ms: MetricSet) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    return {(n, tuple(sorted(labels))) for n in ms.names() if n not in PATH_SERIES for labels in ms.samples(n)}


@pytest.mark.parametrize("powerwalls", [1, 2])
def test_the_same_series_over_v1r_as_over_wifi(tmp_path: Path, key_dir: Path, powerwalls: int) -> None:
    """One gateway read twice, over WiFi alone and over v1r (followers over WiFi): the same series."""
    model = SiteModel.pw3(start_time=SIM_START, powerwalls=powerwalls, expansions=(2,) + (0,) * (powerwalls - 1))
    site = start_site(tmp_path, key_dir, model=model, wifi=True)
    assert site.cfg.tedapi is not None
    wifi_cfg = dataclasses.replace(site.cfg, tedapi=dataclasses.replace(site.cfg.tedapi, v1r_key_file=None))
    clock = Clock()
    over_wifi, over_v1r = clocked_scraper(wifi_cfg, clock), _scraper(site, clock)
    try:
        a = scrape(over_wifi, clock)
        b = scrape(over_v1r, clock)
    finally:
        over_wifi.transport.close()
        over_v1r.transport.close()
        site.gw.stop()
    assert {p for s in _series(a, "powerwall_tedapi_path_info") for p in [s["path"]]} == {"wifi"}
    assert (model.gateway_din, "v1r") in {(s["unit"], s["path"]) for s in _series(b, "powerwall_tedapi_path_info")}
    assert _keys(a) == _keys(b), (_keys(a) - _keys(b), _keys(b) - _keys(a))
    steady = [k for k in _keys(a) if not k[0].endswith(MOVING)]
    assert len(steady) > 50
    differ = [k for k in steady if a.get(k[0], **dict(k[1])) != b.get(k[0], **dict(k[1]))]
    assert not differ, differ


def test_a_follower_asked_over_v1r_anyway_exports_nothing(pw3: Site) -> None:
    """The guard behind the rule: an answer to a follower's v1r request (which is the leader's own data,
    §6) is refused, never exported under the follower's name."""
    from exporter.sources.base import Output
    from exporter.sources.tedapi.devices import Block
    from exporter.sources.tedapi.envelope import bare_query_request
    from exporter.sources.tedapi.source import TedapiSource

    clock = Clock()
    scraper = _scraper(pw3, clock)
    model = pw3.gw.model
    try:
        scrape(scraper, clock)
        (source,) = [s for s in scraper.sources if isinstance(s, TedapiSource)]
        assert source.queries is not None
        query = source.queries.queries["components"]
        leader, follower = model.gateway_din, model.battery_dins[1]
        asked = source.plan.v1r_request(
            bare_query_request(leader, query), "components", Block(leader, "Powerwall3", ()), 5.0, "x", leader
        )
        answer = scraper.transport.fetch(asked, clock() + 5)  # what a follower's request would get back
    finally:
        scraper.transport.close()
    assert not isinstance(answer, FetchError), answer
    request = source.plan.v1r_request(
        bare_query_request(follower, query), "components", Block(follower, "Powerwall3", ()), 5.0, "y", follower
    )
    out = Output(MetricSet(base_labels={"gateway": "home"}))
    with pytest.raises(FetchError, match="never read over v1r"):
        source.collect(request, answer, out)
    assert not out.ms.names()
