"""Soak: the exporter process's memory and thread count stay flat over many scrapes.

Why: an exporter runs for months; a few hundred bytes kept per scrape (a growing cache, a label set
per timestamp, a thread per timeout) is an out-of-memory kill a few weeks in. The exporter runs as a
real subprocess (``python -m exporter``), so what is measured is its own RSS and thread count (read
from ``/proc/<pid>/statm`` and ``/proc/<pid>/status``), not the test's.

The 10,000-scrape soak is marked ``slow`` (several minutes; CI runs ``-m "not slow"``; run it with
``pytest -m slow tests/test_soak.py``). The 150-scrape variant checks the issue's "Done when" numbers
on every run.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from exporter.simulator import SimulatedGateway, SiteModel
from tests.conftest import REPO, SIM_PASSWORD, free_port

PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 1024 * 1024


@dataclass
class Exporter:
    proc: subprocess.Popen[bytes]
    port: int

    def rss(self) -> int:
        fields = Path(f"/proc/{self.proc.pid}/statm").read_text().split()
        return int(fields[1]) * PAGE

    def threads(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
        raise AssertionError("no Threads: line")

    def scrape(self, conn: http.client.HTTPConnection | None = None) -> bytes:
        c = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            c.request("GET", "/metrics", headers={"X-Prometheus-Scrape-Timeout-Seconds": "10"})
            resp = c.getresponse()
            body = resp.read()
            assert resp.status == 200, body[:300]
            return body
        finally:
            if conn is None:
                c.close()


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator[Exporter]:
    gw = SimulatedGateway(password=SIM_PASSWORD, model=SiteModel(seed=3, powerwalls=2, solar_powerwall=True))
    gw.start()
    cert = tmp_path / "gateway.pem"
    cert.write_bytes(gw.cert_pem)
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "state_file": None,
                "gateways": [
                    {
                        "name": "soak",
                        "address": gw.url,
                        "password": SIM_PASSWORD,
                        "tls": {"ca_file": str(cert), "server_name": "powerwall"},
                        "min_interval_seconds": 0,  # every scrape goes to the gateway
                    }
                ],
            }
        )
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "exporter",
            f"--config.file={config}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    exp = Exporter(proc, port)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                exp.scrape()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield exp
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        gw.stop()
    assert b"Traceback" not in err, err.decode(errors="replace")[-2000:]


def soak(exp: Exporter, scrapes: int, warmup: int, every: int) -> tuple[list[int], list[int]]:
    """Scrape ``scrapes`` times over one keep-alive-less connection each; sample RSS/threads."""
    for _ in range(warmup):
        exp.scrape()
    rss = [exp.rss()]
    threads = [exp.threads()]
    for i in range(1, scrapes + 1):
        body = exp.scrape()
        if i % every == 0:
            assert b'powerwall_up{gateway="soak"} 1.0' in body
            rss.append(exp.rss())
            threads.append(exp.threads())
    return rss, threads


def test_rss_under_80mb_and_flat_over_150_scrapes(exporter: Exporter) -> None:
    rss, threads = soak(exporter, scrapes=150, warmup=30, every=30)
    assert max(rss) < 80 * MB, [r // MB for r in rss]
    assert max(rss) - rss[0] < 4 * MB, [round(r / MB, 1) for r in rss]
    assert max(threads) <= threads[0] + 2, threads


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_soak_10000_scrapes_rss_and_threads_flat(exporter: Exporter) -> None:
    rss, threads = soak(exporter, scrapes=10_000, warmup=500, every=500)
    growth = max(rss) - rss[0]
    assert growth < 10 * MB, [round(r / MB, 1) for r in rss]
    # No upward trend either: the last samples are not above the first ones after warm-up.
    assert sum(rss[-4:]) / 4 - sum(rss[1:5]) / 4 < 4 * MB, [round(r / MB, 1) for r in rss]
    assert max(threads) <= threads[0] + 2, threads
