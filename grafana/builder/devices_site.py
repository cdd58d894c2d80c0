"""The site-wide rows of powerwall-devices.json: gateway meters, islanding and solar strings.

Why a module of its own: these rows describe the site's hardware rather than each Powerwall, use no
per-Powerwall join, and would push :mod:`grafana.builder.devices` past a readable length.
"""

from __future__ import annotations

from grafana.builder.kit import (
    ACTIVE,
    GREEN,
    RED,
    Row,
    stat,
    target,
    timeline,
    ts,
    value_map,
)
from grafana.builder.queries import (
    S,
)


def gateway_meters() -> Row:
    """The gateway's meters (site, solar, battery, load), their CTs and per-phase voltages."""
    return Row(
        "Gateway meters",
        [
            ts(
                "Meter voltage",
                "Average voltage at each meter of the gateway (site = grid connection).",
                [target(f"powerwall_meter_voltage_volts{{{S}}}", "{{gateway}} {{meter}}")],
                "volt",
                w=8,
            ),
            ts(
                "Meter frequency",
                "AC frequency at each meter.",
                [target(f"powerwall_meter_frequency_hertz{{{S}}}", "{{gateway}} {{meter}}")],
                "hertz",
                w=8,
            ),
            ts(
                "Meter current",
                "Current at each meter.",
                [target(f"powerwall_meter_current_amperes{{{S}}}", "{{gateway}} {{meter}}")],
                "amp",
                w=8,
            ),
            ts(
                "Reactive power",
                "Reactive power at each meter.",
                [target(f"powerwall_meter_reactive_power_var{{{S}}}", "{{gateway}} {{meter}}")],
                "voltampreact",
                w=12,
            ),
            ts(
                "Apparent power",
                "Apparent power at each meter.",
                [target(f"powerwall_meter_apparent_power_va{{{S}}}", "{{gateway}} {{meter}}")],
                "voltamp",
                w=12,
            ),
            ts(
                "CT power",
                "Real power on each current transformer: channel X = site, Y = solar/aux, Z = backup switch.",
                [target(f"powerwall_ct_power_watts{{{S}}}", "{{gateway}} {{channel}} CT {{ct}}")],
                "watt",
                w=8,
            ),
            ts(
                "CT current",
                "Current on each current transformer.",
                [target(f"powerwall_ct_current_amperes{{{S}}}", "{{gateway}} {{channel}} CT {{ct}}")],
                "amp",
                w=8,
            ),
            ts(
                "Meter voltage per phase",
                "Line-to-neutral voltage per phase measured by each meter channel (one per phase, not per CT).",
                [target(f"powerwall_ct_meter_voltage_volts{{{S}}}", "{{gateway}} {{channel}} {{phase}}")],
                "volt",
                w=8,
            ),
        ],
    )


def islanding() -> Row:
    """Both sides of the backup switch, and whether it has the home on the grid."""
    return Row(
        "Islanding (backup switch)",
        [
            ts(
                "Island voltages",
                "Voltages on the grid (main) and home (load) side of the backup switch.",
                [target(f"powerwall_island_voltage_volts{{{S}}}", "{{gateway}} {{side}} {{phase}}")],
                "volt",
                w=8,
            ),
            ts(
                "Island frequencies",
                "Frequencies on the grid (main) and home (load) side of the backup switch.",
                [target(f"powerwall_island_frequency_hertz{{{S}}}", "{{gateway}} {{side}} {{phase}}")],
                "hertz",
                w=8,
            ),
            timeline(
                "Island grid state",
                "The backup switch's view of the grid: connected or islanded (Powerwall 2 synchronizer; a "
                "Powerwall 3 site controller's grid contactor).",
                [
                    target(
                        f"max by (job, gateway) (powerwall_island_grid_connected{{{S}}}) "
                        f"or max by (job, gateway) (powerwall_islanding_contactor_closed{{{S}}})",
                        "{{gateway}} grid connected",
                    ),
                ],
                value_map(("1", "Connected", GREEN), ("0", "Islanded", RED)),
                w=8,
            ),
        ],
    )


def solar_strings() -> Row:
    """Each solar string and the solar inverter it feeds (a Powerwall+ PVAC or a Powerwall 3's PCH)."""
    return Row(
        "Solar strings",
        [
            ts(
                "String power",
                "Power of each solar string (Powerwall+ solar inverter).",
                [target(f"powerwall_solar_string_power_watts{{{S}}}", "{{gateway}} string {{string}}")],
                "watt",
                w=8,
            ),
            ts(
                "String voltage",
                "Voltage of each solar string.",
                [target(f"powerwall_solar_string_voltage_volts{{{S}}}", "{{gateway}} string {{string}}")],
                "volt",
                w=8,
            ),
            ts(
                "String current",
                "Current of each solar string.",
                [target(f"powerwall_solar_string_current_amperes{{{S}}}", "{{gateway}} string {{string}}")],
                "amp",
                w=8,
            ),
            timeline(
                "String connected",
                "Whether each string is connected (a red stretch in daylight costs yield).",
                [target(f"powerwall_solar_string_connected{{{S}}}", "{{gateway}} string {{string}}")],
                value_map(("1", "Connected", GREEN), ("0", "Disconnected", RED)),
            ),
            timeline(
                "String state",
                "State the solar inverter reports for each string.",
                [target(f"powerwall_solar_string_state_info{{{S}}} == 1", "{{gateway}} {{string}} {{state}}")],
                ACTIVE,
            ),
            ts(
                "Solar inverter power",
                "AC output of the Powerwall+ solar inverter, or the PV power into a Powerwall 3's inverter (all "
                "its strings).",
                [
                    target(
                        f"powerwall_solar_inverter_power_watts{{{S}}} "
                        f'or powerwall_inverter_solar_power_watts{{{S}, device="PCH"}}',
                        "{{gateway}} {{serial}}",
                    )
                ],
                "watt",
                w=12,
            ),
            stat(
                "Solar inverter state",
                "Current state of the solar inverter.",
                [target(f"powerwall_solar_inverter_state_info{{{S}}} == 1", "{{state}}", instant=True)],
                "none",
                w=12,
                options={"textMode": "name", "graphMode": "none", "colorMode": "none"},
            ),
            ts(
                "String share of inverter",
                "Each string's share of its solar inverter's production (recording rule; only while the "
                "inverter makes more than 50 W). A share that falls while its siblings' stay is a string "
                "losing yield (the PowerwallSolarStringUnderperforming alert).",
                [
                    target(
                        f"gateway_serial_string:powerwall_solar_string_power:share_of_inverter{{{S}}}",
                        "{{gateway}} {{serial}} string {{string}}",
                    )
                ],
                "percentunit",
                w=24,
                minv=0,
                maxv=1,
            ),
        ],
    )
