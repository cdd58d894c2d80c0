"""The exporter's HTTP side: ``/metrics``, ``/probe``, ``/healthz`` and a landing page.

``prometheus_client.start_http_server`` answers metrics on every path and cannot pass the scrape
timeout Prometheus sends to the collector, so this is a small WSGI app of our own around the
library's encoders.
"""

from __future__ import annotations

import gzip
import html
import logging
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from exporter import __version__, exposition
from exporter.collector import BUILD_INFO, PowerwallCollector
from exporter.metricset import MetricSet
from exporter.webconfig import WebConfig

log = logging.getLogger(__name__)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
Environ = dict[str, Any]


class ExporterApp:
    def __init__(
        self,
        collector: PowerwallCollector,
        telemetry_path: str = "/metrics",
        web: WebConfig | None = None,
    ) -> None:
        self.collector = collector
        self.telemetry_path = telemetry_path
        self.web = web or WebConfig()
        self.started = time.time()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/") or "/"
        if path == "/healthz":
            return _plain(start_response, "200 OK", "ok\n")
        if not self.web.authorize(environ.get("HTTP_AUTHORIZATION")):
            start_response(
                "401 Unauthorized",
                [
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("WWW-Authenticate", 'Basic realm="powerwall-exporter"'),
                ],
            )
            return [b"Unauthorized\n"]
        if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            return _plain(start_response, "405 Method Not Allowed", "only GET\n")
        if path == self.telemetry_path:
            ms = self.collector.scrape(timeout=_scrape_timeout(environ))
            ms.add(BUILD_INFO, 1, {"version": __version__})
            return self._render(environ, start_response, ms, include_default=True)
        if path == "/probe":
            target = parse_qs(environ.get("QUERY_STRING", "")).get("target", [""])[0]
            if not target:
                return _plain(start_response, "400 Bad Request", "missing ?target=<gateway name>\n")
            if target not in self.collector.scrapers:
                return _plain(
                    start_response, "404 Not Found", f"unknown target {target!r}; use a configured gateway name\n"
                )
            ms = self.collector.scrape([target], timeout=_scrape_timeout(environ))
            return self._render(environ, start_response, ms, include_default=False)
        if path == "/":
            return self._landing(start_response)
        return _plain(start_response, "404 Not Found", "not found\n")

    def _render(
        self, environ: Environ, start_response: StartResponse, ms: MetricSet, include_default: bool
    ) -> Iterable[bytes]:
        render, content_type = exposition.choose(environ.get("HTTP_ACCEPT", ""))
        body = render(ms, include_default)
        headers = [("Content-Type", content_type)]
        if "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""):
            body = gzip.compress(body, compresslevel=1)
            headers.append(("Content-Encoding", "gzip"))
        headers.append(("Content-Length", str(len(body))))
        start_response("200 OK", headers)
        return [body]

    def _landing(self, start_response: StartResponse) -> Iterable[bytes]:
        rows = []
        for name, s in self.collector.scrapers.items():
            st = s.status
            up = "never scraped" if st.up is None else ("up" if st.up else "down")
            when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(st.at)) if st.at else "-"
            rows.append(
                "<tr>"
                f"<td>{html.escape(name)}</td><td>{html.escape(s.client.cfg.base_url)}</td>"
                f"<td>{html.escape(s.client.cfg.tls.mode)}</td><td>{up}</td><td>{when}</td>"
                f"<td>{'' if st.duration is None else f'{st.duration:.3f} s'}</td><td>{st.series}</td>"
                f"<td>{html.escape(st.error or '')}</td>"
                f'<td><a href="/probe?target={html.escape(name)}">probe</a></td>'
                "</tr>"
            )
        page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Powerwall Exporter</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.2em .8em;text-align:left}}</style></head>
<body><h1>Powerwall Exporter</h1>
<p>Version {html.escape(__version__)}. Prometheus exporter for the Tesla Energy Gateway (read-only).</p>
<p><a href="{html.escape(self.telemetry_path)}">Metrics</a> &middot; <a href="/healthz">Health</a></p>
<h2>Gateways</h2>
<table><tr><th>name</th><th>address</th><th>TLS</th><th>last status</th><th>last scrape</th>
<th>duration</th><th>series</th><th>last error</th><th></th></tr>
{"".join(rows)}
</table></body></html>
"""
        body = page.encode()
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))])
        return [body]


def _plain(start_response: StartResponse, status: str, text: str) -> Iterable[bytes]:
    body = text.encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]


def _scrape_timeout(environ: Environ) -> float | None:
    raw = environ.get("HTTP_X_PROMETHEUS_SCRAPE_TIMEOUT_SECONDS")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if value > 0 else None


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    ssl_context: ssl.SSLContext | None = None

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        if self.ssl_context is not None:
            # Handshake in the handler thread (do_handshake_on_connect=False), not in the accept
            # loop, so one slow TLS client cannot block the listener.
            sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        log.debug("connection from %s failed: %s", client_address, exc.__class__.__name__ if exc else "?")


class _Server6(_Server):
    address_family = socket.AF_INET6


def parse_listen_address(addr: str) -> tuple[str, int]:
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"--web.listen-address must be host:port or :port, got {addr!r}")
    return host.strip("[]"), int(port)


class ExporterServer:
    """A threaded HTTP(S) server running the app in a background thread."""

    def __init__(self, app: ExporterApp, listen: str, web: WebConfig | None = None) -> None:
        host, port = parse_listen_address(listen)
        server_class: type[_Server] = _Server6 if ":" in host else _Server
        self.httpd = make_server(host or "0.0.0.0", port, app, server_class, _QuietHandler)  # noqa: S104
        assert isinstance(self.httpd, _Server)
        self.httpd.ssl_context = (web or WebConfig()).server_ssl_context()
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="http", daemon=True)

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
