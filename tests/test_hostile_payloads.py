"""Absurd and oversized payloads through the real exporter path (simulated HTTPS gateway → collector).

Why: the unit tests prove each guard; these prove the guards sit where every sample really passes,
with the client's JSON decoding, the per-endpoint mapping isolation and the counter guard in between.
The simulator's ``extra_json`` fault merges the hostile fields into otherwise normal answers.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from exporter.collector import PowerwallCollector
from exporter.metrics.metricset import MetricSet
from exporter.simulator import SimulatedGateway
from exporter.web.exposition import render_openmetrics, render_text
from tests.conftest import gateway_config, make_collector

AGGREGATES = "/api/meters/aggregates"
IMPORTED = "powerwall_meter_energy_imported_joules_total"


@pytest.fixture
def collector(sim: SimulatedGateway) -> Iterator[PowerwallCollector]:
    c = make_collector(gateway_config(sim, name="hostile"))
    try:
        yield c
    finally:
        c.close()


def rendered(ms: MetricSet) -> tuple[str, str]:
    """Both expositions, each checked by prometheus_client's own parser."""
    text = render_text(ms, include_default=False).decode()
    om = render_openmetrics(ms, include_default=False).decode()
    list(parse_text(text))
    list(parse_openmetrics(om))  # type: ignore[no-untyped-call]
    return text, om


def test_absurd_energy_reading_is_absent_and_the_counter_carries_on(
    sim: SimulatedGateway, collector: PowerwallCollector
) -> None:
    before = collector.scrape().get(IMPORTED, meter="site")
    assert before is not None and math.isfinite(before)

    sim.faults.set("extra_json", {"site": {"energy_imported": 1e306, "instant_power": 10**400}}, paths={AGGREGATES})
    ms = collector.scrape()
    assert ms.get("powerwall_scrape_endpoint_success", endpoint=AGGREGATES) == 1.0  # not a "mapping bug"
    assert ms.get(IMPORTED, meter="site") is None
    assert ms.get("powerwall_meter_power_watts", meter="site") is None
    assert ms.get(IMPORTED, meter="battery") is not None  # the rest of the endpoint is intact
    for body in rendered(ms):
        assert "Inf" not in body and "NaN" not in body

    sim.faults.clear("extra_json")
    after = collector.scrape().get(IMPORTED, meter="site")
    assert after is not None and before <= after < 1e300


def hostile_fields() -> dict[str, object]:
    """20,000 unknown numeric fields, one 100k-character name, one named like a curated family."""
    fields: dict[str, object] = {"energy_imported_joules": 5}  # first: within the family limit
    fields.update({f"new_field_{i}": i for i in range(20_000)})
    fields["x" * 100_000] = 1
    return fields


def test_thousands_of_unknown_fields_and_a_huge_name_stay_bounded(
    sim: SimulatedGateway, collector: PowerwallCollector
) -> None:
    fields = hostile_fields()
    sim.faults.set("extra_json", {**fields, "site": fields}, paths={"/api/status", AGGREGATES})
    dropped = []
    for _ in range(2):
        ms = collector.scrape()
        names = ms.names()
        assert len(names) <= 3000
        assert max(map(len, names)) <= 256
        text, om = rendered(ms)
        assert len(text.encode()) < 1_000_000 and len(om.encode()) < 1_000_000  # was 9.8 MB
        for endpoint in ("/api/status", AGGREGATES):
            assert ms.get("powerwall_scrape_endpoint_success", endpoint=endpoint) == 1.0
        assert ms.get(IMPORTED, meter="site") is not None  # the curated counter is untouched
        assert ms.get("powerwall_meter_energy_imported_joules_value", meter="site") == 5.0
        dropped.append(
            ms.get("powerwall_generic_fields_dropped_total", endpoint=AGGREGATES, reason="too_many_fields") or 0.0
        )
    assert dropped[0] >= 20_000 - 500
    assert dropped[1] == 2 * dropped[0]  # a counter: cumulative across scrapes


def test_solar_powerwall_generic_vitals_stay_bounded(sim: SimulatedGateway, collector: PowerwallCollector) -> None:
    sim.faults.vitals_absent = True
    collector.scrape()  # learns that vitals are gone, so /api/solar_powerwall is asked from now on
    sim.faults.set("extra_json", {"pvac_status": hostile_fields()}, paths={"/api/solar_powerwall"})
    ms = collector.scrape()
    assert ms.get("powerwall_scrape_endpoint_success", endpoint="/api/solar_powerwall") == 1.0
    names = ms.names()
    assert len([n for n in names if n.startswith("powerwall_vital_")]) <= 500
    assert max(map(len, names)) <= 256
    assert ms.get("powerwall_generic_fields_dropped_total", endpoint="/api/solar_powerwall", reason="name_too_long")
    rendered(ms)
