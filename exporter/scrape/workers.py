"""Bounded pools of daemon threads: one for every gateway's requests (each gateway in its own
:class:`Lane`), and one for the HTTP server's requests.

Why not ``concurrent.futures.ThreadPoolExecutor``:

* Its workers are joined at interpreter exit, so a SIGTERM during a scrape waited for every gateway
  request in flight (29 s with ``timeout_seconds: 30``). Gateway requests are reads that are safe to
  abandon; our workers are daemon threads and the process exits at once.
* Its threads never exit. Idle workers here leave after ``idle_seconds`` (0: as soon as the queue is
  empty), so a large fleet does not keep hundreds of parked threads after a burst.

Why one pool with a lane per gateway rather than a pool per gateway (what we had): the threads of a
pool per gateway grow with the fleet, and the even split of ``max_concurrent_requests`` that kept
them bounded left one worker per gateway at 500 gateways, so a probe's ten requests ran one after
another (3 s at 300 ms each). A lane lets one gateway's requests run side by side up to its own cap,
while the threads of all gateways together stay at the pool's bound, whatever the number of gateways.
The cap is also what keeps a gateway that hangs until its timeout from taking the capacity others need.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from functools import partial

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
    def queued(self) -> int:
        """Jobs waiting for a worker (the HTTP server refuses new requests beyond a bound)."""
        with self._cond:
            return len(self._jobs)

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


class Lane:
    """One gateway's share of a shared :class:`WorkerPool`: at most ``cap`` of its jobs run at once.

    Jobs over the cap wait here, not in the pool's queue, so they never hold a pool slot another
    gateway could use; each job that ends hands its slot to the lane's next job. Closing the lane
    (the gateway was removed or replaced) drops its waiting jobs and leaves the pool and the other
    lanes alone.
    """

    def __init__(self, pool: WorkerPool, cap: int, name: str) -> None:
        if cap < 1:
            raise ValueError("cap must be >= 1")
        self.pool = pool
        self.name = name
        self._cap = cap
        self._lock = threading.Lock()
        # A list, not a deque: a lane per gateway, nearly always empty, and an empty deque is 600 bytes.
        self._waiting: list[Job] = []
        self._running = 0
        self._closed = False

    @property
    def max_workers(self) -> int:
        """The cap (named like the pool's bound: a reload resizes both the same way)."""
        return self._cap

    @property
    def running(self) -> int:
        with self._lock:
            return self._running

    def submit(self, job: Job) -> None:
        """Run ``job`` when the lane has a free slot; raises :class:`PoolClosed` after :meth:`close`."""
        with self._lock:
            if self._closed:
                raise PoolClosed(f"lane {self.name} is closed")
            if self._running >= self._cap:
                self._waiting.append(job)
                return
            self._running += 1
        self._start(job)

    def resize(self, cap: int) -> None:
        """Change the cap in place; a larger one starts waiting jobs now, a smaller one takes effect as
        running jobs end (none is interrupted)."""
        if cap < 1:
            raise ValueError("cap must be >= 1")
        start: list[Job] = []
        with self._lock:
            self._cap = cap
            while self._waiting and self._running < self._cap:
                self._running += 1
                start.append(self._waiting.pop(0))
        for job in start:
            self._start(job)

    def close(self) -> None:
        """Take no more jobs and drop waiting ones; running ones finish on their own."""
        with self._lock:
            self._closed = True
            self._waiting.clear()

    def _start(self, job: Job) -> None:
        try:
            self.pool.submit(partial(self._run, job))
        except BaseException:
            with self._lock:
                self._running -= 1
            raise

    def _run(self, job: Job) -> None:
        """Run ``job``, then in the same thread each job that waited for this slot: the slot passes from
        job to job without going back through the pool's queue (and without a thread of its own)."""
        next_job: Job | None = job
        while next_job is not None:
            try:
                next_job()
            except Exception:  # a job is expected to report its own failures; this is a bug
                log.exception("lane %s: job failed", self.name)
            next_job = self._next()

    def _next(self) -> Job | None:
        """The waiting job that takes over the slot of the job that just ended, or None (slot freed)."""
        with self._lock:
            if self._waiting and not self._closed and self._running <= self._cap:
                return self._waiting.pop(0)
            self._running -= 1
            return None
