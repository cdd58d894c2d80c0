"""Turn decoded vitals (and ``/api/solar_powerwall`` JSON) into samples of a :class:`MetricSet`.

Which vital becomes which metric is decided by the table in :mod:`exporter.devices.rules` (its
docstring documents the curated rules and the generic ``powerwall_vital_*`` rule); this module only
applies it and adds the per-device series that do not come from a vital:

* ``powerwall_device_info{device, serial, part_number, din, parent_din, firmware, manufacturer}`` = 1
  for every device, also one that has no vitals (absent strings are ``""``);
* ``powerwall_device_last_communication_timestamp_seconds`` (and ``..._first_...``) when sent;
* ``powerwall_device_alert{..., alert}`` = 1 once per distinct alert name (the gateway repeats
  some alerts in one payload; a series per repetition would be a duplicate);
* ``powerwall_device_nameplate_power_watts`` / ``..._apparent_power_va`` from the PV-inverter or
  generator attributes.

Generic names (``powerwall_vital_*``) are bounded per call, i.e. per endpoint and scrape, as
:mod:`exporter.metrics.naming` describes: too long names, families beyond the limit and typed clashes are
dropped and counted in ``powerwall_generic_fields_dropped_total{endpoint="/api/devices/vitals"}``
(or ``"/api/solar_powerwall"``).

Determinism: within one call each series (metric + labels, the ``state``/``value``/``location``
label of info metrics excluded) is written once. Devices are taken in payload order and each
device's vitals in sorted name order, and the first writer wins, so two vitals that map to the same
series (``A-B`` and ``A_B``), or a device listed twice, give the same exposition on every scrape
instead of flapping. Nothing in here raises on odd input: unknown names, types and ``None``s are
either exported generically or skipped.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from typing import Any

from exporter.devices.rules import (
    DEVICE_ALERT,
    DEVICE_FIRST_COMMUNICATION,
    DEVICE_INFO,
    DEVICE_LAST_COMMUNICATION,
    DEVICE_NAMEPLATE_APPARENT_POWER,
    DEVICE_NAMEPLATE_POWER,
    SOLAR_PVAC_STATUS_FIELDS,
    SOLAR_PVS_STATUS_FIELDS,
    SOLAR_STRING_FIELDS,
    SOLAR_TOP_LEVEL_FIELDS,
    resolve,
)
from exporter.gateway import endpoints as ep
from exporter.metrics.metricset import MetricSet
from exporter.metrics.naming import GenericBudget
from exporter.sources.vitals.decode import Device, VitalValue

log = logging.getLogger(__name__)

LabelPairs = tuple[tuple[str, str], ...]
_Seen = set[tuple[str, LabelPairs]]


def _device_labels(device_type: str, serial: str, part_number: str) -> LabelPairs:
    return (("device", device_type), ("serial", serial), ("part_number", part_number))


def _claim(seen: _Seen, name: str, labels: LabelPairs) -> bool:
    """True the first time a series is seen in this call (see "Determinism" above)."""
    key = (name, labels)
    if key in seen:
        log.debug("duplicate series %s%s dropped", name, labels)
        return False
    seen.add(key)
    return True


def _number(value: float | int | bool) -> float:
    """``float(value)``; ints beyond float range (possible from JSON) become ±inf, not an error.

    Non-finite values are then dropped by :meth:`MetricSet.add`, like every other source's.
    """
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _emit_vitals(
    ms: MetricSet, seen: _Seen, dev: LabelPairs, vitals: Mapping[str, VitalValue], budget: GenericBudget
) -> None:
    for name in sorted(vitals):
        # Curated names are short: a long one can only be generic, and is not worth a regex pass
        # (nor a slot of resolve()'s cache, which keeps its keys).
        if not budget.field_fits(name):
            continue
        value = vitals[name]
        is_text = isinstance(value, str)
        target = resolve(name, is_text)
        if target is None:
            log.debug("vital %r has no exportable name; skipped", name)
            continue
        if target.generic and not budget.admit(target.metric, name):
            continue
        labels = dev + target.labels
        if not _claim(seen, target.metric.name, labels):
            continue
        if isinstance(value, str):
            ms.add(target.metric, 1.0, dict((*labels, (target.value_label or "value", value))))
        else:
            ms.add(target.metric, _number(value) * target.scale, dict(labels))


def _emit_alerts(ms: MetricSet, seen: _Seen, dev: LabelPairs, alerts: Iterable[str]) -> None:
    for alert in dict.fromkeys(alerts):
        labels = (*dev, ("alert", alert))
        if alert and _claim(seen, DEVICE_ALERT.name, labels):
            ms.add(DEVICE_ALERT, 1.0, dict(labels))


def flatten_vitals(devices: Iterable[Device], metricset: MetricSet) -> None:
    """Add the samples of decoded vitals devices to ``metricset`` (labels as the module says)."""
    seen: _Seen = set()
    budget = GenericBudget(ep.VITALS.path)
    for d in devices:
        dev = _device_labels(d.device_type, d.serial, d.part_number)
        info_labels = (
            *dev,
            ("din", d.din),
            ("parent_din", d.parent_din or ""),
            ("firmware", d.firmware or ""),
            ("manufacturer", d.manufacturer or ""),
        )
        if _claim(seen, DEVICE_INFO.name, info_labels):
            metricset.add(DEVICE_INFO, 1.0, dict(info_labels))
        for metric, value in (
            (DEVICE_LAST_COMMUNICATION, d.last_communication),
            (DEVICE_FIRST_COMMUNICATION, d.first_communication),
            (DEVICE_NAMEPLATE_POWER, d.nameplate_real_power_w),
            (DEVICE_NAMEPLATE_APPARENT_POWER, d.nameplate_apparent_power_va),
        ):
            if value is not None and _claim(seen, metric.name, dev):
                metricset.add(metric, float(value), dict(dev))
        _emit_vitals(metricset, seen, dev, d.vitals, budget)
        _emit_alerts(metricset, seen, dev, d.alerts)
    budget.finish(metricset)


def _text(value: Any) -> str:
    """``str(value)`` that is safe to encode: JSON may smuggle lone surrogates (``"\\ud800"``)."""
    return str(value).encode("utf-8", "replace").decode("utf-8")


def _scalar(value: Any) -> VitalValue | None:
    """A JSON value usable as a vital (bool, int, float, str), else None."""
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, bool | int | float):
        return value
    return None


def _string_letter(string_id: Any) -> str | None:
    """``string_id`` 1, 2, ... (int or digit string) → ``A``, ``B``, ...; None if unusable."""
    if isinstance(string_id, bool):
        return None
    if isinstance(string_id, str) and string_id.strip().isdigit():
        string_id = int(string_id)
    if isinstance(string_id, int) and 1 <= string_id <= 26:
        return chr(ord("A") + string_id - 1)
    return None


def _status_vitals(status: Any, fields: Mapping[str, str], prefix: str) -> dict[str, VitalValue]:
    out: dict[str, VitalValue] = {}
    if not isinstance(status, Mapping):
        return out
    for key, raw in status.items():
        value = _scalar(raw)
        if value is not None:
            key = _text(key)
            out[fields.get(key, f"{prefix}{key}")] = value
    return out


def _true_alerts(alerts: Any) -> list[str]:
    """Names of entries that are literally ``true`` (``ReceivedMuxBitmask: 1`` is not an alert)."""
    if not isinstance(alerts, Mapping):
        return []
    return [_text(k) for k, v in alerts.items() if v is True]


def flatten_solar_powerwall(data: Any, metricset: MetricSet) -> None:
    """Add ``/api/solar_powerwall`` data to ``metricset`` under the vitals metric names.

    The JSON is rewritten into the vital names the PVAC/PVS report on firmware with vitals (tables
    in :mod:`exporter.devices.rules`) and flattened by the same rules, so dashboards work on both
    firmware generations. The JSON carries no DIN, serial or part number: series are labelled
    ``device="PVAC"`` (or ``"PVS"`` for ``pvs_status`` and ``pvs_alerts``) with ``serial=""`` and
    ``part_number=""``, and no ``powerwall_device_info`` is emitted. String data
    (``string_vitals``) is labelled with the PVAC, also ``connected``, which vitals report on the
    PVS. Call this only when vitals are unavailable; otherwise the same strings appear twice under
    different ``device``/``serial`` labels. Missing, null or oddly typed fields are skipped.
    """
    if not isinstance(data, Mapping):
        log.debug("solar_powerwall body is %s, not an object; ignored", type(data).__name__)
        return
    seen: _Seen = set()
    pvac_status = data.get("pvac_status")
    pvac = _status_vitals(pvac_status, SOLAR_PVAC_STATUS_FIELDS, "PVAC_")
    for key, raw in data.items():
        value = _scalar(raw)
        if value is not None:
            key = _text(key)
            pvac[SOLAR_TOP_LEVEL_FIELDS.get(key, key)] = value
    strings = pvac_status.get("string_vitals") if isinstance(pvac_status, Mapping) else None
    for entry in strings if isinstance(strings, list) else ():
        if not isinstance(entry, Mapping):
            continue
        letter = _string_letter(entry.get("string_id"))
        if letter is None:
            continue
        for key, template in SOLAR_STRING_FIELDS.items():
            value = _scalar(entry.get(key))
            if value is not None:
                pvac.setdefault(template.format(string=letter), value)  # first entry of an id wins
    pvs = _status_vitals(data.get("pvs_status"), SOLAR_PVS_STATUS_FIELDS, "PVS_")

    pvac_labels = _device_labels("PVAC", "", "")
    pvs_labels = _device_labels("PVS", "", "")
    budget = GenericBudget(ep.SOLAR_POWERWALL.path)
    _emit_vitals(metricset, seen, pvac_labels, pvac, budget)
    _emit_alerts(metricset, seen, pvac_labels, _true_alerts(data.get("pvac_alerts")))
    _emit_vitals(metricset, seen, pvs_labels, pvs, budget)
    _emit_alerts(metricset, seen, pvs_labels, _true_alerts(data.get("pvs_alerts")))
    budget.finish(metricset)
