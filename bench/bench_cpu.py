"""CPU per scrape of the three simulated sites, cold and warm, for one or more checkouts in one run.

Why: the restructuring issue judges the exporter by four figures (the typical site cold and warm,
the Powerwall 3 and the Powerwall 2 on TEDAPI cold), before and after, measured on the same machine
in the same run. Other benchmarks give them one at a time, each in its own run, and this machine's
figures move by up to 2x between runs. Here every figure is measured for every checkout in turns
(before, after, before, after, ...), and the medians of the turns are compared, so load that comes
and goes weighs on both sides alike.

    python bench/bench_cpu.py                                   # this checkout, 3 turns
    python bench/bench_cpu.py --exporter-repo /tmp/before .    # before and after, side by side
    python bench/bench_cpu.py --quick                           # smoke run (tests/test_bench_smoke.py)

Each turn runs one child process per checkout (``<repo>/.venv/bin/python``, so it imports that
checkout's ``exporter``) with its own simulators in processes of their own (their TLS and model work
is not counted). In the child, a figure is ``time.process_time()`` (every thread of the child) around
``PowerwallCollector.scrape()`` plus rendering the page as ``/probe`` serves it, median over
``--runs`` scrapes after a warm-up:

* **typical, cold**: the bench_scrape site (two Powerwalls with vitals, Powerwall+ strings), every
  endpoint fetched on every scrape (``min_interval_seconds: 0``);
* **typical, warm**: the same site with ``min_interval_seconds: 3600``: every answer is reused, so a
  scrape is the exporter's own work on decoded answers (what a second Prometheus costs);
* **PW3, cold** and **PW2-TEDAPI, cold**: the bench_tedapi sites, JSON API at interval 0 and the
  TEDAPI answers dropped before each scrape (``GatewayTransport.forget_answers()``, outside the
  timed region), as bench_tedapi's "cold" does.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
TARGETS_MS = {"typical cold": 5.0, "typical warm": 2.0, "PW3 cold": None, "PW2-TEDAPI cold": None}


# ---------------------------------------------------------------------------------- child
def _median_cpu(scrape: Callable[[], object], runs: int, before: Callable[[], object] = lambda: None) -> float:
    times = []
    for _ in range(runs):
        before()
        t0 = time.process_time()
        scrape()
        times.append(time.process_time() - t0)
    return statistics.median(times) * 1000


def child(runs: int) -> dict[str, float]:
    """Every figure of this checkout, in ms (imports this checkout's exporter: run in its venv)."""
    sys.path.insert(0, str(BENCH))
    from bench_scrape import Sim, _scrape_once
    from bench_tedapi import PROFILES, TedapiSim, _scrape

    from exporter.config import Config
    from exporter.scrape.collector import PowerwallCollector
    from exporter.simulator import write_query_file

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="pwbench-cpu-") as tmp:
        workdir = Path(tmp)
        sim = Sim(powerwalls=2, delay=0.0, workdir=workdir)
        try:
            for label, interval in (("typical cold", 0.0), ("typical warm", 3600.0)):
                collector = PowerwallCollector(
                    Config(gateways=(sim.gateway_config(min_interval=interval),), state_file=None)
                )
                try:
                    for _ in range(10):
                        _scrape_once(collector, label)
                    out[label] = _median_cpu(partial(_scrape_once, collector, label), runs)
                finally:
                    collector.close()
        finally:
            sim.stop()
        queries, key = workdir / "queries.json", workdir / "query-key.pem"
        key.write_bytes(write_query_file(queries))
        for label, profile in PROFILES.items():
            tsim = TedapiSim(label, profile, workdir, queries, key)
            try:
                collector = PowerwallCollector(Config(gateways=(tsim.gateway_config("cpu"),), state_file=None))
                transport = collector.scrapers["cpu"].transport
                try:
                    for _ in range(5):
                        transport.forget_answers()
                        _scrape(collector, label)
                    out[f"{label} cold"] = _median_cpu(
                        partial(_scrape, collector, label), runs, transport.forget_answers
                    )
                finally:
                    collector.close()
            finally:
                tsim.stop()
    return out


# ---------------------------------------------------------------------------------- parent
def _commit(repo: Path) -> str:
    done = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or "?"


def _turn(repo: Path, runs: int) -> dict[str, float]:
    python = repo / ".venv" / "bin" / "python"
    done = subprocess.run(
        [str(python if python.exists() else sys.executable), str(Path(__file__).resolve()), "--child", str(runs)],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHONPATH": ""},
    )
    if done.returncode != 0:
        raise RuntimeError(f"{repo}: the measuring child failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exporter-repo", nargs="+", default=[str(REPO)], help="checkouts to measure, in order")
    p.add_argument("--turns", type=int, help="turns per checkout (default 3; quick 1)")
    p.add_argument("--runs", type=int, help="timed scrapes per figure and turn (default 200; quick 10)")
    p.add_argument("--quick", action="store_true", help="one turn of 10 scrapes: a smoke run")
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    warnings.simplefilter("ignore")
    if args.child is not None:
        print(json.dumps(child(args.child)))
        return 0
    turns = args.turns or (1 if args.quick else 3)
    runs = args.runs or (10 if args.quick else 200)
    repos = [Path(r).resolve() for r in args.exporter_repo]
    names = [f"{_commit(r)} ({r})" for r in repos]
    print(f"CPU per scrape: {turns} turn(s) of {runs} scrapes per figure, checkouts in turns: {', '.join(names)}")
    got: dict[Path, list[dict[str, float]]] = {r: [] for r in repos}
    for turn in range(turns):
        for repo, name in zip(repos, names, strict=True):
            got[repo].append(_turn(repo, runs))
            figures = ", ".join(f"{k} {v:.2f}" for k, v in got[repo][-1].items())
            print(f"  turn {turn + 1}, {name}: {figures} ms", flush=True)
    first = repos[0]
    header = "| figure | target | " + " | ".join(f"{_commit(r)} median (min-max)" for r in repos)
    header += " | ratio to the first |" if len(repos) > 1 else " |"
    print()
    print(header)
    print("| --- " * (header.count("|") - 1) + "|")
    for figure, target in TARGETS_MS.items():
        cells = []
        medians = []
        for repo in repos:
            values = [t[figure] for t in got[repo]]
            medians.append(statistics.median(values))
            cells.append(f"{medians[-1]:.2f} ms ({min(values):.2f}-{max(values):.2f})")
        row = f"| {figure} | {'<= ' + format(target, 'g') + ' ms' if target else '-'} | " + " | ".join(cells)
        if len(repos) > 1:
            row += " | " + ", ".join(f"{m / medians[0]:.2f}x" for m in medians[1:])
        print(row + " |")
    print(f"\nfirst checkout: {first}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
