"""The simulated gateway judges TEDAPI requests with its own eyes (issue 19, item 4).

``gw.dangerous_calls`` proves the exporter never sent a control message only if the simulator reads
requests with code of its own. If it used the exporter's vetter, a bug in that vetter would also be
in the judge, so no test could catch it. Here:

* the simulator package imports nothing of the exporter but the generated protobuf modules (which it
  uses to write answers);
* on every read the exporter builds (WiFi and v1r), the simulator's reading and the exporter's vetter
  say the same thing: two independent readings of one body;
* bodies built here from the generated classes plus raw field bytes (not with the exporter's
  builders) are dangerous to the simulator, and to the exporter's vetter as well;
* the facts the simulator keeps its own copy of (component types, the signed bytes) match the
  exporter's copy.
"""

from __future__ import annotations

import ast
import random
import uuid as uuidlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

import exporter.simulator
from exporter.proto import tedapi_pb2 as _pb
from exporter.simulator import SimulatedGateway, SiteModel
from exporter.simulator.tedapi import graphql, signature
from exporter.simulator.tedapi import v1r as sim_v1r
from exporter.simulator.tedapi.classify import READ_OPERATIONS, classify
from exporter.simulator.tedapi.queries import SigningKey, write_query_file
from exporter.simulator.tedapi.signals import COMPONENT_TYPES
from exporter.simulator.tedapi.v1r_keys import KeyRing
from exporter.sources.tedapi import envelope, queries, query_variables, v1r
from exporter.sources.tedapi.envelope import Route
from exporter.sources.tedapi.queries import QuerySet, SignedQuery
from tests.simtime import SIM_START
from tests.simulator.test_simulator_tedapi import GW_PASSWORD, FrozenClock, Tedapi
from tests.simulator.test_simulator_v1r import Lan
from tests.sources.tedapi.signing import COMPONENTS_TEXT, COMPONENTS_VARIABLES, CONTROLLER_TEXT, Signer
from tests.v1r_signer import ClientKey, Signed, lfield, query_envelope, vfield

PB: Any = _pb
GATEWAY = "1232100-00-E--TG121048001E4G"
LEADER = "1707000-11-J--TG1234567890AA"
FOLLOWER = "1707000-11-J--TG1234567890AB"
ALLOWED_PREFIXES = ("exporter.simulator", "exporter.proto")


# ------------------------------------------------------------------ imports
def _simulator_modules() -> list[Path]:
    root = Path(exporter.simulator.__file__).parent
    return sorted(root.rglob("*.py"))


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute name) of everything ``path`` imports: ``import a.b`` gives ``a.b``,
    ``from a import b`` gives ``a.b`` (b may be a module or a name in it); relative imports are
    resolved against the file's own package."""
    top = Path(exporter.__file__).parent.parent
    package = ".".join(path.resolve().relative_to(top).with_suffix("").parts[:-1]) if path.is_relative_to(top) else ""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}"


def _foreign(module: str) -> bool:
    """Exporter code outside the simulator and the generated protobuf modules."""
    mine = any(module == p or module.startswith(p + ".") for p in ALLOWED_PREFIXES)
    return (module == "exporter" or module.startswith("exporter.")) and not mine


def test_the_simulator_imports_no_exporter_code() -> None:
    """Every import in exporter/simulator/ (TYPE_CHECKING and function-local ones included) stays in
    the simulator or the generated protobuf modules."""
    modules = _simulator_modules()
    assert len(modules) > 20 and any(p.name == "classify.py" for p in modules)
    bad = [
        f"{path.relative_to(Path(exporter.__file__).parent)}:{line}: {module}"
        for path in modules
        for line, module in _imports(path)
        if _foreign(module)
    ]
    assert not bad, "the simulator must judge with its own code:\n" + "\n".join(bad)


def test_the_import_walk_sees_what_it_must_refuse(tmp_path: Path) -> None:
    """The walk above catches the imports this change removed (a check that cannot fail proves nothing)."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from exporter.sources.tedapi import envelope\n"
        "import exporter.gateway.tls\n"
        "from exporter import config\n"
        "def f() -> None:\n    from exporter.sources.tedapi.queries import verify\n"
        "from exporter.simulator.tedapi import wire\n"
        "from exporter.proto import tedapi_pb2\n"
    )
    found = [m for _, m in _imports(probe)]
    assert [m for m in found if _foreign(m)] == [
        "exporter.sources.tedapi.envelope",
        "exporter.gateway.tls",
        "exporter.config",
        "exporter.sources.tedapi.queries.verify",
    ]
    classify_py = Path(exporter.simulator.__file__).parent / "tedapi" / "classify.py"
    assert "exporter.simulator.tedapi.graphql" in [m for _, m in _imports(classify_py)]


# The modules that judge a request: what kind it is, whether it is dangerous, whether its signature
# verifies. They may not even use the generated protobuf classes (the answer builders may).
READING_MODULES = ("classify", "graphql", "schema", "signature", "wire", "v1r", "v1r_keys")


def _module_file(name: str) -> Path | None:
    """The file of module ``name`` (or of the module a ``from m import x`` name ``m.x`` lives in)."""
    top = Path(exporter.__file__).parent.parent
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        base = top.joinpath(*parts[:i])
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def test_the_request_judges_use_no_protobuf_code_even_indirectly() -> None:
    root = Path(exporter.simulator.__file__).parent / "tedapi"
    todo = [root / f"{name}.py" for name in READING_MODULES]
    seen: set[Path] = set()
    bad: list[str] = []
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for line, module in _imports(path):
            if module.startswith(("exporter.proto", "google.protobuf")) or _foreign(module):
                bad.append(f"{path.name}:{line}: {module}")
            elif module.startswith("exporter.simulator"):
                found = _module_file(module)
                if found is not None and found.name != "__init__.py":
                    todo.append(found)
    assert {p.stem for p in seen} >= set(READING_MODULES)
    assert not bad, "\n".join(bad)


# ------------------------------------------------------------------ the reads the exporter builds
@pytest.fixture(scope="module")
def key_pem(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    path = tmp_path_factory.mktemp("independent") / "queries.json"
    return path, write_query_file(path)


@pytest.fixture(scope="module")
def all_queries(key_pem: tuple[Path, bytes], tmp_path_factory: pytest.TempPathFactory) -> list[SignedQuery]:
    """The simulator's own query file plus the tests' compact texts (another layout, version 1 and 2)."""
    path, pem = key_pem
    loaded = queries.load(path, keys=[pem])
    assert loaded is not None
    signer = Signer()
    compact = tmp_path_factory.mktemp("independent-compact") / "q.json"
    signer.write(
        compact,
        {
            "device_controller_full": signer.entry(CONTROLLER_TEXT, {"msaSignals": []}),
            "PW3Query": signer.entry(COMPONENTS_TEXT.replace("ComponentsQuery", "PW3Query"), version=2),
        },
    )
    other: QuerySet | None = queries.load(compact, keys=[signer.public_pem])
    assert other is not None
    return [*loaded.queries.values(), *other.queries.values()]


def _wifi_reads(all_queries: list[SignedQuery]) -> Iterator[tuple[str, str, bytes]]:
    """(name, path, body) of every WiFi request the exporter can build: the three reads to the
    gateway, and the routed components query to each Powerwall 3."""
    plain = Route(GATEWAY)
    yield "config", plain.path, envelope.config_request(plain)
    yield "firmware", plain.path, envelope.firmware_request(plain)
    for q in all_queries:
        yield f"query {q.key}", plain.path, envelope.query_request(plain, q)
        for unit in (LEADER, FOLLOWER):
            routed = Route(unit, leader=LEADER)
            yield f"routed {q.key} to {unit}", routed.path, envelope.query_request(routed, q)


def test_every_wifi_read_reads_the_same_to_the_simulator(all_queries: list[SignedQuery]) -> None:
    reads = list(_wifi_reads(all_queries))
    assert len(reads) >= 14
    for name, path, body in reads:
        exporter_kind = envelope.describe(body)
        assert not exporter_kind.startswith("dangerous:"), name
        assert envelope.vet(path, body), name
        read = classify(body)
        assert read.kind == exporter_kind, name
        assert read.recipient_din in (GATEWAY, LEADER, FOLLOWER), name
        assert read.tail == (2 if path != envelope.PATH else 1), name
        assert read.sender_din == (LEADER if read.tail == 2 else None), name


def test_the_simulator_reads_the_signed_query_as_sent(all_queries: list[SignedQuery]) -> None:
    for q in all_queries:
        read = classify(envelope.query_request(Route(GATEWAY), q))
        assert read.query is not None
        assert read.query.signed == q.signed and read.query.signature == q.signature
        assert read.query.variables_json == q.variables_json and read.query.operation == q.operation


def test_every_v1r_read_reads_the_same_to_the_simulator(all_queries: list[SignedQuery]) -> None:
    """The bare envelopes of v1r, wrapped and signed as the exporter sends them: the exporter's v1r
    vetter accepts each, and the simulator's v1r judge reads the same kind and lets it through."""
    key = ClientKey()
    ring = KeyRing()
    ring.add(key.pub_der, state="verified")
    bare = [envelope.bare_config_request(LEADER), envelope.bare_firmware_request(LEADER)]
    bare += [envelope.bare_query_request(LEADER, q) for q in all_queries]
    for i, env in enumerate(bare):
        expires = int(SIM_START) + 12
        signed = key.sign(v1r.signed_bytes(LEADER, expires, env))
        body = v1r.request(env, key.pub_der, expires, signed, str(uuidlib.UUID(int=i + 1)).encode())
        assert v1r.vet(v1r.PATH, body)
        exporter_kind, din = envelope.describe_bare(env)
        routable = sim_v1r.parse_routable(body)
        read = sim_v1r.parse_envelope(routable.envelope)
        assert read.kind == exporter_kind and read.recipient_din == din == LEADER
        assert sim_v1r.judge_envelope(read).verdict == "ok", read
        verdict = sim_v1r.judge_signature(routable, now=SIM_START, keys=ring, leader_din=LEADER, max_ttl=60)
        assert verdict.verdict == "ok", verdict
        if read.kind.startswith("query:"):
            assert read.query is not None and read.kind == f"query:{read.query.operation}"
            assert read.query.signed in env  # read as sent


def test_seeded_corruptions_never_read_as_a_read_the_vetter_refuses(all_queries: list[SignedQuery]) -> None:
    """Flip, cut and insert bytes of the exporter's reads: whenever the simulator still calls a body
    a read, the exporter's reading names the same read (the simulator is never the more lenient)."""
    bodies = [body for _, _, body in _wifi_reads(all_queries)]
    rng = random.Random(19)
    for _ in range(3000):
        body = bytearray(rng.choice(bodies))
        i = rng.randrange(len(body))
        how = rng.randrange(3)
        if how == 0:
            body[i] = rng.randrange(256)
        elif how == 1:
            del body[i:]
        else:
            body[i:i] = bytes([rng.randrange(256)])
        sim = classify(bytes(body)).kind
        if not sim.startswith("dangerous:"):
            assert sim == envelope.describe(bytes(body)), bytes(body).hex()


# ------------------------------------------------------------------ dangerous bodies, built here
def _envelope(**read: Any) -> Any:
    env = PB.MessageEnvelope()
    env.deliveryChannel = 1
    env.sender.local = 1
    env.recipient.din = GATEWAY
    for name, fill in read.items():
        fill(getattr(env, name))
    return env


def _message(env: Any, tail: int = 1, raw_envelope: bytes = b"") -> bytes:
    """A transport Message around ``env`` (its bytes plus ``raw_envelope``, appended as is)."""
    return _wrap(env.SerializeToString() + raw_envelope, tail)


def _wrap(env_bytes: bytes, tail: int = 1) -> bytes:
    return lfield(1, env_bytes) + lfield(2, vfield(1, tail))


def _firmware(common: Any) -> None:
    common.getSystemInfoRequest.SetInParent()


def _config(name: str) -> Any:
    def fill(filestore: Any) -> None:
        filestore.readFileRequest.domain = 1
        filestore.readFileRequest.name = name

    return fill


def _signed_query(key: SigningKey, text: str, *, version: int = 1, fmt: int = 2, sign: bool = True) -> Any:
    signed = PB.SignedGraphQLQuery(version=version, query=text.encode()).SerializeToString()

    def fill(graphql_messages: Any) -> None:
        req = graphql_messages.queryRequest
        req.format = fmt
        req.query = signed
        if sign:
            req.signature = key.sign(signed)
        req.variablesJson.value = "{}"

    return fill


@pytest.fixture(scope="module")
def signing_key() -> SigningKey:
    return SigningKey()


def _dangerous_bodies(key: SigningKey) -> dict[str, tuple[bytes, str]]:
    """name -> (body, the simulator's kind for it)."""
    read_text = "query DeviceControllerQuery { control { systemStatus { nominalFullPackEnergyWh } } }"
    firmware = _envelope(common=_firmware)
    unknown_in_signed = PB.SignedGraphQLQuery(version=1, query=read_text.encode()).SerializeToString()
    unknown_in_signed += vfield(3, 1)
    env_unknown_signed = _envelope(graphql=_signed_query(key, read_text))
    env_unknown_signed.graphql.queryRequest.query = unknown_in_signed
    env_unknown_signed.graphql.queryRequest.signature = key.sign(unknown_in_signed)
    two_messages = _envelope(common=_firmware, filestore=_config("config.json"))
    firmware_bytes = firmware.SerializeToString()
    bad_din = firmware_bytes.replace(GATEWAY.encode(), b"\xff" * len(GATEWAY))
    channel_2 = _envelope(common=_firmware)
    channel_2.deliveryChannel = 2
    signed = PB.SignedGraphQLQuery(version=1, query=read_text.encode()).SerializeToString()
    empty_variables = lfield(
        16, lfield(1, vfield(1, 2) + lfield(2, signed) + lfield(3, key.sign(signed)) + lfield(4, lfield(1, b"")))
    )
    return {
        "teg control message (field 5)": (_message(firmware, raw_envelope=lfield(5, vfield(1, 1))), "dangerous:teg"),
        "authorization (field 12), empty": (
            _message(firmware, raw_envelope=lfield(12, b"")),
            "dangerous:authorization",
        ),
        "energysitenet and wc": (
            _message(firmware, raw_envelope=lfield(6, b"") + lfield(10, b"")),
            "dangerous:wc,energysitenet",
        ),
        "filestore write (message 3)": (
            _message(_envelope(), raw_envelope=lfield(15, lfield(3, vfield(1, 1)))),
            "dangerous:unknown or non-canonical fields",
        ),
        "a file other than config.json": (
            _message(_envelope(filestore=_config("etc/passwd"))),
            "dangerous:reads a file other than config.json",
        ),
        "a mutation, signed by the trusted key": (
            _message(_envelope(graphql=_signed_query(key, "mutation SetBackupReserve { setReserve(percent: 5) }"))),
            "dangerous:operation not a read query",
        ),
        "a query hiding a mutation": (
            _message(_envelope(graphql=_signed_query(key, read_text + "\nmutation M { stop }"))),
            "dangerous:operation not a read query",
        ),
        "a read of an operation not on the list": (
            _message(_envelope(graphql=_signed_query(key, "query GridCodesQuery { system { gridCodes } }"))),
            "dangerous:operation GridCodesQuery",
        ),
        "an unsigned query": (
            _message(_envelope(graphql=_signed_query(key, read_text, sign=False))),
            "dangerous:unsigned query",
        ),
        "a query in another format": (
            _message(_envelope(graphql=_signed_query(key, read_text, fmt=1))),
            "dangerous:unsigned query",
        ),
        "an unknown field inside the signed query": (
            _message(env_unknown_signed),
            "dangerous:query is not a SignedGraphQLQuery",
        ),
        "an unknown field inside getSystemInfoRequest": (
            _message(_envelope(), raw_envelope=lfield(4, lfield(2, vfield(7, 1)))),
            "dangerous:unknown or non-canonical fields",
        ),
        "two messages": (_message(two_messages), "dangerous:not exactly one message"),
        "no message": (_message(_envelope()), "dangerous:not exactly one message"),
        "delivery channel 2": (_message(channel_2), "dangerous:bad delivery channel or tail"),
        "tail 3": (_message(firmware, tail=3), "dangerous:bad delivery channel or tail"),
        "tail before envelope": (
            lfield(2, vfield(1, 1)) + lfield(1, firmware.SerializeToString()),
            "dangerous:unknown or non-canonical fields",
        ),
        "tail written twice": (
            _message(firmware) + lfield(2, vfield(1, 1)),
            "dangerous:unknown or non-canonical fields",
        ),
        "sender with two ids": (
            _wrap(firmware_bytes.replace(lfield(2, vfield(3, 1)), lfield(2, vfield(3, 1) + vfield(4, 1)))),
            "dangerous:unknown or non-canonical fields",
        ),
        "a padded varint": (
            _wrap(firmware_bytes.replace(b"\x08\x01", b"\x08\x81\x00", 1)),
            "dangerous:unknown or non-canonical fields",
        ),
        "a scalar written at its default": (_wrap(firmware_bytes, tail=0), "dangerous:unknown or non-canonical fields"),
        "deliveryChannel written twice": (
            _wrap(firmware_bytes + vfield(1, 1)),
            "dangerous:unknown or non-canonical fields",
        ),
        "empty variables written out": (
            _message(_envelope(), raw_envelope=empty_variables),
            "dangerous:unknown or non-canonical fields",
        ),
        "a DIN that is no UTF-8": (_wrap(bad_din), "dangerous:undecodable"),
        "garbage": (b"\x0f" + bytes(range(40)), "dangerous:undecodable"),
        "a length past the end": (b"\x0a\x7f\x08\x01", "dangerous:undecodable"),
    }


# Where the simulator is the stricter reading: the exporter's vetter does not look inside the signed
# query's bytes (its builders cannot put anything there but version and text, so it never sends one).
SIMULATOR_ONLY = frozenset({"an unknown field inside the signed query"})


def test_hand_built_dangerous_bodies_are_dangerous_to_both_readings(signing_key: SigningKey) -> None:
    bodies = _dangerous_bodies(signing_key)
    assert set(bodies) >= SIMULATOR_ONLY
    for name, (body, kind) in bodies.items():
        read = classify(body)
        assert read.kind == kind, name
        assert read.dangerous, name
        exporter_kind = envelope.describe(body)
        assert exporter_kind.startswith("dangerous:") == (name not in SIMULATOR_ONLY), (name, exporter_kind)


def test_a_mutation_signed_by_a_trusted_key_is_caught_on_the_wire(signing_key: SigningKey) -> None:
    """End to end: the gateway trusts the signing key, yet the body is recorded as dangerous,
    refused, and ``assert_safe`` fails."""
    pem = signing_key.public_pem
    model = SiteModel.pw2_tedapi(seed=1, start_time=SIM_START)
    body = _dangerous_bodies(signing_key)["a mutation, signed by the trusted key"][0]
    with SimulatedGateway(model=model, gateway_password=GW_PASSWORD, tedapi_keys=[pem]) as gw:
        assert Tedapi(gw).post(body).status_code == 403
        assert gw.tedapi_requests == [("/tedapi/v1", "dangerous:operation not a read query")]
        assert len(gw.dangerous_calls) == 1
        with pytest.raises(AssertionError):
            gw.assert_safe()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("mutation SetBackupReserve { setReserve(percent: 5) }", "dangerous:operation not a read query"),
        ("query GridCodesQuery { system { gridCodes } }", "dangerous:operation GridCodesQuery"),
    ],
)
def test_over_v1r_a_signed_query_that_is_no_read_is_refused_and_flagged(
    signing_key: SigningKey, text: str, kind: str
) -> None:
    """The v1r judge asks the same question of a query as the WiFi reading: a mutation (or an
    operation off the read list) signed by a trusted query key, in a correctly signed v1r request, is
    INVALID_COMMAND and a dangerous call, not an answer."""
    key = ClientKey()
    clock = FrozenClock(SIM_START)
    model = SiteModel.pw3(seed=2, clock=clock, start_time=SIM_START)
    with SimulatedGateway(model=model, tedapi_keys=[signing_key.public_pem], clock=clock) as gw:
        gw.v1r_keys.add(key.pub_der, state="verified")
        leader = gw.model.gateway_din
        signed = signature.signed_bytes(1, text.encode())
        env = query_envelope(leader, signed, signing_key.sign(signed), "{}")
        answer = Lan(gw).post(Signed(key=key, envelope=env, din=leader, expires_at=int(gw.now()) + 12).body())
        assert answer.fault == 9  # INVALID_COMMAND
        assert (gw.v1r_requests[-1].kind, gw.v1r_requests[-1].verdict) == (kind, "INVALID_COMMAND")
        assert len(gw.dangerous_calls) == 1


# ------------------------------------------------------------------ the simulator's own pieces
@pytest.mark.parametrize(
    ("text", "operation"),
    [
        (b"query DeviceControllerQuery { control { a } }", "DeviceControllerQuery"),
        (b"  query PW3Query($f: ComponentFilter = {types: [PCH]}) { a(filter: $f) { b } }", "PW3Query"),
        (b"query Q { a } fragment F on T { b }", "Q"),
        (b'query Q { a(note: "mutation is a word here") }', "Q"),
        (b"query Q { a } # mutation in a comment", "Q"),
        (b"mutation Q { a }", None),
        (b"subscription Q { a }", None),
        (b"query Q { a } mutation M { b }", None),
        (b"query Q { a } query R { b }", None),
        (b"query { a }", None),
        (b"{ a }", None),
        (b"query Q { a", None),
        (b"query Q { a }}", None),
        (b"query Q { a } trailing", None),
        (b"query Q \xff { a }", None),
        (b"", None),
    ],
)
def test_the_operation_of_a_query_text(text: bytes, operation: str | None) -> None:
    assert graphql.operation(text) == operation


def test_the_read_operations_cover_what_the_exporter_may_send() -> None:
    assert queries.READ_OPERATIONS <= READ_OPERATIONS


def test_the_component_types_are_the_same_fact_in_both_copies() -> None:
    assert COMPONENT_TYPES == query_variables.COMPONENT_TYPES


@pytest.mark.parametrize("version", [0, 1, 2, 300])
@pytest.mark.parametrize("text", [b"", b"query Q { a }", b"x" * 200])
def test_signed_bytes_are_what_protobuf_writes(version: int, text: bytes) -> None:
    expected = PB.SignedGraphQLQuery(version=version, query=text).SerializeToString()
    assert signature.signed_bytes(version, text) == expected == queries.signed_bytes(version, text)


def test_the_signature_check(signing_key: SigningKey) -> None:
    data = signature.signed_bytes(1, b"query Q { a }")
    good = signing_key.sign(data)
    other = SigningKey()
    assert signature.verify(data, good, [signing_key.public_pem])
    assert signature.verify(data, good, [other.public_pem, signing_key.public_pem])
    assert not signature.verify(data, good, [other.public_pem])
    assert not signature.verify(data + b" ", good, [signing_key.public_pem])
    assert not signature.verify(data, b"not DER", [signing_key.public_pem])
    assert not signature.verify(data, good, [])
    p256 = ec.generate_private_key(ec.SECP256R1())
    p256_pem = p256.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    from cryptography.hazmat.primitives import hashes

    assert not signature.verify(data, p256.sign(data, ec.ECDSA(hashes.SHA256())), [p256_pem])  # not P-521


def test_components_variables_of_the_simulator_texts_are_known_types() -> None:
    """The simulator's own query variables name only types it knows (else its answer would be empty)."""
    types = {t for v in COMPONENTS_VARIABLES.values() if isinstance(v, dict) for t in v.get("types", [])}
    assert types <= COMPONENT_TYPES
