"""The widget kit: panels with Grafana's defaults filled in, rows, the grid layout and the dashboard shell.

Why a kit: Grafana stores every option of every panel, and a panel missing one (a unit, the datasource reference,
the legend) looks different from its neighbours or breaks file provisioning. Building each panel from one ``Panel``
with per-type defaults keeps the dashboards uniform, and the layout flows panels onto the 24-column grid.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from grafana.builder.queries import S

JSON = dict[str, Any]

SCHEMA_VERSION = 41
DS: JSON = {"type": "prometheus", "uid": "${datasource}"}  # every panel and query picks it through `datasource`

GREEN, RED, ORANGE, BLUE, YELLOW, PURPLE = "green", "red", "orange", "blue", "yellow", "purple"
# The colour of each energy flow, by its legend in queries.FLOW_SERIES.
FLOW_COLORS = {
    "Solar → home": YELLOW,
    "Battery → home": GREEN,
    "Grid → home": PURPLE,
    "Solar → battery": "light-yellow",
    "Grid → battery": "light-purple",
    "Solar → grid": ORANGE,
    "Battery → grid": "dark-green",
}


def datasource_var() -> JSON:
    """The first variable of every dashboard: the Prometheus data source, picked at import or provisioning.

    Here rather than in :mod:`~grafana.builder.variables` because :func:`dashboard` adds it itself, so no
    dashboard can forget it (``__inputs`` would be the alternative, and it breaks file provisioning).
    """
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


# --------------------------------------------------------------------------------------------------
# Panels


def target(expr: str, legend: str = "", *, instant: bool = False, table: bool = False, interval: str = "") -> JSON:
    """One query of a panel, in code mode (the editor's builder mode would rewrite hand-written PromQL)."""
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
    """Absolute thresholds from (value, color) steps; the first step's value is None (from -inf)."""
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
    """One panel before layout: what differs between panels; :meth:`to_json` adds the per-type defaults."""

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
        """Grafana's panel JSON at grid position (x, y); refIds A, B, ... in the order of the targets."""
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
    """A time series panel, the default size (a quarter of the width)."""
    return Panel("timeseries", title, desc, targets, unit, **kw)


def stat(title: str, desc: str, targets: list[JSON], unit: str, **kw: Any) -> Panel:
    """A single number, small by default: eight fit across a row."""
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
    """A gauge, the size of a stat, for a value with a natural range (battery level, capacity)."""
    kw.setdefault("w", 3)
    kw.setdefault("h", 5)
    return Panel("gauge", title, desc, targets, unit, **kw)


def timeline(title: str, desc: str, targets: list[JSON], mappings: list[JSON], **kw: Any) -> Panel:
    """A state timeline: states and flags over time, named by ``mappings`` (unitless)."""
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
    """A table of instant series, without the columns no reader needs (time, name, job, instance, ``hide``)."""
    kw.setdefault("w", 12)
    kw.setdefault("h", 7)
    excl = {"Time": True, "__name__": True, "job": True, "instance": True}
    excl.update({c: True for c in hide})
    kw.setdefault("transformations", [{"id": "organize", "options": {"excludeByName": excl}}])
    return Panel("table", title, desc, targets, "none", **kw)


@dataclass
class Row:
    """A titled group of panels; :func:`layout` puts a row header above them."""

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
    uid: str,
    title: str,
    description: str,
    variables: list[JSON],
    rows: list[Row],
    *,
    time_from: str = "now-24h",
    outage_expr: str = f"powerwall_grid_connected{{{S}}} == 0",
) -> JSON:
    """What every dashboard shares (tags, links, the grid-outage annotation on ``outage_expr``, which
    the fleet dashboard points at its recording rule, the datasource variable) around its own rows."""
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
                    "expr": outage_expr,
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


def color_overrides(colors: dict[str, str]) -> list[JSON]:
    """Fixed colours by series name, so a flow has the same colour on every panel that shows it."""
    return [
        {
            "matcher": {"id": "byName", "options": name},
            "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": color}}],
        }
        for name, color in colors.items()
    ]
