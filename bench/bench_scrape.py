"""Scrape benchmark: our exporter vs a sequential client vs pypowerwall, against the simulated gateway.

Why: issue 5 makes promises about speed and gentleness that only numbers can back: a scrape about as
long as the slowest single gateway request, much faster than pypowerwall fetching the same data,
cheap on CPU and memory, and a gateway load that does not grow with the number of Prometheus servers.
This script measures all of them side by side in one run and prints each against its target.

    python bench/bench_scrape.py                 # full run (about 3 minutes, needs pypowerwall)
    python bench/bench_scrape.py --quick --skip-pypowerwall   # smoke run (< 20 s)

Set-up: the simulated gateway runs in its own process (so its CPU never counts as ours) with a fixed
delay per request (``--delay``, default 0.3 s). Our exporter runs as a real subprocess
(``python -m exporter``) and is scraped over HTTP, except for the CPU/allocation section which needs
``time.process_time``/``tracemalloc`` in-process. See bench/README.md for how to read the output.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import multiprocessing
import multiprocessing.connection
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from exporter.config import Config, GatewayConfig, Secret, TLSConfig
from exporter.gateway.outcomes import Fetched
from exporter.gateway.request import Body
from exporter.gateway.transport import GatewayTransport
from exporter.metrics.metricset import MetricSet
from exporter.scrape.collector import PowerwallCollector
from exporter.sources.base import Output
from exporter.sources.registry import ALL_REQUESTS, ALLOW_LIST, source_of
from exporter.web.exposition import choose

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "bench-password"  # the simulator's password, not a secret
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 1024 * 1024
# What "the same data" means for every contender: what pypowerwall can fetch the same way, i.e. every
# request a source always makes that answers JSON (pypowerwall's poll(path)), plus the protobuf ones
# (its vitals()). Chosen from the source registry's declarations, never by naming an endpoint.
COMPARED = tuple(r for r in ALL_REQUESTS if (r.accept is Body.JSON and not r.optional) or r.accept is Body.PROTOBUF)
JSON_PATHS = [r.path for r in COMPARED if r.accept is Body.JSON]
ALL_PATHS = [r.path for r in COMPARED]
SECTION_A = f"(a) our scrape (HTTP, {len(ALL_REQUESTS)} requests concurrently)"


# ---------------------------------------------------------------------------------- simulator
def _sim_main(conn: multiprocessing.connection.Connection, powerwalls: int, delay: float) -> None:
    """Child process: a simulated gateway answering commands from the parent over ``conn``."""
    from exporter.simulator import SimulatedGateway, SiteModel
    from exporter.simulator.testclient import SimClient

    gw = SimulatedGateway(password=PASSWORD, model=SiteModel(seed=5, powerwalls=powerwalls, solar_powerwall=True))
    gw.faults.delay_seconds = delay
    gw.start()
    conn.send({"url": gw.url, "port": gw.port, "cert_pem": gw.cert_pem})
    while True:
        cmd, arg = conn.recv()
        if cmd == "stop":
            break
        if cmd == "delay":
            gw.faults.delay_seconds = arg
            conn.send(None)
        elif cmd == "clear":
            gw.clear_requests()
            conn.send(None)
        elif cmd == "requests":
            conn.send(Counter(f"{r.method} {r.path}" for r in gw.requests))
        elif cmd == "session":
            # A session issued by the simulator, for pypowerwall's auth cache (see README).
            delay_was = gw.faults.delay_seconds
            gw.faults.clear("delay_seconds")
            reply = SimClient(gw).login()
            gw.faults.delay_seconds = delay_was
            cookies = {}
            for header in reply.headers.get_all("Set-Cookie") or []:
                name, _, rest = header.partition("=")
                cookies[name] = rest.split(";", 1)[0]
            conn.send(cookies)
    gw.stop()
    conn.send(None)


class Sim:
    """A simulated gateway in a child process."""

    def __init__(self, powerwalls: int, delay: float, workdir: Path) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_sim_main, args=(child, powerwalls, delay), daemon=True)
        self._proc.start()
        info = self._conn.recv()
        self.url: str = info["url"]
        self.port: int = info["port"]
        self.cert = workdir / f"sim-{self.port}.pem"
        self.cert.write_bytes(info["cert_pem"])

    def call(self, cmd: str, arg: Any = None) -> Any:
        self._conn.send((cmd, arg))
        return self._conn.recv()

    def requests(self) -> Counter[str]:
        result: Counter[str] = self.call("requests")
        return result

    def stop(self) -> None:
        self.call("stop")
        self._proc.join(10)

    def gateway(self, name: str, **kw: Any) -> dict[str, Any]:
        return {
            "name": name,
            "address": self.url,
            "password": PASSWORD,
            "tls": {"ca_file": str(self.cert), "server_name": "powerwall"},
            **kw,
        }

    def gateway_config(self, name: str = "bench", min_interval: float = 0.0) -> GatewayConfig:
        return GatewayConfig(
            name=name,
            host="127.0.0.1",
            port=self.port,
            password=Secret(PASSWORD),
            tls=TLSConfig(ca_file=self.cert, server_name="powerwall"),
            timeout_seconds=30.0,
            min_interval_seconds=min_interval,
        )


# ---------------------------------------------------------------------------------- exporter
class ExporterProcess:
    """``python -m exporter`` on a loopback port with a generated config."""

    def __init__(self, workdir: Path, gateways: list[dict[str, Any]], **config: Any) -> None:
        cfg = workdir / f"exporter-{len(gateways)}-{time.monotonic_ns()}.yaml"
        cfg.write_text(yaml.safe_dump({"state_file": None, "gateways": gateways, **config}))
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exporter",
                f"--config.file={cfg}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                if self.get("/healthz", timeout=None)[1].startswith(b"ok"):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def get(self, path: str, timeout: float | None = 30.0) -> tuple[float, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        headers = {"X-Prometheus-Scrape-Timeout-Seconds": str(timeout)} if timeout else {}
        start = time.perf_counter()
        try:
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
        finally:
            conn.close()
        if resp.status != 200:
            raise RuntimeError(f"{path}: HTTP {resp.status}")
        return time.perf_counter() - start, body

    def rss(self) -> tuple[int, int]:
        """(VmRSS, VmHWM) in bytes."""
        status = dict(
            line.split(":", 1) for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines() if ":" in line
        )
        return int(status["VmRSS"].split()[0]) * 1024, int(status["VmHWM"].split()[0]) * 1024

    def cpu(self) -> float:
        """User + system CPU seconds used so far."""
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _samples(body: bytes) -> Iterator[tuple[str, dict[str, str], float]]:
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            yield s.name, dict(s.labels), float(s.value)


# ---------------------------------------------------------------------------------- results
@dataclass
class Row:
    section: str
    what: str
    value: str
    target: str = ""
    verdict: str = ""


class Report:
    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.notes: list[str] = []

    def add(self, section: str, what: str, value: str, target: str = "", ok: bool | None = None) -> None:
        verdict = "" if ok is None else ("ok" if ok else "MISS")
        self.rows.append(Row(section, what, value, target, verdict))
        print(f"  {what}: {value}" + (f"   [target {target}: {verdict}]" if target else ""), flush=True)

    def print(self) -> None:
        widths = [max(len(getattr(r, f)) for r in self.rows) for f in ("what", "value", "target")]
        print()
        print("=" * (sum(widths) + 20))
        header = f"{'measure':<{widths[0]}}  {'value':>{widths[1]}}  {'target':<{widths[2]}}  verdict"
        section = None
        print(header)
        for r in self.rows:
            if r.section != section:
                section = r.section
                print(f"-- {section}")
            print(f"{r.what:<{widths[0]}}  {r.value:>{widths[1]}}  {r.target:<{widths[2]}}  {r.verdict}")
        if self.notes:
            print()
            for n in self.notes:
                print(f"note: {n}")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


# ---------------------------------------------------------------------------------- sections
def bench_latency(exp: ExporterProcess, target: str, runs: int, delay: float, report: Report) -> float:
    """(a) our scrape, end to end over HTTP, with every endpoint fetched from the gateway."""
    for _ in range(2):
        exp.get(f"/probe?target={target}")  # log in, open connections
    times: list[float] = []
    ratios: list[float] = []
    for _ in range(runs):
        elapsed, body = exp.get(f"/probe?target={target}")
        slowest = max(v for n, _, v in _samples(body) if n == "powerwall_scrape_endpoint_duration_seconds")
        up = [v for n, _, v in _samples(body) if n == "powerwall_up"]
        if up != [1.0]:
            raise RuntimeError(f"scrape failed: powerwall_up {up}")
        times.append(elapsed)
        ratios.append(elapsed / slowest)
    med = statistics.median(times)
    sec = SECTION_A
    report.add(sec, "scrape latency median", _ms(med))
    report.add(sec, "scrape latency p95", _ms(_p95(times)))
    r = statistics.median(ratios)
    report.add(sec, "scrape / slowest single request (median)", f"{r:.2f}x", "<= 1.2x", r <= 1.2)
    report.add(
        sec, f"scrape / one request ({_ms(delay)})", f"{med / delay:.2f}x", "<= 1.6x (done-when)", med / delay <= 1.6
    )
    return med


def bench_sequential(sim: Sim, runs: int, report: Report) -> float:
    """(b) the same endpoints with our client, one after the other (what a naive exporter does)."""
    client = GatewayTransport(sim.gateway_config(), ALLOW_LIST)
    try:
        _fetch_all_sequentially(client)  # login
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            _fetch_all_sequentially(client)
            times.append(time.perf_counter() - start)
    finally:
        client.close()
    med = statistics.median(times)
    report.add("(b) sequential fetch (our client, one by one)", "median", _ms(med))
    return med


def _fetch_all_sequentially(client: GatewayTransport) -> None:
    """Fetch, decode and map every compared request, each through the source that declares it."""
    sources = {cls: cls(client.cfg) for cls in {source_of(r) for r in COMPARED}}
    for request in COMPARED:
        r = client.fetch(request, time.monotonic() + 60)
        if not isinstance(r, Fetched):
            raise RuntimeError(f"{request.label}: {r}")
        sources[source_of(request)].collect(request, r, Output(MetricSet()))


def bench_pypowerwall(sim: Sim, runs: int, workdir: Path, report: Report) -> float | None:
    """(c) pypowerwall fetching the same data from the same gateway."""
    sec = "(c) pypowerwall (same endpoints, same gateway)"
    try:
        import pypowerwall
    except ImportError:
        report.add(sec, "pypowerwall", "not installed (pip install pypowerwall)")
        return None
    import urllib3

    urllib3.disable_warnings()  # pypowerwall does not verify the gateway's certificate
    logging.getLogger("pypowerwall").setLevel(logging.CRITICAL)
    cache = workdir / "pypowerwall-auth.json"
    cache.write_text(json.dumps(sim.call("session")))
    pw = pypowerwall.Powerwall(
        f"127.0.0.1:{sim.port}",
        password=PASSWORD,
        email="bench@example.com",
        timezone="UTC",
        pwcacheexpire=0,  # no cache: every call goes to the gateway, as ours does
        timeout=60,
        cachefile=str(cache),
        authmode="cookie",
        failover=False,  # never fall back to Tesla's cloud
    )

    def fetch_all() -> None:
        for path in JSON_PATHS:
            if pw.poll(path) is None:
                raise RuntimeError(f"pypowerwall got nothing for {path}")
        if not pw.vitals():  # polls /api/devices/vitals and decodes the protobuf
            raise RuntimeError("pypowerwall got no vitals")

    fetch_all()
    sim.call("clear")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fetch_all()
        times.append(time.perf_counter() - start)
    seen = sim.requests()
    med = statistics.median(times)
    report.add(sec, "median", _ms(med))
    per_run = ", ".join(f"{k} x{v // runs}" for k, v in sorted(seen.items()))
    report.notes.append(f"pypowerwall fetched per run: {per_run}")
    return med


def bench_cpu(sims: dict[str, Sim], runs: int, alloc_runs: int, report: Report) -> None:
    """(d) CPU time and allocation peak per scrape, in-process (the simulator is another process)."""
    targets = {"typical": 5.0, "12 Powerwalls": 30.0}
    for label, sim in sims.items():
        sim.call("delay", 0)
        collector = PowerwallCollector(Config(gateways=(sim.gateway_config(),), state_file=None))
        try:
            for _ in range(5):
                series = _scrape_once(collector, label)
            start = time.process_time()
            for _ in range(runs):
                _scrape_once(collector, label)
            cpu = (time.process_time() - start) / runs
            peaks = []
            tracemalloc.start()
            try:
                for _ in range(alloc_runs):
                    base = tracemalloc.get_traced_memory()[0]
                    tracemalloc.reset_peak()
                    _scrape_once(collector, label)
                    peaks.append(tracemalloc.get_traced_memory()[1] - base)
            finally:
                tracemalloc.stop()
        finally:
            collector.close()
        sec = "(d) CPU and allocations per scrape (in-process, incl. TLS, parse, map, render)"
        limit = targets[label]
        report.add(sec, f"{label}: series", str(series))
        report.add(sec, f"{label}: CPU per scrape", f"{cpu * 1000:.1f} ms", f"<= {limit:.0f} ms", cpu * 1000 <= limit)
        report.add(sec, f"{label}: allocation peak per scrape", f"{statistics.median(peaks) / 1024:.0f} KiB")


# Rendering is part of a scrape's cost: the encoder production serves for a Prometheus scrape of one
# target (/probe: the text format, without the process collector's metrics).
RENDER, _ = choose("text/plain; version=0.0.4")


def _scrape_once(collector: PowerwallCollector, label: str) -> int:
    ms = collector.scrape(timeout=30)
    RENDER(ms, False)
    if ms.get("powerwall_up") != 1:
        raise RuntimeError(f"{label}: scrape failed")
    return len(ms)


def scrape_concurrently(exp: ExporterProcess, target: str, n: int, window: float, interval: float) -> None:
    """``n`` scrapers of ``target``, each every ``interval`` s, staggered, for ``window`` s; raises on a failure."""
    stop = time.monotonic() + window
    errors: list[BaseException] = []

    def scraper(offset: float) -> None:
        time.sleep(offset)
        while time.monotonic() < stop:
            t0 = time.monotonic()
            try:
                exp.get(f"/probe?target={target}")
            except BaseException as exc:  # reported below; the benchmark must not hang
                errors.append(exc)
                return
            time.sleep(max(0.0, interval - (time.monotonic() - t0)))

    threads = [threading.Thread(target=scraper, args=(i * interval / n,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"scraper of {target} failed: {errors[0]!r}")


def bench_scrapers(
    exp: ExporterProcess, sim: Sim, target: str, window: float, interval: float, min_interval: float, report: Report
) -> None:
    """(e) gateway requests per minute with 1, 2 and 8 concurrent scrapers."""
    sec = f"(e) gateway load vs scrapers (each scrapes every {interval:g} s; min_interval_seconds {min_interval:g})"
    exp.get(f"/probe?target={target}")
    rates: dict[int, float] = {}
    worst: dict[int, int] = {}
    # At most one fetch per endpoint per min_interval (+1 for the window's edges), whatever the scrapers.
    bound = int(window // min_interval) + 1
    ceiling = len(ALL_PATHS) * bound * 60.0 / window
    for n in (1, 2, 8):
        sim.call("clear")
        scrape_concurrently(exp, target, n, window, interval)
        seen = sim.requests()
        gets = {k: v for k, v in seen.items() if k.startswith("GET ")}
        rates[n] = sum(gets.values()) * 60.0 / window
        worst[n] = max(gets.values(), default=0)
        report.add(
            sec, f"{n} scraper(s): gateway requests/min", f"{rates[n]:.0f}", f"<= {ceiling:.0f}", rates[n] <= ceiling
        )
    report.add(
        sec, "max requests per endpoint in the window (8 scrapers)", str(worst[8]), f"<= {bound}", worst[8] <= bound
    )
    ratio = rates[8] / max(rates[1], 1e-9)
    # With only a few min_interval periods in the window, one more fetch at the edge is a big ratio.
    judged = window >= 5 * min_interval
    report.add(
        sec, "requests/min 8 scrapers / 1 scraper", f"{ratio:.2f}x", "~1x (<= 1.25x)", ratio <= 1.25 if judged else None
    )


def bench_fleet(
    sim: Sim, workdir: Path, count: int, runs: int, delay: float, concurrency: list[int], report: Report
) -> None:
    """(f) many gateways behind one exporter (all names point at one simulator process)."""
    gateways = [sim.gateway(f"gw{i:02d}", min_interval_seconds=0, timeout_seconds=60) for i in range(count)]
    requests_per_scrape = count * len(ALL_PATHS)
    for workers in concurrency:
        sec = f"(f) {count} gateways behind one exporter (max_concurrent_requests {workers})"
        exp = ExporterProcess(workdir, gateways, max_concurrent_requests=workers)
        try:
            exp.get("/metrics", timeout=120)  # 'count' logins
            cpu0 = exp.cpu()
            times = []
            for _ in range(runs):
                elapsed, body = exp.get("/metrics", timeout=120)
                times.append(elapsed)
                up = sum(v for n, _, v in _samples(body) if n == "powerwall_up")
                if up != count:
                    raise RuntimeError(f"only {up:.0f}/{count} gateways up")
            cpu = (exp.cpu() - cpu0) / runs
            rss, hwm = exp.rss()
        finally:
            exp.stop()
        floor = -(-requests_per_scrape // workers) * delay
        report.add(
            sec,
            "scrape latency median",
            _ms(statistics.median(times)),
            f"~{_ms(floor)} (= ceil({requests_per_scrape}/{workers}) x delay)",
        )
        report.add(sec, "exporter CPU per scrape", f"{cpu * 1000:.0f} ms")
        report.add(sec, "exporter RSS / peak", f"{rss / MB:.1f} / {hwm / MB:.1f} MB")


# ---------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="few runs, short windows, 5 gateways: a smoke run")
    p.add_argument("--skip-pypowerwall", action="store_true", help="do not run section (c)")
    p.add_argument("--delay", type=float, help="gateway delay per request in seconds (default 0.3; quick 0.1)")
    p.add_argument("--runs", type=int, help="timed scrapes per contender (default 20; quick 3)")
    p.add_argument("--window", type=float, help="seconds per scraper-count phase in (e) (default 30; quick 2)")
    p.add_argument("--gateways", type=int, help="gateways in (f) (default 50; quick 5)")
    args = p.parse_args(argv)
    quick = args.quick
    delay = args.delay if args.delay is not None else (0.1 if quick else 0.3)
    runs = args.runs or (3 if quick else 20)
    slow_runs = max(1, runs // 4)  # (b) and (c) take ~10x longer per run
    window = args.window or (2.0 if quick else 30.0)
    fleet = args.gateways or (5 if quick else 50)
    min_interval = 1.0 if quick else 5.0  # 5 = the config default; quick shrinks it to fit its short window
    logging.basicConfig(level=logging.WARNING)
    warnings.simplefilter("ignore")
    report = Report()
    print(f"powerwall-exporter scrape benchmark: delay {delay:g} s per gateway request, {runs} runs", flush=True)

    with tempfile.TemporaryDirectory(prefix="pwbench-") as tmp:
        workdir = Path(tmp)
        sim = Sim(powerwalls=2, delay=delay, workdir=workdir)
        big = Sim(powerwalls=12, delay=0.0, workdir=workdir)
        exp = None
        try:
            exp = ExporterProcess(
                workdir,
                [
                    sim.gateway("latency", min_interval_seconds=0, timeout_seconds=30),
                    sim.gateway("shared", timeout_seconds=30, min_interval_seconds=min_interval),
                ],
            )
            ours = bench_latency(exp, "latency", runs, delay, report)
            rss, hwm = exp.rss()
            sec = SECTION_A
            report.add(
                sec,
                "exporter RSS / peak (2 gateways configured)",
                f"{rss / MB:.1f} / {hwm / MB:.1f} MB",
                "<= 60 MB",
                hwm <= 60 * MB,
            )
            seq = bench_sequential(sim, slow_runs, report)
            report.add("(b) sequential fetch (our client, one by one)", "sequential / our scrape", f"{seq / ours:.1f}x")
            if not args.skip_pypowerwall:
                ppw = bench_pypowerwall(sim, slow_runs, workdir, report)
                if ppw is not None:
                    r = ppw / ours
                    sec = "(c) pypowerwall (same endpoints, same gateway)"
                    report.add(sec, "pypowerwall / our scrape", f"{r:.1f}x", ">= 8x (done-when >= 3x)", r >= 8)
            bench_scrapers(exp, sim, "shared", window, 1.0 if not quick else 0.25, min_interval, report)
            exp.stop()
            exp = None
            bench_cpu({"typical": sim, "12 Powerwalls": big}, 20 if quick else 200, 3 if quick else 20, report)
            sim.call("delay", delay)
            bench_fleet(sim, workdir, fleet, 1 if quick else 3, delay, [32] if quick else [32, 512], report)
        finally:
            if exp is not None:
                exp.stop()
            sim.stop()
            big.stop()
    report.notes.append(
        "the simulator runs in a separate process on the same 2-core machine; its TLS and payload work "
        "competes for CPU with the contenders, more so with many gateways"
    )
    report.print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
