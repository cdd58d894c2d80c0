"""The exporter as a real subprocess (``python -m exporter``): the one launcher every test uses.

Memory, thread counts, signals, exit codes, logs and the command line itself are properties of the
process, not of objects in the test's interpreter; :func:`start_exporter` starts one on a free
loopback port, with a config written from a dict (or none, for ``--demo``), and waits until it
serves. :func:`run_exporter` runs a command that ends by itself (``--config.check``, ``--version``,
a start-up error) and returns what it printed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from exporter.simulator import SimulatedGateway
from tests.scrape import Scrape, get
from tests.support.net import free_port
from tests.support.paths import REPO
from tests.support.processes import Process, launch, run_python
from tests.support.wiring import SIM_PASSWORD

MB = 1024 * 1024
EXPORTER = ("-m", "exporter")


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


class ExporterProcess(Process):
    """A running exporter on a loopback port: its pages, besides the process's log and memory."""

    port: int

    def __init__(self, proc: subprocess.Popen[bytes], log_path: Path, port: int, name: str = "exporter") -> None:
        super().__init__(name, proc, log_path, port)

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


def _healthz(exp: ExporterProcess) -> bool:
    return exp.get("/healthz", None)[0] == 200


def start_exporter(
    config: dict[str, Any] | None,
    tmp_path: Path,
    *args: str,
    log_level: str = "info",
    env: Mapping[str, str] | None = None,
    ready: Callable[[ExporterProcess], bool] = _healthz,
    timeout: float = 30.0,
) -> ExporterProcess:
    """Start the exporter on ``config`` (``None``: no config file, e.g. with ``--demo``) and wait until ``ready``.

    ``ready`` is polled (an ``OSError`` counts as not yet) until it returns true, for ``timeout``
    seconds at most; the default asks plain-HTTP ``/healthz``. ``env`` adds to the test's
    environment. The log (stdout and stderr) goes to a file, read by :meth:`ExporterProcess.log`
    and returned by :meth:`ExporterProcess.stop`.
    """
    port = free_port()
    argv = [sys.executable, *EXPORTER, f"--web.listen-address=127.0.0.1:{port}", f"--log.level={log_level}"]
    if config is not None:
        config_file = tmp_path / "exporter-config.yaml"
        config_file.write_text(yaml.safe_dump(config))
        argv.append(f"--config.file={config_file}")
    log_path = tmp_path / "exporter-stderr.log"
    proc = launch([*argv, *args], log_path, cwd=REPO, env={**os.environ, **(env or {})})
    return serving(ExporterProcess(proc, log_path, port), ready, timeout)


def serving(
    exp: ExporterProcess, ready: Callable[[ExporterProcess], bool] = _healthz, timeout: float = 30.0
) -> ExporterProcess:
    """``exp`` once ``ready`` holds; stopped, and the test failed with its log, if it never does."""
    try:
        exp.wait_until("the exporter to serve", lambda: ready(exp), timeout)
    except BaseException:
        exp.stop()
        raise
    return exp


def run_exporter(
    *args: str, cwd: Path = REPO, env: Mapping[str, str] | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m exporter <args>`` to its end (a check, a refused start, a subcommand): its output.

    ``env`` is the whole environment (``None``: the test's).
    """
    return run_python(*EXPORTER, *args, cwd=cwd, env=env, timeout=timeout)
