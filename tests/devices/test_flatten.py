"""Flattening :class:`Device` records into metrics, whatever source decoded them.

Records are built by hand here, so these tests pin the flattener's own rules (device info, alerts,
collisions, duplicates, non-finite values, the caller's endpoint label) independently of any decoder.
"""

from __future__ import annotations

from exporter.devices.flatten import flatten_devices
from exporter.devices.model import Device
from exporter.metrics.metricset import MetricSet
from tests.render import render

VITALS = "/api/devices/vitals"  # the endpoint label of the generic-name budget


def test_device_with_alerts_but_no_vitals_still_appears() -> None:
    out = MetricSet()
    flatten_devices(
        [Device(din="TETHC--P--S", family="TETHC", part_number="P", serial="S", alerts=("X", "X"))], out, VITALS
    )
    assert out.get("powerwall_device_info", device="TETHC", serial="S", part_number="P", din="TETHC--P--S") == 1
    assert out.samples("powerwall_device_alert") == {
        (("device", "TETHC"), ("serial", "S"), ("part_number", "P"), ("alert", "X")): 1.0
    }
    assert out.get("powerwall_device_last_communication_timestamp_seconds") is None


def test_empty_names_are_skipped_and_nothing_raises() -> None:
    out = MetricSet()
    dev = Device(din="X--S", family="X", part_number="", serial="S", signals={"": 1.0, "---": "a", "ok": 2})
    flatten_devices([dev], out, VITALS)
    assert out.get("powerwall_vital_ok") == 2.0
    assert len(out) == 2  # device_info + ok


def test_colliding_generic_names_keep_the_sorted_first() -> None:
    dev = Device(din="X--S", family="X", part_number="", serial="S", signals={"A_C": 2.0, "A-C": 1.0, "a_c": "t"})
    for _ in range(3):
        out = MetricSet()
        flatten_devices([dev], out, VITALS)
        assert out.get("powerwall_vital_a_c") == 1.0  # "A-C" sorts before "A_C"
        # The text vital's info would be a second family "powerwall_vital_a_c" (invalid OpenMetrics).
        assert out.get("powerwall_vital_a_c_info", value="t") is None
        assert out.get("powerwall_generic_fields_dropped_total", reason="name_clash") == 1.0


def test_duplicate_device_is_written_once() -> None:
    dev = Device(din="X--S", family="X", part_number="", serial="S", signals={"v": 1.0}, alerts=("a",))
    other = Device(din="X--S", family="X", part_number="", serial="S", signals={"v": 2.0}, alerts=("a",))
    out = MetricSet()
    flatten_devices([dev, other], out, VITALS)
    assert out.get("powerwall_vital_v") == 1.0
    assert len(out) == 3


def test_big_ints_are_exported_but_nan_inf_and_overflow_are_absent() -> None:
    dev = Device(
        din="X--S",
        family="X",
        part_number="",
        serial="S",
        signals={"n": float("nan"), "i": float("-inf"), "big": 2**63 - 1, "PINV_Pout": 1e308},
    )
    out = MetricSet()
    flatten_devices([dev], out, VITALS)
    assert out.get("powerwall_vital_big") == float(2**63 - 1)
    assert out.get("powerwall_inverter_power_watts") is None  # 1e308 kW overflows in W
    assert out.get("powerwall_vital_n") is None
    assert out.get("powerwall_vital_i") is None
    render(out)


def test_record_without_din_gets_series_but_no_device_info() -> None:
    """A source that knows only the family (``/api/solar_powerwall``) must not invent an identity."""
    out = MetricSet()
    flatten_devices(
        [Device(din="", family="PVAC", part_number="", serial="", signals={"v": 1.0}, alerts=("a",))],
        out,
        "/api/solar_powerwall",
        anonymous=True,
    )
    assert out.get("powerwall_device_info") is None
    labels = {"device": "PVAC", "serial": "", "part_number": ""}
    assert out.get("powerwall_vital_v", **labels) == 1.0
    assert out.get("powerwall_device_alert", alert="a", **labels) == 1.0


def test_record_without_serial_gives_no_series_from_an_identified_source() -> None:
    """An empty slot or a phantom (a Powerwall 3's zero-filled esCan slots) is no device: its zeros
    must not appear as ``serial=""`` series beside the real devices, whatever the DIN says."""
    phantoms = [
        Device(din="", family="TEPOD", part_number="", serial="", signals={"POD_nom_energy_remaining": 0.0}),
        Device(din="TEPINV--P", family="TEPINV", part_number="P", serial="", signals={"PINV_Pout": 0.0}, alerts=("a",)),
        Device(din="", family="PVS", part_number="", serial="", last_communication=1.0),
    ]
    real = Device(
        din="TEPOD--P--S", family="TEPOD", part_number="P", serial="S", signals={"POD_nom_energy_remaining": 1.0}
    )
    out = MetricSet()
    flatten_devices([*phantoms, real], out, VITALS)
    assert out.samples("powerwall_pod_energy_remaining_joules") == {
        (("device", "TEPOD"), ("serial", "S"), ("part_number", "P")): 3600.0
    }
    assert all(dict(k)["serial"] for name in out.names() for k in out.samples(name) if "serial" in dict(k))
    assert out.get("powerwall_inverter_power_watts") is None and out.get("powerwall_device_alert") is None


def test_drops_are_counted_under_the_callers_endpoint() -> None:
    """The generic-name budget is labelled by whoever called, not by a path flatten knows."""
    out = MetricSet(base_labels={"gateway": "test-flatten-endpoint"})  # DROPS is cumulative per gateway
    dev = Device(din="X--S", family="X", part_number="", serial="S", signals={"a" * 300: 1.0})
    flatten_devices([dev], out, "/some/source")
    assert out.get("powerwall_generic_fields_dropped_total", endpoint="/some/source", reason="name_too_long") == 1.0
