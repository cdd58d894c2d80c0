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
    __slots__ = ("lock", "made")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.made: Made[T] | None = None


class PerAnswer(Generic[T]):
    """A memo of ``make()`` per answer identity (see the module docstring). Thread-safe."""

    def __init__(self) -> None:
        # Reentrant: a garbage collection inside the lock may free an answer, whose callback locks again.
        self._lock = threading.RLock()
        self._entries: dict[int, tuple[weakref.ref[Fetched], _Entry[T]]] = {}

    def get(self, answer: Fetched, make: Callable[[], T]) -> Made[T]:
        """The value ``make()`` returns for ``answer``, made at most once per answer; a
        :class:`FetchError` it raises is kept and returned (detached) the same way."""
        entry = self._entry(answer)
        with entry.lock:  # one decode per answer; others wait for it instead of decoding again
            if entry.made is not None:
                return Made(entry.made.value, entry.made.error, fresh=False)
            try:
                made: Made[T] = Made(make(), None, fresh=True)
            except FetchError as exc:
                made = Made(None, exc.detached(), fresh=True)
            entry.made = made
            return made

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
