"""The real vitals capture and the published JSON examples as metrics: names, units, labels, exposition.

Expected names and values here are written out by hand from ``gateway-api.md`` section 4 and the
contract, not derived from the mapping table, so a wrong table entry fails a test.
"""

from __future__ import annotations

import json
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.devices.flatten import flatten_devices
from exporter.devices.model import Device
from exporter.devices.resolve import resolve
from exporter.metrics.metricset import MetricSet
from exporter.sources.vitals.decode import decode_vitals
from tests.render import render
from tests.scrape import Scrape
from tests.sources.vitals.encoder import encode_vitals_json, vitals_of
from tests.support.prereqs import require_binary, require_fixtures

VITALS = "/api/devices/vitals"  # the endpoint label of the generic-name budget

H = 3600.0
EXAMPLES = ("powerwall2-example", "pypowerwall-example", "pypowerwall-example-latest")

PINV10 = {"device": "TEPINV", "serial": "T0000000000", "part_number": "1081100-10-U"}
POD13 = {"device": "TEPOD", "serial": "T0000000000", "part_number": "1081100-13-V"}
THC25 = {"device": "TETHC", "serial": "T0000000000000", "part_number": "2012170-25-E"}
PVAC = {"device": "PVAC", "serial": "C0000000000000", "part_number": "1538100-00-F"}
PVS = {"device": "PVS", "serial": "C0000000000000", "part_number": "1538100-00-F"}
SYNC = {"device": "TESYNC", "serial": "J0000000000000", "part_number": "1493315-01-F"}
NEURIO = {"device": "NEURIO", "serial": "V000000000000", "part_number": ""}
GW = {"device": "STSTSM", "serial": "T0000000000000", "part_number": "1232100-00-E"}
PVINV = {"device": "TESLA", "serial": "C0000000000000", "part_number": "1538100-00-F"}


@pytest.fixture(scope="module")
def vitals_dir() -> Path:
    return require_fixtures() / "vitals"


@pytest.fixture(scope="module")
def capture_devices(vitals_dir: Path) -> list[Device]:
    return decode_vitals((vitals_dir / "pwsim-vitals.pb").read_bytes())


@pytest.fixture(scope="module")
def ms(capture_devices: list[Device]) -> MetricSet:
    out = MetricSet(base_labels={"gateway": "home"})
    assert flatten_devices(capture_devices, out, VITALS) is None  # type: ignore[func-returns-value]
    return out


@pytest.fixture(scope="module")
def exposition(ms: MetricSet) -> str:
    return render(ms)


# (metric, labels, value) for the real capture: one or more rows per curated family.
CAPTURE_EXPECTED: list[tuple[str, dict[str, str], float]] = [
    ("powerwall_inverter_power_watts", PINV10, -520.0),
    ("powerwall_inverter_reactive_power_var", PINV10, 0.0),
    ("powerwall_inverter_voltage_volts", PINV10, 242.20000000000002),
    ("powerwall_inverter_phase_voltage_volts", {**PINV10, "phase": "A"}, 121.2),
    ("powerwall_inverter_phase_voltage_volts", {**PINV10, "phase": "B"}, 120.9),
    ("powerwall_inverter_frequency_hertz", PINV10, 60.021),
    ("powerwall_inverter_pll_frequency_hertz", PINV10, 60.010999999999996),
    ("powerwall_inverter_energy_charged_joules_total", PINV10, 7392262.0 * H),
    ("powerwall_inverter_energy_discharged_joules_total", PINV10, 6572974.0 * H),
    ("powerwall_inverter_state_info", {**PINV10, "state": "PINV_GridFollowing"}, 1.0),
    ("powerwall_inverter_grid_state_info", {**PINV10, "state": "Grid_Compliant"}, 1.0),
    ("powerwall_inverter_power_limiter_info", {**PINV10, "state": "PWRLIM_POD_Power_Limit"}, 1.0),
    ("powerwall_pod_energy_remaining_joules", POD13, 4715.0 * H),
    ("powerwall_pod_full_pack_energy_joules", POD13, 13148.0 * H),
    ("powerwall_pod_energy_to_be_charged_joules", POD13, 8940.0 * H),
    ("powerwall_pod_available_charge_power_watts", POD13, 6340.0),
    ("powerwall_pod_available_discharge_power_watts", POD13, 12000.0),
    ("powerwall_pod_permanently_faulted", POD13, 0.0),
    ("powerwall_pod_persistently_faulted", POD13, 0.0),
    ("powerwall_pod_state_info", {**POD13, "state": "POD_ACTIVE"}, 1.0),
    ("powerwall_thermal_ambient_temperature_celsius", THC25, 15.600000000000009),
    ("powerwall_thermal_state_info", {**THC25, "state": "THC_STATE_AUTONOMOUSCONTROL"}, 1.0),
    ("powerwall_solar_string_power_watts", {**PVAC, "string": "C"}, 746.0),
    ("powerwall_solar_string_voltage_volts", {**PVAC, "string": "B"}, -2.0999999999999996),
    ("powerwall_solar_string_current_amperes", {**PVAC, "string": "D"}, 2.49),
    ("powerwall_solar_string_state_info", {**PVAC, "string": "D", "state": "PV_Active_Parallel"}, 1.0),
    ("powerwall_solar_string_connected", {**PVS, "string": "A"}, 1.0),
    ("powerwall_solar_string_connected", {**PVS, "string": "B"}, 0.0),
    ("powerwall_solar_inverter_power_watts", PVAC, 1960.0),
    ("powerwall_solar_inverter_reactive_power_var", PVAC, 20.0),
    ("powerwall_solar_inverter_voltage_volts", PVAC, 241.60000000000002),
    ("powerwall_solar_inverter_frequency_hertz", PVAC, 60.016000000000005),
    ("powerwall_solar_inverter_current_amperes", PVAC, 7.76),
    ("powerwall_solar_inverter_line_ground_voltage_volts", {**PVAC, "phase": "B"}, 120.89999999999999),
    ("powerwall_solar_inverter_hv_minus_chassis_voltage_volts", PVAC, -210.0),
    ("powerwall_solar_inverter_energy_joules_total", PVAC, 27695260.0 * H),
    ("powerwall_solar_inverter_state_info", {**PVAC, "state": "PVAC_Active"}, 1.0),
    ("powerwall_solar_inverter_inv_state_info", {**PVAC, "state": "INV_Grid_Connected"}, 1.0),
    ("powerwall_solar_inverter_grid_state_info", {**PVAC, "state": "Grid_Compliant"}, 1.0),
    ("powerwall_solar_pvs_state_info", {**PVS, "state": "PVS_Active"}, 1.0),
    ("powerwall_solar_pvs_line_voltage_volts", PVS, 241.60000000000002),
    ("powerwall_ct_power_watts", {**SYNC, "channel": "X", "ct": "1"}, 205.0),
    ("powerwall_ct_power_watts", {**SYNC, "channel": "X", "ct": "2"}, -147.0),
    ("powerwall_ct_reactive_power_var", {**SYNC, "channel": "X", "ct": "2"}, -70.0),
    ("powerwall_ct_current_amperes", {**SYNC, "channel": "X", "ct": "1"}, 2.4795000000000003),
    ("powerwall_ct_meter_voltage_volts", {**SYNC, "channel": "Y", "phase": "B"}, 121.10000000000001),
    ("powerwall_ct_energy_imported_joules_total", {**SYNC, "channel": "X"}, 11189568.0 * H),
    ("powerwall_ct_energy_exported_joules_total", {**SYNC, "channel": "X"}, 7884022.0 * H),
    ("powerwall_ct_energy_imported_joules_total", {**SYNC, "channel": "Y"}, 2.0 * H),
    ("powerwall_ct_power_watts", {**NEURIO, "channel": "neurio", "ct": "1"}, 1936.3599853515625),
    ("powerwall_ct_location_info", {**NEURIO, "channel": "neurio", "ct": "1", "location": "solarRGM"}, 1.0),
    ("powerwall_island_frequency_hertz", {**SYNC, "phase": "A", "side": "main"}, 60.019999999999996),
    ("powerwall_island_frequency_hertz", {**SYNC, "phase": "C", "side": "load"}, 0.0),
    ("powerwall_island_voltage_volts", {**SYNC, "phase": "B", "side": "load"}, 121.5),
    ("powerwall_island_grid_connected", SYNC, 1.0),
    ("powerwall_island_grid_state_info", {**SYNC, "state": "ISLAND_GridState_Grid_Compliant"}, 1.0),
    ("powerwall_island_phase_delta_degrees", {**SYNC, "phase": "AB"}, -180.5),
    ("powerwall_island_main_load_phase_delta_degrees", {**SYNC, "phase": "C"}, -180.5),
    ("powerwall_island_microgrid_ok", {**SYNC, "phase": "C"}, 0.0),
    # generic rule
    ("powerwall_vital_pinv_hardware_enable_line", PINV10, 1.0),
    ("powerwall_vital_pod_cc_vhold", POD13, 0.0),
    ("powerwall_vital_ststsm_location_info", {**GW, "value": "Gateway"}, 1.0),
    ("powerwall_vital_pvi_power_status_setpoint_info", {**PVAC, "value": "on"}, 1.0),
    ("powerwall_vital_pvs_self_test_state_info", {**PVS, "value": "PVS_SelfTestOff"}, 1.0),
    ("powerwall_vital_sync_externally_powered", SYNC, 0.0),
    ("powerwall_vital_island_ready_for_synchronization", SYNC, 1.0),
    # device records
    ("powerwall_device_last_communication_timestamp_seconds", POD13, 1708880455.0),
    ("powerwall_device_nameplate_power_watts", PVINV, 7680.0),
    (
        "powerwall_device_info",
        {
            **PVINV,
            "din": "TESLA--1538100-00-F--C0000000000000",
            "parent_din": "STSTSM--1232100-00-E--T0000000000000",
            "firmware": "4064fc6a5b3242",
            "manufacturer": "TESLA",
        },
        1.0,
    ),
    (
        "powerwall_device_info",
        {
            **GW,
            "din": "STSTSM--1232100-00-E--T0000000000000",
            "parent_din": "",
            "firmware": "2023-11-30-g6e07d12eea",
            "manufacturer": "TESLA",
        },
        1.0,
    ),
    ("powerwall_device_alert", {**PVS, "alert": "PVS_a018_MciStringB"}, 1.0),
    ("powerwall_device_alert", {**GW, "alert": "GridCodesWrite"}, 1.0),
]


@pytest.mark.parametrize(("name", "labels", "value"), CAPTURE_EXPECTED)
def test_capture_exact_series(exposition: str, name: str, labels: dict[str, str], value: float) -> None:
    samples = Scrape.parse(exposition).index()
    key = frozenset({**labels, "gateway": "home"}.items())
    assert key in samples[name], f"{name}{labels} missing; have {list(samples[name])[:3]}"
    assert samples[name][key] == pytest.approx(value, rel=1e-12)


def test_capture_series_count(ms: MetricSet, capture_devices: list[Device]) -> None:
    n_vitals = sum(len(d.signals) for d in capture_devices)
    assert n_vitals == 156
    # 156 vitals + 13 device_info + 13 last-communication + 10 distinct alerts + 1 nameplate
    assert len(ms) == 193


def test_alerts_collapse_per_device(ms: MetricSet) -> None:
    gw = [dict(k) for k in ms.samples("powerwall_device_alert") if dict(k)["device"] == "STSTSM"]
    assert sorted(a["alert"] for a in gw) == [
        "FWUpdateSucceeded",
        "GridCodesWrite",
        "PodCommissionTime",
        "SystemConnectedToGrid",
    ]


def test_every_capture_vital_is_exported_exactly_once(exposition: str, capture_devices: list[Device]) -> None:
    samples = Scrape.parse(exposition).index()
    device_keys = {"gateway", "device", "serial", "part_number"}
    per_device: dict[tuple[str, str, str], int] = defaultdict(int)
    for name, series in samples.items():
        if name.startswith("powerwall_device_"):
            continue
        for key in series:
            labels = dict(key)
            assert device_keys <= labels.keys(), name
            per_device[labels["device"], labels["serial"], labels["part_number"]] += 1
    for d in capture_devices:
        assert per_device.get((d.family, d.serial, d.part_number), 0) == len(d.signals), d.din


def test_every_family_has_one_label_schema(exposition: str) -> None:
    for family in text_string_to_metric_families(exposition):
        schemas = {frozenset(s.labels) for s in family.samples}
        assert len(schemas) == 1, (family.name, schemas)


def test_no_numeric_series_has_a_value_label(exposition: str) -> None:
    for family in text_string_to_metric_families(exposition):
        for s in family.samples:
            if not s.name.endswith("_info"):
                assert not ({"state", "value", "location"} & s.labels.keys()), s


def test_families_are_typed_and_named_by_the_rules(exposition: str) -> None:
    types = {f.name: f.type for f in text_string_to_metric_families(exposition)}
    assert types["powerwall_inverter_energy_charged_joules"] == "counter"
    assert types["powerwall_ct_energy_exported_joules"] == "counter"
    assert types["powerwall_solar_inverter_energy_joules"] == "counter"
    assert types["powerwall_inverter_power_watts"] == "gauge"
    assert types["powerwall_pod_state_info"] == "gauge"  # info is rendered as gauge in text 0.0.4


def test_promtool_check_metrics_is_clean(exposition: str) -> None:
    promtool = require_binary("promtool")
    proc = subprocess.run([promtool, "check", "metrics"], input=exposition, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "" and proc.stderr.strip() == ""


def _din_labels(din: str) -> dict[str, str]:
    """Expected labels from the DIN alone: in all the example documents the DIN is authoritative."""
    parts = din.split("--")
    return {"device": parts[0], "part_number": parts[1] if len(parts) == 3 else "", "serial": parts[-1]}


@pytest.mark.parametrize("example", EXAMPLES)
def test_json_example_roundtrip_exports_every_vital(vitals_dir: Path, example: str) -> None:
    doc: dict[str, dict[str, Any]] = json.loads((vitals_dir / "json-examples" / f"{example}.json").read_text())
    devices = decode_vitals(encode_vitals_json(doc))
    assert [d.din for d in devices] == list(doc)
    out = MetricSet(base_labels={"gateway": "home"})
    flatten_devices(devices, out, VITALS)
    samples = Scrape.parse(render(out)).index()

    checked = 0
    for din, entry in doc.items():
        dev = _din_labels(din)
        for vital, value in vitals_of(entry).items():
            is_text = isinstance(value, str)
            target = resolve(vital, is_text)
            assert target is not None, vital
            labels = {"gateway": "home", **dev, **dict(target.labels)}
            if is_text:
                assert target.value_label is not None
                labels[target.value_label] = value
            series = samples[target.metric.name]
            key = frozenset(labels.items())
            assert key in series, f"{din} {vital} → {target.metric.name}{labels} missing"
            expected = 1.0 if is_text else float(value) * target.scale
            assert series[key] == pytest.approx(expected, rel=1e-12), (din, vital)
            checked += 1
        # device info carries the parent in either key format
        info = samples["powerwall_device_info"]
        parent = entry.get("componentParentDin", entry.get("Parent", ""))
        assert any(
            dict(k)["din"] == din and dict(k)["parent_din"] == parent and dict(k)["serial"] == dev["serial"]
            for k in info
        ), din
    assert checked == sum(len(vitals_of(e)) for e in doc.values())
    # nothing lost to collisions: one series per vital, plus device-level series
    vital_series = sum(len(v) for k, v in samples.items() if not k.startswith("powerwall_device_"))
    assert vital_series == checked


def test_example_alerts_and_ecu_less_devices(vitals_dir: Path) -> None:
    doc = json.loads((vitals_dir / "json-examples" / "pypowerwall-example-latest.json").read_text())
    out = MetricSet(base_labels={"gateway": "home"})
    flatten_devices(decode_vitals(encode_vitals_json(doc)), out, VITALS)
    assert out.get("powerwall_device_alert", device="TEPOD", alert="POD_w110_SW_EOC") == 1.0
    assert out.get("powerwall_device_alert", device="STSTSM", alert="GridCodesWrite") == 1.0
    assert len([k for k in out.samples("powerwall_device_alert") if dict(k)["device"] == "STSTSM"]) == 4
    # the TESLA meter has no vitals and no firmware, but is still listed
    assert out.get("powerwall_device_info", device="TESLA", serial="XXXXXXXXXX", firmware="") == 1.0
