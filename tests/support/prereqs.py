"""What a test needs from outside the checkout: missing on a developer's machine → skip, in CI → fail.

Why one rule: a developer without Prometheus, Chromium or the ``../shared`` captures should still
run the rest of the suite, but CI installs all of them (``.ci/run``), so there a missing one means
the tests that need it silently stopped running, which is a failure. ``.ci/run`` exports
``CI=true``; the variable is read at each call (a test may change it, see
``tests/test_deploy.py``).

A few binaries are optional even in CI (``ss``, ``systemd-analyze``: CI does not install them and
what they check is secondary): ``require_binary(..., required_in_ci=False)`` skips everywhere.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

from tests.support.paths import FIXTURES

# The Debian package of each binary the tests run (the install hint of a skip or failure).
DEBIAN_PACKAGES = {
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "amtool": "prometheus-alertmanager",
    "chromium": "chromium",
    "ss": "iproute2",
    "systemd-analyze": "systemd",
}


def in_ci() -> bool:
    """``CI`` is set to a true value (``.ci/run`` exports ``CI=true``)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def unavailable(reason: str, *, required_in_ci: bool = True) -> NoReturn:
    """Skip the test (developer machine) or fail it (CI, unless ``required_in_ci`` is false)."""
    if required_in_ci and in_ci():
        pytest.fail(f"{reason} (CI=true makes this an error)")
    pytest.skip(reason)


def require_binary(name: str, *, required_in_ci: bool = True) -> str:
    """The path of the Debian binary ``name``, or skip/fail (:func:`unavailable`) naming the package.

    ``/usr/bin`` is searched too: Debian installs the monitoring binaries there, and a test's
    ``PATH`` may not include it.
    """
    found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if found is None:
        package = DEBIAN_PACKAGES.get(name, name)
        unavailable(
            f"{name} is not installed; install it with `apt-get install -y --no-install-recommends {package}`",
            required_in_ci=required_in_ci,
        )
    return found


def require_path(path: Path, what: str) -> Path:
    """``path`` (a fixture file or directory), or skip/fail (:func:`unavailable`) saying ``what`` it is."""
    if not path.exists():
        unavailable(f"{what} not found at {path} (clone ../shared beside the repo)")
    return path


def require_fixtures() -> Path:
    """The shared captures directory (``../shared/fixtures``), or skip/fail (:func:`unavailable`)."""
    return require_path(FIXTURES, "the shared fixtures")
