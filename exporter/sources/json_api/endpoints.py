"""The JSON endpoints a scrape reads, each an exact path with the customer session.

``/api/operation`` is read-only with GET (a POST changes the mode, and is never allowed).
"""

from __future__ import annotations

from exporter.gateway.allowlist import Allowed
from exporter.gateway.request import Request, get
from exporter.site.shapes import Shape


def _not_on_powerwall3(path: str) -> Request:
    """A Powerwall 3 answers 404 here: "not supported" (asked again every 10 min), not a failure."""
    return get(path, optional=True, absent_on_500=False)


# The three every generation serves, Powerwall 3 included.
METERS_AGGREGATES = get(Shape.AGGREGATES.value)
SOE = get(Shape.SOE.value)
GRID_STATUS = get(Shape.GRID_STATUS.value)
OPERATION = _not_on_powerwall3(Shape.OPERATION.value)
SITE_INFO = _not_on_powerwall3(Shape.SITE_INFO.value)
STATUS = _not_on_powerwall3(Shape.STATUS.value)
SYSTEM_STATUS = _not_on_powerwall3(Shape.SYSTEM_STATUS.value)
POWERWALLS = _not_on_powerwall3(Shape.POWERWALLS.value)
SITEMASTER = _not_on_powerwall3(Shape.SITEMASTER.value)

# Fetched concurrently on every scrape, in this order of importance.
REQUESTS = (METERS_AGGREGATES, SOE, GRID_STATUS, OPERATION, SITE_INFO, STATUS, SYSTEM_STATUS, POWERWALLS, SITEMASTER)

ALLOWED = tuple(Allowed("GET", r.path) for r in REQUESTS)
