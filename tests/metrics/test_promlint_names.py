"""Every generic name the exporter makes up passes ``promtool check metrics``, whatever the gateway sends.

Why: unmapped signals are exported under names derived from the gateway's field names, so the
gateway decides what the exposition contains. On a real Powerwall 3 that gave
``powerwall_vital_pch_dcdc_state_b_info`` ("metric names should not contain abbreviated units") and
``powerwall_vital_pvs_num_strings_lockout_bits`` ("use base unit bytes instead of bits"): a lint
failure for every user whose CI runs promtool over the exporter's output. The property test feeds
generated field names, built from exactly the words promtool's linter cares about in every position,
through the real mapping and encoder and lets the installed promtool judge the result, so a rule a
newer promtool adds fails here first.
"""

from __future__ import annotations

import itertools
import subprocess
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.devices.flatten import flatten_devices
from exporter.devices.model import Device, SignalValue
from exporter.devices.resolve import resolve
from exporter.metrics import naming
from exporter.metrics.metricset import Kind, MetricSet
from exporter.site.mappers import map_status
from exporter.web.exposition import render_text
from tests.support.prereqs import require_binary

VITALS = "/api/devices/vitals"  # the endpoint label of the generic-name budget
_gateways = itertools.count()

# Words promtool's linter reacts to (abbreviated and non-base units, prefixed units, type names,
# reserved suffixes), words it accepts that look similar (base units, hertz, percent), single
# letters, and words that steer the mapping (lifetime energy → counter, Voltage/Temp/_V → unit suffix).
WORDS = (
    *("b", "s", "ms", "us", "ns", "sec", "kb", "mb", "gb", "tb", "pb", "m", "h", "d", "k", "v", "a", "x"),
    *("bits", "bytes", "percent", "celsius", "fahrenheit", "hz", "hertz", "seconds", "milliseconds"),
    *("minutes", "hours", "days", "weeks", "volts", "millivolts", "kilo", "kilobits", "inches", "miles"),
    *("total", "info", "count", "sum", "bucket", "created", "value", "ratio"),
    *("counter", "gauge", "histogram", "summary", "untyped"),
    *("lifetime", "energy", "voltage", "temp", "freq", "state", "num", "strings", "lockout", "pch", "dcdc"),
)
SEPARATORS = ("_", "_", "_", "-", ".", " ", "__")

# A property example runs promtool once over a batch of names, so few examples cover many names.
SETTINGS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


CASINGS = (str.lower, str.upper, str.capitalize)


@st.composite
def field_names(draw: st.DrawFn) -> str:
    """A gateway-style field name: 1..6 of :data:`WORDS` in one of the gateway's spelling styles.

    One casing and one separator per name (not per word) keeps a batch cheap to generate.
    """
    words = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=6))
    if draw(st.booleans()):  # CamelCase after a family prefix, as vitals are spelled (PCH_DcdcState_B)
        return words[0].upper() + "_" + "".join(w.capitalize() for w in words[1:])
    case = draw(st.sampled_from(CASINGS))
    return draw(st.sampled_from(SEPARATORS)).join(map(case, words))


signal_values: st.SearchStrategy[SignalValue] = st.one_of(
    st.just("on"), st.booleans(), st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
)


@pytest.fixture(scope="module")
def promtool() -> str:
    """Debian's promtool: skipped without it on a developer machine, a failure in CI."""
    return require_binary("promtool")


def promtool_findings(promtool: str, exposition: bytes) -> str:
    """What ``promtool check metrics`` reports about ``exposition`` ("" when it is clean)."""
    proc = subprocess.run([promtool, "check", "metrics"], input=exposition, capture_output=True, check=False)
    findings = (proc.stdout + proc.stderr).decode()
    return findings if proc.returncode or findings.strip() else ""


def export(signals: dict[str, SignalValue]) -> MetricSet:
    """``signals`` through the real mapping: as two devices' vitals and as ``/api/status`` fields."""
    ms = MetricSet(base_labels={"gateway": f"promlint-{next(_gateways)}"})
    devices = [
        Device(din=f"1707000-11-J--{s}", family="TEPCH", part_number="1707000-11-J", serial=s, signals=signals)
        for s in ("A", "B")
    ]
    flatten_devices(devices, ms, VITALS)
    map_status({k: v for k, v in signals.items() if not isinstance(v, str)}, ms)
    return ms


def assert_all_exported(signals: dict[str, SignalValue], ms: MetricSet) -> None:
    """Each signal's series exists, unless another signal took its family with another type, or it
    is a counter below zero (no reading: OpenMetrics forbids a negative counter, the metric set drops it).

    Sanitizing must not lose signals quietly: a name_clash is the one drop left, and it is counted.
    """
    targets = {name: resolve(name, isinstance(v, str), isinstance(v, bool)) for name, v in signals.items()}
    kinds: dict[str, set[Kind]] = {}
    for target in filter(None, targets.values()):
        kinds.setdefault(target.metric.family_name, set()).add(target.metric.kind)
    exported = set(ms.names())
    missing = [
        (name, t.metric.name)
        for name, t in targets.items()
        if t is not None
        and len(kinds[t.metric.family_name]) == 1
        and t.metric.name not in exported
        and not (t.metric.kind is Kind.COUNTER and float(signals[name]) < 0)
    ]
    assert not missing, missing[:5]


def assert_clean(promtool: str, exposition: bytes) -> None:
    """promtool finds nothing to complain about, and no series is written twice."""
    findings = promtool_findings(promtool, exposition)
    assert not findings, f"promtool check metrics:\n{findings}"
    samples = [line for line in exposition.decode().splitlines() if line and not line.startswith("#")]
    duplicates = [s for s, n in Counter(line.rsplit(" ", 1)[0] for line in samples).items() if n > 1]
    assert not duplicates, f"duplicate series: {duplicates[:5]}"


@SETTINGS
@given(st.lists(st.tuples(field_names(), signal_values), min_size=100, max_size=150))
def test_generated_signal_names_pass_promtool(promtool: str, batch: list[tuple[str, SignalValue]]) -> None:
    signals = dict(batch)  # a repeated name keeps its last value, as a JSON object would
    ms = export(signals)
    assert_all_exported(signals, ms)
    assert_clean(promtool, render_text(ms, include_default=False))


@pytest.mark.parametrize(
    ("field", "value", "name"),
    [
        ("PCH_DcdcState_B", "on", "powerwall_vital_pch_dcdc_stateb_info"),
        ("PVS_NumStringsLockoutBits", 3, "powerwall_vital_pvs_num_strings_lockoutbits"),
        ("PVS_a012_PvIsolationStringB", True, "powerwall_vital_pvs_a012_pv_isolation_stringb"),
        ("SYNC_Uptime_ms", 5, "powerwall_vital_sync_uptimems"),
        ("BMS_CycleCounter", 5, "powerwall_vital_bms_cyclecounter"),
        ("X_Delay_Minutes", 5, "powerwall_vital_x_delayminutes"),
        ("X_kilo_bits", 5, "powerwall_vital_xkilobits"),  # "kilobits" is flagged in turn: glued on again
        ("X_Buffer_k_b", 5, "powerwall_vital_x_bufferkb"),  # so is "kb" from "k" + "b"
        ("MS_Offset", 5, "powerwall_vital_msoffset"),  # nothing before it: joins the word after
        ("S", 5, "powerwall_vital_svalue"),  # alone: gets a word to join
        ("X_ms_Voltage", 5, "powerwall_vital_xms_voltage_volts"),  # the unit suffix is untouched
        ("X_Pct_Percent", 5, "powerwall_vital_x_pct_percent"),  # promtool accepts percent: left alone
        ("X_Seconds", 5, "powerwall_vital_x_seconds"),  # a base unit is fine
    ],
)
def test_flagged_words_are_glued_to_their_neighbour(promtool: str, field: str, value: SignalValue, name: str) -> None:
    ms = MetricSet()
    flatten_devices(
        [Device(din="D--A", family="TEPCH", part_number="", serial="A", signals={field: value})], ms, VITALS
    )
    assert [n for n in ms.names() if n.startswith("powerwall_vital_")] == [name]
    assert_clean(promtool, render_text(ms, include_default=False))


def test_json_generic_fields_are_sanitized_the_same_way(promtool: str) -> None:
    ms = MetricSet()
    map_status({"uptime_ms": 5, "lockout_bits": 1}, ms)
    assert {"powerwall_status_uptimems", "powerwall_status_lockoutbits"} <= set(ms.names())
    assert_clean(promtool, render_text(ms, include_default=False))


def test_the_lint_tables_agree_with_the_installed_promtool(promtool: str) -> None:
    """Each word the tables flag makes promtool complain, and the look-alikes they pass do not.

    The property test would catch a missing entry too, but this one names the word.
    """
    flagged = sorted(
        naming.PROMLINT_ABBREVIATIONS
        | naming.PROMLINT_TYPE_WORDS
        | naming.PROMLINT_OTHER_UNITS
        | {p + u for p in naming.PROMLINT_PREFIXES for u in ("volts", "bits")}
    )
    accepted = sorted({*naming.PROMLINT_BASE_UNITS, "hertz", "hz", "percent", "ratio", "watts", "value", "k"})
    assert all(map(naming.promlint_flags, flagged))
    assert not any(map(naming.promlint_flags, accepted))
    names = {f"powerwall_x_{word}_y": word for word in (*flagged, *accepted)}
    body = "".join(f"# HELP {n} h\n# TYPE {n} gauge\n{n} 1\n" for n in names).encode()
    reported = {names[line.split(" ", 1)[0]] for line in promtool_findings(promtool, body).splitlines() if line.strip()}
    assert sorted(reported) == flagged
