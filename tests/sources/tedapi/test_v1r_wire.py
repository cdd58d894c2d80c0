"""v1r answers, the gateway clock and the failover policy, each on its own (no gateway).

Answers are written with the test-side encoder (:mod:`tests.v1r_signer`), not the exporter's, and the
one real v1r payload there is (a Powerwall 3's getSystemInfo, a bare envelope with fields our schema
does not model) is read from ``../shared/fixtures`` as received.
"""

from __future__ import annotations

import email.utils

import pytest

from exporter.sources.tedapi import envelope, v1r
from exporter.sources.tedapi.v1r_signer import (
    FAILOVER_AFTER,
    PROBE_FIRST_SECONDS,
    PROBE_MAX_SECONDS,
    Failover,
    GatewayClock,
    V1rFault,
)
from tests.sources.tedapi.clocked import Clock
from tests.support.paths import FIXTURES
from tests.v1r_signer import NOT_VERIFIED, lfield, vfield

REAL_FIRMWARE = FIXTURES / "tedapi" / "pw3-fw24.12.6-getsysteminfo-response.envelope.pb"


def _answer(payload: bytes | None = None, fault: int | None = None) -> bytes:
    """An answer RoutableMessage as §6 describes it: from domain 7, payload in 10, fault in 12, uuid in 50."""
    out = lfield(7, vfield(1, 7))
    if payload is not None:
        out += lfield(10, payload)
    if fault is not None:
        out += lfield(12, vfield(1, fault))
    return out + lfield(50, b"0b9d5c1e-0000-4000-8000-000000000000")


def test_the_real_powerwall_3_firmware_answer_reads_through_v1r() -> None:
    real = REAL_FIRMWARE.read_bytes()
    answer = v1r.read_answer(_answer(real))
    assert answer.fault == "" and answer.envelope == real
    system = envelope.firmware_answer(answer.envelope, bare=True)
    assert (system.version, system.build, system.git_hash) == ("24.12.6", "24.12.6-PW3-AFCI", "008bf6ff")
    assert system.din == "1707000-00-J--TG9999999999XP" and system.serial == "TG9999999999XP"


@pytest.mark.parametrize(
    ("fault", "name"),
    [
        (1, "busy"),
        (2, "timeout"),
        (3, "unknown_key_id"),
        (4, "inactive_key"),
        (17, "time_expired"),
        (99, "unknown"),
        (2**31 - 1, "unknown"),
    ],
)
def test_faults_by_name(fault: int, name: str) -> None:
    assert v1r.read_answer(_answer(None, fault)) == v1r.Answer(None, name)


def test_a_pending_key_and_an_empty_answer_are_refusals() -> None:
    assert v1r.read_answer(_answer(NOT_VERIFIED)).fault == "authorization_not_verified"
    assert v1r.read_answer(_answer(None)).fault == "empty_answer"
    with pytest.raises(envelope.EnvelopeError):
        v1r.read_answer(b"<html>busy</html>")


def test_fault_reasons_keep_the_error_counter_readable() -> None:
    assert V1rFault("unknown_key_id", "tedapi:config").reason == "unauthorized"
    assert V1rFault("time_expired", "tedapi:config").reason == "unauthorized"
    assert V1rFault("busy", "tedapi:config").reason == "rate_limited"
    assert V1rFault("timeout", "tedapi:config").reason == "timeout"
    assert V1rFault("internal", "tedapi:config").reason == "decode"


def test_the_gateway_clock_from_date_headers() -> None:
    wall = Clock(1_800_000_000.0)
    clock = GatewayClock(wall)
    assert clock.offset is None and clock.now() == wall.now
    assert clock.observe(email.utils.formatdate(wall.now + 300, usegmt=True))
    assert clock.offset == pytest.approx(300.5)
    assert not clock.observe(email.utils.formatdate(wall.now + 301, usegmt=True)), "1 s is the header's resolution"
    assert clock.now() == pytest.approx(wall.now + 301.5)
    for junk in (None, "", "yesterday", "Mon, 99 Foo 2026 99:99:99 GMT"):
        assert not clock.observe(junk)
    assert clock.offset == pytest.approx(301.5)


def test_failover_after_three_transport_failures_and_probes_doubling() -> None:
    clock = Clock()
    f = Failover("home", enabled=True, clock=clock)
    for _ in range(FAILOVER_AFTER - 1):
        f.failed("connection")
    assert f.lan()
    f.answered()  # a success between failures: they are not consecutive
    for _ in range(FAILOVER_AFTER - 1):
        f.failed("connection")
    assert f.lan()
    f.failed("connection")
    assert not f.lan()
    waits = []
    for _ in range(6):
        start = clock.now
        while not f.take_probe():
            clock.now += 30
        assert not f.take_probe(), "one probe at a time"
        waits.append(clock.now - start)
        f.failed("timeout")
    assert waits[0] == pytest.approx(PROBE_FIRST_SECONDS, abs=30)
    assert [round(w / PROBE_FIRST_SECONDS) for w in waits] == [1, 2, 4, 8, 16, 16]
    assert max(waits) <= PROBE_MAX_SECONDS + 30
    clock.now += PROBE_MAX_SECONDS
    assert f.take_probe()
    f.answered()
    assert f.lan()


def test_a_fault_on_a_probe_neither_fails_nor_succeeds() -> None:
    clock = Clock()
    f = Failover("home", enabled=True, clock=clock)
    for _ in range(FAILOVER_AFTER):
        f.failed("connection")
    clock.now += PROBE_FIRST_SECONDS
    assert f.take_probe()
    f.inconclusive()
    assert not f.lan() and not f.take_probe()
    clock.now += PROBE_FIRST_SECONDS
    assert f.take_probe(), "the same wait again, not doubled"


def test_without_a_wifi_path_there_is_no_failover() -> None:
    f = Failover("home", enabled=False, clock=Clock())
    for _ in range(10):
        f.failed("connection")
    assert f.lan() and not f.take_probe()
