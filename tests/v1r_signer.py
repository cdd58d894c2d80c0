"""A test-side v1r client: signs RoutableMessages and reads the answers, written from tedapi.md §6.

Why our own and not the simulator's: the simulator's wire walker judges what it receives; if the
tests built their requests with the same code, a shared misreading of the docs would pass both. So
this file writes the protobuf bytes by hand and builds the signed byte string itself. The inner
envelopes come from the generated ``tedapi_pb2`` classes, a third, independent source.

Everything that can be wrong on purpose can be set: the domain, the DIN the signature is personalised
with, the bytes it covers, extra fields, the expiry.
"""

from __future__ import annotations

import hashlib
import uuid as uuidlib
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from exporter.proto import tedapi_pb2 as _pb

PB: Any = _pb
NOT_VERIFIED = b"v1r: client authorization not verified"


# --------------------------------------------------------------------------- protobuf by hand
def varint(n: int) -> bytes:
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


def vfield(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def lfield(number: int, value: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(value)) + value


def f32field(number: int, value: int) -> bytes:
    return varint(number << 3 | 5) + value.to_bytes(4, "little")


def read_fields(data: bytes) -> list[tuple[int, int, int | bytes]]:
    """(number, wire type, value) of every field; enough for the answers (varint and bytes only)."""
    out: list[tuple[int, int, int | bytes]] = []
    pos = 0

    def read_varint() -> int:
        nonlocal pos
        value, shift = 0, 0
        while True:
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value

    while pos < len(data):
        key = read_varint()
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            out.append((number, 0, read_varint()))
        elif wire_type == 2:
            n = read_varint()
            if pos + n > len(data):
                raise ValueError("truncated")
            out.append((number, 2, data[pos : pos + n]))
            pos += n
        else:
            raise ValueError(f"wire type {wire_type}")
    return out


# --------------------------------------------------------------------------- keys and signing
@dataclass
class ClientKey:
    """A throwaway RSA client key (2048 bits: real ones are 4096, slower to make and no different here)."""

    private: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))

    @property
    def pub_der(self) -> bytes:
        """PKCS#1 DER, the form the docs register and send."""
        return self.private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)

    @property
    def spki_der(self) -> bytes:
        """The same key as SubjectPublicKeyInfo DER: the classic wrong form."""
        return self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.pub_der).hexdigest()

    def sign(self, data: bytes, algorithm: hashes.HashAlgorithm | None = None) -> bytes:
        return self.private.sign(data, padding.PKCS1v15(), algorithm or hashes.SHA512())


def metadata(din: str, expires_at: int) -> bytes:
    """The TLV metadata of §6 up to and including the FF end marker."""
    d = din.encode()
    signature_type, domain = b"\x00\x01\x07", b"\x01\x01\x07"
    expiry = b"\x04\x04" + expires_at.to_bytes(4, "big")
    return signature_type + domain + b"\x02" + bytes([len(d)]) + d + expiry + b"\xff"


@dataclass
class Signed:
    """A request under construction; ``body()`` encodes it. Override any part to break it."""

    key: ClientKey
    envelope: bytes
    din: str  # the leader DIN the signature is personalised with
    expires_at: int
    domain: int | None = 7
    uuid: bytes = field(default_factory=lambda: str(uuidlib.uuid4()).encode())
    public_key: bytes | None = None  # default: key.pub_der
    signature: bytes | None = None  # default: a correct one
    signed_over: bytes | None = None  # default: metadata + envelope
    extra: bytes = b""  # appended raw fields
    expires_wire: bytes | None = None  # raw expires_at field instead of the fixed32

    def body(self) -> bytes:
        covered = self.signed_over
        if covered is None:
            covered = metadata(self.din, self.expires_at) + self.envelope
        signature = self.signature if self.signature is not None else self.key.sign(covered)
        rsa_data = (self.expires_wire if self.expires_wire is not None else f32field(1, self.expires_at)) + lfield(
            2, signature
        )
        identity = lfield(1, self.public_key if self.public_key is not None else self.key.pub_der)
        out = b""
        if self.domain is not None:
            out += lfield(6, vfield(1, self.domain))
        out += lfield(10, self.envelope)
        out += lfield(13, lfield(1, identity) + lfield(7, rsa_data))
        out += lfield(51, self.uuid)
        return out + self.extra


# --------------------------------------------------------------------------- envelopes (generated code)
def _envelope(din: str, channel: int = 1, sender: tuple[str, int] = ("local", 1)) -> Any:
    env = PB.MessageEnvelope()
    env.deliveryChannel = channel
    setattr(env.sender, sender[0], sender[1])
    env.recipient.din = din
    return env


def firmware_envelope(din: str) -> bytes:
    env = _envelope(din)
    env.common.getSystemInfoRequest.SetInParent()
    return bytes(env.SerializeToString())


def config_envelope(din: str, channel: int = 2, sender: tuple[str, int] = ("authorizedClient", 1)) -> bytes:
    env = _envelope(din, channel, sender)
    env.filestore.readFileRequest.domain = 1
    env.filestore.readFileRequest.name = "config.json"
    return bytes(env.SerializeToString())


def query_envelope(din: str, signed: bytes, signature: bytes, variables_json: str) -> bytes:
    env = _envelope(din)
    q = env.graphql.queryRequest
    q.format = 2
    q.query = signed
    q.signature = signature
    q.variablesJson.value = variables_json
    return bytes(env.SerializeToString())


# --------------------------------------------------------------------------- answers
@dataclass(frozen=True)
class Answer:
    """An answer RoutableMessage as §6 describes it."""

    from_domain: int | None
    payload: bytes | None  # field 10: a bare envelope, or the not-verified text
    fault: int  # signed_message_status.message_fault, 0 when absent
    request_uuid: bytes | None
    numbers: tuple[int, ...]  # every top-level field number, in order

    def envelope(self) -> Any:
        assert self.payload is not None
        return PB.MessageEnvelope.FromString(self.payload)


def parse_answer(body: bytes) -> Answer:
    fields = read_fields(body)
    by = {n: v for n, _, v in fields}
    from_domain = None
    if isinstance(by.get(7), bytes):
        from_domain = dict((n, v) for n, _, v in read_fields(by[7])).get(1)  # type: ignore[arg-type]
    fault = 0
    if isinstance(by.get(12), bytes):
        fault = int(dict((n, v) for n, _, v in read_fields(by[12])).get(1, 0))  # type: ignore[arg-type]
    payload = by.get(10)
    uuid = by.get(50)
    return Answer(
        from_domain=from_domain if isinstance(from_domain, int) else None,
        payload=payload if isinstance(payload, bytes) else None,
        fault=fault,
        request_uuid=uuid if isinstance(uuid, bytes) else None,
        numbers=tuple(n for n, _, _ in fields),
    )
