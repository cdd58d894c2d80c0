"""powerwall-battery-health.json: capacity against nameplate, its trend, cycles, efficiency and outages.

Mostly recording rules (deploy/prometheus/rules/powerwall-energy.rules.yml): the pod capacity ratio and
its 30-day trend, the projected 70 % (warranty) date, round-trip efficiency, and the outage history the
``:islanded`` rules keep.
"""

from __future__ import annotations

from grafana.builder.kit import (
    FLOW_COLORS,
    GREEN,
    JSON,
    ORANGE,
    RED,
    Row,
    bars,
    color_overrides,
    dashboard,
    gauge,
    stat,
    table,
    target,
    thresholds,
    timeline,
    ts,
    value_map,
)
from grafana.builder.queries import (
    FLOW_SERIES,
    J_TO_KWH,
    SPOD,
    S,
    flow_increase,
    flow_kwh,
)
from grafana.builder.variables import GATEWAY_VAR, JOB_VAR, POD_VAR


def build() -> JSON:
    ratio = f"gateway_serial:powerwall_pod_capacity_over_nameplate:ratio{{{SPOD}}}"
    capacity = Row(
        "Capacity",
        [
            gauge(
                "Capacity vs nameplate",
                "Full-pack energy of each battery pod over its nameplate energy (from the part number). The "
                "Powerwall warranty promises 70 %.",
                [target(ratio, "{{serial}}")],
                "percentunit",
                w=6,
                h=7,
                minv=0.5,
                maxv=1.1,
                steps=thresholds((None, RED), (0.7, ORANGE), (0.8, GREEN)),
            ),
            ts(
                "Capacity over nameplate",
                "Each pod's capacity ratio over time; the dashed line is the 70 % warranty threshold.",
                [target(ratio, "{{gateway}} {{serial}}")],
                "percentunit",
                w=12,
                h=7,
                steps=thresholds((None, "transparent"), (0.7, RED)),
                custom={"thresholdsStyle": {"mode": "dashed"}},
            ),
            ts(
                "Full-pack energy and nameplate",
                "Energy each pod holds when full, and its nameplate energy.",
                [
                    target(f"powerwall_pod_full_pack_energy_joules{{{SPOD}}} / {J_TO_KWH}", "{{serial}} full pack"),
                    target(f"powerwall_pod_nameplate_energy_joules{{{SPOD}}} / {J_TO_KWH}", "{{serial}} nameplate"),
                ],
                "kwatth",
                w=6,
                h=7,
                decimals=2,
            ),
            stat(
                "Capacity trend",
                "Change of the capacity ratio per year, from the least-squares line through the last 30 days "
                "(recording rule). A few % per year is normal ageing.",
                [
                    target(
                        f"gateway_serial:powerwall_pod_capacity_over_nameplate:deriv30d_per_day{{{SPOD}}} * 365",
                        "{{serial}}",
                    )
                ],
                "percentunit",
                w=6,
                decimals=1,
                steps=thresholds((None, RED), (-0.05, ORANGE), (-0.03, GREEN)),
            ),
            stat(
                "Projected 70 % date",
                "When the 30-day trend line reaches 70 % of nameplate (only for declining pods with 6 days "
                "of history). The PowerwallPodCapacityLowBeforeWarrantyEnd alert fires when this is before "
                "the warranty end.",
                [
                    target(
                        "gateway_serial:powerwall_pod_capacity_70pct_timestamp_seconds:predict_linear30d"
                        f"{{{SPOD}}} * 1000",
                        "{{serial}}",
                    )
                ],
                "dateTimeAsIso",
                w=6,
                options={"graphMode": "none", "textMode": "value_and_name"},
            ),
            stat(
                "Warranty ends",
                "End of the battery warranty: the configured date, else 10 years after commissioning.",
                [
                    target(
                        f"gateway:powerwall_battery_warranty_end_timestamp_seconds:default10y{{{S}}} * 1000",
                        "{{gateway}}",
                    )
                ],
                "dateTimeAsIso",
                w=6,
                options={"graphMode": "none", "colorMode": "none"},
            ),
            stat(
                "Commissioned",
                "When the battery system was commissioned (from the gateway's site info or the configuration).",
                [target(f"powerwall_battery_commission_timestamp_seconds{{{S}}} * 1000", "{{gateway}}")],
                "dateTimeAsIso",
                w=6,
                options={"graphMode": "none", "colorMode": "none"},
            ),
        ],
    )
    use = Row(
        "Cycles and efficiency",
        [
            bars(
                "Equivalent full cycles per day",
                "Energy the batteries discharged each day (to the home and the grid) divided by what they "
                "hold when full.",
                [
                    target(
                        flow_increase('source="battery"', "$__interval")
                        + f" / sum by (gateway) (powerwall_battery_full_pack_energy_joules{{{S}}} > 0)",
                        "{{gateway}}",
                        interval="1d",
                    )
                ],
                "none",
                decimals=2,
            ),
            bars(
                "Battery charged and discharged per day",
                "Energy into the batteries (from solar, from the grid) and out of them (to the home, to the "
                "grid) per day.",
                [
                    target(flow_kwh(m, "$__interval", by="source, sink"), legend, interval="1d")
                    for legend, m in FLOW_SERIES
                    if "battery" in m
                ],
                "kwatth",
                decimals=1,
                overrides=color_overrides({k: v for k, v in FLOW_COLORS.items() if "Battery" in k or "battery" in k}),
            ),
            stat(
                "Round-trip efficiency (7 days)",
                "Energy out of the batteries per energy into them over the last 7 days (recording rule, "
                "updated every 5 minutes). About 90 % is typical; differences in charge level at the window's "
                "ends move it a few %.",
                [target(f"gateway:powerwall_battery_round_trip_efficiency:ratio7d{{{S}}}", "{{gateway}}")],
                "percentunit",
                w=6,
                decimals=1,
                steps=thresholds((None, ORANGE), (0.8, GREEN)),
            ),
            stat(
                "Cycles, last 24 h",
                "Equivalent full cycles in the 24 hours before now (recording rule).",
                [target(f"gateway:powerwall_battery_cycles:increase1d{{{S}}}", "{{gateway}}")],
                "none",
                w=6,
                decimals=2,
            ),
            ts(
                "Round-trip efficiency (rolling 7 days)",
                "The 7-day round-trip efficiency over time.",
                [target(f"gateway:powerwall_battery_round_trip_efficiency:ratio7d{{{S}}}", "{{gateway}}")],
                "percentunit",
                w=12,
                h=5,
                decimals=1,
            ),
        ],
    )
    start = f"gateway:powerwall_grid_outage_start_timestamp_seconds:islanded{{{S}}}"
    outages = Row(
        "Backup: grid outages",
        [
            stat(
                "Outages",
                "Grid outages the exporter saw in the selected time range.",
                [
                    target(
                        f"round(sum by (gateway) (increase(powerwall_grid_outages_total{{{S}}}[$__range])))",
                        "{{gateway}}",
                        instant=True,
                    )
                ],
                "short",
                w=4,
                decimals=0,
                options={"graphMode": "none"},
            ),
            stat(
                "Time off grid",
                "Time the home ran on the Powerwall (islanded) in the selected time range.",
                [
                    target(
                        f"sum by (gateway) (increase(powerwall_grid_outage_seconds_total{{{S}}}[$__range]))",
                        "{{gateway}}",
                        instant=True,
                    )
                ],
                "s",
                w=4,
                options={"graphMode": "none"},
            ),
            stat(
                "Lowest battery off grid",
                "The lowest battery level (app scale) while off grid in the selected time range.",
                [
                    target(
                        "min by (gateway) (min_over_time("
                        f"gateway:powerwall_battery_charge_app:islanded{{{S}}}[$__range]))",
                        "{{gateway}}",
                        instant=True,
                    )
                ],
                "percentunit",
                w=4,
                decimals=0,
                steps=thresholds((None, RED), (0.2, ORANGE), (0.4, GREEN)),
                options={"graphMode": "none"},
            ),
            timeline(
                "Outage timeline",
                "On grid or off grid (islanded, red) over the selected time range.",
                [target(f"powerwall_grid_connected{{{S}}}", "{{gateway}}")],
                value_map(("1", "On grid", GREEN), ("0", "Outage", RED)),
                h=5,
            ),
            bars(
                "Outages per day",
                "Number of grid outages per day.",
                [
                    target(
                        f"round(sum by (gateway) (increase(powerwall_grid_outages_total{{{S}}}[$__interval])))",
                        "{{gateway}}",
                        interval="1d",
                    )
                ],
                "short",
                decimals=0,
            ),
            bars(
                "Time off grid per day",
                "Time spent off grid per day.",
                [
                    target(
                        f"sum by (gateway) (increase(powerwall_grid_outage_seconds_total{{{S}}}[$__interval]))",
                        "{{gateway}}",
                        interval="1d",
                    )
                ],
                "s",
            ),
            table(
                "Recent outages",
                "One row per outage in the selected range (sampled every minute, so outages shorter than that "
                "can be missing): when it began, how long it lasted, the battery level at its start and the "
                "lowest level during it. Built from recording rules that exist only while off grid.",
                [
                    target(f"{start} * 1000", interval="1m", table=True),
                    target(f"time() - {start}", interval="1m", table=True),
                    target(f"gateway:powerwall_battery_charge_app:outage_start{{{S}}} * 1", interval="1m", table=True),
                    target(f"gateway:powerwall_battery_charge_app:outage_min{{{S}}} * 1", interval="1m", table=True),
                ],
                [],
                w=24,
                h=8,
                transformations=[
                    {"id": "merge", "options": {}},
                    {
                        "id": "groupBy",
                        "options": {
                            "fields": {
                                "gateway": {"operation": "groupby", "aggregations": []},
                                "Value #A": {"operation": "groupby", "aggregations": []},
                                "Value #B": {"operation": "aggregate", "aggregations": ["max"]},
                                "Value #C": {"operation": "aggregate", "aggregations": ["firstNotNull"]},
                                "Value #D": {"operation": "aggregate", "aggregations": ["min"]},
                            }
                        },
                    },
                    {
                        "id": "organize",
                        "options": {
                            "renameByName": {
                                "Value #A": "Started",
                                "Value #B (max)": "Duration",
                                "Value #C (firstNotNull)": "Battery at start",
                                "Value #D (min)": "Lowest battery",
                            }
                        },
                    },
                    {"id": "sortBy", "options": {"sort": [{"field": "Started", "desc": True}]}},
                ],
                overrides=[
                    {
                        "matcher": {"id": "byName", "options": "Started"},
                        "properties": [{"id": "unit", "value": "dateTimeAsIso"}],
                    },
                    {"matcher": {"id": "byName", "options": "Duration"}, "properties": [{"id": "unit", "value": "s"}]},
                    {
                        "matcher": {"id": "byRegexp", "options": "Battery at start|Lowest battery"},
                        "properties": [{"id": "unit", "value": "percentunit"}, {"id": "decimals", "value": 0}],
                    },
                ],
            ),
        ],
    )
    return dashboard(
        "powerwall-battery-health",
        "Powerwall / Battery health",
        "Capacity of each battery pod against its nameplate, its trend and the projected 70 % date, "
        "cycles, round-trip efficiency, and how the battery carried the home through grid outages.",
        [JOB_VAR, GATEWAY_VAR, POD_VAR],
        [capacity, use, outages],
        time_from="now-30d",
    )
