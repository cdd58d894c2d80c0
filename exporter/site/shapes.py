"""The site-level answers, by shape: each named by the JSON API path that serves it on a gateway that has it.

A str enum, so a shape is also its path: the JSON API requests it there, TEDAPI rebuilds the same
shape where a Powerwall 3 answers 404, and the mappers, the merge and the accounting all look it up
by this one name.
"""

from __future__ import annotations

from enum import Enum


class Shape(str, Enum):
    AGGREGATES = "/api/meters/aggregates"
    SOE = "/api/system_status/soe"
    GRID_STATUS = "/api/system_status/grid_status"
    OPERATION = "/api/operation"
    SITE_INFO = "/api/site_info"
    STATUS = "/api/status"
    SYSTEM_STATUS = "/api/system_status"
    POWERWALLS = "/api/powerwalls"
    SITEMASTER = "/api/sitemaster"

    def __str__(self) -> str:
        return self.value
