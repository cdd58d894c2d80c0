"""Decoding ``/api/devices/vitals``: the real capture, label derivation, hostile bodies.

The capture is compared field by field with a decode by an independent, widely used decoder, so a
wrong field number or wire type in our ``.proto`` cannot hide behind self-consistent tests.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from exporter.devices.model import Device
from exporter.sources.vitals.decode import VitalsDecodeError, decode_vitals
from tests.sources.vitals.encoder import (
    METADATA_KEYS,
    encode_device,
    encode_vitals_json,
    length_delimited,
    string_field,
    vitals_of,
    wrapper,
)
from tests.support.prereqs import require_fixtures


@pytest.fixture(scope="module")
def fixtures_dir() -> Path:
    return require_fixtures() / "vitals"


@pytest.fixture(scope="module")
def capture(fixtures_dir: Path) -> bytes:
    return (fixtures_dir / "pwsim-vitals.pb").read_bytes()


@pytest.fixture(scope="module")
def devices(capture: bytes) -> dict[str, Device]:
    return {d.din: d for d in decode_vitals(capture)}


@pytest.fixture(scope="module")
def independent(fixtures_dir: Path) -> dict[str, dict[str, Any]]:
    doc: dict[str, dict[str, Any]] = json.loads((fixtures_dir / "pwsim-vitals.independent-decode.json").read_text())
    return doc


def test_capture_has_thirteen_devices_in_payload_order(capture: bytes) -> None:
    decoded = decode_vitals(capture)
    assert len(decoded) == 13
    assert decoded[0].din == "STSTSM--1232100-00-E--T0000000000000"
    assert decoded[-1].din == "TESLA--1538100-00-F--C0000000000000"


# One row per device type of the capture: exact values the gateway sent.
SAMPLES: list[tuple[str, str, Any]] = [
    ("STSTSM--1232100-00-E--T0000000000000", "STSTSM-Location", "Gateway"),
    ("TETHC--2012170-25-E--T0000000000000", "THC_AmbientTemp", 15.600000000000009),
    ("TETHC--3012170-05-B--T0000000000000", "THC_State", "THC_STATE_AUTONOMOUSCONTROL"),
    ("TEPOD--1081100-13-V--T0000000000", "POD_nom_full_pack_energy", 13148.0),
    ("TEPOD--1081100-10-U--T0000000000", "POD_nom_energy_remaining", 4504.0),
    ("TEPOD--1081100-10-U--T0000000000", "POD_PermanentlyFaulted", False),
    ("TEPOD--1081100-10-U--T0000000000", "POD_enable_line", True),
    ("TEPINV--1081100-10-U--T0000000000", "PINV_Pout", -0.52),
    ("TEPINV--1081100-13-V--T0000000000", "PINV_EnergyDischarged", 6764599.0),
    ("TEPINV--1081100-13-V--T0000000000", "PINV_State", "PINV_GridFollowing"),
    ("PVAC--1538100-00-F--C0000000000000", "PVAC_PVMeasuredVoltage_B", -2.0999999999999996),
    ("PVAC--1538100-00-F--C0000000000000", "PVAC_LifetimeEnergyPV_Total", 27695260.0),
    ("PVAC--1538100-00-F--C0000000000000", "PVI-PowerStatusSetpoint", "on"),
    ("PVS--1538100-00-F--C0000000000000", "PVS_StringB_Connected", False),
    ("PVS--1538100-00-F--C0000000000000", "PVS_vLL", 241.60000000000002),
    ("TESYNC--1493315-01-F--J0000000000000", "METER_X_CTA_I", 2.4795000000000003),
    ("TESYNC--1493315-01-F--J0000000000000", "ISLAND_GridState", "ISLAND_GridState_Grid_Compliant"),
    ("TESYNC--1493315-01-F--J0000000000000", "METER_Y_LifetimeEnergyImport", 2.0),
    ("NEURIO--V000000000000", "NEURIO_CT0_InstRealPower", 1936.3599853515625),
    ("NEURIO--V000000000000", "NEURIO_CT0_Location", "solarRGM"),
]


@pytest.mark.parametrize(("din", "name", "expected"), SAMPLES)
def test_sample_vitals_exact(devices: dict[str, Device], din: str, name: str, expected: Any) -> None:
    value = devices[din].signals[name]
    assert type(value) is type(expected)
    assert value == expected


def test_device_records_of_every_type(devices: dict[str, Device]) -> None:
    gw = devices["STSTSM--1232100-00-E--T0000000000000"]
    assert (gw.family, gw.part_number, gw.serial) == ("STSTSM", "1232100-00-E", "T0000000000000")
    assert gw.parent_din is None
    assert gw.ecu_type == 207
    assert gw.firmware == "2023-11-30-g6e07d12eea"
    assert gw.alerts == (
        "GridCodesWrite",
        "GridCodesWrite",
        "SystemConnectedToGrid",
        "FWUpdateSucceeded",
        "PodCommissionTime",
    )
    assert gw.last_communication == 1708880456.0
    assert gw.first_communication is None
    assert gw.ip_address is None

    pod = devices["TEPOD--1081100-13-V--T0000000000"]
    assert (pod.family, pod.part_number, pod.serial, pod.ecu_type) == (
        "TEPOD",
        "1081100-13-V",
        "T0000000000",
        226,
    )
    assert pod.parent_din == "TETHC--2012170-25-E--T0000000000000"
    assert pod.last_communication == 1708880455.0
    assert len(pod.signals) == 14

    pvs = devices["PVS--1538100-00-F--C0000000000000"]
    assert (pvs.ecu_type, pvs.parent_din) == (297, "PVAC--1538100-00-F--C0000000000000")

    sync = devices["TESYNC--1493315-01-F--J0000000000000"]
    assert (sync.ecu_type, len(sync.signals)) == (259, 54)

    neurio = devices["NEURIO--V000000000000"]
    assert (neurio.family, neurio.part_number, neurio.serial) == ("NEURIO", "", "V000000000000")
    assert neurio.meter_locations == (5,)
    assert neurio.ip_address == "PWRview-73533"
    assert neurio.manufacturer == "NEURIO"
    assert neurio.ecu_type is None

    meter = devices["TESLA--J0000000000000"]
    assert (meter.family, meter.part_number, meter.serial) == ("TESLA", "", "J0000000000000")
    assert meter.meter_locations == (1,)
    assert meter.ip_address == ""  # connectionParameters present but empty
    assert meter.signals == {}
    assert meter.alerts == ()

    pv = devices["TESLA--1538100-00-F--C0000000000000"]
    # The part number sits inside the serialNumber field; no partNumber field is sent.
    assert pv.raw_serial_number == "1538100-00-F--C0000000000000"
    assert pv.raw_part_number is None
    assert (pv.family, pv.part_number, pv.serial) == ("TESLA", "1538100-00-F", "C0000000000000")
    assert pv.nameplate_real_power_w == 7680
    assert pv.nameplate_apparent_power_va is None
    assert pv.attributes_kind == "pvInverterAttributes"


def _floats_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or isinstance(a, str) or isinstance(b, str):
        return type(a) is type(b) and a == b
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=0.0) or float(a) == float(b)


def _metadata(device: Device) -> dict[str, Any]:
    """Our device record in the independent decoder's flat naming."""
    out: dict[str, Any] = {
        "componentParentDin": device.parent_din,
        "firmwareVersion": device.firmware,
        "manufacturer": device.manufacturer,
        "partNumber": device.raw_part_number,
        "serialNumber": device.raw_serial_number,
        "siteLabel": device.site_label,
        "lastCommunicationTime": device.last_communication,
        "firstCommunicationTime": device.first_communication,
        "connectionParameters.ipAddress": device.ip_address,
        "attr": device.attributes_kind,
        "ecuType": device.ecu_type,
        "meterLocation": list(device.meter_locations) if device.attributes_kind == "meterAttributes" else None,
        "nameplateRealPowerW": device.nameplate_real_power_w,
        "nameplateApparentPowerVa": device.nameplate_apparent_power_va,
        "alerts": list(device.alerts) or None,
    }
    return {k: v for k, v in out.items() if v is not None}


def test_agrees_with_independent_decoder_on_every_field(
    devices: dict[str, Device], independent: dict[str, dict[str, Any]]
) -> None:
    assert sorted(devices) == sorted(independent)
    compared = 0
    for din, theirs in independent.items():
        ours = devices[din]
        their_meta = {k: v for k, v in theirs.items() if k in METADATA_KEYS}
        assert _metadata(ours) == their_meta, din
        their_vitals = vitals_of(theirs)
        assert sorted(ours.signals) == sorted(their_vitals), din
        for name, expected in their_vitals.items():
            assert _floats_equal(ours.signals[name], expected), (din, name, ours.signals[name], expected)
            compared += 1
    assert compared == 156


def test_encoder_reproduces_the_capture(capture: bytes, independent: dict[str, dict[str, Any]]) -> None:
    """Our test encoder, fed the independent decode, yields a payload that decodes identically."""
    rebuilt = encode_vitals_json(independent)
    assert len(rebuilt) == len(capture)
    assert decode_vitals(rebuilt) == sorted(decode_vitals(capture), key=lambda d: list(independent).index(d.din))


def test_older_parent_format_with_empty_strings(fixtures_dir: Path) -> None:
    doc = json.loads((fixtures_dir / "json-examples" / "powerwall2-example.json").read_text())
    decoded = {d.din: d for d in decode_vitals(encode_vitals_json(doc))}
    neurio = decoded["NEURIO--VVVVVVVVVVVVV"]
    assert neurio.raw_part_number == ""
    assert (neurio.part_number, neurio.serial) == ("", "VVVVVVVVVVVVV")
    assert neurio.parent_din == "STSTSM--1232100-00-E--TTTTTTTTTTTTTT"
    assert neurio.last_communication == 1639168200.0
    pv = decoded["TESLA--1538100-00-F--CCCCCCCCCCCCCC"]
    assert (pv.part_number, pv.serial) == ("1538100-00-F", "CCCCCCCCCCCCCC")
    assert decoded["STSTSM--1232100-00-E--TTTTTTTTTTTTTT"].parent_din == ""


def test_int64_vitals_stay_exact_ints() -> None:
    payload = encode_device("TEST--P--S", {"Big": 2**62 + 1, "Neg": -5, "Zero": 0, "F": 1.5})
    (dev,) = decode_vitals(payload)
    assert dev.signals == {"Big": 2**62 + 1, "Neg": -5, "Zero": 0, "F": 1.5}
    assert type(dev.signals["Zero"]) is int


def test_nanosecond_timestamps_and_generator_attributes() -> None:
    payload = encode_device(
        "GEN--P--S",
        {
            "firstCommunicationTime": 100.25,
            "lastCommunicationTime": 200.5,
            "generatorAttributes": {"nameplateRealPowerW": 5000, "nameplateApparentPowerVa": 6000},
            "siteLabel": "garage",
        },
    )
    (dev,) = decode_vitals(payload)
    assert dev.first_communication == pytest.approx(100.25)
    assert dev.last_communication == pytest.approx(200.5)
    assert (dev.nameplate_real_power_w, dev.nameplate_apparent_power_va) == (5000, 6000)
    assert dev.site_label == "garage"


def test_vital_without_value_and_device_without_din_are_skipped() -> None:
    no_value = length_delimited(2, string_field(1, "Empty"))
    good = encode_device("TEPOD--P--S", {"POD_state": "POD_ACTIVE"})
    # A DeviceWithVitals whose Device lacks a DIN, then one with a valueless vital.
    nameless = length_delimited(1, length_delimited(1, length_delimited(1, wrapper(2, "P"))))
    with_empty = length_delimited(
        1,
        length_delimited(1, length_delimited(1, wrapper(1, "TETHC--P--S"))) + no_value,
    )
    decoded = decode_vitals(nameless + good + with_empty)
    assert [d.din for d in decoded] == ["TEPOD--P--S", "TETHC--P--S"]
    assert decoded[1].signals == {}


def test_duplicate_alerts_are_kept_in_order() -> None:
    (dev,) = decode_vitals(encode_device("STSTSM--P--S", {"alerts": ["B", "A", "B"]}))
    assert dev.alerts == ("B", "A", "B")


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\x00",
        b"\xff" * 16,
        b"<html><body>502 Bad Gateway</body></html>",
        b'{"error": "not found"}',
        b"\x0a\x05\x0a\x03",  # length prefix longer than the data
        b"\x0a\x80",  # truncated varint
        length_delimited(1, length_delimited(1, length_delimited(1, wrapper(1, "X")))[:-1]),
        # Invalid UTF-8 in a proto3 string (the DIN).
        length_delimited(1, length_delimited(1, length_delimited(1, length_delimited(1, b"\x0a\x02\xc3\x28")))),
        # Nesting far beyond any real message (unknown group fields).
        b"\x0b" * 200_000,
        b"\x0a\x00",  # one empty DeviceWithVitals: no DIN, no device
    ],
)
def test_garbage_raises_only_vitals_decode_error(payload: bytes) -> None:
    with pytest.raises(VitalsDecodeError):
        decode_vitals(payload)


@pytest.mark.parametrize("payload", ["a string", None, 42, ["list"]])
def test_non_bytes_raise_vitals_decode_error(payload: Any) -> None:
    with pytest.raises(VitalsDecodeError):
        decode_vitals(payload)


def test_every_truncation_of_the_capture_is_handled(capture: bytes) -> None:
    """Each prefix either decodes (a cut between whole devices) or raises VitalsDecodeError."""
    whole = 0
    for end in range(len(capture)):
        try:
            decoded = decode_vitals(capture[:end])
        except VitalsDecodeError:
            continue
        whole += 1
        assert 1 <= len(decoded) < 13
    assert whole >= 1  # cuts at device boundaries are valid, shorter messages
