"""The v1r auth domain: signs each request as it leaves, reads each answer's verdict, and picks the path.

Why an auth domain: the signature is v1r's only credential, so signing belongs where the transport asks
a domain for credentials, right before the socket, and the transport's pauses apply to it like to any
refused credential. Three jobs, each for a reason a user sees:

* **Signing** (:meth:`V1rSigner.sign`): a fresh expiry, uuid and signature for every request, a retry
  included, with ``expires_at`` on the *gateway's* clock. The offset is learned from the ``Date``
  header of every v1r answer (:class:`GatewayClock`); a time fault with a new offset is retried once.
* **Verdicts** (:meth:`V1rSigner.open`): the bare envelope of an accepted answer, or a
  :class:`V1rFault` counted by name. A key fault (the gateway does not know, trust or verify the key)
  pauses the domain, 60 s doubling, so a wrong key never floods the gateway, and is logged once per
  episode with the fingerprint in use and what to do next.
* **Failover** (:class:`Failover`): with a WiFi path too, 3 consecutive transport failures (never key
  faults) move the leader's reads to WiFi; the LAN is probed again after 480 s, doubling to 7,680 s,
  one probe at a time.
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
import uuid as uuidlib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from exporter.gateway.auth import Credentials
from exporter.gateway.backoff import Pause, whole_seconds
from exporter.gateway.outcomes import Fetched, FetchError, Result
from exporter.sources.tedapi import v1r
from exporter.sources.tedapi.envelope import EnvelopeError, describe_bare
from exporter.sources.tedapi.v1r_key import ClientKey

log = logging.getLogger(__name__)

AUTH_DOMAIN = "tedapi_v1r"
KEY_FAULT_PAUSE_SECONDS = 60.0
KEY_FAULT_PAUSE_MAX_SECONDS = 960.0
FAILOVER_AFTER = 3
PROBE_FIRST_SECONDS = 480.0
PROBE_MAX_SECONDS = 7680.0
# Counted from the start so increase() sees the first one (the others appear when they happen).
COMMON_FAULTS = (
    "busy",
    "timeout",
    "unknown_key_id",
    "inactive_key",
    "invalid_signature",
    "time_expired",
    "time_to_live_too_long",
    v1r.NOT_VERIFIED,
    v1r.EMPTY_ANSWER,
)
_REGISTER = (
    "register it once: python -m pypowerwall register -authpath DIR (it reuses DIR/tedapi_rsa_private.pem), "
    "or point tedapi.v1r_key_file at the key you registered"
)
_SWITCH = (
    "switch the Powerwall 3's On/Off switch OFF for about 15 s and ON again, within about 10 minutes of registering"
)
# fault -> (reason of the failed request, what the user does next). A fault with a next step is a
# key fault: it pauses the domain and sets powerwall_tedapi_v1r_key_accepted to 0.
KEY_FAULTS: Mapping[str, str] = {
    "unknown_key_id": f"the gateway does not know this key: {_REGISTER}",
    "inactive_key": f"the key is registered but inactive (verification timed out, or removed): register the same "
    f"key again, then {_SWITCH}",
    v1r.NOT_VERIFIED: f"the key is registered but not verified yet: {_SWITCH}",
    "invalid_signature": "the gateway refused the signature: tedapi.v1r_key_file must be the private half of the "
    "registered key",
    "wrong_personalization": "the signature names another DIN: tedapi.din must be the leader's DIN (or leave it out)",
    "insufficient_privileges": f"the key may not read: {_REGISTER} as an authorized client",
    "not_provisioned_with_identity": "the gateway holds no identity for v1r yet: update its firmware, or use WiFi",
}
CLOCK_FAULTS = frozenset({"time_expired", "time_to_live_too_long"})
_REASONS = {"busy": "rate_limited", "timeout": "timeout"}


class V1rFault(FetchError):
    """A v1r answer that carries no data: a fault by name (``busy``, ``unknown_key_id``, ...)."""

    def __init__(self, fault: str, label: str, *, retry: bool = False) -> None:
        reason = "unauthorized" if fault in KEY_FAULTS or fault in CLOCK_FAULTS else _REASONS.get(fault, "decode")
        super().__init__(reason, f"{label}: the gateway refused the v1r request ({fault})", 200)
        self.fault = fault
        self.retry = retry


class GatewayClock:
    """The gateway's clock, as its ``Date`` headers tell it (1 s resolution)."""

    def __init__(self, wall: Callable[[], float]) -> None:
        self._wall = wall
        self._offset: float | None = None

    def observe(self, date: str | None) -> bool:
        """Learn from one answer's ``Date``; True when the offset moved by more than 2 s."""
        if not date:
            return False
        try:
            stamp = email.utils.parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return False
        # Date is the gateway's second, truncated, stamped before the answer travelled: +0.5 centres it.
        offset = stamp + 0.5 - self._wall()
        moved = self._offset is None or abs(offset - self._offset) > 2.0
        self._offset = offset
        return moved

    @property
    def offset(self) -> float | None:
        """Gateway minus exporter, in seconds; None before the first answer."""
        return self._offset

    def now(self) -> float:
        return self._wall() + (self._offset or 0.0)


class Failover:
    """Which path the leader's reads take, when a WiFi path is configured too (see the module docstring)."""

    def __init__(self, gateway: str, enabled: bool, clock: Callable[[], float] = time.monotonic) -> None:
        self._gateway = gateway
        self.enabled = enabled
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._on_wifi = False
        self._probe_in = PROBE_FIRST_SECONDS
        self._probe_at = 0.0
        self._probing = False

    def use_clock(self, clock: Callable[[], float]) -> None:
        self._clock = clock

    def lan(self) -> bool:
        """Whether the leader's reads go over v1r now."""
        with self._lock:
            return not self._on_wifi

    def probe_ready(self) -> bool:
        """Whether :meth:`take_probe` would give a probe now (without taking it)."""
        with self._lock:
            return self._probe_due()

    def take_probe(self) -> bool:
        """On WiFi: True once when a probe of the LAN is due (it is then in flight until it settles)."""
        with self._lock:
            if not self._probe_due():
                return False
            self._probing = True
            return True

    def _probe_due(self) -> bool:
        """(Under the lock.) On WiFi, no probe in flight, and its time has come."""
        return self._on_wifi and not self._probing and self._clock() >= self._probe_at

    def answered(self) -> None:
        with self._lock:
            back = self._on_wifi
            self._failures, self._on_wifi, self._probing = 0, False, False
            self._probe_in = PROBE_FIRST_SECONDS
        if back:
            log.warning("gateway %s: v1r answers on the LAN again; reading the leader over v1r", self._gateway)

    def failed(self, why: str) -> None:
        """A v1r request got no usable answer from the transport (not a fault the gateway answered)."""
        if not self.enabled:
            return
        with self._lock:
            now = self._clock()
            if self._on_wifi:
                if not self._probing:
                    return  # a request sent before the switch, ending late
                self._probing = False
                self._probe_in = min(PROBE_MAX_SECONDS, self._probe_in * 2)
                self._probe_at = now + self._probe_in
                switched, delay = False, self._probe_in
            else:
                self._failures += 1
                if self._failures < FAILOVER_AFTER:
                    return
                self._on_wifi, self._probe_in = True, PROBE_FIRST_SECONDS
                self._probe_at = now + self._probe_in
                switched, delay = True, self._probe_in
        if switched:
            log.warning(
                "gateway %s: %d v1r requests in a row failed (last: %s); reading the leader over WiFi, "
                "trying the LAN again in %d s",
                self._gateway,
                FAILOVER_AFTER,
                why,
                whole_seconds(delay),
            )
        else:
            log.info("gateway %s: the v1r probe failed (%s); next probe in %d s", self._gateway, why, delay)

    def inconclusive(self) -> None:
        """The probe was answered with a fault: the LAN is there but unusable; try again after the same wait."""
        with self._lock:
            if self._on_wifi and self._probing:
                self._probing = False
                self._probe_at = self._clock() + self._probe_in


@dataclass(frozen=True, slots=True)
class V1rStats:
    faults: Mapping[str, int]
    key_accepted: bool | None  # None: no verdict on the key yet
    clock_offset: float | None


class V1rSigner:
    """The ``tedapi_v1r`` auth domain of one gateway (see the module docstring)."""

    domain = AUTH_DOMAIN

    def __init__(
        self,
        gateway: str,
        key: ClientKey,
        failover: Failover,
        wall: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._gateway = gateway
        self.key = key
        self.failover = failover
        self.gateway_clock = GatewayClock(wall)
        self._pause = Pause(clock)
        self._lock = threading.Lock()
        self._faults: Counter[str] = Counter(dict.fromkeys(COMMON_FAULTS, 0))
        self._key_accepted: bool | None = None
        self._episode: str | None = None  # the key or clock fault being reported, once

    # ---- the Auth protocol ---------------------------------------------------------------------
    def credentials(self, deadline: float) -> Credentials | FetchError:
        return Credentials(0)  # no header: the signature in the body is the credential

    def rejected(self, cred: Credentials, label: str, status: int, retried: bool) -> bool:
        # §6: a 401/403 on v1r means the session expired; the retry is signed afresh (sign()).
        return not retried

    def accepted(self, cred: Credentials) -> None:
        return None

    def paused_for(self) -> float:
        return self._pause.remaining()

    def logins(self) -> Mapping[str, int]:
        return {}

    def use_clock(self, clock: Callable[[], float]) -> None:
        self._pause = Pause(clock)
        self.failover.use_clock(clock)

    # ---- signing and verdicts -------------------------------------------------------------------
    def sign(self, envelope: bytes) -> bytes:
        """The RoutableMessage for one attempt: new expiry (gateway clock), new uuid, new signature."""
        kind, din = describe_bare(envelope)
        if kind.startswith("dangerous:"):
            raise FetchError("connection", f"v1r: refusing to sign a {kind} envelope")
        expires_at = int(self.gateway_clock.now()) + v1r.EXPIRES_IN_SECONDS
        signature = self.key.sign(v1r.signed_bytes(din, expires_at, envelope))
        uuid = str(uuidlib.uuid4()).encode("ascii")
        return v1r.request(envelope, self.key.public_der, expires_at, signature, uuid)

    def open(self, label: str, body: bytes, headers: Mapping[str, str]) -> bytes | FetchError:
        """The bare envelope of a 200 answer, or the fault it carries (counted, logged once, paused)."""
        moved = self.gateway_clock.observe(headers.get("date"))
        try:
            answer = v1r.read_answer(body)
        except EnvelopeError as exc:
            return FetchError("decode", f"{label}: {exc}", 200)
        if not answer.fault:
            self._accepted()
            assert answer.envelope is not None
            return answer.envelope
        with self._lock:
            self._faults[answer.fault] += 1
        fault = V1rFault(answer.fault, label, retry=answer.fault in CLOCK_FAULTS and moved)
        if not fault.retry:
            self._refused(answer.fault)
        return fault

    def settled(self, result: Result) -> None:
        """The end of one v1r request, for the failover: answered, a fault, or a transport failure."""
        if isinstance(result, Fetched):
            self.failover.answered()
        elif isinstance(result, V1rFault) or result.reason in ("cooldown", "rate_limited", "unauthorized"):
            self.failover.inconclusive()
        else:
            self.failover.failed(str(result))

    def stats(self) -> V1rStats:
        with self._lock:
            return V1rStats(dict(self._faults), self._key_accepted, self.gateway_clock.offset)

    def _accepted(self) -> None:
        with self._lock:
            episode, self._episode = self._episode, None
            self._key_accepted = True
        self._pause.reset()
        if episode is not None:
            log.warning(
                "gateway %s: v1r accepted key %s again (after %s)", self._gateway, self.key.fingerprint, episode
            )

    def _refused(self, fault: str) -> None:
        step = KEY_FAULTS.get(fault)
        if step is None and fault in CLOCK_FAULTS:
            offset = self.gateway_clock.offset
            step = (
                "the gateway judged the signature's expiry wrong for its clock"
                + (f" (offset {offset:+.0f} s)" if offset is not None else "")
                + ": fix this host's clock (NTP)"
            )
        if step is None:
            return  # busy, timeout, ...: counted and reported as the request's failure, no pause
        delay = self._pause.block(KEY_FAULT_PAUSE_SECONDS, once=True, cap=KEY_FAULT_PAUSE_MAX_SECONDS)
        with self._lock:
            if fault in KEY_FAULTS:
                self._key_accepted = False
            new = self._episode != fault
            self._episode = fault
        if new:
            log.error(
                "gateway %s: v1r refused key %s (%s): %s; asking again in %d s",
                self._gateway,
                self.key.fingerprint,
                fault,
                step,
                whole_seconds(self._pause.remaining() if delay is None else delay),
            )
