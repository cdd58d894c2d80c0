"""The README's "Without a clone" commands, run as written: build the wheel, install it in a fresh venv.

Why: that section once told users to install from a repository address that does not exist, and no
test ran it. This one takes the two ``sh`` blocks that follow the ``install-without-a-clone`` markers
in README.md and runs their lines verbatim: the build line in a copy of the tracked files (with the
Quickstart's ``.venv`` being the venv running this test), the install lines in a directory that holds
only the wheel, with ``HOME`` pointing into the test's temp dir so ``~`` is fresh. So the README and
what CI checks cannot drift apart. The one liberty taken: the ``--demo`` line also gets a free
loopback ``--web.listen-address``, and runs in the background until it serves ``powerwall_up 1``.

It needs the package index, as ``.ci/run`` does: the build is isolated (pip fetches setuptools) and the
fresh venv gets the runtime dependencies from it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from exporter.assets.manifest import expand
from tests.support.exporter import ExporterProcess, serving
from tests.support.net import free_port
from tests.support.paths import REPO
from tests.support.processes import launch
from tests.test_assets import tracked_copy

README = REPO / "README.md"


def readme_block(marker: str) -> list[str]:
    """The command lines of the ``sh`` block right after ``<!-- install-without-a-clone: marker -->``."""
    text = README.read_text(encoding="utf-8")
    m = re.search(rf"^<!-- install-without-a-clone: {marker} -->\n```sh\n(.*?)^```$", text, re.M | re.S)
    assert m, f"README.md has no sh block after the install-without-a-clone: {marker} marker"
    return [line for line in m.group(1).splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _run(line: str, cwd: Path, env: dict[str, str]) -> None:
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", line],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, f"{line}\nexit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


# Builds, creates a venv and installs from the index: minutes on a busy CI machine, not seconds.
@pytest.mark.timeout(900)
def test_readme_install_without_a_clone_builds_installs_writes_assets_and_runs_the_demo(tmp_path: Path) -> None:
    build = readme_block("build")
    install = readme_block("install")
    demo_lines = [line for line in install if line.endswith(" --demo")]
    assets_lines = [line for line in install if " assets write " in line]
    assert len(demo_lines) == 1 and len(assets_lines) == 1, install
    assert any("/pip install " in line and ".whl" in line for line in install), install

    # The environment a user's shell would have: nothing of this test's venv or checkout.
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}}

    # On the machine with the clone: the copy's .venv is the venv running this test.
    clone = tracked_copy(tmp_path / "clone")
    (clone / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    for line in build:
        _run(line, clone, env)
    (wheel,) = (clone / "dist").glob("powerwall_exporter-*.whl")

    # On the target host: a directory holding the copied wheel, and a home nothing was installed into.
    host = tmp_path / "host"
    home = host / "home"
    home.mkdir(parents=True)
    shutil.copy2(wheel, host)
    env["HOME"] = str(home)
    for line in install:
        if line not in demo_lines:
            _run(line, host, env)

    # The installed package (not a checkout) is what runs, with the assets the build copied into it.
    venvs = [p for p in home.iterdir() if (p / "bin" / "powerwall-exporter").is_file()]
    assert len(venvs) == 1, sorted(home.iterdir())
    where = subprocess.run(
        [str(venvs[0] / "bin" / "python"), "-c", "import exporter; print(exporter.__file__)"],
        cwd=host,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(venvs[0]), where

    target = Path(shlex.split(assets_lines[0])[-1].replace("~", str(home), 1))
    written = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    assert written == {dest for _, dest in expand(REPO)}

    port = free_port()
    log_path = tmp_path / "demo.log"
    proc = launch(
        ["bash", "-c", f"exec {demo_lines[0]} --web.listen-address=127.0.0.1:{port}"], log_path, cwd=host, env=env
    )
    exp = serving(ExporterProcess(proc, log_path, port, name="the demo"), demo_is_up, timeout=60)
    log = exp.stop()
    assert "Traceback" not in log, log[-2000:]


def demo_is_up(exp: ExporterProcess) -> bool:
    """The installed demo serves ``powerwall_up 1`` (its first scrape may still be under way)."""
    try:
        return exp.parsed().value("powerwall_up", gateway="demo") == 1
    except AssertionError:  # not a 200 yet
        return False


def test_no_doc_installs_from_a_git_address() -> None:
    """The project's repository address is not one pip can install from; the wheel is the way."""
    offenders = [
        f"{doc.relative_to(REPO)}:{n}"
        for doc in sorted({*REPO.glob("*.md"), *REPO.glob("docs/**/*.md"), *REPO.glob("deploy/**/*.md")})
        for n, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1)
        if "git+http" in line
    ]
    assert not offenders, offenders
