"""Run a WSGI-style app (the exporter's routes) as a handler of the HTTP server, buffering its answer."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote

from exporter.web.http_parse import Handler, Request, Response

log = logging.getLogger(__name__)


class _ErrorStream(io.TextIOBase):
    """``wsgi.errors``: what the app writes there goes to our log, not to a terminal."""

    def write(self, s: str) -> int:
        if s.strip():
            log.warning("app: %s", s.rstrip())
        return len(s)


_ERRORS = _ErrorStream()


def wsgi_handler(
    app: Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]], scheme: str, server_port: int
) -> Handler:
    """Adapt a WSGI-style callable to a :data:`Handler`, buffering its whole answer.

    Buffering is what lets any exception, even one raised while the body is produced, still become a
    clean 500: nothing has reached the client yet.
    """

    def handle(req: Request) -> Response:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": req.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(req.path, encoding="latin-1"),
            "QUERY_STRING": req.query,
            "SERVER_NAME": "localhost",
            "SERVER_PORT": str(server_port),
            "SERVER_PROTOCOL": req.version,
            "REMOTE_ADDR": req.peer[0],
            "REMOTE_PORT": str(req.peer[1]),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": scheme,
            "wsgi.input": io.BytesIO(req.body),
            "wsgi.errors": _ERRORS,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            # A server extension (PEP 3333 allows them, lower-case with a prefix): see Request.arrived.
            "exporter.arrived": req.arrived,
        }
        for name, value in req.headers:
            if "_" in name:
                continue  # would alias a dash-named header in the environ (header spoofing)
            key = name.upper().replace("-", "_")
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[key] = value
            else:
                key = "HTTP_" + key
                environ[key] = f"{environ[key]}, {value}" if key in environ else value
        started: list[Response] = []
        chunks: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], Any]:
            if started and exc_info is None:
                raise RuntimeError("start_response called twice without exc_info")
            started[:] = [Response(status, list(headers))]
            return chunks.append

        try:
            result = app(environ, start_response)
            try:
                chunks.extend(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            if not started:
                raise RuntimeError("the app returned without calling start_response")
            resp = started[0]
            if not re.fullmatch(r"[1-5]\d\d [^\r\n]*", resp.status) or any(
                "\r" in k + v or "\n" in k + v or ":" in k for k, v in resp.headers
            ):
                raise RuntimeError(f"the app produced an invalid status or header: {resp.status!r}")
            resp.body = b"".join(chunks)
            return resp
        except Exception:
            log.exception("internal error answering %s %s", req.method, req.path)
            return Response.plain(500, "internal server error\n")

    return handle
