"""Issue 11 acceptance against a scripted gateway whose lifetime counters advance by known energies.

Why scripted: the attribution rule, the dip handling and the tariff pricing must match the contract
exactly, which needs inputs we choose. The stand-in gateway is the simulator in replay mode (real HTTPS
on 127.0.0.1, login, sessions); it re-reads its files on every request, so each step rewrites
/api/meters/aggregates with the next counters and the collector scrapes as in production. The
accounting clock is injected so tariff periods and gaps do not depend on when the test runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from exporter.config import parse_config
from exporter.metrics.metricset import MetricSet
from exporter.scrape.collector import PowerwallCollector
from exporter.simulator import SimulatedGateway
from exporter.sources.json_api import endpoints as ep
from tests.support.wiring import SIM_PASSWORD, make_collector, only_requests

PAIRS = [
    ("solar", "home"),
    ("battery", "home"),
    ("grid", "home"),
    ("solar", "battery"),
    ("grid", "battery"),
    ("solar", "grid"),
    ("battery", "grid"),
]
TZ = "Europe/Berlin"
# Monday 2024-06-03 10:00 Berlin: inside no window of TOU below; 17:00 is "peak"; 23:00 "night".
MONDAY_10 = datetime(2024, 6, 3, 10, 0, tzinfo=ZoneInfo(TZ)).timestamp()
STEP = 30.0


def expected_flows(s: float, load: float, d: float, c: float) -> dict[tuple[str, str], float]:
    """The contract's rule, transcribed independently of exporter.accounting.flows."""
    sh = max(0.0, min(s, load))
    bh = max(0.0, min(d, load - sh))
    gh = max(0.0, load - sh - bh)
    sb = max(0.0, min(s - sh, c))
    gb = max(0.0, c - sb)
    sg = max(0.0, s - sh - sb)
    bg = max(0.0, d - bh)
    return {
        ("solar", "home"): sh,
        ("battery", "home"): bh,
        ("grid", "home"): gh,
        ("solar", "battery"): sb,
        ("grid", "battery"): gb,
        ("solar", "grid"): sg,
        ("battery", "grid"): bg,
    }


class Scripted:
    """A replay tree whose aggregates the test rewrites, the gateway serving it, and a collector."""

    def __init__(self, root: Path, tariff: dict[str, Any] | None) -> None:
        self.root = root
        api = root / "api"
        (api / "meters").mkdir(parents=True)
        (api / "system_status").mkdir()
        (api / "site_info.json").write_text(json.dumps({"site_name": "Scripted", "timezone": TZ}))
        (api / "system_status" / "grid_status.json").write_text(
            json.dumps({"grid_status": "SystemGridConnected", "grid_services_active": False})
        )
        # Lifetime counters in Wh: solar exported, load imported, battery exported/imported, site imported/exported.
        self.counters = {"solar": 5e6, "load": 8e6, "bat_out": 2e6, "bat_in": 2.2e6, "site_in": 3e6, "site_out": 1e6}
        self.write()
        self.gw = SimulatedGateway(password=SIM_PASSWORD, replay_dir=root)
        self.gw.start()
        gateway: dict[str, Any] = {
            "name": "home",
            "address": self.gw.url,
            "password": SIM_PASSWORD,
            "tls": {"ca_file": str(self.gw.cert_path)},
            "min_interval_seconds": 0,
        }
        if tariff is not None:
            gateway["tariff"] = tariff
        self.collector: PowerwallCollector = make_collector(parse_config({"gateways": [gateway]}).gateways[0])
        scraper = self.collector.scrapers["home"]
        only_requests(scraper, ep.METERS_AGGREGATES, ep.GRID_STATUS, ep.SITE_INFO)
        self.now = MONDAY_10
        scraper.accounting.clock = lambda: self.now

    def write(self) -> None:
        c = self.counters
        body = {
            "site": {"energy_imported": c["site_in"], "energy_exported": c["site_out"], "instant_power": 0},
            "battery": {"energy_imported": c["bat_in"], "energy_exported": c["bat_out"], "instant_power": 0},
            "load": {"energy_imported": c["load"], "energy_exported": 0, "instant_power": 0},
            "solar": {"energy_imported": 0, "energy_exported": c["solar"], "instant_power": 0},
        }
        (self.root / "api" / "meters" / "aggregates.json").write_text(json.dumps(body))

    def step(self, **wh: float) -> MetricSet:
        """Advance the named counters by the given Wh (negative = a dip), wait STEP seconds, scrape."""
        for k, v in wh.items():
            self.counters[k] += v
        self.write()
        self.now += STEP
        return self.collector.scrape()

    def close(self) -> None:
        self.collector.close()
        self.gw.stop()


@pytest.fixture
def scripted(tmp_path: Path) -> Iterator[Scripted]:
    s = Scripted(tmp_path / "gw", {"currency": "EUR", "import_price_per_kwh": 0.30, "export_price_per_kwh": 0.08})
    try:
        yield s
    finally:
        s.close()


def flows(ms: MetricSet) -> dict[tuple[str, str], float]:
    out = {}
    for key, v in ms.samples("powerwall_energy_flow_joules_total").items():
        d = dict(key)
        out[(d["source"], d["sink"])] = v
    return out


# (S, L, D, C) per interval in Wh: every branch of the rule (surplus charging and exporting, deficit
# covered by battery then grid, battery exporting, grid charging, nothing at all).
SCRIPT = [
    (100.0, 40.0, 0.0, 30.0),
    (100.0, 40.0, 0.0, 80.0),
    (0.0, 50.0, 20.0, 0.0),
    (0.0, 20.0, 50.0, 0.0),
    (10.0, 30.0, 5.0, 0.0),
    (0.0, 10.0, 0.0, 60.0),
    (25.0, 25.0, 0.0, 0.0),
    (0.0, 0.0, 0.0, 0.0),
    (3.5, 1.25, 0.75, 2.0),
]


def test_flows_match_the_rule_and_a_dip_adds_nothing(scripted: Scripted) -> None:
    first = scripted.collector.scrape()
    assert flows(first) == dict.fromkeys(PAIRS, 0.0), "all seven series exist from the first reading, at 0"
    assert first.get("powerwall_energy_flow_skipped_intervals_total", reason="counter_dip") == 0
    assert first.get("powerwall_energy_flow_skipped_intervals_total", reason="gap") == 0
    want = dict.fromkeys(PAIRS, 0.0)
    for s, load, d, c in SCRIPT:
        ms = scripted.step(solar=s, load=load, bat_out=d, bat_in=c)
        for pair, wh in expected_flows(s, load, d, c).items():
            want[pair] += wh * 3600.0
        got = flows(ms)
        for pair in PAIRS:
            assert got[pair] == pytest.approx(want[pair], rel=0.005, abs=1e-6), (pair, s, load, d, c)

    # A dip in one counter: the interval adds nothing to any flow, and is counted.
    before = flows(ms)
    ms = scripted.step(solar=-2.0, load=40.0, bat_out=10.0, bat_in=0.0)
    assert flows(ms) == before
    assert ms.get("powerwall_energy_flow_skipped_intervals_total", reason="counter_dip") == 1
    # The next interval counts again, from the dipped reading (a reset costs one interval).
    ms = scripted.step(solar=50.0, load=30.0, bat_out=0.0, bat_in=10.0)
    for pair, wh in expected_flows(50.0, 30.0, 0.0, 10.0).items():
        assert flows(ms)[pair] == pytest.approx(before[pair] + wh * 3600.0, rel=0.005, abs=1e-6)


def test_cached_reading_adds_nothing_and_a_gap_is_skipped(scripted: Scripted) -> None:
    scripted.collector.scrape()
    ms = scripted.step(solar=100.0, load=40.0, bat_in=60.0)
    once = flows(ms)
    scripted.now += STEP
    ms = scripted.collector.scrape()  # same counters: the cache (or a stuck gateway) answering again
    assert flows(ms) == once
    scripted.now += 3600.0  # nobody scraped for an hour
    ms = scripted.step(solar=5000.0, load=2000.0, bat_in=3000.0)
    assert flows(ms) == once
    assert ms.get("powerwall_energy_flow_skipped_intervals_total", reason="gap") == 1


def test_flat_price_cost_and_credit(scripted: Scripted) -> None:
    first = scripted.collector.scrape()
    assert first.get("powerwall_grid_import_cost_total", currency="EUR") == 0
    assert first.get("powerwall_grid_export_credit_total", currency="EUR") == 0
    assert first.get("powerwall_tariff_import_price_per_kwh", currency="EUR", period="default") == 0.30
    assert first.get("powerwall_tariff_export_price_per_kwh", currency="EUR", period="default") == 0.08
    imported = exported = 0.0
    for i in range(12):
        imp, exp = 120.0 + 7.0 * i, 35.0 * (i % 3)
        ms = scripted.step(site_in=imp, site_out=exp)
        imported += imp
        exported += exp
    cost = ms.get("powerwall_grid_import_cost_total", currency="EUR")
    credit = ms.get("powerwall_grid_export_credit_total", currency="EUR")
    assert cost == pytest.approx(imported / 1000 * 0.30, rel=0.005)
    assert credit == pytest.approx(exported / 1000 * 0.08, rel=0.005)
    by_period = ms.get("powerwall_grid_import_cost_by_period_total", currency="EUR", period="default")
    assert by_period == ms.get("powerwall_grid_import_cost_total", currency="EUR")
    # A dip in a site counter adds nothing to cost or credit.
    ms = scripted.step(site_in=-1.0, site_out=500.0)
    assert ms.get("powerwall_grid_import_cost_total", currency="EUR") == cost
    assert ms.get("powerwall_grid_export_credit_total", currency="EUR") == credit


TOU = {
    "currency": "EUR",
    "timezone": TZ,
    "import_price_per_kwh": 0.30,
    "export_price_per_kwh": 0.08,
    "periods": [
        {
            "name": "peak",
            "days": ["mon", "tue", "wed", "thu", "fri"],
            "start": "16:00",
            "end": "21:00",
            "import_price_per_kwh": 0.45,
            "export_price_per_kwh": 0.10,
        },
        {"name": "night", "start": "22:00", "end": "06:00", "import_price_per_kwh": 0.20},
    ],
}


@pytest.mark.parametrize(
    ("hour", "period", "imp", "exp"),
    [
        (10, "default", 0.30, 0.08),
        (17, "peak", 0.45, 0.10),
        (23, "night", 0.20, 0.08),  # night sets no export price: the default applies
        (3, "night", 0.20, 0.08),  # past midnight, still the window that started the evening before
    ],
)
def test_price_gauges_follow_the_clock(tmp_path: Path, hour: int, period: str, imp: float, exp: float) -> None:
    s = Scripted(tmp_path / "gw", TOU)
    try:
        s.now = datetime(2024, 6, 4, hour, 10, tzinfo=ZoneInfo(TZ)).timestamp()  # a Tuesday
        ms = s.collector.scrape()
        assert ms.samples("powerwall_tariff_import_price_per_kwh") == {
            (("gateway", "home"), ("currency", "EUR"), ("period", period)): imp
        }
        assert ms.get("powerwall_tariff_export_price_per_kwh", currency="EUR", period=period) == exp
        # Every period (and default) has its cost series from the first reading on.
        periods = {dict(k)["period"] for k in ms.samples("powerwall_grid_import_cost_by_period_total")}
        assert periods == {"peak", "night", "default"}
        # An interval is priced by the period in force at its midpoint.
        ms = s.step(site_in=1000.0, site_out=500.0)
        assert ms.get("powerwall_grid_import_cost_by_period_total", period=period) == pytest.approx(imp)
        assert ms.get("powerwall_grid_export_credit_by_period_total", period=period) == pytest.approx(exp * 0.5)
    finally:
        s.close()
