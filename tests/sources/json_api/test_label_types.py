"""A label value is only ever text the gateway sent as text (exporter.site.labels).

Against the simulated gateway, through the collector: each answer gets one field of the wrong type
(the ``extra_json`` fault). That label is left out, the answer's other labels and series stay, the
endpoint does not fail, and the field is counted in ``powerwall_field_decode_errors_total``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest

from exporter.metrics.metricset import MetricSet
from exporter.scrape.collector import PowerwallCollector
from exporter.simulator import SimulatedGateway
from exporter.sources.json_api.endpoints import SITE_INFO
from exporter.web.exposition import render_text
from tests.support.wiring import gateway_config, make_collector

ERRORS = "powerwall_field_decode_errors_total"

# endpoint, patch, metric, label left out, a label that stays (with its value), field counted
CASES: list[tuple[str, dict[str, Any], str, str, tuple[str, str], str]] = [
    (
        "/api/site_info",
        {"grid_code": {"country": 61}},
        "powerwall_site_info",
        "country",
        ("state", "California"),
        "country",
    ),
    (
        "/api/status",
        {"din": 1232100},
        "powerwall_info",
        "din",
        ("device_type", "teg"),
        "din",
    ),
    (
        "/api/system_status/grid_status",
        {"grid_services_active": "yes"},
        "powerwall_grid_status_info",
        "grid_services_active",
        ("grid_status", "SystemGridConnected"),
        "grid_services_active",
    ),
    (
        "/api/powerwalls",
        {"powerwalls": [{"PackageSerialNumber": "TG123", "PackagePartNumber": "3012170-05-B", "type": 7}]},
        "powerwall_battery_info",
        "type",
        ("serial", "TG123"),
        "type",
    ),
]


_RUN = itertools.count()


@pytest.fixture
def collector(sim: SimulatedGateway, request: pytest.FixtureRequest) -> Iterator[PowerwallCollector]:
    """A collector whose gateway name no other test uses: the counts are cumulative per gateway name
    for the life of the process, so each test starts from none."""
    name = f"labels-{next(_RUN)}-{re.sub(r'[^a-z0-9]+', '-', request.node.name.lower())}"[:60]
    c = make_collector(gateway_config(sim, name=name))
    try:
        yield c
    finally:
        c.close()


def _labels(ms: MetricSet, name: str) -> list[dict[str, str]]:
    return [dict(k) for k in ms.samples(name)]


@pytest.mark.parametrize(("path", "patch", "metric", "gone", "kept", "field"), CASES, ids=[c[0] for c in CASES])
def test_a_field_of_the_wrong_type_is_no_label_and_is_counted(
    sim: SimulatedGateway,
    collector: PowerwallCollector,
    path: str,
    patch: dict[str, Any],
    metric: str,
    gone: str,
    kept: tuple[str, str],
    field: str,
) -> None:
    sim.faults.set("extra_json", patch, paths={path})
    # The site info is read every 10 minutes: its second scrape maps the first one's answer again.
    reread = path != SITE_INFO.path
    for n in (1, 2):
        ms = collector.scrape()
        assert ms.get("powerwall_scrape_endpoint_success", endpoint=path) == 1  # not a failed answer
        series = _labels(ms, metric)
        assert series and all(s.get(gone, "") == "" for s in series), series
        assert any(s.get(kept[0]) == kept[1] for s in series), series
        assert ms.get(ERRORS, endpoint=path, field=field) == (n if reread else 1)  # once per answer mapped
        assert len(ms.samples(ERRORS)) == 1
    assert b'="1232100"' not in render_text(ms, False) and b'type="7"' not in render_text(ms, False)


@pytest.mark.parametrize("value", [61, 6.1, True, ["United States"], {"name": "United States"}])
def test_no_type_but_text_becomes_a_label_value(
    sim: SimulatedGateway, collector: PowerwallCollector, value: Any
) -> None:
    sim.faults.set("extra_json", {"grid_code": {"country": value, "utility": None}}, paths={"/api/site_info"})
    ms = collector.scrape()
    (labels,) = _labels(ms, "powerwall_site_info")
    assert labels["country"] == "" and labels["utility"] == "" and labels["state"] == "California"
    assert ms.get(ERRORS, endpoint="/api/site_info", field="country") == 1
    assert ms.get(ERRORS, field="utility") is None  # null is the gateway's "not set", not a wrong type


def test_healthy_answers_count_nothing(collector: PowerwallCollector) -> None:
    assert collector.scrape().samples(ERRORS) == {}
