"""The JSON API source: the site-level endpoints every firmware has (aggregates, state of energy, ...).

Each answer is decoded and mapped by its shape's mapper (:mod:`exporter.site.mappers`) as it arrives,
so a mapping failure costs that one request; it is offered to the site merge as a shape already
mapped (:mod:`exporter.site.merge`), which ranks the JSON API first and makes ``powerwall_info``.
"""

from __future__ import annotations

from collections.abc import Sequence

from exporter.gateway.outcomes import Fetched
from exporter.gateway.request import Request
from exporter.site.mappers import JSON_MAPPERS
from exporter.site.shapes import Shape
from exporter.sources.base import Output, RequestView, Source
from exporter.sources.json_api import endpoints as ep


class JsonApiSource(Source):
    name = "json_api"
    ALLOWED = ep.ALLOWED

    def requests(self, view: RequestView) -> Sequence[Request]:
        return ep.REQUESTS

    def collect(self, request: Request, answer: Fetched, out: Output) -> None:
        obj = answer.json_object()
        JSON_MAPPERS[request.path](obj, out.ms)
        out.site[Shape(request.path)] = obj
        out.site_mapped = True
