"""TEDAPI on the simulated gateway: auth, profiles, the three reads, signatures, variables, faults,
and consistency with the JSON API at the same model time (exporter/simulator/tedapi/)."""

from __future__ import annotations

import dataclasses
import gzip
import json
import math
import time
import zlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from exporter.proto import tedapi_pb2 as _pb
from exporter.simulator import Faults, SimulatedGateway, SiteModel
from exporter.simulator.faults import TEDAPI_FAULT_NAMES
from exporter.simulator.tedapi.answers import SECRETS
from exporter.simulator.tedapi.queries import SigningKey, write_query_file
from exporter.simulator.vitals import vitals_devices
from exporter.sources.tedapi import envelope, queries
from exporter.sources.tedapi.envelope import Route
from exporter.sources.tedapi.queries import QuerySet, SignedQuery
from tests.simtime import SIM_START

PB: Any = _pb
GW_PASSWORD = "GW-PASSWORD-1234"
USER = "Tesla_Energy_Device"
T0 = 1718985600.0  # 2024-06-21 08:00 local (UTC-8): the sun is up
NEVER = "0001-01-01T00:00:00Z"  # lastRxTime of a message never received


class FrozenClock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class _ServerName(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["server_hostname"] = "powerwall"
        super().init_poolmanager(*args, **kwargs)


class Tedapi:
    """A tiny TEDAPI client over ``requests`` (the recipe of test_simulator.py: verify per request)."""

    def __init__(self, gw: SimulatedGateway, password: str | None = GW_PASSWORD) -> None:
        self.gw = gw
        self.session = requests.Session()
        self.session.mount("https://", _ServerName())
        self.auth = (USER, password) if password is not None else None

    def get(self, path: str) -> requests.Response:
        return self.session.get(self.gw.url + path, auth=self.auth, verify=str(self.gw.cert_path), timeout=5)

    def post(self, body: bytes, path: str = envelope.PATH) -> requests.Response:
        return self.session.post(
            self.gw.url + path,
            data=body,
            auth=self.auth,
            headers={"Content-Type": "application/octet-stream"},
            verify=str(self.gw.cert_path),
            timeout=5,
        )

    def json(self, path: str) -> Any:
        login = self.session.post(
            self.gw.url + "/api/login/Basic",
            json={"username": "customer", "password": "sim-password", "email": "", "clientInfo": {}},
            verify=str(self.gw.cert_path),
            timeout=5,
        )
        assert login.status_code == 200
        r = self.session.get(self.gw.url + path, verify=str(self.gw.cert_path), timeout=5)
        assert r.status_code == 200, (path, r.status_code)
        return r.json()

    def json_status(self, path: str) -> int:
        self.json("/api/system_status/soe")  # logs in
        return self.session.get(self.gw.url + path, verify=str(self.gw.cert_path), timeout=5).status_code


def body_of(r: requests.Response) -> bytes:
    raw = r.content
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


@pytest.fixture(scope="module")
def key_pem(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    path = tmp_path_factory.mktemp("tedapi") / "queries.json"
    return path, write_query_file(path)


@pytest.fixture(scope="module")
def qset(key_pem: tuple[Path, bytes]) -> QuerySet:
    path, pem = key_pem
    loaded = queries.load(path, keys=[pem])
    assert loaded is not None
    return loaded


def _gateway(model: SiteModel, pem: bytes, **kw: Any) -> SimulatedGateway:
    return SimulatedGateway(model=model, gateway_password=GW_PASSWORD, tedapi_keys=[pem], **kw)


@pytest.fixture
def pw2(key_pem: tuple[Path, bytes]) -> Iterator[SimulatedGateway]:
    model = SiteModel.pw2_tedapi(seed=1, clock=FrozenClock(T0), start_time=T0)
    with _gateway(model, key_pem[1]) as g:
        yield g


@pytest.fixture
def pw3(key_pem: tuple[Path, bytes]) -> Iterator[SimulatedGateway]:
    model = SiteModel.pw3(seed=2, clock=FrozenClock(T0), start_time=T0)
    with _gateway(model, key_pem[1]) as g:
        yield g


def query(c: Tedapi, q: SignedQuery, route: Route | None = None) -> envelope.QueryAnswer:
    route = route or Route(c.gw.model.gateway_din)
    r = c.post(envelope.query_request(route, q), route.path)
    assert r.status_code == 200, r.status_code
    return envelope.query_answer(body_of(r))


def with_variables(q: SignedQuery, **changes: Any) -> SignedQuery:
    variables = json.loads(q.variables_json)
    variables.update(changes)
    return dataclasses.replace(q, variables_json=json.dumps(variables))


def signals(entry: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for s in entry["signals"]:
        v = s["value"] if s["value"] is not None else s["textValue"] if s["textValue"] is not None else s["boolValue"]
        out[s["name"]] = v
    return out


# ------------------------------------------------------------------ query file
def test_query_file_loads_verifies_and_keeps_no_key(key_pem: tuple[Path, bytes], qset: QuerySet) -> None:
    path, pem = key_pem
    data = json.loads(path.read_text())
    assert set(data) == {"device_controller_full", "components"}
    assert all(e["version"] == 0 and set(e) == {"text", "code", "b_value", "version"} for e in data.values())
    assert "PRIVATE" not in path.read_text() and b"PUBLIC KEY" in pem
    assert {r: q.operation for r, q in qset.queries.items()} == {
        "device_controller": "DeviceControllerQuery",
        "components": "ComponentsQuery",
    }
    assert all(q.verified for q in qset.queries.values())
    assert write_query_file(path.with_name("other.json")) != pem  # a new throwaway key per call


# ------------------------------------------------------------------ HTTP surface
def test_tedapi_off_without_gateway_password() -> None:
    with SimulatedGateway(model=SiteModel.pw3(start_time=SIM_START)) as gw:
        c = Tedapi(gw)
        assert c.get("/tedapi/din").status_code == 404
        assert c.post(envelope.firmware_request(Route(gw.model.gateway_din))).status_code == 404
        assert gw.tedapi_count("firmware") == 1
        gw.assert_safe()


def test_auth_is_403_for_a_wrong_or_missing_gateway_password(pw2: SimulatedGateway) -> None:
    for password in ("wrong", None, "sim-password"):
        c = Tedapi(pw2, password)
        assert c.get("/tedapi/din").status_code == 403
        assert c.post(envelope.firmware_request(Route(pw2.model.gateway_din))).status_code == 403
    wrong_user = Tedapi(pw2)
    wrong_user.auth = ("customer", GW_PASSWORD)
    assert wrong_user.get("/tedapi/din").status_code == 403
    assert Tedapi(pw2).get("/tedapi/din").status_code == 200


def test_din_and_portal_tell_the_generations_apart(pw2: SimulatedGateway, pw3: SimulatedGateway) -> None:
    r2, r3 = Tedapi(pw2).get("/tedapi/din"), Tedapi(pw3).get("/tedapi/din")
    assert r2.headers["Content-Type"].startswith("text/plain") and r2.content[:2] != b"\x1f\x8b"
    assert r2.text == pw2.model.gateway_din and r2.text.startswith("1232100-")
    assert r3.content[:2] == b"\x1f\x8b" and "Content-Encoding" not in r3.headers  # gzip on >= 25.42.2
    din3 = gzip.decompress(r3.content).decode()
    assert din3.startswith("1707000-") and din3 == pw3.model.gateway_din == pw3.model.battery_dins[0]
    assert Tedapi(pw2, None).get("/").status_code == 200
    r = Tedapi(pw3, None).get("/")
    assert r.status_code == 404 and r.text == "404 page not found\n"
    assert [k for _, k in pw3.tedapi_requests] == ["din", "portal"]


def test_json_api_per_profile(pw2: SimulatedGateway, pw3: SimulatedGateway) -> None:
    c2, c3 = Tedapi(pw2), Tedapi(pw3)
    assert c2.json_status("/api/devices/vitals") == 404
    for p in ("/api/status", "/api/site_info", "/api/operation", "/api/system_status", "/api/powerwalls"):
        assert c2.json_status(p) == 200
    for p in ("/api/meters/aggregates", "/api/system_status/soe", "/api/system_status/grid_status"):
        assert c3.json_status(p) == 200
    for p in (
        "/api/status",
        "/api/site_info",
        "/api/operation",
        "/api/system_status",
        "/api/powerwalls",
        "/api/sitemaster",
        "/api/devices/vitals",
        "/api/solar_powerwall",
    ):
        assert c3.json_status(p) == 404, p
    with SimulatedGateway(model=SiteModel(start_time=SIM_START, seed=1)) as old:  # the default profile keeps vitals
        assert Tedapi(old).json_status("/api/devices/vitals") == 200


# ------------------------------------------------------------------ the three reads
def test_config_read_pw2(pw2: SimulatedGateway) -> None:
    r = Tedapi(pw2).post(envelope.config_request(Route(pw2.model.gateway_din)))
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/octet-stream"
    msg = PB.Message.FromString(r.content)
    assert msg.envelope.sender.din == pw2.model.gateway_din and msg.envelope.recipient.local == 1
    cfg = envelope.config_answer(r.content)
    m = pw2.model
    assert cfg["vin"] == m.gateway_din
    assert [b["vin"] for b in cfg["battery_blocks"]] == list(m.battery_dins)
    assert {b["type"] for b in cfg["battery_blocks"]} == {"Powerwall2"}
    assert cfg["site_info"]["backup_reserve_percent"] == Tedapi(pw2).json("/api/operation")["backup_reserve_percent"]
    assert cfg["site_info"]["site_name"] == m.site_name and cfg["default_real_mode"] == m.real_mode
    text = json.dumps(cfg)
    assert "SECRET-CUSTOMER-EMAIL" in text and {"installer", "customer", "credentials"} <= set(cfg)
    assert pw2.tedapi_requests == [("/tedapi/v1", "config")]


def test_config_read_pw3_lists_leader_follower_and_expansions(pw3: SimulatedGateway) -> None:
    cfg = envelope.config_answer(body_of(Tedapi(pw3).post(envelope.config_request(Route(pw3.model.gateway_din)))))
    leader, follower = cfg["battery_blocks"]
    assert leader["type"] == "Powerwall3" and follower["type"] == "Powerwall3Follower"
    assert len(leader["battery_expansions"]) == 2 and follower["battery_expansions"] == []
    assert all(e["din"].startswith("1807000-") for e in leader["battery_expansions"])
    assert cfg["site_info"]["nominal_system_energy_ac"] == 13.5 * 4
    # ISO 8601 with the site's offset, whole seconds, as a real Powerwall 3 writes it
    commissioned = datetime.fromisoformat(cfg["site_info"]["battery_commission_date"])
    assert commissioned.utcoffset() == timedelta(hours=pw3.model.utc_offset_hours)
    assert commissioned.timestamp() == pw3.model.battery_commission_time


@pytest.mark.parametrize("site", ["pw2", "pw3"])
def test_firmware_read(site: str, request: pytest.FixtureRequest) -> None:
    gw: SimulatedGateway = request.getfixturevalue(site)
    info = envelope.firmware_answer(body_of(Tedapi(gw).post(envelope.firmware_request(Route(gw.model.gateway_din)))))
    assert info.build == gw.model.firmware_version.split(" ")[0]
    assert info.version == ("25.10.1" if site == "pw2" else "26.18.3")
    assert info.build == ("25.10.1" if site == "pw2" else "26.18.3-PW3-AFCI")  # as a real Powerwall 3
    assert info.git_hash == gw.model.firmware_version.split(" ")[1]
    assert info.din == gw.model.gateway_din and info.serial == gw.model.gateway_serial


def test_signature_from_another_key_is_unauthorized(pw2: SimulatedGateway, tmp_path: Path, qset: QuerySet) -> None:
    other_pem = write_query_file(tmp_path / "q.json", SigningKey())
    other = queries.load(tmp_path / "q.json", keys=[other_pem])
    assert other is not None
    answer = query(Tedapi(pw2), other.queries["device_controller"])
    assert answer.status == 3 and answer.data is None and any("code 2" in e for e in answer.errors)
    assert query(Tedapi(pw2), qset.queries["device_controller"]).status == 1
    # The variables are not signed: changing them keeps the signature good.
    changed = with_variables(qset.queries["device_controller"], msaSignals=["PINV_Pout"])
    assert query(Tedapi(pw2), changed).status == 1


# ------------------------------------------------------------------ DeviceControllerQuery
def test_device_controller_pw2_matches_the_json_api_and_vitals(pw2: SimulatedGateway, qset: QuerySet) -> None:
    c = Tedapi(pw2)
    answer = query(c, qset.queries["device_controller"])
    assert answer.status == 1 and not answer.errors
    data = answer.data
    status = c.json("/api/system_status")
    assert data["control"]["systemStatus"] == {
        "nominalFullPackEnergyWh": status["nominal_full_pack_energy"],
        "nominalEnergyRemainingWh": status["nominal_energy_remaining"],
    }
    aggregates = c.json("/api/meters/aggregates")
    assert {a["location"]: a["realPowerW"] for a in data["control"]["meterAggregates"]} == {
        k.upper(): v["instant_power"] for k, v in aggregates.items()
    }
    assert data["system"]["supportMode"]["remoteService"]["sessionId"] == "SECRET-SUPPORT-SESSION"
    bus = data["esCan"]["bus"]
    blocks = status["battery_blocks"]
    assert len(bus["PINV"]) == len(bus["THC"]) == len(bus["POD"]) == len(blocks) == 2
    # The same model instant (the clock is frozen): the vitals builder's own per-device values.
    devices = vitals_devices(pw2.model.snapshot(), pw2.model)
    pinvs = [d for d in devices if d.kind == "TEPINV"]
    for pinv, thc, pod, block, dev in zip(bus["PINV"], bus["THC"], bus["POD"], blocks, pinvs, strict=True):
        assert pinv["PINV_Status"]["PINV_Pout"] == dev.vitals["PINV_Pout"]  # kW, as in vitals
        assert abs(pinv["PINV_Status"]["PINV_Pout"] * 1000 - block["p_out"]) <= 5
        assert pinv["PINV_AcMeasurements"]["PINV_VSplit1"] == dev.vitals["PINV_VSplit1"]
        assert thc["packageSerialNumber"] == block["PackageSerialNumber"]
        assert pod["POD_EnergyStatus"]["POD_nom_full_pack_energy"] == block["nominal_full_pack_energy"]
        assert pinv["PINV_Status"]["isMIA"] is False and pinv["PINV_Status"]["isComplete"] is True
    assert bus["PVAC"][0]["PVAC_Status"]["PVAC_Pout"] == c.json("/api/solar_powerwall")["pvac_status"]["p_out"]
    assert bus["SYNC"]["METER_X_AcMeasurements"]["METER_X_CTA_InstRealPower"] == pytest.approx(
        aggregates["site"]["instant_power"] / 2, abs=0.01
    )
    assert bus["ISLANDER"]["ISLAND_GridConnection"]["ISLAND_GridConnected"] is True
    assert data["neurio"]["readings"][0]["serial"] == pw2.model.neurio_serial


def test_device_controller_msa_follows_the_variables(pw2: SimulatedGateway, qset: QuerySet) -> None:
    c = Tedapi(pw2)
    names = ["PINV_Pout", "NOT_A_SIGNAL", "PINV_LifetimeEnergyCharged", "SYNC_Uptime", "THC_AmbientTemp", "PINV_Pout"]
    q = with_variables(qset.queries["device_controller"], msaSignals=names, msaComp={"types": ["TEPINV", "TESYNC"]})
    msa = query(c, q).data["components"]["msa"]
    assert len(msa) == 3  # two PINV + one SYNC, nothing else passes the filter
    pinv = [e for e in msa if e["signals"] and e["signals"][0]["name"].startswith("PINV")]
    assert len(pinv) == 2
    names_back = [s["name"] for s in pinv[0]["signals"]]
    assert names_back == ["PINV_Pout", "PINV_LifetimeEnergyCharged", "PINV_Pout"]  # unknown dropped, twice = twice
    lifetime = pinv[0]["signals"][1]
    assert lifetime["value"] is None and lifetime["textValue"] is None and lifetime["boolValue"] is None
    sync = next(e for e in msa if e not in pinv)
    assert [s["name"] for s in sync["signals"]] == ["SYNC_Uptime"] and sync["signals"][0]["value"] > 0
    full = query(c, qset.queries["device_controller"]).data["components"]["msa"]
    state = next(s for e in full for s in e["signals"] if s["name"] == "THC_State")
    assert state["textValue"] == "THC_STATE_AUTONOMOUSCONTROL" and state["value"] is None
    locked = next(s for e in full for s in e["signals"] if s["name"] == "PINV_PllLocked")
    assert locked["boolValue"] is True


def test_unknown_component_type_empties_the_answer(
    pw2: SimulatedGateway, pw3: SimulatedGateway, qset: QuerySet
) -> None:
    q = with_variables(qset.queries["device_controller"], msaComp={"types": ["PVS", "NOPE"]})
    answer = query(Tedapi(pw2), q)
    assert answer.status == 1 and answer.data == {}
    q = with_variables(qset.queries["components"], hvpComponentsFilter={"types": ["PW3HVP", "BOGUS"]})
    assert query(Tedapi(pw3), q).data == {}


def test_device_controller_pw3_has_empty_mia_slots(pw3: SimulatedGateway, qset: QuerySet) -> None:
    c = Tedapi(pw3)
    data = query(c, qset.queries["device_controller"]).data
    bus = data["esCan"]["bus"]
    # As a real Powerwall 3 on 26.10: no identity, no isMIA on the slot, and inside each
    # sub-message isMIA beside zeros and default states (shared/docs/tedapi.md section 4).
    for group in ("PINV", "THC", "POD", "PVAC", "PVS"):
        slots = bus[group]
        assert slots and all(
            not slot.get("packageSerialNumber") and not slot.get("packagePartNumber") for slot in slots
        )
        assert all("isMIA" not in slot for slot in slots)
        subs = [g for slot in slots for k, g in slot.items() if isinstance(g, dict) and k != "alerts"]
        assert subs and all(g["isMIA"] is True and g["lastRxTime"] == NEVER for g in subs)
        values = [v for g in subs for k, v in g.items() if k not in ("isMIA", "isComplete", "lastRxTime")]
        assert values and all(v in (0, False, "PINV_Off", "Grid_Uncompliant") for v in values), values
    assert bus["PINV"][0]["PINV_Status"]["PINV_State"] == "PINV_Off"
    assert bus["PINV"][0]["PINV_Status"]["PINV_GridState"] == "Grid_Uncompliant"
    assert bus["POD"][0]["POD_EnergyStatus"]["POD_nom_energy_remaining"] == 0
    # components.msa: each pack of the site under its own serial and an all-zero part number, kWh.
    msa = data["components"]["msa"]
    packs = [p for unit in pw3.model.packs for p in unit]
    assert [e["serialNumber"] for e in msa] == [p.serial for p in packs]
    assert all(e["partNumber"] == "0" * 20 for e in msa)
    full = sum(s["value"] for e in msa for s in e["signals"] if s["name"] == "BMS_nominalFullPackEnergy")
    assert math.isclose(full * 1000.0, data["control"]["systemStatus"]["nominalFullPackEnergyWh"], abs_tol=1.0)
    aggregates = c.json("/api/meters/aggregates")
    assert {a["location"]: a["realPowerW"] for a in data["control"]["meterAggregates"]} == {
        k.upper(): v["instant_power"] for k, v in aggregates.items()
    }
    assert [b["din"] for b in data["control"]["batteryBlocks"]] == list(pw3.model.battery_dins)


# ------------------------------------------------------------------ ComponentsQuery (Powerwall 3)
def _components(c: Tedapi, q: SignedQuery, din: str) -> dict[str, Any]:
    leader = c.gw.model.gateway_din
    answer = query(c, q, Route(din, leader=leader))
    assert answer.status == 1
    data: dict[str, Any] = answer.data["components"]
    return data


def test_components_per_powerwall3_and_energy_consistency(pw3: SimulatedGateway, qset: QuerySet) -> None:
    c = Tedapi(pw3)
    m = pw3.model
    leader, follower = m.battery_dins
    q = qset.queries["components"]
    lead = _components(c, q, leader)
    foll = _components(c, q, follower)
    # pch: identity and signals
    assert lead["pch"][0]["serialNumber"] == m.gateway_serial and foll["pch"][0]["serialNumber"] == follower[14:]
    assert lead["pch"][0]["activeAlerts"] and lead["pch"][0]["activeAlerts"][0]["name"].startswith("PCH_a010_")
    sig = signals(lead["pch"][0])
    assert {sig[f"PCH_PvState_{x}"] for x in "ABCDEF"} <= {"Pv_Active", "Pv_Active_Parallel", "Pv_Standby"}
    assert sig["PCH_AcVoltageCN"] is None  # known, absent on a split-phase site
    assert {"PCH_AmbientTemp", "PCH_FanSpeed_A", "PCH_AcRealPowerSum", "PCH_AcVoltageLL"} <= set(sig)
    # packs: 3 on the leader (+ the phantom slot), 1 on the follower
    assert len(lead["bms"]) == len(lead["hvp"]) == 4 and len(foll["bms"]) == len(foll["hvp"]) == 1
    phantom_bms, phantom_hvp = lead["bms"][-1], lead["hvp"][-1]
    assert phantom_hvp["serialNumber"] == "" and phantom_bms["activeAlerts"]
    assert signals(phantom_bms)["BMS_nominalFullPackEnergy"] is None
    config = envelope.config_answer(body_of(c.post(envelope.config_request(Route(leader)))))
    expansion_serials = {e["din"].split("--")[1] for e in config["battery_blocks"][0]["battery_expansions"]}
    assert {h["serialNumber"] for h in lead["hvp"][1:3]} == expansion_serials
    packs = lead["bms"][:-1] + foll["bms"]
    assert all(
        {"BMS_kwhDischargeTotal", "BMS_LOG_cacAvg", "BMS_LOG_numFullBattCycles"} <= set(signals(b)) for b in packs
    )
    full_kwh = sum(signals(b)["BMS_nominalFullPackEnergy"] for b in packs)
    remaining_kwh = sum(signals(b)["BMS_nominalEnergyRemaining"] for b in packs)
    status = query(c, qset.queries["device_controller"]).data["control"]["systemStatus"]
    assert abs(full_kwh * 1000 - status["nominalFullPackEnergyWh"]) <= 1.0
    assert abs(remaining_kwh * 1000 - status["nominalEnergyRemainingWh"]) <= 1.0
    soe = c.json("/api/system_status/soe")["percentage"]
    assert soe == pytest.approx(100 * remaining_kwh / full_kwh, abs=0.01)
    baggr = signals(lead["baggr"][0])
    assert baggr["BAGGR_NumBatteriesConnected"] == baggr["BAGGR_NumBatteriesExpected"] == 3
    assert signals(lead["pws"][0])["PWS_ProdSwitch_State"] is True
    # the plain path answers the leader
    assert query(c, q).data["components"]["pch"][0]["serialNumber"] == m.gateway_serial
    assert pw3.tedapi_count("query:ComponentsQuery") == 3
    assert pw3.tedapi_requests[0] == (f"/tedapi/device/{leader}/v1", "query:ComponentsQuery")


def test_components_variables_and_night_noise(key_pem: tuple[Path, bytes], qset: QuerySet) -> None:
    night = T0 - 8 * 3600  # midnight local
    with _gateway(SiteModel.pw3(seed=2, clock=FrozenClock(night), start_time=night), key_pem[1]) as gw:
        c = Tedapi(gw)
        q = with_variables(
            qset.queries["components"],
            pchSignalNames=["PCH_PvCurrentA", "PCH_Bogus", "PCH_PvCurrentA", "PCH_AcVoltageCN"],
            bmsComponentsFilter={"types": ["PCH"]},
        )
        comp = query(c, q).data["components"]
        names = [s["name"] for s in comp["pch"][0]["signals"]]
        assert names == ["PCH_PvCurrentA", "PCH_PvCurrentA", "PCH_AcVoltageCN"]
        current = comp["pch"][0]["signals"][0]["value"]
        assert -0.05 < current < 0  # tiny negative noise at night
        assert comp["bms"] == [] and comp["hvp"]  # the bms filter names another type only


def test_routed_requests_are_checked(pw3: SimulatedGateway, pw2: SimulatedGateway, qset: QuerySet) -> None:
    c = Tedapi(pw3)
    q = qset.queries["components"]
    follower = pw3.model.battery_dins[1]
    unknown = "1707000-11-J--TG100000000001"
    assert (
        c.post(
            envelope.query_request(Route(unknown, leader=pw3.model.gateway_din), q), f"/tedapi/device/{unknown}/v1"
        ).status_code
        == 404
    )
    wrong = envelope.query_request(Route(follower, leader=follower), q)  # sender is not the leader
    assert c.post(wrong, f"/tedapi/device/{follower}/v1").status_code == 400
    assert (
        Tedapi(pw2)
        .post(envelope.query_request(Route(follower, leader=pw2.model.gateway_din), q), f"/tedapi/device/{follower}/v1")
        .status_code
        == 404
    )


# ------------------------------------------------------------------ dangerous bodies
def _raw_message(envelope_fields: bytes, tail: int = 1) -> bytes:
    env = b"\x08\x01" + envelope_fields  # deliveryChannel = 1
    return b"\x0a" + bytes([len(env)]) + env + b"\x12\x02\x08" + bytes([tail])


@pytest.mark.parametrize(
    ("name", "fields"),
    [
        ("teg (field 5)", b"\x2a\x02\x08\x01"),
        ("filestore write (field 15, message 3)", b"\x7a\x06\x1a\x04\x08\x01\x10\x01"),
        ("authorization (field 12)", b"\x62\x00"),
        ("config.json read of another file", b"\x7a\x08\x0a\x06\x08\x01\x12\x02\x61\x62"),
    ],
)
def test_dangerous_envelopes_are_recorded_and_refused(pw2: SimulatedGateway, name: str, fields: bytes) -> None:
    body = _raw_message(fields)
    assert envelope.describe(body).startswith("dangerous:"), name
    r = Tedapi(pw2).post(body)
    assert r.status_code in (400, 403)
    assert len(pw2.dangerous_calls) == 1 and pw2.tedapi_count("dangerous") == 1
    with pytest.raises(AssertionError):
        pw2.assert_safe()


def test_dangerous_body_is_recorded_even_with_a_wrong_password_or_tedapi_off(pw2: SimulatedGateway) -> None:
    Tedapi(pw2, "wrong").post(_raw_message(b"\x2a\x00"))
    assert len(pw2.dangerous_calls) == 1
    with SimulatedGateway(model=SiteModel(start_time=SIM_START)) as off:
        assert Tedapi(off).post(_raw_message(b"\x2a\x00")).status_code == 404
        assert len(off.dangerous_calls) == 1


def test_reads_are_safe_and_counted(pw2: SimulatedGateway, qset: QuerySet) -> None:
    c = Tedapi(pw2)
    route = Route(pw2.model.gateway_din)
    c.post(envelope.config_request(route))
    c.post(envelope.firmware_request(route))
    query(c, qset.queries["device_controller"])
    query(c, qset.queries["device_controller"])
    assert pw2.tedapi_count("config") == 1 and pw2.tedapi_count("firmware") == 1
    assert pw2.tedapi_count("query:DeviceControllerQuery") == 2 and pw2.tedapi_count("query") == 2
    pw2.assert_safe()


# ------------------------------------------------------------------ faults
# Each TEDAPI fault switched on with a value that would show on a JSON page if it leaked there
# (a delay beyond the client's timeout, an error status, fields that overwrite the page's).
LEAK_VALUES: dict[str, Any] = {
    "tedapi_delay": 10.0,
    "tedapi_status": 503,
    "tedapi_config_blob": b"{}",
    "tedapi_extra_json": {"din": "LEAKED", "version": "LEAKED"},
}
JSON_PAGES_SEEN = ("/api/status", "/api/system_status/soe", "/api/meters/aggregates")


@pytest.mark.parametrize("name", TEDAPI_FAULT_NAMES)
def test_no_tedapi_fault_reaches_the_json_api(pw2: SimulatedGateway, name: str) -> None:
    """The TEDAPI faults are kept apart from the JSON API's (faults.py): on, each leaves the JSON pages as they were."""
    c = Tedapi(pw2)
    before = {path: c.json(path) for path in JSON_PAGES_SEEN}
    pw2.faults.set(name, LEAK_VALUES.get(name, True))
    assert pw2.faults.active() == {name: LEAK_VALUES.get(name, True)}
    assert {path: c.json(path) for path in JSON_PAGES_SEEN} == before


@pytest.mark.parametrize("code", [401, 403, 429, 503])
def test_fault_tedapi_status_leaves_the_json_api_alone(pw2: SimulatedGateway, code: int) -> None:
    pw2.faults.tedapi_status = code
    c = Tedapi(pw2)
    assert c.get("/tedapi/din").status_code == code
    assert c.post(envelope.firmware_request(Route(pw2.model.gateway_din))).status_code == code
    assert c.json("/api/status")["din"] == pw2.model.gateway_din  # the JSON API keeps working


def test_fault_lan_403(pw2: SimulatedGateway) -> None:
    pw2.faults.tedapi_lan_403 = True
    r = Tedapi(pw2).get("/tedapi/din")
    assert r.status_code == 403
    assert r.json() == {
        "code": 403,
        "error": "Unable to GET to resource",
        "message": "User does not have adequate access rights",
    }


def test_fault_ap_gone_only_on_tedapi(pw2: SimulatedGateway) -> None:
    pw2.faults.tedapi_ap_gone = True
    c = Tedapi(pw2)
    with pytest.raises(requests.ConnectionError):
        c.get("/tedapi/din")
    assert c.json("/api/system_status/soe")["percentage"] > 0


def test_fault_delay(pw2: SimulatedGateway) -> None:
    pw2.faults.set("tedapi_delay", 0.4, times=1)
    start = time.monotonic()
    assert Tedapi(pw2).get("/tedapi/din").status_code == 200
    assert time.monotonic() - start >= 0.4
    start = time.monotonic()
    Tedapi(pw2).get("/tedapi/din")
    assert time.monotonic() - start < 0.4


def test_fault_empty_data(pw3: SimulatedGateway, qset: QuerySet) -> None:
    pw3.faults.tedapi_empty_data = True
    answer = query(Tedapi(pw3), qset.queries["device_controller"])
    assert answer.status == 1 and answer.data is None


@pytest.mark.parametrize("site", ["pw2", "pw3"])
def test_fault_truncated_and_garbage_protobuf(site: str, request: pytest.FixtureRequest, qset: QuerySet) -> None:
    gw: SimulatedGateway = request.getfixturevalue(site)
    c = Tedapi(gw)
    body = envelope.query_request(Route(gw.model.gateway_din), qset.queries["device_controller"])
    for fault in ("tedapi_truncated", "tedapi_garbage"):
        gw.faults.set(fault, True, times=1)
        r = c.post(body)
        assert r.status_code == 200
        with pytest.raises(envelope.EnvelopeError):
            envelope.query_answer(body_of(r))
    assert envelope.query_answer(body_of(c.post(body))).status == 1


def test_fault_extra_json_patches_the_answers_of_its_kinds(pw3: SimulatedGateway, qset: QuerySet) -> None:
    hvp = [{"serialNumber": f"TGX{k:05d}", "signals": []} for k in range(3)]
    c = Tedapi(pw3)
    leader = pw3.model.gateway_din
    pw3.faults.set("tedapi_extra_json", {"site_info": {"country": 61}}, kinds={"config"})
    config = envelope.config_answer(body_of(c.post(envelope.config_request(Route(leader)))))
    assert config["site_info"]["country"] == 61 and config["site_info"]["site_name"] == pw3.model.site_name
    pw3.faults.set("tedapi_extra_json", {"components": {"hvp": hvp}}, kinds={"query:ComponentsQuery"})
    components = _components(c, qset.queries["components"], leader)
    assert components["hvp"] == hvp and components["pch"]  # merged: replaced where given, kept elsewhere
    controller = query(c, qset.queries["device_controller"]).data
    assert "TGX00000" not in {e["serialNumber"] for e in controller["components"]["msa"]}  # not its kind


def test_fault_bad_gzip(pw3: SimulatedGateway) -> None:
    pw3.faults.tedapi_bad_gzip = True
    r = Tedapi(pw3).get("/tedapi/din")
    assert r.status_code == 200 and r.content[:2] == b"\x1f\x8b"
    with pytest.raises((OSError, EOFError, zlib.error)):
        gzip.decompress(r.content)


def test_secrets_are_fake_and_distinct() -> None:
    assert len(set(SECRETS)) == len(SECRETS) and all(s.startswith("SECRET-") for s in SECRETS)


def test_cli_offers_the_profiles_and_tedapi_options() -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "exporter.simulator", "--help"], capture_output=True, text=True, timeout=30, check=False
    )
    assert proc.returncode == 0
    for option in ("--profile", "pw2-tedapi", "pw3", "--gateway-password", "--tedapi-queries-out"):
        assert option in proc.stdout


def test_a_tedapi_fault_aimed_at_a_message_kind_spares_the_others() -> None:
    f = Faults()
    f.set("tedapi_garbage", True, kinds={"config"})
    assert f.peek("tedapi_garbage", "/tedapi/v1", "firmware") is None
    assert f.peek("tedapi_garbage", "/tedapi/v1") is None  # no kind given: a kind rule does not apply
    assert f.take("tedapi_garbage", "/tedapi/v1", "config") is True
