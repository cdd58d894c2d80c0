"""Property tests: hostile vitals bodies only ever raise VitalsDecodeError; what decodes becomes series
of the decoded devices and nothing else.

The body comes from a device on the LAN; anything it sends must end in either a decoded list or the
one exception the collector catches, and a decoded list must not invent a device, a series without
one, or a value that is no number.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.devices.bounds import DeviceBudget
from exporter.devices.flatten import flatten_devices
from exporter.devices.model import Device
from exporter.metrics.metricset import MetricSet
from exporter.sources.vitals.decode import VitalsDecodeError, decode_vitals
from tests.render import render
from tests.sources.vitals.encoder import METADATA_KEYS, encode_vitals_json
from tests.support.paths import FIXTURES
from tests.support.prereqs import require_path
from tests.support.series import assert_only_kept_devices

VITALS = "/api/devices/vitals"  # the endpoint label of the generic-name budget

CAPTURE_PATH = FIXTURES / "vitals" / "pwsim-vitals.pb"

SETTINGS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _flatten(devices: list[Device]) -> MetricSet:
    """Flatten ``devices`` and check what remains (:func:`tests.support.series.assert_only_kept_devices`)."""
    ms = MetricSet(base_labels={"gateway": "home"})
    budget = DeviceBudget()
    flatten_devices(devices, ms, VITALS, bound=budget)
    assert_only_kept_devices(devices, ms, budget)
    render(ms)
    return ms


def _check(payload: bytes) -> None:
    """Decode succeeds or raises VitalsDecodeError; what decodes flattens to series of its devices."""
    try:
        devices = decode_vitals(payload)
    except VitalsDecodeError:
        return
    assert devices, "a decoded body holds at least one device (an empty one is a VitalsDecodeError)"
    _flatten(devices)


@pytest.fixture(scope="module")
def capture() -> bytes:
    return require_path(CAPTURE_PATH, "the real vitals capture").read_bytes()


@SETTINGS
@given(st.binary(max_size=4096))
def test_random_bytes(payload: bytes) -> None:
    _check(payload)


@SETTINGS
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["flip", "set", "insert", "delete", "truncate", "splice"]),
            st.integers(0, 7072),
            st.binary(min_size=1, max_size=16),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_mutated_capture(capture: bytes, mutations: list[tuple[str, int, bytes]]) -> None:
    data = bytearray(capture)
    for op, pos, blob in mutations:
        if not data:
            break
        pos %= len(data)
        if op == "flip":
            data[pos] ^= 1 << (blob[0] % 8)
        elif op == "set":
            data[pos] = blob[0]
        elif op == "insert":
            data[pos:pos] = blob
        elif op == "delete":
            del data[pos : pos + len(blob)]
        elif op == "truncate":
            del data[pos:]
        else:  # splice: duplicate a chunk of the payload elsewhere
            chunk = bytes(data[pos : pos + 64])
            at = (pos * 31 + len(blob)) % len(data)
            data[at:at] = chunk
    _check(bytes(data))


_names = st.one_of(
    st.sampled_from(
        [
            "PINV_Pout",
            "PINV_State",
            "METER_X_CTA_I",
            "NEURIO_CT0_Location",
            "PVAC_PvState_A",
            "ISLAND_FreqL1_Main",
            "Foo_Total",
            "Foo_Info",
            "",
            "-",
            "A-B",
            "A_B",
        ]
    ),
    st.text(max_size=40),
).filter(lambda name: name not in METADATA_KEYS)
_values = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
)
_dins = st.one_of(
    st.sampled_from(["TEPOD--1081100-10-U--T1", "NEURIO--V1", "TESLA--1538100-00-F--C1", "STSTSM"]),
    st.text(min_size=1, max_size=40),
)
_entries = st.fixed_dictionaries(
    {},
    optional={
        "partNumber": st.text(max_size=20),
        "serialNumber": st.text(max_size=40),
        "componentParentDin": st.text(max_size=20),
        "firmwareVersion": st.text(max_size=20),
        "lastCommunicationTime": st.integers(0, 2**40),
        "alerts": st.lists(st.text(max_size=20), max_size=5),
        "teslaEnergyEcuAttributes": st.fixed_dictionaries({"ecuType": st.integers(-(2**31), 2**31 - 1)}),
    },
).flatmap(lambda meta: st.dictionaries(_names, _values, max_size=12).map(lambda v: {**v, **meta}))


@SETTINGS
@given(st.dictionaries(_dins, _entries, min_size=1, max_size=6))
def test_structured_random_payloads_decode_and_flatten(doc: dict[str, dict[str, Any]]) -> None:
    """Well-formed bodies with arbitrary names, values and labels: every DIN is a decoded device, and
    each one with a serial has its info series (six devices are within every limit)."""
    devices = decode_vitals(encode_vitals_json(doc))
    assert sorted(d.din for d in devices) == sorted(doc)
    ms = _flatten(devices)
    info_dins = {dict(key)["din"] for key in ms.samples("powerwall_device_info")}
    assert info_dins == {d.din for d in devices if d.serial}
