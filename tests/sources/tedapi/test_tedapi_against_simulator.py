"""The TEDAPI source end to end against the simulated gateway (real HTTPS on 127.0.0.1).

The Powerwall 3 site answers only the three JSON endpoints and TEDAPI (gzipped, without a header);
the Powerwall 2 site on firmware >= 23.44 has every JSON endpoint but vitals. Both answer from the
simulator's time-varying model, with query texts of our own signed by a throwaway key.
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
from exporter.metrics.metricset import MetricSet
from exporter.simulator import SimulatedGateway, SiteModel, write_query_file
from exporter.sources.registry import ALLOW_LIST
from exporter.sources.tedapi.envelope import describe
from tests.clocks import ManualClock
from tests.simtime import SIM_START
from tests.support.wiring import SIM_PASSWORD, gateway_config, make_collector

GATEWAY_PASSWORD = "ABCDEFGHIJ-gateway-secret"


@dataclasses.dataclass
class Site:
    gw: SimulatedGateway
    cfg: GatewayConfig


def start_site(tmp_path: Path, model: SiteModel, interval: float = 5.0, password: str = GATEWAY_PASSWORD) -> Site:
    queries = tmp_path / "queries.json"
    pem = write_query_file(queries)
    key = tmp_path / "key.pem"
    key.write_bytes(pem)
    gw = SimulatedGateway(password=SIM_PASSWORD, model=model, gateway_password=GATEWAY_PASSWORD, tedapi_keys=[pem])
    gw.start()
    base = gateway_config(gw)
    tedapi = TedapiConfig(Secret(password), base.host, base.port, queries, key.read_bytes(), interval)
    return Site(gw, dataclasses.replace(base, tedapi=tedapi, min_interval_seconds=1.0))


@pytest.fixture
def pw3(tmp_path: Path) -> Iterator[Site]:
    site = start_site(tmp_path, SiteModel.pw3(start_time=SIM_START))
    yield site
    site.gw.stop()


@pytest.fixture
def pw2(tmp_path: Path) -> Iterator[Site]:
    site = start_site(tmp_path, SiteModel.pw2_tedapi(start_time=SIM_START))
    yield site
    site.gw.stop()


def _series(ms: MetricSet, name: str) -> list[dict[str, str]]:
    return [dict(k) for k in ms.samples(name)]


def _assert_only_reads(gw: SimulatedGateway) -> None:
    assert not gw.dangerous_calls
    for r in gw.requests:
        assert ALLOW_LIST.allows(r.method, r.path, r.body), (r.method, r.path)
    kinds = {kind for _, kind in gw.tedapi_requests}
    assert kinds <= {"din", "config", "firmware", "query:DeviceControllerQuery", "query:ComponentsQuery"}, kinds


def test_a_powerwall_3_site_shows_every_pack_string_and_alert(pw3: Site) -> None:
    collector = make_collector(pw3.cfg)
    try:
        ms = collector.scrape()
    finally:
        collector.close()
    model = pw3.gw.model
    assert ms.get("powerwall_up") == 1
    # Every reported endpoint succeeded; the JSON endpoints a Powerwall 3 lacks are not reported.
    success = {dict(k)["endpoint"]: v for k, v in ms.samples("powerwall_scrape_endpoint_success").items()}
    assert success and all(v == 1 for v in success.values()), success
    assert "/api/status" not in success and "/api/meters/aggregates" in success
    assert {e for e in success if e.startswith("tedapi:")} >= {"tedapi:din", "tedapi:config", "tedapi:firmware"}
    # One pack per battery module by its own serial, with the Powerwall 3 it belongs to.
    # Nothing else carries pack energy: not the empty esCan slots (zeros under serial=""), not the
    # Powerwall 3's own record (the controller's msa lists every pack again, in kWh).
    pods = _series(ms, "powerwall_pod_full_pack_energy_joules")
    assert {s["device"] for s in pods} == {"HVP"} and len({s["serial"] for s in pods}) == len(pods)
    assert all(s.get("serial") != "" for n in ms.names() for s in _series(ms, n)), "a series with an empty serial"
    packs = {s["serial"]: s for s in pods}
    assert len(packs) == 4, packs  # two units' built-in packs + two DC expansions; the phantom slot skipped
    assert all(s["serial"] and s["part_number"] for s in packs.values())
    for serial in packs:
        remaining = ms.get("powerwall_pod_energy_remaining_joules", device="HVP", serial=serial)
        full = ms.get("powerwall_pod_full_pack_energy_joules", device="HVP", serial=serial)
        assert remaining is not None and full is not None and 0 < remaining <= full
    parents = {s["serial"]: s["parent_din"] for s in _series(ms, "powerwall_device_info") if s["device"] == "HVP"}
    assert set(parents) == set(packs) and set(parents.values()) == set(model.battery_dins)
    # Strings A-F with voltage, current and state, under the Powerwall 3's serial.
    leader_serial = model.gateway_din.split("--")[1]
    strings = {s["string"] for s in _series(ms, "powerwall_solar_string_voltage_volts") if s["serial"] == leader_serial}
    assert strings == set("ABCDEF")
    for metric in ("powerwall_solar_string_current_amperes", "powerwall_solar_string_state_info"):
        assert {s["string"] for s in _series(ms, metric) if s["serial"] == leader_serial} == set("ABCDEF")
    # The active alert with the PW3 serial.
    alerts = [s for s in _series(ms, "powerwall_device_alert") if s["serial"] == leader_serial]
    assert alerts
    # Firmware, operation mode and reserve from config.json, site energy from systemStatus.
    info = _series(ms, "powerwall_info")
    assert len(info) == 1 and info[0]["din"] == model.gateway_din
    assert (info[0]["version"], info[0]["build"], info[0]["git_hash"]) == ("26.18.3", "26.18.3-PW3-AFCI", "1a2b3c4d")
    # Battery health: every pack has a nameplate with the labels of its full-pack series (the
    # recording rule divides one by the other), the built-in ones (1800420-11-F, not in the table)
    # the Powerwall 3's; and the commission date and warranty end come from config.json.
    nameplates = ms.samples("powerwall_pod_nameplate_energy_joules")
    assert set(nameplates) == set(ms.samples("powerwall_pod_full_pack_energy_joules"))
    assert set(nameplates.values()) == {13.5 * 3.6e6}
    assert {s["part_number"] for s in packs.values()} == {"1800420-11-F", "1807000-20-B"}
    assert ms.get("powerwall_battery_commission_timestamp_seconds") == model.battery_commission_time
    warranty_end = ms.get("powerwall_battery_warranty_end_timestamp_seconds")
    assert warranty_end is not None and 3652 * 86400 <= warranty_end - model.battery_commission_time <= 3653 * 86400
    assert len(_series(ms, "powerwall_operation_info")) == 1
    assert ms.get("powerwall_backup_reserve_ratio") is not None
    full_site = ms.get("powerwall_battery_full_pack_energy_joules")
    assert full_site is not None and math.isclose(
        full_site,
        sum(ms.get("powerwall_pod_full_pack_energy_joules", device="HVP", serial=s) or 0 for s in packs),
        rel_tol=1e-5,
    )  # systemStatus is whole Wh, the packs are kWh with decimals
    # Meters and lifetime counters still from /api/meters/aggregates.
    assert ms.get("powerwall_meter_energy_imported_joules_total", meter="site") is not None
    assert ms.get("powerwall_battery_packs_expected") is not None
    _assert_only_reads(pw3.gw)


def test_scraping_every_half_second_keeps_tedapi_on_its_cadence(pw3: Site, caplog: pytest.LogCaptureFixture) -> None:
    """20 s of scrapes every 0.5 s, min_interval_seconds 5: no TEDAPI request more than ceil(20/5)+2 times.

    On the collector's clock, driven by the test: 41 scrapes at simulated half seconds, no sleeping.
    """
    clock = ManualClock()
    collector = make_collector(pw3.cfg, clock=clock.clock)
    caplog.set_level(logging.DEBUG)
    try:
        for _ in range(41):
            collector.scrape()
            clock.advance(0.5)
        text = "\n".join(caplog.messages)
    finally:
        collector.close()
    per_request: dict[tuple[str, str], int] = {}
    for r in pw3.gw.requests:
        if r.path.startswith("/tedapi"):
            key = (r.path, describe(r.body) if r.body else "get")
            per_request[key] = per_request.get(key, 0) + 1
    assert per_request and max(per_request.values()) <= math.ceil(20 / 5) + 2, per_request
    assert pw3.gw.login_count == 1
    assert GATEWAY_PASSWORD not in text and SIM_PASSWORD not in text
    _assert_only_reads(pw3.gw)


def test_a_wrong_gateway_password_costs_tedapi_only(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    site = start_site(tmp_path, SiteModel.pw3(start_time=SIM_START), password="wrong-gateway-password")
    clock = ManualClock()
    collector = make_collector(site.cfg, clock=clock.clock)
    try:
        with caplog.at_level(logging.INFO):
            for _ in range(25):  # 12 s of scrapes every 0.5 s, on the collector's clock
                ms = collector.scrape()
                clock.advance(0.5)
    finally:
        collector.close()
        site.gw.stop()
    assert ms.get("powerwall_up") == 1
    assert ms.get("powerwall_scrape_endpoint_success", endpoint="tedapi:din") == 0
    assert ms.get("powerwall_scrape_endpoint_success", endpoint="/api/meters/aggregates") == 1
    assert ms.get("powerwall_meter_power_watts", meter="site") is not None
    tedapi = [r for r in site.gw.requests if r.path.startswith("/tedapi")]
    assert 1 <= len(tedapi) <= 6
    refusals = [m for m in caplog.messages if "refused the tedapi credentials" in m]
    assert len(refusals) == 1 and "gateway password" in refusals[0] and "WiFi" in refusals[0]
    assert "wrong-gateway-password" not in "\n".join(caplog.messages)


def test_passwords_never_reach_metrics(pw3: Site) -> None:
    collector = make_collector(pw3.cfg)
    try:
        ms = collector.scrape()
    finally:
        collector.close()
    text = repr([(n, ms.samples(n)) for n in ms.names()])
    for secret in (GATEWAY_PASSWORD, SIM_PASSWORD, "SECRET"):
        assert secret not in text
