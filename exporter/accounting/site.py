"""The one object the collector calls for issue 11's derived metrics: energy flows, tariff cost,
battery health inputs and outage history.

Why one object behind one call: these metrics are computed from what a scrape already fetched and
mapped, and need memory across scrapes. Keeping them out of the collector (which only creates a
:class:`SiteAccounting` per gateway and calls :meth:`SiteAccounting.observe` after the counter
guard) keeps the collector small and lets each feature be tested without HTTP.

It reads the chosen site answers as decoded (exporter.site.merge), not the guarded counters: the flow
and cost trackers need to see a counter dip to skip that interval, which the guard would hide by
holding the last value.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from exporter.accounting.battery_health import BatteryHealth
from exporter.accounting.flows import EnergyFlows
from exporter.accounting.outages import OutageTracker
from exporter.accounting.tariff import GridCost
from exporter.config import GatewayConfig
from exporter.metrics.metricset import MetricSet
from exporter.site.shapes import Shape

log = logging.getLogger(__name__)


def _obj(data: Mapping[Shape, Any], shape: Shape) -> Mapping[str, Any] | None:
    v = data.get(shape)
    return v if isinstance(v, Mapping) else None


class SiteAccounting:
    """Per-gateway memory of flows, cost, outages and battery dates. Thread-safe.

    ``clock`` (wall-clock Unix seconds) times the readings; tests replace it with a simulated clock.
    """

    def __init__(self, cfg: GatewayConfig, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.flows = EnergyFlows()
        self.cost = GridCost(cfg.energy.tariff) if cfg.energy.tariff is not None else None
        self.outages = OutageTracker()
        self.battery = BatteryHealth(cfg.energy)
        self._lock = threading.Lock()

    def observe(self, ms: MetricSet, data: Mapping[Shape, Any], at: float | None = None) -> None:
        """Feed one scrape's chosen site answers (:class:`Shape` → decoded object) and add the series to ``ms``."""
        part = MetricSet(base_labels=ms.base_labels)
        try:
            self._observe(ms, part, data, self.clock() if at is None else at)
        except Exception:  # a bug here must cost these derived series, never the scrape
            log.exception("energy accounting failed (a bug: please report it); its series are absent this scrape")
            return
        ms.merge(part)

    def _observe(self, scraped: MetricSet, ms: MetricSet, data: Mapping[Shape, Any], now: float) -> None:
        """Update the state and write this feature's series to ``ms`` (``scraped`` is only read)."""
        aggregates = _obj(data, Shape.AGGREGATES)
        site_info = _obj(data, Shape.SITE_INFO)
        with self._lock:
            self.flows.observe(aggregates, now)
            self.outages.observe(_obj(data, Shape.GRID_STATUS), now)
            self.battery.observe(site_info)
            if self.cost is not None:
                if site_info is not None:
                    self.cost.tariff.note_site_timezone(site_info.get("timezone"))
                self.cost.observe(aggregates, now)
                self.cost.metrics(ms, now)
            self.flows.metrics(ms)
            self.outages.metrics(ms)
            self.battery.metrics(scraped, ms)
