"""Keep the benchmarks from rotting: their quick modes must run to the end and print their results.

The benchmark itself is not a pass/fail test (timings depend on the machine); this only proves the
script still works against the current exporter and simulator.
"""

from __future__ import annotations

import re

from tests.support.paths import REPO
from tests.support.prereqs import require_binary
from tests.support.processes import run_python


def run_quick(script: str, *args: str) -> str:
    """Run ``bench/<script> --quick`` to the end, without a traceback; its standard output."""
    r = run_python(str(REPO / "bench" / script), "--quick", *args, cwd=REPO, timeout=120)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "Traceback" not in r.stderr, r.stderr
    return r.stdout


def test_bench_quick_runs() -> None:
    out = run_quick("bench_scrape.py", "--skip-pypowerwall")
    for section in ("(a) our scrape", "(b) sequential", "(d) CPU", "(e) gateway load", "(f) 5 gateways"):
        assert section in out, out


def test_bench_transport_quick_runs() -> None:
    out = run_quick("bench_transport.py")
    for line in ("CPU per request:", "split of the profiled rounds by layer", "cumulative entries"):
        assert line in out, out


def test_bench_tedapi_quick_runs() -> None:
    out = run_quick("bench_tedapi.py")
    for line in (
        "PW3: CPU per scrape, cold TEDAPI cache",
        "PW2-TEDAPI: CPU per scrape, warm TEDAPI cache",
        "PW2-TEDAPI DeviceControllerQuery: decode + map",
        "PW3 ComponentsQuery",
        "8 scraper(s): TEDAPI requests/min",
        "8 scrapers / 1 scraper",
    ):
        assert line in out, out
    # The cold phase really sent every TEDAPI request, the warm one none (the figures mean what they say).
    assert "PW3: requests per cold scrape (TEDAPI + JSON, at the simulator)" in out
    assert "6.0 + 3.0" in out and "0.0 + 3.0" in out, out


def test_bench_tedapi_memory_quick_runs() -> None:
    out = run_quick("bench_tedapi_memory.py")
    for line in ("DeviceControllerQuery answer", "8 scraper(s): peak RSS (VmHWM)", "peak RSS, 8 scrapers / 1 scraper"):
        assert line in out, out


def test_bench_v1r_quick_runs() -> None:
    out = run_quick("bench_v1r.py")
    for line in (
        "key generation (wall / CPU)",
        "wifi: CPU per cold scrape, median / p90",
        "v1r: CPU per cold scrape, median / p90",
        "v1r: signing CPU per cold scrape",
        "v1r / wifi, median (same data)",
        "ClientKey.sign of a query:DeviceControllerQuery",
    ):
        assert line in out, out
    # Every v1r request of a cold scrape was signed and accepted (the leader's four reads), the
    # follower still went over WiFi, and the verdict line is there whatever it says on this machine.
    assert "v1r: requests per cold scrape (v1r signed + other TEDAPI + JSON, at the simulator): 4.0 + 2.0 + 3.0" in out
    assert "all verdict ok" in out, out
    assert re.search(r"^v1r/wifi CPU ratio: \d+\.\d\d \(target <= 1\.5\): (OK|MISS)$", out, re.M), out


def test_bench_fleet_quick_runs() -> None:
    out = run_quick("bench_fleet.py", "--offline", "0.2")
    # The per-run table and the overall one, with a row for the quick run's 5 gateways, one of them
    # off the network and reported apart.
    assert "| measure | value | target | verdict |" in out, out
    for measure in ("| probes up (the 4 on line) |", "| /probe latency p99 |", "| CPU per gateway-scrape |"):
        assert measure in out, out
    assert "| RSS per gateway" in out, out
    # Its probes may all fall outside the quick run's one short window (the first waits for its deadline).
    assert re.search(r"^\| offline gateways: their probes \| 1: (down \d+)?; p50 \d+ ms", out, re.M), out
    assert "| gateways | up | refused | timed out | errors | p50 | p99 |" in out, out
    assert re.search(r"^\| 5 \| \d+\.\d % \| \d+ \| \d+ \| \d+ \| \d+ ms \| \d+ ms \|", out, re.M), out


def test_bench_fleet_quick_runs_with_sites_dropping_off() -> None:
    """--offline-at: the offline gateway is served until the measured cycle, then drops off. With
    --max-requests, which reaches the exporter's command line (an unknown flag would stop it)."""
    out = run_quick("bench_fleet.py", "--offline", "0.2", "--offline-at", "1", "--max-requests", "8")
    assert "| probes up (the 4 on line) |" in out, out
    assert "--web.max-requests 8," in out, out
    assert re.search(r"^\| offline gateways: their probes \| 1: ", out, re.M), out


def test_bench_fleet_prometheus_quick_runs() -> None:
    """The held-out fleet check: a real Prometheus scrapes the quick fleet; its table has every target."""
    require_binary("prometheus")
    out = run_quick("bench_fleet_prometheus.py")
    assert "| gateways | scrapes | up | failed scrapes | gateway down |" in out, out
    assert re.search(r"^\| 5 \| [1-9]\d* \| \d+\.\d % \| \d+ \| \d+ \| \d+ ms \|", out, re.M), out


def test_bench_cpu_quick_runs() -> None:
    out = run_quick("bench_cpu.py")
    # One turn of this checkout, then the table with a row per figure the restructuring issue names.
    assert re.search(r"^  turn 1, \S+ \(.+\): typical cold \d", out, re.M), out
    for figure in ("| typical cold | <= 5 ms |", "| typical warm | <= 2 ms |", "| PW3 cold |", "| PW2-TEDAPI cold |"):
        assert figure in out, out


def test_bench_tls_memory_quick_runs() -> None:
    out = run_quick("bench_tls_memory.py")
    assert "| TLS 1.3, 2 session tickets" in out and "| TLS 1.2 | TLSv1.2 |" in out, out
    assert len(re.findall(r"\| [\d.]+ KB \| [\d.]+ ms \|", out)) == 4, out
