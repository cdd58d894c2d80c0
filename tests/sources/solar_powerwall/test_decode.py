"""Decoding ``/api/solar_powerwall`` JSON into :class:`Device` records (before any metric exists).

Expected signal names are written out by hand from the vital names the PVAC/PVS send on firmware
with vitals (``gateway-api.md`` section 4), so a wrong entry in the source's tables fails here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from exporter.devices.flatten import flatten_devices
from exporter.devices.model import Device
from exporter.metrics.metricset import MetricSet
from exporter.sources.solar_powerwall.decode import decode_solar_powerwall
from exporter.sources.vitals.decode import decode_vitals
from tests.sources.vitals.encoder import encode_vitals_json
from tests.support.prereqs import require_fixtures


@pytest.fixture(scope="module")
def records() -> dict[str, Device]:
    doc = json.loads((require_fixtures() / "pypowerwall-sim" / "api" / "solar_powerwall.json").read_text())
    decoded = decode_solar_powerwall(doc)
    assert [d.family for d in decoded] == ["PVAC", "PVS"]
    return {d.family: d for d in decoded}


def test_records_have_a_family_but_no_identity(records: dict[str, Device]) -> None:
    for d in records.values():
        assert (d.din, d.part_number, d.serial, d.parent_din, d.firmware) == ("", "", "", None, None)


def test_capture_pvac_signals_use_the_vital_names(records: dict[str, Device]) -> None:
    pvac = records["PVAC"].signals
    assert pvac["PVAC_Pout"] == 0
    assert pvac["PVAC_Qout"] == -10
    assert pvac["PVAC_Vout"] == pytest.approx(241.6)
    assert pvac["PVAC_Fout"] == pytest.approx(59.992)
    assert pvac["PVAC_Iout"] == pytest.approx(1.12)
    assert pvac["PVAC_State"] == "PVAC_Active"
    assert pvac["PVAC_GridState"] == "Grid_Compliant"
    assert pvac["PVAC_InvState"] == "INV_Grid_Connected"
    assert pvac["PVAC_PVMeasuredVoltage_B"] == pytest.approx(33.2)
    assert pvac["PVS_StringB_Connected"] is False  # string data stays on the PVAC record
    assert pvac["PVI-PowerStatusSetpoint"] == "on"  # a top-level field with a vital name
    assert pvac["pv_power_limit"] == pytest.approx(230.4)  # any other top-level scalar keeps its name
    assert pvac["PVAC_disabled"] is False  # unknown status scalars get the PVAC_ prefix
    assert "PVAC_disabled_reasons" not in pvac  # lists are not signals
    assert records["PVAC"].alerts == ()  # no pvac_alerts entry is literally true


def test_capture_pvs_signals_and_alerts(records: dict[str, Device]) -> None:
    pvs = records["PVS"]
    assert pvs.signals == {
        "PVS_State": "PVS_GridSupporting",
        "PVS_disabled": False,
        "PVS_EnableOutput": True,
        "PVS_vLL": pytest.approx(242.4),
        "PVS_SelfTestState": "PVS_SelfTestOff",
    }
    assert pvs.alerts == ("PVS_a018_MciStringB", "PVS_a059_MciOpen")


@pytest.mark.parametrize("data", [None, [], "text", 42, {}, {"pvac_status": None, "pvs_status": [1]}])
def test_nothing_usable_gives_no_device(data: Any) -> None:
    assert decode_solar_powerwall(data) == []


def test_a_device_without_data_is_left_out() -> None:
    assert [d.family for d in decode_solar_powerwall({"pvs_status": {"v_ll": 240}})] == ["PVS"]
    assert [d.family for d in decode_solar_powerwall({"pvac_alerts": {"PVAC_a001": True}})] == ["PVAC"]


def _schema(ms: MetricSet) -> dict[str, set[tuple[str, ...]]]:
    """Metric name → the label *names* of its series (values differ: solar has no serial)."""
    return {name: {tuple(k for k, _ in labels) for labels in ms.samples(name)} for name in ms.names()}


def test_same_quantity_same_metric_and_labels_as_vitals() -> None:
    """The point of one device model: a PVAC reading lands on one series shape whichever source sent it."""
    solar = MetricSet()
    flatten_devices(
        decode_solar_powerwall(
            {
                "pvac_status": {
                    "p_out": 1200,
                    "state": "PVAC_Active",
                    "string_vitals": [{"string_id": 1, "measured_power": 600, "connected": True}],
                },
                "pvs_status": {"v_ll": 240.5},
            }
        ),
        solar,
        "/api/solar_powerwall",
        anonymous=True,
    )
    vitals = MetricSet()
    doc: dict[str, dict[str, Any]] = {
        "PVAC--1538100-00-F--C1": {
            "PVAC_Pout": 1200.0,
            "PVAC_State": "PVAC_Active",
            "PVAC_PVMeasuredPower_A": 600.0,
            "PVS_StringA_Connected": True,
        },
        "PVS--1538100-00-F--C1": {"PVS_vLL": 240.5},
    }
    flatten_devices(decode_vitals(encode_vitals_json(doc)), vitals, "/api/devices/vitals")
    expected = _schema(vitals)
    del expected["powerwall_device_info"]  # only vitals identify the device
    assert _schema(solar) == expected
    assert solar.get("powerwall_solar_inverter_power_watts", device="PVAC") == 1200.0
