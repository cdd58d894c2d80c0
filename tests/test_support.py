"""The test harness itself (tests/support/): it must be able to fail, or the tests built on it cannot.

Why tests of test code: every "skip on a developer's machine" is a test that silently stops running
if the rule is wrong, and a wait that returns too early turns the assertion after it into a race.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from tests.support.polling import wait_for
from tests.support.prereqs import require_binary, require_path
from tests.support.processes import start_process

MISSING = "powerwall-no-such-binary"


# ------------------------------------------------------------------------ skip locally, fail in CI
def test_missing_binary_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install"):
        require_binary(MISSING)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require_binary(MISSING)


def test_an_optional_binary_skips_even_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.skip.Exception, match=MISSING):
        require_binary(MISSING, required_in_ci=False)


def test_a_missing_fixture_names_its_path_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    absent = tmp_path / "capture.pb"
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=str(absent)):
        require_path(absent, "a capture")
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require_path(absent, "a capture")
    absent.write_bytes(b"x")
    assert require_path(absent, "a capture") == absent


# ---------------------------------------------------------------------------------------- polling
def test_wait_for_returns_the_first_true_answer() -> None:
    answers = iter([None, False, [], 0, "", ["series"]])
    assert wait_for("a non-empty answer", lambda: next(answers), timeout=5) == ["series"]


def test_wait_for_fails_naming_what_it_waited_for_and_the_last_answer() -> None:
    start = time.monotonic()
    with pytest.raises(AssertionError, match=r"waiting for the sun \(last answer: \[\]\)\nlog tail") as err:
        wait_for("the sun", lambda: [], timeout=0.2, details=lambda: "log tail")
    assert 0.2 <= time.monotonic() - start < 2.0, err.value


def test_wait_for_retries_only_the_named_errors() -> None:
    calls: list[int] = []

    def refused_twice() -> bool:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionRefusedError
        return True

    assert wait_for("a server", refused_twice, timeout=5, retry_on=(OSError,)) is True
    assert len(calls) == 3

    def broken() -> bool:
        raise KeyError("field")

    with pytest.raises(KeyError):
        wait_for("an answer", broken, timeout=5, retry_on=(OSError,))


# -------------------------------------------------------------------------------------- processes
def test_a_child_that_exits_ends_the_wait_at_once_with_its_log(tmp_path: Path) -> None:
    code = "import sys; print('cannot start: port in use', flush=True); sys.exit(3)"
    proc = start_process("child", [sys.executable, "-c", code], tmp_path)
    start = time.monotonic()
    with pytest.raises(AssertionError, match=r"(?s)child exited with 3 before .*cannot start: port in use"):
        proc.wait_until("readiness", lambda: False, timeout=60)
    assert time.monotonic() - start < 30  # not the whole timeout
    assert "cannot start" in proc.stop()


def test_stop_ends_a_running_child_and_returns_its_log(tmp_path: Path) -> None:
    code = "import time; print('serving', flush=True); time.sleep(600)"
    proc = start_process("sleeper", [sys.executable, "-c", code], tmp_path)
    proc.wait_until("its first line", lambda: "serving" in proc.log(), timeout=30)
    assert "serving" in proc.stop()
    assert proc.proc.returncode is not None
