"""The landing page at ``/``: what a person sees first, rendered from the last scrape only.

Why it is built this way:

* It never contacts a gateway. Every number comes from the :class:`MetricSet` the last scrape of
  ``/metrics`` or ``/probe`` built (kept in :class:`GatewayStatus`), so a browser tab left open with
  its 10 s refresh costs the gateway nothing, and the page shows exactly what Prometheus was given.
  A gateway nobody scraped yet says so instead of being scraped.
* It is one self-contained HTML document: inline CSS, no script, no font or image from anywhere, so
  it works offline, behind a strict proxy and in a text browser, and cannot leak the visitor to a
  third party.
* Nothing secret can reach it: it is built from metric samples (which carry no secret by design),
  the gateway's name and address, and the exporter's own error texts. It is never handed a
  :class:`~exporter.config.GatewayConfig`'s password or a session.
* Everything that did not come from this module (names, label values, error texts, the ``Host``
  header) is HTML-escaped where it is written.

Each gateway's card, where the metrics are read and put into words, is
:mod:`exporter.web.gateway_card`; this module lays out the page around the cards: the endpoints,
the scrape config for the address the page was opened with, the dashboards.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from exporter import __version__
from exporter.web.gateway_card import GatewayView, card

REFRESH_SECONDS = 10
PLACEHOLDER_HOST = "exporter-host"

# The dashboards shipped in grafana/dashboards/ (file, title); tests/web/test_landing.py keeps this
# in sync with the files. Listed here rather than read from disk because a pip install has no repo.
DASHBOARDS: tuple[tuple[str, str], ...] = (
    ("powerwall-overview.json", "Powerwall / Overview"),
    ("powerwall-energy.json", "Powerwall / Energy"),
    ("powerwall-energy-cost.json", "Powerwall / Energy & cost"),
    ("powerwall-devices.json", "Powerwall / Batteries and devices"),
    ("powerwall-battery-health.json", "Powerwall / Battery health"),
    ("powerwall-exporter.json", "Powerwall / Exporter health"),
    ("powerwall-fleet.json", "Powerwall / Fleet"),
)

# A Host header is echoed into the page only when it looks like host[:port]; anything else
# (absent, a hostile value) gets the placeholder, so the snippet is never garbage.
_HOST_RE = re.compile(r"^(?:[A-Za-z0-9._-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$")


@dataclass(frozen=True, slots=True)
class PageContext:
    """Facts about the exporter and the request that the page states."""

    host: str  # host:port for the scrape snippet, already checked by :func:`scrape_host`
    scheme: str = "http"
    telemetry_path: str = "/metrics"
    auth: bool = False
    now: float = 0.0


def scrape_host(header: str | None, server_port: str) -> str:
    """The ``host:port`` Prometheus should scrape, from the request's ``Host`` header when sane."""
    if header and len(header) <= 260 and _HOST_RE.match(header):
        return header
    return f"{PLACEHOLDER_HOST}:{server_port}" if server_port.isdigit() else f"{PLACEHOLDER_HOST}:9871"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def scrape_snippet(names: Sequence[str], ctx: PageContext) -> tuple[str, str]:
    """The README's two Prometheus scrape configs, for this exporter's address and gateways (YAML text)."""
    extra = ""
    if ctx.scheme == "https":
        extra += "    scheme: https\n"
    if ctx.auth:
        extra += "    basic_auth: { username: <user>, password_file: /etc/prometheus/powerwall-exporter.pass }\n"
    path = f"    metrics_path: {json.dumps(ctx.telemetry_path)}\n" if ctx.telemetry_path != "/metrics" else ""
    host = json.dumps(ctx.host)
    targets = ", ".join(json.dumps(n) for n in names) or '"home"'
    everything = (
        "scrape_configs:\n"
        "  - job_name: powerwall\n"
        "    scrape_interval: 30s\n"
        f"{path}{extra}"
        f"    static_configs: [{{ targets: [{host}] }}]\n"
    )
    per_gateway = (
        "scrape_configs:\n"
        "  - job_name: powerwall\n"
        "    metrics_path: /probe\n"
        f"{extra}"
        f"    static_configs: [{{ targets: [{targets}] }}]   # gateway names from the exporter's config\n"
        "    relabel_configs:\n"
        "      - { source_labels: [__address__], target_label: __param_target }\n"
        "      - { source_labels: [__param_target], target_label: instance }\n"
        f"      - {{ target_label: __address__, replacement: {host} }}\n"
    )
    return everything, per_gateway


CSS = """
:root{color-scheme:light dark;--bg:#f6f7f9;--card:#fff;--fg:#1b1f24;--muted:#5b6570;--line:#dde1e6;
--ok:#12703a;--bad:#b3261e;--warn:#8a5a00;--accent:#0b57d0;--banner:#fff4ce;--code:#eef0f3}
@media (prefers-color-scheme:dark){:root{--bg:#111418;--card:#1b2027;--fg:#e8eaed;--muted:#9aa4ae;
--line:#2e353e;--ok:#5cd08a;--bad:#ff8a80;--warn:#f6c343;--accent:#8ab4f8;--banner:#3a3000;--code:#242a32}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header,main,footer{max-width:72rem;margin:0 auto;padding:.75rem 1.25rem}
main{padding-top:0}
header{display:flex;flex-wrap:wrap;align-items:baseline;gap:.25rem 1.5rem}
h1{font-size:1.5rem;margin:.5rem 0}h2{font-size:1.25rem;margin:0 0 .5rem}h3{font-size:1rem;margin:1rem 0 .25rem}
nav{display:flex;flex-wrap:wrap;gap:.25rem 1rem}a{color:var(--accent)}
.gws{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,26rem),1fr));gap:1rem;align-items:start}
.gw,.card{background:var(--card);border:1px solid var(--line);border-radius:.75rem;padding:1rem 1.25rem}
.card{margin-top:1rem}
.badge{display:inline-block;font-size:.8rem;font-weight:600;padding:.1rem .6rem;border-radius:1rem;
vertical-align:middle;border:1px solid currentColor}
.badge.up{color:var(--ok)}.badge.down{color:var(--bad)}.badge.warn{color:var(--warn)}.badge.unknown{color:var(--muted)}
.banner{background:var(--banner);border-left:4px solid var(--warn);padding:.5rem .75rem;border-radius:.25rem}
.error{color:var(--bad);overflow-wrap:anywhere}
.when,.meta,small,.note{color:var(--muted)}.meta{font-size:.875rem;overflow-wrap:anywhere;margin-bottom:0}
.figures{display:grid;grid-template-columns:repeat(3,1fr);gap:.75rem;margin:.75rem 0}
.figures div{min-width:0}.figures dt{color:var(--muted);font-size:.875rem}
.figures dd{margin:0;font-size:1.15rem;font-weight:600}
.soe{font-size:2rem;line-height:1.1}
.bar{display:block;height:.4rem;background:var(--line);border-radius:.2rem;margin-top:.3rem;overflow:hidden}
.bar span{display:block;height:100%;background:var(--ok)}
.ok{color:var(--ok)}.bad{color:var(--bad)}.na{color:var(--muted);font-weight:400}
.code{font-weight:400;font-family:ui-monospace,monospace;font-size:.75rem;display:block}
table{border-collapse:collapse;width:100%}caption{text-align:left;color:var(--muted);font-size:.875rem;padding-bottom:.25rem}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid var(--line)}
.num{text-align:right;font-variant-numeric:tabular-nums}
pre{background:var(--code);padding:.75rem;border-radius:.5rem;overflow-x:auto;font-size:.85rem}
ul{padding-left:1.25rem}code{font-family:ui-monospace,monospace}
@media (max-width:40rem){.figures{grid-template-columns:1fr 1fr}
header,main,footer{padding:.5rem .75rem}.gw,.card{padding:.75rem}}
"""


def render(gateways: Sequence[GatewayView], ctx: PageContext) -> bytes:
    """The whole page as UTF-8 HTML."""
    names = [g.name for g in gateways]
    everything, per_gateway = scrape_snippet(names, ctx)
    probes = "".join(
        f'<li><a href="/probe?target={_e(n)}"><code>/probe?target={_e(n)}</code></a> &ndash; only {_e(n)}</li>'
        for n in names
    )
    dashboards = "".join(
        f"<li>{_e(title)} &ndash; <code>grafana/dashboards/{_e(file)}</code></li>" for file, title in DASHBOARDS
    )
    cards = "".join(card(g, ctx.now, ctx.telemetry_path) for g in gateways) or "<p>No gateway is configured.</p>"
    metrics = _e(ctx.telemetry_path)
    page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{REFRESH_SECONDS}">
<title>Powerwall Exporter</title>
<style>{CSS}</style>
</head>
<body>
<header>
<h1>Powerwall Exporter</h1>
<nav aria-label="Endpoints"><a href="{metrics}">Metrics</a><a href="#scrape">Scrape config</a>
<a href="#dashboards">Dashboards</a><a href="/healthz">Health</a></nav>
</header>
<main>
<p class="note">The last scrape of each gateway, refreshed every {REFRESH_SECONDS} s.
This page never contacts a gateway: scrapes of <a href="{metrics}">{metrics}</a> and <code>/probe</code> do.</p>
<div class="gws">{cards}</div>
<p class="note">Signs as in <code>powerwall_meter_power_watts{{meter}}</code>:
Powerwall + discharging, &minus; charging; grid (<code>site</code>) + importing, &minus; exporting;
home (<code>load</code>) &ge; 0; solar + producing.
Battery is the Tesla app's scale (<code>powerwall_battery_charge_app_ratio</code>).</p>
<section class="card" aria-labelledby="h-endpoints">
<h2 id="h-endpoints">Endpoints</h2>
<ul>
<li><a href="{metrics}"><code>{metrics}</code></a> &ndash; every gateway, plus the exporter's own metrics</li>
{probes}
<li><a href="/healthz"><code>/healthz</code></a> &ndash; liveness</li>
</ul>
</section>
<section class="card" id="scrape" aria-labelledby="h-scrape">
<h2 id="h-scrape">Prometheus scrape config</h2>
<p>One target, all gateways on <code>{metrics}</code>:</p>
<pre><code>{_e(everything)}</code></pre>
<p>Or one target per gateway via <code>/probe</code> (credentials stay in the exporter's config, never in URLs):</p>
<pre><code>{_e(per_gateway)}</code></pre>
<p class="note">The address is the one this page was opened with; use one Prometheus can reach.</p>
</section>
<section class="card" id="dashboards" aria-labelledby="h-dash">
<h2 id="h-dash">Grafana dashboards</h2>
<p>Import them from the repository's <code>grafana/dashboards/</code>:</p>
<ul>{dashboards}</ul>
</section>
</main>
<footer class="note">powerwall-exporter {_e(__version__)} &middot;
read-only Prometheus exporter for the Tesla Energy Gateway</footer>
</body>
</html>
"""
    return page.encode("utf-8")
