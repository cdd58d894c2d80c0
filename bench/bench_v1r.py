"""v1r benchmark: CPU per scrape of a Powerwall 3 read over signed v1r, next to the same site over WiFi.

Why: every v1r request is signed with the owner's RSA-4096 key (RSASSA-PKCS1-v1_5 / SHA-512, a few
ms of CPU each, shared/docs/tedapi.md §6), and the issue that brought v1r promises that this keeps a
scrape affordable: **a cold v1r scrape costs at most 1.5x the CPU of the same site's cold WiFi
scrape**. This script measures both in one run, against the same simulated gateway, and prints the
ratio with a verdict line (``v1r/wifi CPU ratio: X.XX (target <= 1.5): OK|MISS``).

    python bench/bench_v1r.py            # full run: 20 scrapes per path, a 4096-bit key (about 10 s)
    python bench/bench_v1r.py --quick    # smoke run (< 20 s, 2048-bit key; tests/test_bench_smoke.py)
    python bench/bench_v1r.py --profile  # also: where a cold scrape's CPU goes, WiFi and v1r (cProfile)

Set-up: the simulated Powerwall 3 site (``SiteModel.pw3(start_time=SIM_START)``: leader + follower,
two expansion packs, gzipped TEDAPI, three JSON endpoints) runs in its own process (bench_tedapi's
``TedapiSim``), so its TLS work and its verification of every signature never count as ours. The
client key is a real RSA key made once per run in a temporary directory (4096 bits, what pypowerwall
registers; its generation is timed on its own, outside every other figure) and registered verified
with the simulated gateway. No delay per request.

Three collectors read the site, each with a cold TEDAPI cache (the JSON API at
``min_interval_seconds: 0``, the transport's reused answers dropped with
``GatewayTransport.forget_answers()`` before every scrape, outside the timed region, as in
bench_tedapi), interleaved scrape by scrape so a change in the machine's load hits all three alike:

* **wifi**: the leader and the follower over WiFi (HTTP Basic, ``/tedapi/v1``): the baseline;
* **v1r**: the leader over v1r, the follower over WiFi (a configured gateway password and key): the
  same data as WiFi, the same series plus the v1r domain's own few (faults, key, clock;
  tests/sources/tedapi/test_v1r_against_simulator.py proves it), so the ratio compares like with
  like: **the verdict is this ratio**;
* **v1r alone**: no gateway password: the leader over v1r, the follower not read at all (v1r
  reaches the leader only), so it reads less; its ratio is reported, not judged.

CPU per scrape is ``time.process_time()`` (every thread of this process) around one
``PowerwallCollector.scrape()`` plus rendering with the encoder ``/probe`` uses; median and p90 over
``--runs`` scrapes. Every v1r request of the timed scrapes must be accepted by the gateway (its
verdict ``ok`` in ``gw.v1r_requests``), every endpoint must succeed and the leader must be read over
the path the collector claims, or the script stops with an error: a refused or failed-over request
is cheaper, and would make the figure mean nothing.

Also reported: the signing cost alone (``ClientKey.sign`` of a real DeviceControllerQuery envelope's
signed bytes, ms per signature, and ``V1rSigner.sign``: the whole RoutableMessage with expiry and
uuid), and the signing CPU the timed v1r scrapes spent, measured in the scrape (each worker thread's
CPU time around ``V1rSigner.sign``).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from bench_scrape import Report
from bench_tedapi import RENDER, TedapiSim, _profile

from exporter.config import Config, GatewayConfig
from exporter.gateway.transport import GatewayTransport
from exporter.metrics.metricset import MetricSet
from exporter.scrape.collector import PowerwallCollector
from exporter.simulator import write_query_file
from exporter.sources.tedapi import v1r, v1r_key
from exporter.sources.tedapi.envelope import describe_bare
from exporter.sources.tedapi.source import TedapiSource
from exporter.sources.tedapi.v1r_signer import V1rSigner

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

RATIO_TARGET = 1.5  # issue: a cold v1r scrape costs at most 1.5x the same site's cold WiFi scrape
WARMUP_SCRAPES = 3  # log in, open connections, learn the gateway clock and what the firmware lacks


# ---------------------------------------------------------------------------------- signing meter
class SignMeter:
    """Wraps one :class:`V1rSigner`'s ``sign``: how many signatures, their CPU, the last envelope.

    Thread CPU time (``time.thread_time``) of the calling worker, so the figure is signing's own CPU
    whatever the other workers do meanwhile. The wrapper costs microseconds a call, a fraction of a
    percent of the milliseconds it measures.
    """

    def __init__(self, signer: V1rSigner) -> None:
        self.signer = signer
        self.unmeasured = signer.sign  # the signer's own method, for timing it alone in (3)
        self._lock = threading.Lock()
        self.calls = 0
        self.cpu = 0.0
        self.envelopes: dict[str, bytes] = {}  # kind -> the last envelope of that kind signed
        setattr(signer, "sign", self._measured)  # noqa: B010 - a bench-only wrapper of one instance

    def _measured(self, envelope: bytes) -> bytes:
        t0 = time.thread_time()
        signed = self.unmeasured(envelope)
        spent = time.thread_time() - t0
        with self._lock:
            self.calls += 1
            self.cpu += spent
            self.envelopes[describe_bare(envelope)[0]] = envelope
        return signed

    def reset(self) -> None:
        with self._lock:
            self.calls, self.cpu = 0, 0.0


# ---------------------------------------------------------------------------------- the three paths
@dataclasses.dataclass
class Reader:
    """One collector reading the site over one path, and what its timed cold scrapes did."""

    label: str
    leader_path: str  # "wifi" or "v1r": what powerwall_tedapi_path_info must say of the leader
    collector: PowerwallCollector
    transport: GatewayTransport
    meter: SignMeter | None
    cpu: list[float] = dataclasses.field(default_factory=list)
    tedapi: int = 0  # TEDAPI requests other than v1r at the simulator (WiFi ones, the LAN DIN)
    json: int = 0
    v1r: Counter[tuple[str, str]] = dataclasses.field(default_factory=Counter)  # (kind, verdict) -> requests
    series: int = 0

    @property
    def runs(self) -> int:
        return len(self.cpu)

    def median_ms(self) -> float:
        return statistics.median(self.cpu) * 1000

    def p90_ms(self) -> float:
        return _p90(self.cpu) * 1000


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def _make_path(label: str, cfg: GatewayConfig) -> Reader:
    collector = PowerwallCollector(Config(gateways=(cfg,), state_file=None))
    scraper = collector.scrapers[cfg.name]
    source = next(s for s in scraper.sources if isinstance(s, TedapiSource))
    meter = None if source.signer is None else SignMeter(source.signer)
    leader = "v1r" if source.signer is not None else "wifi"
    return Reader(label, leader, collector, scraper.transport, meter)


def _check(path: Reader, ms: MetricSet, leader_din: str) -> None:
    """Stop the run if this scrape was not what the figure claims (failed endpoints, the wrong path)."""
    if ms.get("powerwall_up") != 1:
        raise RuntimeError(f"{path.label}: scrape failed")
    failed = [dict(k)["endpoint"] for k, v in ms.samples("powerwall_scrape_endpoint_success").items() if v != 1]
    if failed:
        raise RuntimeError(f"{path.label}: endpoints failed: {failed}")
    paths = {dict(k)["unit"]: dict(k)["path"] for k in ms.samples("powerwall_tedapi_path_info")}
    if paths.get(leader_din) != path.leader_path:
        raise RuntimeError(f"{path.label}: the leader was read over {paths.get(leader_din)}, not {path.leader_path}")


def _cold_scrape(path: Reader, sim: TedapiSim, leader_din: str, timed: bool) -> None:
    """One scrape with every TEDAPI answer dropped first; its CPU and the simulator's counts when ``timed``."""
    path.transport.forget_answers()
    sim.clear()
    t0 = time.process_time()
    ms = path.collector.scrape(timeout=30)
    RENDER(ms, False)
    spent = time.process_time() - t0
    _check(path, ms, leader_din)
    if not timed:
        return
    counts = sim.counts()
    verdicts = sim.v1r_verdicts()
    refused = {k: n for k, n in verdicts.items() if k[1] != "ok"}
    if refused:  # a refused request is cheap: measuring it would measure nothing
        raise RuntimeError(f"{path.label}: the gateway refused v1r requests: {dict(refused)}")
    path.cpu.append(spent)
    path.tedapi += counts.tedapi_total
    path.json += counts.json
    path.v1r += verdicts
    path.series = len(ms)


# ---------------------------------------------------------------------------------- sections
def bench_keygen(directory: Path, bits: int, report: Report) -> v1r_key.KeyPair:
    sec = f"(1) the client key (RSA-{bits}, made once per run; not part of any other figure)"
    w0, c0 = time.perf_counter(), time.process_time()
    pair = v1r_key.generate(directory, bits=bits)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    report.add(sec, f"RSA-{bits} key generation (wall / CPU)", f"{wall * 1000:.0f} / {cpu * 1000:.0f} ms")
    report.add(sec, "key fingerprint (SHA-256 of the PKCS#1 DER public key)", pair.fingerprint[:16] + "...")
    return pair


def bench_scrapes(paths: list[Reader], sim: TedapiSim, leader_din: str, runs: int, report: Report) -> float:
    """(2): interleaved cold scrapes of every path; returns the judged ratio (v1r / wifi, medians)."""
    sec = "(2) CPU per cold scrape (collect + render, in-process; simulator in another process)"
    for path in paths:
        for _ in range(WARMUP_SCRAPES):
            _cold_scrape(path, sim, leader_din, timed=False)
        if path.meter is not None:
            path.meter.reset()
    for i in range(runs):
        shift = i % len(paths)  # rotate the order: no path is always the first after the simulator's idle
        for path in paths[shift:] + paths[:shift]:
            _cold_scrape(path, sim, leader_din, timed=True)
    wifi = paths[0]
    for path in paths:
        signed = sum(path.v1r.values())
        report.add(sec, f"{path.label}: series", str(path.series))
        report.add(
            sec,
            f"{path.label}: requests per cold scrape (v1r signed + other TEDAPI + JSON, at the simulator)",
            f"{signed / runs:.1f} + {path.tedapi / runs:.1f} + {path.json / runs:.1f}",
        )
        report.add(
            sec, f"{path.label}: CPU per cold scrape, median / p90", f"{path.median_ms():.1f} / {path.p90_ms():.1f} ms"
        )
        if path.meter is not None:
            if path.meter.calls != signed:
                raise RuntimeError(f"{path.label}: signed {path.meter.calls} requests, the gateway saw {signed}")
            report.add(
                sec,
                f"{path.label}: signing CPU per cold scrape (measured in the scrape)",
                f"{path.meter.cpu / runs * 1000:.1f} ms ({path.meter.calls / runs:.1f} signatures)",
            )
            report.add(
                sec,
                f"{path.label}: cold scrape - wifi's (median)",
                f"{path.median_ms() - wifi.median_ms():+.1f} ms",
            )
    judged = paths[1]
    ratio = judged.median_ms() / wifi.median_ms()
    report.add(
        sec,
        f"{judged.label} / {wifi.label}, median (same data)",
        f"{ratio:.2f}x",
        f"<= {RATIO_TARGET}x",
        ratio <= RATIO_TARGET,
    )
    report.add(sec, f"{judged.label} / {wifi.label}, p90", f"{judged.p90_ms() / wifi.p90_ms():.2f}x")
    for path in paths[2:]:
        report.add(
            sec, f"{path.label} / {wifi.label}, median (reads less)", f"{path.median_ms() / wifi.median_ms():.2f}x"
        )
    kinds = Counter({kind: n for (kind, _), n in judged.v1r.items()})
    report.notes.append(
        f"v1r requests of {judged.label}'s {runs} timed scrapes, all verdict ok: "
        + ", ".join(f"{k} x{n}" for k, n in sorted(kinds.items()))
    )
    return ratio


def bench_signing(meter: SignMeter, bits: int, runs: int, report: Report) -> None:
    """(3): one signature alone, on a real envelope the scrapes signed."""
    sec = f"(3) signing alone (RSA-{bits}, RSASSA-PKCS1-v1_5 / SHA-512)"
    envelope = meter.envelopes["query:DeviceControllerQuery"]  # the largest read the leader signs
    kind, din = describe_bare(envelope)
    signed = v1r.signed_bytes(din, int(time.time()) + v1r.EXPIRES_IN_SECONDS, envelope)
    key = meter.signer.key
    alone = _cpu_times(lambda: key.sign(signed), runs)
    whole = _cpu_times(lambda: meter.unmeasured(envelope), runs)
    report.add(sec, f"ClientKey.sign of a {kind} ({len(envelope)} B envelope), median / p90", _ms2(alone))
    report.add(sec, "V1rSigner.sign (expiry, uuid, signature, RoutableMessage), median / p90", _ms2(whole))


def _cpu_times(fn: Callable[[], object], runs: int) -> list[float]:
    fn()
    times = []
    for _ in range(runs):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return times


def _ms2(times: list[float]) -> str:
    return f"{statistics.median(times) * 1000:.2f} / {_p90(times) * 1000:.2f} ms"


# ---------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="5 scrapes per path, a 2048-bit key: a smoke run")
    p.add_argument("--runs", type=int, help="timed cold scrapes per path (default 20; quick 5)")
    p.add_argument("--bits", type=int, help="client key size (default 4096, what pypowerwall registers; quick 2048)")
    p.add_argument("--sign-runs", type=int, help="timed signatures in (3) (default 100; quick 10)")
    p.add_argument("--profile", action="store_true", help="cProfile 20 cold scrapes of wifi and of v1r (all threads)")
    args = p.parse_args(argv)
    quick = args.quick
    runs = args.runs or (5 if quick else 20)
    bits = args.bits or (2048 if quick else v1r_key.DEFAULT_BITS)
    sign_runs = args.sign_runs or (10 if quick else 100)
    warnings.simplefilter("ignore")
    from tests.simtime import SIM_START  # after REPO is on sys.path (the bench runs from a clone)

    report = Report()
    print(f"powerwall-exporter v1r benchmark: {runs} cold scrapes per path, RSA-{bits} client key")
    with tempfile.TemporaryDirectory(prefix="pwbench-v1r-") as tmp:
        workdir = Path(tmp)
        pair = bench_keygen(workdir / "v1r-key", bits, report)
        queries = workdir / "queries.json"
        query_key = workdir / "query-key.pem"
        query_key.write_bytes(write_query_file(queries))
        sim = TedapiSim(
            "PW3", "pw3", workdir, queries, query_key, {"start_time": SIM_START}, v1r_keys=(pair.public_der,)
        )
        paths: list[Reader] = []
        try:
            base = sim.gateway_config("wifi")
            assert base.tedapi is not None
            signed = dataclasses.replace(base.tedapi, v1r_key_file=pair.private_path)
            paths.append(_make_path("wifi", base))
            paths.append(_make_path("v1r", dataclasses.replace(base, name="v1r", tedapi=signed)))
            alone = dataclasses.replace(signed, gateway_password=None)
            paths.append(_make_path("v1r alone", dataclasses.replace(base, name="v1r-alone", tedapi=alone)))
            leader_din = _leader_din(paths[0])
            ratio = bench_scrapes(paths, sim, leader_din, runs, report)
            meter = paths[1].meter
            assert meter is not None
            bench_signing(meter, bits, sign_runs, report)
            if args.profile:
                for path in paths[:2]:
                    _profile(path.collector, path.label, 20)
        finally:
            for path in paths:
                path.collector.close()
            sim.stop()
    report.notes.append(
        "CPU is process time of this process (every thread); the simulator runs in its own process on the "
        "same machine and competes for its cores; the three paths are scraped in turn, so load hits each alike"
    )
    report.print()
    verdict = "OK" if ratio <= RATIO_TARGET else "MISS"
    print(f"\nv1r/wifi CPU ratio: {ratio:.2f} (target <= {RATIO_TARGET}): {verdict}")
    return 0


def _leader_din(path: Reader) -> str:
    """The leader's DIN, as the WiFi collector learns it (one scrape; untimed)."""
    path.transport.forget_answers()
    ms = path.collector.scrape(timeout=30)
    dins = [dict(k)["din"] for k in ms.samples("powerwall_info")]
    if len(dins) != 1:
        raise RuntimeError(f"expected one powerwall_info series, got {dins}")
    return dins[0]


if __name__ == "__main__":
    sys.exit(main())
