"""The TEDAPI request messages as data: field numbers and wire types from shared/docs/tedapi.md §2.

Why as data and not generated code: the simulated gateway judges what the exporter sends, and the
exporter builds its requests from ``exporter/proto/tedapi.proto``. Reading them back through the same
schema would mirror any mistake in it. These tables are written from the docs' field table and read
with :mod:`exporter.simulator.tedapi.wire`, which knows nothing but the wire format. Only the request
side of each message is here: a request that carries an answer message (or anything else) is a
message the simulator was not meant to see.

The WiFi path (:mod:`exporter.simulator.tedapi.classify`) and the v1r path
(:mod:`exporter.simulator.tedapi.v1r`) read the same ``MessageEnvelope`` with these tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from exporter.simulator.tedapi.wire import LEN, VARINT, Schema, Spec

LOCAL_HTTPS = 1  # MessageEnvelope.deliveryChannel of every WiFi request
SIGNED_SHA256_ECDSA_ASN1 = 2  # GraphQLAPIQueryRequest.format of a signed query
CONFIG_JSON_DOMAIN = 1  # ReadFileRequest.domain of the config.json read
CONFIG_NAME = b"config.json"

# --------------------------------------------------------------------------- Message (transport)
MESSAGE: Schema = {1: Spec(LEN), 2: Spec(LEN)}  # envelope, tail
TAIL: Schema = {1: Spec(VARINT)}  # value: 1 to the gateway, 2 routed to another Powerwall 3

# --------------------------------------------------------------------------- MessageEnvelope
# The envelope's control messages (never for reads): their presence makes a request dangerous.
CONTROL_FIELDS: dict[int, str] = {
    5: "teg",
    6: "wc",
    9: "neuriometer",
    10: "energysitenet",
    12: "authorization",
    17: "supercharger",
}
ENVELOPE: Schema = {
    1: Spec(VARINT),  # deliveryChannel
    2: Spec(LEN),  # sender
    3: Spec(LEN),  # recipient
    4: Spec(LEN),  # common
    15: Spec(LEN),  # filestore
    16: Spec(LEN),  # graphql
    **{n: Spec(None) for n in CONTROL_FIELDS},
}
PARTICIPANT_IDS: dict[int, tuple[str, int]] = {
    1: ("din", LEN),
    2: ("teslaService", VARINT),
    3: ("local", VARINT),
    4: ("authorizedClient", VARINT),
    5: ("proxiedDevice", VARINT),
}
PARTICIPANT: Schema = {n: Spec(wt) for n, (_, wt) in PARTICIPANT_IDS.items()}
COMMON: Schema = {2: Spec(LEN)}  # getSystemInfoRequest
GET_SYSTEM_INFO_REQUEST: Schema = {}  # an empty message
FILESTORE: Schema = {1: Spec(LEN)}  # readFileRequest
READ_FILE_REQUEST: Schema = {1: Spec(VARINT), 2: Spec(LEN)}  # domain, name
GRAPHQL: Schema = {1: Spec(LEN)}  # queryRequest
QUERY_REQUEST: Schema = {1: Spec(VARINT), 2: Spec(LEN), 3: Spec(LEN), 4: Spec(LEN)}  # format, query, signature, vars
STRING_VALUE: Schema = {1: Spec(LEN)}  # variablesJson.value
SIGNED_QUERY: Schema = {1: Spec(VARINT), 2: Spec(LEN)}  # SignedGraphQLQuery{version, query text}


@dataclass(frozen=True, slots=True)
class Shape:
    """One request message as a strict reader needs it beyond its wire schema.

    ``scalars``: proto3 fields with implicit presence (numbers, strings, bytes), which an encoder never
    writes at their default value (0, empty); a default on the wire is a body no client encoder made.
    Message fields and oneof members keep their presence and may be empty. ``strings``: fields whose
    bytes must be UTF-8 text (protobuf ``string``; the gateway's parser refuses anything else).
    ``children``: the fields that hold a message of their own, and its shape (a ``bytes`` field such
    as the signed query is no child: its content is read, if at all, by whoever needs it).
    """

    name: str
    fields: Schema
    scalars: frozenset[int] = frozenset()
    strings: frozenset[int] = frozenset()
    children: Mapping[int, Shape] = field(default_factory=dict)


# Leaves first: a shape names the shapes of its children.
TAIL_SHAPE = Shape("Tail", TAIL, scalars=frozenset({1}))
PARTICIPANT_SHAPE = Shape("Participant", PARTICIPANT, strings=frozenset({1}))  # a oneof: no implicit fields
GET_SYSTEM_INFO_REQUEST_SHAPE = Shape("GetSystemInfoRequest", GET_SYSTEM_INFO_REQUEST)
COMMON_SHAPE = Shape("CommonMessages", COMMON, children={2: GET_SYSTEM_INFO_REQUEST_SHAPE})
READ_FILE_REQUEST_SHAPE = Shape("ReadFileRequest", READ_FILE_REQUEST, scalars=frozenset({1, 2}), strings=frozenset({2}))
FILESTORE_SHAPE = Shape("FileStoreMessages", FILESTORE, children={1: READ_FILE_REQUEST_SHAPE})
STRING_VALUE_SHAPE = Shape("StringValue", STRING_VALUE, scalars=frozenset({1}), strings=frozenset({1}))
QUERY_REQUEST_SHAPE = Shape(
    "GraphQLAPIQueryRequest", QUERY_REQUEST, scalars=frozenset({1, 2, 3}), children={4: STRING_VALUE_SHAPE}
)
GRAPHQL_SHAPE = Shape("GraphQLMessages", GRAPHQL, children={1: QUERY_REQUEST_SHAPE})
SIGNED_QUERY_SHAPE = Shape("SignedGraphQLQuery", SIGNED_QUERY, scalars=frozenset({1, 2}))
ENVELOPE_SHAPE = Shape(
    "MessageEnvelope",
    ENVELOPE,
    scalars=frozenset({1}),
    children={2: PARTICIPANT_SHAPE, 3: PARTICIPANT_SHAPE, 4: COMMON_SHAPE, 15: FILESTORE_SHAPE, 16: GRAPHQL_SHAPE},
)
MESSAGE_SHAPE = Shape("Message", MESSAGE, children={1: ENVELOPE_SHAPE, 2: TAIL_SHAPE})
