"""The TEDAPI source's own series: whether it runs, its signed queries, and the health of its paths."""

from __future__ import annotations

from exporter.metrics.metricset import counter, gauge, info

TEDAPI_ENABLED = gauge(
    "powerwall_tedapi_enabled", "1 when TEDAPI is configured and usable signed queries were loaded, else 0."
)
QUERY_INFO = info(
    "powerwall_tedapi_query_info",
    "A signed TEDAPI query loaded for a role: operation, origin, sha256 of the signed bytes, "
    "whether the signature verifies against Tesla's key; always 1.",
)
QUERY_ERRORS = gauge(
    "powerwall_tedapi_query_errors", "GraphQL errors the gateway listed in the last answer to a query."
)
V1R_FAULTS = counter(
    "powerwall_tedapi_v1r_faults_total",
    "v1r answers that refused the request, by fault (Tesla's name in snake case; authorization_not_verified: "
    "a registered key not yet verified at the unit; empty_answer: neither data nor fault).",
)
V1R_KEY_ACCEPTED = gauge(
    "powerwall_tedapi_v1r_key_accepted",
    "1 when the gateway accepted the v1r key in its last verdict, 0 after a key fault (unknown, inactive, "
    "not verified, refused signature); absent before the first verdict.",
)
CLOCK_OFFSET = gauge(
    "powerwall_tedapi_clock_offset_seconds",
    "The gateway's clock minus this host's, from the Date header of its v1r answers (v1r signatures expire "
    "on the gateway's clock).",
)
PATH_INFO = info(
    "powerwall_tedapi_path_info",
    "Which TEDAPI path (v1r: signed, on the home LAN; wifi: the gateway's access point) served each unit's "
    "last answer; always 1.",
)
