"""After a bad moment at any step of TEDAPI's chain, its data is back at the first attempt the back-off
allows, never after the step's reuse interval (an hour for the DIN and the firmware, 10 min for config.json);
and the log line that announces the wait names the delay and the HTTP code that were really applied.

Scrapes run on an injected clock (:mod:`tests.sources.tedapi.clocked`), so every "when" below is that
clock's; the only real waits are the socket timeouts of a hanging access point (``BUDGET``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from exporter.metrics.metricset import MetricSet
from exporter.scrape.gateway import GatewayScraper
from exporter.simulator import SiteModel
from tests.clocks import START
from tests.simtime import SIM_START
from tests.sources.tedapi.clocked import Clock, clocked_scraper, scrape
from tests.sources.tedapi.test_tedapi_against_simulator import Site, start_site

BUDGET = 2.0  # seconds per scrape; also how long a hanging request really blocks the test
HANG_SECONDS = 8.0
TEDAPI_INTERVAL = 30.0  # the device queries' cadence (tedapi.min_interval_seconds)
# Which log line announces the wait, and the delay in it.
ANNOUNCES = re.compile(r"(?:alone for|asking again in|next attempt in) (\d+) s")

# The step as the simulator records it -> the endpoint label of its series (components: a prefix).
STEPS = {
    "din": "tedapi:din",
    "config": "tedapi:config",
    "firmware": "tedapi:firmware",
    "query:DeviceControllerQuery": "tedapi:DeviceControllerQuery",
    "query:ComponentsQuery": "tedapi:ComponentsQuery",
}


@dataclass(frozen=True)
class Failure:
    """A bad moment of the access point: the fault, and what the exporter must say and do about it."""

    fault: str
    value: object
    says: str  # in the log line that announces the wait
    wait: tuple[int, int]  # the announced delay lies in this range (s)


FAILURES = {
    # The access point answers nothing for 8 s (each request in that time times out).
    "hang": Failure("tedapi_delay", HANG_SECONDS, "leaving the tedapi host alone for", (10, 10)),
    # One answer each; a cooldown of 300 s with up to 20 % jitter.
    "503": Failure("tedapi_status", 503, "answered HTTP 503 (service unavailable)", (300, 360)),
    "429": Failure("tedapi_status", 429, "answered HTTP 429 (rate limited)", (300, 360)),
    "403": Failure("tedapi_status", 403, "refused the tedapi credentials (HTTP 403)", (60, 60)),
}


@pytest.fixture
def pw3(tmp_path: Path) -> Iterator[Site]:
    site = start_site(tmp_path, SiteModel.pw3(start_time=SIM_START), interval=TEDAPI_INTERVAL)
    yield site
    site.gw.stop()


@pytest.fixture
def rig(pw3: Site) -> Iterator[tuple[GatewayScraper, Clock]]:
    clock = Clock()
    scraper = clocked_scraper(pw3.cfg, clock, tedapi_only=True)
    yield scraper, clock
    scraper.retire()


def _success(ms: MetricSet) -> dict[str, float]:
    found = {dict(k)["endpoint"]: v for k, v in ms.samples("powerwall_scrape_endpoint_success").items()}
    return {e: v for e, v in found.items() if e.startswith("tedapi:")}


def _step_failed(ms: MetricSet, label: str) -> bool:
    return any(v == 0 for e, v in _success(ms).items() if e.startswith(label))


@pytest.mark.parametrize("failure", sorted(FAILURES))
@pytest.mark.parametrize("step", list(STEPS))
def test_data_is_back_at_the_first_attempt_the_back_off_allows(
    step: str,
    failure: str,
    pw3: Site,
    rig: tuple[GatewayScraper, Clock],
    caplog: pytest.LogCaptureFixture,
) -> None:
    scraper, clock = rig
    gw, how, label = pw3.gw, FAILURES[failure], STEPS[step]
    units = len(gw.model.battery_dins)
    complete = 4 + units  # din, config, firmware, controller, components per unit
    asks = units if step == "query:ComponentsQuery" else 1  # requests the step makes in one scrape
    sent: list[int] = []  # TEDAPI requests the simulator had seen after each scrape

    def at(t: float) -> MetricSet:
        clock.now = START + t
        if failure == "hang" and t >= HANG_SECONDS:
            gw.faults.clear(how.fault)  # the access point is back
        ms = scrape(scraper, clock, BUDGET)
        sent.append(len(gw.tedapi_requests))
        return ms

    # The bad moment: this step only (the others may be asked in the same scrape and answer).
    gw.faults.set(how.fault, how.value, kinds={step}, times=None if failure == "hang" else 1)
    with caplog.at_level(logging.INFO):
        failed = at(0.0)
    assert _step_failed(failed, label), _success(failed)
    assert gw.tedapi_count(step) == 1  # the rest of the step (another unit) waits for the back-off too
    lines = [m for m in caplog.messages if ANNOUNCES.search(m)]
    assert len(lines) == 1, caplog.messages
    assert how.says in lines[0], lines[0]
    match = ANNOUNCES.search(lines[0])
    assert match is not None
    wait = int(match.group(1))
    assert how.wait[0] <= wait <= how.wait[1], lines[0]
    if failure == "503":
        assert not any("429" in m or "rate limited" in m for m in caplog.messages), caplog.messages

    # Scrapes as Prometheus makes them, and one a second before the announced time: the access point
    # is left alone (the whole TEDAPI domain), whatever the scrapes and the steps' reuse intervals.
    for t in [*range(15, wait - 1, 15), wait - 1]:
        held = at(float(t))
        assert sent[-1] == sent[0], f"a TEDAPI request at +{t} s, announced {wait} s: {gw.tedapi_requests}"
        assert _step_failed(held, label), (t, _success(held))

    # At the announced second: the step is asked once more, and every TEDAPI series is back.
    back = at(float(wait))
    assert gw.tedapi_count(step) == 1 + asks, gw.tedapi_requests
    success = _success(back)
    assert len(success) == complete and set(success.values()) == {1.0}, success
    assert back.samples("powerwall_pod_full_pack_energy_joules")
    if failure == "hang":
        assert wait <= 60 - HANG_SECONDS  # back within a minute of the start of an 8 s hang
    # The one announcement was the only one: nothing else promised another delay.
    assert len([m for m in caplog.messages if ANNOUNCES.search(m)]) == 1
