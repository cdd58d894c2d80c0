"""The metric reference (docs/metrics.md, linked from the README) is generated; this keeps it in sync."""

from __future__ import annotations

from tests.conftest import require_fixtures
from tests.metrics_doc import END, METRICS_DOC, START, updated_doc


def test_metric_reference_is_current() -> None:
    require_fixtures()
    text = METRICS_DOC.read_text()
    assert text.count(START) == 1 and text.count(END) == 1, f"{METRICS_DOC} lost its table markers"
    assert updated_doc(text) == text, "docs/metrics.md is stale: run python -m tests.metrics_doc --write"
