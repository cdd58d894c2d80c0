"""The per-answer memo: one decode per answer object, shared by concurrent callers, gone with the answer."""

from __future__ import annotations

import gc
import threading

from exporter.gateway.outcomes import Fetched, FetchError
from exporter.sources.peranswer import PerAnswer


def _answer(body: bytes = b"{}") -> Fetched:
    return Fetched("/api/status", 200, body, 0.0, 1.0)


def test_concurrent_callers_with_one_answer_share_one_decode() -> None:
    memo: PerAnswer[list[int]] = PerAnswer()
    answer = _answer()
    calls: list[int] = []
    release = threading.Event()

    def make() -> list[int]:
        calls.append(1)
        release.wait(10)  # every other caller arrives while this decode runs
        return [42]

    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(memo.get(answer, make))) for _ in range(8)]
    for t in threads:
        t.start()
    release.set()
    for t in threads:
        t.join()
    assert calls == [1]
    values = [m.value for m in got]  # type: ignore[attr-defined]
    assert all(v is values[0] for v in values) and values[0] == [42]
    assert sum(m.fresh for m in got) == 1  # type: ignore[attr-defined]


def test_a_failure_is_kept_and_fresh_once() -> None:
    memo: PerAnswer[int] = PerAnswer()
    answer = _answer(b"garbage")

    def make() -> int:
        raise FetchError("decode", "/api/status: not JSON")

    first, second = memo.get(answer, make), memo.get(answer, make)
    assert first.fresh and not second.fresh
    assert first.error is not None and second.error is not None and second.error.reason == "decode"
    assert first.error.__traceback__ is None  # kept detached: no frames held


def test_another_answer_is_decoded_again_and_an_entry_goes_with_its_answer() -> None:
    memo: PerAnswer[bytes] = PerAnswer()
    a, b = _answer(b"a"), _answer(b"a")  # equal, but two answers
    assert memo.get(a, lambda: b"x").fresh and memo.get(b, lambda: b"x").fresh
    assert len(memo) == 2
    del a, b
    gc.collect()
    assert len(memo) == 0


def test_without_keep_a_value_lives_while_used_and_is_made_again_after() -> None:
    memo: PerAnswer[list[int]] = PerAnswer(keep=False)
    answer = _answer()
    calls: list[int] = []

    def make() -> list[int]:
        calls.append(1)
        return [len(calls)]

    first, beside = memo.get(answer, make), memo.get(answer, make)  # two scrapes at once share it
    assert first.fresh and not beside.fresh and beside.value is first.value
    memo.release(answer)
    assert memo.get(answer, make).value is first.value  # one user left: still shared
    memo.release(answer)
    memo.release(answer)
    later = memo.get(answer, make)  # the last user let go: the next scrape decodes the bytes again
    assert later.fresh and later.value == [2] and len(calls) == 2
    memo.release(answer)


def test_without_keep_a_failure_stays_with_its_answer() -> None:
    memo: PerAnswer[int] = PerAnswer(keep=False)
    answer = _answer(b"garbage")
    calls: list[int] = []

    def make() -> int:
        calls.append(1)
        raise FetchError("decode", "/api/status: not JSON")

    assert memo.get(answer, make).fresh
    memo.release(answer)
    again = memo.get(answer, make)  # counted and logged once per answer, however often it is used
    assert not again.fresh and again.error is not None and calls == [1]


def test_releasing_an_unknown_answer_or_with_keep_changes_nothing() -> None:
    kept: PerAnswer[int] = PerAnswer()
    answer = _answer()
    assert kept.get(answer, lambda: 1).fresh
    kept.release(answer)
    assert not kept.get(answer, lambda: 2).fresh  # kept for the answer's life
    PerAnswer[int](keep=False).release(_answer())  # never got: nothing to drop, no error


def test_without_keep_the_value_after_the_first_is_made_by_make_again() -> None:
    memo: PerAnswer[str] = PerAnswer(keep=False)
    answer = _answer()
    assert memo.get(answer, lambda: "first", lambda: "again").value == "first"
    memo.release(answer)
    assert memo.get(answer, lambda: "first", lambda: "again").value == "again"
    memo.release(answer)
