"""The exporter's own series about each scrape: whether the gateway answered, per-request outcomes and
durations, the transport's cumulative counts, build and reload state.

Apart from the scrape so that a reader finds every health series (and the README's table of them)
in one file, and so that the scraper and the gateway set share these definitions without importing
each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from exporter.gateway.outcomes import REASONS
from exporter.gateway.transport import TransportStats
from exporter.metrics.metricset import MetricSet, counter, gauge, info

UP = gauge("powerwall_up", "1 when the gateway answered and login worked in this scrape, else 0.")
ENDPOINT_SUCCESS = gauge("powerwall_scrape_endpoint_success", "1 when the endpoint delivered usable data.")
ENDPOINT_DURATION = gauge("powerwall_scrape_endpoint_duration_seconds", "Gateway request time per endpoint.")
SCRAPE_DURATION = gauge("powerwall_scrape_duration_seconds", "Time to collect this gateway.")
BUILD_INFO = info("powerwall_exporter_build_info", "Version of powerwall-exporter.")
REQUESTS_TOTAL = counter(
    "powerwall_gateway_requests_total",
    'Requests sent to the gateway: outcome answered with the HTTP code, else the transport failure and code "".',
)
LOGIN_ATTEMPTS = counter("powerwall_login_attempts_total", "Login attempts, by result.")
COOLDOWN = gauge("powerwall_gateway_cooldown_seconds", "Seconds until the exporter talks to the gateway again.")
ERRORS_TOTAL = counter(
    "powerwall_scrape_endpoint_errors_total", "Failed endpoint fetches, by endpoint and reason (see README)."
)
RELOAD_OK = gauge(
    "powerwall_exporter_config_last_reload_successful",
    "1 when the last configuration load (start-up, SIGHUP or POST /-/reload) was applied, 0 when it was refused.",
)
RELOAD_TIME = gauge(
    "powerwall_exporter_config_last_reload_success_timestamp_seconds",
    "Unix time of the last successful configuration load, the start-up load included.",
)


ErrorSeries = tuple[tuple[tuple[str, str], tuple[tuple[str, str], ...]], ...]
# The error counter's series for a scrape's request labels: every (label, reason) in sorted order
# with its label pairs. The same few label sets come back every scrape of every gateway, and making
# 130 keys and pairs and sorting them was most of this function's time. Bounded: cleared when full.
_ERROR_SERIES: dict[tuple[str, ...], ErrorSeries] = {}
_MAX_ERROR_SERIES = 256


def _error_series(labels: tuple[str, ...], errors: Mapping[tuple[str, str], int]) -> ErrorSeries:
    """The series to write: one per request label and reason, plus any label with errors counted
    earlier that this scrape did not ask (all in sorted order, as before)."""
    series = _ERROR_SERIES.get(labels)
    if series is None:
        series = tuple(
            ((label, reason), (("endpoint", label), ("reason", reason)))
            for label in labels
            for reason in sorted(REASONS)
        )
        if len(_ERROR_SERIES) >= _MAX_ERROR_SERIES:
            _ERROR_SERIES.clear()
        _ERROR_SERIES[labels] = series
    asked = set(labels)
    if all(label in asked for label, _ in errors):
        return series
    keys = {key for key, _ in series} | set(errors)
    return tuple((key, (("endpoint", key[0]), ("reason", key[1]))) for key in sorted(keys))


def transport_metrics(stats: TransportStats, ms: MetricSet, labels: Iterable[str] = ()) -> None:
    """Cumulative request/login/error counters and the cooldown gauge of one gateway.

    ``code`` carries HTTP status codes only: a request the gateway answered is
    ``outcome="answered", code="<status>"``, one that got no answer ``outcome="<reason>", code=""``.
    The error counter starts at 0 for every request label of this scrape (``labels``) and every
    reason, so ``increase()`` sees the first failure instead of a series that appears at 1.
    """
    for (label, code), n in sorted(stats.requests.items()):
        answered = code.isdigit()
        outcome = "answered" if answered else code
        ms.add_pairs(REQUESTS_TOTAL, n, (("endpoint", label), ("outcome", outcome), ("code", code if answered else "")))
    for result, n in stats.logins.items():
        ms.add(LOGIN_ATTEMPTS, n, {"result": result})
    errors = stats.errors
    for key, pairs in _error_series(tuple(sorted(set(labels))), errors):
        ms.add_pairs(ERRORS_TOTAL, errors.get(key, 0), pairs)
    ms.add(COOLDOWN, stats.cooldown_seconds)
