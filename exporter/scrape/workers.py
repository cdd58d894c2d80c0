"""A small bounded pool of daemon threads: one per gateway, and one for the HTTP server's requests.

Why not ``concurrent.futures.ThreadPoolExecutor``:

* Its workers are joined at interpreter exit, so a SIGTERM during a scrape waited for every gateway
  request in flight (29 s with ``timeout_seconds: 30``). Gateway requests are reads that are safe to
  abandon; our workers are daemon threads and the process exits at once.
* Its threads never exit. A pool per gateway keeps one stuck gateway from taking capacity another
  needs, and idle workers here leave after ``idle_seconds`` (0: as soon as the queue is empty, what
  the HTTP server uses, so at rest it holds no thread and the unit's ``TasksMax`` is spent only on
  running requests) so a large fleet does not keep hundreds of parked threads.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

log = logging.getLogger(__name__)

Job = Callable[[], None]


class PoolClosed(RuntimeError):
    """The pool no longer takes jobs (the exporter is shutting down)."""


class WorkerPool:
    """Run jobs on at most ``max_workers`` daemon threads, started on demand."""

    def __init__(self, max_workers: int, name: str, idle_seconds: float = 60.0) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be >= 1")
        self.max_workers = max_workers
        self.name = name
        self.idle_seconds = idle_seconds
        self._jobs: deque[Job] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._workers = 0
        self._idle = 0
        self._closed = False
        self._seq = 0

    def submit(self, job: Job) -> None:
        """Queue ``job``; raises :class:`PoolClosed` after :meth:`close`. Jobs must not raise."""
        with self._cond:
            if self._closed:
                raise PoolClosed(f"worker pool {self.name} is closed")
            self._jobs.append(job)
            if self._idle > len(self._jobs) - 1:
                self._cond.notify()
                return
            if self._workers >= self.max_workers:
                return  # a busy worker takes it when it is done
            self._workers += 1
            self._seq += 1
            seq = self._seq
        try:
            threading.Thread(target=self._work, name=f"{self.name}-{seq}", daemon=True).start()
        except RuntimeError:  # "can't start new thread": e.g. the unit's TasksMax is reached
            with self._cond:
                self._workers -= 1
                if self._workers == 0 and self._jobs:  # nobody else will pick it up
                    self._jobs.pop()
                    raise

    @property
    def size(self) -> int:
        """Worker threads alive now (for tests and the thread budget)."""
        with self._cond:
            return self._workers

    def resize(self, max_workers: int) -> None:
        """Change the bound in place, keeping queued and running jobs (a config reload changes a
        gateway's share of ``max_concurrent_requests`` without replacing its gateway state).

        Shrinking never interrupts a job: surplus workers leave when they next look for work.
        """
        if max_workers < 1:
            raise ValueError("max_workers must be >= 1")
        with self._cond:
            self.max_workers = max_workers
            self._cond.notify_all()  # idle surplus workers leave now rather than at their idle timeout

    def close(self) -> None:
        """Take no more jobs and drop queued ones; never waits for running jobs."""
        with self._cond:
            self._closed = True
            self._jobs.clear()
            self._cond.notify_all()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._closed and self._workers <= self.max_workers:
                    self._idle += 1
                    woke = self._cond.wait(timeout=self.idle_seconds)
                    self._idle -= 1
                    if not woke and not self._jobs:
                        self._workers -= 1
                        return
                if self._closed or self._workers > self.max_workers:  # closed, or surplus after a resize
                    self._workers -= 1
                    if self._jobs:
                        self._cond.notify()  # a job this surplus worker was woken for goes to another
                    return
                job = self._jobs.popleft()
            try:
                job()
            except Exception:  # a job is expected to report its own failures; this is a bug
                log.exception("worker pool %s: job failed", self.name)
