"""A gateway cannot make the exporter export more devices than a real site has (exporter.devices.bounds).

End to end: the simulated Powerwall 3 site's leader answers its ComponentsQuery with 20,000 packs
(the ``tedapi_extra_json`` fault), the collector scrapes it, and the production encoder renders the
exposition. Then the budget's own rules (limits, order, one identity counted once, the log episode)
through ``flatten_devices`` with hand-made records.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporter.devices.bounds import MAX_DEVICES, MAX_DEVICES_PER_FAMILY, DeviceBudget, DeviceDrops, bound_gateway
from exporter.devices.flatten import flatten_devices
from exporter.devices.model import Device
from exporter.metrics.metricset import MetricSet
from exporter.simulator import SiteModel
from exporter.web.exposition import render_text
from tests.simtime import SIM_START
from tests.sources.tedapi.answers import many_packs, pack_serial
from tests.sources.tedapi.test_tedapi_against_simulator import Site, start_site
from tests.support.wiring import make_collector

PACKS = 20_000
DROPPED = "powerwall_devices_dropped_total"


@pytest.fixture
def flooded(tmp_path: Path) -> Iterator[Site]:
    """A Powerwall 3 site (leader + follower with one pack) whose leader lists 20,000 packs."""
    site = start_site(tmp_path, SiteModel.pw3(start_time=SIM_START, expansions=(0, 0)))
    leader = site.gw.model.battery_dins[0]
    site.gw.faults.set(
        "tedapi_extra_json", many_packs(PACKS), paths={f"/tedapi/device/{leader}/v1"}, kinds={"query:ComponentsQuery"}
    )
    yield site
    site.gw.stop()


def _serials(ms: MetricSet, family: str) -> list[str]:
    """Serials of ``family``'s device info series, in the order they were written."""
    return [dict(k)["serial"] for k in ms.samples("powerwall_device_info") if dict(k)["device"] == family]


def test_20000_packs_give_a_bounded_exposition_the_first_packs_and_a_counted_drop(
    flooded: Site, caplog: pytest.LogCaptureFixture
) -> None:
    collector = make_collector(dataclasses.replace(flooded.cfg, timeout_seconds=60.0))
    try:
        with caplog.at_level(logging.INFO, logger="exporter.devices.bounds"):
            scrapes = [collector.scrape(timeout=60) for _ in range(3)]
    finally:
        collector.close()
    follower_pack = flooded.gw.model.packs[1][0].serial
    for n, ms in enumerate(scrapes, start=1):
        assert (
            ms.get(
                "powerwall_scrape_endpoint_success",
                endpoint="tedapi:ComponentsQuery:" + flooded.gw.model.battery_dins[0],
            )
            == 1
        )
        body = render_text(ms, False)
        assert len(body) < 2_000_000, len(body)
        # The first packs the leader listed, in its order; the follower's own pack comes after a full family.
        assert _serials(ms, "HVP") == [pack_serial(k) for k in range(MAX_DEVICES_PER_FAMILY)]
        assert follower_pack not in body.decode()
        per_scrape = PACKS - MAX_DEVICES_PER_FAMILY + 1
        assert ms.get(DROPPED, reason="family_limit") == n * per_scrape
        assert ms.get(DROPPED, reason="total_limit") == 0
        # Everything else of the site is still there.
        assert ms.get("powerwall_device_info", device="PCH") == 1
        assert ms.get("powerwall_meter_power_watts", meter="site") is not None
    lines = [r.getMessage() for r in caplog.records if r.name == "exporter.devices.bounds"]
    assert len(lines) == 1, lines
    assert "gateway home" in lines[0] and f"{PACKS - MAX_DEVICES_PER_FAMILY + 1} (family_limit)" in lines[0]
    assert repr(pack_serial(MAX_DEVICES_PER_FAMILY)) in lines[0] and "tedapi:ComponentsQuery" in lines[0]


def test_every_gateway_counts_from_zero(tmp_path: Path) -> None:
    site = start_site(tmp_path, SiteModel.pw3(start_time=SIM_START))
    collector = make_collector(site.cfg)
    try:
        ms = collector.scrape()
    finally:
        collector.close()
        site.gw.stop()
    assert {dict(k)["reason"]: v for k, v in ms.samples(DROPPED).items()} == {"family_limit": 0, "total_limit": 0}


def _device(family: str, k: int) -> Device:
    serial = f"S{k:05d}"
    return Device(din=f"{family}--P--{serial}", family=family, part_number="P", serial=serial, signals={"X_A": 1.0})


def test_the_gateway_keeps_the_first_devices_of_its_answers_in_order() -> None:
    ms = MetricSet()
    families = [f"F{f}" for f in range(5)]
    answers = []
    for family in families:  # five answers of 60 devices: each answer fits, the gateway does not
        answers.append(DeviceBudget())
        flatten_devices([_device(family, k) for k in range(60)], ms, f"answer-{family}", bound=answers[-1])
    assert all(not a.dropped for a in answers)
    scrape = bound_gateway(answers, ms)
    kept = [(dict(k)["device"], dict(k)["serial"]) for k in ms.samples("powerwall_device_info")]
    assert kept == [(f, f"S{k:05d}") for f in families for k in range(60)][:MAX_DEVICES]
    signals = [(dict(k)["device"], dict(k)["serial"]) for k in ms.samples("powerwall_vital_x_a")]
    assert signals == kept  # every series of a device beyond the limit is gone, not only its info
    assert scrape.dropped == {"total_limit": 5 * 60 - MAX_DEVICES}
    assert scrape.example == "'F4' serial 'S00016' from answer-F4"


def test_the_gateway_counts_what_its_answers_dropped() -> None:
    ms = MetricSet()
    first, second = DeviceBudget(), DeviceBudget()
    flatten_devices([_device("HVP", k) for k in range(70)], ms, "leader", bound=first)
    flatten_devices([_device("HVP", 100)], ms, "follower", bound=second)
    scrape = bound_gateway([first, second], ms)
    assert first.dropped == {"family_limit": 6} and not second.dropped
    assert scrape.dropped == {"family_limit": 7} and scrape.example == "'HVP' serial 'S00064' from leader"
    assert len(_serials(ms, "HVP")) == MAX_DEVICES_PER_FAMILY and "S00100" not in _serials(ms, "HVP")


def test_a_device_two_answers_report_counts_once() -> None:
    budget = DeviceBudget(max_per_family=2)
    ms = MetricSet()
    flatten_devices([_device("HVP", 0), _device("HVP", 1)], ms, "leader", bound=budget)
    flatten_devices([_device("HVP", 1), _device("HVP", 0), _device("HVP", 2)], ms, "again", bound=budget)
    assert _serials(ms, "HVP") == ["S00000", "S00001"]
    assert budget.dropped == {"family_limit": 1}


def test_one_answer_is_bounded_even_without_the_scrapes_budget() -> None:
    ms = MetricSet()
    flatten_devices([_device("TEPOD", k) for k in range(1000)], ms, "/api/devices/vitals")
    assert _serials(ms, "TEPOD") == [f"S{k:05d}" for k in range(MAX_DEVICES_PER_FAMILY)]


def test_drops_are_logged_once_per_episode(caplog: pytest.LogCaptureFixture) -> None:
    drops = DeviceDrops("home")

    def scrape(devices: int) -> MetricSet:
        budget, ms = DeviceBudget(max_per_family=3), MetricSet(base_labels={"gateway": "home"})
        flatten_devices([_device("TEPOD", k) for k in range(devices)], ms, "/api/devices/vitals", bound=budget)
        drops.record(budget, ms)
        return ms

    with caplog.at_level(logging.INFO, logger="exporter.devices.bounds"):
        for devices in (5, 5, 5, 2, 2, 4):
            ms = scrape(devices)
    levels = [(r.levelno, r.getMessage().split(":")[0]) for r in caplog.records]
    assert levels == [
        (logging.WARNING, "gateway home"),
        (logging.INFO, "gateway home"),
        (logging.WARNING, "gateway home"),
    ]
    assert ms.get(DROPPED, reason="family_limit") == 2 + 2 + 2 + 1
