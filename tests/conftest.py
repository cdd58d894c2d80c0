"""Shared test fixtures: the real captures in ../shared, the simulated gateway, exporter wiring."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from exporter.clock import SYSTEM_CLOCK, Clock
from exporter.config import Config, GatewayConfig, parse_config
from exporter.gateway.request import Request
from exporter.gateway.sessions import SessionStore
from exporter.gateway.transport import GatewayTransport
from exporter.scrape.collector import PowerwallCollector
from exporter.scrape.gateway import GatewayScraper
from exporter.simulator import SimulatedGateway, SiteModel
from exporter.sources.json_api.source import JsonApiSource
from exporter.sources.registry import ALLOW_LIST
from tests.simtime import SIM_START

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FIXTURES = SHARED / "fixtures"
SIM_PASSWORD = "sim-password-7f3a9c"  # distinctive, so leak tests can search for it

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Property tests explore new examples on every developer run (that is how they find bugs), but in CI
# the examples are a fixed function of each test, so a landing is never decided by the draw of the
# day. A counterexample found locally goes into the test as an @example.
settings.register_profile("ci", derandomize=True, print_blob=True)
if IN_CI:
    settings.load_profile("ci")


def free_port() -> int:
    """A loopback port nothing listens on now (for servers that must know their port in advance)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require_fixtures() -> Path:
    """The shared captures; absent on a developer's machine → skip, absent in CI → fail."""
    if not FIXTURES.is_dir():
        if IN_CI:
            pytest.fail(f"CI: the shared fixtures are missing at {FIXTURES}")
        pytest.skip(f"shared fixtures not found at {FIXTURES} (clone ../shared beside the repo)")
    return FIXTURES


@pytest.fixture
def fixtures_dir() -> Path:
    return require_fixtures()


def gateway_config(gw: SimulatedGateway, name: str = "home", **overrides: Any) -> GatewayConfig:
    """The config a user would write for this simulated gateway (CA pin), with test overrides."""
    cfg = parse_config(
        {
            "gateways": [
                {"name": name, "address": gw.url, "password": SIM_PASSWORD, "tls": {"ca_file": str(gw.cert_path)}}
            ]
        }
    ).gateways[0]
    return replace(cfg, **{"timeout_seconds": 5.0, "min_interval_seconds": 0.0, **overrides})


def make_collector(
    *gateways: GatewayConfig, state_file: Path | None = None, clock: Clock = SYSTEM_CLOCK
) -> PowerwallCollector:
    return PowerwallCollector(Config(gateways=tuple(gateways), state_file=state_file), clock=clock)


@pytest.fixture
def sim() -> Iterator[SimulatedGateway]:
    gw = SimulatedGateway(
        password=SIM_PASSWORD, model=SiteModel(start_time=SIM_START, seed=7, powerwalls=2, solar_powerwall=True)
    )
    gw.start()
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture
def collector(sim: SimulatedGateway) -> Iterator[PowerwallCollector]:
    c = make_collector(gateway_config(sim))
    try:
        yield c
    finally:
        c.close()


def replay(fw: str, vitals: bool = False) -> SimulatedGateway:
    base = require_fixtures()
    vitals_file = base / "vitals" / "pwsim-vitals.pb" if vitals else None
    return SimulatedGateway(password=SIM_PASSWORD, replay_dir=base / fw, vitals_file=vitals_file)


# The fault environment's fixture, for every test module that injects faults.
from tests.fault_env import env  # noqa: E402, F401


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/golden/*.prom from the current exposition instead of comparing against them",
    )


def deadline(seconds: float = 5.0) -> float:
    """A fetch deadline ``seconds`` from now (the transport's clock is time.monotonic)."""
    return time.monotonic() + seconds


def make_transport(cfg: GatewayConfig, store: SessionStore | None = None) -> GatewayTransport:
    """A gateway transport with the exporter's own allow-list, as the collector builds it."""
    return GatewayTransport(cfg, ALLOW_LIST, store)


def only_requests(scraper: GatewayScraper, *requests: Request) -> None:
    """Restrict a gateway to a few JSON requests: for tests that need many fast scrapes of few endpoints."""
    source = JsonApiSource(scraper.cfg)
    source.requests = lambda view: requests  # type: ignore[method-assign]
    scraper.sources = [source]
