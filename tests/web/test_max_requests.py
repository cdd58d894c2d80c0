"""``--web.max-requests``: how many requests the exporter's process serves at once.

Why a flag: a ``/probe`` holds its HTTP worker while its gateway answers. When a third of a fleet
replica's sites dropped off the network together, each of their probes held one for 5 s, and the
live sites' probes queued behind them with the default 32. Here the real process, against a
loopback socket that takes connections and never answers (a gateway gone silent) and a simulated
gateway: with one worker the silent gateway's probe keeps the live one waiting past its timeout;
with the default, the live one is answered while the other still waits. What is waited for is a
state (the silent gateway has the connection), never a guessed delay.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from exporter.simulator import SimulatedGateway, SiteModel
from tests.scrape import Response, get
from tests.simtime import SIM_START
from tests.support.exporter import gateway_entry, run_exporter, start_exporter
from tests.support.net import SilentListener
from tests.support.polling import wait_for
from tests.support.wiring import SIM_PASSWORD

SILENT_TIMEOUT = 6.0  # the silent gateway's probe holds its worker for about this long
LIVE_TIMEOUT = 3.0  # less: queued behind it, the live probe's time is gone when a worker is free; alone, ample


@dataclass
class Fleet:
    """The exporter's config entries for a live and a silent gateway, and the silent listener."""

    entries: list[dict[str, Any]]
    silent: SilentListener


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    live = SimulatedGateway(password=SIM_PASSWORD, model=SiteModel(start_time=SIM_START, seed=3, powerwalls=1))
    live.start()
    silent = SilentListener()
    try:
        entry = gateway_entry(live, tmp_path, "live", min_interval_seconds=0)
        yield Fleet([entry, {**entry, "name": "silent", "address": f"https://127.0.0.1:{silent.port}"}], silent)
    finally:
        silent.close()
        live.stop()


def _live_probe_while_silent_one_runs(tmp_path: Path, fleet: Fleet, *flags: str) -> Response:
    exp = start_exporter({"state_file": None, "gateways": fleet.entries}, tmp_path, *flags, log_level="warn")
    try:
        busy = threading.Thread(
            target=get, args=(exp.port, "/probe?target=silent", SILENT_TIMEOUT), name="silent-probe", daemon=True
        )
        busy.start()
        wait_for("the silent gateway's probe to connect", lambda: len(fleet.silent.held) > 0, timeout=10)
        answer = get(exp.port, "/probe?target=live", LIVE_TIMEOUT)
        busy.join(SILENT_TIMEOUT + 10)
        return answer
    finally:
        exp.stop()


def test_one_worker_makes_the_live_probe_wait_past_its_timeout(tmp_path: Path, fleet: Fleet) -> None:
    answer = _live_probe_while_silent_one_runs(tmp_path, fleet, "--web.max-requests=1")
    assert answer.status == 503, (answer.status, answer.body[:200])


def test_by_default_the_live_probe_is_answered_meanwhile(tmp_path: Path, fleet: Fleet) -> None:
    answer = _live_probe_while_silent_one_runs(tmp_path, fleet)
    assert answer.status == 200 and b'powerwall_up{gateway="live"} 1' in answer.body, answer.body[:200]


@pytest.mark.parametrize("value", ["0", "4097", "many"])
def test_a_bad_value_is_refused_at_start_naming_the_flag(value: str) -> None:
    proc = run_exporter("--demo", f"--web.max-requests={value}")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "argument --web.max-requests:" in proc.stderr, proc.stderr
