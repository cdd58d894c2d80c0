"""Grid outage history, from the grid states the exporter observes.

Why: the gateway reports only the grid state *now* (/api/system_status/grid_status); how often and
for how long the grid was out is history that nobody keeps unless the exporter counts it.

* On grid means ``grid_status == "SystemGridConnected"``; every other state (``SystemIslandedActive``,
  ``SystemIslandedReady``, ``SystemTransitionToGrid``, ``SystemTransitionToIsland``,
  ``SystemMicroGridFaulted``, ``SystemWaitForUser``, ...) is off grid, as gateway-api.md says "only
  the first means the grid is up".
* ``powerwall_grid_outages_total`` counts observed on→off transitions. An exporter that starts during
  an outage has seen no transition: that outage's time is counted, the outage itself is not.
* ``powerwall_grid_outage_seconds_total`` adds the time between two observations to the outage time
  when the earlier one was off grid (so a running outage is included up to the latest observation).
  A span longer than the gap threshold (:class:`exporter.accounting.flows.GapPolicy`) adds nothing: the state
  in between is unknown.
* ``powerwall_grid_last_change_timestamp_seconds`` is the time of the observation that first showed
  the new state (so it lags the real change by up to one scrape interval). It is absent until a change
  is observed: the exporter's start time is not a grid change and would mislead a "last outage" panel.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exporter.accounting.flows import GapPolicy
from exporter.metrics.metricset import MetricSet, counter, gauge

ON_GRID = "SystemGridConnected"

OUTAGES = counter("powerwall_grid_outages_total", "Observed transitions from on grid to off grid.")
OUTAGE_SECONDS = counter("powerwall_grid_outage_seconds_total", "Observed time off grid (gaps excluded).")
LAST_CHANGE = gauge(
    "powerwall_grid_last_change_timestamp_seconds", "When the exporter last saw the grid state change (Unix time)."
)


class OutageTracker:
    def __init__(self) -> None:
        self.gaps = GapPolicy()
        self.outages = 0
        self.outage_seconds = 0.0
        self.last_change: float | None = None
        self._on_grid: bool | None = None
        self._at = 0.0

    def observe(self, grid_status: Mapping[str, Any] | None, at: float) -> None:
        status = grid_status.get("grid_status") if grid_status is not None else None
        if not isinstance(status, str) or not status:
            return
        on_grid = status == ON_GRID
        if self._on_grid is not None:
            span = at - self._at
            if span <= 0:
                return
            threshold = self.gaps.threshold()
            self.gaps.note(span)
            if not self._on_grid and span <= threshold:
                self.outage_seconds += span
            if on_grid != self._on_grid:
                self.last_change = at
                if not on_grid:
                    self.outages += 1
        self._on_grid, self._at = on_grid, at

    def metrics(self, ms: MetricSet) -> None:
        ms.add(OUTAGES, self.outages)
        ms.add(OUTAGE_SECONDS, self.outage_seconds)
        if self.last_change is not None:
            ms.add(LAST_CHANGE, self.last_change)
