"""powerwall-energy.json: energy per day and per 30 days from the gateway's lifetime meter counters.

Solar yield, grid import/export, battery throughput, and a flat-rate cost estimate from prices typed into
two variables: it works without any exporter configuration (the tariff-based figures are on
powerwall-energy-cost.json, which needs a ``tariff:`` block).
"""

from __future__ import annotations

from grafana.builder.kit import (
    JSON,
    PURPLE,
    YELLOW,
    Row,
    bars,
    dashboard,
    energy_stat,
    stat,
    target,
    ts,
)
from grafana.builder.queries import (
    BLOCK_DISCHARGED,
    EXP,
    FLOWS,
    IMP,
    J_TO_KWH,
    POD_DISCHARGED,
    POWER,
    S,
    block_or_packs,
    kwh_range,
    meter,
)
from grafana.builder.variables import GATEWAY_VAR, JOB_VAR, textbox_var


def build() -> JSON:
    def flow_targets(window: str, interval: str) -> list[JSON]:
        return [
            target(
                f"sum(increase({meter(counter, m)}[{window}])) / {J_TO_KWH}",
                legend,
                interval=interval,
            )
            for legend, counter, m in FLOWS
        ]

    periods = Row(
        "Energy per period",
        [
            bars(
                "Energy per day",
                "Energy of each flow per day (sum of the selected gateways).",
                flow_targets("$__interval", "1d"),
                "kwatth",
                w=24,
                decimals=1,
            ),
            bars(
                "Energy per 30 days",
                "Energy of each flow per 30-day period over the last year. Needs a Prometheus retention "
                "of a year (the docker-compose stack keeps 400 days).",
                flow_targets("$__interval", "30d"),
                "kwatth",
                w=24,
                decimals=0,
                time_from="1y",
            ),
        ],
    )
    solar = Row(
        "Solar",
        [
            energy_stat(
                "Solar yield",
                "Energy your panels produced in the selected time range.",
                kwh_range(EXP, "solar"),
            ),
            stat(
                "Peak solar power",
                "Highest solar production in the selected time range.",
                [
                    target(
                        f"max by (gateway) (max_over_time({meter(POWER, 'solar')}[$__range]))",
                        "{{gateway}}",
                        instant=True,
                    )
                ],
                "watt",
                w=4,
                options={"graphMode": "none"},
            ),
            stat(
                "Solar used at home",
                "Share of the solar energy used by the home or stored in the battery instead of exported.",
                [
                    target(
                        f"clamp_min(1 - {kwh_range(EXP, 'site')} / {kwh_range(EXP, 'solar')}, 0)",
                        "{{gateway}}",
                        instant=True,
                    )
                ],
                "percentunit",
                w=4,
                decimals=0,
                options={"graphMode": "none"},
            ),
            ts(
                "Solar power",
                "Solar production over time.",
                [target(meter(POWER, "solar"), "{{gateway}}")],
                "watt",
                w=12,
                h=5,
                custom={"fillOpacity": 30},
                color={"mode": "fixed", "fixedColor": YELLOW},
            ),
        ],
    )
    grid = Row(
        "Grid",
        [
            energy_stat(
                "Imported from grid",
                "Energy bought from the grid in the selected time range.",
                kwh_range(IMP, "site"),
            ),
            energy_stat(
                "Exported to grid",
                "Energy sold to the grid in the selected time range.",
                kwh_range(EXP, "site"),
            ),
            energy_stat(
                "Net from grid",
                "Imported minus exported energy (negative: you gave more than you took).",
                f"{kwh_range(IMP, 'site')} - {kwh_range(EXP, 'site')}",
            ),
            ts(
                "Grid power",
                "Power from the grid (+ importing) and to the grid (- exporting).",
                [target(meter(POWER, "site"), "{{gateway}}")],
                "watt",
                w=12,
                h=5,
                color={"mode": "fixed", "fixedColor": PURPLE},
            ),
        ],
    )
    block = f"{{{S}}}"
    battery = Row(
        "Battery",
        [
            energy_stat(
                "Battery charged",
                "Energy put into the batteries in the selected time range.",
                kwh_range(IMP, "battery"),
            ),
            energy_stat(
                "Battery discharged",
                "Energy taken from the batteries in the selected time range.",
                kwh_range(EXP, "battery"),
            ),
            stat(
                "Discharged / charged",
                "Energy out per energy in over the range; over weeks this approaches the round-trip efficiency "
                "(about 90 %).",
                [target(f"{kwh_range(EXP, 'battery')} / {kwh_range(IMP, 'battery')}", "{{gateway}}", instant=True)],
                "percentunit",
                w=4,
                decimals=0,
                options={"graphMode": "none"},
            ),
            bars(
                "Battery throughput per Powerwall per day",
                "Energy each Powerwall charged and discharged per day.",
                [
                    target(
                        f"sum by (serial) (increase(powerwall_battery_block_energy_charged_joules_total{block}"
                        f"[$__interval])) / {J_TO_KWH}",
                        "{{serial}} charged",
                        interval="1d",
                    ),
                    target(
                        block_or_packs(
                            BLOCK_DISCHARGED,
                            POD_DISCHARGED,
                            lambda series: f"increase({series}[$__interval])",
                            by="serial",
                            serials=".+",
                        )
                        + f" / {J_TO_KWH}",
                        "{{serial}} discharged",
                        interval="1d",
                    ),
                ],
                "kwatth",
                decimals=1,
            ),
        ],
    )
    free_kwh = f"clamp_min({kwh_range(IMP, 'load')} - {kwh_range(IMP, 'site')}, 0)"
    cost = Row(
        "Cost estimate (set your prices in the variables above)",
        [
            stat(
                "Free energy used",
                "Home use that did not come from the grid (solar and battery): energy you did not pay for.",
                [target(free_kwh, "{{gateway}}", instant=True)],
                "kwatth",
                w=5,
                decimals=1,
                options={"graphMode": "none"},
            ),
            stat(
                "Saved by solar and battery",
                "Free energy used x your import price: what the same energy would have cost from the grid.",
                [target(f"{free_kwh} * $import_price", "{{gateway}}", instant=True)],
                "none",
                w=5,
                decimals=2,
                options={"graphMode": "none"},
            ),
            stat(
                "Grid import cost",
                "Energy imported x your import price.",
                [target(f"{kwh_range(IMP, 'site')} * $import_price", "{{gateway}}", instant=True)],
                "none",
                w=5,
                decimals=2,
                options={"graphMode": "none"},
            ),
            stat(
                "Export credit",
                "Energy exported x your export price (feed-in tariff).",
                [target(f"{kwh_range(EXP, 'site')} * $export_price", "{{gateway}}", instant=True)],
                "none",
                w=5,
                decimals=2,
                options={"graphMode": "none"},
            ),
            stat(
                "Net cost",
                "Import cost minus export credit (a flat-rate estimate; time-of-use tariffs differ).",
                [
                    target(
                        f"{kwh_range(IMP, 'site')} * $import_price - {kwh_range(EXP, 'site')} * $export_price",
                        "{{gateway}}",
                        instant=True,
                    )
                ],
                "none",
                w=4,
                decimals=2,
                options={"graphMode": "none"},
            ),
            bars(
                "Cost and savings per day",
                "Per day: what grid imports cost, what exports earned and what solar and battery saved.",
                [
                    target(
                        f"sum(increase({meter(IMP, 'site')}[$__interval])) / {J_TO_KWH} * $import_price",
                        "Import cost",
                        interval="1d",
                    ),
                    target(
                        f"sum(increase({meter(EXP, 'site')}[$__interval])) / {J_TO_KWH} * $export_price",
                        "Export credit",
                        interval="1d",
                    ),
                    target(
                        f"clamp_min(sum(increase({meter(IMP, 'load')}[$__interval])) - "
                        f"sum(increase({meter(IMP, 'site')}[$__interval])), 0) / {J_TO_KWH} * $import_price",
                        "Saved by solar and battery",
                        interval="1d",
                    ),
                ],
                "none",
                w=24,
                decimals=2,
            ),
        ],
    )
    return dashboard(
        "powerwall-energy",
        "Powerwall / Energy",
        "Daily and monthly energy per flow, solar yield, grid import/export, battery throughput and cost.",
        [
            JOB_VAR,
            GATEWAY_VAR,
            textbox_var("import_price", "Import price per kWh", "0.30", "What you pay per kWh from the grid."),
            textbox_var("export_price", "Export price per kWh", "0.08", "What you get per kWh sold to the grid."),
        ],
        [periods, solar, grid, battery, cost],
        time_from="now-30d",
    )
