"""Single flight keeps answers, not failures: a failure reaches the callers of its own flight only.

On an injected clock: the cache is the only part in play, and "when" is the clock's.
"""

from __future__ import annotations

import logging

import pytest

from exporter.gateway.cache import NOT_SUPPORTED_TTL_SECONDS, SingleFlight
from exporter.gateway.outcomes import Fetched, FetchError
from exporter.gateway.request import Request
from tests.clocks import ManualClock

HOUR = Request("GET", "/tedapi/din", auth="tedapi", min_interval_seconds=3600.0, label="tedapi:din")
OPTIONAL = Request("GET", "/api/devices/vitals", optional=True, label="/api/devices/vitals")


def _answer(clock: ManualClock) -> Fetched:
    return Fetched(HOUR.path, 200, b"1232100-00-E--TG0123456789AB", 0.01, clock())


def test_a_failure_is_shared_by_its_flight_and_never_reused_after_it() -> None:
    clock = ManualClock()
    flight = SingleFlight(5.0, clock)
    future, lead = flight.lookup(HOUR)
    follower, follows = flight.lookup(HOUR)  # a concurrent scraper: waits for the same attempt
    assert lead and not follows and follower is future
    flight.finish(HOUR, future, FetchError("timeout", "tedapi:din: timed out after 4.0 s"), "home")
    shared = follower.result()
    assert isinstance(shared, FetchError) and shared.reason == "timeout"
    # The very next caller (1 ms later, well inside the hour an answer is kept) starts a new attempt:
    # whether it reaches the gateway is for the back-off to say, not for the cache.
    clock.now += 0.001
    again, lead = flight.lookup(HOUR)
    assert lead and again is not future
    answer = _answer(clock)
    flight.finish(HOUR, again, answer, "home")
    # An answer is kept for its interval, and then asked for again.
    clock.now += 3599.0
    kept, lead = flight.lookup(HOUR)
    assert not lead and kept.result() is answer
    clock.now += 1.0
    _, lead = flight.lookup(HOUR)
    assert lead


def test_a_failure_drops_the_expired_answer_it_was_to_replace() -> None:
    clock = ManualClock()
    flight = SingleFlight(5.0, clock)
    first, _ = flight.lookup(HOUR)
    flight.finish(HOUR, first, _answer(clock), "home")
    clock.now += 3600.0
    retry, lead = flight.lookup(HOUR)
    assert lead
    flight.finish(HOUR, retry, FetchError("connection", "tedapi:din: connection refused"), "home")
    _, lead = flight.lookup(HOUR)
    assert lead  # neither the failure nor the old answer stands in


def test_not_supported_is_remembered_for_the_time_its_log_line_says(caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock()
    flight = SingleFlight(5.0, clock)
    future, _ = flight.lookup(OPTIONAL)
    with caplog.at_level(logging.INFO):
        flight.finish(OPTIONAL, future, FetchError("not_supported", "HTTP 404 (not on this gateway)", 404), "home")
    (line,) = caplog.messages
    assert f"asking again in {NOT_SUPPORTED_TTL_SECONDS:.0f} s" in line
    clock.now += NOT_SUPPORTED_TTL_SECONDS - 1
    remembered, lead = flight.lookup(OPTIONAL)
    assert not lead
    result = remembered.result()
    assert isinstance(result, FetchError) and result.reason == "not_supported" and result.status is None
    clock.now += 1
    _, lead = flight.lookup(OPTIONAL)
    assert lead


def test_an_answer_that_does_not_decode_is_discarded_but_a_newer_one_stays() -> None:
    clock = ManualClock()
    flight = SingleFlight(5.0, clock)
    future, _ = flight.lookup(HOUR)
    garbage = _answer(clock)
    flight.finish(HOUR, future, garbage, "home")
    flight.discard(HOUR, garbage)  # the reader found it does not decode: not reused for the hour
    again, lead = flight.lookup(HOUR)
    assert lead
    good = _answer(clock)
    flight.finish(HOUR, again, good, "home")
    flight.discard(HOUR, garbage)  # a late word about the old answer leaves the new one alone
    kept, lead = flight.lookup(HOUR)
    assert not lead and kept.result() is good


def test_a_sweep_drops_answers_past_their_interval_and_keeps_the_rest() -> None:
    """Between a fleet's probes (30 s apart, answers reused for 5 s) nothing should hold old answers,
    nor what was decoded from them: the sweep drops them without waiting for the next lookup."""
    clock = ManualClock()
    flight = SingleFlight(5.0, clock)
    short = Request("GET", "/api/status", label="/api/status")
    for request in (HOUR, short):
        future, _ = flight.lookup(request)
        flight.finish(request, future, _answer(clock), "home")
    assert flight.sweep() == 0
    clock.now += 5.0
    assert flight.sweep() == 1  # /api/status expired; the DIN is kept for its hour
    _, lead = flight.lookup(short)
    assert lead
    kept, lead = flight.lookup(HOUR)
    assert not lead and isinstance(kept.result(), Fetched)


def test_quiet_for_is_how_long_before_a_request_is_sent_again() -> None:
    """What the transport asks before it keeps a connection for a request: an answer reused for an
    hour, or an endpoint known to be absent, keeps it off the wire that long; a failure, not at all."""
    clock = ManualClock()
    flight = SingleFlight(5.0, clock)
    assert flight.quiet_for(HOUR) == 0.0  # never asked
    future, _ = flight.lookup(HOUR)
    flight.finish(HOUR, future, _answer(clock), "home")
    clock.now += 600.0
    assert flight.quiet_for(HOUR) == 3000.0
    clock.now += 3000.0
    assert flight.quiet_for(HOUR) == 0.0  # expired: the next lookup sends it
    future, _ = flight.lookup(OPTIONAL)
    flight.finish(OPTIONAL, future, FetchError("not_supported", "HTTP 404 (not on this gateway)", 404), "home")
    assert flight.quiet_for(OPTIONAL) == NOT_SUPPORTED_TTL_SECONDS
    future, _ = flight.lookup(HOUR)
    flight.finish(HOUR, future, FetchError("timeout", "tedapi:din: timed out after 4.0 s"), "home")
    assert flight.quiet_for(HOUR) == 0.0
