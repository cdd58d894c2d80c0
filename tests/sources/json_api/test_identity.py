"""Per-Powerwall JSON entries without a serial describe no device: they give no series."""

from __future__ import annotations

from typing import Any

import pytest

from exporter.metrics.metricset import MetricSet
from exporter.site.mappers import JSON_MAPPERS
from exporter.sources.json_api import endpoints as ep

REAL = {"PackageSerialNumber": "TG123", "PackagePartNumber": "2012170-25-E"}
NAMELESS: list[dict[str, Any]] = [
    {"PackagePartNumber": "2012170-25-E"},
    {"PackageSerialNumber": "", "PackagePartNumber": ""},
    {"PackageSerialNumber": "  "},
    {"PackageSerialNumber": None},
]
FIELDS = {"nominal_full_pack_energy": 13500, "p_out": 100.0, "grid_state": "Grid_Compliant", "OpSeqState": "Active"}


def _serials(ms: MetricSet) -> set[str]:
    return {dict(k)["serial"] for name in ms.names() for k in ms.samples(name) if "serial" in dict(k)}


@pytest.mark.parametrize(
    ("path", "doc"),
    [
        (ep.SYSTEM_STATUS.path, {"battery_blocks": [{**e, **FIELDS} for e in (*NAMELESS, REAL)]}),
        (ep.POWERWALLS.path, {"powerwalls": [{**e, **FIELDS} for e in (*NAMELESS, REAL)]}),
    ],
)
def test_entries_without_serial_are_skipped(path: str, doc: dict[str, Any]) -> None:
    ms = MetricSet()
    JSON_MAPPERS[path](doc, ms)
    assert _serials(ms) == {"TG123"}
