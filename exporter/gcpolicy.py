"""How often Python's cyclic garbage collector runs in the exporter daemon.

Why: a scrape makes no reference cycles (a test holds that), so what it allocates is freed by
reference counting, and the cyclic collector finds nothing. It still walks the heap: with the
default thresholds a replica of 1,000 gateways ran a full collection every few seconds, each a
pause of about 250 ms that holds every thread (the fleet benchmark's p99 ``/probe`` came from
them), and all its collections together took about 9 % of a core, for nothing collected.

So: what exists once start-up is done (modules, tables, the config) is frozen out of every
collection, and the young generation is collected after 10,000 allocations instead of 700, which
lets the short-lived objects of a scrape die by reference counting before a collection sees and
promotes them; fewer promoted objects is what makes full collections rare. The middle generation
is collected after 50 young collections instead of 10, for the same reason one step up: what the
scrapes in flight hold survives a young collection, and most of it is gone by the next middle one
if that comes later (1,000 gateways, a fleet benchmark run: collections took 3.6 s instead of
5.2 s, and a full one paused for about 60 ms instead of 136; the 10,000-scrape soak stays flat).
Cycles that other code makes (the HTTP server's connections) are still collected, a little later.
Why not further: at 50,000 young allocations with rarer middle and full collections, a
single-gateway exporter settled 7 MB higher after ~5,000 scrapes (the soak test's "no upward
trend" failed); at 10,000 it stays flat. Tests and library use keep Python's defaults: only
:func:`exporter.cli.main` applies this.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000  # allocations between young collections (Python's default: 700)
MIDDLE_THRESHOLD = 50  # young collections between middle ones (Python's default: 10)
OLD_THRESHOLD = 10  # middle collections between full ones, on top of Python's own 25 % rule (default)


def apply() -> None:
    """Freeze what start-up made and space collections out (see the module docstring)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
