"""TEDAPI answers that do not decode: a counted ``decode`` failure of that request, never a bug report.

config.json is read once per 10 minutes and addresses the Powerwall 3 components queries, so its
failure also ran through the follow-ups, which logged "a bug: please report it" with a traceback on
every scrape. Here every broken answer comes from the simulated gateway's TEDAPI faults, aimed at one
message kind. Counting rule: one failure per fetched answer (scrapes that share one answer count it
once). An answer that does not decode is never reused: the next scrape asks again, whatever the
request's reuse interval (ten minutes for config.json, an hour for the DIN), so the data is back at
the first scrape after the gateway answers properly again.

Time is the transport's injected clock, which stands still here: nothing below waits for an interval
to pass. The collector takes its scrape deadlines from the real monotonic clock, so the gateway's
timeout is an hour (the simulator answers at once).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporter.config import Config
from exporter.gateway.transport import GatewayTransport
from exporter.metrics.metricset import MetricSet
from exporter.scrape.collector import PowerwallCollector
from exporter.simulator import SiteModel
from exporter.sources.registry import ALLOW_LIST
from tests.simtime import SIM_START
from tests.sources.tedapi.clocked import Clock
from tests.sources.tedapi.test_tedapi_against_simulator import Site, start_site

CONFIG = "tedapi:config"
CONTROLLER = "tedapi:DeviceControllerQuery"
COMPONENTS = "tedapi:ComponentsQuery"


@pytest.fixture
def pw3(tmp_path: Path) -> Iterator[Site]:
    site = start_site(tmp_path, SiteModel.pw3(start_time=SIM_START), interval=1.0)
    yield site
    site.gw.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def collector(pw3: Site, clock: Clock) -> Iterator[PowerwallCollector]:
    cfg = dataclasses.replace(pw3.cfg, timeout_seconds=3600.0)
    c = PowerwallCollector(Config(gateways=(cfg,)), transports=[GatewayTransport(cfg, ALLOW_LIST, clock=clock)])
    yield c
    c.close()


def _success(ms: MetricSet, endpoint: str) -> float | None:
    return ms.get("powerwall_scrape_endpoint_success", endpoint=endpoint)


def _components(ms: MetricSet) -> dict[str, float]:
    """Success of the components queries by Powerwall 3 DIN (their labels end in it)."""
    out = {}
    for key, value in ms.samples("powerwall_scrape_endpoint_success").items():
        endpoint = dict(key)["endpoint"]
        if endpoint.startswith(COMPONENTS + ":"):
            out[endpoint.removeprefix(COMPONENTS + ":")] = value
    return out


def _decode_errors(ms: MetricSet, endpoint: str) -> float | None:
    return ms.get("powerwall_scrape_endpoint_errors_total", endpoint=endpoint, reason="decode")


def _no_bug_reports(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records if r.exc_info]
    assert "Traceback" not in caplog.text
    assert not [m for m in caplog.messages if "a bug" in m]


def _lines(caplog: pytest.LogCaptureFixture, endpoint: str) -> tuple[int, int]:
    """(episode starts, episode ends) logged for ``endpoint``."""
    starts = sum(f"{endpoint} does not decode" in m for m in caplog.messages)
    ends = sum(f"{endpoint} answers usable data again" in m for m in caplog.messages)
    return starts, ends


CONFIG_FAULTS = {
    "garbage": ("tedapi_garbage", True),
    "truncated": ("tedapi_truncated", True),
    "wrong_wire_type": ("tedapi_wrong_wire_type", True),
    "truncated_json": ("tedapi_config_blob", b'{"vin": "1707000-11-J--TG1234567890", "battery_blo'),
    "json_not_an_object": ("tedapi_config_blob", b'["battery_blocks"]'),
}


@pytest.mark.parametrize("fault", sorted(CONFIG_FAULTS))
def test_a_config_json_that_does_not_decode_fails_that_request_and_is_asked_again(
    pw3: Site, collector: PowerwallCollector, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    name, value = CONFIG_FAULTS[fault]
    pw3.gw.faults.set(name, value, kinds={"config"})
    caplog.set_level(logging.DEBUG)
    for n in (1, 2, 3):  # every scrape asks again (the clock stands still), one failure per answer
        ms = collector.scrape()
        assert pw3.gw.tedapi_count("config") == n
        assert _success(ms, CONFIG) == 0 and _decode_errors(ms, CONFIG) == n
        assert _success(ms, "tedapi:din") == 1 and _success(ms, CONTROLLER) == 1
        assert _success(ms, "/api/meters/aggregates") == 1 and ms.get("powerwall_up") == 1
        assert not _components(ms)  # config.json addresses them: no follow-ups
    assert _lines(caplog, CONFIG) == (1, 0)  # one episode

    pw3.gw.faults.clear(name)
    ms = collector.scrape()  # the first scrape after the gateway answers properly: data is back
    assert _success(ms, CONFIG) == 1 and _decode_errors(ms, CONFIG) == 3
    # The follow-ups are back with a good config.json: one components query per Powerwall 3.
    assert _components(ms) == dict.fromkeys(pw3.gw.model.battery_dins, 1.0)
    assert _lines(caplog, CONFIG) == (1, 1)
    assert pw3.gw.tedapi_count("config") == 4
    collector.scrape()
    assert pw3.gw.tedapi_count("config") == 4  # a good answer is reused for its interval again
    _no_bug_reports(caplog)


def test_a_garbage_controller_answer_counts_once_per_fetched_answer(
    pw3: Site, collector: PowerwallCollector, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    pw3.gw.faults.set("tedapi_garbage", True, kinds={f"query:{CONTROLLER.removeprefix('tedapi:')}"})
    counts = []
    for _ in range(3):
        ms = collector.scrape()
        assert _success(ms, CONTROLLER) == 0 and _success(ms, CONFIG) == 1
        counts.append(_decode_errors(ms, CONTROLLER))
    assert counts == [1, 2, 3]
    pw3.gw.faults.clear()
    ms = collector.scrape()
    assert _success(ms, CONTROLLER) == 1 and _decode_errors(ms, CONTROLLER) == 3
    assert _lines(caplog, CONTROLLER) == (1, 1)
    _no_bug_reports(caplog)


def test_a_din_that_is_no_din_is_a_decode_failure_without_follow_ups_until_it_is_one(
    pw3: Site, collector: PowerwallCollector, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    pw3.gw.faults.set("tedapi_garbage", True, kinds={"din"})
    for n in (1, 2):
        ms = collector.scrape()
        assert _success(ms, "tedapi:din") == 0 and _decode_errors(ms, "tedapi:din") == n
        assert _success(ms, CONFIG) is None  # nothing is addressed without the DIN
    assert _lines(caplog, "tedapi:din") == (1, 0)
    pw3.gw.faults.clear()
    ms = collector.scrape()  # not an hour later (the DIN's reuse interval): at once
    assert _success(ms, "tedapi:din") == 1 and _success(ms, CONFIG) == 1 and _success(ms, CONTROLLER) == 1
    assert _lines(caplog, "tedapi:din") == (1, 1)
    _no_bug_reports(caplog)
