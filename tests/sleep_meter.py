"""A pytest plugin that counts the seconds the test process spends in ``time.sleep``.

Why: a test that sleeps waits on the machine's clock, and its outcome or its length then depends on
the machine's load. The suite drives an injected clock or waits on conditions instead; this says, at
the end of every run, how much sleeping is left (``addopts`` in pyproject.toml loads it).
Only this process counts: the exporter and Prometheus processes the e2e tests start are not measured.
"""

from __future__ import annotations

import threading
import time
from typing import Any, SupportsIndex

_real_sleep = time.sleep
_lock = threading.Lock()
_total = [0.0, 0]


def _counted_sleep(seconds: float | SupportsIndex) -> None:
    with _lock:
        _total[0] += max(0.0, float(seconds))
        _total[1] += 1
    _real_sleep(seconds)


def pytest_configure(config: Any) -> None:
    time.sleep = _counted_sleep


def pytest_unconfigure(config: Any) -> None:
    time.sleep = _real_sleep


def pytest_terminal_summary(terminalreporter: Any) -> None:
    with _lock:
        seconds, calls = _total
    terminalreporter.write_line(f"time.sleep in the test process: {seconds:.1f} s over {calls} calls")
