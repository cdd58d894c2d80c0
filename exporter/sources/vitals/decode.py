"""Decode a ``GET /api/devices/vitals`` body into plain, typed :class:`Device` records.

Why a separate decode step (instead of flattening protobuf messages directly): the payload comes
from a device on the LAN and must be treated as hostile. Everything that can go wrong with it --
truncation, garbage, invalid UTF-8, absurd nesting, a non-``bytes`` body -- is turned into one
exception type, :class:`VitalsDecodeError`, here, so the collector needs exactly one ``except``
and a bad body can never take a scrape down with an unexpected exception. After this step nothing
refers to protobuf any more: :mod:`exporter.devices.flatten` only sees frozen dataclasses holding
``str``/``int``/``float``/``bool``.

Labels (family, part number, serial) are derived from the DIN and the ``partNumber``/``serialNumber``
wire fields by :func:`exporter.devices.model.derive_labels`, the rule every source shares. The raw
wire values stay available as ``raw_part_number``/``raw_serial_number`` (``None`` when the field was
not sent), so the decode can be compared field by field with other decoders.

Two deliberate leniencies, both logged at debug level: a device entry without a DIN is skipped (it
cannot be labelled), and a vital whose value oneof is unset, or is no number under the shared policy
of :mod:`exporter.coerce` (a NaN or infinite double), is skipped (it has no value). A payload
that yields no device at all is rejected: a gateway always reports at least itself, so an empty
result means the body was not a vitals message (random bytes often parse as a message made only
of unknown fields).
"""

from __future__ import annotations

import logging
from typing import Any

from google.protobuf.message import DecodeError

from exporter.coerce import signal
from exporter.devices.model import Device, SignalValue, derive_labels
from exporter.proto import vitals_pb2

log = logging.getLogger(__name__)

# The generated module has no type stubs (mypy sees the message classes as missing attributes);
# every value read through it is converted to a plain Python type below, so Any stops here.
_pb2: Any = vitals_pb2


class VitalsDecodeError(ValueError):
    """The body is not a decodable ``DevicesWithVitals`` message (garbage, truncated, empty)."""


def _wrapped(msg: Any, name: str) -> str | None:
    """Value of a StringValue-wrapper field, ``None`` when the wrapper is absent."""
    if not msg.HasField(name):
        return None
    return str(getattr(msg, name).value)


def _timestamp(msg: Any, name: str) -> float | None:
    if not msg.HasField(name):
        return None
    ts = getattr(msg, name)
    return float(ts.seconds) + float(ts.nanos) / 1e9


def _signals(entries: Any) -> dict[str, SignalValue]:
    out: dict[str, SignalValue] = {}
    for vital in entries:
        kind = vital.WhichOneof("value")
        if kind is None:
            log.debug("vital %r has no value; skipped", vital.name)
            continue
        # Later duplicates of a name win, as in a JSON object built from the same list; a later one
        # without a usable value (a NaN double) leaves the name without a value, as before.
        value = signal(getattr(vital, kind))
        if value is None:
            out.pop(vital.name, None)
            log.debug("vital %r has no usable value; skipped", vital.name)
        else:
            out[vital.name] = value
    return out


def _device(entry: Any) -> Device | None:
    dev = entry.device.device
    din = _wrapped(dev, "din")
    if not din:
        return None
    raw_part = _wrapped(dev, "partNumber")
    raw_serial = _wrapped(dev, "serialNumber")
    family, part, serial = derive_labels(din, raw_part, raw_serial)

    ecu_type: int | None = None
    meter_locations: tuple[int, ...] = ()
    nameplate_w: int | None = None
    nameplate_va: int | None = None
    kind: str | None = None
    if dev.HasField("deviceAttributes"):
        attrs = dev.deviceAttributes
        kind = attrs.WhichOneof("deviceAttributes")
        if kind == "teslaEnergyEcuAttributes":
            ecu_type = int(attrs.teslaEnergyEcuAttributes.ecuType)
        elif kind == "meterAttributes":
            meter_locations = tuple(int(x) for x in attrs.meterAttributes.meterLocation)
        elif kind == "pvInverterAttributes":
            nameplate_w = int(attrs.pvInverterAttributes.nameplateRealPowerW)
        elif kind == "generatorAttributes":
            nameplate_w = int(attrs.generatorAttributes.nameplateRealPowerW)
            nameplate_va = int(attrs.generatorAttributes.nameplateApparentPowerVa)

    ip_address: str | None = None
    if dev.HasField("connectionParameters"):
        # Present-but-empty parameters read as "" (what the gateway sends for its wired meters).
        ip_address = str(dev.connectionParameters.ipAddress.value)

    return Device(
        din=din,
        family=family,
        part_number=part,
        serial=serial,
        parent_din=_wrapped(dev, "componentParentDin"),
        firmware=_wrapped(dev, "firmwareVersion"),
        manufacturer=_wrapped(dev, "manufacturer"),
        site_label=_wrapped(dev, "siteLabel"),
        last_communication=_timestamp(dev, "lastCommunicationTime"),
        first_communication=_timestamp(dev, "firstCommunicationTime"),
        ecu_type=ecu_type,
        meter_locations=meter_locations,
        nameplate_real_power_w=nameplate_w,
        nameplate_apparent_power_va=nameplate_va,
        ip_address=ip_address,
        signals=_signals(entry.vitals),
        alerts=tuple(str(a) for a in entry.alerts),
        attributes_kind=kind,
        raw_part_number=raw_part,
        raw_serial_number=raw_serial,
    )


def decode_vitals(payload: bytes) -> list[Device]:
    """Decode one serialized ``DevicesWithVitals`` message, in payload order.

    Raises :class:`VitalsDecodeError` -- and nothing else -- for anything that is not a usable
    vitals body.
    """
    try:
        msg = _pb2.DevicesWithVitals()
        msg.ParseFromString(payload)
        devices: list[Device] = []
        skipped = 0
        for entry in msg.devices:
            device = _device(entry)
            if device is None:
                skipped += 1
            else:
                devices.append(device)
    except DecodeError as exc:
        raise VitalsDecodeError(f"invalid vitals protobuf: {exc}") from exc
    except Exception as exc:  # hostile input must never escape as another type
        raise VitalsDecodeError(f"cannot decode vitals payload: {type(exc).__name__}: {exc}") from exc
    if skipped:
        log.debug("skipped %d vitals device entries without a DIN", skipped)
    if not devices:
        raise VitalsDecodeError(f"vitals payload of {len(payload)} bytes holds no device")
    return devices
