"""What a metric set holds, as a set to compare, and what hostile device input may leave in one.

Why: "decoding and flattening odd input does not raise" says nothing about what came out; a decoder
that turned garbage into a phantom device, or a flattener that wrote a series under no device, would
pass it. These helpers state what may remain: series of the devices that were kept and nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from exporter.devices.bounds import DeviceBudget
from exporter.devices.model import Device
from exporter.devices.rules import DEVICE_INFO
from exporter.metrics.metricset import MetricSet

Sample = tuple[str, frozenset[tuple[str, str]], float]
DEVICE_LABELS = ("device", "serial", "part_number")


def samples(ms: MetricSet, ignore: Iterable[str] = ("gateway",)) -> set[Sample]:
    """Every sample of ``ms`` as (name, labels without ``ignore``, value), for comparing whole sets."""
    left_out = set(ignore)
    return {
        (metric.name, frozenset((k, v) for k, v in key if k not in left_out), value)
        for metric, values in ms.defs()
        for key, value in values.items()
    }


def sample(name: str, labels: Mapping[str, str], value: float) -> Sample:
    """One expected sample, in the shape :func:`samples` returns."""
    return name, frozenset(labels.items()), value


def assert_only_kept_devices(devices: Iterable[Device], ms: MetricSet, budget: DeviceBudget) -> None:
    """``ms`` holds series of the kept ``devices`` only, one info series per kept device with a DIN,
    and finite values.

    ``budget`` is the one passed to ``flatten_devices``: it knows which records were kept (the
    others had no serial or were beyond the device limits).
    """
    idents = [ident for ident, _ in budget.kept]  # (family, DIN or serial, serial, part number)
    kept = {(family, serial, part) for family, _, serial, part in idents}
    decoded: dict[tuple[str, str, str, str], bool] = {}  # identity → whether a record of it has a DIN
    for d in devices:
        ident = (d.family, d.din or d.serial, d.serial, d.part_number)
        decoded[ident] = decoded.get(ident, False) or bool(d.din)
    assert set(idents) <= set(decoded), f"kept devices that were not decoded: {set(idents) - set(decoded)}"
    for name, labels, value in samples(ms):
        assert math.isfinite(value), (name, dict(labels), value)
        found = dict(labels)
        if "device" in found:
            assert tuple(found.get(k, "") for k in DEVICE_LABELS) in kept, f"{name}{found}: a series of no kept device"
    info = {tuple(dict(key)[k] for k in (*DEVICE_LABELS, "din")) for key in ms.samples(DEVICE_INFO.name)}
    expected = {
        (family, serial, part, din) for family, din, serial, part in idents if decoded[family, din, serial, part]
    }
    assert info == expected, "one info series per kept device with a DIN"
