"""Helpers for the dashboard, alert-rule and end-to-end tests: real Prometheus/Alertmanager processes,
the shipped configs with only their addresses swapped, and the panel queries of our dashboards.

Why here and not in the tests: three test modules need the same facts (how a dashboard query becomes
a PromQL string, how a shipped config is pointed at loopback ports), and the end-to-end test must use
the *shipped* deploy/ files, so the substitution rules live in one place and are documented in
deploy/README.md ("How the end-to-end test uses these files"). Finding the binaries, starting and
polling processes is the whole suite's business: :mod:`tests.support`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from tests.support.net import free_port
from tests.support.paths import REPO
from tests.support.prereqs import require_binary
from tests.support.processes import Process, start_process

log = logging.getLogger(__name__)

DEPLOY = REPO / "deploy"
GRAFANA = REPO / "grafana"
DASHBOARD_DIR = GRAFANA / "dashboards"
RULES_DIR = DEPLOY / "prometheus" / "rules"
RULES_FILE = RULES_DIR / "powerwall.rules.yml"
# Every rules file Prometheus loads (prometheus.yml: rule_files: rules/*.yml).
RULES_FILES = sorted(RULES_DIR.glob("*.yml"))
RULE_TESTS_DIR = DEPLOY / "prometheus" / "tests"
GOLDEN_DIR = REPO / "tests" / "golden"
PROMETHEUS_YML = DEPLOY / "prometheus" / "prometheus.yml"
ALERTMANAGER_YML = DEPLOY / "alertmanager" / "alertmanager.yml"

# Addresses the shipped configs use (docker-compose service names). The end-to-end test replaces
# exactly these with loopback addresses; nothing else in the files changes except the intervals.
SHIPPED_EXPORTER_ADDR = "exporter:9871"
SHIPPED_ALERTMANAGER_ADDR = "alertmanager:9093"
SHIPPED_PROMETHEUS_ADDR = "localhost:9090"
SHIPPED_WEBHOOK_ADDR = "webhook-logger:9095"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Metric names of the contract (tests keep dashboards and rules from referring to anything else, so a
# typo fails here rather than as an empty panel in someone's Grafana).
CONTRACT_METRICS: frozenset[str] = _words(
    """
    powerwall_up powerwall_scrape_endpoint_success powerwall_scrape_endpoint_duration_seconds
    powerwall_scrape_duration_seconds powerwall_scrape_endpoint_errors_total
    powerwall_meter_power_watts powerwall_meter_reactive_power_var powerwall_meter_apparent_power_va
    powerwall_meter_frequency_hertz powerwall_meter_voltage_volts powerwall_meter_current_amperes
    powerwall_meter_energy_imported_joules_total powerwall_meter_energy_exported_joules_total
    powerwall_meter_last_communication_timestamp_seconds
    powerwall_battery_charge_ratio powerwall_battery_charge_app_ratio powerwall_backup_reserve_ratio
    powerwall_backup_reserve_app_ratio powerwall_operation_info powerwall_grid_status_info
    powerwall_grid_connected powerwall_info powerwall_uptime_seconds powerwall_sitemaster_running
    powerwall_sitemaster_connected_to_tesla powerwall_battery_full_pack_energy_joules
    powerwall_battery_remaining_energy_joules powerwall_battery_block_full_pack_energy_joules
    powerwall_battery_block_remaining_energy_joules powerwall_battery_block_power_watts
    powerwall_battery_block_voltage_volts powerwall_battery_block_frequency_hertz
    powerwall_battery_block_energy_charged_joules_total powerwall_battery_block_energy_discharged_joules_total
    powerwall_battery_block_backup_ready powerwall_battery_block_pinv_state_info powerwall_batteries
    powerwall_battery_block_pinv_grid_state_info powerwall_battery_block_op_seq_state_info
    powerwall_battery_grid_state powerwall_grid_state powerwall_operation_mode
    powerwall_site_nominal_energy_joules powerwall_site_nominal_power_watts
    powerwall_gateway_requests_total powerwall_login_attempts_total powerwall_gateway_cooldown_seconds
    powerwall_monotonic_dips_total powerwall_exporter_build_info
    powerwall_exporter_config_last_reload_successful powerwall_exporter_config_last_reload_success_timestamp_seconds
    powerwall_vitals_supported powerwall_device_info
    powerwall_device_last_communication_timestamp_seconds powerwall_device_alert
    powerwall_inverter_power_watts powerwall_inverter_reactive_power_var powerwall_inverter_voltage_volts
    powerwall_inverter_frequency_hertz powerwall_inverter_energy_charged_joules_total
    powerwall_inverter_energy_discharged_joules_total powerwall_inverter_state_info
    powerwall_inverter_grid_state_info powerwall_pod_energy_remaining_joules
    powerwall_pod_full_pack_energy_joules powerwall_pod_energy_to_be_charged_joules
    powerwall_pod_available_charge_power_watts powerwall_pod_available_discharge_power_watts
    powerwall_pod_permanently_faulted powerwall_pod_persistently_faulted powerwall_pod_state_info
    powerwall_thermal_ambient_temperature_celsius powerwall_thermal_state_info
    powerwall_solar_string_power_watts powerwall_solar_string_voltage_volts
    powerwall_solar_string_current_amperes powerwall_solar_string_connected powerwall_solar_string_state_info
    powerwall_solar_inverter_power_watts powerwall_solar_inverter_energy_joules_total
    powerwall_solar_inverter_state_info powerwall_ct_power_watts powerwall_ct_reactive_power_var
    powerwall_ct_current_amperes powerwall_ct_meter_voltage_volts powerwall_ct_energy_imported_joules_total
    powerwall_ct_energy_exported_joules_total powerwall_island_frequency_hertz powerwall_island_voltage_volts
    powerwall_island_grid_connected powerwall_island_grid_state_info
    """
)
# Issue 11 (energy flows, tariff and cost, battery health, outage history), all with `gateway`.
ENERGY_CONTRACT_METRICS: frozenset[str] = _words(
    """
    powerwall_energy_flow_joules_total powerwall_energy_flow_skipped_intervals_total
    powerwall_tariff_import_price_per_kwh powerwall_tariff_export_price_per_kwh
    powerwall_grid_import_cost_total powerwall_grid_export_credit_total
    powerwall_grid_import_cost_by_period_total powerwall_grid_export_credit_by_period_total
    powerwall_pod_nameplate_energy_joules powerwall_battery_commission_timestamp_seconds
    powerwall_battery_warranty_end_timestamp_seconds powerwall_grid_outages_total
    powerwall_grid_outage_seconds_total powerwall_grid_last_change_timestamp_seconds
    """
)
# TEDAPI (firmware >= 23.44, Powerwall 3): per-pack, per-string, temperature, fan and health series.
TEDAPI_CONTRACT_METRICS: frozenset[str] = _words(
    """
    powerwall_tedapi_enabled powerwall_tedapi_query_info powerwall_tedapi_query_errors
    powerwall_pod_temperature_celsius powerwall_pod_shunt_temperature_celsius
    powerwall_pod_energy_discharged_joules_total powerwall_pod_full_cycles_total
    powerwall_battery_packs_expected powerwall_battery_packs_present powerwall_battery_packs_connected
    powerwall_inverter_heatsink_temperature_celsius powerwall_fan_speed_rpm powerwall_fan_duty_ratio
    powerwall_inverter_battery_power_watts powerwall_inverter_solar_power_watts
    powerwall_islanding_grid_ok powerwall_islanding_microgrid_ok powerwall_islanding_contactor_closed
    powerwall_islanding_customer_mode_info powerwall_site_shutdown
    """
)
# TEDAPI over the home LAN (v1r, signed requests): key faults, the clock its signatures depend on, and
# which path (v1r or wifi) served each Powerwall unit.
TEDAPI_V1R_CONTRACT_METRICS: frozenset[str] = _words(
    """
    powerwall_tedapi_v1r_faults_total powerwall_tedapi_v1r_key_accepted powerwall_tedapi_clock_offset_seconds
    powerwall_tedapi_path_info
    """
)
CONTRACT_METRICS = CONTRACT_METRICS | ENERGY_CONTRACT_METRICS | TEDAPI_CONTRACT_METRICS | TEDAPI_V1R_CONTRACT_METRICS


def recorded_metrics() -> frozenset[str]:
    """Names the shipped recording rules write (dashboards may query them like contract metrics)."""
    names: set[str] = set()
    for path in RULES_FILES:
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            names.update(str(rule["record"]) for rule in group["rules"] if "record" in rule)
    return frozenset(names)


RECORDED_METRICS: frozenset[str] = recorded_metrics()

_SAMPLE_NAME = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)", re.M)


def exposed_metrics() -> frozenset[str]:
    """Sample names of the golden expositions (tests/golden/*.prom): what the exporter really exposes.

    Why the goldens rather than a list kept by hand: they are the exporter's own output for every
    capture and simulated site (test_golden.py keeps them byte for byte), so a series renamed there
    is renamed here, and a name no scrape produces is not here. Sample names, as PromQL sees them
    (a counter's ``_total`` included). A series that needs configuration a golden site lacks is
    missing until a golden case configures it (sim-pw3-v1r does so for v1r and the tariff).
    """
    paths = sorted(GOLDEN_DIR.glob("*.prom"))
    if not paths:
        raise FileNotFoundError(f"no golden expositions in {GOLDEN_DIR}")
    # Every line that is not a # HELP/# TYPE comment is a sample, and starts with its name.
    return frozenset(name for path in paths for name in _SAMPLE_NAME.findall(path.read_text(encoding="utf-8")))


EXPOSED_METRICS: frozenset[str] = exposed_metrics()

# Series Prometheus itself or prometheus_client's default collectors produce.
STANDARD_METRICS: frozenset[str] = frozenset(
    {
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "ALERTS",
    }
)

_PROMQL_WORDS = _words(
    """
    sum min max avg count stddev stdvar topk bottomk quantile count_values group by without on ignoring
    group_left group_right and or unless bool offset rate irate increase delta idelta deriv clamp_min
    clamp_max clamp abs ceil floor round exp ln log2 log10 sqrt time timestamp vector scalar histogram_quantile
    label_replace label_join max_over_time min_over_time avg_over_time sum_over_time count_over_time
    last_over_time quantile_over_time stddev_over_time present_over_time absent absent_over_time changes
    resets sort sort_desc predict_linear humanize inf nan e
    """
)


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


# --------------------------------------------------------------------------------------------------
# Dashboards → PromQL


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: str
    panel_type: str
    ref_id: str
    expr: str
    instant: bool
    interval: str

    @property
    def key(self) -> str:
        """Stable name for allow-lists and reports: "<dashboard uid>/<panel title>/<refId>"."""
        return f"{self.dashboard}/{self.panel}/{self.ref_id}"


def load_dashboards() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(DASHBOARD_DIR.glob("*.json")):
        out[path.name] = json.loads(path.read_text(encoding="utf-8"))
    return out


def iter_panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # collapsed rows keep their children inside


def panel_queries(dashboard: Mapping[str, Any]) -> list[PanelQuery]:
    uid = str(dashboard["uid"])
    out: list[PanelQuery] = []
    for panel in iter_panels(dashboard):
        for t in panel.get("targets", []):
            out.append(
                PanelQuery(
                    dashboard=uid,
                    panel=str(panel["title"]),
                    panel_type=str(panel["type"]),
                    ref_id=str(t["refId"]),
                    expr=str(t["expr"]),
                    instant=bool(t.get("instant", False)),
                    interval=str(t.get("interval", "")),
                )
            )
    return out


def variable_defaults(dashboard: Mapping[str, Any]) -> dict[str, str]:
    """Values for the template variables: label variables → ".*" (Grafana's "All"), textboxes → default."""
    values: dict[str, str] = {}
    for var in dashboard.get("templating", {}).get("list", []):
        if var["type"] == "query":
            values[var["name"]] = ".*"
        elif var["type"] in {"textbox", "constant", "custom"}:
            values[var["name"]] = str(var.get("query", ""))
    return values


def substitute(
    expr: str,
    variables: Mapping[str, str],
    *,
    interval: str = "",
    rate_interval: str = "1m",
    range_: str = "1h",
) -> str:
    """Replace Grafana's variables the way Grafana would for a given time range.

    `$__interval` becomes the target's min interval when it sets one (our daily/monthly bars), else
    the rate interval.
    """
    builtins = {
        "__rate_interval": rate_interval,
        "__interval": interval or rate_interval,
        "__range": range_,
    }
    table = {**variables, **builtins}

    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name.isdigit():  # a PromQL label_replace group reference ($1), which Grafana leaves alone
            return m.group(0)
        if name not in table:
            raise KeyError(f"unknown template variable ${name} in {expr!r}")
        return table[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", repl, expr)


_TOKEN_RE = re.compile(
    r'"(?:[^"\\]|\\.)*"'  # string literal
    r"|`[^`]*`"  # raw string
    r"|\[[^\]]*\]"  # range / subquery window
    r"|\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"  # label lists
    r"|(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\{[^}]*\})?(\s*\()?"  # name, matchers, call
    r"|\{[^}]*\}"  # bare selector
)


def metric_selectors(expr: str) -> list[tuple[str, str]]:
    """(metric name, matcher block) for every metric a PromQL expression selects.

    A small tokenizer, good enough for our own expressions: skips strings, range windows, the label
    lists of by/on/group_left, function calls, keywords, numbers and $variables.
    """
    out: list[tuple[str, str]] = []
    for m in _TOKEN_RE.finditer(expr):
        name, block, call = m.group(1), m.group(2), m.group(3)
        if not name or call or name.lower() in _PROMQL_WORDS:
            continue
        out.append((name, (block or "").strip()))
    return out


# --------------------------------------------------------------------------------------------------
# Shipped configs, pointed at loopback


def render_prometheus_config(
    *,
    exporter: str,
    alertmanager: str,
    prometheus: str,
    interval: str = "1s",
    shipped: Path = PROMETHEUS_YML,
    rules_dir: Path | None = None,
) -> str:
    """The shipped prometheus.yml with addresses replaced and intervals shortened.

    Changed, and nothing else: every static target equal to a docker-compose address
    (exporter:9871, alertmanager:9093, localhost:9090) → the given loopback address; the global and
    per-job scrape/evaluation intervals → `interval` (timeouts capped to it); relative rule_files →
    absolute paths into deploy/prometheus/ so the copy can live in a temporary directory. With
    ``rules_dir``, the rule files are copied there with every group's own ``interval`` shortened too
    (a 5-minute group would otherwise stay empty for most of a test run).
    """
    cfg = yaml.safe_load(shipped.read_text(encoding="utf-8"))
    mapping = {
        SHIPPED_EXPORTER_ADDR: exporter,
        SHIPPED_ALERTMANAGER_ADDR: alertmanager,
        SHIPPED_PROMETHEUS_ADDR: prometheus,
    }

    def swap_targets(static_configs: list[dict[str, Any]]) -> None:
        for sc in static_configs:
            sc["targets"] = [mapping[t] for t in sc["targets"]]  # KeyError = an address we do not know

    glob = cfg.setdefault("global", {})
    glob["scrape_interval"] = interval
    glob["evaluation_interval"] = interval
    if "scrape_timeout" in glob:
        glob["scrape_timeout"] = interval
    cfg["rule_files"] = [str((shipped.parent / p).resolve()) for p in cfg.get("rule_files", [])]
    if rules_dir is not None:
        cfg["rule_files"] = [str(_shortened_rules(Path(f), rules_dir, interval)) for f in cfg["rule_files"]]
    for am in cfg.get("alerting", {}).get("alertmanagers", []):
        swap_targets(am.get("static_configs", []))
    for job in cfg.get("scrape_configs", []):
        swap_targets(job.get("static_configs", []))
        for key in ("scrape_interval", "scrape_timeout"):
            if key in job:
                job[key] = interval
    return str(yaml.safe_dump(cfg, sort_keys=False))


def _shortened_rules(pattern: Path, rules_dir: Path, interval: str, for_cap: str | None = None) -> Path:
    """Copies of the rule files matching ``pattern`` with each group's ``interval`` set to ``interval``
    and, with ``for_cap``, every alert's ``for:`` shortened to at most ``for_cap``.

    Why ``for_cap`` exists: the shipped 5-minute ``for:`` of the outage-style alerts is right for a
    home and too long for a test that must see them fire; every rule gets the same cap, so no alert
    is made easier to fire than another. Callers that do not pass it keep the shipped durations.
    """
    rules_dir.mkdir(parents=True, exist_ok=True)
    cap = None if for_cap is None else duration_seconds(for_cap)
    for path in sorted(pattern.parent.glob(pattern.name)):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for group in doc.get("groups", []):
            if "interval" in group:
                group["interval"] = interval
            for rule in group.get("rules", []):
                if cap is not None and "for" in rule and duration_seconds(str(rule["for"])) > cap:
                    rule["for"] = for_cap
        (rules_dir / path.name).write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return rules_dir / pattern.name


_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION_RE = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")


def duration_seconds(text: str) -> float:
    """A Prometheus duration (``5m``, ``1h30m``, ``500ms``) in seconds."""
    parts = _DURATION_RE.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return sum(int(n) * _DURATION_UNITS[u] for n, u in parts)


def render_alertmanager_config(*, webhook: str, shipped: Path = ALERTMANAGER_YML) -> str:
    """The shipped alertmanager.yml with the example webhook's host:port replaced, nothing else."""
    text = shipped.read_text(encoding="utf-8")
    if SHIPPED_WEBHOOK_ADDR not in text:
        raise AssertionError(f"{shipped} no longer contains {SHIPPED_WEBHOOK_ADDR}")
    return text.replace(SHIPPED_WEBHOOK_ADDR, webhook)


# --------------------------------------------------------------------------------------------------
# Processes


def wait_ready(proc: Process, path: str, timeout: float = 30.0) -> None:
    """Until ``proc`` answers 200 at ``path`` (``/-/ready``, ``/healthz``), or fail with its log."""
    proc.wait_until(
        f"200 at {proc.base_url}{path}", lambda: http_get(proc.base_url + path, timeout=2)[0] == 200, timeout
    )


def start_prometheus(
    config: Path,
    workdir: Path,
    port: int,
    *,
    name: str = "prometheus",
    agent: bool = False,
    extra_args: tuple[str, ...] = (),
) -> Process:
    """A Prometheus server (``agent``: in agent mode, which scrapes and remote-writes but keeps no
    queryable store) logging to ``workdir/<name>.log``, ready when this returns.

    Several may share ``workdir`` under distinct names: each gets its own storage directory.
    """
    binary = require_binary("prometheus")
    storage = workdir / f"{name}-data"
    storage.mkdir(parents=True, exist_ok=True)
    storage_flag = "--storage.agent.path" if agent else "--storage.tsdb.path"
    proc = start_process(
        name,
        [
            binary,
            *(["--enable-feature=agent"] if agent else []),
            f"--config.file={config}",
            f"{storage_flag}={storage}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",
            "--log.level=warn",
            *extra_args,
        ],
        workdir,
        port=port,
    )
    wait_ready(proc, "/-/ready")
    return proc


def start_alertmanager(config: Path, workdir: Path, port: int) -> Process:
    binary = require_binary("prometheus-alertmanager")
    storage = workdir / "alertmanager-data"
    storage.mkdir(parents=True, exist_ok=True)
    proc = start_process(
        "alertmanager",
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={storage}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # no gossip port on 0.0.0.0:9094
            "--log.level=warn",
        ],
        workdir,
        port=port,
    )
    wait_ready(proc, "/-/ready")
    return proc


class PrometheusAPI:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def _get(self, path: str, params: Mapping[str, str]) -> dict[str, Any]:
        url = f"{self.base_url}{path}?{urllib.parse.urlencode(params)}"
        status, body = http_get(url, timeout=10)
        doc: dict[str, Any] = json.loads(body)
        if status != 200 or doc.get("status") != "success":
            raise PromQLError(f"{doc.get('errorType')}: {doc.get('error')}")
        return doc

    def instant(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        result: list[dict[str, Any]] = self._get("/api/v1/query", params)["data"]["result"]
        return result

    def range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step}"}
        result: list[dict[str, Any]] = self._get("/api/v1/query_range", params)["data"]["result"]
        return result

    def alerts(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._get("/api/v1/alerts", {})["data"]["alerts"]
        return result

    def targets(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._get("/api/v1/targets", {})["data"]["activeTargets"]
        return result


class PromQLError(Exception):
    """Prometheus rejected a query (bad syntax, bad function, ...)."""


def has_finite_value(result: list[dict[str, Any]]) -> bool:
    for series in result:
        values = series.get("values") or ([series["value"]] if "value" in series else [])
        for _, v in values:
            if math.isfinite(float(v)):
                return True
    return False


# --------------------------------------------------------------------------------------------------
# Webhook receiver


@dataclass
class WebhookReceiver:
    """A tiny Alertmanager webhook endpoint that records every notification it gets."""

    received: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None
    thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"{host!s}:{port}"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("webhook: " + format, *args)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="webhook", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def alerts(self) -> list[dict[str, Any]]:
        with self.lock:
            return [a for n in self.received for a in n.get("alerts", [])]


@contextlib.contextmanager
def running(*procs: Process) -> Iterator[None]:
    try:
        yield
    finally:
        for p in reversed(procs):
            p.stop()


def start_alerting(work: Path, cleanup: contextlib.ExitStack) -> tuple[WebhookReceiver, Process]:
    """A webhook receiver and an Alertmanager on the shipped config that notifies it (both end tests
    share this), each stopped by ``cleanup``; point Prometheus at ``127.0.0.1:<alertmanager.port>``."""
    webhook = WebhookReceiver().start()
    cleanup.callback(webhook.stop)
    config = work / "alertmanager.yml"
    config.write_text(render_alertmanager_config(webhook=webhook.address))
    alertmanager = start_alertmanager(config, work, free_port())
    cleanup.callback(alertmanager.stop)
    return webhook, alertmanager
