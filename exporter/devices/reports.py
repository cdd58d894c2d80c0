"""Per-device reports from every source, and the one precedence that decides which of them are shown.

Why: the same physical devices can be reported twice, under different identities (vitals names a
Powerwall 2's inverter by the inverter's serial, TEDAPI's device controller by the Powerwall's), and
showing both doubles every device. So a source hands its devices over as a report that says which part
of the site it *covers* (``bus``: the site's device bus; ``pv``: the Powerwall+ PV inverter;
``unit:<DIN>``: one Powerwall 3's components), and one merge after all answers keeps, source by source
in the declared order (:data:`exporter.sources.registry.DEVICE_PRECEDENCE`), each report that covers
nothing a source ranked above it covered in the same scrape. A source never drops its own reports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from exporter.devices.bounds import DeviceBudget
from exporter.metrics.metricset import MetricSet

BUS = "bus"
PV = "pv"


def unit(din: str) -> str:
    """The scope of one Powerwall 3's own components."""
    return f"unit:{din}"


@dataclass(slots=True)
class DeviceReport:
    """One answer's devices, flattened: their series, their share of the device bound, what they cover."""

    covers: frozenset[str]
    ms: MetricSet
    budget: DeviceBudget = field(default_factory=DeviceBudget)


def merge_reports(
    reports: Mapping[str, Sequence[DeviceReport]], precedence: Sequence[str], ms: MetricSet
) -> list[DeviceBudget]:
    """Merge into ``ms`` the reports that no higher-ranked source covered; their budgets, in order.

    ``reports`` by source name; a source missing from ``precedence`` ranks last, in name order.
    """
    order = [*precedence, *sorted(set(reports) - set(precedence))]
    claimed: set[str] = set()
    budgets: list[DeviceBudget] = []
    for source in order:
        kept = [r for r in reports.get(source, ()) if not (r.covers & claimed)]
        for r in kept:
            ms.merge(r.ms)
            budgets.append(r.budget)
        for r in kept:
            claimed |= r.covers
    return budgets
