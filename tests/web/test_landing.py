"""The landing page: shows the last scrape's numbers, costs the gateway nothing, leaks nothing.

The browser test loads the page in Debian's headless Chromium, as a person would see it, and
checks the figures against the ``/metrics`` scrape that came right before: the page must show that
scrape's values, not fetch its own.
"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.metrics.metricset import MetricSet, gauge, info
from exporter.scrape.collector import PowerwallCollector
from exporter.scrape.gateway import GatewayStatus
from exporter.simulator import SimulatedGateway
from exporter.web import gateway_card, landing
from exporter.web.server import ExporterApp, ExporterServer
from tests.support.net import free_port
from tests.support.paths import REPO
from tests.support.prereqs import require_binary
from tests.support.wiring import SIM_PASSWORD, gateway_config, make_collector


def get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def chromium(binary: str, tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """One headless run with its own profile (no state shared with other runs or the user's)."""
    cmd = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--window-size=1280,900",
        *args,
        url,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def secrets_seen(sim: SimulatedGateway) -> set[str]:
    """The password and every session token that went to the gateway (all must stay off the page)."""
    found = {SIM_PASSWORD}
    for r in sim.requests:
        found.add(r.headers.get("Authorization", "").removeprefix("Bearer ").removeprefix("Basic "))
        for part in r.headers.get("Cookie", "").split(";"):
            found.add(part.partition("=")[2].strip())
    return {s for s in found if len(s) >= 8}


@pytest.fixture
def server(collector: PowerwallCollector) -> Iterator[ExporterServer]:
    srv = ExporterServer(ExporterApp(collector, simulated={"home"}), "127.0.0.1:0")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


# ------------------------------------------------------------------------------ in a real browser
def test_chromium_shows_the_numbers_of_the_last_metrics_scrape(
    sim: SimulatedGateway, server: ExporterServer, tmp_path: Path
) -> None:
    binary = require_binary("chromium")
    status, body = get(server.port, "/metrics")
    assert status == 200
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }
    battery = samples[("powerwall_battery_charge_app_ratio", (("gateway", "home"),))]
    (grid_status,) = [dict(k)["grid_status"] for n, k in samples if n == "powerwall_grid_status_info"]
    (mode,) = [dict(k)["mode"] for n, k in samples if n == "powerwall_operation_info"]
    watts = {dict(k)["meter"]: v for (n, k), v in samples.items() if n == "powerwall_meter_power_watts"}
    sent = len(sim.requests)

    url = f"http://127.0.0.1:{server.port}/"
    dom = chromium(binary, tmp_path, url, "--dump-dom").stdout
    shot = tmp_path / "landing.png"
    chromium(binary, tmp_path, url, f"--screenshot={shot}")

    assert len(sim.requests) == sent, "loading / must not send a single gateway request"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    assert '<html lang="en">' in dom and "<title>Powerwall Exporter</title>" in dom
    card = dom[dom.index('data-gateway="home"') :]
    shown = re.search(r'<data class="soe" value="([^"]+)">([^<]+)</data>', card)
    assert shown is not None, card[:2000]
    assert float(shown.group(1)) == battery
    assert shown.group(2) == f"{battery * 100:.0f} %"
    assert f'data-grid-status="{grid_status}"' in card
    assert (">Connected<" in card) == (grid_status == "SystemGridConnected")
    assert f'data-mode="{mode}"' in card
    for meter, value in watts.items():
        row = re.search(rf'<tr data-meter="{meter}">.*?<data value="([^"]+)">', card)
        assert row is not None and float(row.group(1)) == value, meter
    assert "Simulated gateway." in card
    for secret in secrets_seen(sim):
        assert secret not in dom


# ------------------------------------------------------------------------------ over HTTP
def test_landing_sends_no_gateway_request(sim: SimulatedGateway, server: ExporterServer) -> None:
    status, page = get(server.port, "/")
    assert status == 200 and b"Not scraped yet" in page
    assert sim.requests == [], "a never-scraped gateway is not scraped by the page"
    assert get(server.port, "/metrics")[0] == 200
    sent = len(sim.requests)
    for _ in range(5):
        status, page = get(server.port, "/")
        assert status == 200 and b'class="soe"' in page
    assert len(sim.requests) == sent


def test_no_secret_on_the_page(sim: SimulatedGateway, server: ExporterServer) -> None:
    get(server.port, "/metrics")
    sim.invalidate_sessions()  # a second login: two tokens to look for
    get(server.port, "/probe?target=home")
    page = get(server.port, "/")[1].decode()
    secrets = secrets_seen(sim)
    assert len(secrets) >= 2, secrets  # the password and at least one token were really seen
    for secret in secrets:
        assert secret not in page


def test_down_gateway_says_why(sim: SimulatedGateway) -> None:
    c = make_collector(gateway_config(sim, "garage", port=free_port(), timeout_seconds=1.0))  # nothing listens
    srv = ExporterServer(ExporterApp(c), "127.0.0.1:0")
    srv.start()
    try:
        get(srv.port, "/metrics")
        page = get(srv.port, "/")[1].decode()
    finally:
        srv.stop()
        c.close()
    assert 'data-state="down"' in page and "Last error:" in page and "connection refused" in page
    assert 'class="soe"' not in page  # a failed scrape's numbers are absent, not shown as zeros
    assert "Simulated gateway." not in page


def test_scrape_snippet_uses_the_host_header(server: ExporterServer) -> None:
    page = get(server.port, "/", {"Host": "exporter.lan:9871"})[1].decode()
    assert "[{ targets: [&quot;exporter.lan:9871&quot;] }]" in page
    assert "replacement: &quot;exporter.lan:9871&quot;" in page
    assert "targets: [&quot;home&quot;]" in page  # the configured gateway names
    hostile = get(server.port, "/", {"Host": '"><script>alert(1)</script>'})[1].decode()
    assert "<script>" not in hostile and "alert(1)" not in hostile
    assert f"exporter-host:{server.port}" in hostile


# ------------------------------------------------------------------------------ rendering
def view(ms: MetricSet | None, name: str = "home") -> gateway_card.GatewayView:
    """A gateway whose last scrape built ``ms`` at t=1000 (None: never scraped)."""
    status = GatewayStatus(up=None if ms is None else True, at=None if ms is None else 1000.0, metrics=ms)
    return gateway_card.GatewayView(name=name, address="https://192.0.2.1:443", tls_mode="ca_file", status=status)


def test_figures_and_words() -> None:
    ms = MetricSet(base_labels={"gateway": "home"})
    ms.add(gauge("powerwall_battery_charge_app_ratio", ""), 0.874)
    ms.add(info("powerwall_grid_status_info", ""), 1, {"grid_status": "SystemIslandedActive"})
    ms.add(info("powerwall_operation_info", ""), 1, {"mode": "backup"})
    meter = gauge("powerwall_meter_power_watts", "")
    for name, watts in (("solar", 2500.0), ("load", 800.0), ("battery", -1700.0), ("site", 0.2)):
        ms.add(meter, watts, {"meter": name})
    page = landing.render([view(ms)], landing.PageContext(host="h:1", now=1030.0)).decode()
    assert '<data class="soe" value="0.874">87 %</data>' in page
    assert "Off-grid (islanded)" in page and 'class="bad"' in page
    assert "Backup only" in page
    assert re.search(r'data-meter="battery">.*?1\.70 kW</data></td><td>charging<', page)
    assert re.search(r'data-meter="solar">.*?2\.50 kW</data></td><td>producing<', page)
    assert re.search(r'data-meter="site">.*?0 W</data></td><td>idle<', page)
    assert "30 s ago" in page
    assert '<meta http-equiv="refresh" content="10">' in page
    assert "<script" not in page and "<link" not in page, "no script, no external stylesheet"
    assert not re.search(r'(?:src|href)="(?:[a-z]+:)?//', page), "no external resource or link"


def test_never_scraped_and_stale() -> None:
    ctx = landing.PageContext(host="h:1", now=1000.0 + gateway_card.STALE_SECONDS + 1)
    page = landing.render([view(None), view(MetricSet(), name="old")], ctx).decode()
    assert "Not scraped yet" in page and "never contacts the gateway" in page
    assert "stale" in page


def test_hostile_names_and_errors_are_escaped() -> None:
    ms = MetricSet(base_labels={"gateway": "home"})
    ms.add(info("powerwall_operation_info", ""), 1, {"mode": "<img src=x>"})
    v = view(ms)
    bad = gateway_card.GatewayView(v.name, v.address, v.tls_mode, GatewayStatus(up=False, at=1.0, error="<b>x</b>"))
    page = landing.render([v, bad], landing.PageContext(host="h:1", now=2.0)).decode()
    assert "<img" not in page and "<b>x</b>" not in page
    assert "&lt;img src=x&gt;" in page and "&lt;b&gt;x&lt;/b&gt;" in page


def test_scrape_host() -> None:
    assert landing.scrape_host("10.0.0.5:9871", "9871") == "10.0.0.5:9871"
    assert landing.scrape_host("[::1]:9871", "9871") == "[::1]:9871"
    assert landing.scrape_host(None, "9871") == "exporter-host:9871"
    assert landing.scrape_host("a b", "9871") == "exporter-host:9871"
    assert landing.scrape_host("x" * 300, "1") == "exporter-host:1"


def test_dashboard_list_matches_the_repository() -> None:
    files = sorted((REPO / "grafana" / "dashboards").glob("*.json"))
    shipped = {f.name: json.loads(f.read_text())["title"] for f in files}
    assert dict(landing.DASHBOARDS) == shipped
