"""What a WiFi TEDAPI request body is, as the simulated gateway reads it: a read, or dangerous.

Why the simulator's own reading: ``gw.dangerous_calls`` is how tests prove the exporter never sent a
control message. If the simulator classified bodies with the exporter's own vetter, a bug in that
vetter would pass every test, since the vetter would be judging itself. This module reads the body
by field number with :mod:`~exporter.simulator.tedapi.wire` and the tables of
:mod:`~exporter.simulator.tedapi.schema` (both written from shared/docs/tedapi.md §2), names GraphQL
operations with :mod:`~exporter.simulator.tedapi.graphql`, and imports nothing of the exporter.

A body is ``Message{envelope(1), tail(2)}``. Its kind (what ``gw.tedapi_requests`` records), first
match wins:

``dangerous:undecodable``
    not protobuf, at any depth of a message the reader knows, or a string field that is not UTF-8;
``dangerous:<control messages>``
    the envelope carries teg, wc, neuriometer, energysitenet, authorization or supercharger (named
    as the v1r path names them, e.g. ``dangerous:teg``);
``dangerous:unknown or non-canonical fields``
    an unknown field anywhere, a wrong wire type, a field twice, two members of a oneof, fields out
    of order, a padded varint, a scalar written at its default: bytes no client encoder makes;
``dangerous:bad delivery channel or tail``
    deliveryChannel not 1 (LOCAL_HTTPS), tail not 1 or 2;
``dangerous:not exactly one message``, ``dangerous:common message other than getSystemInfoRequest``,
``dangerous:filestore message other than readFileRequest``, ``dangerous:reads a file other than config.json``,
``dangerous:graphql message other than queryRequest``
    anything but the three reads;
``dangerous:unsigned query``, ``dangerous:query is not a SignedGraphQLQuery``, ``dangerous:operation <name>``
    a query that is not signed (format 2 and a signature), whose signed part does not read as
    ``SignedGraphQLQuery`` (unknown fields included), or whose text is no single read query of an
    operation on :data:`READ_OPERATIONS` (``dangerous:operation not a read query`` when it has none);
``config``, ``firmware``, ``query:<Operation>``
    the three reads.

These are the names the exporter's own vetter (``describe`` of its TEDAPI envelope module) gives, so
a record reads the same whoever wrote it; tests compare the two readings on every read the exporter
builds. Where several reasons apply to one dangerous body, the two may name different ones.

Whether a query's *signature* is good is not part of the kind: a query signed by an unknown key is
a read the gateway answers UNAUTHORIZED (:func:`exporter.simulator.tedapi.signature.verify`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from exporter.simulator.tedapi import graphql
from exporter.simulator.tedapi.schema import (
    COMMON_SHAPE,
    CONFIG_JSON_DOMAIN,
    CONFIG_NAME,
    CONTROL_FIELDS,
    ENVELOPE_SHAPE,
    FILESTORE_SHAPE,
    GET_SYSTEM_INFO_REQUEST_SHAPE,
    GRAPHQL_SHAPE,
    LOCAL_HTTPS,
    MESSAGE_SHAPE,
    PARTICIPANT_IDS,
    PARTICIPANT_SHAPE,
    QUERY_REQUEST_SHAPE,
    READ_FILE_REQUEST_SHAPE,
    SIGNED_QUERY_SHAPE,
    SIGNED_SHA256_ECDSA_ASN1,
    STRING_VALUE_SHAPE,
    TAIL_SHAPE,
    Shape,
)
from exporter.simulator.tedapi.wire import (
    LEN,
    Field,
    SchemaError,
    WireError,
    encode,
    first_bytes,
    first_int,
    parse,
    walk,
)

# The operations the simulated gateway counts as reads (and answers): any other is dangerous.
READ_OPERATIONS: frozenset[str] = frozenset({"DeviceControllerQuery", "ComponentsQuery", "PW3Query"})

UNDECODABLE = "dangerous:undecodable"
NON_CANONICAL = "dangerous:unknown or non-canonical fields"

Fields = Mapping[int, list[Field]]


@dataclass(frozen=True, slots=True)
class Query:
    """The parts of a signed query the gateway uses: ``signed`` is the ``SignedGraphQLQuery`` as sent
    (what the signature covers), ``text`` the GraphQL text inside it."""

    signed: bytes
    signature: bytes
    variables_json: str
    text: bytes
    operation: str | None


@dataclass(frozen=True, slots=True)
class Request:
    """A request body as the simulator read it. ``kind`` as the module docstring lists; the other
    fields are filled as far as the body could be read (always, for the three reads)."""

    kind: str
    sender_din: str | None = None  # the sender's DIN, None when the sender is no DIN
    recipient_din: str = ""  # "" when the recipient is no DIN
    tail: int = 0
    query: Query | None = None

    @property
    def dangerous(self) -> bool:
        return self.kind.startswith("dangerous:")


class _Refused(Exception):
    """A body is dangerous; ``kind`` says why."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def _decodable(data: bytes, shape: Shape) -> None:
    """Refuse ``data`` as undecodable when it, or any message the reader knows inside it, does not
    walk as protobuf, or a string in it is no UTF-8. Done for the whole body before anything else
    is judged, so that garbage is called garbage whatever else is wrong (fields the reader does not
    know are not looked into: what they hold is no message of this schema)."""
    try:
        fields = walk(data)
    except WireError:
        raise _Refused(UNDECODABLE) from None
    for f in fields:
        if not isinstance(f.value, bytes) or f.wire_type != LEN or f.number not in shape.fields:
            continue
        if f.number in shape.strings:
            try:
                f.value.decode("utf-8")
            except UnicodeDecodeError:
                raise _Refused(UNDECODABLE) from None
        child = shape.children.get(f.number)
        if child is not None:
            _decodable(f.value, child)


def _read(data: bytes, shape: Shape) -> dict[int, list[Field]]:
    """``data`` as one message of ``shape``, strictly (see the module docstring)."""
    try:
        fields = parse(data, shape.fields, shape.name)
    except SchemaError:
        raise _Refused(NON_CANONICAL) from None
    except WireError:
        raise _Refused(UNDECODABLE) from None
    try:
        for number in shape.strings:
            for f in fields.get(number, ()):
                if isinstance(f.value, bytes):
                    f.value.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused(UNDECODABLE) from None
    flat = [f for values in fields.values() for f in values]
    if any(f.number in shape.scalars and f.value in (0, b"") for f in flat) or encode(flat) != data:
        raise _Refused(NON_CANONICAL)
    return fields


def _sub(fields: Fields, number: int, shape: Shape) -> dict[int, list[Field]]:
    return _read(first_bytes(fields, number), shape)


def _participant(fields: Fields, number: int) -> tuple[str, int | str] | None:
    """The one id of a ``Participant`` oneof as (name, value); None when the field is absent."""
    if number not in fields:
        return None
    ids = _sub(fields, number, PARTICIPANT_SHAPE)
    if len(ids) > 1:
        raise _Refused(NON_CANONICAL)  # two members of a oneof: an encoder writes the last one only
    for n, values in ids.items():
        value = values[0].value
        return PARTICIPANT_IDS[n][0], value.decode("utf-8") if isinstance(value, bytes) else value
    return None


def judge_query(fmt: int, signed: bytes, signature: bytes, variables_json: str) -> tuple[str, Query | None]:
    """The kind of a ``GraphQLAPIQueryRequest`` with these fields (``query:<Operation>`` or
    ``dangerous:<why>``, see the module docstring) and the query as read (None when unsigned or
    when the signed part does not read). The WiFi path and the v1r judge both ask this."""
    if fmt != SIGNED_SHA256_ECDSA_ASN1 or not signature:
        return "dangerous:unsigned query", None
    try:  # checked field by field, not for canonical form: the signature covers these bytes as sent
        text = first_bytes(parse(signed, SIGNED_QUERY_SHAPE.fields, SIGNED_QUERY_SHAPE.name), 2)
    except WireError:
        return "dangerous:query is not a SignedGraphQLQuery", None
    operation = graphql.operation(text)
    query = Query(signed, signature, variables_json, text, operation)
    if operation is None or operation not in READ_OPERATIONS:
        return f"dangerous:operation {operation or 'not a read query'}", query
    return f"query:{operation}", query


def _query(graphql_fields: Fields, request: Fields, variables: Fields) -> tuple[str, Query | None]:
    if 1 not in graphql_fields:
        return "dangerous:graphql message other than queryRequest", None
    variables_json = first_bytes(variables, 1).decode("utf-8")  # UTF-8: checked by _decodable
    return judge_query(first_int(request, 1), first_bytes(request, 2), first_bytes(request, 3), variables_json)


def _envelope_kind(env: Fields) -> tuple[str, Query | None]:
    """What one envelope asks (its deliveryChannel and participants are the caller's business).

    Every message present is read first, so that bytes which do not read as their message are
    refused as such whatever else is wrong with the envelope."""
    common = _sub(env, 4, COMMON_SHAPE) if 4 in env else {}
    if 2 in common:
        _sub(common, 2, GET_SYSTEM_INFO_REQUEST_SHAPE)  # empty: nothing may ride along
    store = _sub(env, 15, FILESTORE_SHAPE) if 15 in env else {}
    read = _sub(store, 1, READ_FILE_REQUEST_SHAPE) if 1 in store else {}
    graphql_fields = _sub(env, 16, GRAPHQL_SHAPE) if 16 in env else {}
    request = _sub(graphql_fields, 1, QUERY_REQUEST_SHAPE) if 1 in graphql_fields else {}
    variables = _sub(request, 4, STRING_VALUE_SHAPE) if 4 in request else {}
    messages = [n for n in (4, 15, 16) if n in env]
    if len(messages) != 1:
        return "dangerous:not exactly one message", None
    if messages[0] == 4:
        ok = 2 in common
        return ("firmware" if ok else "dangerous:common message other than getSystemInfoRequest"), None
    if messages[0] == 15:
        if 1 not in store:
            return "dangerous:filestore message other than readFileRequest", None
        ok = first_int(read, 1) == CONFIG_JSON_DOMAIN and first_bytes(read, 2) == CONFIG_NAME
        return ("config" if ok else "dangerous:reads a file other than config.json"), None
    return _query(graphql_fields, request, variables)


def _control(body: bytes) -> str | None:
    """``dangerous:<names>`` when the body's envelope carries a control message, else None. Looked at
    before anything but garbage is judged: a control message is the one thing the simulator exists to
    catch, and its record should say which one it was."""
    try:
        message = parse(body, MESSAGE_SHAPE.fields, MESSAGE_SHAPE.name)
        env = parse(first_bytes(message, 1), ENVELOPE_SHAPE.fields, ENVELOPE_SHAPE.name)
    except WireError:  # judged by the strict reading that follows
        return None
    names = [name for n, name in CONTROL_FIELDS.items() if n in env]
    return "dangerous:" + ",".join(names) if names else None


def classify(body: bytes) -> Request:
    """The simulator's reading of a WiFi request body (``POST /tedapi/v1`` or ``/tedapi/device/<DIN>/v1``)."""
    try:
        _decodable(body, MESSAGE_SHAPE)
        control = _control(body)
        if control is not None:
            return Request(control)
        message = _read(body, MESSAGE_SHAPE)
        env = _sub(message, 1, ENVELOPE_SHAPE)
        tail = first_int(_sub(message, 2, TAIL_SHAPE), 1)
        sender = _participant(env, 2)
        recipient = _participant(env, 3)
        kind, query = _envelope_kind(env)
    except _Refused as refused:
        return Request(refused.kind)
    if first_int(env, 1) != LOCAL_HTTPS or tail not in (1, 2):
        kind = "dangerous:bad delivery channel or tail"
    return Request(
        kind,
        sender_din=str(sender[1]) if sender is not None and sender[0] == "din" else None,
        recipient_din=str(recipient[1]) if recipient is not None and recipient[0] == "din" else "",
        tail=tail,
        query=query,
    )
