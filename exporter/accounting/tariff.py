"""Tariff prices in force and the grid import cost / export credit they add up to.

Why in the exporter and not in PromQL: a time-of-use price depends on local wall-clock time, weekday
and DST, which PromQL cannot express without one recording rule per window; the exporter knows the
configured windows and can price each reading interval as it happens.

Pricing rule: each interval between two fresh /api/meters/aggregates readings is priced at the price
in force at the interval's midpoint (intervals are one scrape long, so a window edge inside one costs
at most one interval's energy at the neighbouring price). Δ site ``energy_imported`` (kWh) x import
price adds to ``powerwall_grid_import_cost_total``; Δ site ``energy_exported`` x export price adds to
``powerwall_grid_export_credit_total``. Intervals are chosen by :class:`exporter.accounting.flows.IntervalTracker`
(repeated readings, dips and gaps add nothing), with its own tracker over the two site counters so a
glitch in a battery counter does not cost the grid accounting its interval.

Periods: the first configured window that contains the local time wins; outside every window the
tariff's default prices apply (``period="default"``). A window with start > end runs past midnight;
its ``days`` name the weekday it starts on. A window without one of the prices uses the default one.
"""

from __future__ import annotations

import logging
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from exporter.accounting.flows import IntervalTracker, MeterCounters
from exporter.config import DEFAULT_PERIOD, TariffConfig, TariffPeriod
from exporter.metrics.metricset import MetricSet, counter, gauge
from exporter.units import WH_PER_KWH

log = logging.getLogger(__name__)

IMPORT_PRICE = gauge("powerwall_tariff_import_price_per_kwh", "Configured grid import price in force now, per kWh.")
EXPORT_PRICE = gauge("powerwall_tariff_export_price_per_kwh", "Configured grid export price in force now, per kWh.")
IMPORT_COST = counter(
    "powerwall_grid_import_cost_total", "Grid import cost: site energy imported x import price in force."
)
EXPORT_CREDIT = counter(
    "powerwall_grid_export_credit_total", "Grid export credit: site energy exported x export price in force."
)
IMPORT_COST_BY_PERIOD = counter(
    "powerwall_grid_import_cost_by_period_total", "Grid import cost, by the tariff period it was priced in."
)
EXPORT_CREDIT_BY_PERIOD = counter(
    "powerwall_grid_export_credit_by_period_total", "Grid export credit, by the tariff period it was priced in."
)
COST_SKIPPED = counter(
    "powerwall_grid_cost_skipped_intervals_total",
    "Reading intervals that added nothing to cost and credit: a site counter dipped/reset, or a gap.",
)

SITE_FIELDS = (("site", "energy_imported"), ("site", "energy_exported"))


@dataclass(frozen=True, slots=True)
class Price:
    period: str
    import_per_kwh: float
    export_per_kwh: float


def _in_window(p: TariffPeriod, weekday: int, minute: int) -> bool:
    if p.start_minute < p.end_minute:
        return weekday in p.days and p.start_minute <= minute < p.end_minute
    # Crosses midnight: the evening part on a listed day, the morning part on the day after one.
    return (weekday in p.days and minute >= p.start_minute) or ((weekday - 1) % 7 in p.days and minute < p.end_minute)


class Tariff:
    """Price lookup for one configured tariff."""

    def __init__(self, cfg: TariffConfig) -> None:
        self.cfg = cfg
        self.period_names = tuple(dict.fromkeys([*(p.name for p in cfg.periods), DEFAULT_PERIOD]))
        self._site_tz: tzinfo | None = None
        self._site_tz_name: str | None = None

    def note_site_timezone(self, name: Any) -> None:
        """The gateway's site_info timezone: the default when the tariff names none."""
        if not isinstance(name, str) or not name or name == self._site_tz_name:
            return
        self._site_tz_name = name
        try:
            self._site_tz = zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            log.warning("gateway site_info timezone %r is unknown here; tariff periods use UTC", name)
            self._site_tz = None

    @property
    def zone(self) -> tzinfo:
        if self.cfg.timezone is not None:
            return zoneinfo.ZoneInfo(self.cfg.timezone)
        return self._site_tz or zoneinfo.ZoneInfo("UTC")

    def price_at(self, t: float) -> Price:
        local = datetime.fromtimestamp(t, self.zone)
        weekday, minute = local.weekday(), local.hour * 60 + local.minute
        for p in self.cfg.periods:
            if _in_window(p, weekday, minute):
                return Price(
                    p.name,
                    self.cfg.import_price_per_kwh if p.import_price_per_kwh is None else p.import_price_per_kwh,
                    self.cfg.export_price_per_kwh if p.export_price_per_kwh is None else p.export_price_per_kwh,
                )
        return Price(DEFAULT_PERIOD, self.cfg.import_price_per_kwh, self.cfg.export_price_per_kwh)


class GridCost:
    """Accumulates import cost and export credit of one gateway from fresh site-counter readings."""

    def __init__(self, cfg: TariffConfig) -> None:
        self.tariff = Tariff(cfg)
        self.meters = MeterCounters(SITE_FIELDS)
        self.tracker = IntervalTracker()
        self.cost = 0.0
        self.credit = 0.0
        self.cost_by_period = dict.fromkeys(self.tariff.period_names, 0.0)
        self.credit_by_period = dict.fromkeys(self.tariff.period_names, 0.0)
        self.started = False

    def observe(self, aggregates: Mapping[str, Any] | None, at: float) -> None:
        if aggregates is None or not isinstance(aggregates.get("site"), Mapping):
            return  # no site meter: nothing to price (and a missing one is no reading)
        values = self.meters.read(aggregates)
        if values is None:
            return
        self.started = True
        interval = self.tracker.observe(values, at)
        if interval is None:
            return
        imported_wh, exported_wh = interval.deltas
        price = self.tariff.price_at(interval.midpoint)
        cost = imported_wh / WH_PER_KWH * price.import_per_kwh
        credit = exported_wh / WH_PER_KWH * price.export_per_kwh
        self.cost += cost
        self.credit += credit
        self.cost_by_period[price.period] += cost
        self.credit_by_period[price.period] += credit

    def metrics(self, ms: MetricSet, now: float) -> None:
        currency = self.tariff.cfg.currency
        price = self.tariff.price_at(now)
        labels = {"currency": currency, "period": price.period}
        ms.add(IMPORT_PRICE, price.import_per_kwh, labels)
        ms.add(EXPORT_PRICE, price.export_per_kwh, labels)
        if not self.started:
            return
        ms.add(IMPORT_COST, self.cost, {"currency": currency})
        ms.add(EXPORT_CREDIT, self.credit, {"currency": currency})
        for period in self.tariff.period_names:
            ms.add(IMPORT_COST_BY_PERIOD, self.cost_by_period[period], {"currency": currency, "period": period})
            ms.add(EXPORT_CREDIT_BY_PERIOD, self.credit_by_period[period], {"currency": currency, "period": period})
        for reason, n in self.tracker.skipped.items():
            ms.add(COST_SKIPPED, n, {"currency": currency, "reason": reason})
