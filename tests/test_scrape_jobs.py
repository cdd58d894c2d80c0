"""ScrapeJobs on its own: follow-ups, the bound on requests per scrape, the deadline.

The transport here is a stand-in with the one method ScrapeJobs calls (``begin``), answering from a
table the test controls, so each rule is seen without a gateway: the whole-scrape behaviour is in
the simulator-backed suites.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, cast

from exporter.gateway.outcomes import Fetched, FetchError, Result
from exporter.gateway.request import Request
from exporter.gateway.transport import GatewayTransport
from exporter.scrape.jobs import MAX_JOBS_PER_SCRAPE, ScrapeJobs
from exporter.sources.base import Output, RequestView, Source
from tests.clocks import ManualClock


class Transport:
    """``begin`` answers each request with 200 and its path as body, or leaves it open (``hold``)."""

    def __init__(self, hold: Sequence[str] = ()) -> None:
        self.hold = set(hold)
        self.begun: list[str] = []
        self.open: dict[str, Future[Result]] = {}

    def now(self) -> float:
        """The transport's clock (answers here are all dated 0.0)."""
        return 0.0

    def begin_many(
        self, requests: Sequence[Request], deadline: float, run: Callable[[Callable[[], None]], None]
    ) -> list[Future[Result]]:
        return [self.begin(request, deadline, run) for request in requests]

    def begin(self, request: Request, deadline: float, run: Callable[[Callable[[], None]], None]) -> Future[Result]:
        self.begun.append(request.path)
        future: Future[Result] = Future()
        if request.path in self.hold:
            self.open[request.path] = future
        else:
            run(lambda: future.set_result(Fetched(request.path, 200, request.path.encode(), 0.0, 0.0)))
        return future


class Chain(Source):
    """A source whose answer to /a asks for /b and /c, /b for /d, /c for /e, and /loop for itself and /loop/<n>."""

    name = "chain"
    FOLLOW = {"/a": ("/b", "/c"), "/b": ("/d",), "/c": ("/e",)}

    def requests(self, view: RequestView) -> Sequence[Request]:
        return ()

    def followups(self, request: Request, answer: Fetched) -> Sequence[Request]:
        if request.path.startswith("/loop"):
            n = int(request.path.rpartition("/")[2] or 0) if request.path != "/loop" else 0
            return (Request("GET", "/loop"), Request("GET", f"/loop/{n + 1}"))
        if request.path == "/bad":
            raise FetchError("decode", "does not decode")
        if request.path == "/bug":
            raise RuntimeError("a bug in followups")
        return tuple(Request("GET", p) for p in self.FOLLOW.get(request.path, ()))

    def collect(self, request: Request, answer: Fetched, out: Output) -> None:
        return None


def _jobs(transport: Transport, clock: ManualClock, budget: float = 5.0) -> ScrapeJobs:
    run: Callable[[Callable[[], None]], None] = lambda job: job()  # noqa: E731 - inline runner
    return ScrapeJobs(cast(GatewayTransport, transport), run, "gw", clock() + budget, clock)


def _source() -> Chain:
    return Chain(cast(Any, None))


def test_follow_ups_start_as_answers_arrive_and_the_scrape_waits_for_all() -> None:
    transport, clock = Transport(), ManualClock()
    jobs = _jobs(transport, clock)
    jobs.add(_source(), Request("GET", "/a"))
    jobs.started()
    assert jobs.wait()
    assert transport.begun == ["/a", "/b", "/c", "/d", "/e"]  # an answer's follow-ups start together
    assert [r.path for _, r, _ in jobs.jobs] == transport.begun
    assert jobs.finished_at == clock()


def test_jobs_are_listed_breadth_first_whatever_order_the_answers_came_in() -> None:
    """Sources collect their answers in this order (TEDAPI reads the firmware before the device
    answers that carry it): it must not change with which answer happened to come back first."""
    transport, clock = Transport(hold=["/b"]), ManualClock()
    jobs = _jobs(transport, clock)
    jobs.add(_source(), Request("GET", "/a"))
    jobs.started()
    transport.open["/b"].set_result(Fetched("/b", 200, b"/b", 0.0, 0.0))
    assert jobs.wait()
    assert transport.begun == ["/a", "/b", "/c", "/e", "/d"]  # /c answered (and asked for /e) before /b
    assert [r.path for _, r, _ in jobs.jobs] == ["/a", "/b", "/c", "/d", "/e"]


def test_a_request_is_asked_once_per_scrape_and_the_scrape_is_bounded() -> None:
    transport, clock = Transport(), ManualClock()
    jobs = _jobs(transport, clock)
    jobs.add(_source(), Request("GET", "/loop"))
    jobs.add(_source(), Request("GET", "/loop"))
    jobs.started()
    assert jobs.wait()
    assert len(transport.begun) == MAX_JOBS_PER_SCRAPE
    assert transport.begun.count("/loop") == 1


def test_failed_follow_ups_cost_the_follow_ups_only() -> None:
    transport, clock = Transport(), ManualClock()
    jobs = _jobs(transport, clock)
    for path in ("/bad", "/bug", "/a"):
        jobs.add(_source(), Request("GET", path))
    jobs.started()
    assert jobs.wait()
    assert set(transport.begun) == {"/bad", "/bug", "/a", "/b", "/c", "/d", "/e"}


def test_the_deadline_ends_the_wait_and_a_late_answer_still_counts_its_follow_ups() -> None:
    transport, clock = Transport(hold=["/a"]), ManualClock()
    jobs = _jobs(transport, clock, budget=5.0)
    jobs.add(_source(), Request("GET", "/a"))
    jobs.started()
    clock.advance(5.0)  # the deadline has passed on the scrape's clock: no real wait
    assert not jobs.wait()
    assert jobs.finished_at is None
    # The answer arrives after the scrape stopped waiting, from another thread.
    done = threading.Thread(
        target=lambda: transport.open["/a"].set_result(Fetched("/a", 200, b"", 0.0, 0.0)), daemon=True
    )
    done.start()
    done.join(5)
    assert jobs.wait() and "/d" in transport.begun
