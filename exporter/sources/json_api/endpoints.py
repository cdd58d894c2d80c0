"""The JSON endpoints a scrape reads, each an exact path with the customer session.

``/api/operation`` is read-only with GET (a POST changes the mode, and is never allowed).
"""

from __future__ import annotations

from exporter.gateway.allowlist import Allowed
from exporter.gateway.request import get

METERS_AGGREGATES = get("/api/meters/aggregates")
SOE = get("/api/system_status/soe")
GRID_STATUS = get("/api/system_status/grid_status")
OPERATION = get("/api/operation")
SITE_INFO = get("/api/site_info")
STATUS = get("/api/status")
SYSTEM_STATUS = get("/api/system_status")
POWERWALLS = get("/api/powerwalls")
SITEMASTER = get("/api/sitemaster")

# Fetched concurrently on every scrape, in this order of importance.
REQUESTS = (METERS_AGGREGATES, SOE, GRID_STATUS, OPERATION, SITE_INFO, STATUS, SYSTEM_STATUS, POWERWALLS, SITEMASTER)

ALLOWED = tuple(Allowed("GET", r.path) for r in REQUESTS)
