"""Turn :class:`~exporter.devices.model.Device` records, from any source, into samples of a :class:`MetricSet`.

Why one flattener for every source: the vitals protobuf, ``/api/solar_powerwall`` and (later)
TEDAPI report the same hardware; decoding each into the same record and mapping the records here,
through the one table in :mod:`exporter.devices.rules`, is what gives the same quantity the same
metric name and labels whichever source reported it. Which signal becomes which metric is decided
by that table (its docstring documents the curated rules) and by :mod:`exporter.devices.resolve`,
which applies it (its docstring documents the generic ``powerwall_vital_*`` rule); this module
only calls it and adds the per-device series that do not come from a signal:

* ``powerwall_device_info{device, serial, part_number, din, parent_din, firmware, manufacturer}`` = 1
  for every device that has a DIN, also one without signals (absent strings are ``""``); a record
  without a DIN (``/api/solar_powerwall`` gives none) has no identity to describe and gets none;
* ``powerwall_device_last_communication_timestamp_seconds`` (and ``..._first_...``) when sent;
* ``powerwall_device_alert{..., alert}`` = 1 once per distinct alert name (the gateway repeats
  some alerts in one payload; a series per repetition would be a duplicate);
* ``powerwall_device_nameplate_power_watts`` / ``..._apparent_power_va`` from the PV-inverter or
  generator attributes.

No identity, no series: a record whose serial is empty yields nothing. Every per-device source
but one reports serials, so such a record is an empty slot or a phantom (a Powerwall 3's esCan
arrays are fixed-size empty slots full of zeros): its "readings" are false data and, under
``serial=""``, would be summed with the real devices by any query over the family. The decoders
skip those slots themselves; this is the one place every record passes, so it also holds for an
answer nobody has seen yet. The exception is a source that by its nature carries no identity at all
(``/api/solar_powerwall``: one PV inverter and its PVS, no DIN, no serial), which says so
(``anonymous=True``); its records keep ``serial=""``.

The ``device`` label is the record's family (the DIN prefix). Generic names (``powerwall_vital_*``)
are bounded per call, i.e. per answer and scrape, as :mod:`exporter.metrics.naming` describes: too
long names, families beyond the limit and typed clashes are dropped and counted in
``powerwall_generic_fields_dropped_total{endpoint=...}``, the endpoint being the caller's.

How many devices: a gateway exports at most so many per family and in all per scrape, the first
ones in the order it lists them; the others are left out and counted
(``powerwall_devices_dropped_total``), as :mod:`exporter.devices.bounds` describes. Every record
passes :func:`flatten_devices`, so the bound holds for every source, also one added later.

Determinism: within one call each series (metric + labels, the ``state``/``value``/``location``
label of info metrics excluded) is written once. Devices are taken in payload order and each
device's signals in sorted name order, and the first writer wins, so two signals that map to the same
series (``A-B`` and ``A_B``), or a device listed twice, give the same exposition on every scrape
instead of flapping. Nothing in here raises on odd input: unknown names, types and ``None``s are
either exported generically or skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from exporter import coerce
from exporter.devices.bounds import DeviceBudget
from exporter.devices.model import Device, SignalValue
from exporter.devices.resolve import resolve
from exporter.devices.rules import (
    DEVICE_ALERT,
    DEVICE_FIRST_COMMUNICATION,
    DEVICE_INFO,
    DEVICE_LAST_COMMUNICATION,
    DEVICE_NAMEPLATE_APPARENT_POWER,
    DEVICE_NAMEPLATE_POWER,
)
from exporter.metrics.metricset import MetricSet
from exporter.metrics.naming import GenericBudget

log = logging.getLogger(__name__)

LabelPairs = tuple[tuple[str, str], ...]
_Seen = set[tuple[str, LabelPairs]]


def _device_labels(family: str, serial: str, part_number: str) -> LabelPairs:
    return (("device", family), ("serial", serial), ("part_number", part_number))


def _claim(seen: _Seen, name: str, labels: LabelPairs) -> bool:
    """True the first time a series is seen in this call (see "Determinism" above)."""
    key = (name, labels)
    if key in seen:
        log.debug("duplicate series %s%s dropped", name, labels)
        return False
    seen.add(key)
    return True


def _emit_signals(
    ms: MetricSet, seen: _Seen, dev: LabelPairs, signals: Mapping[str, SignalValue], budget: GenericBudget
) -> None:
    for name in sorted(signals):
        # Curated names are short: a long one can only be generic, and is not worth a regex pass
        # (nor a slot of resolve()'s cache, which keeps its keys).
        if not budget.field_fits(name):
            continue
        value = signals[name]
        is_text = isinstance(value, str)
        target = resolve(name, is_text, isinstance(value, bool))
        if target is None:
            log.debug("signal %r has no exportable name; skipped", name)
            continue
        if target.generic and not budget.admit(target.metric, name):
            continue
        labels = dev + target.labels
        if not _claim(seen, target.metric.name, labels):
            continue
        if isinstance(value, str):
            ms.add_pairs(target.metric, 1.0, (*labels, (target.value_label or "value", value)))
        else:
            number = float(value) if isinstance(value, bool) else coerce.number(value)
            if number is not None:
                ms.add_pairs(target.metric, number * target.scale, labels)


def _emit_alerts(ms: MetricSet, seen: _Seen, dev: LabelPairs, alerts: Iterable[str]) -> None:
    for alert in dict.fromkeys(alerts):
        labels = (*dev, ("alert", alert))
        if alert and _claim(seen, DEVICE_ALERT.name, labels):
            ms.add_pairs(DEVICE_ALERT, 1.0, labels)


def flatten_devices(
    devices: Iterable[Device],
    ms: MetricSet,
    endpoint: str,
    *,
    anonymous: bool = False,
    bound: DeviceBudget | None = None,
) -> None:
    """Add the samples of ``devices`` to ``ms`` (series and labels as the module docstring says).

    ``endpoint`` names the request the devices came from; it labels this call's generic-name budget
    (``powerwall_generic_fields_dropped_total{endpoint=...}``), so call this once per decoded answer.
    Records without a serial are skipped unless the source carries no identity at all
    (``anonymous``; module docstring). ``bound`` is the device report's budget (``DeviceReport.budget``),
    from which the collector also bounds the gateway's devices of the scrape; without one, this call
    alone is bounded and its drops go uncounted.
    """
    seen: _Seen = set()
    budget = GenericBudget(endpoint)
    if bound is None:
        bound = DeviceBudget()
    for d in devices:
        if not d.serial and not anonymous:
            log.debug("%s record without serial from %s skipped (%d signals)", d.family, endpoint, len(d.signals))
            continue
        if not bound.admit(d, endpoint):
            continue
        dev = _device_labels(d.family, d.serial, d.part_number)
        if d.din:  # without a DIN the source gave no identity, and an info series would describe nothing
            info_labels = (
                *dev,
                ("din", d.din),
                ("parent_din", d.parent_din or ""),
                ("firmware", d.firmware or ""),
                ("manufacturer", d.manufacturer or ""),
            )
            if _claim(seen, DEVICE_INFO.name, info_labels):
                ms.add(DEVICE_INFO, 1.0, dict(info_labels))
        for metric, value in (
            (DEVICE_LAST_COMMUNICATION, d.last_communication),
            (DEVICE_FIRST_COMMUNICATION, d.first_communication),
            (DEVICE_NAMEPLATE_POWER, d.nameplate_real_power_w),
            (DEVICE_NAMEPLATE_APPARENT_POWER, d.nameplate_apparent_power_va),
        ):
            if value is not None and _claim(seen, metric.name, dev):
                ms.add(metric, float(value), dict(dev))
        _emit_signals(ms, seen, dev, d.signals, budget)
        _emit_alerts(ms, seen, dev, d.alerts)
    budget.finish(ms)
