"""What an answer decodes to, made once per answer and shared by every scrape that is handed it.

The transport hands every scraper the same :class:`~exporter.gateway.outcomes.Fetched` object while
an answer is reused (single flight and the minimum interval). Decoding it again in each scrape cost
memory that grew with the number of concurrent scrapers: a 3.9 MB TEDAPI answer is about 13 MB of
Python objects once parsed, and as much again as devices and series, per scrape (the body cap bounds
the bytes, not what decoding makes of them). So the decoded result, or the failure to decode, is kept
for as long as the answer object itself lives, keyed by its identity:

* concurrent callers with the same answer wait for one decode (single flight) instead of each making
  their own;
* an entry goes when its answer goes (a weak reference: the transport's cache drops the answer when a
  newer one arrives and the last scrape holding it ends), so nothing here outlives what it decoded and
  no size bound is needed beyond the transport's own;
* the caller learns whether this call made the result (``fresh``), so a failure is counted and logged
  once per answer, not once per scrape that reuses it.

The shared value is read by several scrapes at once: callers treat it as read-only.

A memo made with ``keep=False`` holds a value only while someone uses it: :meth:`PerAnswer.get` counts a
user and :meth:`PerAnswer.release` uncounts one, and the last release drops the value (a failure stays
with its answer, so it is still counted once). The scraper's memo of every answer's series is of
this kind. Kept for the answer's whole reuse interval (5 s), those series were about 1,300 tracked
objects per probe that lived 6 s: at 1,000 gateways, 45 MB and the young collections that walked
140,000 to 240,000 objects every 10 to 15 s, pauses of 130 to 210 ms that made the slowest probes.
Concurrent scrapes still share one decode; a scrape that comes after the last one ended (an HA
pair's second scraper) decodes the kept bytes again: the exporter's CPU, never the gateway's.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Generic, TypeVar

from exporter.gateway.outcomes import Fetched, FetchError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Made(Generic[T]):
    """One answer's decoded value, or the failure that stopped it; ``fresh``: this call made it."""

    value: T | None
    error: FetchError | None
    fresh: bool


class _Entry(Generic[T]):
    __slots__ = ("lock", "made", "made_before", "users")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.made: Made[T] | None = None
        self.made_before = False  # a value was made for this answer (and maybe dropped since)
        self.users = 0  # callers of get() not yet released (counted with keep=False only)


class PerAnswer(Generic[T]):
    """A memo of ``make()`` per answer identity (see the module docstring). Thread-safe.

    ``keep``: a value stays as long as its answer; False: only while a caller that got it has not
    released it (every :meth:`get` is then paired with a :meth:`release`).
    """

    def __init__(self, keep: bool = True) -> None:
        self._keep = keep
        # Reentrant: a garbage collection inside the lock may free an answer, whose callback locks again.
        self._lock = threading.RLock()
        self._entries: dict[int, tuple[weakref.ref[Fetched], _Entry[T]]] = {}

    def get(self, answer: Fetched, make: Callable[[], T], make_again: Callable[[], T] | None = None) -> Made[T]:
        """The value ``make()`` returns for ``answer``, made at most once per answer (without ``keep``:
        once per stretch of use, by ``make_again`` after the first if given); a :class:`FetchError`
        it raises is kept for the answer's life and returned (detached) the same way, so only one
        call learns it ``fresh``."""
        entry = self._entry(answer)
        with entry.lock:  # one decode per answer; others wait for it instead of decoding again
            entry.users += not self._keep
            if entry.made is not None:
                return Made(entry.made.value, entry.made.error, fresh=False)
            step = make_again if entry.made_before and make_again is not None else make
            try:
                made: Made[T] = Made(step(), None, fresh=True)
            except FetchError as exc:
                made = Made(None, exc.detached(), fresh=True)
            entry.made = made
            entry.made_before = True
            return made

    def release(self, answer: Fetched) -> None:
        """A caller of :meth:`get` is done with ``answer``'s value; without ``keep``, the last one's
        release drops it (a kept failure stays). Nothing to do with ``keep``."""
        if self._keep:
            return
        with self._lock:
            found = self._entries.get(id(answer))
        if found is None or found[0]() is not answer:
            return
        entry = found[1]
        with entry.lock:
            entry.users = max(0, entry.users - 1)
            if entry.users == 0 and entry.made is not None and entry.made.error is None:
                entry.made = None

    def _entry(self, answer: Fetched) -> _Entry[T]:
        key = id(answer)
        with self._lock:
            found = self._entries.get(key)
            if found is not None and found[0]() is answer:
                return found[1]
            entry: _Entry[T] = _Entry()
            # The callback runs while the answer is being freed, before its id can be reused.
            self._entries[key] = (weakref.ref(answer, partial(self._forget, key)), entry)
            return entry

    def _forget(self, key: int, _: weakref.ref[Fetched]) -> None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None and found[0]() is None:
                del self._entries[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
