"""The exporter as a real subprocess (``python -m exporter``), for tests that measure the process.

Memory, thread counts, signals and exit times are properties of the process, not of objects in the
test's interpreter; this starts one on a free loopback port with a config written from a dict.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from exporter.simulator import SimulatedGateway
from tests.conftest import REPO, SIM_PASSWORD, free_port

PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 1024 * 1024


def gateway_entry(gw: SimulatedGateway, cert_dir: Path, name: str = "home", **overrides: Any) -> dict[str, Any]:
    """The config-file entry a user would write for a simulated gateway (CA pin)."""
    cert = cert_dir / f"{name}-gateway.pem"
    cert.write_bytes(gw.cert_pem)
    return {
        "name": name,
        "address": gw.url,
        "password": SIM_PASSWORD,
        "tls": {"ca_file": str(cert), "server_name": "powerwall"},
        **overrides,
    }


@dataclass
class ExporterProcess:
    proc: subprocess.Popen[bytes]
    port: int
    stderr_path: Path
    _closed: bool = field(default=False, repr=False)

    def rss(self) -> int:
        return int(Path(f"/proc/{self.proc.pid}/statm").read_text().split()[1]) * PAGE

    def threads(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
        raise AssertionError("no Threads: line")

    def get(self, path: str = "/metrics", scrape_timeout: float | None = 10.0) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {} if scrape_timeout is None else {"X-Prometheus-Scrape-Timeout-Seconds": str(scrape_timeout)}
        try:
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def scrape(self, scrape_timeout: float | None = 10.0) -> str:
        status, body = self.get("/metrics", scrape_timeout)
        assert status == 200, body[:300]
        return body.decode()

    def log(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.proc.send_signal(signum)

    def stop(self) -> str:
        """Terminate (if still running) and return everything the process logged."""
        if not self._closed:
            self._closed = True
            if self.proc.poll() is None:
                self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.log()


def start_exporter(config: dict[str, Any], tmp_path: Path, *args: str, log_level: str = "info") -> ExporterProcess:
    """Start the exporter on ``config`` and wait until ``/healthz`` answers."""
    config_file = tmp_path / "exporter-config.yaml"
    config_file.write_text(yaml.safe_dump(config))
    stderr_path = tmp_path / "exporter-stderr.log"
    port = free_port()
    with stderr_path.open("wb") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exporter",
                f"--config.file={config_file}",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--log.level={log_level}",
                *args,
            ],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    exp = ExporterProcess(proc, port, stderr_path)
    deadline = time.monotonic() + 30
    while True:
        try:
            if exp.get("/healthz", None)[0] == 200:
                return exp
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            exp.stop()
            raise AssertionError(f"exporter did not start: {exp.log()[-2000:]}")
        time.sleep(0.1)
