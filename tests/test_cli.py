"""The command line as a user runs it: certificate pinning helper, log formats, the demo."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

from exporter.simulator import SimulatedGateway
from tests.conftest import free_port


def test_fetch_certificate_prints_pem_and_fingerprint(sim: SimulatedGateway) -> None:
    target = sim.url.removeprefix("https://")
    proc = subprocess.run(
        [sys.executable, "-m", "exporter", "--tls.fetch-certificate", target],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("-----BEGIN CERTIFICATE-----")
    assert f"# fingerprint_sha256: {sim.fingerprint_sha256}" in proc.stdout


def test_demo_serves_live_metrics_and_json_logs() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "exporter",
            "--demo",
            "--web.listen-address",
            f"127.0.0.1:{port}",
            "--log.format",
            "json",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        body = ""
        end = time.monotonic() + 30
        while time.monotonic() < end:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
                    body = r.read().decode()
                break
            except OSError:
                time.sleep(0.2)
        assert 'powerwall_up{gateway="demo"} 1.0' in body
        assert "powerwall_device_info" in body
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert lines and all({"ts", "level", "msg"} <= set(entry) for entry in lines)
    assert any("open http://" in entry["msg"] for entry in lines)
