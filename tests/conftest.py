"""Fixtures and hooks only; the library the tests share lives in :mod:`tests.support`.

Why the split: a conftest is pytest's plugin for its directory, and one that doubles as the tests'
library grows into a grab-bag every module imports, fixtures and hooks included. The library lives in
:mod:`tests.support`, one module per kind; this file keeps the fixtures and hooks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from exporter.scrape.collector import PowerwallCollector
from exporter.simulator import SimulatedGateway, SiteModel
from tests.simtime import SIM_START
from tests.support.prereqs import in_ci, require_fixtures
from tests.support.wiring import SIM_PASSWORD, gateway_config, make_collector

# Property tests explore new examples on every developer run (that is how they find bugs), but in CI
# the examples are a fixed function of each test, so a landing is never decided by the draw of the
# day. A counterexample found locally goes into the test as an @example.
settings.register_profile("ci", derandomize=True, print_blob=True)
if in_ci():
    settings.load_profile("ci")


@pytest.fixture
def fixtures_dir() -> Path:
    return require_fixtures()


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


# The fault environment's fixture, for every test module that injects faults.
from tests.fault_env import env  # noqa: E402, F401


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/golden/*.prom from the current exposition instead of comparing against them",
    )
