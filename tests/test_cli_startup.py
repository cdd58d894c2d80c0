"""Start-up errors are one actionable line, never a traceback, and nothing starts by surprise."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.support.exporter import run_exporter
from tests.support.paths import REPO
from tests.support.processes import run_python


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def test_no_arguments_says_how_to_start_instead_of_starting_the_demo() -> None:
    line = one_error_line(run_exporter())
    assert "powerwall-exporter --demo" in line and "--config.file" in line


def test_demo_and_a_config_file_are_refused_together(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("gateways: []\n")
    line = one_error_line(run_exporter("--demo", f"--config.file={config}"))
    assert "cannot be combined" in line


def test_demo_without_the_extra_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['cryptography'] = None\n"
        "from exporter.cli import main\n"
        "sys.exit(main(['--demo', '--web.listen-address=127.0.0.1:0']))\n"
    )
    line = one_error_line(run_python("-c", code, cwd=REPO))
    assert "the 'demo' extra" in line and "pip install -e '.[demo]'" in line


def test_check_warns_about_a_missing_pin_with_the_port(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump({"state_file": None, "gateways": [{"name": "g", "address": "127.0.0.1:35185", "password": "x"}]})
    )
    proc = run_exporter(f"--config.file={config}", "--config.check")
    assert proc.returncode == 0, proc.stderr
    assert "--tls.fetch-certificate 127.0.0.1:35185" in proc.stderr
