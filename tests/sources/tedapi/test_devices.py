"""TEDAPI answers → Device records → the one rule table's series (names, labels, units)."""

from __future__ import annotations

from typing import Any

import pytest

from exporter.devices.flatten import flatten_devices
from exporter.devices.model import Device
from exporter.metrics.metricset import MetricSet
from exporter.sources.tedapi.devices import Block, blocks, components_devices, controller_devices
from tests.render import render
from tests.sources.tedapi import answers as a
from tests.support.series import Sample, sample, samples

ENDPOINT = "tedapi"
FW = "26.18.3"


def _flat(devices: list[Device]) -> MetricSet:
    ms = MetricSet()
    flatten_devices(devices, ms, ENDPOINT)
    return ms


def _one(ms: MetricSet, name: str, **labels: str) -> float:
    matches = [v for k, v in ms.samples(name).items() if labels.items() <= dict(k).items()]
    assert len(matches) == 1, f"{name}{labels}: {len(matches)} matches in {list(ms.samples(name))}"
    return matches[0]


@pytest.fixture(scope="module")
def pw2() -> list[Device]:
    return controller_devices(a.pw2_controller(), a.GATEWAY_DIN, FW)


@pytest.fixture(scope="module")
def pw2_ms(pw2: list[Device]) -> MetricSet:
    return _flat(pw2)


@pytest.fixture(scope="module")
def leader() -> Block:
    return blocks(a.pw3_config())[0]


@pytest.fixture(scope="module")
def pw3() -> list[Device]:
    return components_devices(a.pw3_components(), blocks(a.pw3_config())[0], FW)


@pytest.fixture(scope="module")
def pw3_ms(pw3: list[Device]) -> MetricSet:
    return _flat(pw3)


TEPINV1 = {"device": "TEPINV", "serial": "TG111111111111", "part_number": "2012170-25-E"}
TEPINV2 = {"device": "TEPINV", "serial": "TG222222222222", "part_number": "3012170-05-B"}
PVAC = {"device": "PVAC", "serial": "CN321293D0001", "part_number": "1538100-00-F"}
PCH = {"device": "PCH", "serial": "TG9876543210AB", "part_number": "1707000-11-J"}
PACK = {"device": "HVP", "serial": "TG9876543210AB", "part_number": "1707000-11-J"}
EXPANSION = {"device": "HVP", "serial": "TG5555555555CD", "part_number": "1807000-20-B"}


def test_blocks_tolerant() -> None:
    got = blocks(a.pw3_config())
    assert [b.din for b in got] == [a.PW3_DIN, "1707000-11-J--TG0000000000FF"]
    assert got[0].expansions == (a.EXPANSION_DIN,) and got[0].is_pw3 and got[1].is_pw3
    assert not Block("2012170-25-E--TG1", "Powerwall2", ()).is_pw3
    assert blocks({}) == [] and blocks({"battery_blocks": "x"}) == []


def test_pw2_device_set(pw2: list[Device]) -> None:
    fams = [(d.family, d.serial) for d in pw2]
    assert fams[0] == ("STSTSM", "TG123456789ABC")
    assert sorted(fams[1:]) == sorted(
        [
            ("TEPINV", "TG111111111111"),
            ("TEPOD", "TG111111111111"),
            ("TETHC", "TG111111111111"),
            ("TEPINV", "TG222222222222"),
            ("TEPOD", "TG222222222222"),
            ("TETHC", "TG222222222222"),
            ("PVAC", "CN321293D0001"),
            ("PVS", "CN321293D0001"),
            ("TESYNC", "JBL21234567"),
            ("NEURIO", "VAH1234567890"),
        ]
    ), "empty MIA slots (third Powerwall, second PVAC, MSA) must be skipped"
    assert all(d.firmware == FW for d in pw2)
    by = {(d.family, d.serial): d for d in pw2}
    assert by[("TEPINV", "TG111111111111")].parent_din == "TETHC--2012170-25-E--TG111111111111"
    assert by[("PVS", "CN321293D0001")].parent_din == "PVAC--1538100-00-F--CN321293D0001"
    assert by[("TEPINV", "TG111111111111")].din == "TEPINV--2012170-25-E--TG111111111111"
    gw = pw2[0]
    assert gw.din == "STSTSM--" + a.GATEWAY_DIN and gw.part_number == "1232100-00-E"
    assert gw.alerts == ("SystemConnectedToGrid", "GridCodesWrite", "GridCodesWrite")


@pytest.mark.parametrize(
    ("name", "labels", "value"),
    [
        ("powerwall_inverter_power_watts", TEPINV1, -520.0),  # kW * 1000
        ("powerwall_inverter_power_watts", TEPINV2, -540.0),
        ("powerwall_inverter_phase_voltage_volts", {**TEPINV1, "phase": "B"}, 120.9),
        ("powerwall_inverter_frequency_hertz", TEPINV1, 60.021),
        ("powerwall_inverter_state_info", {**TEPINV1, "state": "PINV_GridFollowing"}, 1.0),
        ("powerwall_inverter_grid_state_info", {**TEPINV1, "state": "Grid_Compliant"}, 1.0),
        ("powerwall_pod_energy_remaining_joules", {**TEPINV1, "device": "TEPOD"}, 4504 * 3600.0),
        ("powerwall_pod_full_pack_energy_joules", {**TEPINV2, "device": "TEPOD"}, 13148 * 3600.0),
        ("powerwall_pod_available_charge_power_watts", {**TEPINV1, "device": "TEPOD"}, 7000.0),
        ("powerwall_pod_available_charge_power_watts", {**TEPINV2, "device": "TEPOD"}, 6340.0),
        ("powerwall_thermal_ambient_temperature_celsius", {**TEPINV1, "device": "TETHC"}, 15.6),
        ("powerwall_thermal_ambient_temperature_celsius", {**TEPINV2, "device": "TETHC"}, 15.2),
        ("powerwall_inverter_heatsink_temperature_celsius", TEPINV1, 31.5),
        ("powerwall_inverter_heatsink_temperature_celsius", TEPINV2, 30.5),
        ("powerwall_inverter_lifetime_energy_charged_joules_total", TEPINV1, 7392262.0 * 3600),
        ("powerwall_solar_inverter_power_watts", PVAC, 1960.0),
        ("powerwall_solar_string_voltage_volts", {**PVAC, "string": "C"}, 294.4),
        ("powerwall_solar_string_current_amperes", {**PVAC, "string": "A"}, 1.74),
        ("powerwall_solar_string_power_watts", {**PVAC, "string": "C"}, 294.4 * 2.55),
        ("powerwall_solar_string_connected", {**PVAC, "device": "PVS", "string": "B"}, 0.0),
        ("powerwall_solar_pvs_line_voltage_volts", {**PVAC, "device": "PVS"}, 241.6),
        ("powerwall_fan_speed_rpm", {**PVAC, "fan": "A"}, 2400.0),
        ("powerwall_ct_power_watts", {"device": "TESYNC", "channel": "X", "ct": "2"}, -147.0),
        ("powerwall_ct_meter_voltage_volts", {"device": "TESYNC", "channel": "Y", "phase": "A"}, 120.84),
        ("powerwall_island_grid_connected", {"device": "TESYNC", "serial": "JBL21234567"}, 1.0),
        ("powerwall_island_voltage_volts", {"device": "TESYNC", "phase": "A", "side": "main"}, 121.5),
        ("powerwall_device_uptime_seconds", {"device": "TESYNC", "serial": "JBL21234567"}, 3600.5),
        ("powerwall_ct_power_watts", {"device": "NEURIO", "channel": "neurio", "ct": "1"}, 1936.36),
        ("powerwall_ct_current_amperes", {"device": "NEURIO", "channel": "neurio", "ct": "1"}, 16.1),
        ("powerwall_ct_voltage_volts", {"device": "NEURIO", "channel": "neurio", "ct": "2"}, 121.1),
        ("powerwall_vital_pinv_hardware_enable_line", TEPINV1, 1.0),
        ("powerwall_vital_pinv_mystery_number", TEPINV1, 42.0),  # unknown signal: generic
        ("powerwall_vital_gw_mystery", {"device": "STSTSM", "serial": "TG123456789ABC"}, 1.5),
        ("powerwall_device_alert", {**TEPINV1, "device": "TETHC", "alert": "THC_w061_CAN_TX_FIFO_Overflow"}, 1.0),
        ("powerwall_device_alert", {"device": "STSTSM", "alert": "GridCodesWrite"}, 1.0),
        ("powerwall_device_alert", {**PVAC, "device": "PVS", "alert": "PVS_a018_MciStringB"}, 1.0),
        ("powerwall_device_info", {"device": "STSTSM", "din": "STSTSM--" + a.GATEWAY_DIN, "firmware": FW}, 1.0),
    ],
)
def test_pw2_series(pw2_ms: MetricSet, name: str, labels: dict[str, str], value: float) -> None:
    assert _one(pw2_ms, name, **labels) == pytest.approx(value)


def test_pw2_neurio_null_is_absent(pw2_ms: MetricSet) -> None:
    assert pw2_ms.get("powerwall_ct_power_watts", device="NEURIO", ct="2") is None
    assert pw2_ms.get("powerwall_ct_reactive_power_var", device="NEURIO", ct="2") == 0.0


def test_pw3_controller_has_only_the_gateway() -> None:
    """Fw 26.10's zero-filled slots (isMIA inside) are no devices, and the msa pack entries (all-zero
    part number) are the ComponentsQuery's packs: not a fourth pack on the Powerwall 3's record."""
    devices = controller_devices(a.pw3_controller(), a.PW3_DIN, FW)
    assert [(d.family, d.din) for d in devices] == [("PW3", a.PW3_DIN)]
    assert devices[0].alerts == ("PodCommissionTime",)
    assert devices[0].signals == {}
    ms = _flat(devices)
    assert not ms.samples("powerwall_pod_energy_remaining_joules")
    assert not ms.samples("powerwall_inverter_state_info") and not ms.samples("powerwall_solar_string_connected")


def _pw2_with(**bus: Any) -> dict[str, Any]:
    data = a.pw2_controller()
    data["esCan"]["bus"].update(bus)
    return data


def test_mia_sub_message_gives_no_signals_but_the_device_stays() -> None:
    """A Powerwall with a serial whose inverter message is MIA: the identity is real, the zeros are not."""
    data = a.pw2_controller()
    data["esCan"]["bus"]["PINV"][1]["PINV_Status"] = {
        "isMIA": True,
        "PINV_Pout": 0,
        "PINV_State": "PINV_Off",
        "PINV_GridState": "Grid_Uncompliant",
    }
    by = {(d.family, d.serial): d for d in controller_devices(data, a.GATEWAY_DIN, FW)}
    pinv = by[("TEPINV", "TG222222222222")]
    assert "PINV_Pout" not in pinv.signals and "PINV_State" not in pinv.signals
    assert pinv.signals["PINV_VSplit1"] == 121.0  # the other sub-message still reports


def test_an_empty_pod_slot_flagged_only_at_its_top_is_no_device() -> None:
    """Found by the property test: a POD slot that is nothing but ``isMIA: true`` (no sub-message),
    under a THC that carries a serial and is MIA too, must not become a TEPOD with no readings."""
    data = a.pw2_controller()
    data["esCan"]["bus"]["POD"] = [{"isMIA": True, "isComplete": False, "lastRxTime": "0001-01-01T00:00:00Z"}]
    data["esCan"]["bus"]["THC"] = [
        {
            "packagePartNumber": "",
            "packageSerialNumber": "x",
            "THC_InfoMsg": {"isMIA": True, "isComplete": False, "THC_AmbientTemp": 0},
            "alerts": None,
        }
    ]
    devices = controller_devices(data, a.GATEWAY_DIN, FW)
    assert not [d for d in devices if d.family == "TEPOD" and d.serial == "x"], [(d.family, d.serial) for d in devices]


def test_no_record_without_serial_from_any_part_of_the_answer() -> None:
    data = _pw2_with(SYNC={"METER_X_AcMeasurements": {"METER_X_CTA_InstRealPower": 5.0}})
    data["neurio"]["readings"].append({"serial": "", "dataRead": [{"realPowerW": 1.0}]})
    data["components"]["msa"] += [
        {"partNumber": "", "serialNumber": "", "signals": [a.sig("MSA_Mystery", 1.0)]},  # no TEMSA record
        {"partNumber": "0" * 20, "serialNumber": "", "signals": [a.sig("BMS_nominalEnergyRemaining", 5.0)]},
    ]
    devices = controller_devices(data, a.GATEWAY_DIN, FW)
    assert all(d.serial for d in devices), [(d.family, d.serial) for d in devices]
    assert not any(d.family in ("TEMSA", "HVP") for d in devices)
    # The islander has no identity of its own; without a synchrometer it has nobody to report on.
    assert not any(k.startswith("ISLAND_") for d in devices for k in d.signals)
    assert not any(k.startswith(("MSA_", "BMS_")) for d in devices for k in d.signals)
    assert all(d.family != "STSTSM" for d in controller_devices(data, "", FW)), "no gateway record without a DIN"


def test_msa_entry_identity() -> None:
    data = a.pw2_controller()
    data["components"]["msa"] += [
        # a meter of its own, under an all-zero part number: a record with the serial and no part
        {"partNumber": "0000000000", "serialNumber": "MSA123", "signals": [a.sig("MSA_Mystery", 1.0)]},
        # a pack's signals on a Powerwall 2 site: no pack record to belong to
        {"partNumber": "0" * 20, "serialNumber": "TG777", "signals": [a.sig("BMS_nominalFullPackEnergy", 13.5)]},
        # no known prefix, foreign serial: onto that device, not the gateway
        {"serialNumber": "TG222222222222", "signals": [a.sig("ZZZ_Mystery", 2.0)]},
        {"serialNumber": "NOBODY", "signals": [a.sig("ZZZ_Other", 3.0)]},
    ]
    devices = controller_devices(data, a.GATEWAY_DIN, FW)
    by = {(d.family, d.serial): d for d in devices}
    assert by[("TEMSA", "MSA123")].part_number == "" and by[("TEMSA", "MSA123")].din == "TEMSA--MSA123"
    assert not any(d.serial == "TG777" for d in devices)
    assert any(d.serial == "TG222222222222" and d.signals.get("ZZZ_Mystery") == 2.0 for d in devices)
    assert not any("ZZZ_Other" in d.signals for d in devices)
    assert "ZZZ_Mystery" not in devices[0].signals


def test_no_device_twice() -> None:
    data = a.pw2_controller()
    bus = data["esCan"]["bus"]
    for array in ("THC", "PINV", "POD"):
        bus[array].insert(1, bus[array][0])  # the first Powerwall listed twice
    devices = controller_devices(data, a.GATEWAY_DIN, FW)
    keys = [(d.family, d.serial) for d in devices]
    assert len(keys) == len(set(keys))
    assert ("TEPOD", "TG222222222222") in keys


def test_packs_need_a_serial_and_count_once(leader: Block) -> None:
    data = a.pw3_components()
    comps = data["components"]
    comps["bms"] += [comps["bms"][1], {"signals": [a.sig("BMS_nominalEnergyRemaining", 4.0)]}]
    comps["hvp"] += [comps["hvp"][1], {"partNumber": "0" * 20, "serialNumber": "", "signals": []}]
    packs = [d for d in components_devices(data, leader, FW) if d.family == "HVP"]
    assert [d.serial for d in packs] == ["TG9876543210AB", "TG5555555555CD"]


def test_blocks_listed_twice_count_once() -> None:
    cfg = a.pw3_config()
    cfg["battery_blocks"].append(cfg["battery_blocks"][0])
    assert [b.din for b in blocks(cfg)] == [a.PW3_DIN, "1707000-11-J--TG0000000000FF"]


def test_pw3_device_set(pw3: list[Device], leader: Block) -> None:
    assert [(d.family, d.serial) for d in pw3] == [
        ("PW3", "TG9876543210AB"),
        ("PCH", "TG9876543210AB"),
        ("HVP", "TG9876543210AB"),
        ("HVP", "TG5555555555CD"),  # the phantom third slot is skipped
        ("BAGGR", "TG9876543210AB"),
        ("PWS", "TG9876543210AB"),
    ]
    assert pw3[0].din == leader.din
    assert all(d.parent_din == leader.din for d in pw3[1:])
    assert all(d.firmware == FW for d in pw3)
    assert pw3[3].alerts == ("BMS_a035_SW_Cell_Imbalance",)
    assert not any("BMS_a001_PhantomAlert" in d.alerts for d in pw3)


KWH = 3.6e6


@pytest.mark.parametrize(
    ("name", "labels", "value"),
    [
        ("powerwall_solar_string_voltage_volts", {**PCH, "string": "F"}, 0.0),
        ("powerwall_solar_string_voltage_volts", {**PCH, "string": "A"}, 380.2),
        ("powerwall_solar_string_current_amperes", {**PCH, "string": "B"}, 5.0),
        ("powerwall_solar_string_current_amperes", {**PCH, "string": "C"}, 0.0),  # |I| < 0.05 A clamped
        ("powerwall_solar_string_current_amperes", {**PCH, "string": "D"}, -0.3),  # above the bound: kept
        ("powerwall_solar_string_power_watts", {**PCH, "string": "A"}, 380.2 * 5.1),
        ("powerwall_solar_string_power_watts", {**PCH, "string": "C"}, 0.0),
        ("powerwall_solar_string_power_watts", {**PCH, "string": "E"}, 1230.0),
        ("powerwall_solar_string_state_info", {**PCH, "string": "B", "state": "Pv_Active_Parallel"}, 1.0),
        ("powerwall_inverter_power_watts", PCH, 3210.0),  # W, no scale
        ("powerwall_inverter_voltage_volts", PCH, 242.0),  # AB sorts before LL: AB kept
        ("powerwall_inverter_phase_voltage_volts", {**PCH, "phase": "A"}, 121.1),
        ("powerwall_inverter_frequency_hertz", PCH, 60.01),
        ("powerwall_inverter_state_info", {**PCH, "state": "PCH_State_Grid_Following"}, 1.0),
        ("powerwall_inverter_ac_mode_info", {**PCH, "state": "AC_Connected"}, 1.0),
        ("powerwall_inverter_battery_power_watts", PCH, -1500.0),
        ("powerwall_inverter_solar_power_watts", PCH, 5300.0),
        ("powerwall_thermal_ambient_temperature_celsius", PCH, 22.5),  # first of the duplicates
        ("powerwall_fan_speed_rpm", {**PCH, "fan": "B"}, 1180.0),
        ("powerwall_fan_duty_ratio", {**PCH, "fan": "A"}, 0.35),
        ("powerwall_vital_pch_ac_real_power_ab", PCH, 3200.0),
        ("powerwall_device_alert", {**PCH, "alert": "PCH_a042_PvArcLockout"}, 1.0),
        ("powerwall_pod_energy_remaining_joules", PACK, 6.75 * KWH),
        ("powerwall_pod_full_pack_energy_joules", PACK, 13.5 * KWH),
        ("powerwall_pod_energy_remaining_joules", EXPANSION, 6.0 * KWH),
        ("powerwall_pod_energy_discharged_joules_total", PACK, 1234.5 * KWH),
        ("powerwall_pod_full_cycles_total", PACK, 87.0),
        ("powerwall_pod_charge_capacity_coulombs", PACK, 180.5 * 3600),
        ("powerwall_pod_charge_discharged_coulombs_total", PACK, 20000.0 * 3600),
        ("powerwall_pod_temperature_celsius", {**PACK, "sensor": "max"}, 26.0),
        ("powerwall_pod_temperature_celsius", {**PACK, "sensor": "min"}, 21.5),
        ("powerwall_pod_shunt_temperature_celsius", PACK, 24.0),
        ("powerwall_pod_state_info", {**EXPANSION, "state": "HVP_State_Active"}, 1.0),
        ("powerwall_battery_packs_expected", {**PCH, "device": "BAGGR"}, 2.0),
        ("powerwall_battery_packs_present", {**PCH, "device": "BAGGR"}, 2.0),
        ("powerwall_battery_packs_connected", {**PCH, "device": "BAGGR"}, 2.0),
        ("powerwall_battery_aggregator_state_info", {**PCH, "device": "BAGGR", "state": "BAGGR_STATE_ACTIVE"}, 1.0),
        ("powerwall_device_alert", {**PCH, "device": "BAGGR", "alert": "BAGGR_a001_Info"}, 1.0),
        ("powerwall_vital_pws_prod_switch_state", {**PCH, "device": "PWS"}, 1.0),
        ("powerwall_vital_pws_self_test_info", {**PCH, "device": "PWS", "value": "PWS_SelfTestOff"}, 1.0),
        ("powerwall_device_info", {"device": "PW3", "din": a.PW3_DIN, "parent_din": ""}, 1.0),
        ("powerwall_device_info", {**EXPANSION, "din": "HVP--1807000-20-B--TG5555555555CD"}, 1.0),
    ],
)
def test_pw3_series(pw3_ms: MetricSet, name: str, labels: dict[str, str], value: float) -> None:
    assert _one(pw3_ms, name, **labels) == pytest.approx(value)


def test_pw3_dropped_signals(pw3_ms: MetricSet) -> None:
    names = set(pw3_ms.names())
    assert not any("heatsink" in n or "package" in n for n in names), sorted(names)
    assert len(pw3_ms.samples("powerwall_solar_string_voltage_volts")) == 6
    assert len(pw3_ms.samples("powerwall_pod_energy_remaining_joules")) == 2  # phantom skipped


def test_sensitive_fields_never_exported(pw2_ms: MetricSet) -> None:
    ms = _flat(controller_devices(a.pw3_controller(), a.PW3_DIN, FW))
    for text in (render(pw2_ms), render(ms)):
        assert a.SESSION_ID not in text
        assert "session" not in text.lower() and "support_mode" not in text


def test_device_records_carry_only_safe_data(pw2: list[Device]) -> None:
    for d in pw2:
        assert not any("session" in k.lower() for k in d.signals)
        assert a.SESSION_ID not in repr(d)


GATEWAY = {"device": "STSTSM", "serial": "TG123456789ABC", "part_number": "1232100-00-E"}
GATEWAY_INFO = sample(
    "powerwall_device_info",
    {**GATEWAY, "din": "STSTSM--" + a.GATEWAY_DIN, "parent_din": "", "firmware": "", "manufacturer": "TESLA"},
    1.0,
)
PW3_UNIT = {"device": "PW3", "serial": "TG9876543210AB", "part_number": "1707000-11-J"}
PW3_INFO = sample(
    "powerwall_device_info",
    {**PW3_UNIT, "din": a.PW3_DIN, "parent_din": "", "firmware": "", "manufacturer": "TESLA"},
    1.0,
)


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"esCan": None, "components": "x", "control": []},
        {"esCan": {"bus": {"PINV": "x", "THC": [None, 1], "POD": [{}], "SYNC": [1], "ISLANDER": 5}}},
        {"esCan": {"bus": {"PVAC": [{"PVAC_Status": {"PVAC_Pout": float("nan"), "PVAC_State": ["x"]}}]}}},
        {"components": {"msa": [None, {"signals": [None, {"name": 3}, {"name": "X_Y", "value": {}}]}]}},
        {"neurio": {"readings": [None, {"serial": 5, "dataRead": [None, {"realPowerW": "x"}]}]}},
    ],
)
def test_controller_odd_input_leaves_only_the_gateway(data: dict[str, Any]) -> None:
    """Slots of the wrong type, empty slots, values that are no number, unnamed signals: no device but
    the gateway itself (known from its DIN alone), and no reading."""
    ms = _flat(controller_devices(data, a.GATEWAY_DIN, None))
    assert samples(ms) == {GATEWAY_INFO}
    render(ms)


def test_controller_keeps_only_the_alerts_that_are_names() -> None:
    ms = _flat(controller_devices({"control": {"alerts": {"active": [None, 3, "", "A"]}}}, a.GATEWAY_DIN, None))
    assert samples(ms) == {GATEWAY_INFO, sample("powerwall_device_alert", {**GATEWAY, "alert": "A"}, 1.0)}


PCH_INFO = sample(
    "powerwall_device_info",
    {
        **PW3_UNIT,
        "device": "PCH",
        "din": "PCH--" + a.PW3_DIN,
        "parent_din": a.PW3_DIN,
        "firmware": "",
        "manufacturer": "TESLA",
    },
    1.0,
)


@pytest.mark.parametrize(
    ("data", "remains"),
    [
        ({}, {PW3_INFO}),
        ({"components": None}, {PW3_INFO}),
        ({"components": {"pch": "x", "bms": [None], "hvp": [1, {}], "baggr": [None], "pws": []}}, {PW3_INFO}),
        # A number slot holding a boolean is no reading; the inverter it names is still a device.
        ({"components": {"pch": [{"signals": [{"name": "PCH_PvCurrentA", "value": True}]}]}}, {PW3_INFO, PCH_INFO}),
        # A pack slot with no serial and no finite energy is a phantom, not a pack.
        ({"components": {"bms": [{"signals": [{"name": "BMS_nominalEnergyRemaining", "value": 1e400}]}]}}, {PW3_INFO}),
    ],
)
def test_components_odd_input_leaves_only_the_unit(data: dict[str, Any], remains: set[Sample]) -> None:
    ms = _flat(components_devices(data, Block(a.PW3_DIN, "Powerwall3", ()), None))
    assert samples(ms) == remains
    render(ms)
