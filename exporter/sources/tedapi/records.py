"""The record every TEDAPI answer is mapped into, and the careful reading of the JSON it comes from.

Why a module of its own: the DeviceControllerQuery mapping (:mod:`.controller`), the msa attachment
(:mod:`.msa`) and the ComponentsQuery mapping (:mod:`.components`) build the same records under the
same rules, and those rules must not drift apart between them:

* Identity follows the DIN convention of :mod:`exporter.devices.model`: every record's ``din`` is
  ``<FAMILY>--<part>--<serial>`` (the gateway and Powerwall 3 unit records keep their own DIN), so
  ``device``/``part_number``/``serial`` come out as for vitals. An all-zero part number
  (``00000000000000000000``, a Powerwall 3's pack entries) is no part number.
* No identity, no device: a record whose serial is empty is skipped, whatever it carries, so an
  empty slot never becomes ``serial=""`` series (false zeros, and fuel for pod alerts); a DIN listed
  twice keeps its first record.
* A component's ``<FAMILY>_appGitHash`` (``*_InfoMsg``) is its firmware, as vitals reports it per
  device; records without one get the gateway's version. Manufacturer: ``NEURIO`` for the Neurio
  meter, ``TESLA`` for everything else (the hardware's maker, not reported by TEDAPI).
* A component signal (``signals[{name, value, boolValue, textValue}]``) takes the first non-null of
  ``value``, ``boolValue``, ``textValue``; null everywhere → absent; a name returned twice keeps its
  first value. ``PCH_heatsinkTemp`` (a constant on current firmware) and ``PCH_package*`` (hex pieces
  of an identity the records already carry) are dropped.

All input is treated as hostile: the readers here turn a wrong type into an empty value, so a
missing key or a wrong type is skipped and nothing raises.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from exporter.coerce import as_list, as_mapping, as_text, is_number, signal
from exporter.devices.model import Device, SignalValue

log = logging.getLogger(__name__)

PW3_DIN_PREFIX = "1707000-"
"""A Powerwall 3 (leader) DIN starts with this part-number prefix."""

PV_STRINGS = "ABCDEF"
"""The PV strings a solar inverter (a Powerwall+'s PVAC, a Powerwall 3's PCH) reports, by letter."""

_DROPPED_RE = re.compile(r"^PCH_heatsinkTemp$|^PCH_package")


def part_number(v: Any) -> str:
    """A part number; an all-zero one (a Powerwall 3's msa pack entries) is none."""
    part = as_text(v)
    return "" if part.strip("0") == "" else part


def alert_names(v: Any) -> list[str]:
    """Alert names from ``alerts.active`` (strings) or ``activeAlerts`` (``{name}`` objects)."""
    out: list[str] = []
    for a in as_list(v):
        name = as_text(a) if isinstance(a, str) else as_text(as_mapping(a).get("name"))
        if name:
            out.append(name)
    return out


def component_signals(signals: Any) -> dict[str, SignalValue]:
    """``signals[{name, value, boolValue, textValue}]`` → name → first non-null value; first of a repeated name."""
    out: dict[str, SignalValue] = {}
    for s in as_list(signals):
        sig = as_mapping(s)
        name = as_text(sig.get("name"))
        if not name or name in out or _DROPPED_RE.match(name):
            continue
        number, flag, text = signal(sig.get("value")), sig.get("boolValue"), sig.get("textValue")
        if is_number(number):
            out[name] = number  # type: ignore[assignment]
        elif isinstance(flag, bool):
            out[name] = flag
        elif isinstance(text, str):
            out[name] = text
    return out


@dataclass(slots=True)
class Builder:
    """A record under construction (Device is frozen)."""

    family: str
    part: str
    serial: str
    parent_din: str | None = None
    din: str | None = None  # None: derived from family/part/serial
    last_communication: float | None = None
    signals: dict[str, SignalValue] = field(default_factory=dict)
    alerts: list[str] = field(default_factory=list)
    firmware: str | None = None  # the component's own (``<FAMILY>_appGitHash``), else the gateway's

    def add(self, name: str, value: SignalValue) -> None:
        if name.endswith("_appGitHash"):
            # The component's firmware build, as vitals reports it per device: identity, not a signal.
            if isinstance(value, str) and value and self.firmware is None:
                self.firmware = value
            return
        self.signals.setdefault(name, value)

    @property
    def full_din(self) -> str:
        if self.din is not None:
            return self.din
        if not self.serial:
            return ""
        return f"{self.family}--{self.part}--{self.serial}" if self.part else f"{self.family}--{self.serial}"

    def build(self, firmware: str | None) -> Device:
        return Device(
            din=self.full_din,
            family=self.family,
            part_number=self.part,
            serial=self.serial,
            parent_din=self.parent_din or None,
            firmware=self.firmware or firmware,
            manufacturer="NEURIO" if self.family == "NEURIO" else "TESLA",
            last_communication=self.last_communication,
            signals=dict(self.signals),
            alerts=tuple(self.alerts),
            raw_part_number=self.part or None,
            raw_serial_number=self.serial or None,
        )


def built(records: Sequence[Builder], firmware: str | None) -> list[Device]:
    """The records that have an identity (a serial), each DIN once: the first wins."""
    out: list[Device] = []
    seen: set[str] = set()
    for r in records:
        key = r.full_din
        if not r.serial or key in seen:
            why = "listed twice" if r.serial else "no serial"
            log.debug("%s record %s skipped: %s", r.family, r.serial or "-", why)
            continue
        seen.add(key)
        out.append(r.build(firmware))
    return out
