"""Golden expositions: every capture and the simulator's seeded sites, byte for byte.

Why: the metric contract (names, labels, help, types, values) is what dashboards, alerts and users
rely on. One file per gateway kind makes any change to it visible in review as a diff of ``.prom``
text, and a restructure that must not change the contract is proved by these files staying the
same. After an intended change: ``pytest tests/test_golden.py --update-golden`` and review the diff.

Values that differ from run to run (request durations, the config load time) are replaced by
``<volatile>``; the model runs on a frozen clock, so everything else is deterministic.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.config import Secret, TariffConfig
from exporter.config.tedapi import TedapiConfig
from exporter.metrics.metricset import MetricSet
from exporter.simulator import SimulatedGateway, SiteModel, write_query_file
from exporter.sources.tedapi import v1r_key
from exporter.web.exposition import render_text
from tests.support.prereqs import require_fixtures
from tests.support.wiring import SIM_PASSWORD, gateway_config, make_collector

GOLDEN = Path(__file__).parent / "golden"
FROZEN = 1_790_000_000.0  # 2026-09-21T13:33:20Z: daylight, so solar and strings have values
VOLATILE = re.compile(
    r"^(powerwall_scrape_duration_seconds|powerwall_scrape_endpoint_duration_seconds"
    r"|powerwall_exporter_config_last_reload_success_timestamp_seconds"
    # The gateway's Date header (whole seconds) against this host's clock: between -0.5 and 0.5 s.
    r"|powerwall_tedapi_clock_offset_seconds)(\{.*\})? .*$"
)
# The TEDAPI query file lives in a fresh temporary directory per run.
ORIGIN = re.compile(r'origin="[^"]*"')
GATEWAY_PASSWORD = "golden-gateway-password"


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[], SimulatedGateway]
    tedapi: bool = False
    v1r: bool = False  # TEDAPI over the home LAN too (signed with a key the gateway verified)
    tariff: TariffConfig | None = None


def _replay(fw: str, vitals: bool = False) -> SimulatedGateway:
    base = require_fixtures()
    vitals_file = base / "vitals" / "pwsim-vitals.pb" if vitals else None
    return SimulatedGateway(password=SIM_PASSWORD, replay_dir=base / fw, vitals_file=vitals_file)


def _model(**kw: object) -> SimulatedGateway:
    model = SiteModel(clock=lambda: FROZEN, **kw)  # type: ignore[arg-type]
    return SimulatedGateway(password=SIM_PASSWORD, model=model)


_QUERIES = Path(tempfile.mkdtemp(prefix="pwx-golden-")) / "queries.json"
_QUERY_KEY = write_query_file(_QUERIES)  # our own texts, a throwaway key per run


def _tedapi_model(make: Callable[..., SiteModel], **kw: object) -> SimulatedGateway:
    model = make(clock=lambda: FROZEN, **kw)
    return SimulatedGateway(
        password=SIM_PASSWORD, model=model, gateway_password=GATEWAY_PASSWORD, tedapi_keys=[_QUERY_KEY]
    )


@functools.cache
def _v1r_key_file() -> Path:
    """A throwaway v1r client key, made once per run when a v1r case needs it (2048 bits: a real key
    has 4096, slower to make and no different here). Nothing of it reaches the exposition."""
    directory = _QUERIES.parent / "v1r-key"
    v1r_key.generate(directory, bits=2048)
    return directory / v1r_key.PRIVATE_KEY_FILE


def _v1r_model(make: Callable[..., SiteModel], **kw: object) -> SimulatedGateway:
    gw = _tedapi_model(make, **kw)
    gw.v1r_keys.add(v1r_key.load(_v1r_key_file()).public_der, state="verified")
    return gw


# A flat tariff: the price's period is "default" at any hour, so the exposition does not depend on
# when the test runs (time-of-use periods would, the collector prices on the host's clock).
FLAT_TARIFF = TariffConfig(currency="USD", import_price_per_kwh=0.30, export_price_per_kwh=0.08)


CASES = [
    Case("capture-fw-21.39.1", lambda: _replay("fw-21.39.1")),
    Case("capture-pypowerwall-sim", lambda: _replay("pypowerwall-sim")),
    Case("capture-pypowerwall-sim-vitals", lambda: _replay("pypowerwall-sim", vitals=True)),
    Case("sim-typical", lambda: _model(seed=1, powerwalls=2, solar_powerwall=True)),
    Case("sim-no-vitals", lambda: _model(seed=2, powerwalls=1, solar_powerwall=True)),
    Case("sim-large", lambda: _model(seed=3, powerwalls=12, solar_powerwall=False)),
    Case("sim-pw2-tedapi", lambda: _tedapi_model(SiteModel.pw2_tedapi, seed=4, powerwalls=2), tedapi=True),
    Case("sim-pw3", lambda: _tedapi_model(SiteModel.pw3, seed=5), tedapi=True),
    # The same site as sim-pw3, set up as the end-to-end test's Powerwall 3 (a registered v1r key
    # and the WiFi path, a tariff): the v1r health and cost series exist only so. Diff it with
    # sim-pw3.prom to see what they add.
    Case("sim-pw3-v1r", lambda: _v1r_model(SiteModel.pw3, seed=5), tedapi=True, v1r=True, tariff=FLAT_TARIFF),
]


def exposition(
    gw: SimulatedGateway,
    no_vitals: bool = False,
    tedapi: bool = False,
    v1r: bool = False,
    tariff: TariffConfig | None = None,
) -> str:
    text = render_text(exposition_metrics(gw, no_vitals, tedapi, v1r, tariff), include_default=False).decode()
    return "\n".join(_normalise(line) for line in text.splitlines()) + "\n"


def exposition_metrics(
    gw: SimulatedGateway,
    no_vitals: bool = False,
    tedapi: bool = False,
    v1r: bool = False,
    tariff: TariffConfig | None = None,
) -> MetricSet:
    """One scrape of ``gw`` as a golden case makes it (also for tests that evaluate rules on it)."""
    if no_vitals:
        gw.faults.vitals_absent = True
    cfg = gateway_config(gw, "golden")
    if tedapi:
        key_file = _v1r_key_file() if v1r else None
        t = TedapiConfig(Secret(GATEWAY_PASSWORD), cfg.host, cfg.port, _QUERIES, _QUERY_KEY, v1r_key_file=key_file)
        cfg = dataclasses.replace(cfg, tedapi=t)
    if tariff is not None:
        cfg = dataclasses.replace(cfg, energy=dataclasses.replace(cfg.energy, tariff=tariff))
    collector = make_collector(cfg)
    try:
        return collector.scrape(timeout=10.0)
    finally:
        collector.close()


def _normalise(line: str) -> str:
    m = VOLATILE.match(line)
    return f"{m.group(1)}{m.group(2) or ''} <volatile>" if m else ORIGIN.sub('origin="<queries file>"', line)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_exposition_matches_golden_file(case: Case, request: pytest.FixtureRequest) -> None:
    gw = case.make()
    gw.start()
    try:
        got = exposition(
            gw, no_vitals=case.name == "sim-no-vitals", tedapi=case.tedapi, v1r=case.v1r, tariff=case.tariff
        )
    finally:
        gw.stop()
    path = GOLDEN / f"{case.name}.prom"
    if request.config.getoption("--update-golden"):
        path.write_text(got)
        return
    assert path.exists(), f"{path} missing: run pytest {__file__} --update-golden"
    want = path.read_text()
    if got != want:
        import difflib

        diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True), str(path), "now", n=1))
        pytest.fail(f"exposition changed (review, then --update-golden):\n{diff[:6000]}")


# Families whose records are battery packs (a Powerwall 2's pod, a Powerwall 3's pack): the only
# ones that may carry pack energy, so a pack is never counted a second time under another record.
PACK_FAMILIES = frozenset({"TEPOD", "HVP"})


VOLATILE_VALUE = re.compile(r"^(.*) <volatile>$", re.M)


def _golden_samples(path: Path) -> list[tuple[str, dict[str, str], float]]:
    text = VOLATILE_VALUE.sub(r"\1 0", path.read_text())
    return [(s.name, s.labels, s.value) for f in text_string_to_metric_families(text) for s in f.samples]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden_has_no_phantom_devices_and_no_pack_twice(case: Case) -> None:
    """No per-device series under an empty serial (an empty slot is no device), pack energy only on
    packs, and the packs' sum within the site's total (a pack counted twice would exceed it)."""
    path = GOLDEN / f"{case.name}.prom"
    if not path.exists():
        pytest.skip(f"{path} missing")
    samples = _golden_samples(path)
    assert not [(n, lb) for n, lb, _ in samples if lb.get("serial") == ""]
    for pack_metric, site_metric in (
        ("powerwall_pod_full_pack_energy_joules", "powerwall_battery_full_pack_energy_joules"),
        ("powerwall_pod_energy_remaining_joules", "powerwall_battery_remaining_energy_joules"),
    ):
        packs = [(lb, v) for n, lb, v in samples if n == pack_metric]
        assert {lb["device"] for lb, _ in packs} <= PACK_FAMILIES, packs
        site = [v for n, _, v in samples if n == site_metric]
        if packs and site:
            # Each figure is rounded on its own (whole Wh, or kWh in float32): up to 1 Wh per pack.
            assert sum(v for _, v in packs) <= site[0] + 3600.0 * len(packs), (case.name, pack_metric)
