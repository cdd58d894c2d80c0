"""Cooldowns and pauses: how the exporter leaves a gateway (or one of its auth domains) alone.

A 429 silences the whole gateway (≥ 5 min, exponential with jitter, ``Retry-After`` honoured); a
failed login pauses that auth domain's logins (doubling per failure). Both are per gateway object,
so one gateway's troubles never slow another.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable

MAX_COOLDOWN_SECONDS = 1800.0

# The jitter of every cooldown that is not given a generator of its own (tests give a seeded one).
# One for the process: the jitter needs no stream of its own, and a ``random.Random`` is 2.5 KB,
# which a replica of a thousand gateways held a thousand times.
JITTER = random.Random()


class Cooldown:
    """Leave something alone until a time; repeated episodes back off exponentially with jitter."""

    def __init__(self, clock: Callable[[], float], rng: random.Random | None = None) -> None:
        self._clock = clock
        self._rng = rng or JITTER
        self._lock = threading.Lock()
        self._until = 0.0
        self._streak = 0

    def remaining(self) -> float:
        return max(0.0, self._until - self._clock())

    def enter(self, minimum: float, retry_after: float | None = None) -> float:
        """Start (or extend) a cooldown; returns the seconds until it really ends.

        That is the delay to log: an episode already running for longer is never shortened.

        Only an episode after the previous one ran out is a repeat: the concurrent requests of one
        scrape all get 429 from the same burst, and counting each would escalate one burst straight
        to the maximum.
        """
        with self._lock:
            now = self._clock()
            if now >= self._until:
                self._streak += 1
            delay: float = min(MAX_COOLDOWN_SECONDS, minimum * 2.0 ** min(self._streak - 1, 32))
            delay *= 1.0 + self._rng.uniform(0.0, 0.2)
            if retry_after is not None:
                delay = max(delay, min(retry_after, 4 * MAX_COOLDOWN_SECONDS))
            self._until = max(self._until, now + delay)
            return self._until - now

    def extend_to(self, until: float) -> None:
        with self._lock:
            self._until = max(self._until, until)

    @property
    def until(self) -> float:
        return self._until

    def succeeded(self) -> None:
        """An answer after the cooldown ran out: the next episode starts from the minimum again."""
        with self._lock:
            if self._clock() >= self._until:
                self._streak = 0


class Pause:
    """Pause an action (a login) after failures, doubling per consecutive failure up to a cap."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._until = 0.0
        self._failures = 0

    def remaining(self) -> float:
        return max(0.0, self._until - self._clock())

    def block(self, base: float, *, once: bool = False, cap: float = MAX_COOLDOWN_SECONDS) -> float | None:
        """Pause for ``base * 2**(failures - 1)``; ``once``: not again while a pause runs (one episode)."""
        with self._lock:
            now = self._clock()
            if once and self._until > now:
                return None
            self._failures += 1
            delay = min(cap, base * 2.0 ** min(self._failures - 1, 32))
            self._until = now + delay
            return delay

    def extend_to(self, until: float) -> None:
        with self._lock:
            self._until = max(self._until, until)

    def reset(self) -> None:
        with self._lock:
            self._failures = 0


def whole_seconds(delay: float) -> int:
    """A delay for a log line, rounded up: at the second it names, the wait is really over.

    Rounded to nearest, "330 s" could mean 330.4 s, and whoever acts on the line (or a test reading
    it) would find the request still held back.
    """
    return max(0, math.ceil(delay - 1e-6))


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` in seconds; the HTTP-date form is not worth a parser (the 5 min floor applies)."""
    if not value:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        return None
