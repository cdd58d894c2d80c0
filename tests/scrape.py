"""One way for tests to GET a page of a running exporter and to parse an exposition into samples.

Used for the in-process server (:mod:`tests.fault_env`, the web tests), the exporter subprocess
(:mod:`tests.support.exporter`) and rendered text alike, so that every test reads series the same
way: by name, then by label set.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from prometheus_client.parser import text_string_to_metric_families

Labels = dict[str, str]
Key = frozenset[tuple[str, str]]  # a label set, hashable

SCRAPE_TIMEOUT_HEADER = "X-Prometheus-Scrape-Timeout-Seconds"


class Response(NamedTuple):
    status: int
    headers: dict[str, str]  # as the server spelled them
    body: bytes
    elapsed: float  # seconds, request sent to body read


def get(
    port: int,
    path: str = "/metrics",
    scrape_timeout: float | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> Response:
    """One plain-HTTP GET on 127.0.0.1 (a fresh connection); ``scrape_timeout`` as Prometheus sends it."""
    sent = dict(headers or {})
    if scrape_timeout is not None:
        sent[SCRAPE_TIMEOUT_HEADER] = str(scrape_timeout)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    start = time.monotonic()
    try:
        conn.request("GET", path, headers=sent)
        resp = conn.getresponse()
        body = resp.read()
        return Response(resp.status, dict(resp.getheaders()), body, time.monotonic() - start)
    finally:
        conn.close()


@dataclass
class Scrape:
    """One parsed exposition (Prometheus text format)."""

    status: int
    elapsed: float
    text: str
    samples: dict[str, list[tuple[Labels, float]]] = field(default_factory=dict)

    @classmethod
    def parse(cls, body: bytes | str, status: int = 200, elapsed: float = 0.0) -> Scrape:
        text = body.decode() if isinstance(body, bytes) else body
        samples: dict[str, list[tuple[Labels, float]]] = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                samples.setdefault(s.name, []).append((dict(s.labels), float(s.value)))
        return cls(status, elapsed, text, samples)

    @classmethod
    def of(cls, response: Response) -> Scrape:
        return cls.parse(response.body, response.status, response.elapsed)

    def value(self, name: str, **labels: str) -> float | None:
        """The first sample of ``name`` whose labels include ``labels``."""
        for lbl, v in self.samples.get(name, []):
            if all(lbl.get(k) == want for k, want in labels.items()):
                return v
        return None

    def series(self, name: str) -> dict[Key, float]:
        """Every sample of ``name``, by its full label set."""
        return {frozenset(lbl.items()): v for lbl, v in self.samples.get(name, [])}

    def index(self) -> dict[str, dict[Key, float]]:
        """Every sample: by name, then by full label set."""
        return {name: self.series(name) for name in self.samples}

    def names(self) -> set[str]:
        return set(self.samples)

    def gateways(self) -> set[str]:
        return {lbl["gateway"] for rows in self.samples.values() for lbl, _ in rows if "gateway" in lbl}

    def success(self, gateway: str | None = None) -> dict[str, float]:
        """``powerwall_scrape_endpoint_success`` by endpoint (of one gateway, if given)."""
        return {
            lbl["endpoint"]: v
            for lbl, v in self.samples.get("powerwall_scrape_endpoint_success", [])
            if gateway is None or lbl.get("gateway") == gateway
        }

    def errors(self, endpoint: str, reason: str) -> float:
        return self.value("powerwall_scrape_endpoint_errors_total", endpoint=endpoint, reason=reason) or 0.0

    def logins(self, result: str) -> float:
        return self.value("powerwall_login_attempts_total", result=result) or 0.0


def scrape(port: int, path: str = "/metrics", scrape_timeout: float | None = 10.0) -> Scrape:
    """GET ``path`` and parse it; anything but 200 fails the test with the start of the body."""
    r = get(port, path, scrape_timeout)
    assert r.status == 200, r.body[:500]
    return Scrape.of(r)
