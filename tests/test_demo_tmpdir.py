"""The demo runs in a read-only container: it writes only to a real temp dir, and cleans up.

Why: the compose stack's exporter is ``read_only``; ``tempfile.mkdtemp()`` would fall back to the
current directory there (or fail with a confusing message), and the directory holds a private key.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import pytest
import yaml

from exporter import cli
from exporter.simulator import SimulatedGateway
from exporter.simulator import tmpdir as sim_tmpdir
from exporter.simulator.tmpdir import NoWritableTempDirError, private_tmpdir
from tests.e2e_support import DEPLOY
from tests.support.exporter import run_exporter


def test_private_tmpdir_skips_unusable_dirs_and_never_uses_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    usable = tmp_path / "tmp"
    usable.mkdir()
    made = private_tmpdir("pwsim-", [str(tmp_path / "missing"), str(usable)])
    assert made.parent == usable and made.stat().st_mode & 0o777 == 0o700
    with pytest.raises(NoWritableTempDirError, match=r"missing: .*; mount a tmpfs on /tmp or set TMPDIR"):
        private_tmpdir("pwsim-", [str(tmp_path / "missing")])
    assert list(cwd.iterdir()) == []


def test_the_simulator_uses_tmpdir_and_removes_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    with SimulatedGateway() as gw:
        assert gw.cert_path.is_relative_to(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_demo_without_a_temp_dir_is_one_error_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sim_tmpdir, "_temp_dir_candidates", lambda: ["/nonexistent/tmp"])
    with caplog.at_level(logging.ERROR, logger="exporter"), pytest.raises(SystemExit) as exc:
        cli._start_demo()
    assert exc.value.code == 2
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("cannot start the demo: no writable temporary directory") and "\n" not in line


def test_demo_that_cannot_listen_leaves_no_key_behind(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = run_exporter(
            "--demo", f"--web.listen-address=127.0.0.1:{port}", env={**os.environ, "TMPDIR": str(tmp_path)}
        )
    assert proc.returncode == 1, proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_compose_gives_the_read_only_exporter_a_tmpfs_and_a_state_dir() -> None:
    exporter = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))["services"]["exporter"]
    assert exporter["read_only"] is True
    assert any(t.split(":")[0] == "/tmp" for t in exporter["tmpfs"])
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    state = dockerfile.split("STATE_DIRECTORY=", 1)[1].split()[0]
    assert any(v.split(":")[1] == state for v in exporter["volumes"])
