"""One gateway's card on the landing page: what its last scrape said, in words a person reads.

Why a module of its own: the card is where the page reads metrics (the up/down state, the last
scrape's age and error, the battery, grid, mode and power flows of the :class:`MetricSet` the last
scrape built) and turns gateway codes and signed watts into words. The page around it
(:mod:`exporter.web.landing`) only lays out the cards and the exporter's own facts.

Everything that did not come from this module (names, label values, error texts) is HTML-escaped
where it is written.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass

from exporter.metrics.metricset import Labels, MetricSet
from exporter.scrape.gateway import STATUS_FAMILIES, GatewayStatus

# Older than this, the page says the numbers are stale: Prometheus probably stopped scraping.
STALE_SECONDS = 300.0
# Below this magnitude a flow is shown as idle rather than with a direction the noise picked.
IDLE_WATTS = 1.0
# Gateway status codes → words a person reads; unknown codes are shown as they come.
GRID_WORDS = {
    "SystemGridConnected": "Connected",
    "SystemIslandedActive": "Off-grid (islanded)",
    "SystemIslandedReady": "Off-grid, ready to reconnect",
    "SystemTransitionToGrid": "Reconnecting to the grid",
    "SystemTransitionToIsland": "Going off-grid",
    "SystemMicroGridFaulted": "Off-grid, faulted",
    "SystemWaitForUser": "Off-grid, waiting for the user",
}
MODE_WORDS = {
    "self_consumption": "Self-powered",
    "autonomous": "Time-based control",
    "backup": "Backup only",
    "scheduler": "Scheduler",
    "siteControl": "Site control",
}

# (meter label, what a person calls it, word when positive, word when negative), in the order the
# page lists them. Signs follow powerwall_meter_power_watts (README "Metrics").
FLOWS = (
    ("solar", "Solar", "producing", "consuming"),
    ("load", "Home", "using", "feeding back"),
    ("battery", "Powerwall", "discharging", "charging"),
    ("site", "Grid", "importing", "exporting"),
)


@dataclass(frozen=True, slots=True)
class GatewayView:
    """One gateway as the page needs it: no config object, so no password within reach."""

    name: str
    address: str  # https://host:port, never with credentials (the config has no such form)
    tls_mode: str
    status: GatewayStatus
    simulated: bool = False


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _value(ms: MetricSet | None, name: str, **labels: str) -> float | None:
    return None if ms is None else ms.get(name, **labels)


def _label(ms: MetricSet | None, name: str, label: str) -> str | None:
    """A label's value on an info metric's sample (first one; these have one per gateway)."""
    if ms is None:
        return None
    samples: dict[Labels, float] = ms.samples(name)
    for key in samples:
        value = dict(key).get(label)
        if value is not None:
            return value
    return None


def format_watts(watts: float) -> str:
    """Magnitude only (the direction is said in words): ``363 W``, ``6.30 kW``."""
    w = abs(watts)
    return f"{w / 1000:.2f} kW" if w >= 1000 else f"{w:.0f} W"


def format_age(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 120:
        return f"{s} s ago"
    if s < 7200:
        return f"{s // 60} min ago"
    return f"{s // 3600} h {s % 3600 // 60} min ago"


def battery_percent(ratio: float) -> str:
    """App-scale charge as the Tesla app rounds it: whole percent."""
    return f"{ratio * 100:.0f} %"


def _state(st: GatewayStatus) -> tuple[str, str]:
    """(css class, word) for the up/down badge."""
    if st.up is None:
        return "unknown", "Not scraped yet"
    if not st.up:
        return "down", "Down"
    return ("warn", "Up, with errors") if st.error else ("up", "Up")


def _grid(ms: MetricSet | None) -> str:
    code = _label(ms, "powerwall_grid_status_info", "grid_status")
    if code is not None:
        word = GRID_WORDS.get(code, code)
        cls = "ok" if code == "SystemGridConnected" else "bad"
        raw = f' <small class="code">{_e(code)}</small>' if word != code else ""
        return f'<span class="{cls}" data-grid-status="{_e(code)}">{_e(word)}</span>{raw}'
    connected = _value(ms, "powerwall_grid_connected")
    if connected is None:
        return '<span class="na">unknown</span>'
    word = "Connected" if connected == 1 else "Not connected"
    return f'<span class="{"ok" if connected == 1 else "bad"}">{word}</span>'


def _mode(ms: MetricSet | None) -> str:
    mode = _label(ms, "powerwall_operation_info", "mode")
    if mode is None:
        return '<span class="na">unknown</span>'
    word = MODE_WORDS.get(mode, mode)
    raw = f' <small class="code">{_e(mode)}</small>' if word != mode else ""
    return f'<span data-mode="{_e(mode)}">{_e(word)}</span>{raw}'


def _battery(ms: MetricSet | None) -> str:
    ratio = _value(ms, "powerwall_battery_charge_app_ratio")
    if ratio is None:
        return '<span class="na">unknown</span>'
    pct = max(0.0, min(100.0, ratio * 100))
    return (
        f'<data class="soe" value="{ratio!r}">{battery_percent(ratio)}</data>'
        f'<span class="bar" aria-hidden="true"><span style="width:{pct:.0f}%"></span></span>'
    )


def _flows(name: str, ms: MetricSet | None) -> str:
    rows = []
    for meter, title, plus, minus in FLOWS:
        watts = _value(ms, "powerwall_meter_power_watts", meter=meter)
        if watts is None:
            power, direction = '<span class="na">&ndash;</span>', ""
        else:
            word = "idle" if abs(watts) < IDLE_WATTS else (plus if watts > 0 else minus)
            power = f'<data value="{watts!r}">{format_watts(watts)}</data>'
            direction = _e(word)
        rows.append(
            f'<tr data-meter="{meter}"><th scope="row">{title}</th><td class="num">{power}</td>'
            f"<td>{direction}</td></tr>"
        )
    return (
        f'<table class="flows"><caption>Power now at {_e(name)}</caption>'
        '<thead><tr><th scope="col">Flow</th><th scope="col" class="num">Power</th>'
        '<th scope="col">Direction</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _has_state(ms: MetricSet) -> bool:
    """Whether the scrape brought any of the figures: a down gateway's set has none, so none are shown.

    The figures are read from the families a gateway's status keeps of its last scrape.
    """
    return any(ms.samples(n) for n in STATUS_FAMILIES)


def card(gw: GatewayView, now: float, telemetry_path: str) -> str:
    """The gateway's card: its state, the last scrape's age and error, and the figures it brought.

    ``now`` (wall clock) dates the last scrape; ``telemetry_path`` is where the exporter serves the
    metrics, named in the card of a gateway nobody scraped yet.
    """
    st = gw.status
    ms = st.metrics
    cls, word = _state(st)
    banner = (
        '<p class="banner" role="note"><strong>Simulated gateway.</strong> This is the built-in demo: '
        "the exporter talks to a simulator it runs itself, not to a Powerwall. The numbers are made up.</p>"
        if gw.simulated
        else ""
    )
    if st.at is None:
        when = (
            "<p>This page never contacts the gateway itself: it shows what the last "
            f'scrape of <a href="{_e(telemetry_path)}">{_e(telemetry_path)}</a> or '
            f'<a href="/probe?target={_e(gw.name)}">/probe</a> found. Point Prometheus at the exporter, '
            "or open one of those once.</p>"
        )
    else:
        age = now - st.at
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(st.at))
        stale = ' <strong class="bad">stale: is Prometheus still scraping?</strong>' if age > STALE_SECONDS else ""
        took = "" if st.duration is None else f", took {st.duration:.2f} s, {st.series} series"
        when = f'<p class="when">Last scrape <time datetime="{stamp}">{format_age(age)}</time>{took}.{stale}</p>'
    error = (
        f'<p class="error"><strong>Last error:</strong> <span class="msg">{_e(st.error)}</span></p>' if st.error else ""
    )
    figures = ""
    if ms is not None and _has_state(ms):
        figures = (
            '<dl class="figures">'
            f"<div><dt>Battery</dt><dd>{_battery(ms)}</dd></div>"
            f"<div><dt>Grid</dt><dd>{_grid(ms)}</dd></div>"
            f"<div><dt>Mode</dt><dd>{_mode(ms)}</dd></div>"
            "</dl>"
            f"{_flows(gw.name, ms)}"
        )
    return (
        f'<section class="gw" id="gw-{_e(gw.name)}" aria-labelledby="h-{_e(gw.name)}" data-gateway="{_e(gw.name)}">'
        f'<h2 id="h-{_e(gw.name)}">{_e(gw.name)} <span class="badge {cls}" data-state="{cls}">{word}</span></h2>'
        f"{banner}{when}{error}{figures}"
        f'<p class="meta">{_e(gw.address)} &middot; TLS {_e(gw.tls_mode)} &middot; '
        f'<a href="/probe?target={_e(gw.name)}">/probe?target={_e(gw.name)}</a></p>'
        "</section>"
    )
