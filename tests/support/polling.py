"""The one way a test waits for something another thread or process does: poll, with a bound.

Why: a fixed ``time.sleep`` is either too short on a loaded CI machine (a flaky test) or too long
everywhere else (a slow suite). Polling ends as soon as the condition holds, and the bound turns a
condition that never holds into a failure that says what was awaited, instead of a hang or a test
that goes on as if it held.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

FIRST_INTERVAL = 0.01


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    timeout: float = 10.0,
    interval: float = 0.25,
    *,
    retry_on: tuple[type[BaseException], ...] = (),
    details: Callable[[], str] | None = None,
) -> T:
    """Call ``probe`` until it returns something true (``True``, a non-empty answer); return that.

    Truth, not "not ``None``": a probe returning a query's result list must keep waiting while the
    list is empty (an empty list once ended such waits at the first poll, so they never waited).

    Fails (``AssertionError``) after ``timeout`` seconds, naming ``what`` was awaited, the probe's last
    answer and last error, and ``details()`` (a log tail, say) when given. An exception of a type in
    ``retry_on`` counts as "not yet" (a server still starting refuses connections); any other
    exception, an assertion of the probe's included, ends the wait at once.

    The first polls come quickly (most conditions hold within milliseconds), then the pause doubles up
    to ``interval``, so a long wait on a server does not hammer it.
    """
    deadline = time.monotonic() + timeout
    pause = min(FIRST_INTERVAL, interval)
    result: T | None = None
    last_error: BaseException | None = None
    while True:
        try:
            result = probe()
            if result:
                return result
        except retry_on as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            message = f"timed out after {timeout:g} s waiting for {what} (last answer: {result!r}"
            message += f", last error: {last_error!r})" if last_error is not None else ")"
            if details is not None:
                message += "\n" + details()
            raise AssertionError(message)
        time.sleep(pause)
        pause = min(pause * 2, interval)
