"""powerwall-overview.json: what the home owner looks at first.

Power flows right now, battery level and reserve, grid status and operation mode, today's energy per
flow and the site's identity. The dashboard Grafana opens at home (docker-compose sets it so).
"""

from __future__ import annotations

from grafana.builder.kit import (
    ACTIVE,
    BLUE,
    GREEN,
    JSON,
    ORANGE,
    PURPLE,
    RED,
    YELLOW,
    Panel,
    Row,
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
    FLOWS,
    IMP,
    J_TO_KWH,
    POWER,
    S,
    kwh_range,
    meter,
)
from grafana.builder.variables import GATEWAY_VAR, JOB_VAR


def build() -> JSON:
    flow_colors = {"Home": BLUE, "Solar": YELLOW, "Battery": GREEN, "Grid": PURPLE}
    now = Row(
        "Right now",
        [
            stat(
                "Home",
                "Power your home uses right now.",
                [target(f"sum by (gateway) ({meter(POWER, 'load')})", "{{gateway}}")],
                "watt",
                color={"mode": "fixed", "fixedColor": flow_colors["Home"]},
            ),
            stat(
                "Solar",
                "Power your solar panels produce right now.",
                [target(f"sum by (gateway) ({meter(POWER, 'solar')})", "{{gateway}}")],
                "watt",
                color={"mode": "fixed", "fixedColor": flow_colors["Solar"]},
            ),
            stat(
                "Battery",
                "Power flowing out of (discharging) or into (charging) the Powerwalls right now.",
                [
                    target(f"clamp_min({meter(POWER, 'battery')}, 0)", "{{gateway}} discharging"),
                    target(f"clamp_min(-{meter(POWER, 'battery')}, 0)", "{{gateway}} charging"),
                ],
                "watt",
                w=4,
                color={"mode": "fixed", "fixedColor": flow_colors["Battery"]},
            ),
            stat(
                "Grid",
                "Power bought from (importing) or sold to (exporting) the grid right now.",
                [
                    target(f"clamp_min({meter(POWER, 'site')}, 0)", "{{gateway}} importing"),
                    target(f"clamp_min(-{meter(POWER, 'site')}, 0)", "{{gateway}} exporting"),
                ],
                "watt",
                w=4,
                color={"mode": "fixed", "fixedColor": flow_colors["Grid"]},
            ),
            gauge(
                "Battery level",
                "State of charge as the Tesla app shows it (the gateway's hidden 5 % reserve removed).",
                [target(f"powerwall_battery_charge_app_ratio{{{S}}}", "{{gateway}}")],
                "percentunit",
                minv=0,
                maxv=1,
                steps=thresholds((None, RED), (0.2, ORANGE), (0.4, GREEN)),
            ),
            stat(
                "Backup reserve",
                "Share of the battery kept for outages (set in the Tesla app).",
                [target(f"powerwall_backup_reserve_app_ratio{{{S}}}", "{{gateway}}")],
                "percentunit",
                w=2,
                options={"graphMode": "none"},
            ),
            stat(
                "Grid connection",
                "Whether the home is connected to the utility grid.",
                [target(f"powerwall_grid_connected{{{S}}}", "{{gateway}}")],
                "none",
                w=2,
                mappings=value_map(("1", "On grid", GREEN), ("0", "OUTAGE", RED)),
                options={"colorMode": "background", "graphMode": "none"},
            ),
            stat(
                "Mode",
                "Operation mode chosen in the Tesla app: self_consumption (self-powered), autonomous "
                "(time-based control), backup (backup only).",
                [target(f"powerwall_operation_mode{{{S}}} == 1", "{{mode}}", instant=True)],
                "none",
                options={"textMode": "name", "graphMode": "none", "colorMode": "none"},
            ),
        ],
    )
    flows = Row(
        "Power flows",
        [
            ts(
                "Power flows",
                "Home use, solar production, battery (+ discharging, - charging) and grid (+ importing, - exporting).",
                [
                    target(meter(POWER, "load"), "{{gateway}} home"),
                    target(meter(POWER, "solar"), "{{gateway}} solar"),
                    target(meter(POWER, "battery"), "{{gateway}} battery"),
                    target(meter(POWER, "site"), "{{gateway}} grid"),
                ],
                "watt",
                w=16,
                h=9,
            ),
            ts(
                "Battery level and reserve",
                "Battery level (app scale) over time, and the backup reserve below which it is only used in an outage.",
                [
                    target(f"powerwall_battery_charge_app_ratio{{{S}}}", "{{gateway}} battery"),
                    target(f"powerwall_backup_reserve_app_ratio{{{S}}}", "{{gateway}} reserve"),
                ],
                "percentunit",
                w=8,
                h=9,
                minv=0,
                maxv=1,
            ),
        ],
    )
    grid = Row(
        "Grid and operation",
        [
            timeline(
                "Grid status",
                "On grid or islanded (outage). Red stretches are outages; the Powerwall powered the home.",
                [target(f"powerwall_grid_connected{{{S}}}", "{{gateway}}")],
                value_map(("1", "On grid", GREEN), ("0", "Outage", RED)),
            ),
            timeline(
                "Gateway grid state",
                "The gateway's detailed grid state (connected, islanded, transitioning, waiting for user).",
                [target(f"powerwall_grid_state{{{S}}} == 1", "{{gateway}} {{state}}")],
                ACTIVE,
            ),
            timeline(
                "Operation mode",
                "Which operation mode was active when.",
                [target(f"powerwall_operation_mode{{{S}}} == 1", "{{gateway}} {{mode}}")],
                ACTIVE,
                w=24,
                h=5,
            ),
        ],
    )
    today_panels: list[Panel] = []
    for legend, counter, m in FLOWS:
        today_panels.append(
            stat(
                f"{legend} today",
                f"Energy ({legend.lower()}) since midnight, from the gateway's lifetime counters.",
                [target(kwh_range(counter, m), "{{gateway}}", instant=True)],
                "kwatth",
                decimals=1,
                time_from="now/d",
                options={"graphMode": "none"},
            )
        )
    today_panels.append(
        stat(
            "Self-powered today",
            "Share of today's home use that did not come from the grid (solar and battery).",
            [
                target(
                    f"clamp_min(1 - {kwh_range(IMP, 'site')} / {kwh_range(IMP, 'load')}, 0)",
                    "{{gateway}}",
                    instant=True,
                )
            ],
            "percentunit",
            w=6,
            decimals=0,
            time_from="now/d",
            options={"graphMode": "none"},
        )
    )
    site = Row(
        "Site",
        [
            stat(
                "Powerwalls",
                "Number of Powerwall batteries the gateway reports (a Powerwall 3 site: the Powerwall 3 units "
                "TEDAPI lists, DC expansions not counted).",
                [
                    target(
                        f"max by (job, gateway) (powerwall_batteries{{{S}}}) "
                        f'or count by (job, gateway) (powerwall_device_info{{{S}, device="PW3"}})',
                        "{{gateway}}",
                    )
                ],
                "none",
                options={"graphMode": "none"},
            ),
            stat(
                "Energy stored",
                "Energy in the batteries now (gateway scale, includes the hidden reserve).",
                [target(f"powerwall_battery_remaining_energy_joules{{{S}}} / {J_TO_KWH}", "{{gateway}}")],
                "kwatth",
                decimals=1,
            ),
            stat(
                "Full capacity",
                "Energy the batteries hold when full, as the gateway estimates it today.",
                [target(f"powerwall_battery_full_pack_energy_joules{{{S}}} / {J_TO_KWH}", "{{gateway}}")],
                "kwatth",
                decimals=1,
            ),
            stat(
                "Gateway uptime",
                "Time since the gateway software last restarted.",
                [target(f"powerwall_uptime_seconds{{{S}}}", "{{gateway}}")],
                "s",
                options={"graphMode": "none"},
            ),
            table(
                "Gateway",
                "Site name, firmware version and gateway identity.",
                [target(f"powerwall_info{{{S}}}", "", instant=True, table=True)],
                ["Value"],
            ),
        ],
    )
    return dashboard(
        "powerwall-overview",
        "Powerwall / Overview",
        "Live power flows, battery level, grid status and today's energy of Tesla Powerwall sites.",
        [JOB_VAR, GATEWAY_VAR],
        [now, flows, grid, Row("Today", today_panels), site],
    )
