"""Device flood: the size of ``/metrics`` and the exporter's peak memory when a gateway lists N packs.

Why: issue 17 found a components answer listing 20,000 battery packs exported whole (60,000 pod
series, a 15 MB ``/metrics``, about 300 MiB peak). With the device bound
(:mod:`exporter.devices.bounds`) the exposition must stay under 2 MB and the drop be counted. This
measures it the way Prometheus sees it:

    python bench/bench_device_flood.py            # 20,000 packs
    python bench/bench_device_flood.py --packs 1  # the same site without the flood, for comparison

Set-up: the simulated Powerwall 3 site (``SiteModel.pw3()``, leader + follower) runs in its own
process, so its work and memory never count as ours; every ComponentsQuery answer lists ``--packs``
packs (the ``tedapi_extra_json`` fault; the smallest pack that is one, so 20,000 fit in the
transport's 4 MiB bound). The exporter runs as ``python -m exporter`` and is scraped over HTTP three
times; peak memory is the exporter process's ``VmHWM`` (peak resident set) after each scrape.
"""

from __future__ import annotations

import argparse
import multiprocessing
import multiprocessing.connection
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

GATEWAY_PASSWORD = "ABCDEFGHIJ-gateway-secret"
LIMIT_BYTES = 2_000_000


def _sim_main(conn: multiprocessing.connection.Connection, packs: int, pem: bytes) -> None:
    """Child process: the flooded Powerwall 3 site, until the parent says stop."""
    from exporter.simulator import SimulatedGateway, SiteModel
    from tests.simtime import SIM_START
    from tests.sources.tedapi.answers import many_packs
    from tests.support.wiring import SIM_PASSWORD

    model = SiteModel.pw3(start_time=SIM_START)
    gw = SimulatedGateway(password=SIM_PASSWORD, model=model, gateway_password=GATEWAY_PASSWORD, tedapi_keys=[pem])
    gw.faults.set("tedapi_extra_json", many_packs(packs), kinds={"query:ComponentsQuery"})
    gw.start()
    conn.send({"url": gw.url, "cert": gw.cert_pem})
    conn.recv()
    gw.stop()


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM line")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--packs", type=int, default=20_000, help="packs per ComponentsQuery answer")
    parser.add_argument("--scrapes", type=int, default=3)
    args = parser.parse_args(argv)

    from exporter.simulator import write_query_file
    from tests.support.exporter import start_exporter
    from tests.support.wiring import SIM_PASSWORD

    tmp = Path(tempfile.mkdtemp(prefix="device-flood-"))
    pem = write_query_file(tmp / "queries.json")
    (tmp / "key.pem").write_bytes(pem)
    ctx = multiprocessing.get_context("spawn")
    conn, child = ctx.Pipe()
    sim = ctx.Process(target=_sim_main, args=(child, args.packs, pem), daemon=True)
    sim.start()
    info = conn.recv()
    (tmp / "gateway.pem").write_bytes(info["cert"])
    gateway = {
        "name": "flood",
        "address": info["url"],
        "password": SIM_PASSWORD,
        "tls": {"ca_file": str(tmp / "gateway.pem"), "server_name": "powerwall"},
        "timeout_seconds": 120,
        "tedapi": {
            "gateway_password": GATEWAY_PASSWORD,
            "queries_file": str(tmp / "queries.json"),
            "query_public_key_file": str(tmp / "key.pem"),
        },
    }
    exp = start_exporter({"gateways": [gateway], "state_file": ""}, tmp)
    try:
        print(f"{args.packs} packs per ComponentsQuery answer (leader and follower)")
        for n in range(args.scrapes):
            start = time.monotonic()
            status, body = exp.get("/metrics", 300)
            took = time.monotonic() - start
            lines = body.decode().splitlines()
            hvp = sum(1 for line in lines if line.startswith("powerwall_device_info{") and 'device="HVP"' in line)
            dropped = [line.split("{", 1)[1] for line in lines if line.startswith("powerwall_devices_dropped_total")]
            verdict = "ok" if len(body) < LIMIT_BYTES else "MISS"
            peak = _peak_rss_kib(exp.proc.pid) / 1024
            print(
                f"scrape {n + 1}: HTTP {status}, /metrics {len(body):,} bytes ({verdict}: < {LIMIT_BYTES:,}), "
                f"{hvp} HVP device_info series, {took:.1f} s, exporter peak RSS {peak:.0f} MiB"
            )
            print(f"  powerwall_devices_dropped_total: {', '.join(dropped)}")
            time.sleep(1.0)
    finally:
        log = exp.stop()
        conn.send("stop")
        sim.join(10)
    warned = [line for line in log.splitlines() if "exporter.devices.bounds" in line]
    print(f"log lines about the bound: {len(warned)}")
    for line in warned:
        print("  " + line[:300])
    return 0


if __name__ == "__main__":
    sys.exit(main())
