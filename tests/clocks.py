"""One test clock: time that moves only when a test moves it.

Why one: the exporter takes a single :class:`~exporter.clock.Clock` (monotonic and wall) from the
collector down to every transport, scraper and accounting stage, so a test that drives this clock
drives the whole scrape's time, and waits on nothing but real answers. Wall time is anchored at the
suite's pinned simulated start (:data:`tests.simtime.SIM_START`), never at the machine's hour.
"""

from __future__ import annotations

from exporter.clock import Clock
from tests.simtime import SIM_START

START = 1000.0


class ManualClock:
    """Monotonic seconds (call it, or read ``now``) and a wall clock that moves with it."""

    def __init__(self, now: float = START, wall_at_start: float = SIM_START) -> None:
        self.now = now
        self._wall_offset = wall_at_start - now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def wall(self) -> float:
        return self.now + self._wall_offset

    @property
    def clock(self) -> Clock:
        """The exporter's clock on this time (for ``PowerwallCollector(..., clock=)``)."""
        return Clock(monotonic=self, wall=self.wall)
