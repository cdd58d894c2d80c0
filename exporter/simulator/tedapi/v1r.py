"""v1r as the simulated gateway reads it: the RoutableMessage, the signed byte string, the verdict.

Why a module of its own, with its own wire walker (:mod:`exporter.simulator.tedapi.wire`) and nothing of
the exporter's sources, its gateway client or its protobuf builders: the simulator is our
reading of shared/docs/tedapi.md §6 and must judge the exporter's v1r requests with its own eyes, so a
mistake in the exporter's encoder shows up as a fault instead of being mirrored.

A request (``POST /tedapi/v1r``, no HTTP auth) is a ``RoutableMessage``::

    6  to_destination        Destination{domain(1) = 7 DOMAIN_ENERGY_DEVICE}
    10 protobuf_message_as_bytes   a bare MessageEnvelope (§2), no Message/Tail wrapper
    13 signature_data        SignatureData{signer_identity(1) KeyIdentity{public_key(1) PKCS#1 DER},
                                           rsa_data(7) RsaSignatureData{expires_at(1) fixed32, signature(2)}}
    51 uuid                  fresh per request; the answer echoes it in 50 (request_uuid)
    50, 52                   request_uuid, flags (0): known, tolerated

and the signature is RSASSA-PKCS1-v1_5/SHA-512 over :func:`signed_bytes` (personalised with the
leader's DIN). The judge (:func:`judge`) goes, first failure wins:

1. the body does not walk as the schema above (garbage, an unknown field, the answer-only fields 7
   and 12, a wrong wire type, a field twice: two envelopes) → DECODING;
2. domain other than 7 (or none) → INVALID_DOMAINS;
3. the signer key: unknown or REMOVED → UNKNOWN_KEY_ID, PENDING_VERIFICATION_TIMEOUT → INACTIVE_KEY
   (``KEY_STATE_FAULTS``);
4. the signature does not verify over the bytes built with the gateway's own leader DIN → INVALID_SIGNATURE
   (a signature made for another DIN looks exactly like that: the DIN is not on the wire);
5. ``expires_at`` before the gateway's clock → TIME_EXPIRED; more than ``max_ttl`` ahead →
   TIME_TO_LIVE_TOO_LONG;
6. a PENDING_VERIFICATION key → HTTP 200, no fault, ``v1r: client authorization not verified`` in
   field 10 (checked after the signature: only the key's owner learns its state);
7. the envelope: undecodable → DECODING; a control message, or a query that is not a signed read
   of an operation on the read list (unsigned, a mutation, another operation: judged as on WiFi by
   :func:`~exporter.simulator.tedapi.classify.judge_query`) → INVALID_COMMAND (and flagged dangerous
   by the server); anything else but the three reads → INVALID_COMMAND; a read not sent as the
   v1r recipe says (``RECIPES``: config on deliveryChannel 2 from authorizedClient 1, getSystemInfo and
   queries on channel 1 from local 1) → an answer with no envelope and no fault, the docs' other form of
   rejection.

Choices where the docs say nothing (kept here so the exporter side can find them): the largest accepted
lifetime (``DEFAULT_MAX_TTL_SECONDS``, 60 s; clients sign for 12 s), the fault for each malformed shape
above, and which answer a wrong recipe gets. See :mod:`exporter.simulator.tedapi.v1r_serve` for the HTTP side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from exporter.simulator.tedapi.classify import Query, judge_query
from exporter.simulator.tedapi.schema import (
    COMMON,
    CONFIG_JSON_DOMAIN,
    CONTROL_FIELDS,
    ENVELOPE,
    FILESTORE,
    GRAPHQL,
    PARTICIPANT,
    PARTICIPANT_IDS,
    QUERY_REQUEST,
    READ_FILE_REQUEST,
    SIGNED_QUERY,
    STRING_VALUE,
)
from exporter.simulator.tedapi.v1r_keys import KeyRing, KeyState, fingerprint
from exporter.simulator.tedapi.wire import (
    I32,
    LEN,
    VARINT,
    Field,
    Schema,
    Spec,
    WireError,
    bytes_field,
    first_bytes,
    first_int,
    int_field,
    parse,
)

PATH = "/tedapi/v1r"
DOMAIN_ENERGY_DEVICE = 7
SIGNATURE_TYPE_RSA = 7
NOT_VERIFIED_TEXT = b"v1r: client authorization not verified"
DEFAULT_MAX_TTL_SECONDS = 60.0  # not in the docs: clients sign for now + 12 s

# signed_message_status.message_fault (shared/docs/tedapi.md §6), by name.
MESSAGE_FAULTS: dict[str, int] = {
    "NONE": 0,
    "BUSY": 1,
    "TIMEOUT": 2,
    "UNKNOWN_KEY_ID": 3,
    "INACTIVE_KEY": 4,
    "INVALID_SIGNATURE": 5,
    "INVALID_TOKEN_OR_COUNTER": 6,
    "INSUFFICIENT_PRIVILEGES": 7,
    "INVALID_DOMAINS": 8,
    "INVALID_COMMAND": 9,
    "DECODING": 10,
    "INTERNAL": 11,
    "WRONG_PERSONALIZATION": 12,
    "BAD_PARAMETER": 13,
    "KEYCHAIN_IS_FULL": 14,
    "INCORRECT_EPOCH": 15,
    "IV_INCORRECT_LENGTH": 16,
    "TIME_EXPIRED": 17,
    "NOT_PROVISIONED_WITH_IDENTITY": 18,
    "COULD_NOT_HASH_METADATA": 19,
    "TIME_TO_LIVE_TOO_LONG": 20,
    "REMOTE_ACCESS_DISABLED": 21,
    "REMOTE_SERVICE_REQUEST_NOT_SUPPORTED": 22,
}
FAULT_NAMES: dict[int, str] = {code: name for name, code in MESSAGE_FAULTS.items()}

# The fault a key in each state gets (None: unknown to the gateway); a state mapped to None is let through.
KEY_STATE_FAULTS: dict[KeyState | None, str | None] = {
    None: "UNKNOWN_KEY_ID",
    KeyState.REMOVED: "UNKNOWN_KEY_ID",
    KeyState.PENDING_VERIFICATION_TIMEOUT: "INACTIVE_KEY",
    KeyState.PENDING_VERIFICATION: None,  # signature checked, then the "not verified" text
    KeyState.VERIFIED: None,
}

# --------------------------------------------------------------------------- schemas (data)
ROUTABLE_REQUEST: Schema = {
    6: Spec(LEN),  # to_destination
    10: Spec(LEN),  # protobuf_message_as_bytes
    13: Spec(LEN),  # signature_data
    50: Spec(LEN),  # request_uuid
    51: Spec(LEN),  # uuid
    52: Spec(VARINT),  # flags
}
DESTINATION: Schema = {1: Spec(VARINT)}
SIGNATURE_DATA: Schema = {1: Spec(LEN), 7: Spec(LEN)}
KEY_IDENTITY: Schema = {1: Spec(LEN)}
RSA_SIGNATURE_DATA: Schema = {1: Spec(I32), 2: Spec(LEN)}

# The v1r recipe of each read (docs §6): (deliveryChannel, sender participant).
RECIPES: dict[str, tuple[int, tuple[str, int | str]]] = {
    "config": (2, ("authorizedClient", 1)),
    "firmware": (1, ("local", 1)),
    "query": (1, ("local", 1)),
}


# --------------------------------------------------------------------------- RoutableMessage
@dataclass(frozen=True, slots=True)
class Routable:
    """The parts of a request the gateway looks at (absent fields read as proto3 defaults)."""

    domain: int
    envelope: bytes
    public_key: bytes
    expires_at: int
    signature: bytes
    uuid: bytes

    @property
    def key_fingerprint(self) -> str | None:
        return fingerprint(self.public_key) if self.public_key else None


def _sub(fields: Mapping[int, list[Field]], number: int, schema: Schema, what: str) -> dict[int, list[Field]]:
    return parse(first_bytes(fields, number), schema, what)


def parse_routable(body: bytes) -> Routable:
    """Walk a request body strictly (see the module docstring); :class:`WireError` if it is not one."""
    top = parse(body, ROUTABLE_REQUEST, "RoutableMessage")
    flags = first_int(top, 52)
    if flags != 0:
        raise WireError(f"RoutableMessage: flags {flags}, expected 0")
    if 10 not in top:
        raise WireError("RoutableMessage: no protobuf_message_as_bytes")
    dest = _sub(top, 6, DESTINATION, "Destination")
    sig = _sub(top, 13, SIGNATURE_DATA, "SignatureData")
    ident = _sub(sig, 1, KEY_IDENTITY, "KeyIdentity")
    rsa = _sub(sig, 7, RSA_SIGNATURE_DATA, "RsaSignatureData")
    return Routable(
        domain=first_int(dest, 1),
        envelope=first_bytes(top, 10),
        public_key=first_bytes(ident, 1),
        expires_at=first_int(rsa, 1),
        signature=first_bytes(rsa, 2),
        uuid=first_bytes(top, 51),
    )


def signed_bytes(leader_din: str, expires_at: int, envelope: bytes) -> bytes:
    """The byte string a v1r signature covers (docs §6): tag-length-value metadata (signature type 7
    = RSA, domain 7, personalisation = the leader's DIN, expiry big-endian), ``FF``, the envelope."""
    din = leader_din.encode("ascii")
    if len(din) > 255:
        raise ValueError("DIN too long for a one-byte length")
    return (
        bytes((0x00, 1, SIGNATURE_TYPE_RSA, 0x01, 1, DOMAIN_ENERGY_DEVICE, 0x02, len(din)))
        + din
        + b"\x04\x04"
        + (expires_at & 0xFFFFFFFF).to_bytes(4, "big")
        + b"\xff"
        + envelope
    )


def signature_ok(public_key: Any, signature: bytes, data: bytes) -> bool:
    """RSASSA-PKCS1-v1_5 with SHA-512."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    try:
        public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA512())
    except (InvalidSignature, ValueError):
        return False
    return True


# --------------------------------------------------------------------------- envelope
@dataclass(frozen=True, slots=True)
class Envelope:
    """The bare MessageEnvelope of a request, as far as the gateway cares."""

    kind: str  # config | firmware | query:<Operation> | dangerous:<message> | other
    channel: int
    sender: tuple[str, int | str] | None
    recipient: tuple[str, int | str] | None
    query: Query | None = None  # the signed query (queries only), for the answer

    @property
    def recipient_din(self) -> str | None:
        return str(self.recipient[1]) if self.recipient is not None and self.recipient[0] == "din" else None

    def recipe_problem(self) -> str | None:
        """Why this read is not sent as the v1r recipe says (None: it is)."""
        recipe = RECIPES.get(self.kind.split(":", 1)[0])
        if recipe is None:
            return None
        channel, sender = recipe
        problems = []
        if self.channel != channel:
            problems.append(f"deliveryChannel {self.channel}, expected {channel}")
        if self.sender != sender:
            problems.append(f"sender {self.sender}, expected {sender[0]} {sender[1]}")
        if self.recipient_din is None:
            problems.append("recipient is no DIN")
        return "; ".join(problems) or None


def _participant(fields: Mapping[int, list[Field]], number: int, what: str) -> tuple[str, int | str] | None:
    if number not in fields:
        return None
    p = parse(first_bytes(fields, number), PARTICIPANT, what)
    if len(p) > 1:
        raise WireError(f"{what}: several ids in a oneof")
    for n, values in p.items():
        name, _ = PARTICIPANT_IDS[n]
        value = values[0].value
        if isinstance(value, bytes):
            try:
                return name, value.decode("utf-8")
            except UnicodeDecodeError:
                raise WireError(f"{what}: din is no UTF-8") from None
        return name, value
    return (PARTICIPANT_IDS[1][0], "")  # an empty Participant: proto3 cannot tell it from din ""


def parse_envelope(data: bytes) -> Envelope:
    """Walk a request's bare MessageEnvelope strictly; :class:`WireError` if it is not one."""
    env = parse(data, ENVELOPE, "MessageEnvelope")
    control = [name for n, name in CONTROL_FIELDS.items() if n in env]
    reads = [n for n in (4, 15, 16) if n in env]
    kind = "other"
    query: Query | None = None
    if control:
        kind = "dangerous:" + ",".join(control)
    elif len(reads) == 1 and reads[0] == 4:
        common = parse(first_bytes(env, 4), COMMON, "CommonMessages")
        kind = "firmware" if 2 in common and not first_bytes(common, 2) else "other"
    elif len(reads) == 1 and reads[0] == 15:
        store = parse(first_bytes(env, 15), FILESTORE, "FileStoreMessages")
        if 1 in store:
            read = parse(first_bytes(store, 1), READ_FILE_REQUEST, "ReadFileRequest")
            if first_int(read, 1) == CONFIG_JSON_DOMAIN and first_bytes(read, 2) == b"config.json":
                kind = "config"
    elif len(reads) == 1 and reads[0] == 16:
        gql = parse(first_bytes(env, 16), GRAPHQL, "GraphQLMessages")
        if 1 in gql:
            q = parse(first_bytes(gql, 1), QUERY_REQUEST, "GraphQLAPIQueryRequest")
            parse(first_bytes(q, 2), SIGNED_QUERY, "SignedGraphQLQuery")
            variables = parse(first_bytes(q, 4), STRING_VALUE, "StringValue")
            try:
                variables_json = first_bytes(variables, 1).decode("utf-8")
            except UnicodeDecodeError:
                raise WireError("variablesJson is no UTF-8") from None
            # The same judgement as on WiFi: a query that is no signed read of a listed operation
            # (unsigned, a mutation, another operation) is dangerous.
            kind, query = judge_query(first_int(q, 1), first_bytes(q, 2), first_bytes(q, 3), variables_json)
    return Envelope(
        kind=kind,
        channel=first_int(env, 1),
        sender=_participant(env, 2, "sender"),
        recipient=_participant(env, 3, "recipient"),
        query=query,
    )


# --------------------------------------------------------------------------- the verdict
@dataclass(frozen=True, slots=True)
class Verdict:
    """What the gateway answers: ``ok`` (the read), ``unverified`` (the text), ``empty`` (no envelope,
    no fault) or a fault name of ``MESSAGE_FAULTS``; ``detail`` says why, for test failures and logs."""

    verdict: str
    detail: str = ""

    @property
    def fault(self) -> int:
        return MESSAGE_FAULTS.get(self.verdict, 0)


def judge_signature(
    msg: Routable,
    *,
    now: float,
    keys: KeyRing,
    leader_din: str,
    max_ttl: float,
    forced_state: KeyState | None = None,
    other_dins: tuple[str, ...] = (),
) -> Verdict:
    """Steps 2-6 of the module docstring (the envelope is judged by the caller). ``forced_state``
    overrides the ring's state of the signer key; ``other_dins`` (the followers) only make the
    INVALID_SIGNATURE detail name the DIN a signature was made for."""
    if msg.domain != DOMAIN_ENERGY_DEVICE:
        return Verdict("INVALID_DOMAINS", f"domain {msg.domain}, expected {DOMAIN_ENERGY_DEVICE}")
    state = keys.state(msg.public_key)
    if forced_state is not None and state is not None:
        state = forced_state
    key_fault = KEY_STATE_FAULTS[state]
    if key_fault is not None:
        return Verdict(key_fault, f"signer key {msg.key_fingerprint or '(none)'}: {state.name if state else 'unknown'}")
    public = keys.public_key(msg.public_key)
    if not signature_ok(public, msg.signature, signed_bytes(leader_din, msg.expires_at, msg.envelope)):
        detail = "signature does not verify over the bytes personalised with the leader DIN"
        for din in other_dins:
            if signature_ok(public, msg.signature, signed_bytes(din, msg.expires_at, msg.envelope)):
                detail = f"signature made for DIN {din}, not the leader {leader_din}"
        return Verdict("INVALID_SIGNATURE", detail)
    if msg.expires_at < now:
        return Verdict("TIME_EXPIRED", f"expires_at {msg.expires_at} is {now - msg.expires_at:.0f} s past")
    if msg.expires_at - now > max_ttl:
        return Verdict("TIME_TO_LIVE_TOO_LONG", f"expires_at {msg.expires_at} is {msg.expires_at - now:.0f} s ahead")
    if state is KeyState.PENDING_VERIFICATION:
        return Verdict("unverified", "key registered, not verified at the unit")
    return Verdict("ok")


def judge_envelope(env: Envelope) -> Verdict:
    """Step 7 for an envelope that walked."""
    if env.kind.startswith("dangerous:"):
        return Verdict("INVALID_COMMAND", f"control message {env.kind.partition(':')[2]} (read-only simulator)")
    if env.kind == "other":
        return Verdict("INVALID_COMMAND", "not one of the three reads (config.json, getSystemInfo, a query)")
    problem = env.recipe_problem()
    if problem:
        return Verdict("empty", f"{env.kind} not sent as the v1r recipe says: {problem}")
    return Verdict("ok")


# --------------------------------------------------------------------------- answers
def encode_answer(payload: bytes | None, fault: int, request_uuid: bytes) -> bytes:
    """An answer RoutableMessage: from_destination domain 7, the payload in field 10 (a bare
    envelope or the not-verified text), a fault in signed_message_status, the request's uuid echoed
    in request_uuid. Fields at their defaults are left out, as proto3 encoders do."""
    out = bytes_field(7, int_field(1, DOMAIN_ENERGY_DEVICE))
    if payload:
        out += bytes_field(10, payload)
    if fault:
        out += bytes_field(12, int_field(1, fault))
    if request_uuid:
        out += bytes_field(50, request_uuid)
    return out


def bare_envelope(message: bytes) -> bytes:
    """The envelope (field 1) of a transport ``Message`` the answer builders made."""
    fields = parse(message, {1: Spec(LEN), 2: Spec(LEN)}, "Message")
    return first_bytes(fields, 1)
