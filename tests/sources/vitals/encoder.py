"""Test support for the vitals tests: a protobuf wire *encoder* written by hand.

Why a hand-written encoder instead of building ``vitals_pb2`` messages: it encodes straight from the
field-number table in ``shared/docs/gateway-api.md`` section 4, so payloads built here check the
``.proto`` (field numbers, wire types, packed repeated) independently of the generated code the
decoder uses. It turns the ``{DIN: {...}}`` JSON shape other projects publish into a binary
``/api/devices/vitals`` body. Three flavours of that shape exist and all are accepted:

* older (powerwall2): ``"Parent"`` for the parent DIN, ``""`` for absent strings, string timestamps;
* newer (pypowerwall): ``"componentParentDin"``, nested ``"teslaEnergyEcuAttributes": {"ecuType": n}``,
  ``"meterAttributes": {"meterLocation": [..]}``, ``"pvInverterAttributes": {...}``, ``"alerts"``;
* flat (``pwsim-vitals.independent-decode.json``): ``"attr"`` names the attributes oneof and its
  fields sit at top level (``ecuType``, ``meterLocation``, ``nameplateRealPowerW``), plus
  ``"connectionParameters.ipAddress"``.

Every other key is a vital: ``bool`` → boolValue, ``int`` → intValue, ``float`` → floatValue,
``str`` → stringValue. Keys present with ``""`` are encoded as present-but-empty wrappers, which is
what makes the decoder's "empty field means absent" rule testable.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

# Wire types
VARINT, FIXED64, LEN = 0, 1, 2

# Device field numbers (gateway-api.md section 4)
_DEVICE_STRING_FIELDS = (
    ("partNumber", 2),
    ("serialNumber", 3),
    ("manufacturer", 4),
    ("siteLabel", 5),
    ("componentParentDin", 6),
    ("firmwareVersion", 7),
)
_ATTRIBUTE_KINDS = {
    "teslaEnergyEcuAttributes": 1,
    "generatorAttributes": 2,
    "pvInverterAttributes": 3,
    "meterAttributes": 4,
}
METADATA_KEYS = frozenset(
    {
        "Parent",
        "alerts",
        "attr",
        "connectionParameters",
        "connectionParameters.ipAddress",
        "ecuType",
        "firstCommunicationTime",
        "lastCommunicationTime",
        "meterLocation",
        "nameplateApparentPowerVa",
        "nameplateRealPowerW",
        *(name for name, _ in _DEVICE_STRING_FIELDS),
        *_ATTRIBUTE_KINDS,
    }
)
"""Keys of the JSON shape that describe the device rather than being vitals."""


def varint(n: int) -> bytes:
    """Base-128 varint; negative numbers as 64-bit two's complement (int64 semantics)."""
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def key(field: int, wire_type: int) -> bytes:
    return varint(field << 3 | wire_type)


def length_delimited(field: int, payload: bytes) -> bytes:
    return key(field, LEN) + varint(len(payload)) + payload


def string_field(field: int, value: str) -> bytes:
    return length_delimited(field, value.encode("utf-8"))


def varint_field(field: int, value: int) -> bytes:
    return key(field, VARINT) + varint(value)


def wrapper(field: int, value: str) -> bytes:
    """A StringValue-style wrapper; ``""`` gives an empty (present) wrapper, as proto3 would."""
    return length_delimited(field, string_field(1, value) if value else b"")


def timestamp(field: int, seconds: float) -> bytes:
    whole = int(seconds)
    nanos = round((seconds - whole) * 1e9)
    body = (varint_field(1, whole) if whole else b"") + (varint_field(2, nanos) if nanos else b"")
    return length_delimited(field, body)


def vital(name: str, value: bool | int | float | str) -> bytes:
    body = string_field(1, name)
    if isinstance(value, bool):
        body += varint_field(6, int(value))
    elif isinstance(value, int):
        body += varint_field(3, value)
    elif isinstance(value, float):
        body += key(4, FIXED64) + struct.pack("<d", value)
    else:
        body += string_field(5, value)
    return length_delimited(2, body)


def _attributes(entry: Mapping[str, Any]) -> bytes:
    kind: str | None = None
    fields: Mapping[str, Any] = {}
    for name in _ATTRIBUTE_KINDS:
        if isinstance(entry.get(name), Mapping):
            kind, fields = name, entry[name]
    if kind is None and isinstance(entry.get("attr"), str):
        kind, fields = entry["attr"], entry
    if kind is None:
        return b""
    if kind == "teslaEnergyEcuAttributes":
        body = varint_field(1, int(fields["ecuType"])) if "ecuType" in fields else b""
    elif kind == "meterAttributes":
        packed = b"".join(varint(int(x)) for x in fields.get("meterLocation", []))
        body = length_delimited(1, packed) if packed else b""
    elif kind == "pvInverterAttributes":
        body = varint_field(1, int(fields.get("nameplateRealPowerW", 0)))
    elif kind == "generatorAttributes":
        body = varint_field(1, int(fields.get("nameplateRealPowerW", 0))) + varint_field(
            2, int(fields.get("nameplateApparentPowerVa", 0))
        )
    else:
        raise ValueError(f"unknown attributes kind {kind!r}")
    return length_delimited(11, length_delimited(_ATTRIBUTE_KINDS[kind], body))


def _connection(entry: Mapping[str, Any]) -> bytes:
    ip: Any = entry.get("connectionParameters.ipAddress")
    nested = entry.get("connectionParameters")
    if ip is None and isinstance(nested, Mapping):
        ip = nested.get("ipAddress", "")
    if ip is None:
        return b""
    return length_delimited(10, wrapper(1, str(ip)) if ip else b"")


def encode_device(din: str, entry: Mapping[str, Any]) -> bytes:
    """One ``DeviceWithVitals`` (field 1 of ``DevicesWithVitals``), vitals in the entry's order."""
    dev = wrapper(1, din)
    strings = dict(entry)
    if "Parent" in strings and "componentParentDin" not in strings:
        strings["componentParentDin"] = strings["Parent"]
    for name, number in _DEVICE_STRING_FIELDS:
        if name in strings and strings[name] is not None:
            dev += wrapper(number, str(strings[name]))
    for name, number in (("firstCommunicationTime", 8), ("lastCommunicationTime", 9)):
        if entry.get(name) not in (None, ""):
            dev += timestamp(number, float(entry[name]))
    dev += _connection(entry) + _attributes(entry)
    body = length_delimited(1, length_delimited(1, dev))
    for name, value in entry.items():
        if name not in METADATA_KEYS:
            body += vital(name, value)
    for alert in entry.get("alerts", []):
        body += string_field(3, alert)
    return length_delimited(1, body)


def encode_vitals_json(doc: Mapping[str, Mapping[str, Any]]) -> bytes:
    """A complete ``/api/devices/vitals`` body for a ``{DIN: {...}}`` document."""
    return b"".join(encode_device(din, entry) for din, entry in doc.items())


def vitals_of(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The vitals of one JSON entry (everything that is not device metadata)."""
    return {k: v for k, v in entry.items() if k not in METADATA_KEYS}
