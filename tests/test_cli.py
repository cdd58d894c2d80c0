"""The command line as a user runs it: certificate pinning helper, log formats, the demo."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from exporter.simulator import SimulatedGateway
from tests.support.exporter import run_exporter, start_exporter


def test_fetch_certificate_prints_pem_and_fingerprint(sim: SimulatedGateway) -> None:
    target = sim.url.removeprefix("https://")
    proc = run_exporter("--tls.fetch-certificate", target)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("-----BEGIN CERTIFICATE-----")
    assert f"# fingerprint_sha256: {sim.fingerprint_sha256}" in proc.stdout


def test_demo_serves_live_metrics_and_json_logs(tmp_path: Path) -> None:
    exp = start_exporter(None, tmp_path, "--demo", "--log.format", "json")
    try:
        body = exp.scrape()
        assert 'powerwall_up{gateway="demo"} 1.0' in body
        assert "powerwall_device_info" in body
        exp.signal(signal.SIGTERM)
        exp.proc.wait(timeout=30)
    finally:
        err = exp.stop()
    assert exp.proc.returncode == 0, err[-2000:]
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert lines and all({"ts", "level", "msg"} <= set(entry) for entry in lines)
    assert any("open http://" in entry["msg"] for entry in lines)
