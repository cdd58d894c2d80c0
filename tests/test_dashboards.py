"""Static checks of the Grafana dashboards, and every panel query parsed by a real Prometheus.

Why: Grafana itself cannot run here, so the things that break dashboards in practice are checked
directly — provisioning-hostile `__inputs`, panels without a unit, queries that ignore the
gateway/job variables or use a metric name the exporter does not expose (no golden exposition has it)
and no shipped recording rule writes, stale generated JSON — and
every query is sent to a real (empty) Prometheus so a syntax error fails here, not in a user's Grafana.
The end-to-end test (test_e2e.py) then checks that the queries return data against the exporter.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from grafana import build_dashboards
from grafana.builder.render import render
from tests.e2e_support import (
    DASHBOARD_DIR,
    ENERGY_CONTRACT_METRICS,
    EXPOSED_METRICS,
    GRAFANA,
    RECORDED_METRICS,
    RULES_DIR,
    RULES_FILES,
    STANDARD_METRICS,
    PrometheusAPI,
    PromQLError,
    iter_panels,
    load_dashboards,
    metric_selectors,
    panel_queries,
    start_prometheus,
    substitute,
    variable_defaults,
)
from tests.support.net import free_port
from tests.support.processes import Process

PANEL_TYPES = {"row", "timeseries", "stat", "gauge", "state-timeline", "barchart", "table"}
UNITLESS_OK = {"row"}
# Hard-coded windows that are the point of the panel (the 30-day capacity comparison).
FIXED_WINDOWS_OK = {"[30d]"}
DASHBOARDS = load_dashboards()


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in iter_panels(dashboard) if p["type"] != "row"]


def variables(dashboard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in dashboard["templating"]["list"]}


def test_generated_files_are_up_to_date() -> None:
    """grafana/dashboards/*.json and grafana/README.md must be exactly what the builder writes."""
    rendered = render()
    on_disk = {f"dashboards/{p.name}": p.read_text(encoding="utf-8") for p in DASHBOARD_DIR.glob("*.json")}
    on_disk["README.md"] = (GRAFANA / "README.md").read_text(encoding="utf-8")
    assert set(on_disk) == set(rendered), "dashboard files differ from the builder's list"
    stale = [name for name, text in rendered.items() if on_disk[name] != text]
    assert not stale, f"regenerate with `python grafana/build_dashboards.py`: {stale}"


def test_entry_point_writes_what_the_builder_renders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`python grafana/build_dashboards.py`, pointed at a scratch directory: the documented command works."""
    monkeypatch.setattr(build_dashboards, "GRAFANA", tmp_path)
    assert build_dashboards.main() == 0
    written = {str(p.relative_to(tmp_path)): p.read_text(encoding="utf-8") for p in tmp_path.rglob("*") if p.is_file()}
    assert written == render()


def test_seven_dashboards_with_unique_uids() -> None:
    uids = [d["uid"] for d in DASHBOARDS.values()]
    assert sorted(uids) == [
        "powerwall-battery-health",
        "powerwall-devices",
        "powerwall-energy",
        "powerwall-energy-cost",
        "powerwall-exporter",
        "powerwall-fleet",
        "powerwall-overview",
    ]


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_provisionable_without_edits(name: str) -> None:
    d = DASHBOARDS[name]
    text = (DASHBOARD_DIR / name).read_text(encoding="utf-8")
    assert "__inputs" not in d and "__requires" not in d
    assert "DS_PROMETHEUS" not in text
    assert d["schemaVersion"] == 41
    assert d.get("id") is None  # no fixed numeric id: Grafana assigns one per instance
    ds = variables(d)["datasource"]
    assert ds["type"] == "datasource" and ds["query"] == "prometheus"
    for p in panels(d):
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        for t in p["targets"]:
            assert t["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_template_variables(name: str) -> None:
    d = DASHBOARDS[name]
    v = variables(d)
    assert list(v)[:3] == ["datasource", "job", "gateway"]
    for var in ("job", "gateway"):
        assert v[var]["type"] == "query" and v[var]["multi"] and v[var]["includeAll"]
        assert v[var]["datasource"]["uid"] == "${datasource}"
    assert 'job=~"$job"' in v["gateway"]["definition"]
    if d["uid"] == "powerwall-devices":
        assert v["serial"]["multi"] and 'gateway=~"$gateway"' in v["serial"]["definition"]
    if d["uid"] == "powerwall-energy-cost":
        assert v["currency"]["multi"] and 'gateway=~"$gateway"' in v["currency"]["definition"]
    if d["uid"] == "powerwall-battery-health":
        assert v["pod"]["multi"] and 'gateway=~"$gateway"' in v["pod"]["definition"]


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_panels_have_type_unit_description_and_fit_the_grid(name: str) -> None:
    d = DASHBOARDS[name]
    ids = [p["id"] for p in iter_panels(d)]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    occupied: dict[tuple[int, int], str] = {}
    for p in iter_panels(d):
        assert p["type"] in PANEL_TYPES, f"{p['title']}: panel type {p['type']} (Angular/legacy?)"
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24, p["title"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in occupied, f"{p['title']} overlaps {occupied[(x, y)]}"
                occupied[(x, y)] = p["title"]
        if p["type"] in UNITLESS_OK:
            continue
        assert p["fieldConfig"]["defaults"].get("unit"), f"{p['title']}: no unit"
        assert len(p.get("description", "")) > 10, f"{p['title']}: no description"
        assert p["targets"], f"{p['title']}: no query"


def test_all_issue_panel_types_are_used() -> None:
    used = {p["type"] for d in DASHBOARDS.values() for p in panels(d)}
    assert used >= PANEL_TYPES - {"row"}


def test_units_cover_the_physical_quantities() -> None:
    used = {p["fieldConfig"]["defaults"]["unit"] for d in DASHBOARDS.values() for p in panels(d)}
    assert used >= {"watt", "kwatth", "percentunit", "volt", "amp", "hertz", "celsius"}


def all_queries() -> Iterator[tuple[str, str, str]]:
    for d in DASHBOARDS.values():
        for q in panel_queries(d):
            yield q.key, q.expr, q.panel
        for a in d["annotations"]["list"]:
            if "expr" in a:
                yield f"{d['uid']}/annotation/{a['name']}", a["expr"], a["name"]


@pytest.mark.parametrize(("key", "expr"), [(k, e) for k, e, _ in all_queries()], ids=[k for k, _, _ in all_queries()])
def test_queries_filter_by_job_and_gateway_and_use_exposed_metrics(key: str, expr: str) -> None:
    selectors = metric_selectors(expr)
    assert selectors, f"{key}: no metric in {expr!r}"
    for metric, block in selectors:
        assert metric in EXPOSED_METRICS | STANDARD_METRICS | RECORDED_METRICS, (
            f"{key}: {metric} is in no golden exposition (tests/golden/*.prom), no shipped recording rule "
            "and not one of Prometheus's own series"
        )
        assert 'job=~"$job"' in block, f"{key}: {metric} not filtered by $job"
        # powerwall_* series carry `gateway` (except the exporter's own build info), and so do the
        # per-gateway recording rules (a level naming gateway: gateway_serial:..., shard_gateway:...).
        per_gateway = ":" in metric and "gateway" in metric.split(":")[0].split("_")
        if (metric.startswith("powerwall_") or per_gateway) and metric != "powerwall_exporter_build_info":
            assert 'gateway=~"$gateway"' in block, f"{key}: {metric} not filtered by $gateway"
    for window in re.findall(r"\[[^\]]*\]", expr):
        assert window in {"[$__rate_interval]", "[$__interval]", "[$__range]"} | FIXED_WINDOWS_OK, (
            f"{key}: hard-coded window {window}"
        )
    assert "irate(" not in expr


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_variables_list_values_of_exposed_metrics(name: str) -> None:
    """A variable over a metric no scrape produces would offer nothing to pick, silently. A shipped
    recording rule's series will do (the fleet dashboard lists its sites from them)."""
    for var in variables(DASHBOARDS[name]).values():
        if var["type"] != "query":
            continue
        m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", var["definition"])
        assert m, var["definition"]
        for metric, _ in metric_selectors(m.group(1)):
            assert metric in EXPOSED_METRICS | RECORDED_METRICS, (
                f"{name}/{var['name']}: {metric} is in no golden exposition and no shipped recording rule"
            )


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_energy_is_kwh_from_joule_counters(name: str) -> None:
    for p in panels(DASHBOARDS[name]):
        unit = p["fieldConfig"]["defaults"]["unit"]
        for t in p["targets"]:
            expr = t["expr"]
            if unit == "kwatth":
                assert "_joules" in expr and "/ 3.6e6" in expr, f"{p['title']}: kWh not from joules"
            if "_joules_total" in expr and unit != "kwatth":
                # Counters only appear inside increase()/rate() unless the panel shows lifetime totals.
                assert "increase(" in expr or "rate(" in expr or p["title"].startswith(("Lifetime", "Equivalent")), p[
                    "title"
                ]


def test_dashboard_contents_cover_issue_4() -> None:
    titles = {d["uid"]: {p["title"] for p in panels(d)} for d in DASHBOARDS.values()}
    assert {"Home", "Solar", "Battery", "Grid", "Battery level", "Backup reserve", "Grid status"} <= titles[
        "powerwall-overview"
    ]
    assert {"Self-powered today", "Operation mode"} <= titles["powerwall-overview"]
    assert {"Energy per day", "Energy per 30 days", "Solar yield", "Battery throughput per Powerwall per day"} <= (
        titles["powerwall-energy"]
    )
    assert {"Saved by solar and battery", "Grid import cost", "Export credit"} <= titles["powerwall-energy"]
    assert {
        "Energy remaining",
        "Full-pack energy (degradation)",
        "Inverter output",
        "Temperature",
        "Powerwall state",
        "Active device alerts",
        "CT power",
        "Island voltages",
        "Island frequencies",
        "String power",
        "String voltage",
        "String current",
        "String state",
    } <= titles["powerwall-devices"]
    assert {"Exporter", "Endpoint success", "Endpoint latency", "Logins", "429 answers", "Vitals supported"} <= (
        titles["powerwall-exporter"]
    )
    assert "Scrape duration" in titles["powerwall-exporter"]


def test_dashboard_contents_cover_issue_11() -> None:
    titles = {d["uid"]: {p["title"] for p in panels(d)} for d in DASHBOARDS.values()}
    assert {
        "Energy flows per day",
        "Self-powered per day",
        "Self-powered today",
        "Cost and credit per day",
        "Import cost per day by tariff period",
        "Export credit per day by tariff period",
        "Import cost today",
        "Export credit today",
        "Import price now",
        "Export price now",
    } <= titles["powerwall-energy-cost"]
    assert {
        "Capacity vs nameplate",
        "Capacity trend",
        "Projected 70 % date",
        "Equivalent full cycles per day",
        "Round-trip efficiency (7 days)",
        "Outage timeline",
        "Recent outages",
    } <= titles["powerwall-battery-health"]
    assert "String share of inverter" in titles["powerwall-devices"]
    (flows,) = [p for p in panels(DASHBOARDS["powerwall-energy-cost.json"]) if p["title"] == "Energy flows per day"]
    assert flows["type"] == "barchart" and flows["options"]["stacking"] == "normal"
    assert len(flows["targets"]) == 7
    # Every issue-11 exporter metric is shown somewhere, directly or through a recording rule.
    rule_exprs = {
        str(rule["record"]): str(rule["expr"])
        for path in RULES_FILES
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
        for rule in group["rules"]
        if "record" in rule
    }
    todo = [m for _, expr, _ in all_queries() for m, _ in metric_selectors(expr)]
    used: set[str] = set()
    while todo:
        metric = todo.pop()
        if metric not in used:
            used.add(metric)
            todo += [m for m, _ in metric_selectors(rule_exprs.get(metric, ""))]
    unused = ENERGY_CONTRACT_METRICS - used
    assert not unused, f"issue-11 metrics no dashboard shows: {sorted(unused)}"


def test_exporter_health_shows_the_tedapi_paths() -> None:
    """The panels the v1r runbooks send the owner to: path per unit, key, faults, clock offset at ±10 s."""
    by_title = {p["title"]: p for p in panels(DASHBOARDS["powerwall-exporter.json"])}
    wanted = {
        "TEDAPI path per Powerwall": "powerwall_tedapi_path_info",
        "v1r key accepted": "powerwall_tedapi_v1r_key_accepted",
        "v1r faults": "powerwall_tedapi_v1r_faults_total",
        "Gateway clock offset": "powerwall_tedapi_clock_offset_seconds",
    }
    for title, metric in wanted.items():
        assert title in by_title, f"exporter health has no panel {title!r}"
        assert any(metric in t["expr"] for t in by_title[title]["targets"]), f"{title}: does not show {metric}"
    offset = by_title["Gateway clock offset"]["fieldConfig"]["defaults"]
    assert offset["unit"] == "s"
    steps = [s["value"] for s in offset["thresholds"]["steps"]]
    assert steps == [None, -10, 10], "the dashed lines must sit where PowerwallTedapiClockOffset fires"


FLEET_RULES = RULES_DIR / "powerwall-fleet.rules.yml"


def test_fleet_dashboard_reads_only_the_fleet_rules() -> None:
    """A thousand sites must render from a few series each: every query of the fleet dashboard (panels,
    annotation, variables) selects only series the fleet rules record, never a raw per-device series."""
    fleet_records = {
        str(rule["record"])
        for group in yaml.safe_load(FLEET_RULES.read_text(encoding="utf-8"))["groups"]
        for rule in group["rules"]
        if "record" in rule
    }
    d = DASHBOARDS["powerwall-fleet.json"]
    exprs = [q.expr for q in panel_queries(d)]
    exprs += [a["expr"] for a in d["annotations"]["list"] if "expr" in a]
    for var in d["templating"]["list"]:
        if var["type"] == "query":
            m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", var["definition"])
            assert m, var["definition"]
            exprs.append(m.group(1))
    for expr in exprs:
        selected = {metric for metric, _ in metric_selectors(expr)}
        assert selected and selected <= fleet_records, f"not a fleet recording rule: {selected - fleet_records}"
    by_title = {p["title"]: p for p in panels(d)}
    assert {"Sites up", "Sites down", "Off grid", "Firmware versions", "TEDAPI failing", "Sites by trouble"} <= set(
        by_title
    )
    worst = by_title["Sites by trouble"]
    assert worst["targets"][0]["expr"].startswith("topk($top, shard_gateway:powerwall_trouble:score{")
    (sort,) = [t for t in worst["transformations"] if t["id"] == "sortBy"]
    assert sort["options"]["sort"] == [{"field": "Trouble", "desc": True}]
    (site,) = [o for o in worst["fieldConfig"]["overrides"] if o["matcher"]["options"] == "Site"]
    (link,) = site["properties"][0]["value"]
    assert link["url"].startswith("/d/powerwall-overview/") and "var-gateway=${__value.raw}" in link["url"]
    assert "powerwall-overview.json" in DASHBOARDS


def test_grafana_provisioning_files() -> None:
    ds = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yaml").read_text())
    (source,) = ds["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    prov = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "powerwall.yaml").read_text())
    (provider,) = prov["providers"]
    assert provider["type"] == "file" and provider["options"]["path"] == "/var/lib/grafana/dashboards/powerwall"


# --------------------------------------------------------------------------------------------------
# Every query parses in a real Prometheus (no data needed).


@pytest.fixture(scope="module")
def empty_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusAPI]:
    work: Path = tmp_path_factory.mktemp("prom-empty")
    config = work / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1m\nscrape_configs: []\n")
    proc: Process = start_prometheus(config, work, free_port())
    try:
        yield PrometheusAPI(proc.base_url)
    finally:
        proc.stop()


def test_every_query_is_valid_promql(empty_prometheus: PrometheusAPI) -> None:
    errors: list[str] = []
    now = time.time()
    for d in DASHBOARDS.values():
        values = variable_defaults(d)
        for q in panel_queries(d):
            expr = substitute(q.expr, values, interval=q.interval)
            try:
                if q.instant:
                    empty_prometheus.instant(expr)
                else:
                    empty_prometheus.range(expr, now - 600, now, 15)
            except PromQLError as exc:
                errors.append(f"{q.key}: {exc}\n    {expr}")
        for a in d["annotations"]["list"]:
            if "expr" in a:
                try:
                    empty_prometheus.instant(substitute(a["expr"], values))
                except PromQLError as exc:
                    errors.append(f"{d['uid']}/annotation: {exc}")
        for var in d["templating"]["list"]:
            if var["type"] == "query":
                m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", var["definition"])
                assert m, var["definition"]
                try:
                    empty_prometheus.instant(f"count({substitute(m.group(1), values)})")
                except PromQLError as exc:
                    errors.append(f"{d['uid']}/variable {var['name']}: {exc}")
    assert not errors, "\n".join(errors)
