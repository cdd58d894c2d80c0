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
