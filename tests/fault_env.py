"""A simulated gateway, a collector and the real HTTP server, wired as the fault tests need them.

Shared by the fault matrix and the hardening tests; the ``env`` fixture (registered in conftest)
proves on teardown that nothing escaped, nothing unsafe reached the gateway and no thread leaked.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from exporter.config import Config, GatewayConfig
from exporter.scrape.collector import PowerwallCollector
from exporter.simulator import SimulatedGateway, SiteModel
from exporter.web.server import ExporterApp, ExporterServer
from tests.scrape import Scrape, get
from tests.simtime import SIM_START
from tests.support.net import free_port
from tests.support.polling import wait_for
from tests.support.wiring import SIM_PASSWORD, gateway_config

SCRAPE_TIMEOUT = 1.5  # what Prometheus would send; the collector keeps a 0.5 s safety margin of it
ANSWER_MARGIN = 0.35  # /metrics must answer within the scrape timeout plus this much (HTTP + render)
SLOW = SCRAPE_TIMEOUT + 1.0  # a gateway delay certainly beyond the scrape timeout
FW = "fw-21.39.1"  # the real capture used where a test needs real bytes


# ------------------------------------------------------------------------------------------ helpers
def exporter_threads() -> list[threading.Thread]:
    """Threads that are not the in-process simulator's (its handler threads sleep through delays)."""
    return [t for t in threading.enumerate() if not t.name.startswith("pwsim")]


class Env:
    """A simulated gateway (optional), a collector over the given gateways and the real HTTP server."""

    def __init__(
        self,
        sim: SimulatedGateway | None,
        gateways: Sequence[GatewayConfig],
        thread_base: int,
        state_file: Path | None = None,
    ) -> None:
        self.sim = sim
        self._thread_base = thread_base
        self.collector = PowerwallCollector(Config(gateways=tuple(gateways), state_file=state_file))
        self.server = ExporterServer(ExporterApp(self.collector), "127.0.0.1:0")
        self.server.start()

    @property
    def gw(self) -> SimulatedGateway:
        assert self.sim is not None
        return self.sim

    def get(self, path: str = "/metrics", timeout: float | None = SCRAPE_TIMEOUT) -> tuple[int, bytes, float]:
        r = get(self.server.port, path, timeout, timeout=30)
        return r.status, r.body, r.elapsed

    def scrape(self, timeout: float = SCRAPE_TIMEOUT, path: str = "/metrics") -> Scrape:
        status, body, elapsed = self.get(path, timeout)
        assert status == 200, body[:500]
        assert elapsed <= timeout + ANSWER_MARGIN, f"/metrics took {elapsed:.2f} s with a {timeout} s scrape timeout"
        s = Scrape.parse(body, status, elapsed)
        ceiling = self._thread_base + self.collector.config.max_concurrent_requests + 8
        assert len(exporter_threads()) <= ceiling, [t.name for t in exporter_threads()]
        return s

    def restart_gateway(self) -> None:
        """Stop and start the simulator on the same port (every open connection is closed)."""
        self.gw.stop()
        self.gw.start()

    def close(self) -> None:
        self.server.stop()
        self.collector.close()
        if self.sim is not None:
            self.sim.stop()


class EnvFactory:
    def __init__(self) -> None:
        self.envs: list[Env] = []
        self.thread_base = len(exporter_threads())

    def sim(self, replay_dir: Path | None = None, **model: Any) -> SimulatedGateway:
        kw: dict[str, Any] = {"seed": 7, "powerwalls": 2, "solar_powerwall": True}
        kw.update(model)
        gw = SimulatedGateway(
            password=SIM_PASSWORD, port=free_port(), model=SiteModel(start_time=SIM_START, **kw), replay_dir=replay_dir
        )
        return gw.start()

    def __call__(
        self,
        sim: SimulatedGateway | None = None,
        gateways: Sequence[GatewayConfig] | None = None,
        state_file: Path | None = None,
        **cfg: Any,
    ) -> Env:
        if sim is None and gateways is None:
            sim = self.sim()
        if gateways is None:
            assert sim is not None
            gateways = [gateway_config(sim, **cfg)]
        env = Env(sim, gateways, self.thread_base, state_file)
        self.envs.append(env)
        return env


@pytest.fixture
def env(caplog: pytest.LogCaptureFixture) -> Iterator[EnvFactory]:
    """Build exporter environments; on teardown prove nothing escaped, nothing unsafe, nothing leaked."""
    caplog.set_level(logging.INFO)
    factory = EnvFactory()
    try:
        yield factory
    finally:
        for e in factory.envs:
            e.close()
    for e in factory.envs:
        if e.sim is not None:
            e.sim.assert_safe()
            assert not e.sim.unexpected_requests(), e.sim.unexpected_requests()
    tracebacks = [r for r in caplog.records if r.exc_info and r.levelno >= logging.ERROR]
    assert not tracebacks, [r.getMessage() for r in tracebacks]
    assert "Traceback" not in caplog.text
    wait_for(
        f"the exporter's threads to end (at most {factory.thread_base} left)",
        lambda: len(exporter_threads()) <= factory.thread_base,
        timeout=5,
        details=lambda: str([t.name for t in exporter_threads()]),
    )
