"""The only TEDAPI messages this exporter can build, the vetter that proves it, and answer parsing.

The gateway password opens TEDAPI's control messages too (teg, authorization, energysitenet,
filestore writes): the same path carries reads and writes. Two independent guards keep us read-only:

* the builders below can express three requests only: the ``config.json`` read, ``getSystemInfo``
  and a signed query whose operation is on :data:`~exporter.sources.tedapi.queries.READ_OPERATIONS`
  (our ``tedapi.proto`` has no other request message at all);
* :func:`vet`, the allow-list's body check for the TEDAPI paths, decodes every body right before
  it is sent and accepts it only if it is exactly one of those (re-encoding without unknown
  fields must give the same bytes, so nothing can ride along), addressed as the path says.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError

from exporter.config import values
from exporter.proto import tedapi_pb2 as _pb
from exporter.site.convert import firmware_text
from exporter.sources.tedapi.queries import READ_OPERATIONS, SignedQuery, operation_of

PB: Any = _pb  # generated module: no type information

PATH = "/tedapi/v1"
# "\Z", not "$": "$" also matches before a final newline, so "<DIN>\n" passed as a DIN (and the v1r
# vetter accepted an envelope to it, signed for it).
DEVICE_PATH_RE = re.compile(r"^/tedapi/device/(?P<din>[0-9]{7}-[0-9]{2}-[A-Z0-9]--[A-Za-z0-9]{4,32})/v1\Z")
DIN_RE = values.DIN_RE
LOCAL_HTTPS = 1
INSTALLER = 1
CONFIG_JSON_DOMAIN = 1
CONFIG_NAME = "config.json"
SIGNED_SHA256_ECDSA_ASN1 = 2
HERMES_COMMAND = 2  # the delivery channel of v1r's config read
AUTHORIZED_CLIENT = 1


class EnvelopeError(ValueError):
    """An answer that is not the envelope we asked for (the message says what is wrong)."""


@dataclass(frozen=True, slots=True)
class Route:
    """Where a message goes: to the gateway itself, or routed to one Powerwall 3 of several."""

    recipient: str  # DIN
    leader: str | None = None  # set: routed (path /tedapi/device/<recipient>/v1, sender = leader, tail 2)

    @property
    def path(self) -> str:
        return PATH if self.leader is None else f"/tedapi/device/{self.recipient}/v1"


def _message(route: Route) -> Any:
    if not DIN_RE.match(route.recipient) or (route.leader is not None and not DIN_RE.match(route.leader)):
        raise ValueError("not a DIN")
    msg = PB.Message()
    env = msg.envelope
    env.deliveryChannel = LOCAL_HTTPS
    if route.leader is None:
        env.sender.local = INSTALLER
    else:
        env.sender.din = route.leader
    env.recipient.din = route.recipient
    msg.tail.value = 1 if route.leader is None else 2
    return msg


def config_request(route: Route) -> bytes:
    msg = _message(route)
    req = msg.envelope.filestore.readFileRequest
    req.domain = CONFIG_JSON_DOMAIN
    req.name = CONFIG_NAME
    return bytes(msg.SerializeToString(deterministic=True))


def firmware_request(route: Route) -> bytes:
    msg = _message(route)
    msg.envelope.common.getSystemInfoRequest.SetInParent()
    return bytes(msg.SerializeToString(deterministic=True))


def query_request(route: Route, query: SignedQuery) -> bytes:
    msg = _message(route)
    req = msg.envelope.graphql.queryRequest
    req.format = SIGNED_SHA256_ECDSA_ASN1
    req.query = query.signed
    req.signature = query.signature
    req.variablesJson.value = query.variables_json
    return bytes(msg.SerializeToString(deterministic=True))


def describe(body: bytes) -> str:
    """What a request body is, for logs and for the simulator's record: ``config``, ``firmware``,
    ``query:<operation>``, or ``dangerous:<why>``."""
    return _classify(body)[0]


def _classify(body: bytes) -> tuple[str, Any]:
    """:func:`describe`'s answer and the decoded message (None when it did not decode)."""
    try:
        msg = PB.Message.FromString(body)
    except DecodeError:
        return "dangerous:undecodable", None
    return _kind(msg, body), msg


def _kind(msg: Any, body: bytes) -> str:
    # Unknown fields survive a parse and re-encode: drop them (recursively) and compare, so a
    # field our schema does not know (a control message) can never ride along with a read.
    msg.DiscardUnknownFields()
    if msg.SerializeToString(deterministic=True) != body:
        return "dangerous:unknown or non-canonical fields"
    env = msg.envelope
    if env.deliveryChannel != LOCAL_HTTPS or msg.tail.value not in (1, 2):
        return "dangerous:bad delivery channel or tail"
    return _envelope_kind(env)


def _envelope_kind(env: Any) -> str:
    """What one (canonical) envelope asks: ``config``, ``firmware``, ``query:<operation>`` or ``dangerous:<why>``."""
    parts = [env.HasField("common"), env.HasField("filestore"), env.HasField("graphql")]
    if sum(parts) != 1:
        return "dangerous:not exactly one message"
    if env.HasField("common"):
        ok = env.common.WhichOneof("message") == "getSystemInfoRequest"
        return "firmware" if ok else "dangerous:common message other than getSystemInfoRequest"
    if env.HasField("filestore"):
        fs = env.filestore
        if fs.WhichOneof("message") != "readFileRequest":
            return "dangerous:filestore message other than readFileRequest"
        req = fs.readFileRequest
        ok = req.domain == CONFIG_JSON_DOMAIN and req.name == CONFIG_NAME
        return "config" if ok else "dangerous:reads a file other than config.json"
    if env.graphql.WhichOneof("message") != "queryRequest":
        return "dangerous:graphql message other than queryRequest"
    req = env.graphql.queryRequest
    if req.format != SIGNED_SHA256_ECDSA_ASN1 or not req.signature:
        return "dangerous:unsigned query"
    try:
        signed = PB.SignedGraphQLQuery.FromString(req.query)
    except DecodeError:
        return "dangerous:query is not a SignedGraphQLQuery"
    operation = operation_of(bytes(signed.query))
    if operation is None or operation not in READ_OPERATIONS:
        return f"dangerous:operation {operation or 'not a read query'}"
    return f"query:{operation}"


def bare_config_request(din: str) -> bytes:
    """The config.json read as v1r sends it (§6): HERMES_COMMAND from an authorized client."""
    env = _bare(din, HERMES_COMMAND, "authorizedClient")
    env.filestore.readFileRequest.domain = CONFIG_JSON_DOMAIN
    env.filestore.readFileRequest.name = CONFIG_NAME
    return bytes(env.SerializeToString(deterministic=True))


def bare_firmware_request(din: str) -> bytes:
    env = _bare(din, LOCAL_HTTPS, "local")
    env.common.getSystemInfoRequest.SetInParent()
    return bytes(env.SerializeToString(deterministic=True))


def bare_query_request(din: str, query: SignedQuery) -> bytes:
    env = _bare(din, LOCAL_HTTPS, "local")
    req = env.graphql.queryRequest
    req.format = SIGNED_SHA256_ECDSA_ASN1
    req.query = query.signed
    req.signature = query.signature
    req.variablesJson.value = query.variables_json
    return bytes(env.SerializeToString(deterministic=True))


def _bare(din: str, channel: int, sender: str) -> Any:
    if not DIN_RE.match(din):
        raise ValueError("not a DIN")
    env = PB.MessageEnvelope()
    env.deliveryChannel = channel
    setattr(env.sender, sender, INSTALLER if sender == "local" else AUTHORIZED_CLIENT)
    env.recipient.din = din
    return env


# The delivery channel and sender of each read inside a v1r request (§6).
_BARE_SENDERS = {
    "config": (HERMES_COMMAND, "authorizedClient", AUTHORIZED_CLIENT),
    "read": (LOCAL_HTTPS, "local", INSTALLER),
}


def describe_bare(body: bytes) -> tuple[str, str]:
    """What a bare envelope (the inside of a v1r request) asks, and its recipient DIN.

    The same reads as :func:`describe`, each with the delivery channel and sender §6 gives it: the
    config read from an authorized client over HERMES_COMMAND, the others as on WiFi.
    """
    try:
        env = PB.MessageEnvelope.FromString(body)
    except DecodeError:
        return "dangerous:undecodable", ""
    env.DiscardUnknownFields()
    if env.SerializeToString(deterministic=True) != body:
        return "dangerous:unknown or non-canonical fields", ""
    kind = _envelope_kind(env)
    if kind.startswith("dangerous:"):
        return kind, ""
    sender = env.sender.WhichOneof("id")
    channel, expected_sender, expected_id = _BARE_SENDERS["config" if kind == "config" else "read"]
    if env.deliveryChannel != channel or sender != expected_sender or getattr(env.sender, sender) != expected_id:
        return "dangerous:bad delivery channel or sender", ""
    if not DIN_RE.match(env.recipient.din):
        return "dangerous:no recipient DIN", ""
    return kind, env.recipient.din


def vet(path: str, body: bytes) -> bool:
    """The allow-list's check of a TEDAPI body: one of our three reads, addressed as ``path`` says."""
    kind, msg = _classify(body)
    if kind.startswith("dangerous:"):
        return False
    env = msg.envelope
    routed = DEVICE_PATH_RE.match(path)
    if routed is None:
        return path == PATH and msg.tail.value == 1 and env.sender.WhichOneof("id") == "local"
    return bool(
        msg.tail.value == 2
        and env.sender.WhichOneof("id") == "din"
        and env.recipient.din == routed.group("din")
        and env.HasField("graphql")  # only the per-Powerwall-3 components query is routed
    )


# ---- answers --------------------------------------------------------------------------------------
def _answer(body: bytes, bare: bool) -> Any:
    """The envelope of an answer: a WiFi answer wraps it in a ``Message``, a v1r answer is one (``bare``)."""
    try:
        if bare:
            return PB.MessageEnvelope.FromString(body)
        return PB.Message.FromString(body).envelope
    except DecodeError as exc:
        raise EnvelopeError(f"not a TEDAPI message ({exc})") from None


def config_answer(body: bytes, bare: bool = False) -> dict[str, Any]:
    """The config.json object of a readFileResponse."""
    env = _answer(body, bare)
    if env.filestore.WhichOneof("message") != "readFileResponse":
        raise EnvelopeError("answer carries no readFileResponse")
    data = _json(bytes(env.filestore.readFileResponse.file.blob), "config.json")
    if not isinstance(data, dict):
        raise EnvelopeError("config.json is not a JSON object")
    return data


@dataclass(frozen=True, slots=True)
class SystemInfo:
    """The firmware answer: ``"24.12.6-PW3-AFCI 008bf6ff"`` gives version ``24.12.6``, build
    ``24.12.6-PW3-AFCI`` and git hash ``008bf6ff`` (:func:`~exporter.site.convert.firmware_text`)."""

    version: str
    git_hash: str
    din: str
    part_number: str
    serial: str
    build: str = ""  # the text before the hash as written; "" = the same as version


def firmware_answer(body: bytes, bare: bool = False) -> SystemInfo:
    env = _answer(body, bare)
    if env.common.WhichOneof("message") != "getSystemInfoResponse":
        raise EnvelopeError("answer carries no getSystemInfoResponse")
    info = env.common.getSystemInfoResponse
    version, build, git_hash = firmware_text(info.firmwareVersion.version)
    if not version:
        raise EnvelopeError("getSystemInfoResponse has no firmware version")
    return SystemInfo(
        version=version,
        build=build,
        git_hash=git_hash or bytes(info.firmwareVersion.githash).hex(),
        din=info.din,
        part_number=info.deviceId.partNumber,
        serial=info.deviceId.serialNumber,
    )


@dataclass(frozen=True, slots=True)
class QueryAnswer:
    status: int
    data: Any  # the decoded JSON ``data``
    errors: tuple[str, ...]


def query_answer(body: bytes, bare: bool = False) -> QueryAnswer:
    env = _answer(body, bare)
    if env.graphql.WhichOneof("message") != "queryResponse":
        raise EnvelopeError("answer carries no queryResponse")
    resp = env.graphql.queryResponse
    errors = tuple(f"{'.'.join(e.path) or '?'}: code {e.code} {e.message}".strip() for e in resp.errors)
    data = _json(resp.data.encode("utf-8"), "query data") if resp.data.strip() else None
    return QueryAnswer(resp.status, data, errors)


def _json(raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise EnvelopeError(f"{what} is not JSON ({exc.__class__.__name__})") from None
