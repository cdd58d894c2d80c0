"""The drop ledgers count each answer's drops once, however often its series are mapped again."""

from __future__ import annotations

from collections import Counter

from exporter.metrics.naming import DropLedger, mapped_again


def test_an_answer_mapped_again_adds_nothing_and_gets_the_counts() -> None:
    ledger = DropLedger()
    first = ledger.record("gw", "/api/status", Counter({"too_long": 2}), "x")
    with mapped_again():  # the same answer, after the scrape that held its series let them go
        again = ledger.record("gw", "/api/status", Counter({"too_long": 2}), "x")
    later = ledger.record("gw", "/api/status", Counter({"too_long": 1}), "x")  # a new answer
    assert first == again == {"too_long": 2}
    assert later == {"too_long": 3}


def test_mapped_again_before_any_count_and_without_a_gateway() -> None:
    ledger = DropLedger()
    with mapped_again():
        assert ledger.record("gw", "/api/status", Counter({"too_long": 1}), "x") == {}
        # A set that is no gateway's keeps nothing: it gets its own call's counts, as always.
        assert ledger.record("", "/api/status", Counter({"too_long": 1}), "x") == {"too_long": 1}
    assert ledger.record("gw", "/api/status", Counter(), "x") == {}
