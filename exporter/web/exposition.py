"""Render a MetricSet as Prometheus text (0.0.4) or OpenMetrics 1.0, plus the default registry.

``prometheus_client``'s encoders re-validate and escape every label *name* of every sample, which
was most of a scrape's CPU for a typical site. Our families are already valid by construction
(names checked in :class:`~exporter.metrics.metricset.MetricDef`; label values cleaned, non-finite values
dropped and one family per OpenMetrics family name enforced in
:meth:`~exporter.metrics.metricset.MetricSet.add`), so this encoder only escapes label values, and only
those that need it. The process/python metrics still come from the library's encoder.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from prometheus_client import REGISTRY, generate_latest
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS_CONTENT_TYPE
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from exporter.metrics.metricset import Kind, Labels, MetricDef, MetricSet

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_TEXT_TYPES = {Kind.GAUGE: "gauge", Kind.COUNTER: "counter", Kind.INFO: "gauge"}


def _escape_value(v: str) -> str:
    if "\\" in v or '"' in v or "\n" in v:
        return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return v


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(v: float) -> str:
    if v == math.inf:
        return "+Inf"
    if v == -math.inf:
        return "-Inf"
    if v != v:
        return "NaN"
    return repr(float(v))


# Each sample's label text after its ``gateway`` pair, escaped, by the pairs it is made of. A gateway's
# series keep their labels from scrape to scrape (only values change), and the site-level ones have
# the same labels at every gateway of a fleet, so most samples find their text here instead of
# formatting and checking each pair again (that was half of rendering a page). Bounded: cleared when
# full; the series of one gateway number a few hundred, so a fleet keeps its shared ones and a
# gateway's own ones are made again at worst.
_BODIES: dict[Labels, str] = {}
_MAX_BODIES = 16384


def _body(pairs: Labels) -> str:
    """The escaped ``k="v",...`` text of ``pairs`` (the slow path of :func:`_samples`)."""
    body = ",".join([f'{k}="{_escape_value(v)}"' for k, v in pairs])
    if len(_BODIES) >= _MAX_BODIES:
        _BODIES.clear()
    _BODIES[pairs] = body
    return body


def _samples(out: list[str], name: str, samples: dict[Labels, float]) -> None:
    # The hot loop of rendering (one pass per sample). Every sample of a gateway's set starts with
    # the same ``gateway`` pair object (MetricSet prepends its base labels), so that pair is
    # formatted once per run of samples and the rest of the labels come from ``_BODIES``. ``repr``
    # of a float spells the specials "inf", "-inf" and "nan", the only reprs with an "n": the rest
    # are written as they are.
    bodies = _BODIES.get
    last: tuple[str, str] | None = None
    head = ""
    for labels, value in samples.items():
        number = repr(float(value))
        if "n" in number:
            number = _number(value)
        if not labels:
            out.append(f"{name} {number}\n")
            continue
        first = labels[0]
        if first[0] != "gateway":
            body = bodies(labels) or _body(labels)
            out.append(f"{name}{{{body}}} {number}\n")
            continue
        if first is not last:
            last = first
            head = f'{name}{{gateway="{_escape_value(first[1])}"'
        if len(labels) == 1:
            out.append(f"{head}}} {number}\n")
            continue
        rest = labels[1:]
        body = bodies(rest) or _body(rest)
        out.append(f"{head},{body}}} {number}\n")


def _family(head: str, name: str, samples: dict[Labels, float]) -> bytes:
    """One family, encoded on its own.

    Why per family: one list of every sample line, joined and then encoded, held the lines, the
    joined text and its bytes at once (about 6x the exposition: 44 MB for a 7 MB one of 50,000
    series), per concurrent scrape. Per family, the peak is the bytes plus one family's lines.
    """
    out = [head]
    _samples(out, name, samples)
    return "".join(out).encode("utf-8")


# Each family's HELP and TYPE lines, by metric name and format, with the definition they were made
# from (a name's definition can differ between sets: it is checked by identity). Cleared when full:
# curated families number a few hundred, generic ones are bounded per gateway by the naming budget,
# so the bound only matters for a fleet whose gateways all report different field names.
_HEADS: tuple[dict[str, tuple[MetricDef, str]], dict[str, tuple[MetricDef, str]]] = ({}, {})
_MAX_HEADS = 4096


def _head(metric: MetricDef, openmetrics: bool) -> str:
    heads = _HEADS[openmetrics]
    known = heads.get(metric.name)
    if known is not None and known[0] is metric:
        return known[1]
    if openmetrics:
        family = metric.family_name
        head = f"# HELP {family} {_escape_help(metric.help)}\n# TYPE {family} {metric.kind.value}\n"
    else:
        name = metric.name
        head = f"# HELP {name} {_escape_help(metric.help)}\n# TYPE {name} {_TEXT_TYPES[metric.kind]}\n"
    if len(heads) >= _MAX_HEADS:
        heads.clear()
    heads[metric.name] = (metric, head)
    return head


def render_text(ms: MetricSet, include_default: bool) -> bytes:
    parts: list[bytes] = [generate_latest(REGISTRY)] if include_default else []
    for metric, samples in ms.defs():
        parts.append(_family(_head(metric, False), metric.name, samples))
    return b"".join(parts)


def render_openmetrics(ms: MetricSet, include_default: bool) -> bytes:
    parts: list[bytes] = []
    for metric, samples in ms.defs():
        parts.append(_family(_head(metric, True), metric.name, samples))
    parts.append(b"# EOF\n")
    own = b"".join(parts)
    if not include_default:
        return own
    default: bytes = generate_openmetrics(REGISTRY)  # type: ignore[no-untyped-call]
    return default.removesuffix(b"# EOF\n") + own


def choose(accept: str) -> tuple[Callable[[MetricSet, bool], bytes], str]:
    """Content negotiation as Prometheus does it: OpenMetrics when the scraper asks for it."""
    for part in accept.split(","):
        if part.split(";")[0].strip() == "application/openmetrics-text":
            return render_openmetrics, OPENMETRICS_CONTENT_TYPE
    return render_text, TEXT_CONTENT_TYPE
