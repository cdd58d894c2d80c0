"""The metric reference (docs/metrics.md, linked from the README) is generated; this keeps it in sync,
and checks that its source column is read from the tables that define each family."""

from __future__ import annotations

from tests.metrics_doc import END, METRICS_DOC, START, Row, mapped_from, signal_text, source_text, updated_doc
from tests.support.prereqs import require_fixtures


def test_metric_reference_is_current() -> None:
    require_fixtures()
    text = METRICS_DOC.read_text()
    assert text.count(START) == 1 and text.count(END) == 1, f"{METRICS_DOC} lost its table markers"
    assert updated_doc(text) == text, "docs/metrics.md is stale: run python -m tests.metrics_doc --write"


def test_source_column_writes_signals_as_the_docs_do() -> None:
    assert signal_text(r"METER_(?P<ch>[A-Z])_CT(?P<ct>[A-Z])_I") == "METER_<ch>_CT<ct>_I"
    assert signal_text(r"ISLAND_FreqL(?P<n>[0-9])_(?P<side>Main|Load)") == "ISLAND_FreqL<n>_<side>"
    assert signal_text(r"PCH_AcVoltage(?:AB|LL)") == "PCH_AcVoltage(AB|LL)"


def test_source_column_comes_from_the_tables() -> None:
    """The keys and signals are the defining tables' own, so a renamed key or signal shows up here."""
    keys = mapped_from()
    assert keys["powerwall_meter_power_watts"] == ["instant_power"]
    assert keys["powerwall_meter_phase_current_amperes"] == ["i_a_current", "i_b_current", "i_c_current"]
    assert keys["powerwall_battery_block_pinv_state_info"] == ["pinv_state"]
    assert keys["powerwall_inverter_power_watts"] == ["PINV_Pout", "PCH_AcRealPowerSum"]
    row = Row("gauge", "h", origins={"/api/meters/aggregates"})
    assert source_text("powerwall_meter_power_watts", row, keys) == "`/api/meters/aggregates`: `instant_power`"
    assert source_text("powerwall_up", Row("gauge", "h"), keys) == "exporter"
