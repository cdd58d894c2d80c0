"""Generate the metric reference (docs/metrics.md) from real scrapes, so it cannot drift from the code.

It has its own page so the README reads in one sitting. ``python -m tests.metrics_doc --write``
rewrites the table between the page's markers;
``tests/test_readme_metrics.py`` fails when the committed table differs from what this produces.
Sources: the simulated site (vitals, and again without vitals so /api/solar_powerwall is mapped),
and both real JSON captures plus the real vitals capture.

The source column is derived, not kept by hand: which request's answer (or which stage after the
answers) adds each family is recorded during those scrapes (:func:`_trace`), and the JSON key or
device signal after it is looked up in the tables that define the family (the JSON endpoints'
:class:`~exporter.site.table.Table` rows, the device :data:`~exporter.devices.rules.RULES`).
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from exporter.accounting.site import SiteAccounting
from exporter.config import parse_config
from exporter.devices.rules import RULES
from exporter.gateway.outcomes import Fetched
from exporter.gateway.request import Request
from exporter.metrics.metricset import Kind, MetricDef, MetricSet
from exporter.scrape.collector import PowerwallCollector
from exporter.simulator import SimulatedGateway, SiteModel
from exporter.site import tables
from exporter.site.merge import Offers, SiteMerge
from exporter.site.shapes import Shape
from exporter.site.table import Table
from exporter.sources import base
from tests.simtime import SIM_START
from tests.support.paths import FIXTURES, REPO

METRICS_DOC = REPO / "docs" / "metrics.md"
START, END = "<!-- metrics:start -->", "<!-- metrics:end -->"
PASSWORD = "doc-password"
DOC_TARIFF = {
    "currency": "USD",
    "import_price_per_kwh": 0.30,
    "export_price_per_kwh": 0.08,
    "periods": [{"name": "peak", "start": "16:00", "end": "21:00", "import_price_per_kwh": 0.45}],
}
EXPORTER = "exporter"
"""Source of the exporter's own series about the scrape (up, durations, request counters, ...)."""
DERIVED = "exporter (derived)"
"""Source of the series the exporter derives across scrapes (README "Energy flows, cost, outages")."""

Origins = dict[str, set[str]]
"""Metric name → the request labels (or stages) that added it in the doc's scrapes."""


@dataclass
class Row:
    kind: str
    help: str
    labels: set[str] = field(default_factory=set)
    origins: set[str] = field(default_factory=set)


class _ReadLog(dict[str, Any]):
    """The decoded answers handed to a source's ``finish``, noting which of them it reads.

    A family ``finish`` combines from several answers (``powerwall_info``) is credited to exactly
    those answers, as the code reads them, rather than to a list someone keeps beside it.
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        super().__init__(data)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.read.add(key)
        return super().__contains__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)


def _note(origins: Origins, names: Iterable[str], where: Iterable[str]) -> None:
    """Credit each family in ``names`` to ``where`` (added to what other scrapes credited it to)."""
    for name in names:
        origins.setdefault(name, set()).update(where)


def _traced_source(source: base.Source, origins: Origins) -> None:
    """Note the families each answer of ``source`` yields, under its request label."""
    collect, not_supported, finish = source.collect, source.not_supported, source.finish

    def traced_collect(request: Request, answer: Fetched, out: base.Output) -> None:
        collect(request, answer, out)
        _note(origins, out.ms.names(), (request.label,))
        for report in out.reports:  # its devices, before the device merge
            _note(origins, report.ms.names(), (request.label,))

    def traced_not_supported(request: Request, out: base.Output) -> None:
        not_supported(request, out)
        _note(origins, out.ms.names(), (request.label,))

    def traced_finish(decoded: dict[str, Any], out: base.Output) -> None:
        read = _ReadLog(decoded)
        finish(read, out)
        _note(origins, out.ms.names(), read.read or (source.name,))

    source.collect = traced_collect  # type: ignore[method-assign]
    source.not_supported = traced_not_supported  # type: ignore[method-assign]
    source.finish = traced_finish  # type: ignore[method-assign]


def _trace(collector: PowerwallCollector, origins: Origins) -> None:
    """Record where each family of the collector's scrapes comes from (the doc's source column).

    A request's answer, or a source's ``finish`` (under the answers it reads), or the accounting
    stage (:data:`DERIVED`); any other family is the exporter's own (:data:`EXPORTER`).
    """
    for scraper in collector.scrapers.values():
        for source in scraper.sources:
            _traced_source(source, origins)
        _traced_accounting(scraper.accounting, origins)
        _traced_site_merge(scraper.site, origins)


def _traced_site_merge(site: SiteMerge, origins: Origins) -> None:
    """Note the families the site merge adds: the shapes it mapped for a source that had not, and
    ``powerwall_info``, which it names from the chosen status and site info."""
    merge = site.merge

    def traced_merge(offers: Offers, ms: MetricSet) -> dict[Shape, Any]:
        offers = list(offers)
        before = set(ms.names())
        chosen = merge(offers, ms)
        added = set(ms.names()) - before
        info = {n for n in added if n == "powerwall_info"}
        _note(origins, info, (Shape.SITE_INFO.value, Shape.STATUS.value))
        mapped_here = {str(shape.value) for _, shapes, mapped in offers if not mapped for shape in shapes}
        _note(origins, added - info, sorted(mapped_here) or ("exporter",))
        return chosen

    site.merge = traced_merge  # type: ignore[method-assign]


def _traced_accounting(accounting: SiteAccounting, origins: Origins) -> None:
    """Note the families the accounting stage adds, as :data:`DERIVED`."""
    observe = accounting.observe

    def traced_observe(ms: MetricSet, data: Mapping[Shape, Any], at: float | None = None) -> None:
        before = set(ms.names())
        observe(ms, data, at)
        _note(origins, set(ms.names()) - before, (DERIVED,))

    accounting.observe = traced_observe  # type: ignore[method-assign]


def _scrape(gw: SimulatedGateway, origins: Origins, outage: bool = False) -> MetricSet:
    """Two scrapes of ``gw`` (the first learns what the firmware lacks); the second's series.
    ``outage``: the grid goes down between them, so the series that only a grid change starts are
    listed too (they are absent until the exporter has seen one)."""
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
                    # The second scrape reads the grid again, instead of the first's answer.
                    "min_interval_seconds": 0,
                }
            ],
            "state_file": "",
        }
    )
    collector = PowerwallCollector(config)
    _trace(collector, origins)
    try:
        collector.scrape()  # first scrape learns that vitals are absent where they are
        if outage:
            gw.faults.grid_outage = True
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
    origins: Origins = {}
    for i, gw in enumerate(gateways):
        gw.start()
        try:
            sets.append(_scrape(gw, origins, outage=i == 0))
        finally:
            gw.stop()
    rows: dict[str, Row] = {}
    for ms in sets:
        for fam in ms.families():
            name = fam.name + {"counter": "_total", "info": "_info"}.get(fam.type, "")
            row = rows.setdefault(name, Row(Kind(fam.type).value, fam.documentation))
            for s in fam.samples:
                row.labels.update(k for k in s.labels if k != "gateway")
            row.origins.update(origins.get(name, ()))
    return rows


_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>[^()]*\)")
_PLAIN_GROUP = re.compile(r"\(\?:([^()]*)\)")


def signal_text(pattern: str) -> str:
    """A rule's pattern as the docs write a signal name: ``METER_(?P<ch>[A-Z])_I`` → ``METER_<ch>_I``."""
    return _PLAIN_GROUP.sub(r"(\1)", _NAMED_GROUP.sub(r"<\1>", pattern))


def _add(found: dict[str, list[str]], metric: MetricDef, what: str) -> None:
    names = found.setdefault(metric.name, [])
    if what not in names:
        names.append(what)


def mapped_from() -> dict[str, list[str]]:
    """Metric name → the JSON keys or device signals its defining table maps to it, in table order."""
    found: dict[str, list[str]] = {}
    for value in vars(tables).values():
        if isinstance(value, Table):
            for f in value.fields:
                _add(found, f.metric, f.key)
        elif isinstance(value, tuple):  # (key, metric) rows such as BLOCK_STATES
            for row in value:
                if isinstance(row, tuple) and len(row) == 2 and isinstance(row[1], MetricDef):
                    _add(found, row[1], str(row[0]))
    for rule in RULES:
        _add(found, rule.metric, signal_text(rule.pattern))
    return found


def source_text(name: str, row: Row, keys: Mapping[str, list[str]]) -> str:
    """The source cell: requests (or stage), then the key or signals the tables map to ``name``."""
    origins = sorted(row.origins) or [EXPORTER]
    text = ", ".join(o if o in (EXPORTER, DERIVED) else f"`{o}`" for o in origins)
    mapped = keys.get(name)
    return text + (": " + ", ".join(f"`{k}`" for k in mapped) if mapped and row.origins - {DERIVED} else "")


def render(rows: dict[str, Row]) -> str:
    def is_generic(name: str, row: Row) -> bool:
        return name.startswith("powerwall_vital_") or row.help.startswith(("Gateway field", "Vital "))

    keys = mapped_from()

    def table(names: list[str]) -> list[str]:
        out = ["| metric | type | labels | source | meaning |", "| --- | --- | --- | --- | --- |"]
        for n in names:
            r = rows[n]
            labels = ", ".join(f"`{label}`" for label in sorted(r.labels))
            source = source_text(n, r, keys).replace("|", "/")
            out.append(f"| `{n}` | {r.kind} | {labels} | {source} | {r.help.replace('|', '/')} |")
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
