"""TEDAPI memory benchmark: peak RSS of the exporter with 1, 2 and 8 concurrent scrapers of a huge answer.

Why: the 4 MiB body cap bounds the bytes of an answer, not what decoding makes of them. A 3.9 MB
DeviceControllerQuery answer is about 13 MB of Python objects once its JSON is parsed and as much
again as devices and series; when every scrape decoded the (shared, reused) answer on its own, the
exporter's peak grew with every concurrent scraper. Issue 17 asks that two and eight concurrent
scrapers stay under 200 MiB, and eight within 1.2x of one.

    python bench/bench_tedapi_memory.py             # about 2 minutes
    python bench/bench_tedapi_memory.py --quick     # smoke run: a small answer, 2 rounds

Set-up: the simulated Powerwall 2 site on firmware 25.10 (``SiteModel.pw2_tedapi``) with
``--powerwalls`` units (default 800: a DeviceControllerQuery answer of about 3.9 MB, under the
4 MiB cap) runs in its own process. For each scraper count a **fresh** ``python -m exporter``
subprocess (one gateway, TEDAPI at its default 30 s interval, the JSON API at its 5 s) is scraped
through ``/probe`` by that many threads at once, ``--rounds`` times (a barrier starts each round
together): the first round fetches every answer, the later ones share the reused TEDAPI answers, as
concurrent Prometheus servers do. The figure is the subprocess's ``VmHWM`` (peak resident set) from
``/proc/<pid>/status`` after the last round. Every scrape must report the controller query as a
success, so a failing (cheaper) scrape cannot pass for a small peak.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

from bench_scrape import ExporterProcess, Report
from bench_tedapi import TedapiSim, fetch_answers

from exporter.simulator import write_query_file

MIB = 1024 * 1024
ABSOLUTE_TARGET_MIB = 200.0  # issue 17: two and eight concurrent scrapers
RATIO_TARGET = 1.2  # issue 17: eight scrapers' peak vs one scraper's
SCRAPERS = (1, 2, 8)
GATEWAY = "mem"
OK_LINE = b'powerwall_scrape_endpoint_success{gateway="mem",endpoint="tedapi:DeviceControllerQuery"} 1.0'


def _round(exp: ExporterProcess, n: int) -> float:
    """``n`` scrapes started together; the slowest one's seconds. Raises when any of them failed."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []
    took: list[float] = []

    def scrape() -> None:
        barrier.wait()
        try:
            seconds, body = exp.get(f"/probe?target={GATEWAY}")
            if OK_LINE not in body:
                raise RuntimeError("the DeviceControllerQuery did not succeed in this scrape")
            took.append(seconds)
        except BaseException as exc:  # reported below; the benchmark must not hang
            errors.append(exc)

    threads = [threading.Thread(target=scrape) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"a scraper failed: {errors[0]!r}")
    return max(took)


def bench_memory(sim: TedapiSim, workdir: Path, rounds: int, report: Report) -> None:
    sec = f"peak RSS of the exporter, {rounds} rounds of concurrent /probe scrapes (fresh process per count)"
    peaks: dict[int, float] = {}
    for n in SCRAPERS:
        exp = ExporterProcess(workdir, [sim.gateway(GATEWAY, None)])
        try:
            baseline = exp.rss()[0] / MIB
            slowest = max(_round(exp, n) for _ in range(rounds))
            rss, hwm = (v / MIB for v in exp.rss())
        finally:
            exp.stop()
        peaks[n] = hwm
        absolute = n > 1
        report.add(
            sec,
            f"{n} scraper(s): peak RSS (VmHWM)",
            f"{hwm:.0f} MiB",
            f"< {ABSOLUTE_TARGET_MIB:.0f} MiB" if absolute else "",
            hwm < ABSOLUTE_TARGET_MIB if absolute else None,
        )
        report.add(
            sec, f"{n} scraper(s): RSS before the first scrape / after the last", f"{baseline:.0f} / {rss:.0f} MiB"
        )
        report.add(sec, f"{n} scraper(s): slowest scrape", f"{slowest:.2f} s")
    for n in SCRAPERS[1:]:
        ratio = peaks[n] / peaks[1]
        target = f"<= {RATIO_TARGET}x" if n == 8 else ""
        report.add(
            sec,
            f"peak RSS, {n} scrapers / 1 scraper",
            f"{ratio:.2f}x",
            target,
            ratio <= RATIO_TARGET if target else None,
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="50 Powerwalls, 2 rounds: a smoke run")
    p.add_argument("--powerwalls", type=int, help="Powerwalls of the simulated site (default 800: ~3.9 MB)")
    p.add_argument("--rounds", type=int, help="concurrent scrape rounds per scraper count (default 6)")
    args = p.parse_args(argv)
    powerwalls = args.powerwalls or (50 if args.quick else 800)
    rounds = args.rounds or (2 if args.quick else 6)
    warnings.simplefilter("ignore")
    report = Report()
    print(f"powerwall-exporter TEDAPI memory benchmark: {powerwalls} Powerwalls, {rounds} rounds per scraper count")
    with tempfile.TemporaryDirectory(prefix="pwbench-tedapi-mem-") as tmp:
        workdir = Path(tmp)
        queries, key = workdir / "queries.json", workdir / "query-key.pem"
        key.write_bytes(write_query_file(queries))
        sim = TedapiSim("PW2-TEDAPI", "pw2_tedapi", workdir, queries, key, {"powerwalls": powerwalls})
        try:
            _, answers = fetch_answers(sim)
            size = next(len(a.fetched.body) for a in answers if a.kind == "query:DeviceControllerQuery")
            report.add("the answer", "DeviceControllerQuery answer", f"{size / 1e6:.2f} MB ({size / MIB:.2f} MiB)")
            del answers
            started = time.monotonic()
            bench_memory(sim, workdir, rounds, report)
            report.notes.append(f"measured in {time.monotonic() - started:.0f} s")
        finally:
            sim.stop()
    report.print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
