"""Every gateway path this exporter may ever request, and which of them a scrape fetches.

This is the single place that decides what reaches the gateway. The client refuses any request
whose method and exact path are not here *before* a socket is opened: the gateway has endpoints
that stop the system or change its mode, some of them plain GETs (``/api/sitemaster/stop``,
``/api/config/completed``), so "GET only" is not a sufficient rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

LOGIN_PATH = "/api/login/Basic"


class Body(Enum):
    JSON = "json"
    PROTOBUF = "protobuf"


@dataclass(frozen=True, slots=True)
class Endpoint:
    path: str
    body: Body = Body.JSON
    # Optional endpoints are absent on some firmware or hardware (404, or 500 for a sub-feature the
    # site lacks); those answers are cached negatively instead of counted as failures.
    optional: bool = False


METERS_AGGREGATES = Endpoint("/api/meters/aggregates")
SOE = Endpoint("/api/system_status/soe")
GRID_STATUS = Endpoint("/api/system_status/grid_status")
OPERATION = Endpoint("/api/operation")
SITE_INFO = Endpoint("/api/site_info")
STATUS = Endpoint("/api/status")
SYSTEM_STATUS = Endpoint("/api/system_status")
POWERWALLS = Endpoint("/api/powerwalls")
SITEMASTER = Endpoint("/api/sitemaster")
VITALS = Endpoint("/api/devices/vitals", Body.PROTOBUF, optional=True)
SOLAR_POWERWALL = Endpoint("/api/solar_powerwall", optional=True)

# Fetched concurrently on every scrape, in this order of importance.
SCRAPE_ENDPOINTS: tuple[Endpoint, ...] = (
    METERS_AGGREGATES,
    SOE,
    GRID_STATUS,
    OPERATION,
    SITE_INFO,
    STATUS,
    SYSTEM_STATUS,
    POWERWALLS,
    SITEMASTER,
    VITALS,
    SOLAR_POWERWALL,
)

# Exact paths, no query strings, no prefixes. frozenset so nothing can add to it at run time.
READ_ALLOWLIST: frozenset[str] = frozenset(e.path for e in SCRAPE_ENDPOINTS)

# The only non-GET request: POST to the login path. Never with force_sm_off (it stopped the system
# on old firmware).
ALLOWED_REQUESTS: frozenset[tuple[str, str]] = frozenset({("POST", LOGIN_PATH)} | {("GET", p) for p in READ_ALLOWLIST})

# Known to change the system. Listed so tests can prove none of them is ever reachable.
FORBIDDEN_PATHS: frozenset[str] = frozenset(
    {
        "/api/sitemaster/stop",
        "/api/sitemaster/run",
        "/api/sitemaster/run_for_commissioning",
        "/api/config/completed",
        "/api/operation",  # POST changes the mode; GET is allowed and is in the allow-list
        "/api/v2/islanding/mode",
        "/api/logging",
        "/api/customer/registration/legal",
        "/api/system/networks/ping_test",
        "/api/logout",
    }
)


def is_allowed(method: str, path: str) -> bool:
    return (method.upper(), path) in ALLOWED_REQUESTS
