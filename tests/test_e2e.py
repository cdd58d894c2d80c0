"""End to end: simulated gateways → exporter → real Prometheus (shipped rules) → real Alertmanager → webhook.

Why: the dashboards and alerts are only worth something if the queries a user's Grafana sends return
data from what the exporter really exposes, and if an outage in the house really becomes a
notification. Nothing here is mocked: the exporter runs as its own process via the CLI, Prometheus and
Alertmanager are Debian's binaries with the configs from deploy/ (addresses and intervals swapped as
documented in deploy/README.md), and the notification is caught by an HTTP receiver.

Two gateways are scraped: "home", the simulator's time-varying site model (2 Powerwalls, Powerwall+
solar, vitals), and "captured", a replay of real captures from a later firmware plus a real vitals
payload (`../shared/fixtures`), which the dashboards were not written against.

Tests run in file order on one stack; the outage test goes last because it changes the site.

The simulated sites start at a pinned local time of day (10:00 by default; ``POWERWALL_TEST_DAY_START``
moves it, see tests/simtime.py), never at the machine's hour: at night a few solar panels have
nothing to show, and the outcome must not depend on when CI runs. Started at night, those panels may
be empty only while Prometheus itself holds no sunshine for them (``ALLOWED_EMPTY_WITHOUT_SUN``).
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.simulator import SimulatedGateway, SiteModel, write_query_file
from exporter.sources.tedapi import v1r_key
from tests.e2e_support import (
    PanelQuery,
    PrometheusAPI,
    WebhookReceiver,
    has_finite_value,
    http_get,
    load_dashboards,
    panel_queries,
    render_prometheus_config,
    start_alerting,
    start_prometheus,
    substitute,
    variable_defaults,
    wait_ready,
)
from tests.simtime import day_start, next_local_time
from tests.support.net import free_port
from tests.support.polling import wait_for
from tests.support.prereqs import require_binary, require_fixtures
from tests.support.processes import Process, start_process
from tests.support.wiring import SIM_PASSWORD

pytestmark = pytest.mark.e2e
# What a poll of Prometheus or the webhook may raise before it has an answer: a refused or cut
# connection, a partial JSON answer. The waits below keep polling through these.
NOT_YET = (OSError, ValueError, KeyError)
log = logging.getLogger(__name__)

MODEL_GW = "home"
REPLAY_GW = "captured"
PW3_GW = "pw3"  # a Powerwall 3 site (leader + follower, DC expansions) read through TEDAPI
PW3_GATEWAY_PASSWORD = "E2EGATEWAYPW"  # the simulator's TEDAPI password, not a secret
MIN_DATA_RATIO = 0.9

_WEEKLY = (
    "a rule group evaluated every 5 minutes (its first evaluation may come after the test), and x/0 while the "
    "battery only charged or only discharged"
)
_WARRANTY = "only when the exporter knows a battery commissioning date or warranty end (site info or config)"
_OFF_GRID = "exists only while a gateway is off grid; the outage test runs after the coverage tests"
# Panel queries that may legitimately return nothing on a healthy site, and why. The test reports
# which of them did return data; anything empty and not listed here fails.
ALLOWED_EMPTY: dict[str, str] = {
    "powerwall-exporter/Endpoint errors/A": "no gateway request failed (the counter appears with the first error)",
    "powerwall-energy/Discharged / charged/A": (
        "a ratio of two energies over the range: x/0 while the battery only charged (or only discharged) "
        "during the test's few minutes; meaningful over days"
    ),
    # Issue 11 (deploy/prometheus/rules/powerwall-energy.rules.yml).
    "powerwall-battery-health/Capacity trend/A": (
        "a 30-day fit in a rule group evaluated every 5 minutes: its first evaluation may come after the test"
    ),
    "powerwall-battery-health/Projected 70 % date/A": "needs 6 days of history and a pod whose capacity declines",
    "powerwall-battery-health/Round-trip efficiency (7 days)/A": _WEEKLY,
    "powerwall-battery-health/Round-trip efficiency (rolling 7 days)/A": _WEEKLY,
    "powerwall-battery-health/Warranty ends/A": _WARRANTY,
    "powerwall-battery-health/Commissioned/A": _WARRANTY,
    "powerwall-battery-health/Lowest battery off grid/A": _OFF_GRID,
    **{f"powerwall-battery-health/Recent outages/{ref}": _OFF_GRID for ref in "ABCD"},
}
# Additionally empty for the captured (replayed) site only.
_FROZEN = "replayed captures never change, so every increase() is 0 and this ratio of increases is 0/0"
ALLOWED_EMPTY_REPLAY: dict[str, str] = {
    "powerwall-energy/Solar used at home/A": _FROZEN,
    "powerwall-overview/Self-powered today/A": _FROZEN,
    "powerwall-energy-cost/Self-powered today/A": _FROZEN,
    "powerwall-energy-cost/Self-powered per day/A": _FROZEN,
    "powerwall-energy-cost/Self-powered and solar self-consumption (rolling 24 h)/A": _FROZEN,
    "powerwall-energy-cost/Self-powered and solar self-consumption (rolling 24 h)/B": _FROZEN,
}


# Panels that need sunshine inside the query's window: empty without it, allowed only while the
# precondition (a PromQL expression over the same gateways) returns nothing over the same window too,
# so a panel that breaks by day still fails. Applies to a simulated day started at night.
ALLOWED_EMPTY_WITHOUT_SUN: dict[str, tuple[str, str]] = {
    "powerwall-energy-cost/Self-powered and solar self-consumption (rolling 24 h)/B": (
        "solar self-consumption is a share of the solar energy of the last 24 h: 0/0 before the first sunrise",
        'gateway_source_sink:powerwall_energy_flow_joules:increase1d{gateway=~"$gateway", source="solar"} > 0',
    ),
    "powerwall-devices/String share of inverter/A": (
        "the share exists only while the inverter makes more than 50 W",
        'sum without (string) (clamp_min(powerwall_solar_string_power_watts{gateway=~"$gateway"}, 0)) > 50',
    ),
}

_TEDAPI_ONLY = "from TEDAPI (firmware >= 23.44, Powerwall 3): the Powerwall 2 sites here have no tedapi: block"
# Empty for the Powerwall 2 sites without TEDAPI: the series only TEDAPI gives (the pw3 gateway has them).
ALLOWED_EMPTY_NO_TEDAPI: dict[str, str] = {
    "powerwall-devices/Temperature/B": _TEDAPI_ONLY + " (pack cell and inverter heatsink temperatures)",
    **{f"powerwall-devices/Battery packs/{ref}": _TEDAPI_ONLY + " (the Powerwall 3 aggregator)" for ref in "ABC"},
    "powerwall-devices/Fan speed/A": _TEDAPI_ONLY,
    **{f"powerwall-exporter/TEDAPI/{ref}": "no tedapi: block for this gateway" for ref in "AB"},
    **{
        f"powerwall-exporter/{title}/A": "no tedapi: block for this gateway (TEDAPI's paths, v1r key and clock)"
        for title in ("TEDAPI path per Powerwall", "v1r key accepted", "v1r faults", "Gateway clock offset")
    },
    # The fleet rule shard_gateway:powerwall_tedapi_healthy:min has no series for a site without TEDAPI.
    "powerwall-fleet/Sites by trouble/H": "no tedapi: block for this gateway (the TEDAPI column stays blank)",
    **{f"powerwall-fleet/TEDAPI per site/{ref}": "no tedapi: block for this gateway (not listed)" for ref in "AB"},
}
# Empty for the Powerwall 3 site only: panels of series a Powerwall 3 has no source for. Keep this small:
# a panel that can be fed on both generations should be (see block_or_packs and block_or_inverter in
# grafana/builder/queries.py).
_PW3_NO_BLOCK = "a Powerwall 2 battery-block reading (/api/system_status); a Powerwall 3's blocks carry none"
_TESYNC = "the Powerwall 2 gateway's synchronizer TESYNC (vitals); a Powerwall 3 site has no TESYNC"
ALLOWED_EMPTY_PW3: dict[str, str] = {
    "powerwall-overview/Gateway uptime/A": (
        "/api/status, which a Powerwall 3 answers 404; TEDAPI has no gateway uptime (SYNC_Uptime is the TESYNC's)"
    ),
    "powerwall-energy/Battery throughput per Powerwall per day/A": (
        "TEDAPI has no lifetime charged energy per pack (BMS_kwhDischargeTotal only: target B, discharged, has "
        "it); site-wide charging is in Battery charged"
    ),
    "powerwall-devices/Battery voltage/A": _PW3_NO_BLOCK + "; target B shows the PCH inverter's voltage",
    "powerwall-devices/Battery frequency/A": _PW3_NO_BLOCK + "; target B shows the PCH inverter's frequency",
    "powerwall-devices/Powerwall state/B": (
        _PW3_NO_BLOCK + " (grid compliance); TEDAPI reports none; target A shows the PCH inverter state"
    ),
    "powerwall-devices/Backup ready/A": _PW3_NO_BLOCK + "; TEDAPI reports no per-Powerwall backup readiness",
    **{
        f"powerwall-devices/Available charge / discharge power/{ref}": (
            "Powerwall 2 pod vitals (POD_available_charge/dischg_power); a Powerwall 3 pack (HVP) reports no "
            "power limits"
        )
        for ref in "AB"
    },
    **{
        f"powerwall-devices/Pod faults/{ref}": (
            "Powerwall 2 pod vitals (POD_Permanently/PersistentlyFaulted); a Powerwall 3 pack has no such flags, "
            "it reports alerts (Active device alerts) and its state (Battery pod state)"
        )
        for ref in "AB"
    },
    "powerwall-devices/Thermal state/A": (
        "the Powerwall 2 thermal controller TETHC; a Powerwall 3 has none (its temperatures and fans are in "
        "Temperature and Fan speed)"
    ),
    "powerwall-devices/CT power/A": _TESYNC + " (site and solar power per meter: Gateway meters, Power flows)",
    "powerwall-devices/CT current/A": _TESYNC + " (current per meter: Meter current)",
    "powerwall-devices/Meter voltage per phase/A": _TESYNC + " (voltage per meter: Meter voltage)",
    "powerwall-devices/Island voltages/A": _TESYNC + "; TEDAPI's control.islanding has no voltages",
    "powerwall-devices/Island frequencies/A": _TESYNC + "; TEDAPI's control.islanding has no frequencies",
    "powerwall-devices/String connected/A": (
        "the Powerwall+ string optimiser PVS's PVS_String*_Connected; a Powerwall 3 reports each string's state "
        "instead (String state)"
    ),
    "powerwall-devices/Solar inverter state/A": (
        "the Powerwall+ solar inverter PVAC; a Powerwall 3's one inverter PCH has its state in Powerwall state "
        "and its strings' in String state"
    ),
}


@dataclass
class Stack:
    model_gw: SimulatedGateway
    replay_gw: SimulatedGateway
    pw3_gw: SimulatedGateway
    exporter: Process
    prometheus: Process
    alertmanager: Process
    webhook: WebhookReceiver
    prom: PrometheusAPI
    started: float


def exporter_config(
    model_gw: SimulatedGateway, replay_gw: SimulatedGateway, pw3_gw: SimulatedGateway, work: Path
) -> dict[str, Any]:
    """The exporter's YAML config (issue 2 format) for the three simulated gateways; the Powerwall 3's
    TEDAPI uses query texts of our own, signed by the key its simulator trusts (files in ``work``)."""

    def gateway(name: str, gw: SimulatedGateway) -> dict[str, Any]:
        return {
            "name": name,
            "address": gw.url,
            "password": SIM_PASSWORD,
            "tls": {"ca_file": str(gw.cert_path), "server_name": "powerwall"},
            "timeout_seconds": 5,
            # A time-of-use tariff and a commissioning date, so the cost and battery-health panels have data.
            "tariff": {
                "currency": "USD",
                "import_price_per_kwh": 0.30,
                "export_price_per_kwh": 0.08,
                "periods": [
                    {
                        "name": "peak",
                        "days": ["mon", "tue", "wed", "thu", "fri"],
                        "start": "16:00",
                        "end": "21:00",
                        "import_price_per_kwh": 0.45,
                    }
                ],
            },
            "battery_commission_date": "2021-12-08",
        }

    pw3 = gateway(PW3_GW, pw3_gw)
    del pw3["battery_commission_date"]  # a Powerwall 3's config.json has one (test_powerwall_3_battery_health)
    # Both TEDAPI paths, as a Powerwall 3 owner with a registered key and a WiFi client would have
    # them: the leader over signed v1r on the LAN address, the follower over WiFi (here the same
    # simulated host, which serves both).
    pw3["tedapi"] = {
        "v1r_key_file": str(work / "v1r-key" / "tedapi_rsa_private.pem"),
        "gateway_password": PW3_GATEWAY_PASSWORD,
        "address": pw3_gw.url,
        "queries_file": str(work / "tedapi-queries.json"),
        "query_public_key_file": str(work / "tedapi-query-key.pem"),
        "min_interval_seconds": 2,
    }
    gateways = [gateway(MODEL_GW, model_gw), gateway(REPLAY_GW, replay_gw), pw3]
    return {"state_file": "", "gateways": gateways}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    for binary in ("prometheus", "prometheus-alertmanager", "promtool"):
        require_binary(binary)
    fixtures = require_fixtures()
    work: Path = tmp_path_factory.mktemp("e2e")

    # Simulated time starts at a pinned local hour (never in the past: the device-communication alerts
    # compare it with Prometheus's clock) and runs 60x faster, so counters and the battery move visibly.
    day = day_start("10:00")
    start = next_local_time(day, time.time())
    log.info("simulated sites start at %s local", day)

    with contextlib.ExitStack() as cleanup:
        model_gw = SimulatedGateway(
            password=SIM_PASSWORD,
            model=SiteModel(seed=42, powerwalls=2, solar_powerwall=True, time_scale=60, start_time=start),
        ).start()
        cleanup.callback(model_gw.stop)
        replay_gw = SimulatedGateway(
            password=SIM_PASSWORD,
            replay_dir=fixtures / "pypowerwall-sim",
            vitals_file=fixtures / "vitals" / "pwsim-vitals.pb",
        ).start()
        cleanup.callback(replay_gw.stop)
        pem = write_query_file(work / "tedapi-queries.json")
        (work / "tedapi-query-key.pem").write_bytes(pem)
        pw3_gw = SimulatedGateway(
            password=SIM_PASSWORD,
            model=SiteModel.pw3(seed=42, time_scale=60, start_time=start),
            gateway_password=PW3_GATEWAY_PASSWORD,
            tedapi_keys=[pem],
        ).start()
        cleanup.callback(pw3_gw.stop)
        client_key = v1r_key.generate(work / "v1r-key", bits=2048)  # 4096 in real life: slower, no different
        pw3_gw.v1r_keys.add(client_key.public_der, state="verified")

        config = work / "exporter.yml"
        config.write_text(yaml.safe_dump(exporter_config(model_gw, replay_gw, pw3_gw, work)))
        exporter_port = free_port()
        exporter = start_process(
            "exporter",
            [
                sys.executable,
                "-m",
                "exporter",
                f"--config.file={config}",
                f"--web.listen-address=127.0.0.1:{exporter_port}",
                "--log.level=info",
            ],
            work,
            port=exporter_port,
        )
        cleanup.callback(exporter.stop)
        wait_ready(exporter, "/healthz")

        webhook, alertmanager = start_alerting(work, cleanup)

        prom_port = free_port()
        prom_config = work / "prometheus.yml"
        prom_config.write_text(
            render_prometheus_config(
                exporter=f"127.0.0.1:{exporter_port}",
                alertmanager=f"127.0.0.1:{alertmanager.port}",
                prometheus=f"127.0.0.1:{prom_port}",
                rules_dir=work / "rules",
            )
        )
        prometheus = start_prometheus(prom_config, work, prom_port)
        cleanup.callback(prometheus.stop)
        prom = PrometheusAPI(prometheus.base_url)

        def all_gateways_up() -> bool:
            result = prom.instant('powerwall_up{job="powerwall"} == 1')
            return {r["metric"]["gateway"] for r in result} == {MODEL_GW, REPLAY_GW, PW3_GW}

        try:
            wait_for(
                "Prometheus to store powerwall_up == 1 for every gateway", all_gateways_up, timeout=60, retry_on=NOT_YET
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nexporter log:\n{exporter.log_tail()}") from None
        yield Stack(model_gw, replay_gw, pw3_gw, exporter, prometheus, alertmanager, webhook, prom, time.time())


# --------------------------------------------------------------------------------------------------
# (a) every panel query returns data


def evaluate(prom: PrometheusAPI, q: PanelQuery, variables: dict[str, str], since: float) -> bool:
    expr = substitute(q.expr, variables, interval=q.interval, rate_interval="1m", range_="1h")
    now = time.time()
    if q.instant:
        return has_finite_value(prom.instant(expr, at=now))
    return has_finite_value(prom.range(expr, start=max(since, now - 300), end=now, step=2))


def coverage(stack: Stack, gateway: str, deadline: float) -> tuple[list[PanelQuery], set[str], float]:
    """All panel queries, the keys of those without data for one gateway, and when the last pass over
    them began; re-polls the empty ones until `deadline` (series that need two samples, or the first
    vitals fetch, appear late)."""
    queries: list[tuple[PanelQuery, dict[str, str]]] = []
    for d in load_dashboards().values():
        variables = {**variable_defaults(d), "gateway": gateway, "job": "powerwall"}
        queries += [(q, variables) for q in panel_queries(d)]
    empty = {q.key for q, _ in queries}
    while True:
        last_pass = time.time()
        for q, variables in queries:
            if q.key in empty and evaluate(stack.prom, q, variables, stack.started - 60):
                empty.discard(q.key)
        if not empty or time.time() > deadline:
            return [q for q, _ in queries], empty, last_pass
        time.sleep(2)


def saw_sun(stack: Stack, gateway: str, key: str, until: float) -> bool:
    """Whether the precondition of a sunshine panel held in the window the panel was last checked over
    (ending a few rule evaluations early, so a sunrise the rules have not caught up with yet counts
    as no sun rather than as a broken panel)."""
    expr = substitute(ALLOWED_EMPTY_WITHOUT_SUN[key][1], {"gateway": gateway})
    end = until - 5
    return has_finite_value(stack.prom.range(expr, start=max(stack.started - 60, end - 300), end=end, step=2))


def check_coverage(
    stack: Stack, gateway: str, allowed: dict[str, str], not_applicable: dict[str, str] | None = None
) -> None:
    """Every panel query has data for ``gateway`` unless ``allowed`` says why not; ``not_applicable``
    (series this generation has no source for) may be empty too and does not count towards the ratio."""
    not_applicable = not_applicable or {}
    # `increase()`/`rate()` need two samples inside their window: wait a few scrapes first (`=~`: the
    # "All" case passes the regex `.*`).
    wait_for(
        "a few scrapes in Prometheus",
        lambda: stack.prom.instant(f'count_over_time(powerwall_up{{gateway=~"{gateway}"}}[1m]) >= 5'),
        timeout=30,
        retry_on=NOT_YET,
    )
    queries, empty, last_pass = coverage(stack, gateway, deadline=time.time() + 30)
    empty_without_sun = {
        key for key in empty & set(ALLOWED_EMPTY_WITHOUT_SUN) if not saw_sun(stack, gateway, key, last_pass)
    }
    allowed = {**{key: ALLOWED_EMPTY_WITHOUT_SUN[key][0] for key in empty_without_sun}, **allowed}
    total = len([q for q in queries if q.key not in not_applicable])
    with_data = total - len(empty - set(not_applicable))
    ratio = with_data / total
    log.info("%s: %d of %d panel queries returned data (%.0f%%)", gateway, with_data, total, 100 * ratio)
    for key in sorted(empty):
        log.info("  empty: %s (%s)", key, allowed.get(key, not_applicable.get(key, "NOT ALLOWED")))
    unexpected = sorted(empty - set(allowed) - set(not_applicable))
    assert not unexpected, f"{gateway}: panel queries without data: {unexpected}"
    assert ratio >= MIN_DATA_RATIO, f"{gateway}: only {with_data}/{total} panel queries returned data"


def test_every_panel_query_returns_data_for_the_simulated_site(stack: Stack) -> None:
    check_coverage(stack, MODEL_GW, ALLOWED_EMPTY, ALLOWED_EMPTY_NO_TEDAPI)


def test_every_panel_query_returns_data_for_captured_firmware(stack: Stack) -> None:
    check_coverage(stack, REPLAY_GW, {**ALLOWED_EMPTY, **ALLOWED_EMPTY_REPLAY}, ALLOWED_EMPTY_NO_TEDAPI)


def test_every_panel_query_returns_data_for_the_powerwall_3_site(stack: Stack) -> None:
    """The same dashboards on a Powerwall 3 through TEDAPI: packs, strings, temperatures, fans."""
    check_coverage(stack, PW3_GW, ALLOWED_EMPTY, ALLOWED_EMPTY_PW3)


def test_all_gateways_selected_returns_data_everywhere(stack: Stack) -> None:
    """Grafana's "All" ($gateway = .*): sums and joins across two gateways must not break."""
    check_coverage(stack, ".*", ALLOWED_EMPTY)


def test_powerwall_3_battery_health_has_data_for_every_pack(stack: Stack) -> None:
    """A real Powerwall 3's packs (built-in part numbers the nameplate table does not know) and its
    config.json commissioning date feed the shipped battery-health rules: a capacity ratio per pack and
    a warranty end, with no date in the exporter's config."""
    model = stack.pw3_gw.model
    assert model is not None
    packs = {p.serial for unit in model.packs for p in unit}
    sel = f'gateway="{PW3_GW}"'

    def ratios() -> set[str] | None:
        found = {
            r["metric"]["serial"]
            for r in stack.prom.instant(f"gateway_serial:powerwall_pod_capacity_over_nameplate:ratio{{{sel}}}")
        }
        return found if found == packs else None

    wait_for("a capacity-over-nameplate ratio for every Powerwall 3 pack", ratios, timeout=60, retry_on=NOT_YET)
    (commission,) = stack.prom.instant(f"powerwall_battery_commission_timestamp_seconds{{{sel}}}")
    assert float(commission["value"][1]) == model.battery_commission_time
    assert stack.prom.instant(f"gateway:powerwall_battery_warranty_end_timestamp_seconds:default10y{{{sel}}}")


# --------------------------------------------------------------------------------------------------
# (b) the exposition is lint-clean


def test_promtool_check_metrics_is_clean(stack: Stack) -> None:
    promtool = require_binary("promtool")
    req = urllib.request.Request(stack.exporter.base_url + "/metrics", headers={"Accept": "text/plain;version=0.0.4"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain")
        body = resp.read()
    proc = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, check=False)
    findings = (proc.stdout + proc.stderr).decode()
    assert proc.returncode == 0 and not findings.strip(), f"promtool check metrics:\n{findings}"


def test_no_critical_alert_on_a_healthy_site(stack: Stack) -> None:
    critical = [a for a in stack.prom.alerts() if a["labels"].get("severity") == "critical"]
    assert critical == [], critical


# --------------------------------------------------------------------------------------------------
# (c) grid outage → alert → Alertmanager → webhook


def test_grid_outage_alert_reaches_the_webhook(stack: Stack) -> None:
    stack.model_gw.faults.grid_outage = True
    try:
        alert = wait_for_outage_notification(stack)
    finally:
        stack.model_gw.faults.grid_outage = False
    labels = alert["labels"]
    assert labels["gateway"] == MODEL_GW
    assert labels["severity"] == "critical"
    assert labels["job"] == "powerwall"
    annotations = alert["annotations"]
    assert "running on battery" in annotations["summary"]
    assert "Battery level:" in annotations["description"], annotations["description"]
    assert annotations["runbook_url"].endswith("#powerwallgridoutage")
    # Only the simulated site islanded; the captured one must not have alerted.
    outages = [a for a in stack.webhook.alerts() if a["labels"]["alertname"] == "PowerwallGridOutage"]
    assert {a["labels"]["gateway"] for a in outages} == {MODEL_GW}


def wait_for_outage_notification(stack: Stack) -> dict[str, Any]:
    wait_for(
        "Prometheus to see the outage",
        lambda: stack.prom.instant(f'powerwall_grid_connected{{gateway="{MODEL_GW}"}} == 0'),
        timeout=60,
        retry_on=NOT_YET,
    )

    def outage_notification() -> dict[str, Any] | None:
        for alert in stack.webhook.alerts():
            if alert["labels"].get("alertname") == "PowerwallGridOutage" and alert["status"] == "firing":
                return alert
        return None

    # `for: 1m` in the shipped rule, plus the critical route's 10 s group_wait.
    try:
        return wait_for(
            "PowerwallGridOutage at the webhook", outage_notification, timeout=150, interval=1, retry_on=NOT_YET
        )
    except AssertionError as exc:
        status, body = http_get(stack.alertmanager.base_url + "/api/v2/alerts")
        raise AssertionError(
            f"{exc}\nPrometheus alerts: {stack.prom.alerts()}\nAlertmanager ({status}): {body[:2000]!r}"
        ) from None
