"""``POST /tedapi/v1r`` on the simulated gateway: faults, the verdict, the answer, the record.

Why apart from :mod:`exporter.simulator.tedapi.v1r`: that module is the pure reading of the wire
format and the rules; this one is the gateway's behaviour around them (its clock, key ring, faults,
model snapshot, gzip and request log), in the order a test can rely on:

1. Not POST → 404 (a method other than GET/HEAD is also flagged dangerous). v1r off on this gateway
   (``SimulatedGateway.v1r_enabled``; on by default where the site has it: ``SiteModel.tedapi_v1r``) → 404.
2. The body is walked (a body that does not walk is kind ``undecodable``), then the faults
   ``v1r_delay`` and ``v1r_status`` (forced HTTP code) with that kind.
3. The verdict (:func:`~exporter.simulator.tedapi.v1r.judge_signature`, then
   :func:`~exporter.simulator.tedapi.v1r.judge_envelope`), with the faults ``v1r_fault`` (answer this
   message_fault instead, right after the domain check), ``v1r_key_state`` (judge a registered signer
   key as if in this state) and ``v1r_follower_timeout`` (a request whose recipient is a follower
   faults TIMEOUT; without it the leader answers with its own data, as the docs say it does).
4. The answer: the read is built by the WiFi path's builders (:mod:`exporter.simulator.tedapi`) from
   the leader's data (``tedapi_extra_json``, ``tedapi_config_blob`` and ``tedapi_empty_data`` shape it
   too, aimed with ``paths={"/tedapi/v1r"}`` and ``kinds``), unwrapped to the bare envelope and put in a
   RoutableMessage. ``v1r_garbage`` / ``v1r_empty`` replace any 200 answer by non-protobuf bytes / a
   RoutableMessage without envelope or fault. Firmware >= 25.42.2 gzips it (without a header), as it
   does every TEDAPI answer.

Every request is recorded (:class:`V1rRecord`, ``gw.v1r_requests``) with its verdict, the signer key's
fingerprint, the expiry, the uuid and whether that uuid was seen before (the docs want a fresh one per
request, a retry included; the simulator records a reuse, it does not refuse it).
"""

from __future__ import annotations

import gzip
import threading
from dataclasses import dataclass
from typing import Protocol

from exporter.simulator.faults import Faults
from exporter.simulator.handler import RecordedRequest
from exporter.simulator.model import SiteModel
from exporter.simulator.replies import Reply, error_reply
from exporter.simulator.tedapi import answers
from exporter.simulator.tedapi.v1r import (
    FAULT_NAMES,
    MESSAGE_FAULTS,
    NOT_VERIFIED_TEXT,
    Envelope,
    Routable,
    Verdict,
    bare_envelope,
    encode_answer,
    judge_envelope,
    judge_signature,
    parse_envelope,
    parse_routable,
)
from exporter.simulator.tedapi.v1r_keys import KeyRing, key_state
from exporter.simulator.tedapi.wire import WireError

OCTET_STREAM = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class V1rRecord:
    """One v1r request and what the gateway made of it.

    ``verdict``: ``ok``, ``unverified``, ``empty``, ``garbage``, ``http:<code>`` or a fault name
    (``TIME_EXPIRED``, ``UNKNOWN_KEY_ID``, ...). ``kind`` as ``tedapi_requests`` names reads
    (``config``, ``firmware``, ``query:<Operation>``), else ``dangerous:<message>``, ``other``,
    ``undecodable`` or ``not-post``. ``time``: the gateway's clock (offset included)."""

    kind: str
    verdict: str
    detail: str
    recipient: str | None
    key_fingerprint: str | None
    expires_at: int | None
    uuid: bytes
    uuid_reused: bool
    time: float


class V1rGateway(Protocol):
    """What serving v1r needs of the gateway (:class:`~exporter.simulator.server.SimulatedGateway`):
    its site, clock, key rings, faults and records. Spelled out so that this module touches nothing
    else of it."""

    model: SiteModel
    faults: Faults
    v1r_enabled: bool
    v1r_keys: KeyRing
    v1r_max_ttl_seconds: float
    tedapi_keys: tuple[bytes, ...]
    v1r_log: V1rLog

    def now(self) -> float: ...

    def wait(self, seconds: float) -> bool: ...

    def random_bytes(self, n: int) -> bytes: ...

    def flag_dangerous(self, rec: RecordedRequest) -> None: ...


class V1rLog:
    """The gateway's record of v1r requests (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[V1rRecord] = []
        self._uuids: set[bytes] = set()

    def seen(self, uuid: bytes) -> bool:
        """Whether ``uuid`` came before (and remember it)."""
        with self._lock:
            if not uuid:
                return False
            reused = uuid in self._uuids
            self._uuids.add(uuid)
            return reused

    def add(self, rec: V1rRecord) -> None:
        with self._lock:
            self._records.append(rec)

    def records(self) -> list[V1rRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self._uuids.clear()


@dataclass(slots=True)
class _Request:
    msg: Routable | None
    env: Envelope | None
    why: str  # why msg or env is None

    @property
    def kind(self) -> str:
        if self.msg is None:
            return "undecodable"
        return self.env.kind if self.env is not None else "undecodable"


def _walk(body: bytes) -> _Request:
    try:
        msg = parse_routable(body)
    except WireError as exc:
        return _Request(None, None, str(exc))
    try:
        return _Request(msg, parse_envelope(msg.envelope), "")
    except WireError as exc:
        return _Request(msg, None, f"envelope: {exc}")


def serve(gw: V1rGateway, rec: RecordedRequest) -> Reply:
    """Answer one request to ``/tedapi/v1r`` (see the module docstring)."""
    method, path, now = rec.method, rec.path, gw.now()
    if method != "POST":
        if method not in ("GET", "HEAD"):
            gw.flag_dangerous(rec)
        _log(gw, now, "not-post", Verdict("http:404", f"{method} on {path}"), None)
        return error_reply(404)
    if not gw.v1r_enabled:
        _log(gw, now, "other", Verdict("http:404", "v1r is off on this gateway"), None)
        return error_reply(404)
    req = _walk(rec.body)
    kind, f = req.kind, gw.faults
    delay = f.take("v1r_delay", path, kind)
    if delay and gw.wait(float(delay)):
        return Reply(0, mode="reset")
    now = gw.now()  # after the delay, as the gateway would look at its clock
    forced = f.take("v1r_status", path, kind)
    if forced:
        _log(gw, now, kind, Verdict(f"http:{int(forced)}", "v1r_status fault"), req)
        return error_reply(int(forced), f.peek("retry_after", path))
    verdict = _verdict(gw, now, rec, req)
    payload: bytes | None = None
    if verdict.verdict == "ok":
        assert req.env is not None and req.msg is not None
        payload = _read(gw, path, req.env)
    elif verdict.verdict == "unverified":
        payload = NOT_VERIFIED_TEXT
    answer = encode_answer(payload, verdict.fault, req.msg.uuid if req.msg else b"")
    if f.take("v1r_garbage", path, kind):
        verdict = Verdict("garbage", f"v1r_garbage fault (instead of {verdict.verdict})")
        answer = b"\x0f" + gw.random_bytes(63)  # wire type 7 in the first tag: no protobuf
    elif f.take("v1r_empty", path, kind):
        verdict = Verdict("empty", f"v1r_empty fault (instead of {verdict.verdict})")
        answer = encode_answer(None, 0, req.msg.uuid if req.msg else b"")
    _log(gw, now, kind, verdict, req)
    if gw.model.tedapi_gzip:
        answer = gzip.compress(answer, mtime=0)
    return Reply(200, answer, OCTET_STREAM)


def _verdict(gw: V1rGateway, now: float, rec: RecordedRequest, req: _Request) -> Verdict:
    if req.msg is None:
        return Verdict("DECODING", req.why)
    msg, f, m, path = req.msg, gw.faults, gw.model, rec.path
    if msg.domain == 7:  # a forced fault answers a request addressed to the energy device
        forced = f.take("v1r_fault", path, req.kind)
        if forced:
            code = MESSAGE_FAULTS[forced.upper()] if isinstance(forced, str) else int(forced)
            return Verdict(FAULT_NAMES.get(code, str(code)), "v1r_fault fault")
    state = f.take("v1r_key_state", path, req.kind)
    verdict = judge_signature(
        msg,
        now=now,
        keys=gw.v1r_keys,
        leader_din=m.gateway_din,
        max_ttl=gw.v1r_max_ttl_seconds,
        forced_state=None if state is None else key_state(state),
        other_dins=m.battery_dins[1:] if m.generation == "pw3" else (),
    )
    if verdict.verdict != "ok":
        return verdict
    if req.env is None:
        return Verdict("DECODING", req.why)
    verdict = judge_envelope(req.env)
    if verdict.verdict == "INVALID_COMMAND" and req.env.kind.startswith("dangerous:"):
        gw.flag_dangerous(rec)
    if verdict.verdict != "ok":
        return verdict
    din = req.env.recipient_din
    followers = m.battery_dins[1:] if m.generation == "pw3" else ()
    if din in followers:
        if f.take("v1r_follower_timeout", path, req.kind):
            return Verdict("TIMEOUT", f"recipient {din} is a follower")
        return Verdict("ok", f"recipient {din} is a follower: answered with the leader's own data")
    return verdict


def _read(gw: V1rGateway, path: str, env: Envelope) -> bytes:
    """The leader's answer to one of the three reads, as a bare envelope."""
    f, m = gw.faults, gw.model
    kind, leader = env.kind, m.gateway_din
    m.set_forced_outage(bool(f.peek("grid_outage")))
    snap = m.snapshot()
    extra = f.take("tedapi_extra_json", path, kind) if kind != "firmware" else None
    patch = extra if isinstance(extra, dict) else None
    if kind == "config":
        blob = f.take("tedapi_config_blob", path, kind)
        message = answers.config_reply(snap, m, leader, 1, None if blob is None else bytes(blob), patch)
    elif kind == "firmware":
        message = answers.firmware_reply(m, leader, 1)
    else:
        empty = bool(f.take("tedapi_empty_data", path, kind))
        message = answers.query_reply(snap, m, env.query, 1, 0, gw.tedapi_keys, leader, empty_data=empty, extra=patch)
    return bare_envelope(message)


def _log(gw: V1rGateway, now: float, kind: str, verdict: Verdict, req: _Request | None) -> None:
    msg = req.msg if req is not None else None
    env_recipient = req.env.recipient_din if req is not None and req.env is not None else None
    uuid = msg.uuid if msg is not None else b""
    gw.v1r_log.add(
        V1rRecord(
            kind=kind,
            verdict=verdict.verdict,
            detail=verdict.detail,
            recipient=env_recipient,
            key_fingerprint=msg.key_fingerprint if msg is not None else None,
            expires_at=msg.expires_at if msg is not None else None,
            uuid=uuid,
            uuid_reused=gw.v1r_log.seen(uuid),
            time=now,
        )
    )
