"""The exporter's one clock: monotonic time for deadlines and back-offs, wall time for what a person reads.

Why one object handed down from :class:`~exporter.scrape.collector.PowerwallCollector`: every wait,
deadline, pause and timestamp of a scrape then runs on the same time, and a test drives that time
instead of sleeping. Only the operating system's own waits (a socket's
timeout, a condition's) still take real seconds, bounded by the deadlines computed here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Clock:
    monotonic: Callable[[], float] = time.monotonic  # deadlines, cooldowns, cadence
    wall: Callable[[], float] = time.time  # Unix seconds: status pages, reload times, accounting


SYSTEM_CLOCK = Clock()
