"""Absurd readings (1e306 Wh, JSON integers beyond float range, NaN/Inf) never reach the exposition.

Why: one reading of 1e306 Wh scaled to joules overflows to +Inf; a ``_total`` counter at +Inf stays
there (the counter guard holds it, ``rate()`` is NaN forever) and a JSON integer above ~1e308 made
``number()`` raise ``OverflowError``, which cost the whole endpoint as a "mapping bug". A value that
is not a finite number is no value: its series is absent, for every metric type and every source.
"""

from __future__ import annotations

import math

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics

from exporter.coerce import number
from exporter.devices.flatten import flatten_devices
from exporter.devices.model import Device
from exporter.metrics.metricset import MetricSet, counter, gauge, info
from exporter.site.convert import scaled
from exporter.site.mappers import JSON_MAPPERS, map_aggregates
from exporter.sources.solar_powerwall.decode import decode_solar_powerwall
from exporter.web.exposition import render_openmetrics, render_text
from tests.support.series import sample, samples

VITALS = "/api/devices/vitals"  # the endpoint label of the generic-name budget
SOLAR_POWERWALL = "/api/solar_powerwall"  # the endpoint label of the generic-name budget

HUGE_INT = 10**400  # valid JSON, beyond float range
ABSURD = (float("inf"), float("-inf"), float("nan"), HUGE_INT, -HUGE_INT)
ABSURD_IDS = ("inf", "-inf", "nan", "huge_int", "-huge_int")


def all_values(ms: MetricSet) -> list[float]:
    return [v for _, samples in ms.defs() for v in samples.values()]


def assert_all_finite(ms: MetricSet) -> None:
    values = all_values(ms)
    assert all(math.isfinite(v) for v in values), [v for v in values if not math.isfinite(v)]
    for body in (render_text(ms, False), render_openmetrics(ms, False)):
        assert b"Inf" not in body and b"NaN" not in body


def test_number_of_a_huge_json_integer_is_no_value() -> None:
    assert number(HUGE_INT) is None
    assert number(-HUGE_INT) is None
    assert number(2**70) == float(2**70)


def test_scaling_that_overflows_is_no_value() -> None:
    assert scaled(3600.0)(1e306) is None
    assert scaled(3600.0)(HUGE_INT) is None
    assert scaled(3600.0)(2.0) == 7200.0


@pytest.mark.parametrize("value", ABSURD, ids=ABSURD_IDS)
def test_metricset_drops_non_finite_for_every_kind(value: float) -> None:
    ms = MetricSet(base_labels={"gateway": "g"})
    ms.add(gauge("powerwall_t_g", "g"), value)
    ms.add(counter("powerwall_t_c_total", "c"), value, {"x": "1"})
    ms.add(info("powerwall_t_i_info", "i"), value, {"x": "1"})
    ms.add(gauge("powerwall_t_ok", "ok"), 1.0)
    assert len(ms) == 1
    assert ms.get("powerwall_t_ok") == 1.0
    assert_all_finite(ms)


def test_a_negative_counter_is_absent_and_a_negative_gauge_stays() -> None:
    """OpenMetrics forbids a negative counter (a scraper rejects the whole exposition); a lifetime
    energy below zero is no reading. A negative gauge (power into the battery) is a reading."""
    ms = MetricSet(base_labels={"gateway": "g"})
    map_aggregates({"solar": {"energy_exported": -1, "energy_imported": 2.0, "instant_power": -5.0}}, ms)
    assert ms.get("powerwall_meter_energy_exported_joules_total", meter="solar") is None
    assert ms.get("powerwall_meter_energy_imported_joules_total", meter="solar") == 7200.0
    assert ms.get("powerwall_meter_power_watts", meter="solar") == -5.0
    list(parse_openmetrics(render_openmetrics(ms, False).decode()))  # type: ignore[no-untyped-call]


def test_absurd_energy_counter_is_absent_not_inf() -> None:
    ms = MetricSet(base_labels={"gateway": "g"})
    map_aggregates({"site": {"energy_imported": 1e306, "energy_exported": 5.0, "instant_power": HUGE_INT}}, ms)
    assert ms.get("powerwall_meter_energy_imported_joules_total") is None
    assert ms.get("powerwall_meter_energy_exported_joules_total") == 5.0 * 3600
    assert ms.get("powerwall_meter_power_watts") is None
    assert_all_finite(ms)


@pytest.mark.parametrize("value", ABSURD, ids=ABSURD_IDS)
def test_absurd_values_everywhere_leave_no_reading_of_any_mapper(value: float) -> None:
    """Every field of every table at once, generic fields included."""
    doc = {
        "site": {"energy_imported": value, "instant_power": value, "new_field": value},
        "percentage": value,
        "backup_reserve_percent": value,
        "nominal_system_energy_kWh": value,
        "commission_count": value,
        "battery_blocks": [{"energy_charged": value, "p_out": value, "unknown": value}],
        "powerwalls": [{"unknown": value}],
        "unknown_top_level": value,
    }
    ms = MetricSet(base_labels={"gateway": "g"})
    for mapper in JSON_MAPPERS.values():
        mapper(doc, ms)
    flatten_devices(
        decode_solar_powerwall({"pvac_status": {"p_out": value, "unknown": value}, "top": value}),
        ms,
        SOLAR_POWERWALL,
        anonymous=True,
    )
    assert_all_finite(ms)
    # Every reading is absent; what remains is the one count the document gives by its shape, not a value.
    # (The field-decode counter is the process's own and counts every earlier test's fields too.)
    readings = {s for s in samples(ms) if s[0] != "powerwall_field_decode_errors_total"}
    assert readings == {sample("powerwall_batteries", {}, 1.0)}


def test_absurd_vitals_are_absent() -> None:
    dev = Device(
        din="X--S",
        family="TEPINV",
        part_number="",
        serial="S",
        signals={
            "PINV_EnergyCharged": 1e306,  # Wh → J overflows
            "PINV_Pout": 1e306,  # kW → W overflows
            "Foo_LifetimeEnergy": HUGE_INT,  # generic counter
            "n": float("nan"),
            "i": float("-inf"),
            "h": HUGE_INT,
            "ok": 2,
        },
    )
    ms = MetricSet()
    flatten_devices([dev], ms, VITALS)
    assert ms.get("powerwall_vital_ok") == 2.0
    for name in (
        "powerwall_inverter_energy_charged_joules_total",
        "powerwall_inverter_power_watts",
        "powerwall_vital_foo_lifetime_energy_total",
        "powerwall_vital_n",
        "powerwall_vital_i",
        "powerwall_vital_h",
    ):
        assert ms.get(name) is None, name
    assert_all_finite(ms)
