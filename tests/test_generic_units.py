"""Generic JSON fields: a unit only where the field name states one, a HELP text that is true.

Why: a generic name is all a user has to go on; ``..._voltage`` without ``_volts`` breaks the
naming convention, and "unit not known" on a bool (or "bool" on a number) misleads.
"""

from __future__ import annotations

import pytest

from exporter.metrics.metricset import MetricSet
from exporter.site.table import Table


@pytest.mark.parametrize(
    ("key", "value", "name", "help_part"),
    [
        ("bus_voltage", 240.5, "powerwall_test_bus_voltage_volts", "in volts"),
        ("grid_V", 240.5, "powerwall_test_grid_volts", "in volts"),
        ("measured_freq", 60.0, "powerwall_test_measured_freq_hertz", "in hertz"),
        ("inverterTemperature", 31.0, "powerwall_test_inverter_temperature_celsius", "in celsius"),
        ("over_voltage", True, "powerwall_test_over_voltage", "a bool as 0/1"),
        ("max_power", 5.0, "powerwall_test_max_power", "unit not known"),
    ],
)
def test_generic_json_field_unit_and_help(key: str, value: object, name: str, help_part: str) -> None:
    ms = MetricSet()
    Table(fields=(), generic_prefix="powerwall_test_").apply({key: value}, ms)
    (metric,) = [m for m, _ in ms.defs()]
    assert metric.name == name
    assert help_part in metric.help
