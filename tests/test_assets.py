"""The assets pip users get: in the wheel, written out by ``powerwall-exporter assets write``.

Why from a wheel: an editable install reads the repository's files, so only a real (non-editable)
install proves the build step copied them and ``importlib.resources`` finds them. The wheel is built
from a copy of the tracked files (so the checkout gets no build/ or egg-info debris) without build
isolation (so the test needs no network: the venv's setuptools builds it).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from exporter.assets import assets
from exporter.assets.command import main
from exporter.assets.manifest import SOURCES, expand
from tests.support.exporter import run_exporter
from tests.support.paths import REPO
from tests.support.prereqs import require_binary

# The documented tree (exporter/assets/__init__.py docstring, README "Dashboards, alerts, deployment").
TOP_DIRS = {"dashboards", "prometheus", "alertmanager", "examples", "systemd"}


def tracked_copy(dest: Path) -> Path:
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        src = REPO / os.fsdecode(name)
        if src.is_file():
            target = dest / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(src.read_bytes())
    return dest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tracked_copy(tmp_path_factory.mktemp("src"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)],
        check=True,
        capture_output=True,
    )
    (whl,) = out.glob("powerwall_exporter-*.whl")
    return whl


def test_wheel_carries_every_asset_and_the_license(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {n.removeprefix("exporter/assets/data/") for n in names if n.startswith("exporter/assets/data/")}
    assert shipped == {dest for _, dest in expand(REPO)}
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in metadata
    assert re.search(
        r"^Project-URL: Issues, https://github\.com/powerwall-exporter/powerwall-exporter/issues$", metadata, re.M
    )


def test_assets_write_from_a_non_editable_install_passes_promtool(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    # This interpreter has the runtime dependencies; PYTHONPATH puts the installed copy before the
    # editable one, and cwd is not the checkout, so the repository cannot be what gets imported.
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run(
        [sys.executable, "-c", "import exporter.assets as a; print(a.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(target), where

    out = tmp_path / "out"
    proc = run_exporter("assets", "write", str(out), cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert written == {dest for _, dest in expand(REPO)}
    assert {w.split("/")[0] for w in written} == TOP_DIRS
    for src, dest in expand(REPO):
        assert (out / dest).read_bytes() == src.read_bytes(), dest

    promtool = require_binary("promtool")
    rules = sorted(str(p) for p in (out / "prometheus" / "rules").glob("*.yml"))
    check = subprocess.run([promtool, "check", "rules", *rules], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    # The example Prometheus config finds the rules relative to itself, as written.
    check = subprocess.run(
        [promtool, "check", "config", "--syntax-only", str(out / "prometheus" / "prometheus.yml")],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_write_refuses_to_overwrite_and_writes_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "dashboards").mkdir()
    (tmp_path / "dashboards" / "powerwall-overview.json").write_text("mine")
    (tmp_path / "systemd").mkdir()
    (tmp_path / "systemd" / "powerwall-exporter.service").write_text("mine too")
    with caplog.at_level(logging.ERROR, logger="exporter.assets"):
        assert main(["write", str(tmp_path)]) == 1
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [
        f"{tmp_path}/dashboards/powerwall-overview.json: already exists (use --force to overwrite)",
        f"{tmp_path}/systemd/powerwall-exporter.service: already exists (use --force to overwrite)",
        "nothing written",
    ]
    assert (tmp_path / "dashboards" / "powerwall-overview.json").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [
        "powerwall-exporter.service",
        "powerwall-overview.json",
    ]


def test_force_overwrites_and_replaces_a_symlink_instead_of_writing_through_it(tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text("not yours")
    out = tmp_path / "out"
    (out / "dashboards").mkdir(parents=True)
    (out / "dashboards" / "powerwall-overview.json").symlink_to(outside)
    assert main(["write", str(out), "--force"]) == 0
    link = out / "dashboards" / "powerwall-overview.json"
    assert not link.is_symlink()
    assert link.read_bytes() == (REPO / "grafana" / "dashboards" / "powerwall-overview.json").read_bytes()
    assert outside.read_text() == "not yours"


def test_a_file_where_a_directory_belongs_is_one_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "prometheus").write_text("")
    with caplog.at_level(logging.ERROR, logger="exporter.assets"):
        assert main(["write", str(tmp_path), "--force"]) == 1
    errors = [r.getMessage() for r in caplog.records]
    assert errors == [f"{tmp_path}/prometheus: exists and is not a directory", "nothing written"]


def test_the_docker_build_context_holds_every_asset() -> None:
    """The image builds the wheel, and setup.py fails without the assets: the Dockerfile must copy them."""
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    copied = {part for line in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, re.M) for part in line.split()}
    ignore = (REPO / "deploy" / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for src, _ in expand(REPO):
        rel = src.relative_to(REPO).as_posix()
        covers = [c for c in copied if rel == c or rel.startswith(c.rstrip("/") + "/")]
        assert covers, f"deploy/Dockerfile does not COPY {rel}"
        assert any(rel == a or rel.startswith(a + "/") for a in allowed), f"the .dockerignore excludes {rel}"
    for needed in ("setup.py", "MANIFEST.in", "LICENSE"):
        assert needed in copied and needed in allowed


def test_manifest_patterns_each_match_and_assets_are_sorted() -> None:
    listed = [a.path for a in assets()]
    assert listed == sorted(listed)
    assert len(SOURCES) == len({dest for _, dest in SOURCES})
