"""Exposed counters never go backwards, whatever the gateway's lifetime values do."""

from __future__ import annotations

from exporter.metrics.counters import CounterGuard
from exporter.metrics.metricset import MetricSet, counter

C = counter("powerwall_meter_energy_imported_joules_total", "test")


def feed(guard: CounterGuard, raw: float) -> float | None:
    ms = MetricSet(base_labels={"gateway": "g"})
    ms.add(C, raw, {"meter": "site"})
    guard.apply(ms)
    return ms.get(C.name, meter="site")


def test_small_dip_is_held_and_counted() -> None:
    g = CounterGuard("g")
    assert feed(g, 1000.0) == 1000.0
    assert feed(g, 999.0) == 1000.0
    assert feed(g, 1001.0) == 1001.0
    ms = MetricSet()
    g.metrics(ms)
    assert ms.get("powerwall_monotonic_dips_total", metric=C.name) == 1


def test_zero_reading_is_held() -> None:
    g = CounterGuard("g")
    feed(g, 5e9)
    assert feed(g, 0.0) == 5e9
    assert feed(g, 5.1e9) == 5.1e9


def test_large_persistent_drop_is_a_reset() -> None:
    g = CounterGuard("g", confirmations=3)
    feed(g, 5e9)
    assert feed(g, 1e6) == 5e9
    assert feed(g, 1.1e6) == 5e9
    assert feed(g, 1.2e6) == 1.2e6  # third low reading in a row: a hardware swap, accepted
    assert feed(g, 1.3e6) == 1.3e6
    ms = MetricSet()
    g.metrics(ms)
    assert ms.get("powerwall_monotonic_resets_total", metric=C.name) == 1


def test_single_glitch_does_not_reset() -> None:
    g = CounterGuard("g")
    feed(g, 5e9)
    assert feed(g, 1e3) == 5e9
    assert feed(g, 5e9 + 10) == 5e9 + 10


def test_negative_first_reading_is_absent() -> None:
    assert feed(CounterGuard("g"), -5.0) is None
