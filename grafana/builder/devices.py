"""powerwall-devices.json: each Powerwall and the site's hardware, on both Powerwall generations.

Per Powerwall capacity and degradation, inverter, temperatures, states and device alerts here; the
site-wide rows (gateway meters, islanding, solar strings) in :mod:`grafana.builder.devices_site`, which
keeps this module readable. A Powerwall 2 reports per battery block and device vitals, a Powerwall 3
through TEDAPI: the queries combine both (``block_or_packs``, ``block_or_inverter``, ``per_powerwall``).
"""

from __future__ import annotations

from grafana.builder import devices_site
from grafana.builder.kit import (
    ACTIVE,
    GREEN,
    JSON,
    OK_FAULT,
    ORANGE,
    RED,
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
    BLOCK_DISCHARGED,
    BLOCK_FULL,
    BLOCK_REMAINING,
    J_TO_KWH,
    NAMEPLATE_KWH,
    POD_DISCHARGED,
    POD_FULL,
    POD_REMAINING,
    SSER,
    S,
    block_or_inverter,
    block_or_packs,
    per_powerwall,
)
from grafana.builder.variables import GATEWAY_VAR, JOB_VAR, SERIAL_VAR


def build() -> JSON:
    blk = f"{{{SSER}}}"
    # Per Powerwall on both generations (block_or_packs): a Powerwall 3's packs are summed, or averaged
    # where the value is compared with one pack's nameplate.
    full = block_or_packs(BLOCK_FULL, POD_FULL)
    full_30d_max = block_or_packs(BLOCK_FULL, POD_FULL, lambda series: f"max_over_time({series}[30d])")
    discharged = block_or_packs(BLOCK_DISCHARGED, POD_DISCHARGED)
    discharged_per_pack = block_or_packs(BLOCK_DISCHARGED, POD_DISCHARGED, agg="avg")
    pw = Row(
        "Powerwalls",
        [
            gauge(
                "Capacity vs nameplate",
                f"Full-charge energy of each Powerwall relative to the {NAMEPLATE_KWH} kWh on the data sheet "
                "(a Powerwall 3 with DC expansions: the average of its packs, each rated the same).",
                [
                    target(
                        f"{block_or_packs(BLOCK_FULL, POD_FULL, agg='avg')} / ({NAMEPLATE_KWH} * {J_TO_KWH})",
                        "{{serial}}",
                    )
                ],
                "percentunit",
                w=6,
                minv=0.5,
                maxv=1.1,
                steps=thresholds((None, RED), (0.7, ORANGE), (0.8, GREEN)),
            ),
            stat(
                "Capacity change, 30 days",
                "Full-charge energy now compared with its highest value in the last 30 days "
                "(a Powerwall 3: its packs' sum against the sum of their highest values). The "
                "PowerwallCapacityDropped alert fires below -5 % (per pack on a Powerwall 3).",
                [target(f"({full} - {full_30d_max}) / {full_30d_max}", "{{serial}}")],
                "percentunit",
                w=6,
                decimals=1,
                steps=thresholds((None, RED), (-0.05, ORANGE), (-0.02, GREEN)),
            ),
            stat(
                "Lifetime discharged",
                "Energy each Powerwall delivered since installation (a Powerwall 3: all its packs).",
                [target(f"{discharged} / {J_TO_KWH}", "{{serial}}")],
                "kwatth",
                w=6,
                decimals=0,
                options={"graphMode": "none"},
            ),
            stat(
                "Equivalent full cycles",
                "Lifetime discharged energy divided by the nameplate capacity (a Powerwall 3: per pack, averaged "
                "over its packs).",
                [
                    target(
                        f"{discharged_per_pack} / ({NAMEPLATE_KWH} * {J_TO_KWH})",
                        "{{serial}}",
                    )
                ],
                "none",
                w=6,
                decimals=0,
                options={"graphMode": "none"},
            ),
            ts(
                "Energy remaining",
                "Energy stored in each Powerwall (a Powerwall 3: all its packs).",
                [
                    target(
                        f"{block_or_packs(BLOCK_REMAINING, POD_REMAINING)} / {J_TO_KWH}",
                        "{{serial}}",
                    )
                ],
                "kwatth",
                w=12,
            ),
            ts(
                "Full-pack energy (degradation)",
                f"Energy each Powerwall holds when full; the dashed line is the {NAMEPLATE_KWH} kWh nameplate "
                "(a Powerwall 3: all its packs, each DC expansion adds one nameplate).",
                [target(f"{full} / {J_TO_KWH}", "{{serial}}")],
                "kwatth",
                w=12,
                steps=thresholds((None, "transparent"), (NAMEPLATE_KWH, RED)),
                custom={"thresholdsStyle": {"mode": "dashed"}},
            ),
            ts(
                "Battery power",
                "Power of each Powerwall: + discharging, - charging (a Powerwall 3: the DC power between its "
                "inverter and its packs; its AC output is in Inverter output).",
                [
                    target(
                        block_or_inverter(
                            "powerwall_battery_block_power_watts", "powerwall_inverter_battery_power_watts"
                        ),
                        "{{serial}}",
                    )
                ],
                "watt",
                w=12,
            ),
            ts(
                "Inverter output",
                "AC output power of each Powerwall's inverter (from device vitals; firmware before 23.44).",
                [target(per_powerwall("powerwall_inverter_power_watts"), "Powerwall {{powerwall}}")],
                "watt",
                w=12,
            ),
            ts(
                "Battery voltage",
                "AC voltage at each Powerwall.",
                [
                    target(f"powerwall_battery_block_voltage_volts{blk}", "{{serial}}"),
                    target(per_powerwall("powerwall_inverter_voltage_volts"), "{{powerwall}} inverter"),
                ],
                "volt",
                w=8,
            ),
            ts(
                "Battery frequency",
                "AC frequency at each Powerwall.",
                [
                    target(f"powerwall_battery_block_frequency_hertz{blk}", "{{serial}}"),
                    target(per_powerwall("powerwall_inverter_frequency_hertz"), "{{powerwall}} inverter"),
                ],
                "hertz",
                w=8,
            ),
            ts(
                "Temperature",
                "Ambient temperature each Powerwall measures (thermal controller TETHC on a Powerwall 2, "
                "inverter PCH on a Powerwall 3; alert above 45 °C), and from TEDAPI the hottest and coolest "
                "cell of each battery pack, DC expansions included (alert above 50 °C), and the Powerwall 2 "
                "battery inverter's heatsink (alert above 80 °C).",
                [
                    target(f"powerwall_thermal_ambient_temperature_celsius{blk}", "{{serial}} ambient"),
                    target(
                        f"{per_powerwall('powerwall_pod_temperature_celsius')} "
                        f"or {per_powerwall('powerwall_inverter_heatsink_temperature_celsius')}",
                        "{{powerwall}} {{device}} {{serial}} {{sensor}}",
                    ),
                ],
                "celsius",
                w=8,
            ),
            ts(
                "Available charge / discharge power",
                "How much power each battery pod can take or give right now (lower when cold, full or empty).",
                [
                    target(per_powerwall("powerwall_pod_available_charge_power_watts"), "{{powerwall}} charge"),
                    target(per_powerwall("powerwall_pod_available_discharge_power_watts"), "{{powerwall}} discharge"),
                ],
                "watt",
                w=12,
            ),
            ts(
                "Pod energy",
                "Energy remaining in each battery pod (a Powerwall 3's built-in pack and each DC expansion "
                "pack, by the pack's own serial) and its energy when full; the legend names the Powerwall "
                "it belongs to.",
                [
                    target(
                        f"{per_powerwall('powerwall_pod_energy_remaining_joules')} / {J_TO_KWH}",
                        "{{powerwall}} pack {{serial}} remaining",
                    ),
                    target(
                        f"{per_powerwall('powerwall_pod_full_pack_energy_joules')} / {J_TO_KWH}",
                        "{{powerwall}} pack {{serial}} full",
                    ),
                ],
                "kwatth",
                w=12,
            ),
            stat(
                "Battery packs",
                "Packs each Powerwall 3 expects (built-in and DC expansions), detects and has connected to "
                "its DC bus (TEDAPI; the PowerwallBatteryPacksMissing alert fires when present or connected "
                "stays below expected).",
                [
                    target(f"powerwall_battery_packs_expected{blk}", "{{serial}} expected"),
                    target(f"powerwall_battery_packs_present{blk}", "{{serial}} present"),
                    target(f"powerwall_battery_packs_connected{blk}", "{{serial}} connected"),
                ],
                "none",
                w=12,
                decimals=0,
                options={"graphMode": "none"},
            ),
            ts(
                "Fan speed",
                "Speed of each fan (a Powerwall 3 inverter's fans A and B, a Powerwall+ solar inverter's fan; "
                "TEDAPI). A fan at 0 rpm while the unit is hot is worth a look.",
                [target(f"powerwall_fan_speed_rpm{{{S}}}", "{{device}} {{serial}} fan {{fan}}")],
                "rotrpm",
                w=12,
            ),
        ],
    )
    states = Row(
        "States",
        [
            timeline(
                "Powerwall state",
                "Inverter and grid state of each Powerwall as the gateway reports them (a Powerwall 3: its "
                "inverter PCH's state; it reports no grid compliance state).",
                [
                    target(
                        block_or_inverter("powerwall_battery_block_pinv_state_info", "powerwall_inverter_state_info")
                        + " == 1",
                        "{{serial}} {{state}}",
                    ),
                    target(f"powerwall_battery_block_pinv_grid_state_info{blk} == 1", "{{serial}} {{state}}"),
                ],
                ACTIVE,
            ),
            timeline(
                "Backup ready",
                "Whether each Powerwall is ready to power the home in an outage.",
                [target(f"powerwall_battery_block_backup_ready{blk}", "{{serial}}")],
                value_map(("1", "Ready", GREEN), ("0", "Not ready", RED)),
            ),
            timeline(
                "Battery pod state",
                "State of each battery pod (from device vitals).",
                [target(f"{per_powerwall('powerwall_pod_state_info')} == 1", "{{powerwall}} {{state}}")],
                ACTIVE,
            ),
            timeline(
                "Thermal state",
                "State of each Powerwall's thermal controller (heating/cooling).",
                [target(f"powerwall_thermal_state_info{blk} == 1", "{{serial}} {{state}}")],
                ACTIVE,
            ),
            stat(
                "Pod faults",
                "Permanent and persistent fault flags of each battery pod; anything but OK needs service.",
                [
                    target(per_powerwall("powerwall_pod_permanently_faulted"), "{{powerwall}} permanent"),
                    target(per_powerwall("powerwall_pod_persistently_faulted"), "{{powerwall}} persistent"),
                ],
                "none",
                w=24,
                h=4,
                mappings=OK_FAULT,
                options={"colorMode": "background", "graphMode": "none"},
            ),
        ],
    )
    alerts = Row(
        "Device alerts",
        [
            table(
                "Active device alerts",
                "Alerts the Powerwall components report right now. Names with _f<number>_ or Fault are faults.",
                [target(f"powerwall_device_alert{{{S}}} == 1", "", instant=True, table=True)],
                ["Value"],
            ),
            table(
                "Devices",
                "Every component the gateway knows, with firmware and parent device.",
                [target(f"powerwall_device_info{{{S}}}", "", instant=True, table=True)],
                ["Value"],
            ),
            timeline(
                "Device alerts over time",
                "When each device alert was active.",
                [target(f"powerwall_device_alert{{{S}}} == 1", "{{device}} {{serial}} {{alert}}")],
                ACTIVE,
                w=24,
                h=8,
            ),
        ],
    )
    return dashboard(
        "powerwall-devices",
        "Powerwall / Batteries and devices",
        "Per Powerwall capacity and degradation, inverter, temperatures, states, device alerts, gateway "
        "meters, islanding and solar strings.",
        [JOB_VAR, GATEWAY_VAR, SERIAL_VAR],
        [pw, states, alerts, devices_site.gateway_meters(), devices_site.islanding(), devices_site.solar_strings()],
        time_from="now-7d",
    )
