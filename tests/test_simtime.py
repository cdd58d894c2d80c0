"""Every simulated site in the suite runs at a pinned time of day, never at the machine's hour.

Why: a site model started at the real clock made the suite red for part of every day (no sun at
night: empty solar panels in the end-to-end test). A new test that forgets to pin its start would
bring that back silently, on some hours only; this one fails at once, at any hour.
"""

from __future__ import annotations

import ast
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.simtime import DAY_START_ENV, SIM_START, day_start, local_time, next_local_time

TESTS = Path(__file__).parent
PINNING_KEYWORDS = {"start_time", "clock"}  # an injected clock pins the start too (start = clock())
UTC_8 = timezone(timedelta(hours=-8))


def _unpinned_site_models(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        if name in {"SiteModel", "SiteModel.pw3", "SiteModel.pw2_tedapi"}:
            keywords = {k.arg for k in node.keywords}
            if not keywords & PINNING_KEYWORDS:
                found.append(f"{path.relative_to(TESTS.parent)}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_every_site_model_in_the_suite_has_a_pinned_start() -> None:
    unpinned = [hit for path in sorted(TESTS.rglob("*.py")) for hit in _unpinned_site_models(path)]
    assert not unpinned, "pass start_time=tests.simtime.SIM_START (or an injected clock):\n" + "\n".join(unpinned)


def test_the_default_start_is_a_weekday_morning_in_daylight() -> None:
    local = datetime.fromtimestamp(SIM_START, UTC_8)
    assert (local.hour, local.minute, local.weekday()) == (10, 0, 2)


@pytest.mark.parametrize("hhmm", ["00:00", "06:00", "12:00", "18:00", "23:59"])
@pytest.mark.parametrize("now_hour", [0, 5, 12, 23])
def test_next_local_time_is_the_first_such_instant_not_in_the_past(hhmm: str, now_hour: int) -> None:
    now = datetime(2026, 12, 6, now_hour, 17, tzinfo=UTC_8).timestamp()
    start = next_local_time(hhmm, now)
    assert now <= start < now + 86400
    assert datetime.fromtimestamp(start, UTC_8).strftime("%H:%M") == hhmm


def test_next_local_time_keeps_an_exact_match() -> None:
    now = local_time("06:00")
    assert next_local_time("06:00", now) == now


def test_day_start_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DAY_START_ENV, raising=False)
    assert day_start("10:00") == "10:00"
    monkeypatch.setenv(DAY_START_ENV, "18:00")
    assert day_start("10:00") == "18:00"
    monkeypatch.setenv(DAY_START_ENV, "6pm")
    with pytest.raises(ValueError, match=DAY_START_ENV):
        day_start("10:00")
