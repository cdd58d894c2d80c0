"""The exporter as a real subprocess (``python -m exporter``): the one launcher every test uses.

Memory, thread counts, signals, exit codes, logs and the command line itself are properties of the
process, not of objects in the test's interpreter; this starts one on a free loopback port, with a
config written from a dict (or none, for ``--demo``), and waits until it serves.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from exporter.simulator import SimulatedGateway
from tests.scrape import Scrape, get
from tests.support.net import free_port
from tests.support.paths import REPO
from tests.support.wiring import SIM_PASSWORD

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
        r = get(self.port, path, scrape_timeout)
        return r.status, r.body

    def scrape(self, scrape_timeout: float | None = 10.0) -> str:
        """The text of one /metrics answer (which must be a 200)."""
        status, body = self.get("/metrics", scrape_timeout)
        assert status == 200, body[:300]
        return body.decode()

    def parsed(self, path: str = "/metrics", scrape_timeout: float | None = 10.0) -> Scrape:
        r = get(self.port, path, scrape_timeout)
        assert r.status == 200, r.body[:300]
        return Scrape.of(r)

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


def _healthz(exp: ExporterProcess) -> bool:
    return exp.get("/healthz", None)[0] == 200


def start_exporter(
    config: dict[str, Any] | None,
    tmp_path: Path,
    *args: str,
    log_level: str = "info",
    env: Mapping[str, str] | None = None,
    ready: Callable[[ExporterProcess], bool] = _healthz,
) -> ExporterProcess:
    """Start the exporter on ``config`` (``None``: no config file, e.g. with ``--demo``) and wait until ``ready``.

    ``ready`` is polled (an ``OSError`` counts as not yet) until it returns true, for 30 s at most;
    the default asks plain-HTTP ``/healthz``. ``env`` adds to the test's environment; stderr (the
    log) goes to a file, read by :meth:`ExporterProcess.log` and returned by :meth:`ExporterProcess.stop`.
    """
    port = free_port()
    argv = [sys.executable, "-m", "exporter", f"--web.listen-address=127.0.0.1:{port}", f"--log.level={log_level}"]
    if config is not None:
        config_file = tmp_path / "exporter-config.yaml"
        config_file.write_text(yaml.safe_dump(config))
        argv.append(f"--config.file={config_file}")
    stderr_path = tmp_path / "exporter-stderr.log"
    with stderr_path.open("wb") as err:
        proc = subprocess.Popen(
            [*argv, *args],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
    exp = ExporterProcess(proc, port, stderr_path)
    deadline = time.monotonic() + 30
    while True:
        try:
            if ready(exp):
                return exp
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            exp.stop()
            raise AssertionError(f"exporter did not start: {exp.log()[-2000:]}")
        time.sleep(0.1)
