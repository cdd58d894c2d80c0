"""The JSON endpoints a scrape reads, each an exact path with the customer session.

``/api/operation`` is read-only with GET (a POST changes the mode, and is never allowed).
"""

from __future__ import annotations

from exporter.gateway.allowlist import Allowed
from exporter.gateway.outcomes import Fetched, FetchError
from exporter.gateway.request import Request, ReuseFor, get
from exporter.site.shapes import Shape
from exporter.site.tables import SITE_SETTINGS

# The site info is the site's configuration (names, nominal energy and power, grid code): it changes
# when an installer recommissions the site, not between scrapes. An answer that carries nothing else
# is reused for 10 minutes, like TEDAPI's config; at 30 s scrapes that is one request in ten fewer per
# scrape, and one keep-alive connection fewer held per gateway (most of a fleet replica's memory).
# Older firmware also sends the grid frequency it measures there (``measured_frequency``): such an
# answer, or one with any number not known as a setting, is read every scrape. A reused answer is not
# contact with the gateway (exporter.scrape.gateway): a gateway that stops answering is down at once.
SITE_INFO_INTERVAL_SECONDS = 600.0


def _site_info_reuse(answer: Fetched) -> float | None:
    """10 minutes for a site info of settings only; None (the gateway's interval) for anything else."""
    try:
        obj = answer.json_object()
    except FetchError:  # it does not decode: the source's collect() says so
        return None
    for key, value in obj.items():
        if isinstance(value, (int, float)) and key not in SITE_SETTINGS:  # bools too: exported as numbers
            return None
    return SITE_INFO_INTERVAL_SECONDS


def _not_on_powerwall3(path: str, reuse_for: ReuseFor | None = None) -> Request:
    """A Powerwall 3 answers 404 here: "not supported" (asked again every 10 min), not a failure."""
    return get(path, optional=True, absent_on_500=False, reuse_for=reuse_for)


# The three every generation serves, Powerwall 3 included.
METERS_AGGREGATES = get(Shape.AGGREGATES.value)
SOE = get(Shape.SOE.value)
GRID_STATUS = get(Shape.GRID_STATUS.value)
OPERATION = _not_on_powerwall3(Shape.OPERATION.value)
SITE_INFO = _not_on_powerwall3(Shape.SITE_INFO.value, _site_info_reuse)
STATUS = _not_on_powerwall3(Shape.STATUS.value)
SYSTEM_STATUS = _not_on_powerwall3(Shape.SYSTEM_STATUS.value)
POWERWALLS = _not_on_powerwall3(Shape.POWERWALLS.value)
SITEMASTER = _not_on_powerwall3(Shape.SITEMASTER.value)

# Fetched concurrently on every scrape (the site info when its answer is not reused), in this order of importance.
REQUESTS = (METERS_AGGREGATES, SOE, GRID_STATUS, OPERATION, SITE_INFO, STATUS, SYSTEM_STATUS, POWERWALLS, SITEMASTER)

ALLOWED = tuple(Allowed("GET", r.path) for r in REQUESTS)
