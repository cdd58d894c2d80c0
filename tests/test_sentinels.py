"""The gateway's "no value" sentinels are absent series, not numbers a dashboard would plot.

Why: ``max_site_meter_power_kW`` 1e9 (1e12 W) and ``solar_real_power_limit`` -1 mean "no limit";
exported, they flatten every panel they share and make ``min()``/``max()`` meaningless.
"""

from __future__ import annotations

import pytest

from exporter.metrics.metricset import MetricSet
from exporter.site.mappers import map_site_info, map_system_status


def _names(ms: MetricSet) -> set[str]:
    return {family.name for family in ms.families()}


@pytest.mark.parametrize(("kw", "present"), [(1e9, False), (-1e9, False), (1e8, False), (25.0, True), (-5.0, True)])
def test_site_meter_power_limit_sentinel_is_absent(kw: float, present: bool) -> None:
    ms = MetricSet()
    map_site_info({"max_site_meter_power_kW": kw, "min_site_meter_power_kW": -kw}, ms)
    assert ("powerwall_site_max_meter_power_watts" in _names(ms)) is present
    assert ("powerwall_site_min_meter_power_watts" in _names(ms)) is present


@pytest.mark.parametrize(("raw", "present"), [(-1, False), (-1.0, False), (0, True), (3500.0, True)])
def test_solar_real_power_limit_none_is_absent(raw: float, present: bool) -> None:
    ms = MetricSet()
    map_system_status({"solar_real_power_limit": raw}, ms)
    assert ("powerwall_solar_real_power_limit_watts" in _names(ms)) is present
