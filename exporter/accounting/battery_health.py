"""Inputs for battery health rules: each pack's nameplate energy and the warranty dates.

Why: "is my battery losing capacity, and will it still be within warranty when it crosses 70 %"
needs, beside the full-pack energy the gateway reports, what the pack was rated at (from
:mod:`exporter.accounting.nameplate_tables`) and when the warranty started and ends.

* ``powerwall_pod_nameplate_energy_joules`` carries exactly the labels of the
  ``powerwall_pod_full_pack_energy_joules`` series it belongs to (``device``, ``serial``,
  ``part_number``), so ``full / nameplate`` needs no ``on()``/``group_left``. A pack whose own part
  number the table does not know takes the nameplate of the unit it belongs to (its
  ``powerwall_device_info`` ``parent_din``, looked up among the same scrape's devices): the built-in
  pack of a Powerwall 3 reports its own part number (``1800420-11-F``), not the unit's
  (``1707000-``), and a per-pack rating is the unit's. Unknown both ways: no series (never a guess).
* ``powerwall_battery_commission_timestamp_seconds`` and ``..._warranty_end_timestamp_seconds``: from
  the gateway config (``battery_commission_date``, ``battery_warranty_years``, default 10), else from
  /api/site_info ``battery_commission_date`` where newer firmware sends it; absent otherwise. A
  configured date wins (the owner knows when the batteries, not the gateway, went in). A plain date
  means midnight UTC of that day.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime, time, timezone
from typing import Any

from exporter.accounting.nameplate_tables import nameplate_joules
from exporter.config import EnergyConfig, add_years
from exporter.devices.rules import DEVICE_INFO, DEVICE_LABELS
from exporter.metrics.metricset import MetricSet, gauge

log = logging.getLogger(__name__)

POD_FULL_PACK = "powerwall_pod_full_pack_energy_joules"
POD_NAMEPLATE = gauge(
    "powerwall_pod_nameplate_energy_joules",
    "Nameplate usable energy of the pod, from its part number, else from its parent unit's (README table).",
)
COMMISSION = gauge(
    "powerwall_battery_commission_timestamp_seconds", "When the batteries were commissioned (Unix time)."
)
WARRANTY_END = gauge(
    "powerwall_battery_warranty_end_timestamp_seconds", "Commission date plus the warranty period (Unix time)."
)


def parse_commission(value: Any) -> datetime | None:
    """site_info's ``battery_commission_date``: a date or an ISO 8601 date-time; anything else → None."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0), timezone.utc)
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)


def _parent_parts(scraped: MetricSet) -> dict[tuple[str, ...], str]:
    """Device identity (``device``, ``serial``, ``part_number``) → part number of its parent device,
    from the scrape's ``powerwall_device_info`` series (a parent not among them: no entry)."""
    infos = [dict(key) for key in scraped.samples(DEVICE_INFO.name)]
    part_of = {i["din"]: i.get("part_number", "") for i in infos if i.get("din")}
    out: dict[tuple[str, ...], str] = {}
    for i in infos:
        part = part_of.get(i.get("parent_din", ""), "")
        if part:
            out[tuple(i.get(k, "") for k in DEVICE_LABELS)] = part
    return out


class BatteryHealth:
    def __init__(self, cfg: EnergyConfig) -> None:
        self.years = cfg.battery_warranty_years
        self.configured = (
            datetime.combine(cfg.battery_commission_date, time(0), timezone.utc)
            if cfg.battery_commission_date is not None
            else None
        )
        self._from_site: datetime | None = None

    def observe(self, site_info: Mapping[str, Any] | None) -> None:
        if site_info is not None and "battery_commission_date" in site_info:
            parsed = parse_commission(site_info["battery_commission_date"])
            if parsed is None and self._from_site is None:
                log.debug("site_info battery_commission_date %r not understood", site_info["battery_commission_date"])
            self._from_site = parsed or self._from_site

    def metrics(self, scraped: MetricSet, ms: MetricSet) -> None:
        """Nameplates for the pods in ``scraped``, written with the dates to ``ms``."""
        parent_part = _parent_parts(scraped)
        for key in scraped.samples(POD_FULL_PACK):
            labels = {k: v for k, v in key if k not in scraped.base_labels}
            identity = tuple(labels.get(k, "") for k in DEVICE_LABELS)
            joules = nameplate_joules(labels.get("part_number", ""))
            if joules is None and identity in parent_part:
                joules = nameplate_joules(parent_part[identity])
            if joules is not None:
                ms.add(POD_NAMEPLATE, joules, labels)
        commission = self.configured or self._from_site
        if commission is None:
            return
        ms.add(COMMISSION, commission.timestamp())
        end = datetime.combine(add_years(commission.date(), self.years), commission.timetz())
        ms.add(WARRANTY_END, end.timestamp())
