"""Our encoder and prometheus_client's agree on every sample, in both formats."""

from __future__ import annotations

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from exporter.metrics.metricset import MetricSet, counter, gauge, info
from exporter.web.exposition import choose, render_openmetrics, render_text


def sample_set() -> MetricSet:
    ms = MetricSet(base_labels={"gateway": "g"})
    ms.add(gauge("powerwall_x_watts", 'Help with \\ and\nnewline "quoted".'), -1.5, {"meter": "site"})
    ms.add(gauge("powerwall_x_watts", "h"), 2.5, {"meter": 'we"ird\\\nvalue'})
    ms.add(counter("powerwall_e_joules_total", "energy"), 1e20, {"meter": "site"})
    ms.add(info("powerwall_mode_info", "mode"), 1, {"mode": "self_consumption"})
    ms.add(gauge("powerwall_nan", "nan"), float("nan"))  # dropped: never exported
    ms.add(gauge("powerwall_nan", "nan"), float("-inf"), {"meter": "x"})  # dropped too
    return ms


def as_dict(families: object) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in families:  # type: ignore[attr-defined]
        if fam.name.startswith(("process_", "python_")):
            continue
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_text_round_trip() -> None:
    got = as_dict(parse_text(render_text(sample_set(), include_default=True).decode()))
    assert got[("powerwall_x_watts", (("gateway", "g"), ("meter", 'we"ird\\\nvalue')))] == 2.5
    assert got[("powerwall_e_joules_total", (("gateway", "g"), ("meter", "site")))] == 1e20
    assert got[("powerwall_mode_info", (("gateway", "g"), ("mode", "self_consumption")))] == 1
    assert not any(name == "powerwall_nan" for name, _ in got)


def test_openmetrics_round_trip_and_single_eof() -> None:
    body = render_openmetrics(sample_set(), include_default=True).decode()
    assert body.count("# EOF") == 1 and body.endswith("# EOF\n")
    families = {f.name: f for f in parse_openmetrics(body)}  # type: ignore[no-untyped-call]
    assert families["powerwall_e_joules"].type == "counter"
    assert families["powerwall_mode"].type == "info"
    assert "process_cpu_seconds" in families


def test_negotiation() -> None:
    assert choose("application/openmetrics-text;version=1.0.0,text/plain;q=0.5")[0] is render_openmetrics
    assert choose("text/plain")[0] is render_text
    assert choose("")[0] is render_text


def test_each_escape_alone_and_the_special_values() -> None:
    """The encoder checks a sample's joined labels once for anything to escape: each character that
    needs it, alone in one value among clean ones, must still be escaped; and a value set after
    ``add`` (``replace``) can be non-finite, which the exposition spells as Prometheus does."""
    ms = MetricSet(base_labels={"gateway": "g"})
    metric = gauge("powerwall_escape_test", "h")
    for value in ('a"b', "a\\b", "a\nb", '"', "plain"):
        ms.add(metric, 1, {"v": value, "w": "clean"})
    specials = gauge("powerwall_special_test", "h")
    for label, special in (("pos", float("inf")), ("neg", float("-inf")), ("nan", float("nan")), ("int", 3)):
        ms.add(specials, 0, {"v": label})
        ms.replace(specials.name, (("gateway", "g"), ("v", label)), special)
    text = render_text(ms, False).decode()
    for line in (
        'powerwall_escape_test{gateway="g",v="a\\"b",w="clean"} 1.0',
        'powerwall_escape_test{gateway="g",v="a\\\\b",w="clean"} 1.0',
        'powerwall_escape_test{gateway="g",v="a\\nb",w="clean"} 1.0',
        'powerwall_escape_test{gateway="g",v="\\"",w="clean"} 1.0',
        'powerwall_escape_test{gateway="g",v="plain",w="clean"} 1.0',
        'powerwall_special_test{gateway="g",v="pos"} +Inf',
        'powerwall_special_test{gateway="g",v="neg"} -Inf',
        'powerwall_special_test{gateway="g",v="nan"} NaN',
        'powerwall_special_test{gateway="g",v="int"} 3.0',
    ):
        assert line + "\n" in text
    list(parse_text(text))  # and Prometheus's parser reads it


def test_a_name_defined_twice_renders_each_definitions_help() -> None:
    """HELP/TYPE lines are remembered per metric name, but only for the definition they came from."""
    for help in ("first help", "second help"):
        ms = MetricSet(base_labels={"gateway": "g"})
        ms.add(gauge("powerwall_head_cache_test", help), 1)
        assert f"# HELP powerwall_head_cache_test {help}\n".encode() in render_text(ms, False)
        assert f"# HELP powerwall_head_cache_test {help}\n".encode() in render_openmetrics(ms, False)
