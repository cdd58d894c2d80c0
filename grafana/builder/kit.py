"""Generate the Grafana dashboards in grafana/dashboards/*.json.

Why a generator instead of hand-edited JSON: six dashboards share the same template variables,
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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("build_dashboards")

JSON = dict[str, Any]

SCHEMA_VERSION = 41
OUT_DIR = Path(__file__).resolve().parents[1] / "dashboards"
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
# Powerwall serials of both generations: a Powerwall 2's thermal controller (TETHC) carries its package
# serial, a Powerwall 3 (TEDAPI, device PW3) its own; battery blocks use the same serials.
SERIAL_VAR = query_var(
    "serial",
    "Powerwall serial",
    'label_values(powerwall_device_info{job=~"$job", gateway=~"$gateway", device=~"TETHC|PW3"}, serial)',
)


def per_powerwall(metric: str) -> str:
    """A battery pod/inverter series labelled with (and filtered by) the serial of its Powerwall.

    The `serial` variable lists Powerwall serials (battery blocks; the thermal controller TETHC of a
    Powerwall 2 and a Powerwall 3 itself have the same serial). Pods and inverters carry their own
    serials; their parent DIN in powerwall_device_info names the Powerwall (``TETHC--<part>--<serial>``
    on a Powerwall 2, the Powerwall 3's DIN ``<part>--<serial>`` for its packs, DC expansions included,
    and its inverter PCH), so join on it and expose it as `powerwall`. The part number is part of the
    match because captures with zeroed serials repeat the serial.
    """
    parent = (
        f'label_replace(powerwall_device_info{{{S}, parent_din=~".+--($serial)"}}, '
        '"powerwall", "$1", "parent_din", ".+--(.+)")'
    )
    return f"{metric}{{{S}}} * on(gateway, device, part_number, serial) group_left(powerwall) {parent}"


BLOCK_FULL = "powerwall_battery_block_full_pack_energy_joules"
BLOCK_DISCHARGED = "powerwall_battery_block_energy_discharged_joules_total"
BLOCK_REMAINING = "powerwall_battery_block_remaining_energy_joules"
POD_FULL = "powerwall_pod_full_pack_energy_joules"
POD_DISCHARGED = "powerwall_pod_energy_discharged_joules_total"
POD_REMAINING = "powerwall_pod_energy_remaining_joules"


def block_or_packs(
    block: str,
    pack: str,
    fn: Callable[[str], str] = lambda series: series,
    *,
    agg: str = "sum",
    by: str = "",
    serials: str = "$serial",
) -> str:
    """A Powerwall 2 battery-block quantity per Powerwall, or on a Powerwall 3 its packs' (``agg``).

    A Powerwall 2 reports the quantity per battery block (/api/system_status, labelled with the
    Powerwall's serial and part number); a Powerwall 3's blocks there carry no data, but TEDAPI
    reports each of its battery packs (HVP: built-in and DC expansions), whose parent DIN
    ``<part>--<serial>`` is the Powerwall 3's. So the packs are combined per parent DIN, and its
    part and serial become `part_number` and `serial`: both sides of `or` carry the same labels,
    the block's own, or ``by`` when given (both sides are then summed by it). ``fn`` wraps each
    series selector (e.g. ``max_over_time(...[30d])``); ``serials`` is the regex of Powerwall
    serials to keep (".+" on dashboards without a `serial` variable).
    """
    serial = "" if serials == ".+" else f', serial=~"{serials}"'
    left = fn(f"{block}{{{S}{serial}}}")
    pack_series = fn(f'{pack}{{{S}, device="HVP"}}')
    parent = f'powerwall_device_info{{{S}, device="HVP", parent_din=~".+--({serials})"}}'
    packs = f"{pack_series} * on(gateway, device, part_number, serial) group_left(parent_din) {parent}"
    per_parent = f"{agg} by (job, instance, gateway, parent_din) ({packs})"
    for label, group in (("serial", "$2"), ("part_number", "$1")):
        per_parent = f'label_replace({per_parent}, "{label}", "{group}", "parent_din", "(.+)--(.+)")'
    if by:
        return f"(sum by ({by}) ({left}) or sum by ({by}) ({per_parent}))"
    return f"({left} or sum without (parent_din) ({per_parent}))"


def block_or_inverter(block: str, inverter: str) -> str:
    """A Powerwall 2 battery-block series, or on a Powerwall 3 its inverter PCH's (TEDAPI), which
    carries the Powerwall 3's own serial and part number: only `device` is dropped, so both sides
    of `or` have the same labels."""
    return f'({block}{{{SSER}}} or sum without (device) ({inverter}{{{SSER}, device="PCH"}}))'


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


def batteries() -> JSON:
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
    island = Row(
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
    return dashboard(
        "powerwall-devices",
        "Powerwall / Batteries and devices",
        "Per Powerwall capacity and degradation, inverter, temperatures, states, device alerts, gateway "
        "meters, islanding and solar strings.",
        [JOB_VAR, GATEWAY_VAR, SERIAL_VAR],
        [pw, states, alerts, meters, island, solar],
        time_from="now-7d",
    )


# --------------------------------------------------------------------------------------------------
# Energy flows, cost, battery health and outages (issue 11): exporter flow/cost/pod/outage metrics
# and the recording rules of deploy/prometheus/rules/powerwall-energy.rules.yml.

FLOW = "powerwall_energy_flow_joules_total"
SC = f'{S}, currency=~"$currency"'
SPOD = f'{S}, serial=~"$pod"'
CURRENCY_VAR = query_var(
    "currency",
    "Currency",
    'label_values(powerwall_grid_import_cost_total{job=~"$job", gateway=~"$gateway"}, currency)',
)
POD_VAR = query_var(
    "pod",
    "Battery pod serial",
    'label_values(powerwall_pod_full_pack_energy_joules{job=~"$job", gateway=~"$gateway"}, serial)',
)
# (legend, matcher) of the seven flows, in stacking order: what feeds the home first.
FLOW_SERIES: list[tuple[str, str]] = [
    ("Solar → home", 'source="solar", sink="home"'),
    ("Battery → home", 'source="battery", sink="home"'),
    ("Grid → home", 'source="grid", sink="home"'),
    ("Solar → battery", 'source="solar", sink="battery"'),
    ("Grid → battery", 'source="grid", sink="battery"'),
    ("Solar → grid", 'source="solar", sink="grid"'),
    ("Battery → grid", 'source="battery", sink="grid"'),
]
FLOW_COLORS = {
    "Solar → home": YELLOW,
    "Battery → home": GREEN,
    "Grid → home": PURPLE,
    "Solar → battery": "light-yellow",
    "Grid → battery": "light-purple",
    "Solar → grid": ORANGE,
    "Battery → grid": "dark-green",
}
STACKED = {"stacking": "normal"}


def flow_increase(matchers: str, window: str, by: str = "gateway") -> str:
    """Energy (J) of the flows matching `matchers` in a window, summed by `by`."""
    return f"sum by ({by}) (increase({FLOW}{{{S}, {matchers}}}[{window}]))"


def flow_kwh(matchers: str, window: str, by: str = "gateway") -> str:
    return f"{flow_increase(matchers, window, by)} / {J_TO_KWH}"


def self_powered(window: str, by: str = "gateway") -> str:
    """Share of home energy from solar and battery; no value (not NaN) without home use."""
    home = flow_increase('sink="home"', window, by)
    own = flow_increase('sink="home", source=~"solar|battery"', window, by)
    return f"{own} / ({home} > 0)"


def money(counter: str, window: str, by: str = "gateway, currency") -> str:
    return f"sum by ({by}) (increase({counter}{{{SC}}}[{window}]))"


def color_overrides(colors: dict[str, str]) -> list[JSON]:
    return [
        {
            "matcher": {"id": "byName", "options": name},
            "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": color}}],
        }
        for name, color in colors.items()
    ]


def money_stat(title: str, desc: str, expr: str) -> Panel:
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


def energy_cost() -> JSON:
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


def battery_health() -> JSON:
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


CLOCK_OFFSET_LIMIT_S = 10  # PowerwallTedapiClockOffset fires beyond this many seconds


def tedapi_paths() -> Row:
    """The exporter-health row for TEDAPI's two paths: v1r (signed, home LAN) and WiFi (gateway access point).

    Which path served each Powerwall unit, the v1r key faults and whether the key is accepted, and the
    clock offset v1r signatures depend on: what the PowerwallTedapiV1rKeyNotAccepted and
    PowerwallTedapiClockOffset runbooks send the owner to look at.
    """
    # One row per unit, the path as its value: 1 = v1r, 2 = wifi (info series carry the path as a label).
    path = (
        f'max by (gateway, unit) (powerwall_tedapi_path_info{{{S}, path="v1r"}} '
        f'or 2 * powerwall_tedapi_path_info{{{S}, path="wifi"}})'
    )
    limit = CLOCK_OFFSET_LIMIT_S
    return Row(
        "TEDAPI paths: home LAN (v1r) and WiFi",
        [
            timeline(
                "TEDAPI path per Powerwall",
                "Which path served each Powerwall unit's last TEDAPI answer (unit = its DIN): v1r, signed requests "
                "over the home LAN, or WiFi, the gateway's own access point. Followers are always read over WiFi "
                "(v1r answers for the leader only); with both paths configured the leader falls back to WiFi after "
                "3 failed LAN requests in a row (key faults do not count) and returns when a LAN probe answers "
                "(the first after 8 minutes, then up to 2 hours apart). No value: no TEDAPI answer (no tedapi: "
                "block, or v1r only with a refused key).",
                [target(path, "{{gateway}} {{unit}}")],
                value_map(("1", "v1r (home LAN)", GREEN), ("2", "WiFi", BLUE)),
                h=8,
            ),
            timeline(
                "v1r key accepted",
                "Whether the gateway accepted the v1r client key in its last answer (Refused: the last answer was "
                "a key fault, see v1r faults; the PowerwallTedapiV1rKeyNotAccepted alert after 15 minutes). No "
                "value: v1r not configured or not asked yet.",
                [target(f"powerwall_tedapi_v1r_key_accepted{{{S}}}", "{{gateway}}")],
                value_map(("1", "Accepted", GREEN), ("0", "Refused", RED)),
                h=8,
            ),
            ts(
                "v1r faults",
                "Faults the gateway answered to v1r requests per interval, by Tesla's fault name. Key faults "
                "(unknown_key_id, authorization_not_verified, inactive_key, invalid_signature, wrong_personalization, "
                "insufficient_privileges, not_provisioned_with_identity) need the owner: register or verify the key "
                "(runbook PowerwallTedapiV1rKeyNotAccepted); busy and timeout are transient; time_expired and "
                "time_to_live_too_long point at the clock (Gateway clock offset).",
                [
                    target(
                        "sum by (gateway, fault) "
                        f"(increase(powerwall_tedapi_v1r_faults_total{{{S}}}[$__rate_interval]))",
                        "{{gateway}} {{fault}}",
                    )
                ],
                "short",
                w=12,
                decimals=0,
                minv=0,
            ),
            ts(
                "Gateway clock offset",
                "The gateway's clock minus the exporter host's, from the Date header of the gateway's v1r answers "
                "(whole seconds: ±1 to 2 s is noise). Positive: the host's clock is behind. v1r signatures expire "
                f"on the gateway's clock; beyond ±{limit} s (dashed) the PowerwallTedapiClockOffset alert fires "
                "after 10 minutes: fix the host's time synchronisation (NTP).",
                [target(f"powerwall_tedapi_clock_offset_seconds{{{S}}}", "{{gateway}}")],
                "s",
                w=12,
                steps=thresholds((None, RED), (-limit, "transparent"), (limit, RED)),
                custom={"thresholdsStyle": {"mode": "dashed"}},
            ),
        ],
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
                "TEDAPI",
                "Whether TEDAPI (firmware 23.44 and later, every Powerwall 3) is configured with usable signed "
                "queries (1), or configured without (0; the PowerwallTedapiQueriesMissing alert); no value: no "
                "tedapi: block. Its requests appear as tedapi:* in Endpoint success (PowerwallTedapiFailing).",
                [
                    target(f"powerwall_tedapi_enabled{{{S}}}", "{{gateway}}"),
                    target(
                        f'min by (gateway) (powerwall_scrape_endpoint_success{{{S}, endpoint=~"tedapi:.*"}})',
                        "{{gateway}} all requests OK",
                    ),
                ],
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
                "Flow intervals skipped",
                "Intervals the energy-flow counters left out because a meter counter dipped or reset, or "
                "readings were too far apart (gap). A few per day are harmless; many mean flows are undercounted.",
                [
                    target(
                        zero_if_absent(
                            "sum by (gateway) "
                            f"(increase(powerwall_energy_flow_skipped_intervals_total{{{S}}}[$__range]))"
                        ),
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
                            "sum by (gateway) (increase(powerwall_scrape_endpoint_errors_total"
                            f'{{{S}, endpoint="/api/devices/vitals", reason="decode"}}[$__range]))'
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
                w=21,
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
                "Gateway requests by outcome",
                "Requests per second to each gateway: answered (with the HTTP status) or the transport "
                "failure (timeout, connection, tls, ...).",
                [
                    target(
                        "sum by (gateway, outcome, code) "
                        f"(rate(powerwall_gateway_requests_total{{{S}}}[$__rate_interval]))",
                        "{{gateway}} {{outcome}} {{code}}",
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
    tedapi = tedapi_paths()
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
        [status, endpoints, tedapi, process],
        time_from="now-6h",
    )


DASHBOARDS = {
    "powerwall-overview.json": overview,
    "powerwall-energy.json": energy,
    "powerwall-devices.json": batteries,
    "powerwall-exporter.json": exporter_health,
    "powerwall-energy-cost.json": energy_cost,
    "powerwall-battery-health.json": battery_health,
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
**import/export price per kWh** for the flat-rate cost estimates, Energy & cost adds **Currency** (its
costs come from the exporter's tariff counters, time-of-use periods included), Battery health adds
**Battery pod serial**. Energy figures come from the gateway's lifetime joule counters or the exporter's
energy-flow counters with `increase()` (kWh = J / 3.6e6); rates use `$__rate_interval`. Panels marked
"recording rule" read the rules of `../deploy/prometheus/rules/powerwall-energy.rules.yml` (listed in
`../deploy/README.md`), so they need the shipped rules loaded in Prometheus. The dashboards were
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
