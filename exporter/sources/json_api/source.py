"""The JSON API source: the site-level endpoints every firmware has (aggregates, state of energy, ...).

Each answer is mapped by its endpoint's mapper (:mod:`exporter.sources.json_api.mappers`); the
decoded objects are kept in the scrape's output so the accounting stage can read the meter counters
and grid status. ``powerwall_info`` combines ``/api/status`` with the last good ``/api/site_info``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from exporter.gateway.outcomes import Fetched
from exporter.gateway.request import Request
from exporter.sources.base import Output, RequestView, Source
from exporter.sources.json_api import endpoints as ep
from exporter.sources.json_api.mappers import JSON_MAPPERS, gateway_info_labels
from exporter.sources.json_api.tables import GATEWAY_INFO


class JsonApiSource(Source):
    name = "json_api"
    ALLOWED = ep.ALLOWED

    def __init__(self, cfg: Any) -> None:
        super().__init__(cfg)
        self._lock = threading.Lock()
        self._site_info: Any = None  # last good /api/site_info, for identity labels only

    def requests(self, view: RequestView) -> Sequence[Request]:
        return ep.REQUESTS

    def collect(self, request: Request, answer: Fetched, out: Output) -> None:
        obj = answer.json_object()
        out.decoded[request.label] = obj
        JSON_MAPPERS[request.path](obj, out.ms)

    def finish(self, decoded: dict[str, Any], out: Output) -> None:
        with self._lock:
            if ep.SITE_INFO.label in decoded:
                self._site_info = decoded[ep.SITE_INFO.label]
            site_info = self._site_info
        labels = gateway_info_labels(decoded.get(ep.STATUS.label), site_info)
        if labels is not None:
            out.ms.add(GATEWAY_INFO, 1, labels)
