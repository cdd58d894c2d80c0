"""Absurd and oversized payloads through the real exporter path (simulated HTTPS gateway → collector).

Why: the unit tests prove each guard; these prove the guards sit where every sample really passes,
with the client's JSON decoding, the per-endpoint mapping isolation and the counter guard in between.
The simulator's ``extra_json`` fault merges the hostile fields into otherwise normal answers.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from exporter.accounting.flows import FLOW_PAIRS
from exporter.config import parse_config
from exporter.metrics.metricset import MetricSet
from exporter.scrape.collector import PowerwallCollector
from exporter.simulator import SimulatedGateway
from exporter.web.exposition import render_openmetrics, render_text
from tests.support.wiring import SIM_PASSWORD, gateway_config, make_collector

AGGREGATES = "/api/meters/aggregates"
IMPORTED = "powerwall_meter_energy_imported_joules_total"
EXPORTED = "powerwall_meter_energy_exported_joules_total"
METERS = ("site", "battery", "load", "solar")


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


# ------------------------------------------------------------- hostile numbers in the accounting
# Every kind of value that is no number (exporter.coerce); each is served in place of one lifetime
# counter of /api/meters/aggregates. ``nan``/``inf`` travel as the NaN/Infinity tokens Python's JSON
# reader accepts, as a firmware bug could send them.
HOSTILE_COUNTERS: dict[str, Any] = {
    "huge_int": 10**400,
    "-huge_int": -(10**400),
    "str_NaN": "NaN",
    "nan": float("nan"),
    "inf": float("inf"),
    "str_number": "12345.6",
    "list": [1, 2],
    "nested_dict": {"value": {"deeper": 1}},
    "bool": True,
    "null": None,
}
COST = ("powerwall_grid_import_cost_total", "powerwall_grid_export_credit_total")
OUTAGE = ("powerwall_grid_outages_total", "powerwall_grid_outage_seconds_total")


@pytest.fixture
def priced(sim: SimulatedGateway) -> Iterator[PowerwallCollector]:
    """A collector with a tariff, so the cost series exist next to the flows and the outages."""
    raw = {
        "name": "hostile",
        "address": sim.url,
        "password": SIM_PASSWORD,
        "tls": {"ca_file": str(sim.cert_path)},
        "tariff": {"currency": "EUR", "import_price_per_kwh": 0.30, "export_price_per_kwh": 0.08},
    }
    cfg = replace(parse_config({"gateways": [raw]}).gateways[0], timeout_seconds=5.0, min_interval_seconds=0.0)
    c = make_collector(cfg)
    try:
        yield c
    finally:
        c.close()


def flow_totals(ms: MetricSet) -> dict[tuple[str, str], float]:
    return {
        (dict(k)["source"], dict(k)["sink"]): v for k, v in ms.samples("powerwall_energy_flow_joules_total").items()
    }


@pytest.mark.parametrize(("meter", "key"), [("solar", "energy_exported"), ("site", "energy_imported")])
@pytest.mark.parametrize("value", HOSTILE_COUNTERS.values(), ids=HOSTILE_COUNTERS.keys())
def test_hostile_counter_costs_its_series_only(
    value: Any,
    meter: str,
    key: str,
    sim: SimulatedGateway,
    priced: PowerwallCollector,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One meter's counter is no number: that meter's series is absent, every other series stays.

    The solar export feeds the energy flows, the site import the grid cost; either one unusable
    makes that reading add no interval (the totals hold), and neither may cost the accounting's
    other series or be reported as a bug.
    """
    caplog.set_level(logging.INFO)
    base = priced.scrape()
    assert set(flow_totals(base)) == set(FLOW_PAIRS)

    sim.faults.set("extra_json", {meter: {key: value}}, paths={AGGREGATES})
    ms = priced.scrape()

    assert ms.get("powerwall_scrape_endpoint_success", endpoint=AGGREGATES) == 1.0
    hostile_series = EXPORTED if key == "energy_exported" else IMPORTED
    assert ms.get(hostile_series, meter=meter) is None
    for m in METERS:  # the other meters, and the hostile meter's other counter, are intact
        for series in (IMPORTED, EXPORTED):
            if (m, series) != (meter, hostile_series):
                assert ms.get(series, meter=m) is not None, (m, series)
    # The accounting's series are all there: flows, cost and outages.
    flows = flow_totals(ms)
    assert set(flows) == set(FLOW_PAIRS)
    if meter == "solar":
        assert flows == flow_totals(base)  # the unusable reading added no interval
    for name in (*COST, *OUTAGE):
        assert ms.get(name) is not None, name
    assert not [r for r in caplog.records if "a bug" in r.getMessage()]
    for body in rendered(ms):
        assert "Inf" not in body and "NaN" not in body

    sim.faults.clear("extra_json")
    after = priced.scrape()
    assert after.get(hostile_series, meter=meter) is not None
    assert set(flow_totals(after)) == set(FLOW_PAIRS)
