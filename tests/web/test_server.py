"""The HTTP side: endpoints, content negotiation, promtool-clean exposition, no secret anywhere."""

from __future__ import annotations

import gzip
import logging
import subprocess
import time
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.scrape.collector import PowerwallCollector
from exporter.simulator import SimulatedGateway
from exporter.web.server import ExporterApp, ExporterServer
from tests.scrape import get
from tests.support.net import free_port
from tests.support.prereqs import require_binary
from tests.support.wiring import SIM_PASSWORD, gateway_config, make_collector


@pytest.fixture
def port(collector: PowerwallCollector) -> Iterator[int]:
    server = ExporterServer(ExporterApp(collector), "127.0.0.1:0")
    server.start()
    try:
        yield server.port
    finally:
        server.stop()


def test_routes(port: int) -> None:
    assert get(port, "/healthz")[0] == 200
    status, headers, body, _ = get(port, "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    text = body.decode()
    assert 'powerwall_up{gateway="home"} 1.0' in text
    assert "process_resident_memory_bytes" in text and "python_info" in text
    assert 'powerwall_exporter_build_info{version="' in text
    assert get(port, "/nope")[0] == 404
    assert get(port, "/probe")[0] == 400
    assert get(port, "/probe?target=unknown")[0] == 404
    status, _, body, _ = get(port, "/probe?target=home")
    assert status == 200 and b"powerwall_up" in body and b"process_resident_memory_bytes" not in body
    status, _, body, _ = get(port, "/")
    assert status == 200 and b"Powerwall Exporter" in body and b"home" in body


def test_openmetrics_and_gzip(port: int) -> None:
    _, headers, body, _ = get(port, "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    assert body.rstrip().endswith(b"# EOF")
    assert b"# TYPE powerwall_operation info" in body
    _, headers, body, _ = get(port, "/metrics", headers={"Accept-Encoding": "gzip"})
    assert headers.get("Content-Encoding") == "gzip"
    assert b"powerwall_up" in gzip.decompress(body)


def test_no_secret_in_pages_metrics_or_logs(sim: SimulatedGateway, port: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sim.invalidate_sessions()
    pages = b"".join(get(port, p)[2] for p in ("/", "/metrics", "/probe?target=home", "/healthz"))
    assert SIM_PASSWORD.encode() not in pages
    assert SIM_PASSWORD not in caplog.text
    tokens = {r.headers.get("Authorization", "").removeprefix("Bearer ") for r in sim.requests} - {""}
    for token in tokens:
        assert token.encode() not in pages and token not in caplog.text


def test_scrape_timeout_header_bounds_the_scrape(sim: SimulatedGateway, port: int) -> None:
    sim.faults.delay_seconds = 5.0
    status, _, body, elapsed = get(port, "/metrics", scrape_timeout=1.5)
    assert status == 200 and elapsed < 2.5, elapsed
    text = body.decode()
    assert 'powerwall_up{gateway="home"} 0.0' in text
    assert "powerwall_meter_power_watts" not in text


def test_sitemaster_stopped(sim: SimulatedGateway, port: int) -> None:
    sim.faults.sitemaster_stopped = True
    text = get(port, "/metrics")[2].decode()
    assert 'powerwall_up{gateway="home"} 1.0' in text
    assert 'powerwall_scrape_endpoint_success{gateway="home",endpoint="/api/meters/aggregates"} 0.0' in text
    assert 'powerwall_sitemaster_running{gateway="home"} 0.0' in text
    assert "powerwall_meter_power_watts" not in text
    assert "powerwall_battery_block_power_watts" not in text


def test_gateway_down_answers_fast_with_up_0() -> None:
    port_closed = free_port()
    from exporter.config import GatewayConfig, Secret

    cfg = GatewayConfig(name="down", host="127.0.0.1", port=port_closed, password=Secret("x"), timeout_seconds=3)
    collector = make_collector(cfg)
    start = time.monotonic()
    ms = collector.scrape()
    assert time.monotonic() - start < 3.5
    assert ms.get("powerwall_up") == 0
    assert not [n for n in ms.names() if n.startswith("powerwall_meter_")]
    collector.close()


def test_promtool_check_metrics(port: int) -> None:
    promtool = require_binary("promtool")
    body = get(port, "/metrics")[2]
    proc = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    assert not proc.stdout.strip() and not proc.stderr.strip()


def test_exposition_conventions(port: int) -> None:
    text = get(port, "/metrics")[2].decode()
    for family in text_string_to_metric_families(text):
        if family.name.startswith(("process_", "python_")):
            continue
        assert family.name.startswith("powerwall_"), family.name
        if family.type == "counter":
            assert all(s.name.endswith("_total") for s in family.samples), family.name
        else:
            assert not any(s.name.endswith("_total") for s in family.samples), family.name
        if family.type == "info":
            assert all(s.value == 1 for s in family.samples), family.name
        if not family.name.startswith("powerwall_exporter_"):  # the exporter's own: build info, reload state
            for s in family.samples:
                assert "gateway" in s.labels, s


def test_describe_does_no_gateway_io(sim: SimulatedGateway) -> None:
    from prometheus_client import CollectorRegistry

    collector = make_collector(gateway_config(sim))
    CollectorRegistry().register(collector)
    assert sim.requests == [] or all(r.path != "/api/login/Basic" for r in sim.requests)
    assert sim.login_count == 0
    collector.close()
