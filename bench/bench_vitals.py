"""Time vitals decode + flatten per scrape, on the real capture and on a synthetic 12-Powerwall site.

Why: ``/api/devices/vitals`` is the largest body the exporter parses, and a scrape runs it on every
request; the budget is well under 30 ms CPU for a 12-Powerwall site. The synthetic site replicates
the capture's TETHC/TEPOD/TEPINV trio twelve times with distinct serials, plus the gateway, TESYNC,
meters, NEURIO and the PVAC/PVS, so the numbers reflect real vital names and value types.

Run: ``/tmp/venv/bin/python bench/bench_vitals.py [--runs N] [--capture PATH]`` (not part of pytest).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric

from exporter.devices.flatten import flatten_devices
from exporter.devices.resolve import resolve
from exporter.metrics.metricset import MetricSet
from exporter.proto import vitals_pb2
from exporter.sources.vitals.decode import decode_vitals

VITALS = "/api/devices/vitals"  # the endpoint label of the generic-name budget

_pb2: Any = vitals_pb2  # generated module without stubs

DEFAULT_CAPTURE = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "vitals" / "pwsim-vitals.pb"
POWERWALL_TYPES = ("TETHC", "TEPOD", "TEPINV")


def _set_identity(entry: Any, din: str, serial: str, parent: str | None) -> None:
    dev = entry.device.device
    dev.din.value = din
    dev.serialNumber.value = serial
    if parent is not None:
        dev.componentParentDin.value = parent


def synthetic_site(capture: bytes, powerwalls: int) -> bytes:
    """A body with ``powerwalls`` TETHC/TEPOD/TEPINV trios cloned from the capture's first trio."""
    src = _pb2.DevicesWithVitals.FromString(capture)
    by_type: dict[str, list[Any]] = {}
    for entry in src.devices:
        by_type.setdefault(entry.device.device.din.value.split("--")[0], []).append(entry)
    out = _pb2.DevicesWithVitals()
    for entry in src.devices:  # everything that is not part of a Powerwall, once
        if entry.device.device.din.value.split("--")[0] not in POWERWALL_TYPES:
            out.devices.add().CopyFrom(entry)
    for i in range(powerwalls):
        serial = f"TG{i:012d}"
        thc_din = ""
        for kind in POWERWALL_TYPES:
            template = by_type[kind][0]
            part = template.device.device.partNumber.value
            din = f"{kind}--{part}--{serial}"
            clone = out.devices.add()
            clone.CopyFrom(template)
            _set_identity(clone, din, serial, thc_din or None)
            if kind == "TETHC":
                thc_din = din
    data: bytes = out.SerializeToString()
    return data


class _Collector:
    def __init__(self, ms: MetricSet) -> None:
        self.ms = ms

    def collect(self) -> Any:
        return self.ms.families()

    def describe(self) -> list[Metric]:
        return []


def _scrape(payload: bytes) -> MetricSet:
    ms = MetricSet(base_labels={"gateway": "home"})
    flatten_devices(decode_vitals(payload), ms, VITALS)
    return ms


def _render(ms: MetricSet) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(ms))
    return generate_latest(registry)


def _scrape_and_render(payload: bytes) -> bytes:
    return _render(_scrape(payload))


def _time(fn: Callable[[], object], runs: int) -> tuple[list[float], float]:
    """Wall times in ms per call, and the mean CPU time in ms per call."""
    walls: list[float] = []
    cpu0 = time.process_time()
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        walls.append((time.perf_counter() - t0) * 1000)
    return walls, (time.process_time() - cpu0) * 1000 / runs


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 20 else max(values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=300, help="timed scrapes per case (default 300)")
    parser.add_argument("--powerwalls", type=int, default=12, help="Powerwalls in the synthetic site")
    parser.add_argument("--capture", type=Path, default=DEFAULT_CAPTURE, help="real vitals capture (.pb)")
    args = parser.parse_args(argv)
    if not args.capture.is_file():
        print(f"capture not found: {args.capture}", file=sys.stderr)
        return 2
    capture = args.capture.read_bytes()
    cases = {
        "real capture": capture,
        f"synthetic {args.powerwalls} PW": synthetic_site(capture, args.powerwalls),
    }

    header = (
        f"{'case':<18} {'bytes':>7} {'devices':>7} {'series':>6} {'cold ms':>8} "
        f"{'decode+flatten median':>21} {'p95':>6} {'cpu':>6} {'+render median':>14} {'p95':>6}"
    )
    print(header)
    print("-" * len(header))
    for name, payload in cases.items():
        resolve.cache_clear()
        t0 = time.perf_counter()
        ms = _scrape(payload)
        cold = (time.perf_counter() - t0) * 1000
        devices = len(decode_vitals(payload))
        walls, cpu = _time(partial(_scrape, payload), args.runs)
        render_walls, _ = _time(partial(_scrape_and_render, payload), args.runs)
        print(
            f"{name:<18} {len(payload):>7} {devices:>7} {len(ms):>6} {cold:>8.2f} "
            f"{statistics.median(walls):>21.2f} {_p95(walls):>6.2f} {cpu:>6.2f} "
            f"{statistics.median(render_walls):>14.2f} {_p95(render_walls):>6.2f}"
        )
    print(f"\n{args.runs} runs per case; times in ms per scrape; 'cold' = first scrape with an empty name cache;")
    print("'cpu' = mean process CPU time of decode+flatten; '+render' adds the text exposition.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
