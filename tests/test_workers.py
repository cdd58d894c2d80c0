"""WorkerPool and its lanes: the bounds, idle workers leaving, resize and close.

Every wait here is on a condition the pool's jobs set, never a sleep of a guessed length.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable

import pytest

from exporter.scrape.workers import Lane, PoolClosed, WorkerPool
from tests.support.polling import wait_for


def _until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Whether ``predicate()`` came true within ``timeout`` real seconds (polled, briefly at first)."""
    try:
        wait_for("the pool's state", predicate, timeout=timeout, interval=0.02)
    except AssertionError:
        return False
    return True


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


class _Blockers:
    """Jobs that record themselves running and block until released, for counting what runs at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.running: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.done = threading.Semaphore(0)

    def job(self, lane: str) -> None:
        with self.lock:
            self.running[lane] = self.running.get(lane, 0) + 1
            self.peak[lane] = max(self.peak.get(lane, 0), self.running[lane])
        self.release.wait(5)
        with self.lock:
            self.running[lane] -= 1
        self.done.release()

    def now(self, lane: str) -> int:
        with self.lock:
            return self.running.get(lane, 0)


def test_a_hung_lane_takes_only_its_cap_and_the_other_lanes_still_run() -> None:
    pool = WorkerPool(6, "t", idle_seconds=30)
    hung, healthy = Lane(pool, 3, "hung"), Lane(pool, 3, "healthy")
    b = _Blockers()
    for _ in range(10):  # ten requests of a gateway that does not answer
        hung.submit(functools.partial(b.job, "hung"))
    assert _until(lambda: b.now("hung") == 3)
    ok = threading.Event()
    healthy.submit(ok.set)
    assert ok.wait(5), "a healthy gateway's request waited behind a hung one"
    assert b.now("hung") == 3 and pool.size <= 6
    b.release.set()
    for _ in range(10):
        assert b.done.acquire(timeout=5)
    assert b.peak["hung"] == 3, "the lane ran more than its cap at once"
    pool.close()


def test_threads_stay_at_the_pool_bound_whatever_the_number_of_lanes() -> None:
    pool = WorkerPool(4, "t", idle_seconds=30)
    lanes = [Lane(pool, 3, f"gw{i}") for i in range(50)]
    b = _Blockers()
    for lane in lanes:
        for _ in range(3):
            lane.submit(functools.partial(b.job, lane.name))
    assert _until(lambda: sum(b.now(lane.name) for lane in lanes) == 4)
    assert pool.size == 4
    b.release.set()
    for _ in range(150):
        assert b.done.acquire(timeout=5)
    assert pool.size <= 4 and all(lane.running == 0 for lane in lanes)
    pool.close()


def test_a_closed_lane_drops_its_waiting_jobs_and_refuses_new_ones() -> None:
    pool = WorkerPool(2, "t", idle_seconds=30)
    lane, other = Lane(pool, 1, "gone"), Lane(pool, 1, "other")
    gate, dropped, ran = threading.Event(), threading.Event(), threading.Event()
    lane.submit(functools.partial(_wait, gate))
    lane.submit(dropped.set)  # waits for the lane's one slot
    lane.close()
    with pytest.raises(PoolClosed):
        lane.submit(ran.set)
    gate.set()
    assert _until(lambda: lane.running == 0)
    assert not dropped.is_set()
    other.submit(ran.set)  # the pool and the other lanes go on
    assert ran.wait(5)
    pool.close()


def test_a_lane_resized_up_starts_its_waiting_jobs_now() -> None:
    pool = WorkerPool(4, "t", idle_seconds=30)
    lane = Lane(pool, 1, "gw")
    b = _Blockers()
    for _ in range(3):
        lane.submit(functools.partial(b.job, "gw"))
    assert _until(lambda: b.now("gw") == 1)
    lane.resize(3)
    assert _until(lambda: b.now("gw") == 3)
    b.release.set()
    for _ in range(3):
        assert b.done.acquire(timeout=5)
    with pytest.raises(ValueError):
        lane.resize(0)
    pool.close()
