"""v1r on the wire (shared/docs/tedapi.md §6): the signed ``RoutableMessage``, its answer, and the vetter.

A v1r request wraps one bare envelope (one of the three reads of :mod:`exporter.sources.tedapi.envelope`)
in a ``RoutableMessage`` addressed to domain 7 and signed with the owner's registered RSA key over a
byte string personalised with the leader's DIN. The signature is the only authentication, so what it
covers is what the gateway executes: :func:`vet`, the allow-list's check of ``POST /tedapi/v1r``,
accepts a body only when it re-encodes byte for byte with exactly the request fields, addressed to
domain 7, holding one envelope that :func:`~exporter.sources.tedapi.envelope.describe_bare` calls a read,
and carrying a signature that verifies over exactly that envelope for its recipient. Answers are not
vetted field by field: a real one carries fields the docs do not list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError

from exporter.proto import tedapi_pb2 as _pb
from exporter.sources.tedapi.envelope import EnvelopeError, describe_bare

PB: Any = _pb  # generated module: no type information

PATH = "/tedapi/v1r"
DOMAIN_ENERGY_DEVICE = 7
SIGNATURE_TYPE_RSA = 7
EXPIRES_IN_SECONDS = 12  # what clients send; the gateway refuses a far expiry (TIME_TO_LIVE_TOO_LONG)
NOT_VERIFIED_TEXT = b"v1r: client authorization not verified"
UUID_RE = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")  # uuid4 text, as sent

# message_fault (signed_message_status.message_fault) by number: Tesla's names, snake case, no prefix.
FAULTS = {
    1: "busy",
    2: "timeout",
    3: "unknown_key_id",
    4: "inactive_key",
    5: "invalid_signature",
    6: "invalid_token_or_counter",
    7: "insufficient_privileges",
    8: "invalid_domains",
    9: "invalid_command",
    10: "decoding",
    11: "internal",
    12: "wrong_personalization",
    13: "bad_parameter",
    14: "keychain_is_full",
    15: "incorrect_epoch",
    16: "iv_incorrect_length",
    17: "time_expired",
    18: "not_provisioned_with_identity",
    19: "could_not_hash_metadata",
    20: "time_to_live_too_long",
    21: "remote_access_disabled",
    22: "remote_service_request_not_supported",
}
NOT_VERIFIED = "authorization_not_verified"  # a registered key the unit has not verified yet (plain text)
EMPTY_ANSWER = "empty_answer"  # neither an envelope nor a fault: a refusal too
UNKNOWN_FAULT = "unknown"  # a fault number the docs do not list (bounded: one label value for all)


def signed_bytes(din: str, expires_at: int, envelope: bytes) -> bytes:
    """The byte string the signature covers: TLV metadata (type, domain, DIN, expiry), ``FF``, the envelope."""
    d = din.encode("ascii")
    if len(d) > 255:
        raise ValueError("DIN too long")
    return (
        bytes((0, 1, SIGNATURE_TYPE_RSA, 1, 1, DOMAIN_ENERGY_DEVICE, 2, len(d)))
        + d
        + b"\x04\x04"
        + expires_at.to_bytes(4, "big")
        + b"\xff"
        + envelope
    )


def request(envelope: bytes, public_der: bytes, expires_at: int, signature: bytes, uuid: bytes) -> bytes:
    """A RoutableMessage holding ``envelope`` and its signature (fields 6, 10, 13, 51; nothing else)."""
    msg = PB.RoutableMessage()
    msg.to_destination.domain = DOMAIN_ENERGY_DEVICE
    msg.protobuf_message_as_bytes = envelope
    msg.signature_data.signer_identity.public_key = public_der
    msg.signature_data.rsa_data.expires_at = expires_at
    msg.signature_data.rsa_data.signature = signature
    msg.uuid = uuid
    return bytes(msg.SerializeToString(deterministic=True))


@dataclass(frozen=True, slots=True)
class Answer:
    """What a v1r answer says: the bare envelope, or the fault (``""`` when there is none)."""

    envelope: bytes | None
    fault: str


def read_answer(body: bytes) -> Answer:
    """The envelope or the fault of an answer; raises :class:`EnvelopeError` for a body that is no RoutableMessage."""
    try:
        msg = PB.RoutableMessage.FromString(body)
    except DecodeError as exc:
        raise EnvelopeError(f"not a v1r answer ({exc})") from None
    code = msg.signed_message_status.message_fault
    payload = bytes(msg.protobuf_message_as_bytes)
    if code:
        return Answer(None, FAULTS.get(code, UNKNOWN_FAULT))  # a label value: never the raw number
    if payload.strip() == NOT_VERIFIED_TEXT:
        return Answer(None, NOT_VERIFIED)
    if not payload:
        return Answer(None, EMPTY_ANSWER)
    return Answer(payload, "")


def vet(path: str, body: bytes) -> bool:
    """The allow-list's check of a v1r body (see the module docstring)."""
    if path != PATH:
        return False
    try:
        msg = PB.RoutableMessage.FromString(body)
    except DecodeError:
        return False
    msg.DiscardUnknownFields()
    if msg.SerializeToString(deterministic=True) != body:
        return False
    fields = {f.name for f, _ in msg.ListFields()}
    if fields != {"to_destination", "protobuf_message_as_bytes", "signature_data", "uuid"}:
        return False
    if msg.to_destination.domain != DOMAIN_ENERGY_DEVICE or msg.to_destination.ListFields()[0][0].name != "domain":
        return False
    envelope = bytes(msg.protobuf_message_as_bytes)
    kind, din = describe_bare(envelope)
    if kind.startswith("dangerous:"):
        return False
    if not UUID_RE.fullmatch(bytes(msg.uuid)):
        return False  # the one field the signature does not cover: only the text of a uuid rides there
    sig = msg.signature_data
    if {f.name for f, _ in sig.ListFields()} != {"signer_identity", "rsa_data"}:
        return False
    rsa_data = sig.rsa_data
    covered = signed_bytes(din, rsa_data.expires_at, envelope)
    return _verifies(bytes(sig.signer_identity.public_key), bytes(rsa_data.signature), covered)


def _verifies(public_der: bytes, signature: bytes, data: bytes) -> bool:
    """RSASSA-PKCS1-v1_5 / SHA-512 of ``data`` under a PKCS#1 DER public key (cryptography, extra ``tedapi``)."""
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
    except ImportError:  # no signer either: nothing signed can have been built
        return False
    try:
        key = serialization.load_der_public_key(public_der)
    except ValueError:
        return False
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    if key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1) != public_der:
        return False  # the key as the gateway registers and names it (PKCS#1 DER), in no other form
    try:
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA512())
    except InvalidSignature:
        return False
    return True
