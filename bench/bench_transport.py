"""Transport overhead: CPU of ``GatewayTransport.fetch`` per request, and where it goes.

Why: issue 9 asks that the source-neutral transport costs no more than the old client (about 0.5 ms
of CPU per HTTPS request, 11 requests per scrape of the typical site) and what halving it would take.
This fetches every request of the registry (``ALL_REQUESTS``: what one scrape of the typical
simulated site sends) one after another in this thread, with a fresh answer each time
(``min_interval_seconds: 0``), from a simulated gateway in another process with no delay, so
``time.process_time()`` counts only our side: TLS record I/O, our HTTP/1.1 client
(``exporter/gateway/wire.py``) and the rest of our transport (the http.client, urllib3 and requests
layers stay in the split for comparison with older commits, which used them). Decoding and mapping
are not included (see ``bench_scrape.py`` (d)).
Then one profiled round shows the split by layer and the top cumulative entries.

    python bench/bench_transport.py            # 300 rounds of 11 requests
    python bench/bench_transport.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench_scrape import Sim

from exporter.gateway.outcomes import Fetched
from exporter.gateway.transport import GatewayTransport
from exporter.sources.registry import ALL_REQUESTS, ALLOW_LIST

BASELINE_MS = 0.5  # issue 9: about 0.5 ms of CPU per request before the restructure
SCRAPE_BASELINE_MS, SCRAPE_GOAL_MS = 10.0, 5.0  # issue 9: CPU per scrape before, and the goal

# Which layer a function belongs to, by the file it is defined in (first match wins).
LAYERS = (
    ("TLS record I/O (ssl, socket)", ("/ssl.py", "/socket.py", "{method 'read' of '_ssl", "_ssl._SSLSocket")),
    ("HTTP/1.1 client (gateway/wire, framing)", ("/exporter/gateway/wire.py", "/exporter/gateway/framing.py")),
    ("http.client + email header parsing", ("/http/client.py", "/email/")),
    ("urllib3", ("/urllib3/",)),
    ("requests (adapter, models)", ("/requests/",)),
    ("our transport (exporter/gateway)", ("/exporter/gateway/",)),
    ("threading / futures / locks", ("/threading.py", "/concurrent/", "_thread.")),
)


def _round(client: GatewayTransport) -> None:
    for request in ALL_REQUESTS:
        r = client.fetch(request, time.monotonic() + 30)
        if not isinstance(r, Fetched):
            raise RuntimeError(f"{request.label}: {r}")


Func = tuple[str, int, str]  # pstats' key: (file, line, name)


def _own_layer(func: Func) -> str | None:
    where = f"{func[0]} {func[2]}"
    for layer, marks in LAYERS:
        if any(m in where for m in marks):
            return layer
    return None


def split(stats: pstats.Stats) -> dict[str, float]:
    """Self time (tottime) per layer, in seconds; the layers add up to the whole.

    A function outside every layer (a builtin such as ``str.lower``, ``urllib.parse``, ``queue``)
    counts for the layer of the caller that spent the most time in it, recursively.
    """
    table = stats.stats  # type: ignore[attr-defined]
    memo: dict[Func, str] = {}

    def layer_of(func: Func, seen: frozenset[Func] = frozenset()) -> str:
        if func in memo:
            return memo[func]
        own = _own_layer(func)
        if own is None:
            callers = {c: v for c, v in table[func][4].items() if c not in seen and c in table}
            top = max(callers, key=lambda c: callers[c][2], default=None)
            own = "other (stdlib outside these layers)" if top is None else layer_of(top, seen | {func})
        memo[func] = own
        return own

    out: dict[str, float] = defaultdict(float)
    for func, row in table.items():
        out[layer_of(func)] += row[2]
    return dict(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a few rounds: a smoke run")
    p.add_argument("--rounds", type=int, help="timed rounds of every request (default 300; quick 10)")
    p.add_argument("--top", type=int, default=15, help="cumulative profile entries to print")
    args = p.parse_args(argv)
    rounds = args.rounds or (10 if args.quick else 300)
    n = len(ALL_REQUESTS)
    with tempfile.TemporaryDirectory(prefix="pwbench-") as tmp:
        sim = Sim(powerwalls=2, delay=0.0, workdir=Path(tmp))
        client = GatewayTransport(sim.gateway_config(), ALLOW_LIST)
        try:
            for _ in range(5):
                _round(client)  # login, keep-alive connections, prepared requests
            start_cpu, start_wall = time.process_time(), time.perf_counter()
            for _ in range(rounds):
                _round(client)
            cpu = (time.process_time() - start_cpu) / (rounds * n)
            wall = (time.perf_counter() - start_wall) / (rounds * n)
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(max(1, rounds // 10)):
                _round(client)
            profile.disable()
        finally:
            client.close()
            sim.stop()
    print(f"transport: {n} requests per round (ALL_REQUESTS), {rounds} rounds, simulator in another process")
    print(f"  CPU per request: {cpu * 1000:.3f} ms ({cpu * 1000 / BASELINE_MS:.2f}x the ~{BASELINE_MS} ms baseline)")
    print(f"  CPU per round of {n}: {cpu * n * 1000:.2f} ms; wall per request {wall * 1000:.3f} ms")
    print(f"  (scrape baseline {SCRAPE_BASELINE_MS:g} ms, goal {SCRAPE_GOAL_MS:g} ms: see bench_scrape.py (d))")
    stats = pstats.Stats(profile)
    layers = split(stats)
    total = sum(layers.values())
    print("split of the profiled rounds by layer (self time, builtins counted for their caller):")
    for layer, seconds in sorted(layers.items(), key=lambda kv: -kv[1]):
        print(f"  {layer:<40} {seconds / total * 100:5.1f} %")
    print(f"top {args.top} cumulative entries (one profile of {max(1, rounds // 10)} rounds):")
    stats.sort_stats("cumulative").print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
