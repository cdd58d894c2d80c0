"""powerwall-fleet.json: an installer's view of hundreds to thousands of sites, worst first.

Every panel reads the fleet recording rules (deploy/prometheus/rules/powerwall-fleet.rules.yml) and
nothing else: one series per site and question (``shard_gateway:...``) or per shard (``job_shard...``),
so a thousand sites cost a few thousand series per refresh instead of every device's. Raw series stay
on the per-site dashboards, which the trouble table links to. Made for the central store of
deploy/scaling/ (sharded Prometheus servers remote-writing into one), where series carry the
``prometheus_shard`` external label; on a single Prometheus that label is absent and "All" still
matches.
"""

from __future__ import annotations

from grafana.builder.kit import (
    BLUE,
    GREEN,
    JSON,
    ORANGE,
    RED,
    UP_DOWN,
    YELLOW,
    Panel,
    Row,
    dashboard,
    stat,
    table,
    target,
    thresholds,
    ts,
    value_map,
)
from grafana.builder.variables import query_var, textbox_var

# Fleet totals are per (job, prometheus_shard); per-site series also carry `gateway`.
SF = 'job=~"$job", prometheus_shard=~"$shard"'
SS = f'{SF}, gateway=~"$gateway"'
SITE = "job, prometheus_shard, gateway"  # the labels of a per-site series

UP = f"shard_gateway:powerwall_up:max{{{SS}}}"
GRID = f"shard_gateway:powerwall_grid_connected:min{{{SS}}}"
BATTERY = f"shard_gateway:powerwall_battery_charge_app_ratio:max{{{SS}}}"
ALERTS = f"shard_gateway:powerwall_alerts_firing:count{{{SS}}}"
DEVICE_ALERTS = f"shard_gateway:powerwall_device_alerts:count{{{SS}}}"
DEVICE_FAULTS = f"shard_gateway:powerwall_device_faults:count{{{SS}}}"
TEDAPI = f"shard_gateway:powerwall_tedapi_healthy:min{{{SS}}}"
VERSION = f"shard_gateway_version:powerwall_info:group{{{SS}}}"
TROUBLE = f"shard_gateway:powerwall_trouble:score{{{SS}}}"
TOP_TROUBLE = f"topk($top, {TROUBLE})"

# The per-site dashboard the site names link to, with that site selected.
OVERVIEW_LINK = (
    "/d/powerwall-overview/powerwall-overview?var-datasource=${datasource}&var-gateway=${__value.raw}"
    "&${__url_time_range}"
)

JOB_VAR = query_var("job", "Job", "label_values(job_shard:powerwall_sites:count, job)")
GATEWAY_VAR = query_var("gateway", "Gateway", 'label_values(shard_gateway:powerwall_up:max{job=~"$job"}, gateway)')
SHARD_VAR = query_var(
    "shard", "Prometheus shard", 'label_values(job_shard:powerwall_sites:count{job=~"$job"}, prometheus_shard)'
)
TOP_VAR = textbox_var(
    "top", "Top N", "25", "How many sites the per-site tables list (the worst of the selected sites)."
)

GRID_MAP = value_map(("1", "On grid", GREEN), ("0", "OFF GRID", RED))
TEDAPI_MAP = value_map(("1", "OK", GREEN), ("0", "FAILING", ORANGE))


def total(metric: str) -> str:
    """A fleet total over the selected jobs and shards (a handful of series whatever the fleet's size)."""
    return f"sum({metric}{{{SF}}})"


def total_stat(title: str, desc: str, metric: str, steps: JSON, **kw: object) -> Panel:
    """A fleet number with its trend: totals are few series, so the sparkline's range query is cheap."""
    return stat(title, desc, [target(total(metric), title)], "none", decimals=0, steps=steps, **kw)


def bad_above(limit: float, color: str = RED) -> JSON:
    """Green up to ``limit``, ``color`` from it on: for counts of sites in trouble."""
    return thresholds((None, GREEN), (limit, color))


def for_top(expr: str, top: str) -> str:
    """``expr`` for the sites of the ``top`` query only, so every column of a table has the same rows."""
    return f"{expr} and on({SITE}) {top}"


def column(name: str, *props: JSON) -> JSON:
    """An override of one table column, by its name after renaming."""
    return {"matcher": {"id": "byName", "options": name}, "properties": list(props)}


def mapped(mappings: list[JSON]) -> list[JSON]:
    """Properties of a state column: its value mapped to text on a coloured cell."""
    return [
        {"id": "mappings", "value": mappings},
        {"id": "custom.cellOptions", "value": {"type": "color-background"}},
    ]


SITE_LINK = column(
    "Site",
    {
        "id": "links",
        "value": [{"title": "Open ${__value.raw} in Powerwall / Overview", "url": OVERVIEW_LINK}],
    },
)
PERCENT: list[JSON] = [{"id": "unit", "value": "percentunit"}, {"id": "decimals", "value": 0}]


def site_table(
    title: str, desc: str, columns: list[tuple[str, str]], *, sort: str, desc_order: bool, **kw: object
) -> Panel:
    """A per-site table: one instant query per column (the first picks the rows), merged by site.

    Each query gives "Value #<refId>"; the merge joins them on the site's labels, organize names the
    columns (its options name fields as they come, before renaming) and drops what no one reads: time,
    job, and a column named "" (an info series' constant 1, there for its labels).
    """
    refs = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    values = [(f"Value #{refs[i]}", name) for i, (name, _) in enumerate(columns)]
    rename = {"gateway": "Site", "prometheus_shard": "Shard", "version": "Firmware"}
    rename.update({field: name for field, name in values if name})
    hidden = {"Time": True, "__name__": True, "job": True, **{field: True for field, name in values if not name}}
    order = ["gateway", *(field for field, name in values if name), "version", "prometheus_shard"]
    return table(
        title,
        desc,
        [target(expr, instant=True, table=True) for _, expr in columns],
        [],
        transformations=[
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {
                    "excludeByName": hidden,
                    "renameByName": rename,
                    "indexByName": {field: i for i, field in enumerate(order)},
                },
            },
            {"id": "sortBy", "options": {"sort": [{"field": sort, "desc": desc_order}]}},
        ],
        **kw,
    )


def build() -> JSON:
    now = Row(
        "Fleet now (all sites of the selected jobs and shards)",
        [
            total_stat(
                "Sites",
                "Sites the fleet rules know: reporting now, or stopped reporting less than an hour ago.",
                "job_shard:powerwall_sites:count",
                thresholds((None, BLUE)),
            ),
            total_stat(
                "Sites up",
                "Sites whose gateway the exporter reached and logged in to in its last scrape.",
                "job_shard:powerwall_sites_up:sum",
                thresholds((None, GREEN)),
            ),
            total_stat(
                "Sites down",
                "Sites whose gateway the exporter cannot reach or log in to, or whose series stopped coming "
                "(exporter or Prometheus shard gone) within the last hour.",
                "job_shard:powerwall_sites_down:sum",
                bad_above(1),
            ),
            total_stat(
                "Off grid",
                "Sites running on their Powerwalls because the grid is down (islanded).",
                "job_shard:powerwall_sites_off_grid:sum",
                bad_above(1),
            ),
            total_stat(
                "Sites with alerts",
                "Sites with at least one firing warning or critical Prometheus alert (info alerts not counted).",
                "job_shard:powerwall_sites_alerting:count",
                bad_above(1, ORANGE),
            ),
            total_stat(
                "Alerts firing",
                "Warning and critical Prometheus alerts firing, over all sites.",
                "job_shard:powerwall_alerts_firing:sum",
                bad_above(1, ORANGE),
            ),
            total_stat(
                "Device faults",
                "Fault codes the Powerwall components report (names like PINV_f029_..., or with Fault), over all "
                "sites.",
                "job_shard:powerwall_device_faults:sum",
                bad_above(1),
            ),
            total_stat(
                "TEDAPI failing",
                "Sites whose TEDAPI (firmware 23.44 and later, every Powerwall 3) failed in the last scrape or has "
                "no usable queries.",
                "job_shard:powerwall_sites_tedapi_failing:sum",
                bad_above(1, ORANGE),
            ),
        ],
    )
    trouble = Row(
        "Sites by trouble",
        [
            site_table(
                "Sites by trouble",
                "The Top N selected sites with the highest trouble score, worst first. The score orders down (1000) "
                "before off grid (100), firing alerts (10 each, at most 9), TEDAPI failing (5), battery below 20 % "
                "(2) and then the emptier battery (up to 1); each step outweighs all below it. Click a site for "
                "its Overview dashboard.",
                [
                    ("Trouble", TOP_TROUBLE),
                    ("Up", for_top(UP, TOP_TROUBLE)),
                    ("Grid", for_top(GRID, TOP_TROUBLE)),
                    ("Battery", for_top(BATTERY, TOP_TROUBLE)),
                    ("Alerts", for_top(ALERTS, TOP_TROUBLE)),
                    ("Device faults", for_top(DEVICE_FAULTS, TOP_TROUBLE)),
                    ("Device alerts", for_top(DEVICE_ALERTS, TOP_TROUBLE)),
                    ("TEDAPI", for_top(TEDAPI, TOP_TROUBLE)),
                    ("", for_top(VERSION, TOP_TROUBLE)),
                ],
                sort="Trouble",
                desc_order=True,
                w=24,
                h=12,
                overrides=[
                    SITE_LINK,
                    column(
                        "Trouble",
                        {"id": "decimals", "value": 1},
                        {"id": "thresholds", "value": thresholds((None, GREEN), (2, YELLOW), (10, ORANGE), (100, RED))},
                        {"id": "custom.cellOptions", "value": {"type": "color-text"}},
                    ),
                    column("Up", *mapped(UP_DOWN)),
                    column("Grid", *mapped(GRID_MAP)),
                    column("Battery", *PERCENT),
                    column("TEDAPI", *mapped(TEDAPI_MAP)),
                ],
            ),
        ],
    )
    bands = [
        ("below 20 %", f"{BATTERY} < 0.2"),
        ("20-50 %", f"{BATTERY} >= 0.2 < 0.5"),
        ("50-80 %", f"{BATTERY} >= 0.5 < 0.8"),
        ("80 % and above", f"{BATTERY} >= 0.8"),
    ]
    lowest = f"bottomk($top, {BATTERY})"
    battery = Row(
        "Battery and grid",
        [
            stat(
                "Battery level distribution",
                "How many of the selected sites have their battery (app scale) in each band right now.",
                [target(f"count({expr}) or vector(0)", legend, instant=True) for legend, expr in bands],
                "none",
                w=8,
                h=6,
                decimals=0,
                color={"mode": "fixed", "fixedColor": GREEN},
                options={"graphMode": "none", "textMode": "value_and_name", "colorMode": "value"},
            ),
            ts(
                "Sites over time",
                "Sites up, down, off grid and with firing alerts over time (fleet totals of the selected jobs and "
                "shards).",
                [
                    target(total("job_shard:powerwall_sites_up:sum"), "up"),
                    target(total("job_shard:powerwall_sites_down:sum"), "down"),
                    target(total("job_shard:powerwall_sites_off_grid:sum"), "off grid"),
                    target(total("job_shard:powerwall_sites_alerting:count"), "with alerts"),
                ],
                "none",
                w=8,
                h=6,
                decimals=0,
                minv=0,
            ),
            site_table(
                "Lowest batteries",
                "The Top N selected sites with the emptiest battery (app scale), emptiest first, and whether they "
                "are on grid.",
                [("Battery", lowest), ("Grid", for_top(GRID, lowest))],
                sort="Battery",
                desc_order=False,
                w=8,
                h=6,
                overrides=[SITE_LINK, column("Battery", *PERCENT), column("Grid", *mapped(GRID_MAP))],
            ),
        ],
    )
    most_alerts = f"topk($top, {ALERTS})"
    alerts = Row(
        "Alerts",
        [
            site_table(
                "Alerts per site",
                "The Top N selected sites with the most firing warning/critical Prometheus alerts, with the device "
                "faults and all device alerts (informational ones included) their gateway reports.",
                [
                    ("Alerts", most_alerts),
                    ("Device faults", for_top(DEVICE_FAULTS, most_alerts)),
                    ("Device alerts", for_top(DEVICE_ALERTS, most_alerts)),
                ],
                sort="Alerts",
                desc_order=True,
                w=12,
                h=8,
                overrides=[SITE_LINK],
            ),
            ts(
                "Alerts over time",
                "Warning/critical alerts firing and device faults reported over time, over all sites of the "
                "selected jobs and shards.",
                [
                    target(total("job_shard:powerwall_alerts_firing:sum"), "alerts firing"),
                    target(total("job_shard:powerwall_device_faults:sum"), "device faults"),
                ],
                "none",
                w=12,
                h=8,
                decimals=0,
                minv=0,
            ),
        ],
    )
    tedapi_worst = f"bottomk($top, {TEDAPI})"
    firmware = Row(
        "Firmware and TEDAPI",
        [
            table(
                "Firmware versions",
                "Sites per gateway firmware version (all sites of the selected jobs and shards).",
                [
                    target(
                        f"sum by (version) (job_shard_version:powerwall_sites:count{{{SF}}})",
                        instant=True,
                        table=True,
                    )
                ],
                [],
                w=8,
                h=8,
                transformations=[
                    {
                        "id": "organize",
                        "options": {
                            "excludeByName": {"Time": True},
                            "renameByName": {"version": "Firmware", "Value": "Sites"},
                        },
                    },
                    {"id": "sortBy", "options": {"sort": [{"field": "Sites", "desc": True}]}},
                ],
            ),
            site_table(
                "TEDAPI per site",
                "TEDAPI health of the selected sites that have it configured, failing first: OK when every "
                "TEDAPI request of the last scrape succeeded. Sites without a tedapi: block are not listed.",
                [("TEDAPI", tedapi_worst), ("", for_top(VERSION, tedapi_worst))],
                sort="TEDAPI",
                desc_order=False,
                w=8,
                h=8,
                overrides=[SITE_LINK, column("TEDAPI", *mapped(TEDAPI_MAP))],
            ),
            ts(
                "TEDAPI over time",
                "Sites with TEDAPI configured, and of them those failing, over time (fleet totals).",
                [
                    target(total("job_shard:powerwall_sites_tedapi:count"), "with TEDAPI"),
                    target(total("job_shard:powerwall_sites_tedapi_failing:sum"), "failing"),
                ],
                "none",
                w=8,
                h=8,
                decimals=0,
                minv=0,
            ),
        ],
    )
    return dashboard(
        "powerwall-fleet",
        "Powerwall / Fleet",
        "Hundreds to thousands of sites at a glance for installers: sites up, down and off grid, alerts, "
        "battery levels, firmware and TEDAPI, and the sites in the most trouble first; from recording rules only.",
        [JOB_VAR, GATEWAY_VAR, SHARD_VAR, TOP_VAR],
        [now, trouble, battery, alerts, firmware],
        outage_expr=f"{GRID} == 0",
    )
