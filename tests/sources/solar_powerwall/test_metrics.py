"""``/api/solar_powerwall`` (Powerwall+ without vitals) onto the same metrics as the vitals."""

from __future__ import annotations

import json
from typing import Any

import pytest

from exporter.devices.flatten import flatten_devices
from exporter.metrics.metricset import MetricSet
from exporter.sources.solar_powerwall.decode import decode_solar_powerwall
from tests.render import render
from tests.support.prereqs import require_fixtures
from tests.support.series import Sample, sample, samples

SOLAR_POWERWALL = "/api/solar_powerwall"  # the endpoint label of the generic-name budget

PVAC = {"device": "PVAC", "serial": "", "part_number": ""}
PVS = {"device": "PVS", "serial": "", "part_number": ""}


@pytest.fixture(scope="module")
def solar_json() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(
        (require_fixtures() / "pypowerwall-sim" / "api" / "solar_powerwall.json").read_text()
    )
    return doc


@pytest.fixture(scope="module")
def ms(solar_json: dict[str, Any]) -> MetricSet:
    out = MetricSet(base_labels={"gateway": "home"})
    assert flatten_devices(decode_solar_powerwall(solar_json), out, SOLAR_POWERWALL, anonymous=True) is None  # type: ignore[func-returns-value]
    return out


@pytest.mark.parametrize(
    ("name", "labels", "value"),
    [
        ("powerwall_solar_string_voltage_volts", {**PVAC, "string": "A"}, 10.3),
        ("powerwall_solar_string_voltage_volts", {**PVAC, "string": "B"}, 33.2),
        ("powerwall_solar_string_voltage_volts", {**PVAC, "string": "D"}, 10.3),
        ("powerwall_solar_string_current_amperes", {**PVAC, "string": "C"}, 0.0),
        ("powerwall_solar_string_power_watts", {**PVAC, "string": "A"}, 0.0),
        ("powerwall_solar_string_connected", {**PVAC, "string": "A"}, 1.0),
        ("powerwall_solar_string_connected", {**PVAC, "string": "B"}, 0.0),
        ("powerwall_solar_inverter_power_watts", PVAC, 0.0),
        ("powerwall_solar_inverter_reactive_power_var", PVAC, -10.0),
        ("powerwall_solar_inverter_voltage_volts", PVAC, 241.60000000000002),
        ("powerwall_solar_inverter_frequency_hertz", PVAC, 59.992000000000004),
        ("powerwall_solar_inverter_current_amperes", PVAC, 1.12),
        ("powerwall_solar_inverter_state_info", {**PVAC, "state": "PVAC_Active"}, 1.0),
        ("powerwall_solar_inverter_grid_state_info", {**PVAC, "state": "Grid_Compliant"}, 1.0),
        ("powerwall_solar_inverter_inv_state_info", {**PVAC, "state": "INV_Grid_Connected"}, 1.0),
        ("powerwall_solar_pvs_state_info", {**PVS, "state": "PVS_GridSupporting"}, 1.0),
        ("powerwall_solar_pvs_line_voltage_volts", PVS, 242.4),
        ("powerwall_vital_pvs_enable_output", PVS, 1.0),
        ("powerwall_vital_pvs_self_test_state_info", {**PVS, "value": "PVS_SelfTestOff"}, 1.0),
        ("powerwall_vital_pvi_power_status_setpoint_info", {**PVAC, "value": "on"}, 1.0),
        ("powerwall_vital_pvac_disabled", PVAC, 0.0),
        ("powerwall_vital_pvs_disabled", PVS, 0.0),
        ("powerwall_vital_pv_power_limit", PVAC, 230.39999999999998),
        ("powerwall_device_alert", {**PVS, "alert": "PVS_a018_MciStringB"}, 1.0),
        ("powerwall_device_alert", {**PVS, "alert": "PVS_a059_MciOpen"}, 1.0),
    ],
)
def test_solar_powerwall_series(ms: MetricSet, name: str, labels: dict[str, str], value: float) -> None:
    key = (("gateway", "home"), *labels.items())
    samples = ms.samples(name)
    assert key in samples, f"{name}{labels} missing; have {list(samples)[:3]}"
    assert samples[key] == pytest.approx(value)


def test_only_true_alerts_count(ms: MetricSet) -> None:
    alerts = sorted((dict(k)["device"], dict(k)["alert"]) for k in ms.samples("powerwall_device_alert"))
    # ReceivedMuxBitmask: 1 and PVAC_alertMatrixIndex: 0 are numbers, not alerts
    assert alerts == [("PVS", "PVS_a018_MciStringB"), ("PVS", "PVS_a059_MciOpen")]


def test_same_families_as_vitals_and_no_device_info(ms: MetricSet) -> None:
    assert "powerwall_device_info" not in ms.names()
    assert "powerwall_solar_string_state_info" not in ms.names()  # JSON has no per-string state
    assert len(ms.samples("powerwall_solar_string_voltage_volts")) == 4


def test_exposition_renders(ms: MetricSet) -> None:
    text = render(ms)
    assert (
        'powerwall_solar_string_power_watts{device="PVAC",gateway="home",part_number="",serial="",string="A"}' in text
    )


NOTHING: set[Sample] = set()


@pytest.mark.parametrize(
    ("data", "remains"),
    [
        # Not an object, or an object with nothing usable: no device, no series.
        (None, NOTHING),
        ([], NOTHING),
        ("text", NOTHING),
        (42, NOTHING),
        ({}, NOTHING),
        ({"pvac_status": None, "pvs_status": None, "pvac_alerts": None, "pvs_alerts": None}, NOTHING),
        ({"pvac_status": {"string_vitals": None}}, NOTHING),
        ({"pvac_status": {"string_vitals": [None, 1, "x", {}]}}, NOTHING),
        # A string needs an id 1..26 (A..Z): none, a boolean or one out of range is no string.
        ({"pvac_status": {"string_vitals": [{"string_id": None, "measured_power": 5}]}}, NOTHING),
        ({"pvac_status": {"string_vitals": [{"string_id": True, "measured_power": 5}]}}, NOTHING),
        ({"pvac_status": {"string_vitals": [{"string_id": 0}, {"string_id": 99}, {"string_id": -1}]}}, NOTHING),
        # Lists, objects and numbers beyond float's range are no values.
        ({"pvac_status": {"p_out": None, "v_out": [1], "state": {"x": 1}}}, NOTHING),
        ({"pvac_status": {"p_out": 10**400}}, NOTHING),
        # Alerts must be an object of booleans; a top-level text is a PVAC signal like any scalar.
        (
            {"pvac_alerts": ["PVAC_a001"], "pvs_alerts": "PVS_a001"},
            {sample("powerwall_vital_pvs_alerts_info", {**PVAC, "value": "PVS_a001"}, 1.0)},
        ),
        # Lone surrogates become "?": the text is kept, safe to encode.
        (
            {"pvac_status": {"state": "\ud800bad"}, "pvs_alerts": {"\udfff": True}},
            {
                sample("powerwall_solar_inverter_state_info", {**PVAC, "state": "?bad"}, 1.0),
                sample("powerwall_device_alert", {**PVS, "alert": "?"}, 1.0),
            },
        ),
        # Keys that are no text are named by their text, as generic vitals.
        (
            {1: 2, None: "x", "pvac_status": {3: 4}},
            {
                sample("powerwall_vital_1", PVAC, 2.0),
                sample("powerwall_vital_none_info", {**PVAC, "value": "x"}, 1.0),
                sample("powerwall_vital_pvac_3", PVAC, 4.0),
            },
        ),
    ],
)
def test_missing_null_and_odd_fields_leave_only_what_is_usable(data: Any, remains: set[Sample]) -> None:
    out = MetricSet(base_labels={"gateway": "home"})
    flatten_devices(decode_solar_powerwall(data), out, SOLAR_POWERWALL, anonymous=True)
    assert samples(out) == remains
    render(out)


def test_string_id_as_text_and_duplicates() -> None:
    data = {
        "pvac_status": {
            "string_vitals": [
                {"string_id": "2", "measured_power": 100},
                {"string_id": 2, "measured_power": 200},
                {"string_id": 1, "current": None, "measured_voltage": 300.5},
            ]
        }
    }
    out = MetricSet()
    flatten_devices(decode_solar_powerwall(data), out, SOLAR_POWERWALL, anonymous=True)
    assert out.get("powerwall_solar_string_power_watts", string="B") == 100.0  # first of an id wins
    assert out.get("powerwall_solar_string_voltage_volts", string="A") == 300.5
    assert out.get("powerwall_solar_string_current_amperes", string="A") is None


def test_pvac_alert_true(solar_json: dict[str, Any]) -> None:
    data = dict(solar_json)
    data["pvac_alerts"] = {**solar_json["pvac_alerts"], "PVAC_a030_fan_faulted": True}
    out = MetricSet()
    flatten_devices(decode_solar_powerwall(data), out, SOLAR_POWERWALL, anonymous=True)
    assert out.get("powerwall_device_alert", device="PVAC", alert="PVAC_a030_fan_faulted") == 1.0
