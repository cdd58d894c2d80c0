"""The exporter's parts wired to a simulated gateway the way a user's config wires them to a real one.

Why here: most tests of the transport, the sources and the collector start from "a gateway as the
user would configure it" (address, password, the CA pin of the simulator's certificate) and differ
only in a few settings; building that by hand in each test hid the difference under boilerplate.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from exporter.clock import SYSTEM_CLOCK, Clock
from exporter.config import Config, GatewayConfig, parse_config
from exporter.gateway.request import Request
from exporter.gateway.sessions import SessionStore
from exporter.gateway.transport import GatewayTransport
from exporter.scrape.collector import PowerwallCollector
from exporter.scrape.gateway import GatewayScraper
from exporter.simulator import SimulatedGateway
from exporter.sources.json_api.source import JsonApiSource
from exporter.sources.registry import ALLOW_LIST
from tests.support.prereqs import require_fixtures

SIM_PASSWORD = "sim-password-7f3a9c"  # distinctive, so leak tests can search for it


def gateway_config(gw: SimulatedGateway, name: str = "home", **overrides: Any) -> GatewayConfig:
    """The config a user would write for this simulated gateway (CA pin), with test overrides.

    Tests default to a 5 s timeout and no minimum interval: every scrape asks the gateway.
    """
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
    """The collector the exporter builds for a config holding ``gateways``."""
    return PowerwallCollector(Config(gateways=tuple(gateways), state_file=state_file), clock=clock)


def make_transport(cfg: GatewayConfig, store: SessionStore | None = None) -> GatewayTransport:
    """A gateway transport with the exporter's own allow-list, as the collector builds it."""
    return GatewayTransport(cfg, ALLOW_LIST, store)


def deadline(seconds: float = 5.0) -> float:
    """A fetch deadline ``seconds`` from now (the transport's clock is time.monotonic)."""
    return time.monotonic() + seconds


def only_requests(scraper: GatewayScraper, *requests: Request) -> None:
    """Restrict a gateway to a few JSON requests: for tests that need many fast scrapes of few endpoints."""
    source = JsonApiSource(scraper.cfg)
    source.requests = lambda view: requests  # type: ignore[method-assign]
    scraper.sources = [source]


def replay(fw: str, vitals: bool = False) -> SimulatedGateway:
    """A simulated gateway replaying the captures of firmware ``fw`` (``../shared/fixtures/<fw>``)."""
    base = require_fixtures()
    vitals_file = base / "vitals" / "pwsim-vitals.pb" if vitals else None
    return SimulatedGateway(password=SIM_PASSWORD, replay_dir=base / fw, vitals_file=vitals_file)
