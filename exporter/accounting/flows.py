"""Energy flow attribution: which source fed which sink, from the gateway's lifetime meter counters.

Why: the gateway only reports per-meter lifetime energies (solar produced, home consumed, battery
charged/discharged, grid imported/exported). Owners ask "how much of the home ran on sun and battery",
which needs the energy split by (source, sink). Between two consecutive fresh readings, with
S = Δ solar ``energy_exported``, L = Δ load ``energy_imported``, D = Δ battery ``energy_exported``
(discharge) and C = Δ battery ``energy_imported`` (charge), the interval's energy is attributed in
this order, each term clamped at >= 0 (:func:`attribute`):

    solar→home    = min(S, L)
    battery→home  = min(D, L - solar→home)
    grid→home     = L - solar→home - battery→home
    solar→battery = min(S - solar→home, C)
    grid→battery  = C - solar→battery
    solar→grid    = S - solar→home - solar→battery
    battery→grid  = D - battery→home

Limits (documented in the README): within one interval the counters are sums, so a site that both
charged and discharged, or both imported and exported, inside one interval is attributed as if the
net pattern held throughout (solar is always assumed to serve the home first). Short intervals (one
scrape) keep that error small; the counters' own resolution (1 Wh on most firmware) bounds the rest.

Which intervals count is decided by :class:`IntervalTracker`, shared with the tariff cost: a repeated
(cached) reading is no interval at all, a counter that went down (or jumped implausibly far) makes the
interval add nothing (``counter_dip``), and so does a span longer than the gap threshold (``gap``).
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from exporter.coerce import number
from exporter.metrics.metricset import MetricSet, counter
from exporter.units import WH_TO_J

log = logging.getLogger(__name__)

# (source, sink) pairs, in the order of the attribution rule. Exactly these seven series exist.
FLOW_PAIRS: tuple[tuple[str, str], ...] = (
    ("solar", "home"),
    ("battery", "home"),
    ("grid", "home"),
    ("solar", "battery"),
    ("grid", "battery"),
    ("solar", "grid"),
    ("battery", "grid"),
)
SKIP_REASONS = ("counter_dip", "gap")

# An interval longer than this many median intervals (and at least MIN_GAP_SECONDS) adds nothing:
# energy over a gap cannot be split reliably (the pattern may have changed many times inside it).
GAP_MEDIAN_FACTOR = 5.0
MIN_GAP_SECONDS = 300.0
MEDIAN_WINDOW = 32
# A counter advancing faster than this (average power over the interval) is a counter swap or a
# corrupt reading, not energy; the interval is skipped as a counter_dip. 10 MW is far beyond any
# Powerwall site, yet low enough to catch a counter jumping by its whole lifetime value.
MAX_PLAUSIBLE_POWER_W = 10e6

FLOW = counter(
    "powerwall_energy_flow_joules_total",
    "Energy from source to sink, attributed from the lifetime meter counters (rule in README).",
)
FLOW_SKIPPED = counter(
    "powerwall_energy_flow_skipped_intervals_total",
    "Reading intervals that added nothing to the energy flows: a counter dipped/reset, or a gap.",
)


def attribute(s: float, load: float, d: float, c: float) -> dict[tuple[str, str], float]:
    """Split one interval's energies (any unit) into the seven flows; see the module docstring."""
    s, load, d, c = (max(0.0, x) for x in (s, load, d, c))
    solar_home = min(s, load)
    battery_home = max(0.0, min(d, load - solar_home))
    grid_home = max(0.0, load - solar_home - battery_home)
    solar_battery = max(0.0, min(s - solar_home, c))
    grid_battery = max(0.0, c - solar_battery)
    solar_grid = max(0.0, s - solar_home - solar_battery)
    battery_grid = max(0.0, d - battery_home)
    return {
        ("solar", "home"): solar_home,
        ("battery", "home"): battery_home,
        ("grid", "home"): grid_home,
        ("solar", "battery"): solar_battery,
        ("grid", "battery"): grid_battery,
        ("solar", "grid"): solar_grid,
        ("battery", "grid"): battery_grid,
    }


class GapPolicy:
    """The longest span between two observations that still counts: max(300 s, 5 x median interval).

    Why a median: scrape intervals differ between setups (15 s to 5 min); a fixed threshold would
    either drop every interval of a slow scraper or accept gaps of a fast one.
    """

    def __init__(self) -> None:
        # The last MEDIAN_WINDOW intervals. A list trimmed by hand: two per gateway, and a deque
        # costs 600 bytes even empty.
        self._recent: list[float] = []

    def threshold(self) -> float:
        if not self._recent:
            return MIN_GAP_SECONDS
        return max(MIN_GAP_SECONDS, GAP_MEDIAN_FACTOR * statistics.median(self._recent))

    def note(self, seconds: float) -> None:
        if seconds > 0:
            self._recent.append(seconds)
            if len(self._recent) > MEDIAN_WINDOW:
                del self._recent[0]


@dataclass(frozen=True, slots=True)
class Interval:
    """Counter increases between two trusted readings, in the readings' unit, and the time span."""

    start: float
    end: float
    deltas: tuple[float, ...]

    @property
    def midpoint(self) -> float:
        return (self.start + self.end) / 2.0


class IntervalTracker:
    """Turns successive readings of a fixed tuple of lifetime counters into countable intervals.

    * A reading equal to the previous one (the client's cache answering again) is not an interval.
    * An interval in which any counter went down, or advanced faster than ``MAX_PLAUSIBLE_POWER_W``,
      adds nothing (``counter_dip``) and its end becomes the new baseline: a real reset (a replaced
      meter) then costs one interval. A dip that comes back adds its depth to the next interval; the
      gateways' dips are a few Wh, so that is within the counters' resolution.
    * A counter reading exactly 0 after a non-zero value is the Powerwall 3's momentary zero, not a
      value: it is counted as ``counter_dip`` but the baseline is kept, so the energy comes back with
      the next good reading instead of a lifetime-sized jump.
    * A span longer than the :class:`GapPolicy` threshold adds nothing (``gap``); the new reading
      becomes the baseline.
    """

    def __init__(self) -> None:
        self.gaps = GapPolicy()
        self.skipped: dict[str, int] = dict.fromkeys(SKIP_REASONS, 0)
        self._base: tuple[float, ...] | None = None
        self._base_at = 0.0
        self._last: tuple[float, ...] | None = None

    def observe(self, values: Sequence[float], at: float) -> Interval | None:
        """Feed one reading (values in Wh) taken at ``at``; an Interval when it adds energy."""
        reading = tuple(values)
        if reading == self._last:
            return None
        self._last = reading
        if self._base is None or len(self._base) != len(reading):
            self._base, self._base_at = reading, at
            return None
        span = at - self._base_at
        if span <= 0:
            return None  # clock went backwards or two readings in one instant: wait for a later one
        if any(new == 0 < old for new, old in zip(reading, self._base, strict=True)):
            self.skipped["counter_dip"] += 1
            return None
        deltas = tuple(new - old for new, old in zip(reading, self._base, strict=True))
        threshold = self.gaps.threshold()
        self.gaps.note(span)
        start = self._base_at
        self._base, self._base_at = reading, at
        max_delta = MAX_PLAUSIBLE_POWER_W * span / WH_TO_J  # W x s = J, in Wh: the unit of the gateway counters
        if any(d < 0 or d > max_delta for d in deltas):
            self.skipped["counter_dip"] += 1
            return None
        if span > threshold:
            self.skipped["gap"] += 1
            return None
        return Interval(start, at, deltas)


class MeterCounters:
    """Picks named lifetime counters out of a /api/meters/aggregates answer, in Wh.

    A meter key never seen (a site without solar or without battery) reads as a constant 0. Once a
    meter was seen, a reading that lacks it or carries a non-number is unusable: None, so the tracker
    keeps its baseline and the energy shows up in the next complete reading.
    """

    def __init__(self, fields: Sequence[tuple[str, str]]) -> None:
        self.fields = tuple(fields)  # (meter, key) pairs
        self._seen: set[str] = set()

    def read(self, aggregates: Mapping[str, Any]) -> tuple[float, ...] | None:
        out: list[float] = []
        for meter, key in self.fields:
            obj = aggregates.get(meter)
            if not isinstance(obj, Mapping):
                if meter in self._seen:
                    return None
                out.append(0.0)
                continue
            value = number(obj.get(key))
            if value is None:
                return None
            out.append(value)
        present = {m for m, _ in self.fields if isinstance(aggregates.get(m), Mapping)}
        if not present:
            return None  # none of the meters: not a reading of these counters at all
        self._seen.update(present)
        return tuple(out)


FLOW_FIELDS = (
    ("solar", "energy_exported"),
    ("load", "energy_imported"),
    ("battery", "energy_exported"),
    ("battery", "energy_imported"),
)


class EnergyFlows:
    """Per-gateway flow counters (joules) fed by fresh /api/meters/aggregates readings."""

    def __init__(self) -> None:
        self.meters = MeterCounters(FLOW_FIELDS)
        self.tracker = IntervalTracker()
        self.totals: dict[tuple[str, str], float] = dict.fromkeys(FLOW_PAIRS, 0.0)
        self.started = False

    def observe(self, aggregates: Mapping[str, Any] | None, at: float) -> None:
        if aggregates is None:
            return
        values = self.meters.read(aggregates)
        if values is None:
            return
        self.started = True
        interval = self.tracker.observe(values, at)
        if interval is None:
            return
        for pair, wh in attribute(*interval.deltas).items():
            self.totals[pair] += wh * WH_TO_J

    def metrics(self, ms: MetricSet) -> None:
        if not self.started:
            return  # the seven series appear with the first usable reading
        for (source, sink), joules in self.totals.items():
            ms.add(FLOW, joules, {"source": source, "sink": sink})
        for reason, n in self.tracker.skipped.items():
            ms.add(FLOW_SKIPPED, n, {"reason": reason})
