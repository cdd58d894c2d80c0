"""The README's metric reference is generated; this keeps it in sync with the code."""

from __future__ import annotations

from tests.conftest import require_fixtures
from tests.metrics_doc import README, updated_readme


def test_readme_metric_table_is_current() -> None:
    require_fixtures()
    text = README.read_text()
    assert updated_readme(text) == text, "README metric table is stale: run python -m tests.metrics_doc --write"
