"""Decode ``/api/solar_powerwall`` JSON into :class:`~exporter.devices.model.Device` records.

Why records and not metrics: this endpoint is the Powerwall+ PV data of firmware without vitals.
Turning it into the same device model the vitals decoder produces, with the JSON fields renamed to
the vital names the PVAC/PVS report on newer firmware (:mod:`.tables`), means the one rule table
maps both and every quantity gets the same metric name and labels on both firmware generations.

The JSON carries no DIN, serial or part number, so the records are identified by family only:
``PVAC`` (``pvac_status``, its ``string_vitals`` and every top-level scalar) and ``PVS``
(``pvs_status``); ``din``, ``serial`` and ``part_number`` are ``""``, and the flattener emits no
``powerwall_device_info`` for them. String data is put on the PVAC, including ``connected``, which
vitals report on the PVS: use this source only when vitals are unavailable, or the same strings
appear twice under different ``device``/``serial`` labels.

The body is untrusted: missing, null or oddly typed fields are skipped, never raised on; a body that
is not an object yields no device. Only alerts that are literally ``true`` are active
(``ReceivedMuxBitmask: 1`` is a value, not an alert).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from exporter.coerce import printable, signal
from exporter.devices.model import Device, SignalValue
from exporter.sources.solar_powerwall.tables import (
    SOLAR_PVAC_STATUS_FIELDS,
    SOLAR_PVS_STATUS_FIELDS,
    SOLAR_STRING_FIELDS,
    SOLAR_TOP_LEVEL_FIELDS,
)

log = logging.getLogger(__name__)


def _scalar(value: Any) -> SignalValue | None:
    """A JSON value usable as a signal (:func:`exporter.coerce.signal`), text made safe to encode."""
    out = signal(value)
    return printable(out) if isinstance(out, str) else out


def _string_letter(string_id: Any) -> str | None:
    """``string_id`` 1, 2, ... (int or digit string) → ``A``, ``B``, ...; None if unusable."""
    if isinstance(string_id, bool):
        return None
    if isinstance(string_id, str) and string_id.strip().isdigit():
        string_id = int(string_id)
    if isinstance(string_id, int) and 1 <= string_id <= 26:
        return chr(ord("A") + string_id - 1)
    return None


def _status_signals(status: Any, fields: Mapping[str, str], prefix: str) -> dict[str, SignalValue]:
    """Scalars of a ``*_status`` object under their vital names (unknown ``k`` → ``<prefix>k``)."""
    out: dict[str, SignalValue] = {}
    if not isinstance(status, Mapping):
        return out
    for key, raw in status.items():
        value = _scalar(raw)
        if value is not None:
            key = printable(key)
            out[fields.get(key, f"{prefix}{key}")] = value
    return out


def _true_alerts(alerts: Any) -> tuple[str, ...]:
    """Names of entries that are literally ``true``."""
    if not isinstance(alerts, Mapping):
        return ()
    return tuple(printable(k) for k, v in alerts.items() if v is True)


def _pvac_signals(data: Mapping[str, Any]) -> dict[str, SignalValue]:
    pvac_status = data.get("pvac_status")
    signals = _status_signals(pvac_status, SOLAR_PVAC_STATUS_FIELDS, "PVAC_")
    for key, raw in data.items():
        value = _scalar(raw)
        if value is not None:
            key = printable(key)
            signals[SOLAR_TOP_LEVEL_FIELDS.get(key, key)] = value
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
                signals.setdefault(template.format(string=letter), value)  # first entry of an id wins
    return signals


def decode_solar_powerwall(data: Any) -> list[Device]:
    """The PVAC and PVS records of one ``/api/solar_powerwall`` body (a device with nothing is left out).

    Never raises on odd input; see the module docstring for what is kept.
    """
    if not isinstance(data, Mapping):
        log.debug("solar_powerwall body is %s, not an object; ignored", type(data).__name__)
        return []
    devices = [
        Device(
            din="",
            family="PVAC",
            part_number="",
            serial="",
            signals=_pvac_signals(data),
            alerts=_true_alerts(data.get("pvac_alerts")),
        ),
        Device(
            din="",
            family="PVS",
            part_number="",
            serial="",
            signals=_status_signals(data.get("pvs_status"), SOLAR_PVS_STATUS_FIELDS, "PVS_"),
            alerts=_true_alerts(data.get("pvs_alerts")),
        ),
    ]
    return [d for d in devices if d.signals or d.alerts]
