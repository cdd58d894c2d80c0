"""One Powerwall 3's ComponentsQuery / PW3Query answer → its :class:`~exporter.devices.model.Device` records.

Why a module of its own: a Powerwall 3 reports its inverter, packs and power stages in an answer of
its own, shaped unlike the esCan bus (:mod:`.controller`), and asked once per Powerwall 3 (a
:class:`~exporter.sources.tedapi.blocks.Block`). Its signals (``PCH_*``, ``BMS_*``, ``HVP_*``,
``BAGGR_*``, ``PWS_*``) keep their names and have rules of their own in
:mod:`exporter.devices.rules`, sharing families with the vitals names where the quantity is the same.

* A ``PW3`` unit record with the block's DIN; ``pch[0]`` → ``PCH``, ``baggr[0]`` → ``BAGGR``,
  ``pws[0]`` → ``PWS``, each with the unit's identity (``PCH_package*Number_*`` hex pieces are
  never used); ``bms[i]`` + ``hvp[i]`` → one ``HVP`` record per pack with the pack's own identity
  (``hvp[i]`` serial/part, else ``bms[i]``'s, else the part the block lists for that serial among
  its expansions). The phantom slot (no serial and null energies) is skipped, as is any pack
  without a serial (no identity to label it with) and a pack listed twice under one serial.
  Signal values are read as :mod:`.records` says.
* PV strings: ``PCH_PvPower<X>`` = ``PCH_PvVoltage<X>`` * ``PCH_PvCurrent<X>`` is derived for
  strings A..F (the inverter reports no per-string power). Night-time current noise: a current
  with ``|I| <`` :data:`CURRENT_NOISE_A` (0.05 A, below what a string carrying real power draws)
  is exported as 0 and the derived power uses 0, so a dark array reads 0 W instead of flickering
  milliwatts of "negative production"; larger values, negative ones included, are kept as sent.

Nothing sensitive is read: only ``components.pch``/``bms``/``hvp``/``baggr``/``pws`` are visited.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from exporter.coerce import as_list, as_mapping, as_text, is_number
from exporter.devices.model import Device, SignalValue, split_din
from exporter.sources.tedapi.blocks import Block
from exporter.sources.tedapi.records import PV_STRINGS, Builder, alert_names, built, component_signals, part_number

log = logging.getLogger(__name__)

CURRENT_NOISE_A = 0.05
"""PCH string currents below this magnitude are sensor noise and read 0 (module docstring)."""


def _first(v: Any) -> Mapping[str, Any]:
    items = as_list(v)
    return as_mapping(items[0]) if items else {}


def _pch_strings(b: Builder) -> None:
    """Clamp string-current noise and derive ``PCH_PvPower<X>`` (module docstring)."""
    for letter in PV_STRINGS:
        i_name = f"PCH_PvCurrent{letter}"
        current = b.signals.get(i_name)
        if is_number(current) and abs(float(current)) < CURRENT_NOISE_A:  # type: ignore[arg-type]
            b.signals[i_name] = current = 0.0
        voltage = b.signals.get(f"PCH_PvVoltage{letter}")
        if is_number(voltage) and is_number(current):
            b.add(f"PCH_PvPower{letter}", float(voltage) * float(current))  # type: ignore[arg-type]


def _is_phantom(serial: str, signals: Mapping[str, SignalValue]) -> bool:
    energies = ("BMS_nominalEnergyRemaining", "BMS_nominalFullPackEnergy")
    return not serial and all(signals.get(k) is None for k in energies)


def components_devices(data: Mapping[str, Any], block: Block, firmware: str | None) -> list[Device]:
    """The devices of one Powerwall 3's ComponentsQuery/PW3Query ``data`` (module docstring)."""
    comps = as_mapping(as_mapping(data).get("components"))
    _, part, serial = split_din(f"PW3--{block.din}")
    unit = Builder("PW3", part, serial, din=block.din)
    records: list[Builder] = [unit]

    def unit_component(family: str, entry: Mapping[str, Any]) -> Builder | None:
        if not entry:
            return None
        b = Builder(family, part, serial, block.din)
        b.signals.update(component_signals(entry.get("signals")))
        b.alerts.extend(alert_names(entry.get("activeAlerts")))
        return b

    pch = unit_component("PCH", _first(comps.get("pch")))
    if pch is not None:
        _pch_strings(pch)
        records.append(pch)

    expansion_parts = {s: p for p, _, s in (x.rpartition("--") for x in block.expansions) if s}
    bms = as_list(comps.get("bms"))
    hvp = as_list(comps.get("hvp"))
    for i in range(max(len(bms), len(hvp))):
        b_entry = as_mapping(bms[i]) if i < len(bms) else {}
        h_entry = as_mapping(hvp[i]) if i < len(hvp) else {}
        if not b_entry and not h_entry:
            continue
        pack_serial = as_text(h_entry.get("serialNumber")) or as_text(b_entry.get("serialNumber"))
        pack_part = (
            part_number(h_entry.get("partNumber"))
            or part_number(b_entry.get("partNumber"))
            or expansion_parts.get(pack_serial, "")
        )
        signals = component_signals(b_entry.get("signals"))
        for k, v in component_signals(h_entry.get("signals")).items():
            signals.setdefault(k, v)
        if _is_phantom(pack_serial, signals):
            log.debug("phantom battery pack slot %d of %s skipped", i, block.din)
            continue
        if not pack_serial:
            log.debug("battery pack slot %d of %s without serial skipped", i, block.din)
            continue
        pack = Builder("HVP", pack_part, pack_serial, block.din)
        pack.signals.update(signals)
        pack.alerts.extend(alert_names(b_entry.get("activeAlerts")))
        pack.alerts.extend(alert_names(h_entry.get("activeAlerts")))
        records.append(pack)

    for family, key in (("BAGGR", "baggr"), ("PWS", "pws")):
        b = unit_component(family, _first(comps.get(key)))
        if b is not None:
            records.append(b)
    return built(records, firmware)
