"""powerwall-energy-cost.json: energy flows between solar, battery, home and grid, and what they cost.

From the exporter's energy-flow and tariff counters (issue 11) and the recording rules of
deploy/prometheus/rules/powerwall-energy.rules.yml: per-day flows, the self-powered share, and import
cost and export credit under the configured (time-of-use) tariff, per currency.
"""

from __future__ import annotations

from grafana.builder.kit import (
    FLOW_COLORS,
    JSON,
    Panel,
    Row,
    bars,
    color_overrides,
    dashboard,
    energy_stat,
    stat,
    table,
    target,
    ts,
)
from grafana.builder.queries import (
    FLOW_SERIES,
    J_TO_KWH,
    SC,
    S,
    flow_kwh,
    money,
    self_powered,
)
from grafana.builder.variables import CURRENCY_VAR, GATEWAY_VAR, JOB_VAR

STACKED = {"stacking": "normal"}


def money_stat(title: str, desc: str, expr: str) -> Panel:
    """A today's-money number per gateway and currency (the tariff's currency names the unit)."""
    return stat(
        title,
        desc,
        [target(expr, "{{gateway}} ({{currency}})", instant=True)],
        "none",
        w=4,
        decimals=2,
        time_from="now/d",
        options={"graphMode": "none"},
    )


IMPORT_COST = "powerwall_grid_import_cost_total"
EXPORT_CREDIT = "powerwall_grid_export_credit_total"
IMPORT_BY_PERIOD = "powerwall_grid_import_cost_by_period_total"
EXPORT_BY_PERIOD = "powerwall_grid_export_credit_by_period_total"


def build() -> JSON:
    today = Row(
        "Today",
        [
            energy_stat(
                "Home use today",
                "Energy your home used since midnight, from all sources.",
                flow_kwh('sink="home"', "$__range"),
            ),
            energy_stat(
                "Solar today",
                "Energy your panels produced since midnight (to the home, the battery and the grid).",
                flow_kwh('source="solar"', "$__range"),
            ),
            energy_stat(
                "From grid today",
                "Energy bought from the grid since midnight (for the home and for charging the battery).",
                flow_kwh('source="grid"', "$__range"),
            ),
            energy_stat(
                "To grid today",
                "Energy sold to the grid since midnight (from solar and from the battery).",
                flow_kwh('sink="grid"', "$__range"),
            ),
            stat(
                "Self-powered today",
                "Share of today's home use that came from solar and the battery rather than the grid.",
                [target(self_powered("$__range"), "{{gateway}}", instant=True)],
                "percentunit",
                w=4,
                decimals=0,
                time_from="now/d",
                minv=0,
                maxv=1,
                options={"graphMode": "none"},
            ),
            stat(
                "Battery to home today",
                "Energy the battery gave the home since midnight.",
                [target(flow_kwh('source="battery", sink="home"', "$__range"), "{{gateway}}", instant=True)],
                "kwatth",
                w=4,
                decimals=1,
                time_from="now/d",
                options={"graphMode": "none"},
            ),
            money_stat(
                "Import cost today",
                "What the energy bought from the grid since midnight cost, at the tariff in force when it "
                "was bought (time-of-use periods included).",
                money(IMPORT_COST, "$__range"),
            ),
            money_stat(
                "Export credit today",
                "What the energy sold to the grid since midnight earned.",
                money(EXPORT_CREDIT, "$__range"),
            ),
            money_stat(
                "Net cost today",
                "Import cost minus export credit since midnight (negative: you earned more than you paid).",
                f"{money(IMPORT_COST, '$__range')} - {money(EXPORT_CREDIT, '$__range')}",
            ),
            stat(
                "Import price now",
                "The import price per kWh in force now, and its tariff period (default outside any "
                "time-of-use window).",
                [target(f"powerwall_tariff_import_price_per_kwh{{{SC}}}", "{{gateway}} {{period}} ({{currency}}/kWh)")],
                "none",
                w=6,
                decimals=3,
                options={"textMode": "value_and_name", "graphMode": "none"},
            ),
            stat(
                "Export price now",
                "The export (feed-in) price per kWh in force now, and its tariff period.",
                [target(f"powerwall_tariff_export_price_per_kwh{{{SC}}}", "{{gateway}} {{period}} ({{currency}}/kWh)")],
                "none",
                w=6,
                decimals=3,
                options={"textMode": "value_and_name", "graphMode": "none"},
            ),
        ],
    )
    flows = Row(
        "Energy flows",
        [
            bars(
                "Energy flows per day",
                "Where each day's energy came from and went to (sum of the selected gateways), from the "
                "exporter's flow counters: solar, battery and grid to the home, the battery charged from "
                "solar or grid, and exports.",
                [
                    target(flow_kwh(m, "$__interval", by="source, sink"), legend, interval="1d")
                    for legend, m in FLOW_SERIES
                ],
                "kwatth",
                w=24,
                decimals=1,
                options=STACKED,
                overrides=color_overrides(FLOW_COLORS),
            ),
            bars(
                "Self-powered per day",
                "Share of each day's home use that came from solar and the battery.",
                [target(self_powered("$__interval"), "{{gateway}}", interval="1d")],
                "percentunit",
                decimals=0,
                minv=0,
                maxv=1,
            ),
            ts(
                "Self-powered and solar self-consumption (rolling 24 h)",
                "Recording rules: the share of the home's energy from solar and battery, and the share of the "
                "solar energy used at home or stored instead of exported, each over the 24 hours before "
                "every point.",
                [
                    target(f"gateway:powerwall_self_powered:ratio1d{{{S}}}", "{{gateway}} self-powered"),
                    target(
                        f"gateway:powerwall_solar_self_consumption:ratio1d{{{S}}}", "{{gateway}} solar self-consumption"
                    ),
                ],
                "percentunit",
                w=12,
                h=9,
                minv=0,
                maxv=1,
            ),
            ts(
                "Energy flows per hour",
                "Recording rule: energy of each flow in the hour before every point.",
                [
                    target(
                        f"sum by (source, sink) (gateway_source_sink:powerwall_energy_flow_joules:increase1h{{{S}}}) "
                        f"/ {J_TO_KWH}",
                        "{{source}} → {{sink}}",
                    )
                ],
                "kwatth",
                w=24,
                decimals=2,
            ),
        ],
    )
    cost = Row(
        "Cost and credit",
        [
            bars(
                "Cost and credit per day",
                "Per day: what grid imports cost, what exports earned, and the difference, in the tariff's currency.",
                [
                    target(money(IMPORT_COST, "$__interval", "currency"), "Import cost ({{currency}})", interval="1d"),
                    target(
                        money(EXPORT_CREDIT, "$__interval", "currency"), "Export credit ({{currency}})", interval="1d"
                    ),
                    target(
                        f"{money(IMPORT_COST, '$__interval', 'currency')} - "
                        f"{money(EXPORT_CREDIT, '$__interval', 'currency')}",
                        "Net cost ({{currency}})",
                        interval="1d",
                    ),
                ],
                "none",
                w=24,
                decimals=2,
            ),
            bars(
                "Import cost per day by tariff period",
                "What each time-of-use period's imports cost per day (stacked: the bar is the day's import cost).",
                [
                    target(
                        money(IMPORT_BY_PERIOD, "$__interval", "currency, period"),
                        "{{period}} ({{currency}})",
                        interval="1d",
                    )
                ],
                "none",
                decimals=2,
                options=STACKED,
            ),
            bars(
                "Export credit per day by tariff period",
                "What each time-of-use period's exports earned per day.",
                [
                    target(
                        money(EXPORT_BY_PERIOD, "$__interval", "currency, period"),
                        "{{period}} ({{currency}})",
                        interval="1d",
                    )
                ],
                "none",
                decimals=2,
                options=STACKED,
            ),
            table(
                "Cost by tariff period",
                "Import cost and export credit of each tariff period in the selected time range.",
                [
                    target(money(IMPORT_BY_PERIOD, "$__range", "gateway, currency, period"), instant=True, table=True),
                    target(money(EXPORT_BY_PERIOD, "$__range", "gateway, currency, period"), instant=True, table=True),
                ],
                [],
                transformations=[
                    {"id": "merge", "options": {}},
                    {
                        "id": "organize",
                        "options": {
                            "excludeByName": {"Time": True},
                            "renameByName": {"Value #A": "Import cost", "Value #B": "Export credit"},
                        },
                    },
                ],
                decimals=2,
            ),
            ts(
                "Tariff prices",
                "Import and export price per kWh over time; steps are time-of-use periods starting and ending.",
                [
                    target(f"powerwall_tariff_import_price_per_kwh{{{SC}}}", "{{gateway}} import {{period}}"),
                    target(f"powerwall_tariff_export_price_per_kwh{{{SC}}}", "{{gateway}} export {{period}}"),
                ],
                "none",
                w=12,
                decimals=3,
                custom={"lineInterpolation": "stepAfter"},
            ),
        ],
    )
    return dashboard(
        "powerwall-energy-cost",
        "Powerwall / Energy & cost",
        "Energy flows between solar, battery, home and grid per day, self-powered share, and what the grid "
        "cost and paid under your (time-of-use) tariff.",
        [JOB_VAR, GATEWAY_VAR, CURRENCY_VAR],
        [today, flows, cost],
        time_from="now-30d",
    )
