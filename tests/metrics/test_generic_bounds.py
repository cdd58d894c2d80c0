"""Generic exports (fields no table names) are bounded and can never break the exposition.

Why: every numeric field a table does not name is exported under a generic name, so the gateway
decides what the exposition contains. Unbounded, a 1 MB field name became a 1 MB metric name,
100k unknown fields became 100k families (19 MB per scrape), and a field named like a curated
family (``energy_imported_joules`` next to the counter ``powerwall_meter_energy_imported_joules``)
made the OpenMetrics output invalid, which fails the whole scrape for Prometheus.
"""

from __future__ import annotations

import itertools
import logging

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from exporter.devices.flatten import flatten_devices
from exporter.devices.model import Device
from exporter.metrics import metricset, naming
from exporter.metrics.metricset import Kind, MetricSet, counter, gauge, info
from exporter.site.mappers import map_aggregates, map_powerwalls, map_status
from exporter.sources.solar_powerwall.decode import decode_solar_powerwall
from exporter.web.exposition import render_openmetrics, render_text

VITALS = "/api/devices/vitals"  # the endpoint label of the generic-name budget
SOLAR_POWERWALL = "/api/solar_powerwall"  # the endpoint label of the generic-name budget

DROPPED = "powerwall_generic_fields_dropped_total"
_gateways = itertools.count()


def fresh_set() -> MetricSet:
    """A set for a gateway no other test used: the drop counter is cumulative per (gateway, endpoint)."""
    return MetricSet(base_labels={"gateway": f"bounds-{next(_gateways)}"})


def check_valid(ms: MetricSet) -> tuple[str, str]:
    text = render_text(ms, include_default=False).decode()
    om = render_openmetrics(ms, include_default=False).decode()
    list(parse_text(text))
    list(parse_openmetrics(om))  # type: ignore[no-untyped-call]
    return text, om


def hostile_fields(n: int = 20_000) -> dict[str, float]:
    fields: dict[str, float] = {f"new_field_{i}": float(i) for i in range(n)}
    fields["x" * 100_000] = 1.0
    return fields


def test_many_unknown_fields_and_a_huge_name_are_bounded() -> None:
    ms = fresh_set()
    map_status(hostile_fields(), ms)
    names = ms.names()
    generic = [n for n in names if n.startswith("powerwall_status_new_field_")]
    assert len(generic) == naming.MAX_GENERIC_FAMILIES
    assert generic == sorted(f"powerwall_status_new_field_{i}" for i in range(naming.MAX_GENERIC_FAMILIES))
    assert len(names) <= naming.MAX_GENERIC_FAMILIES + 10
    assert max(map(len, names)) <= naming.MAX_GENERIC_NAME_LENGTH
    assert ms.get(DROPPED, endpoint="/api/status", reason="too_many_fields") == 20_000 - naming.MAX_GENERIC_FAMILIES
    assert ms.get(DROPPED, endpoint="/api/status", reason="name_too_long") == 1
    text, _ = check_valid(ms)
    assert len(text) < 200_000


def test_name_length_limit_is_on_the_exported_name() -> None:
    prefix = "powerwall_status_"
    fits = "a" * (naming.MAX_GENERIC_NAME_LENGTH - len(prefix))
    ms = fresh_set()
    map_status({fits: 1, fits + "b": 2}, ms)
    assert ms.get(prefix + fits) == 1.0
    assert [n for n in ms.names() if n.startswith(prefix)] == [prefix + fits]
    assert ms.get(DROPPED, endpoint="/api/status", reason="name_too_long") == 1


def test_the_family_limit_counts_families_not_samples() -> None:
    """Every meter repeats the same unknown fields: that is one family per field, not one per meter."""
    ms = fresh_set()
    fields = {f"f{i}": 1.0 for i in range(naming.MAX_GENERIC_FAMILIES)}
    map_aggregates({m: dict(fields) for m in ("site", "battery", "load", "solar")}, ms)
    assert ms.get(DROPPED, endpoint="/api/meters/aggregates", reason="too_many_fields") is None
    assert len(ms.samples("powerwall_meter_f0")) == 4


@pytest.mark.parametrize(
    ("field", "curated"),
    [
        ("energy_imported_joules", "powerwall_meter_energy_imported_joules_total"),  # counter's family name
        ("power_watts", "powerwall_meter_power_watts"),  # a curated gauge of the same table
        ("energy_imported_joules_created", None),  # OpenMetrics' counter suffix
        ("energy_imported_joules_total", None),
        ("x_count", None),
        ("x_sum", None),
        ("x_bucket", None),
        ("x_info", None),
    ],
)
def test_generic_names_never_clash_with_curated_or_reserved_names(field: str, curated: str | None) -> None:
    ms = fresh_set()
    map_aggregates({"site": {"instant_power": 5.0, "energy_imported": 2.0, field: 7.0}}, ms)
    check_valid(ms)
    generic = [n for n in ms.names() if ms.get(n, meter="site") == 7.0]
    assert len(generic) == 1, ms.names()
    assert not generic[0].endswith(naming.RESERVED_SUFFIXES)
    assert ms.get("powerwall_meter_power_watts", meter="site") == 5.0  # the curated value is not overwritten
    assert ms.get("powerwall_meter_energy_imported_joules_total", meter="site") == 2.0 * 3600
    if curated is not None:
        assert generic[0] != curated.removesuffix("_total")


def test_generic_name_never_lands_in_another_tables_curated_family() -> None:
    """/api/powerwalls exports unknowns as ``powerwall_battery_*``, where /api/system_status's curated live."""
    ms = fresh_set()
    map_powerwalls({"powerwalls": [{"PackageSerialNumber": "S", "charge_ratio": 0.5, "block_power_watts": 1}]}, ms)
    assert ms.get("powerwall_battery_charge_ratio") is None
    assert ms.get("powerwall_battery_block_power_watts") is None
    assert ms.get("powerwall_battery_charge_ratio_value", serial="S") == 0.5
    assert ms.get("powerwall_battery_block_power_watts_value", serial="S") == 1.0


def test_drop_counter_is_cumulative_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    gateway = f"bounds-{next(_gateways)}"
    fields = hostile_fields(naming.MAX_GENERIC_FAMILIES + 10)
    counts = []
    with caplog.at_level(logging.WARNING, logger="exporter.metrics.naming"):
        for _ in range(3):
            ms = MetricSet(base_labels={"gateway": gateway})
            map_status(fields, ms)
            counts.append(ms.get(DROPPED, endpoint="/api/status", reason="too_many_fields"))
    assert counts == [10.0, 20.0, 30.0]
    logged = [r for r in caplog.records if gateway in r.getMessage()]
    assert len(logged) == 1
    assert len(logged[0].getMessage()) < 1000  # the 100k-character name is not logged whole
    # another endpoint of the same gateway gets its own line
    with caplog.at_level(logging.WARNING, logger="exporter.metrics.naming"):
        map_aggregates({"site": fields}, MetricSet(base_labels={"gateway": gateway}))
    assert len([r for r in caplog.records if gateway in r.getMessage()]) == 2


def test_no_drops_no_counter_series() -> None:
    ms = fresh_set()
    map_status({"a": 1, "b": 2}, ms)
    assert DROPPED not in ms.names()


def test_vitals_generic_names_are_bounded_too() -> None:
    vitals: dict[str, float | str] = {f"NEW_Vital{i}": float(i) for i in range(20_000)}
    vitals["V" * 100_000] = 1.0
    vitals["PINV_Pout"] = 1.0  # curated: never subject to the generic budget
    devices = [Device(din=f"D--{d}", family="TEPINV", part_number="", serial=str(d), signals=vitals) for d in "AB"]
    ms = fresh_set()
    flatten_devices(devices, ms, VITALS)
    generic = [n for n in ms.names() if n.startswith("powerwall_vital_")]
    assert len(generic) == naming.MAX_GENERIC_FAMILIES
    assert max(map(len, ms.names())) <= naming.MAX_GENERIC_NAME_LENGTH
    assert len(ms.samples(generic[0])) == 2  # both devices
    assert ms.get("powerwall_inverter_power_watts", serial="B") == 1000.0
    endpoint = "/api/devices/vitals"
    assert ms.get(DROPPED, endpoint=endpoint, reason="too_many_fields") == 2 * (20_000 - naming.MAX_GENERIC_FAMILIES)
    assert ms.get(DROPPED, endpoint=endpoint, reason="name_too_long") == 2
    check_valid(ms)


def test_generic_vitals_of_one_name_but_different_types_keep_openmetrics_valid() -> None:
    """Text on one device and a number on another: an info and a gauge with one family name."""
    devices = [
        Device(din="D--A", family="X", part_number="", serial="A", signals={"Foo": "on", "Bar_LifetimeEnergy": 1}),
        Device(din="D--B", family="X", part_number="", serial="B", signals={"Foo": 1.0, "bar-lifetime-energy": 2}),
    ]
    ms = fresh_set()
    flatten_devices(devices, ms, VITALS)
    check_valid(ms)
    assert ms.get("powerwall_vital_foo_info", serial="A", value="on") == 1.0  # the first writer keeps the family
    assert ms.get("powerwall_vital_foo") is None
    assert ms.get(DROPPED, endpoint="/api/devices/vitals", reason="name_clash") == 2


def test_solar_powerwall_generic_names_are_bounded() -> None:
    data = {"pvac_status": hostile_fields(), **{f"top_{i}": i for i in range(1000)}}
    ms = fresh_set()
    flatten_devices(decode_solar_powerwall(data), ms, SOLAR_POWERWALL, anonymous=True)
    assert len([n for n in ms.names() if n.startswith("powerwall_vital_")]) == naming.MAX_GENERIC_FAMILIES
    assert max(map(len, ms.names())) <= naming.MAX_GENERIC_NAME_LENGTH
    assert ms.get(DROPPED, endpoint="/api/solar_powerwall", reason="name_too_long") == 1
    check_valid(ms)


def test_metricset_refuses_a_second_family_of_the_same_name() -> None:
    """The last line of defence: whatever the mappers do, the OpenMetrics output stays valid."""
    ms = MetricSet(base_labels={"gateway": "g"})
    ms.add(gauge("powerwall_x", "gauge"), 1.0)
    ms.add(counter("powerwall_x_total", "counter"), 2.0)
    ms.add(info("powerwall_x_info", "info"), 1.0, {"v": "a"})
    ms.add(counter("powerwall_y_total", "counter"), 3.0)
    ms.add(info("powerwall_y_info", "info"), 1.0, {"v": "a"})
    assert ms.names() == ["powerwall_x", "powerwall_y_total"]
    check_valid(ms)


def test_every_curated_name_is_at_most_256_characters() -> None:
    import exporter.scrape.collector  # noqa: F401 - registers the collector's and client's metrics

    assert metricset._CURATED
    assert max(map(len, metricset._CURATED)) <= 256


def test_curated_gauges_cannot_end_in_a_reserved_suffix() -> None:
    for suffix in naming.RESERVED_SUFFIXES:
        with pytest.raises(ValueError, match="must not end"):
            gauge("powerwall_x" + suffix, "h")
    assert Kind.GAUGE.value == "gauge"
