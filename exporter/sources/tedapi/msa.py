"""``components.msa[]`` of a DeviceControllerQuery: its signals and alerts, attached to the right records.

Why a module of its own: the msa entries are a second account of devices the esCan bus
(:mod:`.controller`) and the ComponentsQuery (:mod:`.components`) already describe, listed by
serial and signal name instead of by bus slot. Deciding which record an entry's signals belong to
(and when they belong to none) is a job of its own, and the one place a Powerwall 3 could be
counted twice.

* Each signal is attached by the family of its prefix (:data:`MSA_PREFIXES`): to the record of that
  family with the entry's serial; failing that, to the only record of the family, or by position
  among the family's records when several; a family without any record gets a new one from the
  entry's identity, if it has a serial.
* Families the ComponentsQuery reports (:data:`COMPONENT_FAMILIES`: a Powerwall 3's packs
  ``BMS_*``/``HVP_*``, ``PCH_*``, ``BAGGR_*``, ``PWS_*``) go to their own record by serial or
  nowhere: a Powerwall 3's msa lists each pack under its serial, and those records come from the
  ComponentsQuery, so here they would count each pack a second time.
* A signal of no known prefix goes to the record with the entry's serial, or (an entry without
  serial) stays (generically exported) on the gateway's record (the first record).
* Signals the bus already gave keep the bus's value. The entry's alerts go to the first of the
  records it attaches to.
"""

from __future__ import annotations

import logging
from typing import Any

from exporter.coerce import as_list, as_mapping, as_text
from exporter.devices.model import SignalValue
from exporter.sources.tedapi.records import Builder, alert_names, component_signals, part_number

log = logging.getLogger(__name__)

MSA_PREFIXES: tuple[tuple[str, str], ...] = (
    ("THC_", "TETHC"),
    ("PINV_", "TEPINV"),
    ("POD_", "TEPOD"),
    ("PVAC_", "PVAC"),
    ("PVI-", "PVAC"),  # vitals' PVI-PowerStatusSetpoint belongs to the solar inverter
    ("PVS_", "PVS"),
    ("SYNC_", "TESYNC"),
    ("ISLAND_", "TESYNC"),
    ("METER_Z_", "TEMSA"),
    ("METER_", "TESYNC"),
    ("MSA_", "TEMSA"),
    ("BMS_", "HVP"),  # a Powerwall 3's battery pack: one record per pack (the bms/hvp pair)
    ("HVP_", "HVP"),
    ("PCH_", "PCH"),
    ("BAGGR_", "BAGGR"),
    ("PWS_", "PWS"),
)
"""Signal-name prefix → family of a ``components.msa`` signal (first match wins; ``METER_Z_`` is the MSA's)."""

COMPONENT_FAMILIES = frozenset({"HVP", "PCH", "BAGGR", "PWS"})
"""Families only the ComponentsQuery makes records of: their ``components.msa`` signals attach by serial or nowhere."""


def _msa_family(name: str) -> str | None:
    for prefix, family in MSA_PREFIXES:
        if name.startswith(prefix):
            return family
    return None


def attach_msa(entries: Any, records: list[Builder], gateway_din: str) -> None:
    """Attach ``components.msa[]`` signals and alerts to the records (module docstring)."""
    positions: dict[str, int] = {}
    gateway = records[0]
    for e in as_list(entries):
        entry = as_mapping(e)
        part, serial = part_number(entry.get("partNumber")), as_text(entry.get("serialNumber"))
        # A signal of no known prefix: on the record with the entry's serial, else on the gateway's.
        owner = next((r for r in records if r.serial == serial), None) if serial else gateway
        by_target: dict[int, tuple[Builder, dict[str, SignalValue]]] = {}
        unplaced: dict[str, dict[str, SignalValue]] = {}
        alerts = alert_names(entry.get("activeAlerts"))
        names = component_signals(entry.get("signals"))
        if not names and alerts:
            family = _msa_family(alerts[0])
            if family is None and owner is not None:
                by_target[id(owner)] = (owner, {})
            elif family is not None:
                unplaced[family] = {}
        for name, value in names.items():
            family = _msa_family(name)
            if family is None:
                if owner is not None:
                    by_target.setdefault(id(owner), (owner, {}))[1][name] = value
                continue
            unplaced.setdefault(family, {})[name] = value
        for family, signals in unplaced.items():
            target = _msa_target(records, family, serial, positions)
            if target is None and serial and family not in COMPONENT_FAMILIES:
                target = Builder(family, part, serial, gateway_din or None)
                records.append(target)
            if target is None:
                log.debug("msa %s signals without a %s record of their own dropped", family, family)
                continue
            by_target.setdefault(id(target), (target, {}))[1].update(signals)
        for n, (target, signals) in enumerate(by_target.values()):
            for k, v in signals.items():
                target.add(k, v)
            if n == 0:
                target.alerts.extend(alerts)


def _msa_target(records: list[Builder], family: str, serial: str, positions: dict[str, int]) -> Builder | None:
    """The record of ``family`` an entry's signals go to, or None (module docstring); ``positions``
    counts the entries already placed by position, per family."""
    same = [r for r in records if r.family == family]
    if serial:
        for r in same:
            if r.serial == serial:
                return r
    if not same or family in COMPONENT_FAMILIES:
        return None
    if len(same) == 1:
        return same[0]
    k = positions.get(family, 0)
    positions[family] = k + 1
    return same[k] if k < len(same) else None
