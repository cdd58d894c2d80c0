"""Keep exposed ``_total`` series monotonic although the gateway's lifetime counters are not.

Gateways report lifetime energies that dip slightly, read 0 for a moment (Powerwall 3), or restart
from a lower value after a hardware swap. Prometheus' ``rate()``/``increase()`` read any decrease as
a counter reset and add the whole new value: a 1 Wh dip on a 30 MWh counter becomes a 30 MWh spike.
So a small dip or a zero holds the last exposed value (and is counted), and only a large drop that
persists is accepted as a real reset (and logged).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass

from exporter.metrics.metricset import Labels, MetricSet, counter

log = logging.getLogger(__name__)

DIPS = counter("powerwall_monotonic_dips_total", "Counter readings lower than the last one that were held back.")
RESETS = counter("powerwall_monotonic_resets_total", "Large persistent counter drops accepted as real resets.")


@dataclass(slots=True)
class _State:
    exposed: float
    pending_drops: int = 0


class CounterGuard:
    """Per-gateway memory of the last exposed value of every counter series."""

    def __init__(self, gateway: str, dip_tolerance: float = 0.01, confirmations: int = 3) -> None:
        self.gateway = gateway
        self.dip_tolerance = dip_tolerance  # relative drop still treated as a glitch
        self.confirmations = confirmations  # consecutive low readings before a reset is believed
        self._state: dict[tuple[str, Labels], _State] = {}
        self._dips: Counter[str] = Counter()
        self._resets: Counter[str] = Counter()
        self._lock = threading.Lock()

    def apply(self, ms: MetricSet) -> None:
        with self._lock:
            for name, key, raw in list(ms.counters()):
                ms.replace(name, key, self._check(name, key, raw))

    def _check(self, name: str, key: Labels, raw: float) -> float | None:
        state = self._state.get((name, key))
        if state is None:
            if raw < 0:
                return None  # no history and an impossible value: absent, not invented
            self._state[(name, key)] = _State(raw)
            return raw
        if raw >= state.exposed:
            state.exposed = raw
            state.pending_drops = 0
            return raw
        drop = state.exposed - raw
        if raw <= 0 or drop <= self.dip_tolerance * state.exposed:
            self._dips[name] += 1
            return state.exposed
        state.pending_drops += 1
        if state.pending_drops < self.confirmations:
            self._dips[name] += 1
            return state.exposed
        log.warning(
            "gateway %s: %s%s dropped from %.0f to %.0f for %d readings; accepting it as a counter reset",
            self.gateway,
            name,
            dict(key),
            state.exposed,
            raw,
            state.pending_drops,
        )
        self._resets[name] += 1
        state.exposed = raw
        state.pending_drops = 0
        return raw

    def metrics(self, ms: MetricSet) -> None:
        # Every guarded counter gets both series from its first reading on (at 0), so increase()
        # and alerts see the first dip instead of a series appearing out of nowhere.
        with self._lock:
            for name in sorted({name for name, _ in self._state}):
                ms.add(DIPS, self._dips[name], {"metric": name})
                ms.add(RESETS, self._resets[name], {"metric": name})
