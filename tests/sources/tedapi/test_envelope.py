"""The envelope builder can express three reads only, and the vetter refuses everything else.

Dangerous bodies are built here byte by byte (our schema has no control message to build them
with): the teg, authorization and energysitenet messages, a filestore write, a mutation, an
unsigned query, an unknown field riding along, a routed message on the plain path.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.gateway.allowlist import Allowed
from exporter.sources.registry import ALLOW_LIST
from exporter.sources.tedapi import envelope as e
from exporter.sources.tedapi import queries as q
from tests.sources.tedapi.signing import CONTROLLER_TEXT, Signer

GATEWAY = "1232100-00-E--TG121048001E4G"
LEADER = "1707000-11-J--TG1234567890AA"
FOLLOWER = "1707000-11-J--TG1234567890AB"


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes | int) -> bytes:
    if isinstance(payload, int):
        return _varint(number << 3) + _varint(payload)
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _envelope(*fields: bytes, tail: int = 1, sender: bytes | None = None) -> bytes:
    participant_local = _field(3, 1)
    recipient = _field(1, GATEWAY.encode())
    env = _field(1, 1) + _field(2, sender if sender is not None else participant_local) + _field(3, recipient)
    return _field(1, env + b"".join(fields)) + _field(2, _field(1, tail))


@pytest.fixture(scope="module")
def controller() -> q.SignedQuery:
    signer = Signer()
    return q.parse_entry("device_controller_full", "device_controller", signer.entry(CONTROLLER_TEXT), [])


def _signed_query(text: bytes, signature: bytes = b"\x30\x01") -> bytes:
    signed = _field(1, 1) + _field(2, text)
    return _field(16, _field(1, _field(1, 2) + _field(2, signed) + _field(3, signature)))


def test_the_three_reads_are_exactly_what_the_builders_make(controller: q.SignedQuery) -> None:
    route = e.Route(GATEWAY)
    assert e.describe(e.config_request(route)) == "config"
    assert e.describe(e.firmware_request(route)) == "firmware"
    assert e.describe(e.query_request(route, controller)) == "query:DeviceControllerQuery"
    for body in (e.config_request(route), e.firmware_request(route), e.query_request(route, controller)):
        assert e.vet(e.PATH, body)
        assert ALLOW_LIST.allows("POST", e.PATH, body)
    # Hand-encoding the config read gives the builder's bytes: the schema has the doc's field numbers.
    read = _field(15, _field(1, _field(1, 1) + _field(2, b"config.json")))
    assert _envelope(read) == e.config_request(route)


def test_a_routed_query_is_vetted_against_its_path(controller: q.SignedQuery) -> None:
    route = e.Route(FOLLOWER, leader=LEADER)
    body = e.query_request(route, controller)
    assert route.path == f"/tedapi/device/{FOLLOWER}/v1"
    assert ALLOW_LIST.allows("POST", route.path, body)
    assert not ALLOW_LIST.allows("POST", e.PATH, body)  # tail 2 on the plain path
    assert not ALLOW_LIST.allows("POST", f"/tedapi/device/{LEADER}/v1", body)  # another unit's path
    plain = e.query_request(e.Route(GATEWAY), controller)
    assert not ALLOW_LIST.allows("POST", route.path, plain)
    # config and firmware are never routed
    assert not ALLOW_LIST.allows("POST", route.path, e.config_request(route))


@pytest.mark.parametrize(
    "path",
    [
        "/tedapi/device/../v1",
        "/tedapi/device/1707000-11-J--TG12/v1/x",
        "/tedapi/device/1707000-11-j--TG1234567890/v1",
        "/tedapi/device/1707000-11-J--TG-1234567890/v1",
        "/tedapi/device/1707000-11-J--TG1234567890AA%2F/v1",
        "/tedapi/device//v1",
        "/tedapi/v1r",
        "/tedapi/device/<DIN>/v1",
    ],
)
def test_device_paths_need_a_strict_din(path: str, controller: q.SignedQuery) -> None:
    body = e.query_request(e.Route(FOLLOWER, leader=LEADER), controller)
    assert not ALLOW_LIST.allows("POST", path, body)


def test_a_din_or_device_path_with_a_final_newline_is_refused(controller: q.SignedQuery) -> None:
    # "$" matches before a final newline; the DIN rules must not (the allow-list fullmatches paths,
    # but vet() and every DIN check must hold on their own).
    assert e.DIN_RE.match(LEADER) and not e.DIN_RE.match(LEADER + "\n")
    body = e.query_request(e.Route(FOLLOWER, leader=LEADER), controller)
    assert e.vet(f"/tedapi/device/{FOLLOWER}/v1", body)
    assert not e.vet(f"/tedapi/device/{FOLLOWER}/v1\n", body)
    with pytest.raises(ValueError, match="not a DIN"):
        e.bare_firmware_request(LEADER + "\n")


DANGEROUS = {
    "teg (5)": _envelope(_field(5, _field(1, b""))),
    "wc (6)": _envelope(_field(6, b"")),
    "neuriometer (9)": _envelope(_field(9, b"")),
    "energysitenet (10)": _envelope(_field(10, _field(1, b""))),
    "authorization (12)": _envelope(_field(12, _field(1, b"x"))),
    "supercharger (17)": _envelope(_field(17, b"")),
    "filestore write (3)": _envelope(_field(15, _field(3, _field(1, 1) + _field(2, b"config.json")))),
    "other file": _envelope(_field(15, _field(1, _field(1, 1) + _field(2, b"../etc/passwd")))),
    "config read + teg": _envelope(_field(15, _field(1, _field(1, 1) + _field(2, b"config.json"))), _field(5, b"")),
    "two messages": _envelope(
        _field(4, _field(2, b"")), _field(15, _field(1, _field(1, 1) + _field(2, b"config.json")))
    ),
    "mutation": _envelope(_signed_query(b"mutation SetReserve{x}")),
    "query then mutation": _envelope(_signed_query(b"query DeviceControllerQuery{a} mutation M{b}")),
    "unknown operation": _envelope(_signed_query(b"query GridCodeDetailsQuery{x}")),
    "unsigned": _envelope(_signed_query(b"query DeviceControllerQuery{x}", signature=b"")),
    "query response": _envelope(_field(16, _field(2, _field(1, 1)))),
    "system info response": _envelope(_field(4, _field(3, b""))),
    "routed on plain path": _envelope(_signed_query(b"query DeviceControllerQuery{x}"), tail=2),
    "bad tail": _envelope(_field(4, _field(2, b"")), tail=7),
    "unknown field": _envelope(_field(4, _field(2, b"")), _field(99, b"x")),
    "garbage": b"\xff\xff\xff\xff",
    "empty": b"",
}


@pytest.mark.parametrize("name", sorted(DANGEROUS))
def test_every_other_envelope_is_refused(name: str) -> None:
    body = DANGEROUS[name]
    assert not e.vet(e.PATH, body), name
    assert not ALLOW_LIST.allows("POST", e.PATH, body), name
    assert not ALLOW_LIST.allows("POST", f"/tedapi/device/{FOLLOWER}/v1", body), name


def test_the_schema_has_no_control_message() -> None:
    fields = {f.number for f in e.PB.MessageEnvelope.DESCRIPTOR.fields}
    assert fields == {1, 2, 3, 4, 15, 16}
    assert {f.name for f in e.PB.FileStoreMessages.DESCRIPTOR.fields} == {"readFileRequest", "readFileResponse"}
    assert {f.name for f in e.PB.CommonMessages.DESCRIPTOR.fields} == {"getSystemInfoRequest", "getSystemInfoResponse"}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bodies_pass_only_as_one_of_the_three_reads(body: bytes) -> None:
    if e.vet(e.PATH, body):
        assert e.describe(body) in ("config", "firmware") or e.describe(body).startswith("query:")


def test_tedapi_entries_of_the_allow_list() -> None:
    posts = sorted(p for m, p in ALLOW_LIST.requests if m == "POST")
    assert posts == ["/api/login/Basic", "/tedapi/device/<DIN>/v1", "/tedapi/v1", "/tedapi/v1r"]
    assert ("GET", "/tedapi/din") in ALLOW_LIST.requests and ("GET", "/") in ALLOW_LIST.requests
    assert not ALLOW_LIST.allows("GET", "/tedapi/v1")
    assert not ALLOW_LIST.allows("POST", "/tedapi/din")
    assert Allowed("POST", "x").pattern is None  # exact paths stay exact


def test_a_real_powerwall_3_firmware_answer(fixtures_dir: Path) -> None:
    # A bare MessageEnvelope as a real Powerwall 3 sent it (its fields 8 and 9 cut short); over
    # WiFi the same bytes arrive as a Message's envelope, field 1, beside the tail.
    raw = (fixtures_dir / "tedapi" / "pw3-fw24.12.6-getsysteminfo-response.envelope.pb").read_bytes()
    info = e.firmware_answer(_field(1, raw) + _field(2, _field(1, 1)))
    assert info.version == "24.12.6"
    assert info.build == "24.12.6-PW3-AFCI"
    assert info.git_hash == "008bf6ff"
    assert info.din == "1707000-00-J--TG9999999999XP"
    assert (info.part_number, info.serial) == ("1707000-00-J", "TG9999999999XP")


@pytest.mark.parametrize(
    ("text", "githash", "want"),
    [
        ("26.18.3 1a2b3c4d", b"", ("26.18.3", "26.18.3", "1a2b3c4d")),
        ("25.10.1", bytes.fromhex("9c1a7e20"), ("25.10.1", "25.10.1", "9c1a7e20")),  # hash from the bytes
        ("  24.12.6-PW3-AFCI  008bf6ff ", b"", ("24.12.6", "24.12.6-PW3-AFCI", "008bf6ff")),
        ("beta-7 abc", b"", ("beta-7", "beta-7", "abc")),  # no number: the build is its own version
    ],
)
def test_firmware_text(text: str, githash: bytes, want: tuple[str, str, str]) -> None:
    info = b"".join((_field(2, LEADER.encode()), _field(3, _field(1, text.encode()) + _field(2, githash))))
    answer = _field(1, _field(1, 1) + _field(4, _field(3, info))) + _field(2, _field(1, 1))
    got = e.firmware_answer(answer)
    assert (got.version, got.build, got.git_hash) == want


def test_a_firmware_answer_without_a_version_is_refused() -> None:
    answer = _field(1, _field(1, 1) + _field(4, _field(3, _field(2, LEADER.encode())))) + _field(2, _field(1, 1))
    with pytest.raises(e.EnvelopeError, match="no firmware version"):
        e.firmware_answer(answer)
