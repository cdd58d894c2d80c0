"""Generate the metric reference (docs/metrics.md) from real scrapes, so it cannot drift from the code.

It has its own page so the README reads in one sitting. ``python -m tests.metrics_doc --write``
rewrites the table between the page's markers;
``tests/test_readme_metrics.py`` fails when the committed table differs from what this produces.
Sources: the simulated site (vitals, and again without vitals so /api/solar_powerwall is mapped),
and both real JSON captures plus the real vitals capture.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

from exporter.config import parse_config
from exporter.metrics.metricset import Kind, MetricSet
from exporter.scrape.collector import PowerwallCollector
from exporter.simulator import SimulatedGateway, SiteModel
from tests.simtime import SIM_START

METRICS_DOC = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"
FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
START, END = "<!-- metrics:start -->", "<!-- metrics:end -->"
PASSWORD = "doc-password"
DOC_TARIFF = {
    "currency": "USD",
    "import_price_per_kwh": 0.30,
    "export_price_per_kwh": 0.08,
    "periods": [{"name": "peak", "start": "16:00", "end": "21:00", "import_price_per_kwh": 0.45}],
}


@dataclass
class Row:
    kind: str
    help: str
    labels: set[str] = field(default_factory=set)


def _scrape(gw: SimulatedGateway) -> MetricSet:
    config = parse_config(
        {
            "gateways": [
                {
                    "name": "doc",
                    "address": gw.url,
                    "password": PASSWORD,
                    "tls": {"ca_file": str(gw.cert_path)},
                    # So the optional energy-accounting series (README "Energy flows, cost, outages") are listed.
                    "tariff": DOC_TARIFF,
                    "battery_commission_date": "2021-03-15",
                }
            ],
            "state_file": "",
        }
    )
    collector = PowerwallCollector(config)
    try:
        collector.scrape()  # first scrape learns that vitals are absent where they are
        return collector.scrape()
    finally:
        collector.close()


def collect_rows() -> dict[str, Row]:
    sets: list[MetricSet] = []
    gateways = [
        SimulatedGateway(
            password=PASSWORD, model=SiteModel(start_time=SIM_START, seed=3, powerwalls=2, solar_powerwall=True)
        ),
        SimulatedGateway(
            password=PASSWORD, model=SiteModel(start_time=SIM_START, seed=3, powerwalls=2, solar_powerwall=True)
        ),
        SimulatedGateway(password=PASSWORD, replay_dir=FIXTURES / "fw-21.39.1"),
        SimulatedGateway(
            password=PASSWORD,
            replay_dir=FIXTURES / "pypowerwall-sim",
            vitals_file=FIXTURES / "vitals" / "pwsim-vitals.pb",
        ),
    ]
    gateways[1].faults.vitals_absent = True
    for gw in gateways:
        gw.start()
        try:
            sets.append(_scrape(gw))
        finally:
            gw.stop()
    rows: dict[str, Row] = {}
    for ms in sets:
        for fam in ms.families():
            name = fam.name + {"counter": "_total", "info": "_info"}.get(fam.type, "")
            row = rows.setdefault(name, Row(Kind(fam.type).value, fam.documentation))
            for s in fam.samples:
                row.labels.update(k for k in s.labels if k != "gateway")
    return rows


def render(rows: dict[str, Row]) -> str:
    def is_generic(name: str, row: Row) -> bool:
        return name.startswith("powerwall_vital_") or row.help.startswith(("Gateway field", "Vital "))

    def table(names: list[str]) -> list[str]:
        out = ["| metric | type | labels | meaning |", "| --- | --- | --- | --- |"]
        for n in names:
            r = rows[n]
            labels = ", ".join(f"`{label}`" for label in sorted(r.labels))
            out.append(f"| `{n}` | {r.kind} | {labels} | {r.help.replace('|', '/')} |")
        return out

    curated = sorted(n for n, r in rows.items() if not is_generic(n, r))
    generic = sorted(n for n, r in rows.items() if is_generic(n, r))
    lines = [
        START,
        *table(curated),
        "",
        f"<details><summary>Generically named fields seen in the test sites ({len(generic)})</summary>",
        "",
        *table(generic),
        "",
        "</details>",
        END,
    ]
    return "\n".join(lines)


def updated_doc(text: str) -> str:
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    return head + render(collect_rows()) + tail


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    p = argparse.ArgumentParser()
    p.add_argument("--write", action="store_true", help="rewrite docs/metrics.md in place")
    args = p.parse_args()
    text = METRICS_DOC.read_text()
    new = updated_doc(text)
    if args.write:
        METRICS_DOC.write_text(new)
    else:
        sys.stdout.write(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
