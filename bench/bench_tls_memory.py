"""Memory of one idle TLS connection to a gateway, as the exporter's client context holds it.

Why: between two probes a gateway keeps about nine idle keep-alive connections in the exporter
(a probe's requests run side by side), and at 1,000 gateways they are most of a replica's memory,
outside Python's heap where ``tracemalloc`` does not see them. This measures them alone: N
connections from this process, with the context the exporter builds for a pinned CA file
(:func:`exporter.gateway.tls.build_ssl_context`), to a local TLS server in a process of its own,
RSS before and after. Each connection does what every exporter connection has done once it is
idle: the handshake, a first read (which is when a TLS 1.3 client takes the server's session
tickets in), then a write and a second read.

The second exchange matters: after the read that took tickets in, OpenSSL 3.0 keeps its 16 KB read
buffer until the connection's next write, so a connection measured after one read looked 8 KB
bigger with tickets than without (29.5 against 21.3 KB), which an earlier version of this script
reported and the exporter's own connections never hold.

    python bench/bench_tls_memory.py             # 2,000 connections per variant
    python bench/bench_tls_memory.py --quick     # 50 (the smoke test runs it)

Variants: TLS 1.3 with the server sending 2 session tickets (OpenSSL's default), 1 (Go's default)
and none; and TLS 1.2. Which TLS server the gateway runs, and whether it sends tickets, is not
known. The exporter negotiates the highest version the gateway offers; the other variants say what
each part of the connection costs.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import multiprocessing.connection
import resource
import socket
import ssl
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exporter.config import TLSConfig
from exporter.gateway.tls import build_ssl_context
from exporter.simulator.certs import generate_certificate

SERVER_NAME = "powerwall"


@dataclass(frozen=True)
class Variant:
    name: str
    tickets: int  # session tickets the server sends after a TLS 1.3 handshake
    tls12: bool = False


VARIANTS = (
    Variant("TLS 1.3, 2 session tickets (OpenSSL server default)", 2),
    Variant("TLS 1.3, 1 session ticket (Go's server default)", 1),
    Variant("TLS 1.3, no session ticket", 0),
    Variant("TLS 1.2", 0, tls12=True),
)


def _raise_nofile() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _serve(cert: str, key: str, tickets: int, conn: multiprocessing.connection.Connection) -> None:
    """A TLS server on 127.0.0.1 that sends one byte on every connection, then one for each byte it
    reads, and keeps the connection open."""
    _raise_nofile()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.num_tickets = tickets

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"!")
        await writer.drain()
        while await reader.read(1):
            writer.write(b"!")
            await writer.drain()
        writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx, backlog=4096)
        conn.send(server.sockets[0].getsockname()[1])
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # until told to stop

    asyncio.run(main())


def measure(variant: Variant, n: int, workdir: Path) -> tuple[float, float, str]:
    """KB of RSS and ms of CPU per connection, and the TLS version negotiated, measured in a fresh
    process: memory an earlier variant freed would otherwise be reused and hide the next one's."""
    spawn = multiprocessing.get_context("spawn")
    parent, child = spawn.Pipe()
    client = spawn.Process(target=_client, args=(variant, n, workdir, child))
    client.start()
    try:
        result: tuple[float, float, str] = parent.recv()
        return result
    finally:
        client.join(60)
        if client.is_alive():
            client.kill()


def _client(variant: Variant, n: int, workdir: Path, out: multiprocessing.connection.Connection) -> None:
    _raise_nofile()
    out.send(_connect_many(variant, n, workdir))


def _connect_many(variant: Variant, n: int, workdir: Path) -> tuple[float, float, str]:
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(
        target=_serve, args=(str(workdir / "cert.pem"), str(workdir / "key.pem"), variant.tickets, child)
    )
    server.start()
    try:
        port = parent.recv()
        ctx = build_ssl_context(TLSConfig(ca_file=workdir / "cert.pem", server_name=SERVER_NAME))
        if variant.tls12:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2

        def connect() -> ssl.SSLSocket:
            tls = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname=SERVER_NAME)
            for ask in (b"", b"?"):  # the first answer comes unasked, with the tickets; then one exchange
                tls.sendall(ask)
                if tls.recv(1) != b"!":
                    raise RuntimeError("the test server sent something else")
            return tls

        held = [connect()]  # the context's one-off allocations happen before the baseline
        before, cpu = _rss_bytes(), time.process_time()
        held += [connect() for _ in range(n)]
        cpu, after = time.process_time() - cpu, _rss_bytes()
        version = held[-1].version() or "?"
        for tls in held:
            tls.close()
        return (after - before) / n / 1024, cpu / n * 1000, version
    finally:
        parent.send("stop")
        server.join(10)
        if server.is_alive():
            server.kill()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--connections", type=int, default=2000, help="idle connections per variant (2000)")
    p.add_argument("--quick", action="store_true", help="smoke run: 50 connections per variant")
    args = p.parse_args()
    n = 50 if args.quick else args.connections
    _raise_nofile()
    bundle = generate_certificate()
    print(
        f"idle TLS connections, {n} per variant, the exporter's client context (pinned CA file), Python "
        f"{sys.version.split()[0]}, {ssl.OPENSSL_VERSION}\n"
    )
    print("| variant | negotiated | RSS per connection | client CPU per connection (handshake, two reads) |")
    print("| --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory(prefix="pwbench-tls-") as tmp:
        workdir = Path(tmp)
        (workdir / "cert.pem").write_bytes(bundle.cert_pem)
        (workdir / "key.pem").write_bytes(bundle.key_pem)
        for variant in VARIANTS:
            kb, ms, version = measure(variant, n, workdir)
            print(f"| {variant.name} | {version} | {kb:.1f} KB | {ms:.2f} ms |")


if __name__ == "__main__":
    main()
