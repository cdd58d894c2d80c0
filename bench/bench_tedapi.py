"""TEDAPI benchmark: CPU per scrape, decode + map of one query answer, and access-point load vs scrapers.

Why: the TEDAPI issue promises that per-device data from TEDAPI stays cheap (a scrape that sends
every TEDAPI request costs at most 15 ms of CPU, decoding and mapping one DeviceControllerQuery
answer at most 5 ms) and that the gateway's fragile access point sees the same number of TEDAPI
requests whether one Prometheus server scrapes or eight. This script measures the three against the
simulated Powerwall 3 site (``SiteModel.pw3()``: leader + follower, two expansion packs, gzipped
TEDAPI, three JSON endpoints) and the Powerwall 2 site on firmware 25.10 (``SiteModel.pw2_tedapi()``:
every JSON endpoint but vitals, the full DeviceControllerQuery), and prints each against its target.

    python bench/bench_tedapi.py            # full run (about 4 minutes)
    python bench/bench_tedapi.py --quick    # smoke run (< 30 s; tests/test_bench_smoke.py)
    python bench/bench_tedapi.py --profile  # also: where a cold scrape's CPU goes (cProfile, thread CPU time)

Set-up: each simulated gateway runs in its own process (so its TLS, model and gzip work never counts
as ours), with TEDAPI on and queries of our own signed by a throwaway key
(``exporter.simulator.write_query_file``; ``tedapi.query_public_key_file`` makes the loader verify
them). No delay per request.

(1) CPU per scrape: ``time.process_time()`` (every thread of this process) around one
``PowerwallCollector.scrape()`` plus rendering with the encoder production serves for ``/probe``,
median over N scrapes. **Cold cache**: every request is really sent on every scrape. The JSON API
has ``min_interval_seconds: 0``; for TEDAPI, whose DIN / config.json / firmware answers are reused
for 10 min to 1 h by design, the transport's reused answers are dropped before each scrape with
``GatewayTransport.forget_answers()`` (a hook for exactly this; outside the timed region). That is a
steady exporter whose answers have all just expired: same collector, sessions, keep-alive
connections and "not supported" memory (the JSON endpoints a Powerwall 3 lacks stay skipped, as in
production). A fresh collector per scrape would measure logins and TLS handshakes instead; building
requests with interval 0 would need the source's cadence constants patched. **Warm cache**: the same
collector scraped again with ``tedapi.min_interval_seconds: 30`` (the default), so every TEDAPI answer
is reused (what a scrape between two TEDAPI refreshes costs; the JSON API is still fetched). The
simulator counts the TEDAPI requests of each phase, which proves the phase was what it claims.

(2) Decode + map of one answer: the answer bytes come from the simulator (fetched once through our
transport, which already inflated the PW3's gzip), then ``TedapiSource.collect`` is timed on them:
protobuf envelope -> GraphQL JSON -> Device records -> flatten into a MetricSet (plus the query-error
gauge and the controller's site gauges). The stages are also timed alone. Answers: the full
DeviceControllerQuery of the PW2 site (target <= 5 ms), the PW3's DeviceControllerQuery and its
per-unit ComponentsQuery answers.

(3) TEDAPI requests per minute with 1, 2 and 8 concurrent scrapers: ``python -m exporter`` as a
subprocess, one gateway entry per scraper count (each its own transport and cold start) all
pointing at the PW3 simulator, each scraper GETting ``/probe`` every second for ``--window`` seconds
(default 60), TEDAPI ``min_interval_seconds`` at its default (30). The simulator counts every TEDAPI
request (``gw.tedapi_requests``); the count must not grow with the scrapers: at most
``floor(window / interval) + 1`` fetches per request, whatever the scrapers do.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import math
import multiprocessing
import multiprocessing.connection
import pstats
import statistics
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_scrape import PASSWORD, ExporterProcess, Report, _p95, scrape_concurrently

from exporter.config import Config, GatewayConfig, Secret, TLSConfig
from exporter.config.tedapi import DEFAULT_MIN_INTERVAL_SECONDS, TedapiConfig
from exporter.devices.flatten import flatten_devices
from exporter.gateway.outcomes import Fetched
from exporter.gateway.request import Request
from exporter.gateway.transport import GatewayTransport
from exporter.metrics.metricset import MetricSet
from exporter.scrape.collector import PowerwallCollector
from exporter.simulator import write_query_file
from exporter.sources.base import Output
from exporter.sources.registry import ALLOW_LIST
from exporter.sources.tedapi import envelope
from exporter.sources.tedapi.devices import Block, blocks, components_devices, controller_devices
from exporter.sources.tedapi.plan import CONFIG_INTERVAL_SECONDS, DIN_INTERVAL_SECONDS, FIRMWARE_INTERVAL_SECONDS
from exporter.sources.tedapi.source import TedapiSource
from exporter.web.exposition import choose

GATEWAY_PASSWORD = "BENCHGWPWD"  # the simulator's TEDAPI password, not a secret
CPU_TARGET_MS = 15.0  # issue: a scrape with a cold TEDAPI cache
DECODE_TARGET_MS = 5.0  # issue: decode + map of one DeviceControllerQuery answer
RATIO_TARGET = 1.25  # 8 scrapers vs 1: "does not depend on the number of scrapers"
PROFILES = {"PW3": "pw3", "PW2-TEDAPI": "pw2_tedapi"}
RENDER, _ = choose("text/plain; version=0.0.4")  # what /probe serves a Prometheus scrape with


# ---------------------------------------------------------------------------------- simulator
def _sim_main(
    conn: multiprocessing.connection.Connection,
    profile: str,
    pem: bytes,
    model_args: dict[str, Any],
    v1r_keys: tuple[bytes, ...] = (),
) -> None:
    """Child process: a simulated TEDAPI site answering commands from the parent over ``conn``.

    ``v1r_keys``: PKCS#1 DER public keys registered (verified) for v1r, so bench_v1r's signed requests
    are accepted; the gateway verifies each signature here, in its own process, not on our CPU.
    """
    from exporter.simulator import SimulatedGateway, SiteModel

    model = getattr(SiteModel, profile)(seed=5, **model_args)
    gw = SimulatedGateway(password=PASSWORD, model=model, gateway_password=GATEWAY_PASSWORD, tedapi_keys=[pem])
    for der in v1r_keys:
        gw.v1r_keys.add(der, state="verified")
    gw.start()
    conn.send({"url": gw.url, "port": gw.port, "cert_pem": gw.cert_pem})
    while True:
        cmd = conn.recv()
        if cmd == "stop":
            break
        if cmd == "clear":
            gw.clear_requests()
            conn.send(None)
        elif cmd == "counts":
            tedapi = gw.tedapi_requests
            conn.send({"tedapi": Counter(tedapi), "json": sum(1 for r in gw.requests if r.path.startswith("/api/"))})
        elif cmd == "v1r":  # (kind, verdict) -> requests: records are the gateway's word, not ours
            conn.send(Counter((r.kind, r.verdict) for r in gw.v1r_requests))
    gw.stop()
    conn.send(None)


@dataclasses.dataclass(frozen=True)
class Counts:
    tedapi: Counter[tuple[str, str]]  # (path, kind) -> requests
    json: int

    @property
    def tedapi_total(self) -> int:
        return sum(self.tedapi.values())


class TedapiSim:
    """A simulated TEDAPI site in a child process, and the exporter config that reaches it."""

    def __init__(
        self,
        label: str,
        profile: str,
        workdir: Path,
        queries: Path,
        key: Path,
        model_args: dict[str, Any] | None = None,
        v1r_keys: tuple[bytes, ...] = (),
    ) -> None:
        """``model_args``: more :class:`SiteModel` parameters (e.g. ``powerwalls``) for the profile;
        ``v1r_keys``: public keys (PKCS#1 DER) the gateway accepts, verified, on ``/tedapi/v1r``."""
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        args = (child, profile, key.read_bytes(), model_args or {}, v1r_keys)
        self._proc = ctx.Process(target=_sim_main, args=args, daemon=True)
        self._proc.start()
        info = self._conn.recv()
        self.label = label
        self.url: str = info["url"]
        self.port: int = info["port"]
        self.cert = workdir / f"sim-{self.port}.pem"
        self.cert.write_bytes(info["cert_pem"])
        self.queries, self.key = queries, key

    def clear(self) -> None:
        self._conn.send("clear")
        self._conn.recv()

    def counts(self) -> Counts:
        self._conn.send("counts")
        got = self._conn.recv()
        return Counts(got["tedapi"], got["json"])

    def v1r_verdicts(self) -> Counter[tuple[str, str]]:
        """(kind, verdict) -> v1r requests since the last :meth:`clear`, as the gateway judged them."""
        self._conn.send("v1r")
        got: Counter[tuple[str, str]] = self._conn.recv()
        return got

    def stop(self) -> None:
        self._conn.send("stop")
        self._conn.recv()
        self._proc.join(10)

    def gateway_config(self, name: str, tedapi_interval: float = DEFAULT_MIN_INTERVAL_SECONDS) -> GatewayConfig:
        """In-process config: the JSON API fetched on every scrape, TEDAPI on ``tedapi_interval``."""
        key = self.key.read_bytes()
        tedapi = TedapiConfig(Secret(GATEWAY_PASSWORD), "127.0.0.1", self.port, self.queries, key, tedapi_interval)
        return GatewayConfig(
            name=name,
            host="127.0.0.1",
            port=self.port,
            password=Secret(PASSWORD),
            tls=TLSConfig(ca_file=self.cert, server_name="powerwall"),
            timeout_seconds=30.0,
            min_interval_seconds=0.0,
            tedapi=tedapi,
        )

    def gateway(self, name: str, tedapi_interval: float | None) -> dict[str, Any]:
        """A ``gateways:`` entry for the exporter subprocess (defaults where ``None``)."""
        tedapi: dict[str, Any] = {
            "gateway_password": GATEWAY_PASSWORD,
            "queries_file": str(self.queries),
            "query_public_key_file": str(self.key),
        }
        if tedapi_interval is not None:
            tedapi["min_interval_seconds"] = tedapi_interval
        return {
            "name": name,
            "address": self.url,
            "password": PASSWORD,
            "tls": {"ca_file": str(self.cert), "server_name": "powerwall"},
            "timeout_seconds": 30,
            "tedapi": tedapi,
        }


# ---------------------------------------------------------------------------------- (1) CPU
def _scrape(collector: PowerwallCollector, label: str) -> int:
    ms = collector.scrape(timeout=30)
    RENDER(ms, False)
    if ms.get("powerwall_up") != 1:
        raise RuntimeError(f"{label}: scrape failed")
    failed = [
        dict(k)["endpoint"] for k, v in ms.samples("powerwall_scrape_endpoint_success").items() if v != 1
    ]  # a failing TEDAPI request would make the scrape cheaper, not the figure right
    if failed:
        raise RuntimeError(f"{label}: endpoints failed: {failed}")
    return len(ms)


def _timed_scrapes(collector: PowerwallCollector, label: str, runs: int, before: Callable[[], None]) -> list[float]:
    """CPU seconds of each of ``runs`` scrapes; ``before`` runs outside the timed region."""
    times = []
    for _ in range(runs):
        before()
        t0 = time.process_time()
        _scrape(collector, label)
        times.append(time.process_time() - t0)
    return times


def bench_cpu(sim: TedapiSim, runs: int, report: Report, profile_rounds: int) -> None:
    sec = "(1) CPU per scrape (collect + render, in-process; simulator in another process)"
    collector = PowerwallCollector(Config(gateways=(sim.gateway_config("cpu"),), state_file=None))
    transport = collector.scrapers["cpu"].transport
    try:
        for _ in range(3):  # log in, open connections, learn what the firmware lacks
            transport.forget_answers()
            series = _scrape(collector, sim.label)
        sim.clear()
        cold = _timed_scrapes(collector, sim.label, runs, transport.forget_answers)
        cold_counts = sim.counts()
        sim.clear()
        warm = _timed_scrapes(collector, sim.label, runs, lambda: None)
        warm_counts = sim.counts()
        last = collector.scrape(timeout=30)
        render = _cpu_median(lambda: RENDER(last, False), runs)
        if profile_rounds:
            _profile(collector, sim.label, profile_rounds)
    finally:
        collector.close()
    med = statistics.median(cold) * 1000
    report.add(sec, f"{sim.label}: series", str(series))
    report.add(
        sec,
        f"{sim.label}: requests per cold scrape (TEDAPI + JSON, at the simulator)",
        f"{cold_counts.tedapi_total / runs:.1f} + {cold_counts.json / runs:.1f}",
    )
    report.add(
        sec,
        f"{sim.label}: CPU per scrape, cold TEDAPI cache (median)",
        f"{med:.1f} ms",
        f"<= {CPU_TARGET_MS:.0f} ms",
        med <= CPU_TARGET_MS,
    )
    report.add(sec, f"{sim.label}: cold, p95", f"{_p95(cold) * 1000:.1f} ms")
    report.add(sec, f"{sim.label}: cold / target", f"{med / CPU_TARGET_MS:.2f}x", "<= 1x", med <= CPU_TARGET_MS)
    wmed = statistics.median(warm) * 1000
    report.add(
        sec,
        f"{sim.label}: requests per warm scrape (TEDAPI + JSON)",
        f"{warm_counts.tedapi_total / runs:.1f} + {warm_counts.json / runs:.1f}",
    )
    report.add(sec, f"{sim.label}: CPU per scrape, warm TEDAPI cache (median)", f"{wmed:.1f} ms")
    report.add(sec, f"{sim.label}: TEDAPI's share of a cold scrape (cold - warm)", f"{med - wmed:.1f} ms")
    report.add(sec, f"{sim.label}: rendering alone, part of either (median)", f"{render:.1f} ms")
    if warm_counts.tedapi_total:
        report.notes.append(f"{sim.label}: the warm phase sent {warm_counts.tedapi_total} TEDAPI requests")


def _profile(collector: PowerwallCollector, label: str, rounds: int) -> None:
    """cProfile of ``rounds`` cold scrapes, in this thread and in the gateway's worker threads.

    Timed with ``time.thread_time``: each thread's CPU, so a worker blocked on a socket or a lock
    counts nothing (with the default wall clock, waiting for the simulator looked like TLS work).
    """
    scraper = next(iter(collector.scrapers.values()))
    profiles: list[cProfile.Profile] = []
    local = threading.local()
    submit = scraper.pool.submit

    def profiled_submit(job: Callable[[], None]) -> None:
        def run() -> None:
            prof = getattr(local, "prof", None)
            if prof is None:
                prof = local.prof = cProfile.Profile(time.thread_time)
                profiles.append(prof)
            prof.enable()
            try:
                job()
            finally:
                prof.disable()

        submit(run)

    setattr(scraper.pool, "submit", profiled_submit)  # noqa: B010 - a bench-only wrapper of one instance
    main = cProfile.Profile(time.thread_time)  # CPU, not wall: a thread waiting on a socket costs nothing
    cpu0 = time.process_time()
    try:
        for _ in range(rounds):
            scraper.transport.forget_answers()
            main.enable()
            _scrape(collector, label)
            main.disable()
    finally:
        setattr(scraper.pool, "submit", submit)  # noqa: B010
    cpu = (time.process_time() - cpu0) / rounds * 1000
    stats = pstats.Stats(main)
    for p in profiles:
        stats.add(p)
    print(f"\n-- profile: {label}, {rounds} cold scrapes ({cpu:.1f} ms CPU each under the profiler)")
    _print_split(stats, rounds)
    stats.sort_stats("tottime").print_stats(18)
    stats.sort_stats("cumulative").print_stats(r"exporter/", 22)


# Where a function's own time goes, by the file it is defined in (first match wins).
LAYERS = (
    ("v1r signing and its vetting (cryptography: RSA)", ("cryptography", "/v1r_key.py")),
    ("TLS, sockets (ssl, socket, select)", ("/ssl.py", "/socket.py", "_ssl.", "'select", "selectors")),
    ("HTTP/1.1 client (exporter/gateway/wire, framing)", ("/exporter/gateway/wire.py", "/exporter/gateway/framing.py")),
    # Gone from the exporter since wire.py; kept so that older commits' profiles still split the same way.
    ("http.client, email, urllib3, requests", ("/http/client.py", "/email/", "/urllib3/", "/requests/")),
    ("protobuf", ("/google/protobuf/", "_pb2")),
    ("json", ("/json/", "_json.")),
    ("our transport (exporter/gateway)", ("/exporter/gateway/",)),
    ("TEDAPI source (exporter/sources/tedapi)", ("/exporter/sources/tedapi/",)),
    ("device flattening (exporter/devices)", ("/exporter/devices/",)),
    ("JSON API source", ("/exporter/sources/json_api/",)),
    ("metric set, rendering (exporter/metrics, web)", ("/exporter/metrics/", "/exporter/web/")),
    ("collector, workers, other exporter code", ("/exporter/",)),
    ("threading, locks, queues", ("/threading.py", "/concurrent/", "_thread.", "/queue.py")),
)


def _print_split(stats: pstats.Stats, rounds: int) -> None:
    """Self time per layer; builtins outside every layer count for their costliest caller's layer."""
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    memo: dict[Any, str] = {}

    def own(func: Any) -> str | None:
        where = f"{func[0]} {func[2]}"
        return next((name for name, marks in LAYERS if any(m in where for m in marks)), None)

    def layer_of(func: Any, seen: frozenset[Any] = frozenset()) -> str:
        if func in memo:
            return memo[func]
        found = own(func)
        if found is None:
            callers = {c: v for c, v in table[func][4].items() if c not in seen and c in table}
            top = max(callers, key=lambda c: callers[c][2], default=None)
            found = "other" if top is None else layer_of(top, seen | {func})
        memo[func] = found
        return found

    totals: Counter[str] = Counter()
    for func, (_, _, tottime, _, _) in table.items():
        totals[layer_of(func)] += tottime
    whole = sum(totals.values()) or 1.0
    print("self CPU time by layer (profiled, all threads):")
    for name, t in totals.most_common():
        print(f"  {name:<48} {t / rounds * 1000:6.2f} ms/scrape  {t / whole:5.1%}")


# ---------------------------------------------------------------------------------- (2) decode
@dataclasses.dataclass
class Answer:
    request: Request
    fetched: Fetched
    kind: str  # envelope.describe of the request body: "query:DeviceControllerQuery", "config", ...


def fetch_answers(sim: TedapiSim) -> tuple[TedapiSource, list[Answer]]:
    """Every TEDAPI answer of one scrape, fetched through our transport, collected in chain order."""
    cfg = sim.gateway_config("decode")
    source = TedapiSource(cfg)
    transport = GatewayTransport(cfg, ALLOW_LIST)
    for auth, connections in source.auths():
        transport.add_auth(auth, connections)
    pending = list(source.requests(transport))
    answers = []
    try:
        while pending:
            request = pending.pop(0)
            result = transport.fetch(request, time.monotonic() + 30)
            if not isinstance(result, Fetched):
                raise RuntimeError(f"{sim.label}: {request.label}: {result}")
            kind = envelope.describe(request.body) if request.body else "din"
            answers.append(Answer(request, result, kind))
            source.collect(request, result, Output(MetricSet()))  # the DIN, firmware and config it keeps
            pending.extend(source.followups(request, result))
    finally:
        transport.close()
    return source, answers


def _cpu_median(fn: Callable[[], object], runs: int) -> float:
    fn()  # name caches, first-use imports
    times = []
    for _ in range(runs):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return statistics.median(times) * 1000


def bench_decode(sim: TedapiSim, runs: int, report: Report) -> None:
    sec = "(2) decode + map of one TEDAPI query answer (envelope -> JSON -> devices -> MetricSet)"
    source, answers = fetch_answers(sim)
    by_kind = {a.kind: a for a in answers}
    din = by_kind["din"].fetched.body.decode().strip()
    firmware = envelope.firmware_answer(by_kind["firmware"].fetched.body).version
    pw3_blocks = [b for b in blocks(envelope.config_answer(by_kind["config"].fetched.body)) if b.is_pw3]
    base = {"gateway": "bench"}
    for a in answers:
        if not a.kind.startswith("query:"):
            continue
        body = a.fetched.body
        controller = a.kind == "query:DeviceControllerQuery"
        block = None if controller else _block_of(a.request, pw3_blocks)
        name = f"{sim.label} {a.kind.removeprefix('query:')}" + ("" if block is None else f" ({block.type})")

        def whole(request: Request = a.request, fetched: Fetched = a.fetched) -> MetricSet:
            out = Output(MetricSet(base_labels=base))
            source.collect(request, fetched, out)
            for report in out.reports:  # the devices, handed over for the device merge
                out.ms.merge(report.ms)
            return out.ms

        def data(body: bytes = body) -> Any:
            return envelope.query_answer(body).data

        parsed = data()

        def records(parsed: Any = parsed, block: Block | None = block) -> list[Any]:
            if block is None:
                return controller_devices(parsed, din, firmware)
            return components_devices(parsed, block, firmware)

        devices = records()

        def flatten(devices: list[Any] = devices, label: str = a.request.label) -> None:
            flatten_devices(devices, MetricSet(base_labels=base), label)

        total = _cpu_median(whole, runs)
        stages = [_cpu_median(f, runs) for f in (data, records, flatten)]
        series = len(whole())
        ok = total <= DECODE_TARGET_MS
        size = f"{len(body) / 1024:.1f} KiB, {len(devices)} devices, {series} series"
        report.add(sec, f"{name}: answer", size)
        report.add(sec, f"{name}: decode + map (median)", f"{total:.2f} ms", f"<= {DECODE_TARGET_MS:.0f} ms", ok)
        report.add(sec, f"{name}: / target", f"{total / DECODE_TARGET_MS:.2f}x", "<= 1x", ok)
        report.add(
            sec,
            f"{name}: envelope+JSON / records / flatten",
            " / ".join(f"{s:.2f}" for s in stages) + " ms",
        )


def _block_of(request: Request, pw3_blocks: list[Block]) -> Block:
    routed = envelope.DEVICE_PATH_RE.match(request.path)
    if routed is None:  # a single Powerwall 3: the plain path
        return pw3_blocks[0]
    return next(b for b in pw3_blocks if b.din == routed.group("din"))


# ---------------------------------------------------------------------------------- (3) load
def bench_load(
    sim: TedapiSim,
    workdir: Path,
    window: float,
    interval: float,
    tedapi_interval: float | None,
    report: Report,
) -> None:
    query_interval = DEFAULT_MIN_INTERVAL_SECONDS if tedapi_interval is None else tedapi_interval
    sec = (
        f"(3) TEDAPI requests at the simulator ({sim.label}; each scraper every {interval:g} s for {window:g} s; "
        f"tedapi min_interval_seconds {query_interval:g})"
    )
    counts = (1, 2, 8)
    exp = ExporterProcess(workdir, [sim.gateway(f"load{n}", tedapi_interval) for n in counts])
    cadence = {"din": DIN_INTERVAL_SECONDS, "config": CONFIG_INTERVAL_SECONDS, "firmware": FIRMWARE_INTERVAL_SECONDS}
    rates: dict[int, float] = {}
    try:
        for n in counts:
            sim.clear()
            scrape_concurrently(exp, f"load{n}", n, window, interval)
            seen = sim.counts().tedapi
            rates[n] = sum(seen.values()) * 60.0 / window
            bounds = {k: math.floor(window / cadence.get(k[1], query_interval)) + 1 for k in seen}
            ceiling = sum(bounds.values()) * 60.0 / window
            over = {k: v for k, v in seen.items() if v > bounds[k]}
            report.add(
                sec, f"{n} scraper(s): TEDAPI requests/min", f"{rates[n]:.1f}", f"<= {ceiling:.1f}", rates[n] <= ceiling
            )
            report.add(
                sec,
                f"{n} scraper(s): requests over their bound (floor(window/interval)+1 each)",
                str(len(over)),
                "0",
                not over,
            )
            per_kind: Counter[str] = Counter()
            for (_, kind), v in seen.items():
                per_kind[kind.removeprefix("query:")] += v
            report.notes.append(
                f"{n} scraper(s), TEDAPI requests in {window:g} s: "
                + ", ".join(f"{k} x{v}" for k, v in sorted(per_kind.items()))
            )
    finally:
        exp.stop()
    ratio = rates[8] / max(rates[1], 1e-9)
    judged = window >= 2 * query_interval  # with less, one fetch more at an edge is a big ratio
    report.add(
        sec,
        "TEDAPI requests/min, 8 scrapers / 1 scraper",
        f"{ratio:.2f}x",
        f"~1x (<= {RATIO_TARGET}x)",
        ratio <= RATIO_TARGET if judged else None,
    )
    report.add(sec, "TEDAPI requests/min, 2 scrapers / 1 scraper", f"{rates[2] / max(rates[1], 1e-9):.2f}x")


# ---------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="few runs, a 3 s window, 1 s TEDAPI interval: a smoke run")
    p.add_argument("--runs", type=int, help="timed scrapes per site and cache state (default 200; quick 10)")
    p.add_argument("--decode-runs", type=int, help="timed decodes per answer (default 500; quick 20)")
    p.add_argument("--window", type=float, help="seconds per scraper-count phase in (3) (default 60; quick 3)")
    p.add_argument("--profile", action="store_true", help="cProfile 20 cold scrapes per site (all threads)")
    args = p.parse_args(argv)
    quick = args.quick
    runs = args.runs or (10 if quick else 200)
    decode_runs = args.decode_runs or (20 if quick else 500)
    window = args.window or (3.0 if quick else 60.0)
    interval = 0.25 if quick else 1.0
    tedapi_interval = 1.0 if quick else None  # None: the default (30 s); quick shrinks it to fit its window
    warnings.simplefilter("ignore")
    report = Report()
    print(f"powerwall-exporter TEDAPI benchmark: {runs} scrapes, {decode_runs} decodes, {window:g} s windows")

    with tempfile.TemporaryDirectory(prefix="pwbench-tedapi-") as tmp:
        workdir = Path(tmp)
        queries = workdir / "queries.json"
        key = workdir / "query-key.pem"
        key.write_bytes(write_query_file(queries))
        sims = {label: TedapiSim(label, profile, workdir, queries, key) for label, profile in PROFILES.items()}
        try:
            for sim in sims.values():
                bench_cpu(sim, runs, report, 20 if args.profile else 0)
            for sim in (sims["PW2-TEDAPI"], sims["PW3"]):
                bench_decode(sim, decode_runs, report)
            bench_load(sims["PW3"], workdir, window, interval, tedapi_interval, report)
        finally:
            for sim in sims.values():
                sim.stop()
    report.notes.append(
        "CPU is process time of this process (every thread); the simulators run in their own processes "
        "on the same machine and compete for its cores"
    )
    report.print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
