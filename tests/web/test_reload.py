"""Reload without restart (SIGHUP, ``POST /-/reload``) and the ``/-/healthy`` / ``/-/ready`` endpoints.

What matters to a user: a changed config is applied without losing the sessions of gateways that
did not change (every login counts against the gateway's rate limit), a broken config is refused
while the old one keeps running, and the outcome is visible in two metrics.
"""

from __future__ import annotations

import base64
import http.client
import re
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, cast

import bcrypt
import pytest
import yaml

from exporter.config import Config, parse_config
from exporter.metrics.metricset import MetricSet
from exporter.reload import Reloader, ReloadError
from exporter.scrape.collector import PowerwallCollector
from exporter.scrape.workers import PoolClosed, WorkerPool
from exporter.simulator import SimulatedGateway, SiteModel
from exporter.web.http_parse import Limits
from exporter.web.server import ExporterApp, ExporterServer
from exporter.web.webconfig import WebConfig
from tests.simtime import SIM_START
from tests.support.exporter import gateway_entry, start_exporter
from tests.support.polling import wait_for
from tests.support.wiring import SIM_PASSWORD

OK = "powerwall_exporter_config_last_reload_successful"
WHEN = "powerwall_exporter_config_last_reload_success_timestamp_seconds"


def request(
    port: int, method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=b"" if method in ("POST", "PUT") else None, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read().decode()
    finally:
        conn.close()


def sample(text: str, name: str) -> float:
    """The value of an unlabelled series in an exposition."""
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found, f"{name} missing"
    return float(found.group(1))


def gateways_in(ms: MetricSet) -> set[str]:
    return {s.labels["gateway"] for f in ms.families() for s in f.samples if "gateway" in s.labels}


def new_sim() -> SimulatedGateway:
    gw = SimulatedGateway(password=SIM_PASSWORD, model=SiteModel(start_time=SIM_START, seed=5, powerwalls=1))
    gw.start()
    return gw


@pytest.fixture
def sims() -> Iterator[list[SimulatedGateway]]:
    started = [new_sim(), new_sim()]
    try:
        yield started
    finally:
        for gw in started:
            gw.stop()


def write_config(path: Path, gateways: list[dict[str, Any]], **top: Any) -> Path:
    path.write_text(yaml.safe_dump({"state_file": None, **top, "gateways": gateways}))
    return path


def config_of(gateways: list[dict[str, Any]], **top: Any) -> Config:
    return parse_config({"state_file": None, **top, "gateways": gateways})


# ------------------------------------------------------------------ the collector's apply rules
def test_apply_keeps_unchanged_gateways_and_replaces_the_rest(sims: list[SimulatedGateway], tmp_path: Path) -> None:
    a, b = sims
    home = gateway_entry(a, tmp_path, "home", min_interval_seconds=0)
    away = gateway_entry(b, tmp_path, "away", min_interval_seconds=0)
    collector = PowerwallCollector(config_of([home, away]))
    try:
        collector.scrape()
        old = dict(collector.scrapers)
        logins = old["home"].transport.login_count
        assert logins == 1

        summary = collector.apply(
            config_of([home, {**away, "timeout_seconds": 7}, gateway_entry(b, tmp_path, "new", min_interval_seconds=0)])
        )
        assert (summary.kept, summary.replaced, summary.added, summary.removed) == (("home",), ("away",), ("new",), ())
        assert collector.scrapers["home"] is old["home"]  # session, caches, guard, accounting: all kept
        assert collector.scrapers["away"] is not old["away"]
        with pytest.raises(PoolClosed):  # the replaced scraper was closed (nothing was using it)
            old["away"].pool.submit(lambda: None)
        assert gateways_in(collector.scrape()) == {"home", "away", "new"}
        assert collector.scrapers["home"].transport.login_count == logins  # no second login

        summary = collector.apply(config_of([home]))
        assert summary.removed == ("away", "new") and list(collector.scrapers) == ["home"]
        assert collector.scrapers["home"] is old["home"]
    finally:
        collector.close()


def test_a_scrape_in_progress_finishes_on_the_old_set(sims: list[SimulatedGateway], tmp_path: Path) -> None:
    a, _ = sims
    home = gateway_entry(a, tmp_path, "home")
    collector = PowerwallCollector(config_of([home]))
    try:
        old = collector.scrapers["home"]
        old.acquire()  # as scrape() does for the duration of a scrape
        collector.apply(config_of([{**home, "timeout_seconds": 3}]))
        assert collector.scrapers["home"] is not old
        old.pool.submit(lambda: None)  # still open: the running scrape may queue its requests
        old.release()
        with pytest.raises(PoolClosed):
            old.pool.submit(lambda: None)
    finally:
        collector.close()


def test_a_replaced_ca_file_counts_as_a_change(sims: list[SimulatedGateway], tmp_path: Path) -> None:
    a, b = sims
    home = gateway_entry(a, tmp_path, "home")
    collector = PowerwallCollector(config_of([home]))
    try:
        first = collector.scrapers["home"]
        assert collector.apply(config_of([home])).kept == ("home",)
        Path(home["tls"]["ca_file"]).write_bytes(b.cert_pem)  # re-pinned under the same file name
        assert collector.apply(config_of([home])).replaced == ("home",)
        assert collector.scrapers["home"] is not first
    finally:
        collector.close()


def test_top_level_settings(sims: list[SimulatedGateway], tmp_path: Path) -> None:
    a, b = sims
    home, away = gateway_entry(a, tmp_path, "home"), gateway_entry(b, tmp_path, "away")
    collector = PowerwallCollector(config_of([home, away], max_concurrent_requests=8))
    try:
        kept = collector.scrapers["home"]
        # The shared pool holds max_concurrent_requests; each gateway's lane may use all of it.
        assert collector.pool.max_workers == 8 and kept.pool.max_workers == 8
        collector.apply(config_of([home, away], max_concurrent_requests=2))
        assert collector.scrapers["home"] is kept and kept.pool.max_workers == 2  # resized in place
        assert collector.pool.max_workers == 2
        summary = collector.apply(config_of([home, away], max_concurrent_requests=2, state_file=str(tmp_path / "s")))
        assert summary.replaced == ("home", "away")  # every transport saves to the store it was built with
    finally:
        collector.close()


def test_a_shrunk_pool_still_runs_every_job() -> None:
    pool = WorkerPool(4, "t", idle_seconds=30)
    release = threading.Event()
    done: list[int] = []

    def job(i: int, block: bool) -> None:
        if block:
            release.wait(5)
        done.append(i)

    try:
        for i in range(4):
            pool.submit(partial(job, i, True))
        pool.resize(1)
        for i in range(4, 8):
            pool.submit(partial(job, i, False))
        release.set()
        wait_for("every job done and one worker left", lambda: len(done) == 8 and pool.size == 1, timeout=5)
        assert sorted(done) == list(range(8))
    finally:
        pool.close()


# ------------------------------------------------------------------ POST /-/reload, in process
@pytest.fixture
def served(sims: list[SimulatedGateway], tmp_path: Path) -> Iterator[tuple[ExporterServer, Path, Reloader]]:
    a, _ = sims
    path = write_config(tmp_path / "config.yaml", [gateway_entry(a, tmp_path, "home", min_interval_seconds=0)])
    collector = PowerwallCollector(parse_config(yaml.safe_load(path.read_text()), path.parent))
    reloader = Reloader(collector, path)
    server = ExporterServer(ExporterApp(collector, reloader=reloader), "127.0.0.1:0")
    server.start()
    try:
        yield server, path, reloader
    finally:
        server.stop()
        collector.close()


def test_post_reload_applies_a_valid_config_and_refuses_an_invalid_one(
    served: tuple[ExporterServer, Path, Reloader], sims: list[SimulatedGateway], tmp_path: Path
) -> None:
    server, path, _ = served
    a, b = sims
    home = gateway_entry(a, tmp_path, "home", min_interval_seconds=0)
    status, _, body = request(server.port, "GET", "/metrics")
    assert status == 200 and sample(body, OK) == 1
    started = sample(body, WHEN)
    assert abs(started - time.time()) < 60

    write_config(path, [home, gateway_entry(b, tmp_path, "away", min_interval_seconds=0)])
    status, _, answer = request(server.port, "POST", "/-/reload")
    assert status == 200, answer
    assert "added 1 (away)" in answer and "kept 1 (home)" in answer
    status, _, body = request(server.port, "GET", "/metrics")
    assert 'powerwall_up{gateway="away"} 1.0' in body and sample(body, OK) == 1
    assert sample(body, WHEN) >= started
    assert a.login_count == 1  # home kept its session

    write_config(path, [{**home, "colour": "blue"}, {**home, "name": "home", "address": "ftp://x"}])
    status, _, answer = request(server.port, "PUT", "/-/reload")
    assert status == 500 and answer.startswith("failed to reload config: invalid configuration: gateways[0]"), answer
    status, _, body = request(server.port, "GET", "/metrics")
    assert 'powerwall_up{gateway="away"} 1.0' in body  # the old config keeps running
    assert sample(body, OK) == 0 and sample(body, WHEN) >= started

    path.write_text("gateways: [")
    status, _, answer = request(server.port, "POST", "/-/reload")
    assert status == 500 and "config.file: invalid YAML" in answer


def test_reload_method_table_and_a_refused_log_line(
    served: tuple[ExporterServer, Path, Reloader], caplog: pytest.LogCaptureFixture
) -> None:
    server, path, reloader = served
    status, headers, _ = request(server.port, "GET", "/-/reload")
    assert status == 405 and headers["allow"] == "POST, PUT"
    status, headers, _ = request(server.port, "POST", "/metrics")
    assert status == 405 and headers["allow"] == "GET, HEAD"
    path.write_text(yaml.safe_dump({"gateways": [{"name": "x", "address": "ftp://gw", "password": "p"}]}))
    with pytest.raises(ReloadError, match=r"gateways\[0\]\.address"):
        reloader.reload("test")
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert refused and "gateways[0].address" in refused[0], refused


def test_reload_needs_basic_auth_like_metrics(sims: list[SimulatedGateway], tmp_path: Path) -> None:
    a, _ = sims
    path = write_config(tmp_path / "config.yaml", [gateway_entry(a, tmp_path, "home")])
    collector = PowerwallCollector(parse_config(yaml.safe_load(path.read_text())))
    web = WebConfig(users={"prometheus": bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4))})
    server = ExporterServer(ExporterApp(collector, web=web, reloader=Reloader(collector, path)), "127.0.0.1:0", web)
    server.start()
    try:
        assert request(server.port, "POST", "/-/reload")[0] == 401
        auth = {"Authorization": "Basic " + base64.b64encode(b"prometheus:s3cret").decode()}
        assert request(server.port, "POST", "/-/reload", auth)[0] == 200
        for path_ in ("/healthz", "/-/healthy", "/-/ready"):  # probes stay open, like /healthz
            assert request(server.port, "GET", path_)[0] in (200, 503)
    finally:
        server.stop()
        collector.close()


def test_without_a_config_file_a_reload_is_refused(served: tuple[ExporterServer, Path, Reloader]) -> None:
    server, _, reloader = served
    app = ExporterApp(reloader.collector)  # as the demo runs: no --config.file
    server.set_app(app)
    status, _, answer = request(server.port, "POST", "/-/reload")
    assert status == 500 and "no --config.file" in answer


# ------------------------------------------------------------------ /-/healthy and /-/ready
def test_ready_after_every_gateway_was_attempted_and_again_after_a_reload(
    served: tuple[ExporterServer, Path, Reloader], sims: list[SimulatedGateway], tmp_path: Path
) -> None:
    server, path, _ = served
    a, b = sims
    assert request(server.port, "GET", "/-/healthy")[::2] == (200, "Healthy\n")
    status, _, body = request(server.port, "GET", "/-/ready")
    assert status == 503 and "1 of 1 gateway(s)" in body
    request(server.port, "GET", "/metrics")
    assert request(server.port, "GET", "/-/ready")[::2] == (200, "Ready\n")
    assert request(server.port, "HEAD", "/-/ready")[0] == 200

    home = gateway_entry(a, tmp_path, "home", min_interval_seconds=0)
    write_config(path, [home, gateway_entry(b, tmp_path, "away", timeout_seconds=1)])
    b.stop()  # a failed collection is still an attempt
    assert request(server.port, "POST", "/-/reload")[0] == 200
    status, _, body = request(server.port, "GET", "/-/ready")
    assert status == 503 and "1 of 2 gateway(s)" in body  # the new gateway counts too
    request(server.port, "GET", "/probe?target=away")
    assert request(server.port, "GET", "/-/ready")[0] == 200
    assert request(server.port, "GET", "/healthz")[::2] == (200, "ok\n")


class _StuckCollector:
    """A collector whose scrapes hang until released: fills the server's only worker."""

    def __init__(self) -> None:
        self.scrapers: dict[str, Any] = {}
        self.release = threading.Event()
        self.entered = threading.Event()

    def scrape(self, names: Iterable[str] | None = None, timeout: float | None = None) -> MetricSet:
        self.entered.set()
        self.release.wait(10)
        return MetricSet()

    def pending(self) -> list[str]:
        return []


def test_health_and_ready_do_not_queue_behind_busy_workers() -> None:
    stuck = _StuckCollector()
    collector = cast(PowerwallCollector, stuck)
    server = ExporterServer(ExporterApp(collector), "127.0.0.1:0", limits=Limits(workers=1))
    server.start()
    scrape = threading.Thread(target=request, args=(server.port, "GET", "/metrics"), daemon=True)
    try:
        scrape.start()
        assert stuck.entered.wait(5)
        for path in ("/-/healthy", "/-/ready", "/healthz"):
            start = time.monotonic()
            assert request(server.port, "GET", path)[0] == 200
            assert time.monotonic() - start < 2
    finally:
        stuck.release.set()
        scrape.join(10)
        server.stop()


# ------------------------------------------------------------------ the real process, SIGHUP
def test_sighup_reloads_the_running_exporter(sims: list[SimulatedGateway], tmp_path: Path) -> None:
    a, b = sims
    home = gateway_entry(a, tmp_path, "home", min_interval_seconds=0)
    away = gateway_entry(b, tmp_path, "away", min_interval_seconds=0)
    exp = start_exporter({"state_file": None, "gateways": [home]}, tmp_path)
    config_file = tmp_path / "exporter-config.yaml"
    try:
        assert exp.get("/-/ready")[0] == 503
        first = exp.scrape()
        assert 'powerwall_up{gateway="home"} 1.0' in first and sample(first, OK) == 1
        assert exp.get("/-/ready")[0] == 200 and exp.get("/-/healthy") == (200, b"Healthy\n")
        assert a.login_count == 1

        write_config(config_file, [home, away])
        exp.signal(signal.SIGHUP)
        exp.wait_until("the reload", lambda: "configuration reloaded (SIGHUP)" in exp.log(), timeout=20)
        text = exp.scrape()
        assert 'powerwall_up{gateway="away"} 1.0' in text and 'powerwall_up{gateway="home"} 1.0' in text
        assert sample(text, OK) == 1 and sample(text, WHEN) >= sample(first, WHEN)
        assert a.login_count == 1, "the unchanged gateway logged in again"

        write_config(config_file, [{**home, "timeout_seconds": "soon"}])
        exp.signal(signal.SIGHUP)
        exp.wait_until("the refusal", lambda: "refused" in exp.log(), timeout=20)  # and the exporter lives
        text = exp.scrape()
        assert 'powerwall_up{gateway="away"} 1.0' in text  # still the old config
        assert sample(text, OK) == 0
        assert re.search(r"reload \(SIGHUP\) refused.*gateways\[0\]\.timeout_seconds", exp.log()), exp.log()

        write_config(config_file, [away])  # and through the CLI's wiring of POST /-/reload
        conn = http.client.HTTPConnection("127.0.0.1", exp.port, timeout=30)
        conn.request("POST", "/-/reload", body=b"")
        assert conn.getresponse().status == 200
        conn.close()
        text = exp.scrape()
        assert 'gateway="home"' not in text and sample(text, OK) == 1
        assert b.login_count == 1
    finally:
        log = exp.stop()
    assert exp.proc.returncode == 0, log[-2000:]
    assert SIM_PASSWORD not in log
