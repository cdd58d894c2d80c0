"""WorkerPool on its own: the bound, idle workers leaving, resize and close.

Every wait here is on a condition the pool's jobs set, never a sleep of a guessed length.
"""

from __future__ import annotations

import functools
import threading

import pytest

from exporter.scrape.workers import PoolClosed, WorkerPool


def _until(predicate: object, timeout: float = 5.0) -> bool:
    """Wait for ``predicate()`` (polled on a short condition wait), at most ``timeout`` real seconds."""
    cond = threading.Condition()
    with cond:
        return cond.wait_for(predicate, timeout=timeout)  # type: ignore[arg-type]


def _wait(event: threading.Event) -> None:
    event.wait(5)


def test_at_most_max_workers_run_and_queued_jobs_run_later() -> None:
    pool = WorkerPool(2, "t", idle_seconds=30)
    release = threading.Event()
    running: list[int] = []
    lock = threading.Lock()
    done = threading.Semaphore(0)

    def job(i: int) -> None:
        with lock:
            running.append(i)
        release.wait(5)
        done.release()

    for i in range(5):
        pool.submit(functools.partial(job, i))
    assert _until(lambda: len(running) == 2)
    assert pool.size == 2 and len(running) == 2
    release.set()
    for _ in range(5):
        assert done.acquire(timeout=5)
    assert sorted(running) == [0, 1, 2, 3, 4] and pool.size <= 2
    pool.close()


def test_idle_workers_leave_at_once_with_idle_seconds_zero() -> None:
    pool = WorkerPool(3, "t", idle_seconds=0)
    finished = threading.Event()
    pool.submit(finished.set)
    assert finished.wait(5)
    assert _until(lambda: pool.size == 0)


def test_a_failing_job_does_not_kill_its_worker(caplog: pytest.LogCaptureFixture) -> None:
    pool = WorkerPool(1, "t", idle_seconds=30)
    after = threading.Event()

    def boom() -> None:
        raise RuntimeError("bug")

    pool.submit(boom)
    pool.submit(after.set)
    assert after.wait(5)
    assert any("job failed" in r.getMessage() for r in caplog.records)
    pool.close()


def test_resize_keeps_running_jobs_and_close_refuses_new_ones() -> None:
    pool = WorkerPool(1, "t", idle_seconds=30)
    gate, ran = threading.Event(), threading.Event()
    pool.submit(functools.partial(_wait, gate))
    pool.resize(3)
    pool.submit(ran.set)
    assert ran.wait(5), "a second worker took the job while the first is busy"
    gate.set()
    pool.close()
    with pytest.raises(PoolClosed):
        pool.submit(ran.set)
    with pytest.raises(ValueError):
        pool.resize(0)
