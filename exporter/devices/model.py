"""The source-neutral device record: what every per-device source decodes into.

Why one model: the gateway reports the same hardware through several channels -- the vitals
protobuf (``/api/devices/vitals``), the older ``/api/solar_powerwall`` JSON, and later TEDAPI.
Each source's decoder turns its wire format into :class:`Device` records and stops there; one rule
table (:mod:`exporter.devices.rules`) and one flattener (:mod:`exporter.devices.flatten`) turn the
records into metrics. So the same quantity gets the same metric name and labels whichever source
reported it, and a new source only has to fill this record.

Identity follows the gateway's DIN convention ``<FAMILY>--<partNumber>--<serialNumber>``
(:func:`derive_labels`):

* ``family`` is always the DIN prefix before the first ``--`` (``TEPOD``, ``TEPINV``, ``PVAC``,
  ``PVS``, ``TETHC``, ``TESYNC``, ``STSTSM``, ``NEURIO``, ``TESLA``; TEDAPI adds ``PCH``, ``BMS``,
  ``HVP`` ...). It is exported as the ``device`` label.
* ``part_number``/``serial`` come from the source's own part/serial fields when those are present
  and non-empty (older firmware sends ``""`` for "absent").
* A serial that itself contains ``--`` (the ``TESLA--1538100-00-F--C...`` PV-inverter record) is
  split at its last ``--``: the head is the part number (used when no part field was sent), the
  tail the serial.
* Whatever is still missing is taken from the DIN: three or more ``--``-separated parts give
  ``FAMILY--PART--SERIAL`` (a part containing ``--`` is re-joined); two parts (``NEURIO--SERIAL``,
  ``TESLA--SERIAL``) give a serial and an empty part number.

A source that knows the family but not the device's identity (``/api/solar_powerwall`` carries no
DIN, serial or part number) leaves ``din``, ``part_number`` and ``serial`` empty; the flattener then
emits the device's signals and alerts but no ``powerwall_device_info``, which would describe nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SignalValue = float | int | bool | str
"""A typed signal value: float, int (int64 on the wire; kept exact), bool, or text."""


@dataclass(frozen=True, slots=True)
class Device:
    """One device as a source reported it, with labels already derived (see the module docstring).

    ``signals`` keeps the source's signal names unchanged (the vital names of the vitals protobuf;
    other sources translate their fields into those names so the rule table matches them).
    ``alerts`` are the device's active alerts, in order and with duplicates (the gateway repeats
    some, e.g. ``GridCodesWrite``); collapsing them is a presentation choice made in
    :mod:`exporter.devices.flatten`. Instances are not hashable (``signals`` is a dict).
    """

    din: str
    family: str
    part_number: str
    serial: str
    parent_din: str | None = None
    firmware: str | None = None
    manufacturer: str | None = None
    site_label: str | None = None
    last_communication: float | None = None
    first_communication: float | None = None
    ecu_type: int | None = None
    meter_locations: tuple[int, ...] = ()
    nameplate_real_power_w: int | None = None
    nameplate_apparent_power_va: int | None = None
    ip_address: str | None = None
    signals: dict[str, SignalValue] = field(default_factory=dict)
    alerts: tuple[str, ...] = ()
    # Which DeviceAttributes oneof member the vitals protobuf sent ("teslaEnergyEcuAttributes",
    # "meterAttributes", "pvInverterAttributes", "generatorAttributes") or None.
    attributes_kind: str | None = None
    # The part/serial fields as the source sent them (None when not sent), so one decode can be
    # compared field by field with another decoder.
    raw_part_number: str | None = None
    raw_serial_number: str | None = None


def split_din(din: str) -> tuple[str, str, str]:
    """``(family, part_number, serial)`` parsed from a DIN alone; missing parts are ``""``."""
    parts = din.split("--")
    if len(parts) == 1:
        return parts[0], "", ""
    if len(parts) == 2:
        return parts[0], "", parts[1]
    return parts[0], "--".join(parts[1:-1]), parts[-1]


def derive_labels(din: str, part_field: str | None, serial_field: str | None) -> tuple[str, str, str]:
    """``(family, part_number, serial)`` from the DIN and the source's optional part/serial fields.

    Public so every source, the simulator and the tests apply the very same rule (module docstring).
    """
    family, din_part, din_serial = split_din(din)
    part = part_field or ""
    serial = serial_field or ""
    if "--" in serial:
        embedded_part, _, serial = serial.rpartition("--")
        part = part or embedded_part
    return family, part or din_part, serial or din_serial
