"""How often Python's cyclic garbage collector runs in the exporter daemon.

Why: a scrape makes no reference cycles (a test holds that), so what it allocates is freed by
reference counting, and the cyclic collector finds nothing. It still walks the heap: with the
default thresholds a replica of 1,000 gateways ran a full collection every few seconds, each a
pause of about 250 ms that holds every thread (the fleet benchmark's p99 ``/probe`` came from
them), and all its collections together took about 9 % of a core, for nothing collected.

So: what exists once start-up is done (modules, tables, the config) is frozen out of every
collection, and the young generation is collected after 50,000 allocations instead of 700, which
lets the short-lived objects of a scrape die by reference counting before a collection sees and
promotes them; fewer promoted objects is what makes full collections rare. Cycles that other code
does make are still collected, later. Tests and library use keep Python's defaults: only
:func:`exporter.cli.main` applies this.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000  # allocations between young collections (Python's default: 700)
MIDDLE_THRESHOLD = 20  # young collections between middle ones (default: 10)
OLD_THRESHOLD = 20  # middle collections between full ones, on top of Python's own 25 % rule (default: 10)


def apply() -> None:
    """Freeze what start-up made and space collections out (see the module docstring)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
