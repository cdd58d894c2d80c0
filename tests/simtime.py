"""Simulated time of day for every test that runs a site model.

Why: a ``SiteModel`` without ``start_time`` starts its simulated day at the machine's real clock, so a
test that needs the sun (solar, strings, self-consumption) passed by day and failed by night. Every
test pins its simulated start here instead, so its outcome does not depend on when it runs.

``POWERWALL_TEST_DAY_START=HH:MM`` moves the start of the tests that honour it (the end-to-end stack and
the accelerated accounting day) to another local time of day, to show they hold at any hour (README,
Development). The model's clock is fixed at UTC-8 (``SiteModel.utc_offset_hours``), so "local" needs no
time zone database.
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime, timedelta, timezone

DAY_START_ENV = "POWERWALL_TEST_DAY_START"
SITE_UTC_OFFSET_HOURS = -8.0  # SiteModel's default
SIM_DATE = date(2026, 6, 17)  # a Wednesday near midsummer: a long day, and a weekday for tariffs
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def _seconds_of_day(hhmm: str) -> int:
    m = _HHMM.fullmatch(hhmm)
    if m is None:
        raise ValueError(f"{DAY_START_ENV}: expected HH:MM (00:00 to 23:59), got {hhmm!r}")
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60


def local_time(hhmm: str, on: date = SIM_DATE, utc_offset_hours: float = SITE_UTC_OFFSET_HOURS) -> float:
    """Unix time of ``hhmm`` local on day ``on`` at the model's fixed UTC offset."""
    zone = timezone(timedelta(hours=utc_offset_hours))
    midnight = datetime(on.year, on.month, on.day, tzinfo=zone).timestamp()
    return midnight + _seconds_of_day(hhmm)


def next_local_time(hhmm: str, now: float, utc_offset_hours: float = SITE_UTC_OFFSET_HOURS) -> float:
    """The first instant at or after ``now`` whose local time of day is ``hhmm``.

    For stacks whose Prometheus compares the gateway's timestamps with its own clock (device
    last-communication alerts): the simulated time must not lie in the past, only its hour is pinned.
    """
    offset = utc_offset_hours * 3600.0
    local_now = now + offset
    start = local_now - local_now % 86400.0 + _seconds_of_day(hhmm)
    if start < local_now:
        start += 86400.0
    return start - offset


def day_start(default: str) -> str:
    """The local start of day a test runs at: ``POWERWALL_TEST_DAY_START`` if set, else ``default``."""
    value = os.environ.get(DAY_START_ENV, "").strip() or default
    _seconds_of_day(value)  # fail loudly on a typo rather than run at some other hour
    return value


# The start of every other simulated site in the suite: mid-morning, so the sun is up for hours.
SIM_START = local_time("10:00")
