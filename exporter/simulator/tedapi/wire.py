"""A minimal protobuf wire walker and writer: the simulated gateway's own reading of TEDAPI bodies.

Why not the generated classes: the exporter builds its requests from the generated schema (WiFi) or
its own encoder (v1r), and a simulator that decoded them with the same schema (or the same library
defaults) would share its mistakes. This walker knows nothing but the wire format (varints, fixed32/64, length-delimited
fields by number) and checks a message against a *schema table* given as data: every field number
allowed, its wire type, whether it may repeat. Anything else (an unknown field, a wrong wire type, a
second copy of a singular field, a truncated body) raises :class:`WireError`, which the v1r judge
answers with the DECODING fault and the WiFi reader (:mod:`~exporter.simulator.tedapi.classify`)
records as dangerous. Generated protobuf code would instead skip unknown fields and let
the last of two envelopes win silently, which is exactly what must not hide here.

Proto3 semantics otherwise: a field that is absent reads as its default (0, empty bytes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

VARINT = 0
I64 = 1
LEN = 2
I32 = 5
_MAX_VARINT_BYTES = 10
_MAX_FIELD_NUMBER = (1 << 29) - 1


class WireError(ValueError):
    """The bytes are no protobuf, or not the message the schema describes."""


class SchemaError(WireError):
    """The bytes are protobuf, but not the message the schema describes (an unknown field number, a
    wrong wire type, a singular field twice). Apart from :class:`WireError` because a reader may
    judge the two differently: bytes that do not walk are garbage, a field the schema lacks may be
    a message the reader was never meant to see."""


@dataclass(frozen=True, slots=True)
class Field:
    """One field on the wire: ``value`` is an int for varint/fixed fields, bytes for length-delimited."""

    number: int
    wire_type: int
    value: int | bytes


@dataclass(frozen=True, slots=True)
class Spec:
    """What a schema allows for one field number: its wire type (None: any) and whether it repeats."""

    wire_type: int | None
    repeated: bool = False


Schema = Mapping[int, Spec]


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it (at most 10 bytes, as protobuf allows)."""
    value = 0
    for i in range(_MAX_VARINT_BYTES):
        if pos >= len(data):
            raise WireError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value & 0xFFFFFFFFFFFFFFFF, pos
    raise WireError("varint longer than 10 bytes")


def walk(data: bytes) -> list[Field]:
    """Every field of ``data`` in wire order. Groups (wire types 3/4) and the unused types 6/7 are
    errors: no message of TEDAPI uses them."""
    out: list[Field] = []
    pos = 0
    while pos < len(data):
        key, pos = read_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if not 1 <= number <= _MAX_FIELD_NUMBER:
            raise WireError(f"field number {number} out of range")
        value: int | bytes
        if wire_type == VARINT:
            value, pos = read_varint(data, pos)
        elif wire_type in (I64, I32):
            size = 8 if wire_type == I64 else 4
            if pos + size > len(data):
                raise WireError(f"truncated fixed{size * 8} field {number}")
            value = int.from_bytes(data[pos : pos + size], "little")
            pos += size
        elif wire_type == LEN:
            length, pos = read_varint(data, pos)
            if pos + length > len(data):
                raise WireError(f"field {number} runs past the end ({length} bytes announced)")
            value = bytes(data[pos : pos + length])
            pos += length
        else:
            raise WireError(f"wire type {wire_type} (field {number}) is not used by TEDAPI")
        out.append(Field(number, wire_type, value))
    return out


def parse(data: bytes, schema: Schema, what: str) -> dict[int, list[Field]]:
    """The fields of ``data`` by number, checked against ``schema`` (``what`` names the message in
    errors): bytes that do not walk raise :class:`WireError`; unknown numbers, wrong wire types and
    repeated singular fields raise :class:`SchemaError`."""
    found: dict[int, list[Field]] = {}
    for f in walk(data):
        spec = schema.get(f.number)
        if spec is None:
            raise SchemaError(f"{what}: unknown field {f.number}")
        if spec.wire_type is not None and f.wire_type != spec.wire_type:
            raise SchemaError(f"{what}: field {f.number} has wire type {f.wire_type}, expected {spec.wire_type}")
        if f.number in found and not spec.repeated:
            raise SchemaError(f"{what}: field {f.number} appears twice")
        found.setdefault(f.number, []).append(f)
    return found


def first_int(fields: Mapping[int, list[Field]], number: int) -> int:
    """A singular varint/fixed field's value, 0 when absent (proto3 default)."""
    values = fields.get(number)
    return int(values[0].value) if values and isinstance(values[0].value, int) else 0


def first_bytes(fields: Mapping[int, list[Field]], number: int) -> bytes:
    """A singular length-delimited field's bytes, empty when absent (proto3 default)."""
    values = fields.get(number)
    return values[0].value if values and isinstance(values[0].value, bytes) else b""


# --------------------------------------------------------------------------- writing
def varint(value: int) -> bytes:
    """``value`` (0 <= value < 2**64) as a varint."""
    if not 0 <= value < 1 << 64:
        raise ValueError("varint out of range")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def int_field(number: int, value: int) -> bytes:
    return varint(number << 3 | VARINT) + varint(value)


def bytes_field(number: int, value: bytes) -> bytes:
    return varint(number << 3 | LEN) + varint(len(value)) + value


def fixed_field(number: int, wire_type: int, value: int) -> bytes:
    """A fixed32 (``I32``) or fixed64 (``I64``) field, little-endian as on the wire."""
    size = 4 if wire_type == I32 else 8
    return varint(number << 3 | wire_type) + (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")


def encode(fields: list[Field]) -> bytes:
    """``fields`` as a protobuf encoder writes them: in field-number order (the order among equal
    numbers kept), every varint in its shortest form.

    Why: a body equal to the encoding of its own fields is *canonical*. Anything else (fields out of
    order, a varint padded with 0x80 bytes) is something no encoder of a real client writes; a
    reader that must not be fooled refuses it instead of guessing which reading the gateway takes.
    """
    out = bytearray()
    for f in sorted(fields, key=lambda f: f.number):
        if isinstance(f.value, bytes):
            out += bytes_field(f.number, f.value)
        elif f.wire_type == VARINT:
            out += int_field(f.number, f.value)
        else:
            out += fixed_field(f.number, f.wire_type, f.value)
    return bytes(out)
