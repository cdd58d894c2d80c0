"""Generate the Grafana dashboards in grafana/dashboards/*.json.

Why a generator instead of hand-edited JSON: four dashboards share the same template variables,
datasource references, selectors and panel defaults; writing them through one set of helpers keeps
every query filtered by ``job``/``gateway`` the same way and every panel carrying a unit, which a
hand-edited 3,000-line JSON file would not stay. The JSON output is committed (Grafana provisions
and imports it directly) and ``tests/test_dashboards.py`` fails when it is not what this script
produces, so edit here and run ``python grafana/build_dashboards.py`` (it also writes
grafana/README.md, the panel list).

Conventions (see ../shared/docs/prometheus-notes.md and issue 4):
- a ``datasource`` template variable, never ``__inputs``/``${DS_PROMETHEUS}`` (those break file
  provisioning);
- ``job`` and ``gateway`` are multi-value variables matched with ``=~``; ``serial`` where it applies;
- energy comes from the joule counters: ``increase(...)/3.6e6`` gives kWh;
- ``$__rate_interval`` for rates, ``$__range`` for "in the selected time range" totals.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("build_dashboards")

JSON = dict[str, Any]

SCHEMA_VERSION = 41
OUT_DIR = Path(__file__).resolve().parent / "dashboards"
DS: JSON = {"type": "prometheus", "uid": "${datasource}"}
J_TO_KWH = "3.6e6"  # joules per kWh
NAMEPLATE_KWH = 13.5  # Powerwall 2 / 2+ / 3 usable energy on the data sheet

# Selector fragments. Every powerwall_* series carries `gateway`; Prometheus adds `job`.
S = 'job=~"$job", gateway=~"$gateway"'
SJ = 'job=~"$job"'
SSER = f'{S}, serial=~"$serial"'

GREEN, RED, ORANGE, BLUE, YELLOW, PURPLE = "green", "red", "orange", "blue", "yellow", "purple"


# --------------------------------------------------------------------------------------------------
# Template variables


def datasource_var() -> JSON:
    return {
        "type": "datasource",
        "name": "datasource",
        "label": "Data source",
        "query": "prometheus",
        "regex": "",
        "current": {},
        "hide": 0,
        "includeAll": False,
        "multi": False,
        "options": [],
        "refresh": 1,
    }


def query_var(name: str, label: str, query: str, *, all_value: str = ".*") -> JSON:
    """A multi-value Prometheus label variable, matched with =~ in every query."""
    return {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DS,
        "definition": query,
        "query": {"qryType": 1, "query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        # Start on "All" so a fresh import shows every gateway instead of the first one found.
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "hide": 0,
        "includeAll": True,
        "allValue": all_value,
        "multi": True,
        "options": [],
        "refresh": 2,
        "regex": "",
        "sort": 1,
    }


def textbox_var(name: str, label: str, default: str, description: str) -> JSON:
    return {
        "type": "textbox",
        "name": name,
        "label": label,
        "description": description,
        "query": default,
        "current": {"selected": False, "text": default, "value": default},
        "options": [{"selected": True, "text": default, "value": default}],
        "hide": 0,
    }


JOB_VAR = query_var("job", "Job", "label_values(powerwall_up, job)")
GATEWAY_VAR = query_var("gateway", "Gateway", 'label_values(powerwall_up{job=~"$job"}, gateway)')
SERIAL_VAR = query_var(
    "serial",
    "Powerwall serial",
    'label_values(powerwall_battery_block_full_pack_energy_joules{job=~"$job", gateway=~"$gateway"}, serial)',
)


def per_powerwall(metric: str) -> str:
    """A battery pod/inverter series labelled with (and filtered by) the serial of its Powerwall.

    The `serial` variable lists Powerwall package serials (battery blocks; the thermal controller
    TETHC has the same serial). Pods and inverters carry their own serials; their parent DIN in
    powerwall_device_info names the Powerwall, so join on it and expose it as `powerwall`. The part
    number is part of the match because captures with zeroed serials repeat the serial.
    """
    parent = (
        f'label_replace(powerwall_device_info{{{S}, parent_din=~"TETHC--.*--($serial)"}}, '
        '"powerwall", "$1", "parent_din", "TETHC--.*--(.*)")'
    )
    return f"{metric}{{{S}}} * on(gateway, device, part_number, serial) group_left(powerwall) {parent}"


# --------------------------------------------------------------------------------------------------
# Panels


def target(expr: str, legend: str = "", *, instant: bool = False, table: bool = False, interval: str = "") -> JSON:
    t: JSON = {
        "datasource": DS,
        "editorMode": "code",
        "expr": expr,
        "legendFormat": legend or "__auto",
        "range": not instant,
        "instant": instant,
    }
    if table:
        t["format"] = "table"
    if interval:
        t["interval"] = interval
    return t


def thresholds(*steps: tuple[float | None, str]) -> JSON:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in steps]}


def value_map(*items: tuple[str, str, str]) -> list[JSON]:
    """Value mappings: (value, text, color)."""
    return [
        {
            "type": "value",
            "options": {v: {"text": text, "color": color, "index": i} for i, (v, text, color) in enumerate(items)},
        }
    ]


UP_DOWN = value_map(("1", "Up", GREEN), ("0", "Down", RED))
YES_NO = value_map(("1", "Yes", GREEN), ("0", "No", ORANGE))
OK_FAULT = value_map(("0", "OK", GREEN), ("1", "FAULT", RED))
ACTIVE = value_map(("1", "active", BLUE))


@dataclass
class Panel:
    kind: str
    title: str
    description: str
    targets: list[JSON]
    unit: str
    w: int = 6
    h: int = 8
    decimals: int | None = None
    minv: float | None = None
    maxv: float | None = None
    steps: JSON | None = None
    mappings: list[JSON] = field(default_factory=list)
    options: JSON = field(default_factory=dict)
    custom: JSON = field(default_factory=dict)
    overrides: list[JSON] = field(default_factory=list)
    transformations: list[JSON] = field(default_factory=list)
    time_from: str = ""
    color: JSON | None = None

    def to_json(self, pid: int, x: int, y: int) -> JSON:
        defaults: JSON = {"unit": self.unit, "mappings": self.mappings}
        if self.decimals is not None:
            defaults["decimals"] = self.decimals
        if self.minv is not None:
            defaults["min"] = self.minv
        if self.maxv is not None:
            defaults["max"] = self.maxv
        defaults["thresholds"] = self.steps or thresholds((None, GREEN))
        if self.color is not None:
            defaults["color"] = self.color
        custom = dict(_CUSTOM_DEFAULTS.get(self.kind, {}))
        custom.update(self.custom)
        if custom:
            defaults["custom"] = custom
        options: JSON = json.loads(json.dumps(_OPTION_DEFAULTS[self.kind]))
        options.update(self.options)
        refs = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        panel: JSON = {
            "id": pid,
            "type": self.kind,
            "title": self.title,
            "description": self.description,
            "datasource": DS,
            "gridPos": {"h": self.h, "w": self.w, "x": x, "y": y},
            "targets": [dict(t, refId=refs[i]) for i, t in enumerate(self.targets)],
            "fieldConfig": {"defaults": defaults, "overrides": self.overrides},
            "options": options,
        }
        if self.transformations:
            panel["transformations"] = self.transformations
        if self.time_from:
            panel["timeFrom"] = self.time_from
        return panel


_LEGEND: JSON = {"displayMode": "list", "placement": "bottom", "showLegend": True, "calcs": []}
_REDUCE: JSON = {"calcs": ["lastNotNull"], "fields": "", "values": False}
_OPTION_DEFAULTS: dict[str, JSON] = {
    "timeseries": {
        "legend": {"displayMode": "table", "placement": "bottom", "showLegend": True, "calcs": ["lastNotNull", "max"]},
        "tooltip": {"mode": "multi", "sort": "desc"},
    },
    "stat": {
        "reduceOptions": _REDUCE,
        "colorMode": "value",
        "graphMode": "area",
        "justifyMode": "auto",
        "orientation": "auto",
        "textMode": "auto",
        "wideLayout": True,
        "showPercentChange": False,
    },
    "gauge": {
        "reduceOptions": _REDUCE,
        "orientation": "auto",
        "showThresholdLabels": False,
        "showThresholdMarkers": True,
        "minVizHeight": 75,
        "minVizWidth": 75,
        "sizing": "auto",
    },
    "state-timeline": {
        "mergeValues": True,
        "showValue": "auto",
        "alignValue": "left",
        "rowHeight": 0.9,
        "legend": _LEGEND,
        "tooltip": {"mode": "single", "sort": "none"},
    },
    "barchart": {
        "orientation": "auto",
        "barWidth": 0.8,
        "groupWidth": 0.7,
        "stacking": "none",
        "showValue": "auto",
        "xTickLabelRotation": 0,
        "xTickLabelSpacing": 100,
        "legend": _LEGEND,
        "tooltip": {"mode": "multi", "sort": "none"},
    },
    "table": {"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"], "fields": ""}},
}
_CUSTOM_DEFAULTS: dict[str, JSON] = {
    "timeseries": {
        "drawStyle": "line",
        "lineInterpolation": "linear",
        "lineWidth": 1,
        "fillOpacity": 10,
        "showPoints": "never",
        "spanNulls": False,
        "axisPlacement": "auto",
        "stacking": {"mode": "none", "group": "A"},
    },
    "state-timeline": {"fillOpacity": 80, "lineWidth": 0},
    "barchart": {"fillOpacity": 80, "lineWidth": 1, "gradientMode": "none"},
    "table": {"align": "auto", "cellOptions": {"type": "auto"}},
}


def ts(title: str, desc: str, targets: list[JSON], unit: str, **kw: Any) -> Panel:
    return Panel("timeseries", title, desc, targets, unit, **kw)


def stat(title: str, desc: str, targets: list[JSON], unit: str, **kw: Any) -> Panel:
    kw.setdefault("w", 3)
    kw.setdefault("h", 5)
    return Panel("stat", title, desc, targets, unit, **kw)


def energy_stat(title: str, desc: str, expr: str) -> Panel:
    """A kWh-over-the-range number per gateway: the most common panel of the energy rows."""
    return stat(
        title,
        desc,
        [target(expr, "{{gateway}}", instant=True)],
        "kwatth",
        w=4,
        decimals=1,
        options={"graphMode": "none"},
    )


def gauge(title: str, desc: str, targets: list[JSON], unit: str, **kw: Any) -> Panel:
    kw.setdefault("w", 3)
    kw.setdefault("h", 5)
    return Panel("gauge", title, desc, targets, unit, **kw)


def timeline(title: str, desc: str, targets: list[JSON], mappings: list[JSON], **kw: Any) -> Panel:
    kw.setdefault("w", 12)
    kw.setdefault("h", 6)
    return Panel("state-timeline", title, desc, targets, "none", mappings=mappings, **kw)


def bars(title: str, desc: str, targets: list[JSON], unit: str, **kw: Any) -> Panel:
    """A bar chart over time; Grafana's bar chart wants one frame, hence the join by time."""
    kw.setdefault("w", 12)
    kw.setdefault("h", 9)
    kw.setdefault("transformations", [{"id": "joinByField", "options": {"byField": "Time", "mode": "outer"}}])
    return Panel("barchart", title, desc, targets, unit, **kw)


def table(title: str, desc: str, targets: list[JSON], hide: Sequence[str], **kw: Any) -> Panel:
    kw.setdefault("w", 12)
    kw.setdefault("h", 7)
    excl = {"Time": True, "__name__": True, "job": True, "instance": True}
    excl.update({c: True for c in hide})
    kw.setdefault("transformations", [{"id": "organize", "options": {"excludeByName": excl}}])
    return Panel("table", title, desc, targets, "none", **kw)


@dataclass
class Row:
    title: str
    panels: list[Panel]


def layout(rows: Iterable[Row]) -> list[JSON]:
    """Flow panels left to right, wrapping at Grafana's 24 columns; a row header above each group."""
    out: list[JSON] = []
    pid = 1
    y = 0
    for row in rows:
        out.append(
            {
                "id": pid,
                "type": "row",
                "title": row.title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        pid += 1
        y += 1
        x = 0
        line_h = 0
        for p in row.panels:
            if x + p.w > 24:
                y += line_h
                x = 0
                line_h = 0
            out.append(p.to_json(pid, x, y))
            pid += 1
            x += p.w
            line_h = max(line_h, p.h)
        y += line_h
    return out


def dashboard(
    uid: str, title: str, description: str, variables: list[JSON], rows: list[Row], *, time_from: str = "now-24h"
) -> JSON:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["powerwall", "tesla", "energy"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        "refresh": "30s",
        "time": {"from": time_from, "to": "now"},
        "timepicker": {},
        "links": [
            {
                "title": "Powerwall dashboards",
                "type": "dashboards",
                "tags": ["powerwall"],
                "asDropdown": True,
                "includeVars": True,
                "keepTime": True,
                "icon": "external link",
                "targetBlank": False,
                "tooltip": "",
                "url": "",
            }
        ],
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                },
                {
                    "datasource": DS,
                    "enable": True,
                    "hide": False,
                    "iconColor": "red",
                    "name": "Grid outages",
                    "expr": f"powerwall_grid_connected{{{S}}} == 0",
                    "step": "1m",
                    "titleFormat": "Grid outage",
                    "textFormat": "{{gateway}} is off grid",
                    "useValueForTime": False,
                },
            ]
        },
        "templating": {"list": [datasource_var(), *variables]},
        "panels": layout(rows),
    }


# --------------------------------------------------------------------------------------------------
# Query helpers


def meter(name: str, m: str, extra: str = "") -> str:
    return f'{name}{{{S}, meter="{m}"{extra}}}'


def kwh_range(counter: str, m: str, window: str = "$__range") -> str:
    """kWh that flowed through one meter in a window, summed over its selected gateways."""
    return f"sum by (gateway) (increase({meter(counter, m)}[{window}])) / {J_TO_KWH}"


IMP = "powerwall_meter_energy_imported_joules_total"
EXP = "powerwall_meter_energy_exported_joules_total"
POWER = "powerwall_meter_power_watts"

# (legend, counter, meter): the six energy flows a home owner reads.
FLOWS: list[tuple[str, str, str]] = [
    ("Home", IMP, "load"),
    ("Solar", EXP, "solar"),
    ("From grid", IMP, "site"),
    ("To grid", EXP, "site"),
    ("Battery charged", IMP, "battery"),
    ("Battery discharged", EXP, "battery"),
]


def zero_if_absent(expr: str) -> str:
    """Show 0 instead of "No data" for counters that only appear after the first event (e.g. a 429)."""
    return f"({expr}) or sum by (gateway) (0 * powerwall_up{{{S}}})"


# --------------------------------------------------------------------------------------------------
# Dashboards


def overview() -> JSON:
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
                [target(f"powerwall_operation_info{{{S}}} == 1", "{{mode}}", instant=True)],
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
                [target(f"powerwall_grid_status_info{{{S}}} == 1", "{{gateway}} {{grid_status}}")],
                ACTIVE,
            ),
            timeline(
                "Operation mode",
                "Which operation mode was active when.",
                [target(f"powerwall_operation_info{{{S}}} == 1", "{{gateway}} {{mode}}")],
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
                "Number of Powerwall batteries the gateway reports.",
                [target(f"powerwall_batteries{{{S}}}", "{{gateway}}")],
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


def energy() -> JSON:
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
                        f"sum by (serial) (increase(powerwall_battery_block_energy_discharged_joules_total{block}"
                        f"[$__interval])) / {J_TO_KWH}",
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


def batteries() -> JSON:
    blk = f"{{{SSER}}}"
    pw = Row(
        "Powerwalls",
        [
            gauge(
                "Capacity vs nameplate",
                f"Full-charge energy of each Powerwall relative to the {NAMEPLATE_KWH} kWh on the data sheet.",
                [
                    target(
                        f"powerwall_battery_block_full_pack_energy_joules{blk} / ({NAMEPLATE_KWH} * {J_TO_KWH})",
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
                "(the PowerwallCapacityDropped alert fires below -5 %).",
                [
                    target(
                        f"(powerwall_battery_block_full_pack_energy_joules{blk} - "
                        f"max_over_time(powerwall_battery_block_full_pack_energy_joules{blk}[30d])) / "
                        f"max_over_time(powerwall_battery_block_full_pack_energy_joules{blk}[30d])",
                        "{{serial}}",
                    )
                ],
                "percentunit",
                w=6,
                decimals=1,
                steps=thresholds((None, RED), (-0.05, ORANGE), (-0.02, GREEN)),
            ),
            stat(
                "Lifetime discharged",
                "Energy each Powerwall delivered since installation.",
                [
                    target(
                        f"powerwall_battery_block_energy_discharged_joules_total{blk} / {J_TO_KWH}",
                        "{{serial}}",
                    )
                ],
                "kwatth",
                w=6,
                decimals=0,
                options={"graphMode": "none"},
            ),
            stat(
                "Equivalent full cycles",
                "Lifetime discharged energy divided by the nameplate capacity.",
                [
                    target(
                        f"powerwall_battery_block_energy_discharged_joules_total{blk} / ({NAMEPLATE_KWH} * {J_TO_KWH})",
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
                "Energy stored in each Powerwall.",
                [target(f"powerwall_battery_block_remaining_energy_joules{blk} / {J_TO_KWH}", "{{serial}}")],
                "kwatth",
                w=12,
            ),
            ts(
                "Full-pack energy (degradation)",
                f"Energy each Powerwall holds when full; the dashed line is the {NAMEPLATE_KWH} kWh nameplate.",
                [target(f"powerwall_battery_block_full_pack_energy_joules{blk} / {J_TO_KWH}", "{{serial}}")],
                "kwatth",
                w=12,
                steps=thresholds((None, "transparent"), (NAMEPLATE_KWH, RED)),
                custom={"thresholdsStyle": {"mode": "dashed"}},
            ),
            ts(
                "Battery power",
                "Power of each Powerwall: + discharging, - charging.",
                [target(f"powerwall_battery_block_power_watts{blk}", "{{serial}}")],
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
                "Ambient temperature measured by each Powerwall's thermal controller.",
                [target(f"powerwall_thermal_ambient_temperature_celsius{blk}", "{{serial}}")],
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
                "Energy remaining in each battery pod and energy still needed to fill it.",
                [
                    target(
                        f"{per_powerwall('powerwall_pod_energy_remaining_joules')} / {J_TO_KWH}",
                        "{{powerwall}} remaining",
                    ),
                    target(
                        f"{per_powerwall('powerwall_pod_energy_to_be_charged_joules')} / {J_TO_KWH}",
                        "{{powerwall}} to charge",
                    ),
                ],
                "kwatth",
                w=12,
            ),
        ],
    )
    states = Row(
        "States",
        [
            timeline(
                "Powerwall state",
                "Inverter and grid state of each Powerwall as the gateway reports them.",
                [
                    target(
                        f"powerwall_battery_block_state_info{blk} == 1",
                        "{{serial}} {{pinv_state}} {{pinv_grid_state}}",
                    )
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
    meters = Row(
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
                "Real power on each current transformer (X = site, Y = solar/aux, Z = backup switch).",
                [target(f"powerwall_ct_power_watts{{{S}}}", "{{gateway}} {{meter}} CT {{ct}}")],
                "watt",
                w=8,
            ),
            ts(
                "CT current",
                "Current on each current transformer.",
                [target(f"powerwall_ct_current_amperes{{{S}}}", "{{gateway}} {{meter}} CT {{ct}}")],
                "amp",
                w=8,
            ),
            ts(
                "CT line voltage",
                "Line-to-neutral voltage measured by each meter.",
                [target(f"powerwall_ct_voltage_volts{{{S}}}", "{{gateway}} {{meter}} {{line}}")],
                "volt",
                w=8,
            ),
        ],
    )
    island = Row(
        "Islanding (backup switch)",
        [
            ts(
                "Island voltages",
                "Voltages on the grid (main) and home (load) side of the backup switch.",
                [target(f"powerwall_island_voltage_volts{{{S}}}", "{{gateway}} {{side}} {{line}}")],
                "volt",
                w=8,
            ),
            ts(
                "Island frequencies",
                "Frequencies on the grid (main) and home (load) side of the backup switch.",
                [target(f"powerwall_island_frequency_hertz{{{S}}}", "{{gateway}} {{side}} {{line}}")],
                "hertz",
                w=8,
            ),
            timeline(
                "Island grid state",
                "The synchronizer's view of the grid: connected or islanded.",
                [
                    target(f"powerwall_island_grid_connected{{{S}}}", "{{gateway}} grid connected"),
                ],
                value_map(("1", "Connected", GREEN), ("0", "Islanded", RED)),
                w=8,
            ),
        ],
    )
    solar = Row(
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
                "AC output of the Powerwall+ solar inverter.",
                [target(f"powerwall_solar_inverter_power_watts{{{S}}}", "{{gateway}} {{serial}}")],
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
        ],
    )
    return dashboard(
        "powerwall-devices",
        "Powerwall / Batteries and devices",
        "Per Powerwall capacity and degradation, inverter, temperatures, states, device alerts, gateway "
        "meters, islanding and solar strings.",
        [JOB_VAR, GATEWAY_VAR, SERIAL_VAR],
        [pw, states, alerts, meters, island, solar],
        time_from="now-7d",
    )


def exporter_health() -> JSON:
    status = Row(
        "Status",
        [
            stat(
                "Exporter",
                "Whether Prometheus can scrape the exporter.",
                [target(f"up{{{SJ}}}", "{{instance}}")],
                "none",
                mappings=UP_DOWN,
                options={"colorMode": "background", "graphMode": "none"},
            ),
            stat(
                "Gateway",
                "Whether the exporter reached and logged in to each gateway in its last scrape.",
                [target(f"powerwall_up{{{S}}}", "{{gateway}}")],
                "none",
                mappings=UP_DOWN,
                options={"colorMode": "background", "graphMode": "none"},
            ),
            stat(
                "Vitals supported",
                "Whether the gateway serves device vitals (removed in firmware 23.44).",
                [target(f"powerwall_vitals_supported{{{S}}}", "{{gateway}}")],
                "none",
                mappings=YES_NO,
                options={"graphMode": "none"},
            ),
            stat(
                "Rate-limit cooldown",
                "Time the exporter still waits before asking a gateway that answered 429 again.",
                [target(f"powerwall_gateway_cooldown_seconds{{{S}}}", "{{gateway}}")],
                "s",
                steps=thresholds((None, GREEN), (1, ORANGE)),
            ),
            stat(
                "429 answers",
                "Rate-limit answers from the gateway in the selected range.",
                [
                    target(
                        zero_if_absent(
                            "sum by (gateway) "
                            f'(increase(powerwall_gateway_requests_total{{{S}, code="429"}}[$__range]))'
                        ),
                        "{{gateway}}",
                        instant=True,
                    )
                ],
                "short",
                decimals=0,
                steps=thresholds((None, GREEN), (1, ORANGE)),
                options={"graphMode": "none"},
            ),
            stat(
                "Counter dips",
                "Small backwards steps of the gateway's lifetime energy counters that the exporter held back.",
                [
                    target(
                        zero_if_absent(f"sum by (gateway) (increase(powerwall_monotonic_dips_total{{{S}}}[$__range]))"),
                        "{{gateway}}",
                        instant=True,
                    )
                ],
                "short",
                decimals=0,
                options={"graphMode": "none"},
            ),
            stat(
                "Vitals decode errors",
                "Device vitals answers the exporter could not decode in the selected range.",
                [
                    target(
                        zero_if_absent(
                            f"sum by (gateway) (increase(powerwall_vitals_decode_errors_total{{{S}}}[$__range]))"
                        ),
                        "{{gateway}}",
                        instant=True,
                    )
                ],
                "short",
                decimals=0,
                steps=thresholds((None, GREEN), (1, ORANGE)),
                options={"graphMode": "none"},
            ),
            stat(
                "Samples per scrape",
                "Series the exporter exposes per scrape.",
                [target(f"scrape_samples_scraped{{{SJ}}}", "{{instance}}")],
                "short",
            ),
            table(
                "Versions",
                "Exporter version and each gateway's firmware.",
                [
                    target(f"powerwall_exporter_build_info{{{SJ}}}", "", instant=True, table=True),
                    target(f"powerwall_info{{{S}}}", "", instant=True, table=True),
                ],
                ["Value"],
                w=24,
                h=6,
            ),
        ],
    )
    endpoints = Row(
        "Gateway endpoints",
        [
            timeline(
                "Endpoint success",
                "Whether each gateway endpoint answered in each scrape.",
                [target(f"powerwall_scrape_endpoint_success{{{S}}}", "{{gateway}} {{endpoint}}")],
                value_map(("1", "OK", GREEN), ("0", "Failed", RED)),
                w=24,
                h=9,
            ),
            ts(
                "Endpoint latency",
                "Time each gateway endpoint took to answer.",
                [target(f"powerwall_scrape_endpoint_duration_seconds{{{S}}}", "{{gateway}} {{endpoint}}")],
                "s",
                w=12,
            ),
            ts(
                "Scrape duration",
                "Time a whole scrape took, in the exporter and as Prometheus saw it.",
                [
                    target(f"powerwall_scrape_duration_seconds{{{S}}}", "{{gateway}} exporter"),
                    target(f"scrape_duration_seconds{{{SJ}}}", "{{instance}} Prometheus scrape"),
                ],
                "s",
                w=12,
            ),
            ts(
                "Gateway requests by status code",
                "Requests per second to each gateway, by HTTP status.",
                [
                    target(
                        f"sum by (gateway, code) (rate(powerwall_gateway_requests_total{{{S}}}[$__rate_interval]))",
                        "{{gateway}} {{code}}",
                    )
                ],
                "reqps",
                w=8,
            ),
            ts(
                "Logins",
                "Logins per interval by result (success, bad_credentials, rate_limited, error). One login "
                "should last for many scrapes.",
                [
                    target(
                        f"sum by (gateway, result) (increase(powerwall_login_attempts_total{{{S}}}[$__rate_interval]))",
                        "{{gateway}} {{result}}",
                    )
                ],
                "short",
                w=8,
            ),
            ts(
                "Endpoint errors",
                "Failed gateway requests per interval, by endpoint and reason.",
                [
                    target(
                        "sum by (gateway, endpoint, reason) "
                        f"(increase(powerwall_scrape_endpoint_errors_total{{{S}}}[$__rate_interval]))",
                        "{{gateway}} {{endpoint}} {{reason}}",
                    )
                ],
                "short",
                w=8,
            ),
        ],
    )
    process = Row(
        "Exporter process",
        [
            ts(
                "Memory",
                "Resident memory of the exporter process.",
                [target(f"process_resident_memory_bytes{{{SJ}}}", "{{instance}}")],
                "bytes",
                w=12,
            ),
            ts(
                "CPU",
                "CPU used by the exporter process.",
                [target(f"rate(process_cpu_seconds_total{{{SJ}}}[$__rate_interval])", "{{instance}}")],
                "percentunit",
                w=12,
            ),
        ],
    )
    return dashboard(
        "powerwall-exporter",
        "Powerwall / Exporter health",
        "Is the exporter up, does each gateway endpoint answer, how fast, logins and rate limits.",
        [JOB_VAR, GATEWAY_VAR],
        [status, endpoints, process],
        time_from="now-6h",
    )


DASHBOARDS = {
    "powerwall-overview.json": overview,
    "powerwall-energy.json": energy,
    "powerwall-devices.json": batteries,
    "powerwall-exporter.json": exporter_health,
}


README_HEADER = """\
# Grafana dashboards for powerwall-exporter

GENERATED by `grafana/build_dashboards.py` (with the JSON next to it); edit the script, not this file.

| file | dashboard |
| --- | --- |
{files}

**Import** through the Grafana UI (Dashboards → New → Import → upload a JSON file, then pick your
Prometheus in the "Data source" drop-down at the top), or **provision** from files with
`provisioning/datasources/prometheus.yaml` and `provisioning/dashboards/powerwall.yaml` (the compose
stack in `../deploy/` does this). No `__inputs`: the dashboards pick the data source through their
`datasource` variable, which works for both.

Every dashboard has the variables **Data source**, **Job** and **Gateway** (multi-value; "All" shows the
sum or every gateway side by side). Batteries and devices adds **Powerwall serial**, Energy adds the
**import/export price per kWh** for the cost estimates. Energy figures come from the gateway's lifetime
joule counters with `increase()` (kWh = J / 3.6e6); rates use `$__rate_interval`. The dashboards were
checked by running every panel query against a real Prometheus scraping the exporter
(`tests/test_e2e.py`); Grafana itself was not run.
"""


def render_readme() -> str:
    """grafana/README.md: every dashboard with its panels and what each shows."""
    built = {name: build() for name, build in DASHBOARDS.items()}
    files = "\n".join(f"| `dashboards/{name}` | {d['title']}: {d['description']} |" for name, d in built.items())
    parts = [README_HEADER.format(files=files)]
    for d in built.values():
        parts.append(f"## {d['title']}")
        for p in d["panels"]:
            if p["type"] == "row":
                parts.append(f"\n**{p['title']}**\n")
            else:
                parts.append(
                    f"- *{p['title']}* ({p['type']}, {p['fieldConfig']['defaults']['unit']}): {p['description']}"
                )
        parts.append("")
    return "\n".join(parts).rstrip("\n") + "\n"


def render() -> dict[str, str]:
    """File name (relative to grafana/) → exact text, so the test can compare byte for byte."""
    out = {
        f"dashboards/{name}": json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
        for name, build in DASHBOARDS.items()
    }
    out["README.md"] = render_readme()
    return out


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in render().items():
        path = OUT_DIR.parent / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            log.info("wrote %s", path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
