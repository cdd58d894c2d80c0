"""The one number policy (exporter.coerce), and that every reader of gateway answers follows it.

Why both: the policy is small enough to state as a table, but the bug it closes was a reader that
did its own ``float()``; the second half feeds the same hostile values to each decoder that keeps
numbers (JSON tables, TEDAPI devices, ``/api/solar_powerwall``, the accounting's meter counters).
"""

from __future__ import annotations

from typing import Any

import pytest

from exporter.accounting.flows import FLOW_FIELDS, MeterCounters
from exporter.coerce import number, signal, text
from exporter.devices.model import Device
from exporter.sources.solar_powerwall.decode import decode_solar_powerwall
from exporter.sources.tedapi.devices import controller_devices

HUGE = 10**400  # valid JSON, beyond float range

# Values that are no number: name → value. Each must read as None, and never raise.
NOT_NUMBERS: dict[str, Any] = {
    "huge_int": HUGE,
    "-huge_int": -HUGE,
    "nan": float("nan"),
    "inf": float("inf"),
    "-inf": float("-inf"),
    "str_NaN": "NaN",
    "str_digits": "12",
    "str_1e999": "1e999",
    "str_empty": "",
    "list": [1.0],
    "dict": {"value": 1.0},
    "true": True,
    "false": False,
    "null": None,
}


@pytest.mark.parametrize("value", NOT_NUMBERS.values(), ids=NOT_NUMBERS.keys())
def test_no_number(value: Any) -> None:
    assert number(value) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 0.0), (-5, -5.0), (1.5, 1.5), (2**63 - 1, float(2**63 - 1)), (1e308, 1e308), (-1e308, -1e308)],
)
def test_numbers_are_finite_floats(value: Any, expected: float) -> None:
    out = number(value)
    assert out == expected and type(out) is float


def test_signal_keeps_flags_text_and_exact_ints() -> None:
    assert signal(True) is True and signal(False) is False
    assert signal("x") == "x" and signal("") == ""
    big = 2**63 - 1
    assert signal(big) == big and type(signal(big)) is int  # int64 vitals stay exact
    assert signal(1.5) == 1.5
    for bad in (HUGE, -HUGE, float("nan"), float("inf"), [1], {"a": 1}, None):
        assert signal(bad) is None, bad


@pytest.mark.parametrize("value", NOT_NUMBERS.values(), ids=NOT_NUMBERS.keys())
def test_accounting_meter_counters_follow_the_policy(value: Any) -> None:
    """A hostile counter makes the reading unusable (None), never an exception."""
    counters = MeterCounters(FLOW_FIELDS)
    good = {"solar": {"energy_exported": 1.0}, "load": {"energy_imported": 2.0}, "battery": {}}
    good["battery"] = {"energy_exported": 3.0, "energy_imported": 4.0}
    assert counters.read(good) == (1.0, 2.0, 3.0, 4.0)
    assert counters.read({**good, "solar": {"energy_exported": value}}) is None


def _signals(devices: list[Device], family: str) -> dict[str, Any]:
    found = [d for d in devices if d.family == family]
    assert len(found) == 1, [d.family for d in devices]
    return dict(found[0].signals)


def test_tedapi_derived_string_power_skips_a_hostile_voltage() -> None:
    """A voltage of 10**400 used to reach ``float()`` in the derived PV power and raise."""
    logging_ = {
        "PVAC_PVMeasuredVoltage_A": HUGE,
        "PVAC_PVCurrent_A": 2.0,
        "PVAC_PVMeasuredVoltage_B": 300,
        "PVAC_PVCurrent_B": 2.0,
        "PVAC_PVMeasuredVoltage_C": float("nan"),
        "PVAC_PVCurrent_C": 2.0,
    }
    data = {"esCan": {"bus": {"PVAC": [{"packageSerialNumber": "S1", "PVAC_Logging": logging_}]}}}
    signals = _signals(controller_devices(data, "1232100-00-E--TG0000", None), "PVAC")
    assert signals["PVAC_PVMeasuredPower_B"] == 600.0
    for name in ("PVAC_PVMeasuredVoltage_A", "PVAC_PVMeasuredPower_A", "PVAC_PVMeasuredVoltage_C"):
        assert name not in signals


def test_solar_powerwall_signals_follow_the_policy() -> None:
    pvac = {"f_out": HUGE, "v_out": 240.5, "state": "PVAC_Online", "i_out": float("inf"), "p_out": "12"}
    signals = _signals(decode_solar_powerwall({"pvac_status": pvac}), "PVAC")
    assert signals == {"PVAC_Vout": 240.5, "PVAC_State": "PVAC_Online", "PVAC_Pout": "12"}  # text stays text


@pytest.mark.parametrize("value", [61, 6.1, True, False, None, [], ["a"], {}, {"a": "b"}, b"bytes"])
def test_only_text_is_a_label_value(value: Any) -> None:
    assert text(value) is None


@pytest.mark.parametrize("value", ["", "United States", "61", " x "])
def test_text_is_kept_as_sent(value: str) -> None:
    assert text(value) == value
