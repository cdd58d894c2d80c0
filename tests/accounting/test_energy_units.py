"""Issue 11 building blocks without HTTP: config validation, tariff windows, interval rules, outages,
nameplates and warranty dates. Why: each rule has edge cases (midnight, DST, Powerwall 3 zeros,
exporter starting mid-outage) that are cheaper and clearer to pin here than through a gateway."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from exporter.accounting.battery_health import BatteryHealth, parse_commission
from exporter.accounting.flows import MIN_GAP_SECONDS, IntervalTracker, attribute
from exporter.accounting.nameplate_tables import nameplate_joules
from exporter.accounting.outages import OutageTracker
from exporter.accounting.tariff import Tariff
from exporter.config import ConfigError, EnergyConfig, add_years, parse_config
from exporter.devices.flatten import flatten_devices
from exporter.devices.model import Device
from exporter.metrics.metricset import MetricSet, gauge

BERLIN = ZoneInfo("Europe/Berlin")


def gateway(**extra: Any) -> dict[str, Any]:
    return {"name": "home", "address": "192.168.91.1", "password": "pw", **extra}


def tariff(**extra: Any) -> dict[str, Any]:
    return {"currency": "EUR", "import_price_per_kwh": 0.3, "export_price_per_kwh": 0.08, **extra}


def parse_tariff(t: dict[str, Any]) -> Tariff:
    cfg = parse_config({"gateways": [gateway(tariff=t)], "state_file": ""}).gateways[0].energy.tariff
    assert cfg is not None
    return Tariff(cfg)


def period(**extra: Any) -> dict[str, Any]:
    return {"name": "peak", "start": "16:00", "end": "21:00", "import_price_per_kwh": 0.45, **extra}


@pytest.mark.parametrize(
    ("t", "key"),
    [
        (tariff(currency="eur"), "gateways[0].tariff.currency"),
        (tariff(currency="EURO"), "gateways[0].tariff.currency"),
        (tariff(timezone="Mars/Olympus"), "gateways[0].tariff.timezone"),
        (tariff(import_price_per_kwh=-0.1), "gateways[0].tariff.import_price_per_kwh"),
        (tariff(export_price_per_kwh="cheap"), "gateways[0].tariff.export_price_per_kwh"),
        ({"currency": "EUR", "export_price_per_kwh": 0.1}, "gateways[0].tariff.import_price_per_kwh"),
        (tariff(price=1), "gateways[0].tariff.price"),
        (tariff(periods=[period(), period(start="25:00")]), "gateways[0].tariff.periods[1].start"),
        (tariff(periods=[period(start="7:00")]), "gateways[0].tariff.periods[0].start"),
        (tariff(periods=[period(start=960)]), "gateways[0].tariff.periods[0].start"),
        (tariff(periods=[period(start="24:00")]), "gateways[0].tariff.periods[0].start"),
        (tariff(periods=[period(end="24:01")]), "gateways[0].tariff.periods[0].end"),
        (tariff(periods=[period(end="16:00")]), "gateways[0].tariff.periods[0].end"),
        (tariff(periods=[period(days=["mon", "funday"])]), "gateways[0].tariff.periods[0].days[1]"),
        (tariff(periods=[period(days=[])]), "gateways[0].tariff.periods[0].days"),
        (tariff(periods=[period(name="default")]), "gateways[0].tariff.periods[0].name"),
        (tariff(periods=[period(name="peak hours")]), "gateways[0].tariff.periods[0].name"),
        (tariff(periods=[period(colour="red")]), "gateways[0].tariff.periods[0].colour"),
        (tariff(periods=[{"name": "x", "start": "01:00", "end": "02:00"}]), "gateways[0].tariff.periods[0]"),
        (tariff(periods={"peak": 1}), "gateways[0].tariff.periods"),
    ],
)
def test_bad_tariff_names_the_key(t: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({"gateways": [gateway(tariff=t)], "state_file": ""})
    assert exc.value.key == key


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ({"battery_commission_date": "2021-13-01"}, "gateways[0].battery_commission_date"),
        ({"battery_commission_date": "15.03.2021"}, "gateways[0].battery_commission_date"),
        ({"battery_warranty_years": 0}, "gateways[0].battery_warranty_years"),
        ({"battery_warranty_years": 7.5}, "gateways[0].battery_warranty_years"),
    ],
)
def test_bad_battery_keys_name_the_key(extra: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({"gateways": [gateway(**extra)], "state_file": ""})
    assert exc.value.key == key


def test_valid_energy_config() -> None:
    g = parse_config(
        {
            "gateways": [gateway(battery_commission_date=date(2021, 3, 15), tariff=tariff(periods=[period()]))],
            "state_file": "",
        }
    ).gateways[0]
    assert g.energy.battery_commission_date == date(2021, 3, 15)
    assert g.energy.battery_warranty_years == 10
    assert g.energy.tariff is not None and g.energy.tariff.periods[0].days == frozenset(range(7))
    assert parse_config({"gateways": [gateway()], "state_file": ""}).gateways[0].energy == EnergyConfig()


def at(y: int, mo: int, d: int, h: int, mi: int = 0, tz: ZoneInfo = BERLIN) -> float:
    return datetime(y, mo, d, h, mi, tzinfo=tz).timestamp()


def test_periods_first_match_midnight_and_fallback_prices() -> None:
    t = parse_tariff(
        tariff(
            timezone="Europe/Berlin",
            periods=[
                period(days=["mon", "tue", "wed", "thu", "fri"], export_price_per_kwh=0.1),
                {"name": "evening", "start": "18:00", "end": "24:00", "import_price_per_kwh": 0.40},
                {"name": "night", "days": ["fri"], "start": "22:00", "end": "06:00", "export_price_per_kwh": 0.02},
            ],
        )
    )
    # 2024-06-07 is a Friday.
    assert t.price_at(at(2024, 6, 7, 15, 59)).period == "default"
    p = t.price_at(at(2024, 6, 7, 16, 0))
    assert (p.period, p.import_per_kwh, p.export_per_kwh) == ("peak", 0.45, 0.1)
    assert t.price_at(at(2024, 6, 7, 19)).period == "peak"  # overlaps evening: first match wins
    assert t.price_at(at(2024, 6, 8, 19)).period == "evening"  # Saturday: no peak
    assert t.price_at(at(2024, 6, 7, 23)).period == "evening"
    night = t.price_at(at(2024, 6, 8, 3))  # Saturday 03:00, inside Friday's night window
    assert (night.period, night.import_per_kwh, night.export_per_kwh) == ("night", 0.3, 0.02)
    assert t.price_at(at(2024, 6, 9, 3)).period == "default"  # Sunday 03:00: Saturday has no night
    assert t.price_at(at(2024, 6, 8, 6)).period == "default"
    assert t.period_names == ("peak", "evening", "night", "default")


def test_timezone_defaults_to_site_info_then_utc() -> None:
    t = parse_tariff(tariff(periods=[period()]))
    utc16 = datetime(2024, 1, 8, 16, 30, tzinfo=ZoneInfo("UTC")).timestamp()
    assert t.price_at(utc16).period == "peak"
    t.note_site_timezone("America/New_York")  # 11:30 there
    assert t.price_at(utc16).period == "default"
    t.note_site_timezone("Not/AZone")  # logged, UTC again
    assert t.price_at(utc16).period == "peak"


def test_dst_local_time_is_used() -> None:
    t = parse_tariff(tariff(timezone="Europe/Berlin", periods=[period()]))
    # 16:30 local in winter (UTC+1) and in summer (UTC+2) are both peak.
    assert t.price_at(at(2024, 1, 8, 16, 30)).period == "peak"
    assert t.price_at(at(2024, 7, 8, 16, 30)).period == "peak"


def test_attribution_terms_never_negative_and_conserve_energy() -> None:
    f = attribute(10.0, 4.0, 3.0, 2.0)
    assert f[("solar", "home")] == 4 and f[("battery", "home")] == 0 and f[("solar", "battery")] == 2
    assert f[("solar", "grid")] == 4 and f[("battery", "grid")] == 3
    f = attribute(-1.0, 5.0, 0.0, 0.0)  # a negative input is clamped, not propagated
    assert f[("grid", "home")] == 5 and all(v >= 0 for v in f.values())


def test_tracker_powerwall3_zero_keeps_the_baseline() -> None:
    tr = IntervalTracker()
    assert tr.observe((1000.0, 50.0), 0) is None
    assert tr.observe((0.0, 51.0), 30) is None  # momentary zero
    iv = tr.observe((1002.0, 52.0), 60)
    assert iv is not None and iv.deltas == (2.0, 2.0) and iv.start == 0
    assert tr.skipped == {"counter_dip": 1, "gap": 0}


def test_tracker_implausible_jump_and_gap_threshold() -> None:
    tr = IntervalTracker()
    tr.observe((1000.0,), 0)
    assert tr.observe((1000.0 + 1e6,), 30) is None  # 1 MWh in 30 s: 120 MW
    assert tr.skipped["counter_dip"] == 1
    assert tr.observe((1000.0 + 1e6 + 1,), 60) is not None  # the jump became the baseline
    assert tr.gaps.threshold() == MIN_GAP_SECONDS
    for i in range(3, 40):
        tr.observe((1e6 + i,), i * 120.0)  # a slow scraper: 2 min intervals
    assert tr.gaps.threshold() == 600.0
    assert tr.observe((1e6 + 100,), 39 * 120.0 + 590) is not None


def test_outages_transitions_time_and_gaps() -> None:
    o = OutageTracker()
    off = {"grid_status": "SystemIslandedActive"}
    on = {"grid_status": "SystemGridConnected"}
    o.observe(off, 0)  # started mid-outage: time counts, the outage does not
    o.observe(off, 30)
    o.observe({"grid_status": "SystemTransitionToGrid"}, 60)
    o.observe(on, 90)
    assert (o.outages, o.outage_seconds, o.last_change) == (0, 90, 90)
    o.observe(on, 120)
    o.observe({"grid_status": "SystemTransitionToIsland"}, 150)
    assert (o.outages, o.last_change) == (1, 150)
    o.observe(off, 180)
    o.observe(off, 180 + 4000)  # no observation for over an hour: unknown, not counted
    o.observe(on, 4210)
    assert (o.outages, o.outage_seconds) == (1, 90 + 30 + 30)
    o.observe(None, 4240)
    o.observe({"grid_status": 3}, 4270)
    ms = MetricSet(base_labels={"gateway": "g"})
    o.metrics(ms)
    assert ms.get("powerwall_grid_last_change_timestamp_seconds") == 4210


def test_last_change_absent_until_seen() -> None:
    o = OutageTracker()
    o.observe({"grid_status": "SystemGridConnected"}, 0)
    ms = MetricSet()
    o.metrics(ms)
    assert ms.get("powerwall_grid_outages_total") == 0
    assert ms.get("powerwall_grid_outage_seconds_total") == 0
    assert ms.get("powerwall_grid_last_change_timestamp_seconds") is None


@pytest.mark.parametrize(
    ("part", "kwh"),
    [
        ("1081100-10-U", 13.5),
        ("1081100-13-V", 13.5),
        ("2012170-25-E", 13.5),
        ("3012170-05-B", 13.5),
        ("1707000-11-J", 13.5),
        ("1807000-20-B", 13.5),
        ("1538100-00-F", None),
        ("", None),
    ],
)
def test_nameplate_table(part: str, kwh: float | None) -> None:
    assert nameplate_joules(part) == (None if kwh is None else kwh * 3.6e6)


def test_nameplate_copies_the_pod_labels_and_warranty_dates() -> None:
    ms = MetricSet(base_labels={"gateway": "g"})
    full = gauge("powerwall_pod_full_pack_energy_joules", "x")
    ms.add(full, 4.5e7, {"device": "TEPOD", "serial": "T1", "part_number": "1081100-10-U"})
    ms.add(full, 4.5e7, {"device": "TEPOD", "serial": "T2", "part_number": "9999999-00-X"})
    bh = BatteryHealth(EnergyConfig(battery_commission_date=date(2020, 2, 29), battery_warranty_years=10))
    bh.observe({"battery_commission_date": "2019-01-01"})  # the configured date wins
    bh.metrics(ms, ms)
    assert ms.samples("powerwall_pod_nameplate_energy_joules") == {
        (("gateway", "g"), ("device", "TEPOD"), ("serial", "T1"), ("part_number", "1081100-10-U")): 13.5 * 3.6e6
    }
    assert ms.get("powerwall_battery_commission_timestamp_seconds") == at(2020, 2, 29, 0, tz=ZoneInfo("UTC"))
    assert ms.get("powerwall_battery_warranty_end_timestamp_seconds") == at(2030, 2, 28, 0, tz=ZoneInfo("UTC"))


def _pack(part: str, serial: str, parent: str) -> Device:
    return Device(
        din=f"HVP--{part}--{serial}",
        family="HVP",
        part_number=part,
        serial=serial,
        parent_din=parent,
        signals={"BMS_nominalFullPackEnergy": 13.1},
    )


def test_a_pack_of_unknown_part_number_takes_its_units_nameplate() -> None:
    # A real Powerwall 3's built-in pack reports 1800420-11-F, its DC expansions 1807000-20-B; the
    # full-pack series and the device info come from the same flattener as in a scrape.
    unit = "1707000-00-J--TG9999999999XP"
    devices = [
        Device(din=unit, family="PW3", part_number="1707000-00-J", serial="TG9999999999XP"),
        _pack("1800420-11-F", "TG1", unit),
        _pack("1841000-01-A", "TG2", unit),  # another part number the table does not know
        _pack("1807000-20-B", "TG3", unit),
        _pack("1800420-11-F", "TG4", "9999999-00-X--TG5"),  # its parent is not among the devices
        Device(din="X--9999999-00-X--TG6", family="X", part_number="9999999-00-X", serial="TG6"),
        _pack("1800420-11-F", "TG7", "X--9999999-00-X--TG6"),  # its parent is unknown too
    ]
    ms = MetricSet(base_labels={"gateway": "g"})
    flatten_devices(devices, ms, "test")
    assert len(ms.samples("powerwall_pod_full_pack_energy_joules")) == 5
    BatteryHealth(EnergyConfig()).metrics(ms, ms)
    got = {dict(k)["serial"]: v for k, v in ms.samples("powerwall_pod_nameplate_energy_joules").items()}
    assert got == {"TG1": 13.5 * 3.6e6, "TG2": 13.5 * 3.6e6, "TG3": 13.5 * 3.6e6}
    # the labels are the full-pack series' own, so the recording rule's division matches them
    full = set(ms.samples("powerwall_pod_full_pack_energy_joules"))
    assert set(ms.samples("powerwall_pod_nameplate_energy_joules")) <= full


def test_commission_date_from_site_info() -> None:
    bh = BatteryHealth(EnergyConfig())
    ms = MetricSet()
    bh.metrics(ms, ms)
    assert ms.get("powerwall_battery_commission_timestamp_seconds") is None
    bh.observe({"battery_commission_date": "2021-06-01T10:00:00-07:00"})
    bh.metrics(ms, ms)
    assert ms.get("powerwall_battery_commission_timestamp_seconds") == at(2021, 6, 1, 17, tz=ZoneInfo("UTC"))
    assert parse_commission("soon") is None and parse_commission(5) is None
    assert add_years(date(2024, 2, 29), 1) == date(2025, 2, 28)


def test_an_accounting_bug_costs_only_its_own_series(caplog: pytest.LogCaptureFixture) -> None:
    from exporter.accounting.site import SiteAccounting
    from exporter.site.shapes import Shape

    cfg = parse_config({"gateways": [gateway(tariff=tariff())], "state_file": ""}).gateways[0]
    acc = SiteAccounting(cfg, clock=lambda: 1000.0)
    ms = MetricSet(base_labels={"gateway": "home"})
    aggregates = {"site": {"energy_imported": 1.0, "energy_exported": 2.0}, "load": {"energy_imported": 3.0}}
    acc.observe(ms, {Shape.AGGREGATES: aggregates})
    assert ms.get("powerwall_grid_import_cost_total") == 0 and ms.get("powerwall_energy_flow_joules_total") == 0

    def broken(*_: object) -> None:
        raise RuntimeError("boom")

    acc.outages.observe = broken  # type: ignore[method-assign,assignment]
    ms = MetricSet(base_labels={"gateway": "home"})
    acc.observe(ms, {Shape.AGGREGATES: aggregates})
    assert len(ms) == 0
    assert "energy accounting failed" in caplog.text
