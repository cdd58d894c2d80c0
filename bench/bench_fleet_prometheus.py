"""A held-out check of the fleet benchmark: the same shape, with a real Prometheus as the scraper.

Why: ``bench_fleet.py``'s load generator is ours, and it decides what "a probe" is (when it starts,
how connections are shared, when one is abandoned). Here Debian's ``prometheus`` scrapes the
exporter's ``/probe`` for N fake sites with ``scrape_interval`` 30 s and ``scrape_timeout`` 10 s,
spreading the targets over the interval as it always does, through its own HTTP client. The
figures come from Prometheus' own series (``up``, ``scrape_duration_seconds``, ``powerwall_up``)
and from ``/proc`` of the exporter, so the judge is not the code under test nor our load generator.
The fake sites and the exporter are ``bench_fleet.py``'s.

    python bench/bench_fleet_prometheus.py                   # 1,000 gateways, 2 + 2 cycles, about 3 min
    python bench/bench_fleet_prometheus.py --gateways 300
    python bench/bench_fleet_prometheus.py --quick           # smoke run: 5 gateways, 3 s interval, 15 s

A probe is "up" when its scrape succeeded (``up`` 1) and the page says the gateway answered
(``powerwall_up`` 1 at the same timestamp). The latency is ``scrape_duration_seconds``, as
Prometheus measured it. CPU per scrape is the exporter's CPU over the window divided by the scrapes
Prometheus made in it.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_fleet as fleet  # the sibling module, found through the path set above

JOB = "fleet"


@dataclass
class Result:
    gateways: int
    interval: float
    latency: float
    cycles: int
    exporter_commit: str
    scrapes: int = 0
    up_share: float = 0.0
    failed_scrapes: int = 0  # up 0: refused, timed out or not answered
    gateway_down: int = 0  # up 1, powerwall_up 0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    cpu_ms_per_scrape: float | None = None
    cpu_share_of_one_core: float = 0.0
    rss_mb_per_gateway: float = 0.0
    rss_mb: float = 0.0
    threads_max: int = 0
    prometheus_cpu_share: float = 0.0
    densest: int = 0  # most scrapes started within one site latency (evenly spread: gateways x latency / interval)
    # The slowest 1 %: seconds, when (Unix time), target, and the exporter's own time for the gateway
    # (powerwall_scrape_duration_seconds; -1 when the page had none): where the rest of the time went.
    slowest: list[tuple[float, float, str, float]] = field(default_factory=list)
    # For the same scrapes: the slowest answer the exporter read for each (its send-to-answer time,
    # powerwall_scrape_endpoint_duration_seconds; -1 without one), and how late the fake sites' event
    # loop ran at most meanwhile (bench_fleet._watch_lateness): a site late or a reader late.
    slowest_answer: list[float] = field(default_factory=list)
    slowest_sites_late_ms: float = 0.0
    fake_sites_late_max_ms: float = 0.0  # over the whole window


def prometheus_config(exporter_port: int, names: list[str], interval: float, timeout: float) -> dict[str, Any]:
    """One ``/probe`` job over every gateway, as deploy/prometheus/prometheus.yml's probe job does it."""
    return {
        "global": {"scrape_interval": f"{interval:g}s", "scrape_timeout": f"{timeout:g}s"},
        "scrape_configs": [
            {
                "job_name": JOB,
                "metrics_path": "/probe",
                "static_configs": [{"targets": names}],
                "relabel_configs": [
                    {"source_labels": ["__address__"], "target_label": "__param_target"},
                    {"source_labels": ["__param_target"], "target_label": "instance"},
                    {"target_label": "__address__", "replacement": f"127.0.0.1:{exporter_port}"},
                ],
            }
        ],
    }


class Prometheus:
    """Debian's ``prometheus`` on a loopback port, its data in ``workdir``."""

    def __init__(self, config: dict[str, Any], workdir: Path) -> None:
        binary = shutil.which("prometheus") or shutil.which("prometheus", path="/usr/bin")  # Debian's place
        if binary is None:
            raise SystemExit("prometheus is not installed (Debian: apt-get install prometheus)")
        path = workdir / "prometheus.yml"
        path.write_text(yaml.safe_dump(config))
        self.port = fleet._free_port()
        self.log = workdir / "prometheus.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={path}",
                    f"--storage.tsdb.path={workdir / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if not fleet.await_ready(self.port, "/-/ready", self.proc):
            self.stop()
            raise RuntimeError(f"prometheus did not start; its log:\n{self.log.read_text(errors='replace')}")

    def samples(self, query: str, at: float) -> dict[str, dict[float, float]]:
        """The samples of a range-vector ``query`` evaluated at Unix time ``at``: by instance, by time
        (the largest, where an instance has several series)."""
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": query, "time": at})
        with urllib.request.urlopen(url, timeout=60) as r:
            answer = json.load(r)
        if answer.get("status") != "success":
            raise RuntimeError(f"{query}: {answer}")
        out: dict[str, dict[float, float]] = {}
        for series in answer["data"]["result"]:
            values = out.setdefault(series["metric"].get("instance", ""), {})
            for ts, value in series["values"]:
                values[float(ts)] = max(float(value), values.get(float(ts), -math.inf))
        return out

    def stop(self) -> None:
        fleet.stop_process(self.proc, 30)


def run(n: int, args: argparse.Namespace) -> Result:
    repo = Path(args.exporter_repo).resolve()
    commit = fleet._commit(repo)
    res = Result(gateways=n, interval=args.interval, latency=args.latency, cycles=args.cycles, exporter_commit=commit)
    with tempfile.TemporaryDirectory(prefix="pwfleet-prom-") as tmp:
        workdir = Path(tmp)
        print(f"\n## {n} gateways (exporter {res.exporter_commit} in {repo})", flush=True)
        sites = fleet.FakeSites(n, args.latency, workdir)
        exporter: fleet.Exporter | None = None
        prometheus: Prometheus | None = None
        try:
            names = [f"gw{i:04d}" for i in range(n)]
            config = fleet.exporter_config(names, sites.ports, sites.cert, args.min_interval_seconds)
            python = Path(args.exporter_python) if args.exporter_python else fleet._default_python(repo)
            exporter = fleet.Exporter(repo, python, config, workdir)
            timeout = min(fleet.SCRAPE_TIMEOUT, args.interval)  # Prometheus refuses a timeout over the interval
            prom_config = prometheus_config(exporter.port, names, args.interval, timeout)
            prometheus = Prometheus(prom_config, workdir)
            measure(res, exporter, prometheus, sites, args)
        finally:
            if prometheus is not None:
                prometheus.stop()
            if exporter is not None:
                exporter.stop()
            sites.stop()
    return res


def measure(
    res: Result, exporter: fleet.Exporter, prometheus: Prometheus, sites: fleet.FakeSites, args: argparse.Namespace
) -> None:
    """Let Prometheus scrape for the warm-up, then measure ``args.cycles`` cycles (wall-clock Unix
    times, as Prometheus stamps its samples)."""
    win_start = time.time() + args.warmup * args.interval
    win_end = win_start + args.cycles * args.interval
    print(
        f"warm-up {args.warmup} cycle(s) of {args.interval:g} s, then {args.cycles} measured; "
        f"window ends in {win_end - time.time():.0f} s",
        flush=True,
    )
    time.sleep(max(0.0, win_start - time.time()))
    cpu0, prom0 = exporter.cpu(), fleet._cpu_of(prometheus.proc.pid)
    threads: list[int] = []
    while time.time() < win_end:
        if exporter.proc.poll() is not None:
            raise RuntimeError(f"exporter exited ({exporter.proc.returncode}); its log:\n{exporter.log_tail()}")
        threads.append(exporter.threads())
        time.sleep(max(0.0, min(1.0, win_end - time.time())))
    cpu1, prom1, rss = exporter.cpu(), fleet._cpu_of(prometheus.proc.pid), exporter.rss()
    threads.append(exporter.threads())
    # A scrape is stamped when it starts: the window's last ones end up to the timeout later.
    time.sleep(min(fleet.SCRAPE_TIMEOUT, args.interval) + 2)
    span = f"[{int(args.cycles * args.interval * 1000)}ms]"
    up = prometheus.samples(f'up{{job="{JOB}"}}{span}', win_end)
    gateway = prometheus.samples(f'powerwall_up{{job="{JOB}"}}{span}', win_end)
    durations = prometheus.samples(f'scrape_duration_seconds{{job="{JOB}"}}{span}', win_end)
    inside = prometheus.samples(f'powerwall_scrape_duration_seconds{{job="{JOB}"}}{span}', win_end)
    # Not the site info: read every 10 minutes, its reused answer keeps the time of its first read.
    answer_series = f'powerwall_scrape_endpoint_duration_seconds{{job="{JOB}", endpoint!="/api/site_info"}}'
    answers = prometheus.samples(answer_series + span, win_end)
    scrapes = [(instance, ts, value) for instance, values in up.items() for ts, value in values.items()]
    res.scrapes = len(scrapes)
    res.failed_scrapes = sum(1 for _, _, value in scrapes if value != 1)
    res.gateway_down = sum(1 for i, ts, value in scrapes if value == 1 and gateway.get(i, {}).get(ts) != 1)
    res.up_share = (res.scrapes - res.failed_scrapes - res.gateway_down) / max(1, res.scrapes)
    every = ((d, ts, i, inside.get(i, {}).get(ts, -1.0)) for i, values in durations.items() for ts, d in values.items())
    res.slowest = sorted(every, reverse=True)[: max(1, len(scrapes) // 100)]
    res.slowest_answer = [answers.get(i, {}).get(ts, -1.0) for _, ts, i, _ in res.slowest]
    late = sites.late(win_start, win_end + fleet.SCRAPE_TIMEOUT)
    res.fake_sites_late_max_ms = max((behind for when, behind in late if when < win_end), default=0.0) * 1000
    res.slowest_sites_late_ms = 1000 * max(
        (behind for when, behind in late for d, ts, _, _ in res.slowest if ts <= when + behind and when <= ts + d),
        default=0.0,
    )
    res.densest = _densest(sorted(ts for values in durations.values() for ts in values), args.latency)
    latencies = [d for values in durations.values() for d in values.values()]
    res.p50_ms = fleet._percentile(latencies, 0.50) * 1000
    res.p99_ms = fleet._percentile(latencies, 0.99) * 1000
    res.max_ms = max(latencies, default=0.0) * 1000
    window = win_end - win_start
    res.cpu_ms_per_scrape = (cpu1 - cpu0) * 1000 / res.scrapes if res.scrapes else None
    res.cpu_share_of_one_core = (cpu1 - cpu0) / window
    res.prometheus_cpu_share = (prom1 - prom0) / window
    res.rss_mb = rss / fleet.MB
    res.rss_mb_per_gateway = res.rss_mb / res.gateways
    res.threads_max = max(threads)


def _densest(starts: list[float], width: float) -> int:
    """The most of ``starts`` (sorted) within any ``width`` seconds: how bunched Prometheus' offsets are."""
    most, first = 0, 0
    for last, when in enumerate(starts):
        while when - starts[first] >= width:
            first += 1
        most = max(most, last - first + 1)
    return most


def print_results(results: list[Result]) -> None:
    print(
        "\n| gateways | scrapes | up | failed scrapes | gateway down | p50 | p99 (max) | CPU/scrape "
        "| exporter CPU | RSS/gateway (total) | threads | Prometheus CPU |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        cpu = "n/a" if r.cpu_ms_per_scrape is None else f"{r.cpu_ms_per_scrape:.1f} ms"
        print(
            f"| {r.gateways} | {r.scrapes} | {r.up_share * 100:.1f} % | {r.failed_scrapes} | {r.gateway_down} "
            f"| {r.p50_ms:.0f} ms | {r.p99_ms:.0f} ms ({r.max_ms:.0f}) | {cpu} | {r.cpu_share_of_one_core * 100:.0f} % "
            f"| {r.rss_mb_per_gateway:.3f} MB ({r.rss_mb:.0f} MB) | {r.threads_max} "
            f"| {r.prometheus_cpu_share * 100:.0f} % |"
        )
    for r in results:
        even = r.gateways * r.latency / r.interval
        print(
            f"{r.gateways} gateways: at most {r.densest} scrapes started within one site latency "
            f"({r.latency:g} s; evenly spread: {even:.0f})"
        )
        if r.slowest:
            starts = [ts for _, ts, _, _ in r.slowest]
            spread = max(starts) - min(starts)
            inside = fleet._percentile([own for _, _, _, own in r.slowest if own >= 0], 0.5) * 1000
            answer = fleet._percentile([a for a in r.slowest_answer if a >= 0], 0.5) * 1000
            print(
                f"  the slowest 1 % ({len(r.slowest)} scrapes, started over {spread:.1f} s): the exporter's own "
                f"time for their gateway, median {inside:.0f} ms; their slowest answer, median {answer:.0f} ms; "
                f"the fake sites' event loop late by up to {r.slowest_sites_late_ms:.0f} ms while they ran "
                f"({r.fake_sites_late_max_ms:.0f} ms over the window)"
            )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gateways", type=int, nargs="+", help="fleet sizes, each in fresh processes (1000)")
    p.add_argument("--latency", type=float, default=0.3, help="seconds each fake site waits before answering")
    p.add_argument("--interval", type=float, help="Prometheus' scrape_interval in seconds (30)")
    p.add_argument("--cycles", type=int, help="measured cycles after the warm-up (2)")
    p.add_argument("--warmup", type=int, default=2, help="warm-up cycles, not measured (2)")
    p.add_argument("--exporter-repo", default=str(fleet.REPO), help="checkout whose exporter is measured (this one)")
    p.add_argument("--exporter-python", help="interpreter for it (default: <repo>/.venv/bin/python)")
    p.add_argument("--min-interval-seconds", type=float, help="each gateway's min_interval_seconds")
    p.add_argument("--out", help="write the results as JSON to this file")
    p.add_argument("--quick", action="store_true", help="smoke run: 5 gateways, 3 s interval, 3 + 1 cycles")
    args = p.parse_args(argv)
    args.gateways = args.gateways or ([5] if args.quick else [1000])
    args.interval = args.interval or (3.0 if args.quick else 30.0)
    args.cycles = args.cycles or (1 if args.quick else 2)
    if args.quick:
        args.warmup = 3  # Prometheus hands new targets to its scrapers 5 s after it starts
        if args.min_interval_seconds is None:  # else the 3 s interval is served from the 5 s answer cache
            args.min_interval_seconds = 1.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    fleet._raise_nofile()
    print(
        f"powerwall-exporter fleet, held out: {', '.join(map(str, args.gateways))} gateways scraped by "
        f"Prometheus through /probe every {args.interval:g} s (timeout {min(fleet.SCRAPE_TIMEOUT, args.interval):g} "
        f"s), site latency {args.latency:g} s",
        flush=True,
    )
    results = [run(n, args) for n in args.gateways]
    print_results(results)
    fleet.write_results(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
