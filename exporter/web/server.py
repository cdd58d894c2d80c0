"""The exporter's HTTP side: ``/metrics``, ``/probe``, health, ``/-/reload`` and a landing page.

``prometheus_client.start_http_server`` answers metrics on every path and cannot pass the scrape
timeout Prometheus sends to the collector, so this is a small WSGI app of our own around the
library's encoders.
"""

from __future__ import annotations

import gzip
import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from typing import Any
from urllib.parse import parse_qs

from exporter.metrics.metricset import MetricSet, counter
from exporter.reload import Reloader, ReloadError
from exporter.scrape.collector import DEFAULT_TIMEOUT_MARGIN, PowerwallCollector
from exporter.web import exposition, gateway_card, landing
from exporter.web.coalesce import Coalescer
from exporter.web.http11 import HTTPServer
from exporter.web.http_parse import Limits, Request
from exporter.web.webconfig import WebConfig
from exporter.web.wsgi import wsgi_handler

log = logging.getLogger(__name__)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
Environ = dict[str, Any]


READ_ONLY = ("GET", "HEAD")
RELOAD_PATH = "/-/reload"
RELOAD_METHODS = ("POST", "PUT")  # Prometheus' /-/reload takes both
# Answered before auth and without I/O (so also on the event-loop thread, see _is_liveness):
# orchestrators probe them without credentials, and they reveal nothing but health.
OPEN_PATHS = frozenset({"/healthz", "/-/healthy", "/-/ready"})
# A scrape left with less of its timeout than this (after the render margin; half of it for timeouts
# under 3 s) is refused, not started: every gateway request would miss its deadline and the page
# would call healthy gateways down.
MIN_SCRAPE_SECONDS = 1.0
REFUSED = counter(
    "powerwall_exporter_scrapes_refused_total",
    "Scrape requests answered 503 or dropped before they ran, by reason: queue_full (too many waiting), "
    "no_time (queued past its scrape timeout), client_gone (the scraper closed the connection first).",
)
REFUSAL_REASONS = ("client_gone", "no_time", "queue_full")


class ExporterApp:
    def __init__(
        self,
        collector: PowerwallCollector,
        telemetry_path: str = "/metrics",
        web: WebConfig | None = None,
        reloader: Reloader | None = None,
        simulated: AbstractSet[str] = frozenset(),
    ) -> None:
        """``simulated`` names the gateways that are the in-process demo simulator (the page says so)."""
        self.collector = collector
        self.simulated = frozenset(simulated)
        self.telemetry_path = telemetry_path
        self.web = web or WebConfig()
        self.scrapes: Coalescer[tuple[object, ...], bytes] = Coalescer()
        self.reloader = reloader or Reloader(collector, None)  # without a config file, reloads are refused
        self.started = time.time()
        self._refused: Counter[str] = Counter()
        self._refused_lock = threading.Lock()

    def refused(self, reason: str) -> None:
        """Count a scrape request turned away (by the HTTP server, or here for want of time)."""
        with self._refused_lock:
            self._refused[reason] += 1
        log.debug("scrape request refused: %s", reason)

    def _refusal_metrics(self, ms: MetricSet) -> None:
        with self._refused_lock:
            counts = {reason: self._refused[reason] for reason in REFUSAL_REASONS}
        for reason, n in counts.items():
            ms.add(REFUSED, n, {"reason": reason})

    def methods(self, path: str) -> tuple[str, ...]:
        """The methods ``path`` answers, for routing and the ``Allow`` header of a 405."""
        if path == RELOAD_PATH:
            return RELOAD_METHODS
        return READ_ONLY

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/") or "/"
        method = environ.get("REQUEST_METHOD", "GET")
        if path in OPEN_PATHS:  # liveness and readiness stay open: checked before auth
            if method not in self.methods(path):
                return self._not_allowed(start_response, path)
            return self._health(start_response, path)
        if not self.web.authorize(environ.get("HTTP_AUTHORIZATION")):
            start_response(
                "401 Unauthorized",
                [
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("WWW-Authenticate", 'Basic realm="powerwall-exporter"'),
                ],
            )
            return [b"Unauthorized\n"]
        if path not in (self.telemetry_path, "/probe", "/", RELOAD_PATH):
            return _plain(start_response, "404 Not Found", "not found\n")
        if method not in self.methods(path):
            return self._not_allowed(start_response, path)
        if path == RELOAD_PATH:
            return self._reload(start_response)
        if path == self.telemetry_path:
            if method == "HEAD":  # headers only: a HEAD (uptime checks, curl -I) must not cost a gateway scrape
                return self._render_head(environ, start_response)
            return self._scrape(environ, start_response, None, include_default=True)
        if path == "/probe":
            target = parse_qs(environ.get("QUERY_STRING", "")).get("target", [""])[0]
            if not target:
                return _plain(start_response, "400 Bad Request", "missing ?target=<gateway name>\n")
            if target not in self.collector.scrapers:
                return _plain(
                    start_response, "404 Not Found", f"unknown target {target!r}; use a configured gateway name\n"
                )
            if method == "HEAD":
                return self._render_head(environ, start_response)
            return self._scrape(environ, start_response, target, include_default=False)
        return self._landing(environ, start_response)

    def _health(self, start_response: StartResponse, path: str) -> Iterable[bytes]:
        """``/healthz`` and ``/-/healthy``: the process serves. ``/-/ready``: every gateway configured now
        (after a reload, new ones too) has had its first collection attempted, successful or not."""
        if path == "/healthz":
            return _plain(start_response, "200 OK", "ok\n")
        if path == "/-/healthy":
            return _plain(start_response, "200 OK", "Healthy\n")
        pending, total = len(self.collector.pending()), len(self.collector.scrapers)
        if pending:
            return _plain(
                start_response,
                "503 Service Unavailable",
                f"Not ready: {pending} of {total} gateway(s) not collected yet (scraping /metrics collects them)\n",
            )
        return _plain(start_response, "200 OK", "Ready\n")

    def _reload(self, start_response: StartResponse) -> Iterable[bytes]:
        """Like Prometheus: 200 when applied, 500 with the reason when refused (the old config stays)."""
        try:
            summary = self.reloader.reload(f"{RELOAD_PATH} request")
        except ReloadError as exc:
            return _plain(start_response, "500 Internal Server Error", f"failed to reload config: {exc}\n")
        return _plain(start_response, "200 OK", f"config reloaded: {summary}\n")

    def _not_allowed(self, start_response: StartResponse, path: str) -> Iterable[bytes]:
        allowed = ", ".join(self.methods(path))
        body = f"method not allowed; use {allowed}\n".encode()
        start_response(
            "405 Method Not Allowed",
            [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))), ("Allow", allowed)],
        )
        return [body]

    def _render_head(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        _, content_type = exposition.choose(environ.get("HTTP_ACCEPT", ""))
        headers = [("Content-Type", content_type)]
        if "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""):
            headers.append(("Content-Encoding", "gzip"))
        start_response("200 OK", headers)
        return []

    def _scrape(
        self, environ: Environ, start_response: StartResponse, target: str | None, include_default: bool
    ) -> Iterable[bytes]:
        """Scrape all gateways (``target`` None) or one, and serve the page; a scrape identical to one
        in flight shares that one's page (:mod:`exporter.web.coalesce`)."""
        render, content_type = exposition.choose(environ.get("HTTP_ACCEPT", ""))
        compress = "gzip" in environ.get("HTTP_ACCEPT_ENCODING", "")
        timeout = _scrape_timeout(environ)
        # The scraper's timeout runs from when it sent the request: time spent waiting for a worker
        # is already spent (the HTTP server's clock, time.monotonic, measured both ends).
        arrived = environ.get("exporter.arrived")
        waited = max(0.0, time.monotonic() - arrived) if isinstance(arrived, float) and arrived > 0 else 0.0
        left = None if timeout is None else timeout - waited
        if left is not None and timeout is not None and left - DEFAULT_TIMEOUT_MARGIN < _least_budget(timeout):
            self.refused("no_time")
            return _plain(
                start_response,
                "503 Service Unavailable",
                f"busy: this request waited {waited:.1f} s of its {timeout:g} s scrape timeout; not started\n",
            )

        def page() -> bytes:
            ms = self.collector.scrape(None if target is None else [target], timeout=left)
            if include_default:  # the exporter's own series: on /metrics, not repeated per /probe target
                self._refusal_metrics(ms)
            body = render(ms, include_default)
            return gzip.compress(body, compresslevel=1) if compress else body

        body = self.scrapes.run((target, content_type, compress, timeout, include_default), page)
        headers = [("Content-Type", content_type)]
        if compress:
            headers.append(("Content-Encoding", "gzip"))
        headers.append(("Content-Length", str(len(body))))
        start_response("200 OK", headers)
        return [body]

    def _landing(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """The page from each gateway's last scrape: rendering it never sends a gateway request."""
        views = [
            gateway_card.GatewayView(
                name=name,
                address=s.cfg.base_url,
                tls_mode=s.cfg.tls.mode,
                status=s.status,
                simulated=name in self.simulated,
            )
            for name, s in self.collector.scrapers.items()
        ]
        ctx = landing.PageContext(
            host=landing.scrape_host(environ.get("HTTP_HOST"), str(environ.get("SERVER_PORT", ""))),
            scheme=str(environ.get("wsgi.url_scheme", "http")),
            telemetry_path=self.telemetry_path,
            auth=bool(self.web.users),
            now=time.time(),
        )
        body = landing.render(views, ctx)
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [body]


def _plain(start_response: StartResponse, status: str, text: str) -> Iterable[bytes]:
    body = text.encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]


def _least_budget(timeout: float) -> float:
    """The least time a scrape announced with ``timeout`` must still have to be started."""
    return min(MIN_SCRAPE_SECONDS, max(0.0, timeout - DEFAULT_TIMEOUT_MARGIN) / 2)


def _scrape_timeout(environ: Environ) -> float | None:
    raw = environ.get("HTTP_X_PROMETHEUS_SCRAPE_TIMEOUT_SECONDS")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if value > 0 else None


def parse_listen_address(addr: str) -> tuple[str, int]:
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"--web.listen-address must be host:port or :port, got {addr!r}")
    return host.strip("[]"), int(port)


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound now so a busy port fails at start-up and ``.port`` is known early.

    ``[::]`` keeps the kernel's dual-stack default (IPv4 too unless ``net.ipv6.bindv6only``), as before.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host or "0.0.0.0", port))  # noqa: S104 - ":9871" means all interfaces, as in every exporter
    except BaseException:
        sock.close()
        raise
    return sock


def _is_liveness(req: Request) -> bool:
    """Health and readiness are answered before auth and without I/O, so they may run on the event
    loop thread: a worker pool full of slow scrapes cannot make a probe time out."""
    return req.path in OPEN_PATHS


class ExporterServer:
    """The app behind a bounded HTTP(S) server (see :mod:`exporter.web.http11` for why and how)."""

    def __init__(
        self, app: ExporterApp, listen: str, web: WebConfig | None = None, limits: Limits | None = None
    ) -> None:
        host, port = parse_listen_address(listen)
        self.limits = limits or Limits()
        self._sock = _bind(host, port)
        bound = self._sock.getsockname()
        self.host: str = str(bound[0])
        self.port: int = int(bound[1])
        ctx = (web or WebConfig()).server_ssl_context()
        self._app: ExporterApp = app
        handler = wsgi_handler(self._call_app, "https" if ctx else "http", self.port)
        try:
            self.http = HTTPServer(handler, self._sock, ctx, self.limits, inline=_is_liveness, on_refuse=self._refuse)
        except BaseException:
            self._sock.close()
            raise
        self._thread = threading.Thread(target=self.http.serve_forever, name="http", daemon=True)

    def _call_app(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return self._app(environ, start_response)

    def _refuse(self, reason: str) -> None:
        self._app.refused(reason)

    def set_app(self, app: ExporterApp) -> None:
        """Swap the app (tests) without closing the listener; a reload changes the collector, not the app."""
        self._app = app

    def start(self) -> None:
        self._thread.start()

    def serve_forever(self) -> None:
        self.http.serve_forever()

    def stop(self) -> None:
        """Returns within about a second even while a scrape is running: busy workers are not joined."""
        self.http.stop(timeout=1.0)
