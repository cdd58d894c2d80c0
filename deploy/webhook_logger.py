"""Example Alertmanager webhook receiver for the docker-compose stack: logs every notification.

Why it exists: `docker compose up` should show an alert travelling all the way to a receiver without
anyone configuring mail or chat first. Replace it with a real receiver in alertmanager.yml. Standard
library only, so it runs in the stock python:slim image.

    python webhook_logger.py --listen 0.0.0.0:9095
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger("webhook-logger")


def describe(notification: dict[str, Any]) -> list[str]:
    """One line per alert: status, severity, name, gateway and summary."""
    lines = []
    for alert in notification.get("alerts", []):
        labels = alert.get("labels", {})
        annotations = alert.get("annotations", {})
        lines.append(
            f"[{alert.get('status', '?').upper()}] {labels.get('severity', '-')} {labels.get('alertname', '?')} "
            f"gateway={labels.get('gateway', '-')}: {annotations.get('summary', '')}"
        )
    return lines


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        try:
            notification = json.loads(self.rfile.read(length))
        except json.JSONDecodeError:
            self.send_error(400, "expected a JSON body")
            return
        log.info("notification to %s from receiver %s", self.path, notification.get("receiver"))
        for line in describe(notification):
            log.info("%s", line)
        self.send_response(200)
        self.end_headers()

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"webhook logger: POST Alertmanager notifications here\n")

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:9095", help="host:port (default 127.0.0.1:9095)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    host, port = args.listen.rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), Handler)
    log.info("listening on %s", args.listen)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
