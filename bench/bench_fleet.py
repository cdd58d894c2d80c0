"""Fleet capacity benchmark: how many gateways one exporter replica holds, scraped through ``/probe``.

Why: installers run one replica per so many gateways, and the number must come from a measurement,
not a guess. This drives one exporter with N fake Powerwall 2 sites (100, 300 and 1,000 by default),
each probed once per interval as a Prometheus ``/probe`` job would, and reports per N the exporter's
CPU per gateway-scrape, RSS per gateway, ``/probe`` latency p50/p99, threads, the share of probes up
and the gateway load, each against its target.

    python bench/bench_fleet.py                      # N = 100, 300, 1000 (about 2 min each)
    python bench/bench_fleet.py --gateways 100 --cycles 1
    python bench/bench_fleet.py --exporter-repo /tmp/before   # the same load on another checkout
    python bench/bench_fleet.py --quick              # smoke run: 5 gateways, 3 s interval
    python bench/bench_fleet.py --gateways 1000 --offline 0.1   # a tenth of the sites off the network
    python bench/bench_fleet.py --gateways 1000 --warmup 2 --offline 0.3 --offline-at 2   # a third drop off at once

Three processes, so the exporter's CPU is its own:

1. the fake sites: one asyncio process serving every gateway over HTTPS, one port each. Its answers
   are the simulator's (``exporter.simulator``, model mode, a Powerwall 2 with vitals), fetched once per
   path from an in-process ``SimulatedGateway`` and then served as static bytes after ``--latency``;
   any session is accepted, and the login is answered as the simulator answered it.
2. the exporter under test: ``<repo>/.venv/bin/python -m exporter`` in ``--exporter-repo``, so any
   checkout can be measured (a "before" and an "after");
3. the load generator: one coroutine per target, each firing every ``--interval`` seconds at offset
   i/N of the cycle, raw HTTP/1.1 with ``X-Prometheus-Scrape-Timeout-Seconds`` and the connection
   abandoned at the scrape timeout, like Prometheus.

``--offline SHARE``: that share of the gateways, spread over the cycle, are off the network: their
address accepts the TCP connection and never answers the TLS handshake (a gateway that hangs, or one
whose connections go nowhere). The targets are judged on the gateways that are on line; the offline
ones are reported beside them (how fast their probes answered "down"). With ``--offline-at CYCLES``
they are on line until then and drop off all at once (a site VPN's concentrator going down): what
they are asked on their open keep-alive connections gets no answer either.

See bench/README.md ("Fleet capacity") for how to read the output.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import math
import multiprocessing
import multiprocessing.connection
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "bench-password"  # the simulator's password, not a secret
CLK_TCK = os.sysconf("SC_CLK_TCK")
MB = 1024 * 1024
SCRAPE_TIMEOUT = 10.0  # Prometheus' scrape_timeout for the job; also the client-side abandon
# What Prometheus 2.42 sends by default (it accepts OpenMetrics first, and gzip).
ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
# Outcomes of one probe, in the order the tables show them.
UP, DOWN, REFUSED, TIMEOUT, ERROR = "up", "down", "refused", "timeout", "error"
OUTCOMES = (UP, DOWN, REFUSED, TIMEOUT, ERROR)


def _raise_nofile() -> None:
    """Soft RLIMIT_NOFILE up to the hard one: 1,000 gateways need more than 1,024 descriptors (fake
    sites: a listener and a connection each; exporter: a connection to each). Children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# ------------------------------------------------------------------------------ 1. fake sites
class _Answers:
    """The simulator's answer to each (method, path), fetched once and kept as the bytes to send.

    The first request for a path goes to the in-process simulator (in a thread: it is blocking
    http.client); every later one, from any gateway, is served from here. The login's body is the
    exporter's own, so a wrong password is answered as the simulator would.
    """

    def __init__(self) -> None:
        from exporter.simulator import SimulatedGateway, SiteModel
        from exporter.simulator.testclient import SimClient

        self.gw = SimulatedGateway(password=PASSWORD, model=SiteModel(seed=5, powerwalls=2, solar_powerwall=True))
        self.gw.start()
        self.client = SimClient(self.gw, timeout=30.0)
        self.client.login()
        self._lock = threading.Lock()  # SimClient keeps its token: one fetch at a time
        self.cache: dict[tuple[str, str], asyncio.Future[bytes]] = {}

    def fetch(self, method: str, path: str, body: bytes, content_type: str) -> bytes:
        with self._lock:
            headers = {"Content-Type": content_type} if content_type else {}
            reply = self.client.request(method, path, body=body or None, headers=headers)
        keep = [("Content-Type", reply.headers.get("Content-Type", "application/octet-stream"))]
        keep += [("Set-Cookie", v) for v in reply.headers.get_all("Set-Cookie") or []]
        head = f"HTTP/1.1 {reply.status} {_reason(reply.status)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in keep)
        head += f"Content-Length: {len(reply.body)}\r\nConnection: keep-alive\r\n\r\n"
        return head.encode("latin-1") + reply.body

    def get(self, method: str, path: str, body: bytes, content_type: str) -> asyncio.Future[bytes]:
        key = (method, path)
        fut = self.cache.get(key)
        if fut is None:
            loop = asyncio.get_running_loop()
            fut = asyncio.ensure_future(loop.run_in_executor(None, self.fetch, method, path, body, content_type))
            self.cache[key] = fut
        return fut


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


BAD_GATEWAY = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"


class _Site(asyncio.Protocol):
    """One gateway connection: parse each request, answer it after the latency, keep the connection."""

    def __init__(self, fake: _FakeSites) -> None:
        self.fake = fake
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.busy = False  # one request at a time (the exporter does not pipeline)
        self.port = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.port = transport.get_extra_info("sockname")[1]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self._next()

    def _next(self) -> None:
        if self.busy or self.transport is None:
            return
        if self.port in self.fake.silent:  # the site dropped off the network: nothing comes back
            self.buf.clear()
            return
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        lines = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
        length = int(headers.get("content-length", "0") or 0)
        if len(self.buf) < end + 4 + length:
            return
        body = bytes(self.buf[end + 4 : end + 4 + length])
        del self.buf[: end + 4 + length]
        method, path = lines[0].split(" ")[:2]
        self.busy = True
        self.fake.count(method, path)
        close = headers.get("connection", "").lower() == "close"
        answer = self.fake.answers.get(method, path, body, headers.get("content-type", ""))
        loop = asyncio.get_running_loop()
        loop.call_later(self.fake.latency, self._answer, answer, close)

    def _answer(self, answer: asyncio.Future[bytes], close: bool) -> None:
        if not answer.done():  # the first fetch from the simulator is still running
            answer.add_done_callback(lambda _: self._answer(answer, close))
            return
        if self.transport is None or self.transport.is_closing():
            return
        # A simulator that failed to answer (a bug of ours, not the exporter's) shows as a 502 at the exporter.
        self.transport.write(BAD_GATEWAY if answer.exception() else answer.result())
        self.busy = False
        if close:
            self.transport.close()
        else:
            self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


class _FakeSites:
    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.answers = _Answers()
        self.requests: Counter[str] = Counter()
        self.silent: set[int] = set()  # ports of the sites that dropped off the network (--offline-at)
        self.late: list[tuple[float, float]] = []  # the event loop's late ticks (_watch_lateness)

    def count(self, method: str, path: str) -> None:
        self.requests[f"{method} {path.split('?', 1)[0]}"] += 1


def _sites_main(conn: multiprocessing.connection.Connection, n: int, latency: float) -> None:
    """Child process: N HTTPS gateways on 127.0.0.1, commands from the parent over ``conn``."""
    _raise_nofile()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us
    asyncio.run(_sites_serve(conn, n, latency))


LATE_TICK_SECONDS = 0.01  # how often the fake sites' event loop checks that it runs on time
LATE_KEPT_SECONDS = 0.05  # a tick at least this late is kept (when, how late)
LATE_KEPT_MAX = 10_000


async def _watch_lateness(late: list[tuple[float, float]]) -> None:
    """Keep each time the fake sites' event loop ran ``LATE_KEPT_SECONDS`` or more behind (Unix time
    the tick was due, seconds late): one process serves every site, so a stall of its own delays every
    answer in flight by as much, and a slow probe must not be blamed on the exporter for it."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + LATE_TICK_SECONDS
        await asyncio.sleep(LATE_TICK_SECONDS)
        behind = loop.time() - due
        if behind >= LATE_KEPT_SECONDS and len(late) < LATE_KEPT_MAX:
            late.append((time.time() - behind, behind))


async def _sites_serve(conn: multiprocessing.connection.Connection, n: int, latency: float) -> None:
    loop = asyncio.get_running_loop()
    fake = _FakeSites(latency)
    watcher = asyncio.create_task(_watch_lateness(fake.late))
    ctx = fake.answers.gw.ssl_context  # the simulator's own certificate and SNI check
    servers = [await loop.create_server(lambda: _Site(fake), "127.0.0.1", 0, ssl=ctx, backlog=64) for _ in range(n)]
    ports = [s.sockets[0].getsockname()[1] for s in servers]
    conn.send({"ports": ports, "cert_pem": fake.answers.gw.cert_pem})
    stop = asyncio.Event()
    holes: list[socket.socket] = []

    def commands() -> None:  # a thread: Connection.recv blocks
        while True:
            cmd = conn.recv()
            if cmd == "stop":
                loop.call_soon_threadsafe(stop.set)
                return
            if cmd == "requests":
                snap = asyncio.run_coroutine_threadsafe(_snapshot(fake), loop).result()
                conn.send(snap)
            if cmd == "late":
                conn.send(asyncio.run_coroutine_threadsafe(_late(fake), loop).result())
            if isinstance(cmd, tuple) and cmd[0] == "drop":
                asyncio.run_coroutine_threadsafe(_drop(fake, [servers[i] for i in cmd[1]], holes), loop).result()
                conn.send(len(cmd[1]))

    threading.Thread(target=commands, daemon=True).start()
    await stop.wait()
    watcher.cancel()
    for s in servers:
        s.close()
    for hole in holes:
        hole.close()
    fake.answers.gw.stop()
    conn.send(None)


def _hole(port: int = 0) -> socket.socket:
    """An address off the network: it accepts TCP (the kernel does, into the backlog) and never
    answers, since nothing ever accept()s."""
    return socket.create_server(("127.0.0.1", port), backlog=4096)


async def _drop(fake: _FakeSites, servers: list[asyncio.Server], holes: list[socket.socket]) -> None:
    """These sites drop off the network at once: what they are asked on their open connections gets no
    answer, and new connections are accepted by the kernel and never answered (as --offline's are)."""
    for server in servers:
        port = server.sockets[0].getsockname()[1]
        fake.silent.add(port)
        server.close()
        holes.append(_hole(port))


async def _snapshot(fake: _FakeSites) -> dict[str, int]:
    return dict(fake.requests)


async def _late(fake: _FakeSites) -> list[tuple[float, float]]:
    return list(fake.late)


class FakeSites:
    """The fake sites process, seen from the parent."""

    def __init__(self, n: int, latency: float, workdir: Path) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_sites_main, args=(child, n, latency), daemon=True)
        self._proc.start()
        self.pid = self._proc.pid
        if not self._conn.poll(120):
            raise RuntimeError("fake sites did not start")
        info = self._conn.recv()
        self.ports: list[int] = info["ports"]
        self.cert = workdir / "gateway-cert.pem"
        self.cert.write_bytes(info["cert_pem"])

    def requests(self) -> Counter[str]:
        self._conn.send("requests")
        return Counter(self._conn.recv())

    def late(self, start: float, end: float) -> list[tuple[float, float]]:
        """The fake sites' event loop's late ticks due between Unix times ``start`` and ``end``: (when,
        seconds late), ``LATE_KEPT_SECONDS`` late or more."""
        self._conn.send("late")
        return [(when, behind) for when, behind in self._conn.recv() if start <= when < end]

    def drop(self, indexes: list[int]) -> None:
        """Take these sites off the network now (see ``_drop``)."""
        self._conn.send(("drop", indexes))
        self._conn.recv()

    def stop(self) -> None:
        if self._proc.is_alive():
            try:
                self._conn.send("stop")
                self._conn.poll(10)
            except OSError:
                pass
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()


# ------------------------------------------------------------------------------ 2. the exporter
class Exporter:
    """``python -m exporter`` of the checkout under test, on a loopback port."""

    def __init__(
        self, repo: Path, python: Path, config: dict[str, Any], workdir: Path, flags: Sequence[str] = ()
    ) -> None:
        cfg = workdir / "exporter.yaml"
        cfg.write_text(yaml.safe_dump(config))
        self.port = _free_port()
        self.log = workdir / "exporter.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    str(python),
                    "-m",
                    "exporter",
                    f"--config.file={cfg}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                    *flags,
                ],
                cwd=repo,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if not await_ready(self.port, "/healthz", self.proc):
            self.stop()
            raise RuntimeError(f"exporter did not start; its log:\n{self.log_tail()}")

    def _status(self) -> dict[str, str]:
        text = Path(f"/proc/{self.proc.pid}/status").read_text()
        return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)

    def rss(self) -> int:
        return int(self._status()["VmRSS"].split()[0]) * 1024

    def threads(self) -> int:
        return int(self._status()["Threads"])

    def cpu(self) -> float:
        return _cpu_of(self.proc.pid)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        stop_process(self.proc, 15)


def await_ready(port: int, path: str, proc: subprocess.Popen[bytes], seconds: float = 60.0) -> bool:
    """Poll ``path`` on loopback ``port`` until it answers 200: True then; False once ``proc`` exited
    or ``seconds`` passed."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.1)


def stop_process(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM ``proc``, and SIGKILL it if it has not exited within ``grace`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _cpu_of(pid: int | None) -> float:
    """User + system CPU seconds of process ``pid`` (every thread) so far; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------ 3. load generator
@dataclass
class Plan:
    """What the load generator does; times are ``time.monotonic()`` (system-wide on Linux)."""

    port: int
    targets: list[str]
    interval: float
    cycles: int  # warm-up + measured
    start_at: float
    timeout: float = SCRAPE_TIMEOUT
    per_target_connections: bool = False


@dataclass
class Probe:
    target: str
    cycle: int
    started: float
    ended: float
    outcome: str
    status: int = 0
    retried: bool = False


class _Pool:
    """Idle keep-alive connections to the exporter, like Go's http.Transport under Prometheus: a
    scrape takes an idle one (dropping those the server closed meanwhile) or opens a new one, and
    gives it back once its answer was read whole."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: dict[str, list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]] = {}

    def take(self, key: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        stack = self.idle.get(key, [])
        while stack:
            reader, writer = stack.pop()
            if not reader.at_eof() and not writer.is_closing():
                return reader, writer
            writer.close()
        return None

    def give(self, key: str, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        self.idle.setdefault(key, []).append(conn)

    async def open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 20)


class _Refused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes, bool]:
    """Send one request, read its answer whole: (status, body, whether the connection may be reused)."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:] if h)}
    reuse = headers.get("connection", "").lower() != "close"
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunks.append(await reader.readexactly(size + 2))
            if size == 0:
                break
        body = b"".join(c[:-2] for c in chunks)
    else:
        body = await reader.read()
        reuse = False
    if headers.get("content-encoding", "").lower() == "gzip":
        body = gzip.decompress(body)
    return status, body, reuse


_UP_LINE = re.compile(rb"^powerwall_up(\{[^}]*\})?\s+(\S+)", re.M)


def _is_up(body: bytes, target: str) -> bool:
    """``powerwall_up`` is 1 for ``target`` (a sample without labels, or one naming it)."""
    for m in _UP_LINE.finditer(body):
        labels = m.group(1) or b""
        if labels and f'"{target}"'.encode() not in labels:
            continue
        try:
            return float(m.group(2)) == 1.0
        except ValueError:
            return False
    return False


async def _probe(pool: _Pool, plan: Plan, target: str, cycle: int) -> Probe:
    request = (
        f"GET /probe?target={target} HTTP/1.1\r\nHost: 127.0.0.1:{plan.port}\r\n"
        f"User-Agent: bench-fleet\r\nAccept: {ACCEPT}\r\nAccept-Encoding: gzip\r\n"
        f"X-Prometheus-Scrape-Timeout-Seconds: {plan.timeout:g}\r\n\r\n"
    ).encode()
    key = target if plan.per_target_connections else ""
    started = time.monotonic()
    holder: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    retried = False

    async def run() -> tuple[int, bytes]:
        nonlocal retried
        conn = pool.take(key)
        reused = conn is not None
        if conn is None:
            conn = await pool.open()
        holder[:] = [conn]
        try:
            status, body, reuse = await _exchange(*conn, request)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            # Like Go's transport: a reused connection the server closed before answering is retried
            # once on a new one (a GET is idempotent); a fresh one failing is an error.
            partial = isinstance(exc, asyncio.IncompleteReadError) and exc.partial
            if not reused or partial:
                raise
            conn[1].close()
            retried = True
            conn = await pool.open()
            holder[:] = [conn]
            status, body, reuse = await _exchange(*conn, request)
        holder.clear()
        if reuse:
            pool.give(key, conn)
        else:
            conn[1].close()
        return status, body

    try:
        status, body = await asyncio.wait_for(run(), plan.timeout)
    except asyncio.TimeoutError:
        for _, writer in holder:
            writer.close()  # abandoned, as Prometheus cancels the request
        return Probe(target, cycle, started, started + plan.timeout, TIMEOUT, retried=retried)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, EOFError):
        for _, writer in holder:
            writer.close()
        return Probe(target, cycle, started, time.monotonic(), ERROR, retried=retried)
    ended = time.monotonic()
    if status != 200:
        return Probe(target, cycle, started, ended, REFUSED, status, retried)
    return Probe(target, cycle, started, ended, UP if _is_up(body, target) else DOWN, status, retried)


async def _target_loop(pool: _Pool, plan: Plan, index: int, out: list[Probe]) -> None:
    offset = index * plan.interval / len(plan.targets)
    target = plan.targets[index]
    for cycle in range(plan.cycles):
        delay = plan.start_at + offset + cycle * plan.interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        out.append(await _probe(pool, plan, target, cycle))


async def _load(plan: Plan) -> list[Probe]:
    pool = _Pool(plan.port)
    out: list[Probe] = []
    await asyncio.gather(*(_target_loop(pool, plan, i, out) for i in range(len(plan.targets))))
    for stack in pool.idle.values():
        for _, writer in stack:
            writer.close()
    return out


def _load_main(conn: multiprocessing.connection.Connection, plan: Plan) -> None:
    _raise_nofile()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    probes = asyncio.run(_load(plan))
    conn.send([asdict(p) for p in probes])


# ------------------------------------------------------------------------------ one run
@dataclass
class Result:
    gateways: int
    interval: float
    latency: float
    cycles: int
    exporter_repo: str
    exporter_commit: str
    max_concurrent_requests: int | None
    max_requests: int | None = None  # the exporter's --web.max-requests; None: its default
    probes: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    up_share: float = 0.0
    refused_statuses: dict[str, int] = field(default_factory=dict)
    retried: int = 0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    completed_in_window: int = 0
    cpu_seconds: float = 0.0
    cpu_ms_per_scrape: float | None = None  # None: no probe answered with a page in the window
    cpu_share_of_one_core: float = 0.0
    rss_mb: float = 0.0
    rss_mb_per_gateway: float = 0.0
    threads_max: int = 0
    gateway_requests_per_probe: float | None = None
    gateway_logins_in_window: int = 0
    gateway_requests_by_path: dict[str, int] = field(default_factory=dict)
    exporter_log_lines: int = 0
    offline: int = 0  # gateways off the network (--offline); the figures above are the others'
    offline_outcomes: dict[str, int] = field(default_factory=dict)
    offline_p50_ms: float = 0.0
    offline_max_ms: float = 0.0
    fake_sites_cpu_share: float = 0.0
    load_cpu_share: float = 0.0
    # The fake sites' event loop over the window: how late a tick ran at most, and how many were 50 ms
    # late or more.
    fake_sites_late_max_ms: float = 0.0
    fake_sites_late_ticks: int = 0


def _commit(repo: Path) -> str:
    try:
        r = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    except OSError:
        return "?"
    return r.stdout.strip() or "?"


def _percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def run_one(n: int, args: argparse.Namespace) -> Result:
    repo = Path(args.exporter_repo).resolve()
    python = Path(args.exporter_python) if args.exporter_python else _default_python(repo)
    res = Result(
        gateways=n,
        interval=args.interval,
        latency=args.latency,
        cycles=args.cycles,
        exporter_repo=str(repo),
        exporter_commit=_commit(repo),
        max_concurrent_requests=args.max_concurrent_requests,
        max_requests=args.max_requests,
    )
    with tempfile.TemporaryDirectory(prefix="pwfleet-") as tmp:
        workdir = Path(tmp)
        print(f"\n## {n} gateways (exporter {res.exporter_commit} in {repo})", flush=True)
        sites = FakeSites(n, args.latency, workdir)
        exporter: Exporter | None = None
        holes: list[socket.socket] = []
        try:
            names = [f"gw{i:04d}" for i in range(n)]
            ports = list(sites.ports)
            offline = _offline(n, args.offline)
            for i in offline if args.offline_at is None else ():
                holes.append(_hole())
                ports[i] = holes[-1].getsockname()[1]
            res.offline = len(offline)
            config = exporter_config(names, ports, sites.cert, args.min_interval_seconds)
            if args.max_concurrent_requests is not None:
                config["max_concurrent_requests"] = args.max_concurrent_requests
            # Only when asked: an older checkout measured with --exporter-repo may not know the flag.
            flags = () if args.max_requests is None else (f"--web.max-requests={args.max_requests}",)
            exporter = Exporter(repo, python, config, workdir, flags)
            drop = None if args.offline_at is None else (lambda: sites.drop(offline))
            measure(res, sites, exporter, names, args, {names[i] for i in offline}, drop)
            res.exporter_log_lines = len(exporter.log.read_text(errors="replace").splitlines())
            if res.exporter_log_lines:
                print(f"exporter log ({res.exporter_log_lines} lines), last lines:\n{exporter.log_tail(5)}")
        finally:
            if exporter is not None:
                exporter.stop()
            sites.stop()
            for hole in holes:
                hole.close()
    return res


def exporter_config(
    names: Sequence[str], ports: Sequence[int], cert: Path, min_interval_seconds: float | None
) -> dict[str, Any]:
    """The exporter's configuration for the fake sites: gateway ``names[i]`` at ``ports[i]``, trusted
    by their certificate; ``min_interval_seconds`` None leaves the exporter's default."""
    extra = {} if min_interval_seconds is None else {"min_interval_seconds": min_interval_seconds}
    return {
        "state_file": "",
        "gateways": [
            {
                "name": name,
                "address": f"https://127.0.0.1:{port}",
                "password": PASSWORD,
                "tls": {"ca_file": str(cert), "server_name": "powerwall"},
                **extra,
            }
            for name, port in zip(names, ports, strict=True)
        ],
    }


def write_results(path: str | None, results: Sequence[Any]) -> None:
    """``--out``: the results (dataclasses) as JSON, when a path was given."""
    if path:
        Path(path).write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
        print(f"results written to {path}")


def _offline(n: int, share: float) -> list[int]:
    """Indexes of the ``share`` of ``n`` gateways that are off the network, spread over the cycle."""
    k = round(max(0.0, min(1.0, share)) * n)
    return sorted({(j * n) // k for j in range(k)}) if k else []


def _default_python(repo: Path) -> Path:
    venv = repo / ".venv" / "bin" / "python"
    return venv if venv.exists() else Path(sys.executable)


def measure(
    res: Result,
    sites: FakeSites,
    exporter: Exporter,
    names: list[str],
    args: argparse.Namespace,
    offline: set[str],
    drop: Callable[[], None] | None = None,
) -> None:
    """Warm up, then measure ``args.cycles`` cycles; fills ``res``. ``offline``: the targets off the
    network, reported apart from the others; ``drop``: takes them off at ``args.offline_at`` cycles."""
    interval, warmup = args.interval, args.warmup
    total = warmup + args.cycles
    start_at = time.monotonic() + 1.0
    plan = Plan(exporter.port, names, interval, total, start_at, per_target_connections=args.per_target_connections)
    ctx = multiprocessing.get_context("spawn")
    conn, child = ctx.Pipe()
    load = ctx.Process(target=_load_main, args=(child, plan), daemon=True)
    load.start()
    win_start = start_at + warmup * interval
    win_end = start_at + total * interval
    print(
        f"warm-up {warmup} cycle(s) of {interval:g} s, then {args.cycles} measured; window ends in "
        f"{win_end - time.monotonic():.0f} s",
        flush=True,
    )
    if drop is not None:
        _sleep_until(start_at + args.offline_at * interval)
        drop()
    _sleep_until(win_start)
    cpu0, req0 = exporter.cpu(), sites.requests()
    helpers0 = (_cpu_of(sites.pid), _cpu_of(load.pid))
    threads: list[int] = []
    while time.monotonic() < win_end:
        if exporter.proc.poll() is not None:
            raise RuntimeError(f"exporter exited ({exporter.proc.returncode}); its log:\n{exporter.log_tail()}")
        threads.append(exporter.threads())
        _sleep_until(min(win_end, time.monotonic() + 1.0))
    cpu1, req1, rss = exporter.cpu(), sites.requests(), exporter.rss()
    helpers1 = (_cpu_of(sites.pid), _cpu_of(load.pid))
    threads.append(exporter.threads())
    # The last probes of the window may run up to the scrape timeout past its end.
    if not conn.poll(interval + SCRAPE_TIMEOUT + 30):
        load.kill()
        raise RuntimeError("load generator did not finish")
    probes = [Probe(**p) for p in conn.recv()]
    load.join(10)

    in_window = [p for p in probes if win_start <= p.started < win_end and p.target not in offline]
    gone = [p for p in probes if win_start <= p.started < win_end and p.target in offline]
    res.offline_outcomes = dict(Counter(p.outcome for p in gone))
    res.offline_p50_ms = _percentile([p.ended - p.started for p in gone], 0.50) * 1000
    res.offline_max_ms = max((p.ended - p.started for p in gone), default=0.0) * 1000
    # The gateway-scrapes the exporter delivered: answered with a page (up or down). A refused, failed
    # or abandoned probe is not one, though an abandoned one may still have cost the exporter its scrape.
    completed = [p for p in probes if win_start <= p.ended < win_end and p.outcome in (UP, DOWN)]  # offline too
    outcomes = Counter(p.outcome for p in in_window)
    latencies = [min(p.ended - p.started, SCRAPE_TIMEOUT) for p in in_window]
    requests = req1 - req0
    res.probes = len(in_window)
    res.outcomes = {o: outcomes.get(o, 0) for o in OUTCOMES}
    res.up_share = outcomes.get(UP, 0) / max(1, len(in_window))
    res.refused_statuses = dict(Counter(str(p.status) for p in in_window if p.outcome == REFUSED))
    res.retried = sum(p.retried for p in in_window)
    res.p50_ms = _percentile(latencies, 0.50) * 1000
    res.p99_ms = _percentile(latencies, 0.99) * 1000
    res.max_ms = max(latencies, default=0.0) * 1000
    res.completed_in_window = len(completed)
    res.cpu_seconds = cpu1 - cpu0
    res.cpu_ms_per_scrape = res.cpu_seconds * 1000 / len(completed) if completed else None
    res.cpu_share_of_one_core = res.cpu_seconds / (win_end - win_start)
    window = win_end - win_start
    # Not judged: a saturated fake-sites or load process would make the exporter look slow.
    res.fake_sites_cpu_share = (helpers1[0] - helpers0[0]) / window
    res.load_cpu_share = (helpers1[1] - helpers0[1]) / window
    wall = time.time() - time.monotonic()
    late = sites.late(win_start + wall, win_end + wall)
    res.fake_sites_late_max_ms = max((behind for _, behind in late), default=0.0) * 1000
    res.fake_sites_late_ticks = len(late)
    res.rss_mb = rss / MB
    res.rss_mb_per_gateway = res.rss_mb / res.gateways
    res.threads_max = max(threads)
    res.gateway_requests_per_probe = sum(requests.values()) / len(completed) if completed else None
    res.gateway_logins_in_window = sum(v for k, v in requests.items() if k.startswith("POST "))
    res.gateway_requests_by_path = dict(sorted(requests.items()))


def _sleep_until(when: float) -> None:
    delay = when - time.monotonic()
    if delay > 0:
        time.sleep(delay)


# ------------------------------------------------------------------------------ report
@dataclass
class Check:
    measure: str
    value: str
    target: str
    ok: bool | None  # None: reported, not judged


def checks(r: Result, threads_by_n: dict[int, int]) -> list[Check]:
    p99_target = 1.5 * r.latency * 1000
    down = ", ".join(f"{o} {r.outcomes.get(o, 0)}" for o in OUTCOMES[1:])
    refused = f" ({', '.join(f'HTTP {k} x{v}' for k, v in r.refused_statuses.items())})" if r.refused_statuses else ""
    smallest = min(threads_by_n)
    bounded: bool | None = None
    if len(threads_by_n) > 1:
        # Bounded: the largest N needs no more threads than the smallest one (a few spare for timing).
        bounded = r.threads_max <= threads_by_n[smallest] + 4
    on_line = f" (the {r.gateways - r.offline} on line)" if r.offline else ""
    offline = ", ".join(f"{k} {v}" for k, v in sorted(r.offline_outcomes.items()))
    answered = f"{r.offline}: {offline}; p50 {r.offline_p50_ms:.0f} ms (max {r.offline_max_ms:.0f})"
    gone = [Check("offline gateways: their probes", answered, "", None)] if r.offline else []
    return [
        Check("probes up" + on_line, f"{r.up_share * 100:.1f} % of {r.probes}", ">= 99 %", r.up_share >= 0.99),
        Check("not up: down, refused, timed out, errors", down + refused, "", None),
        *gone,
        Check("/probe latency p50", f"{r.p50_ms:.0f} ms", "", None),
        Check(
            "/probe latency p99",
            f"{r.p99_ms:.0f} ms (max {r.max_ms:.0f})",
            f"<= {p99_target:.0f} ms" + ("" if r.gateways >= 1000 else " (judged at 1,000)"),
            r.p99_ms <= p99_target if r.gateways >= 1000 else None,
        ),
        Check(
            "CPU per gateway-scrape",
            f"{_num(r.cpu_ms_per_scrape, '.1f', ' ms')} ({r.completed_in_window} pages, "
            f"{r.cpu_share_of_one_core * 100:.0f} % of a core)",
            "<= 10 ms",
            r.cpu_ms_per_scrape is not None and r.cpu_ms_per_scrape <= 10,
        ),
        Check(
            "RSS per gateway (total)",
            f"{r.rss_mb_per_gateway:.3f} MB ({r.rss_mb:.0f} MB)",
            "<= 0.3 MB",
            r.rss_mb_per_gateway <= 0.3,
        ),
        Check("threads (max, sampled each second)", str(r.threads_max), "bounded (not growing with N)", bounded),
        Check(
            "gateway requests per probe",
            f"{_num(r.gateway_requests_per_probe, '.2f')} (logins {r.gateway_logins_in_window})",
            "",
            None,
        ),
    ]


def _num(value: float | None, spec: str, unit: str = "") -> str:
    """``value`` formatted, or "n/a" when nothing was answered to divide by."""
    return "n/a" if value is None else f"{value:{spec}}{unit}"


def _verdict(ok: bool | None) -> str:
    return "" if ok is None else ("ok" if ok else "MISS")


def print_run(r: Result, threads_by_n: dict[int, int]) -> None:
    print(
        f"\n### {r.gateways} gateways: latency {r.latency:g} s, interval {r.interval:g} s, {r.cycles} measured "
        f"cycle(s), max_concurrent_requests {r.max_concurrent_requests or 'default'}, --web.max-requests "
        f"{r.max_requests or 'default'}, exporter {r.exporter_commit}\n"
    )
    print("| measure | value | target | verdict |")
    print("| --- | --- | --- | --- |")
    for c in checks(r, threads_by_n):
        print(f"| {c.measure} | {c.value} | {c.target} | {_verdict(c.ok)} |")
    print(
        f"\nHelpers over the window (not the exporter's): fake sites {r.fake_sites_cpu_share * 100:.0f} % of a core, "
        f"load generator {r.load_cpu_share * 100:.0f} %; the fake sites' event loop was late by up to "
        f"{r.fake_sites_late_max_ms:.0f} ms ({r.fake_sites_late_ticks} ticks {LATE_KEPT_SECONDS * 1000:.0f} ms "
        "late or more)."
    )
    if r.retried:
        print(f"\n{r.retried} probe(s) retried once on a new connection (a reused one was closed by the exporter).")
    print(flush=True)


OVERALL = (
    "| gateways | up | refused | timed out | errors | p50 | p99 | CPU/scrape | RSS/gateway (total) | threads "
    "| gw requests/probe |"
)


def print_overall(results: list[Result]) -> None:
    print("\n## Overall\n")
    print(OVERALL)
    print("|" + " --- |" * (OVERALL.count("|") - 1))
    for r in results:
        o = r.outcomes
        print(
            f"| {r.gateways} | {r.up_share * 100:.1f} % | {o.get(REFUSED, 0)} | {o.get(TIMEOUT, 0)} "
            f"| {o.get(ERROR, 0)} | {r.p50_ms:.0f} ms | {r.p99_ms:.0f} ms | {_num(r.cpu_ms_per_scrape, '.1f', ' ms')} "
            f"| {r.rss_mb_per_gateway:.3f} MB ({r.rss_mb:.0f} MB) | {r.threads_max} "
            f"| {_num(r.gateway_requests_per_probe, '.2f')} |"
        )
    print(flush=True)


# ------------------------------------------------------------------------------ main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gateways", type=int, nargs="+", help="fleet sizes, each in fresh processes (100 300 1000)")
    p.add_argument("--latency", type=float, default=0.3, help="seconds each fake site waits before answering")
    p.add_argument("--interval", type=float, help="seconds between two probes of one target (30)")
    p.add_argument("--cycles", type=int, help="measured cycles after the warm-up (2)")
    p.add_argument("--warmup", type=int, default=1, help="warm-up cycles, not measured (1)")
    p.add_argument("--exporter-repo", default=str(REPO), help="checkout whose exporter is measured (this one)")
    p.add_argument("--exporter-python", help="interpreter for it (default: <repo>/.venv/bin/python)")
    p.add_argument("--max-concurrent-requests", type=int, help="exporter setting (default: the exporter's)")
    p.add_argument("--max-requests", type=int, help="the exporter's --web.max-requests (default: the exporter's)")
    p.add_argument(
        "--min-interval-seconds",
        type=float,
        help="each gateway's min_interval_seconds (default: the exporter's, 5 s; quick: 1 s, below its interval)",
    )
    p.add_argument(
        "--per-target-connections",
        action="store_true",
        help="one keep-alive connection per target instead of a shared pool of idle ones (Prometheus' way)",
    )
    p.add_argument(
        "--offline",
        type=float,
        default=0.0,
        help="share of the gateways off the network: TCP accepted, TLS never answered (0)",
    )
    p.add_argument(
        "--offline-at",
        type=float,
        help="the --offline share drops off the network at once after this many cycles (at most --warmup; "
        "default: off the network from the start)",
    )
    p.add_argument("--out", help="write the results as JSON to this file")
    p.add_argument("--quick", action="store_true", help="smoke run: 5 gateways, 3 s interval, 1 + 1 cycles")
    args = p.parse_args(argv)
    args.gateways = args.gateways or ([5] if args.quick else [100, 300, 1000])
    args.interval = args.interval or (3.0 if args.quick else 30.0)
    args.cycles = args.cycles or (1 if args.quick else 2)
    if args.offline_at is not None and not 0 <= args.offline_at <= args.warmup:
        p.error("--offline-at must be between 0 and --warmup")
    if args.min_interval_seconds is None and args.quick:
        # Else the quick run's 3 s interval would be served from the exporter's 5 s answer cache.
        args.min_interval_seconds = 1.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _raise_nofile()
    if not (Path(args.exporter_repo) / "exporter").is_dir():
        raise SystemExit(f"{args.exporter_repo}: no exporter package there")
    print(
        f"powerwall-exporter fleet benchmark: {', '.join(map(str, args.gateways))} gateways, site latency "
        f"{args.latency:g} s, one /probe per target every {args.interval:g} s, scrape timeout {SCRAPE_TIMEOUT:g} s",
        flush=True,
    )
    results: list[Result] = []
    threads_by_n: dict[int, int] = {}
    for n in args.gateways:
        r = run_one(n, args)
        results.append(r)
        threads_by_n[n] = r.threads_max
        print_run(r, threads_by_n)
    print_overall(results)
    write_results(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
