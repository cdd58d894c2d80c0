"""The one way tests start a child process that keeps running, and run a Python command to its end.

Why one: the exporter, the simulator, Prometheus and Alertmanager all need the same care. Output
goes to a log file (a pipe nobody reads fills up and blocks the child), stdin is closed (a child
waiting for input hangs the suite), readiness is polled with a bound that fails early when the child
has already exited, and stopping always reaps the child, killing it when SIGTERM is not enough. A
failure message carries the log's tail, which is where the child said why.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from tests.support.polling import wait_for

T = TypeVar("T")

PAGE = os.sysconf("SC_PAGE_SIZE")


def launch(
    argv: Sequence[str], log_path: Path, *, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``argv`` with stdout and stderr into ``log_path`` and stdin closed.

    ``env`` is the child's whole environment (``None``: the test's); Python children get
    ``PYTHONUNBUFFERED=1`` so their log is complete when a test reads it.
    """
    environment = dict(os.environ if env is None else env)
    environment.setdefault("PYTHONUNBUFFERED", "1")
    with log_path.open("wb") as log:
        return subprocess.Popen(
            list(argv), cwd=cwd, env=environment, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )


class Process:
    """A running child started by :func:`launch`: its log, its readiness, its memory, its end."""

    def __init__(self, name: str, proc: subprocess.Popen[bytes], log_path: Path, port: int | None = None) -> None:
        self.name = name
        self.proc = proc
        self.log_path = log_path
        self.port = port
        self._stopped = False

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``, for a child that serves HTTP on a known loopback port."""
        if self.port is None:
            raise AssertionError(f"{self.name} was started without a port")
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        """Everything the child wrote so far (stdout and stderr)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.proc.send_signal(signum)

    def wait_until(self, what: str, probe: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.25) -> T:
        """:func:`~tests.support.polling.wait_for` while the child runs: fails at once when it exits,
        and with its log's tail when the time is up. An ``OSError`` of ``probe`` means "not yet"."""

        def alive_probe() -> T | None:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                raise AssertionError(f"{self.name} exited with {code} before {what}:\n{self.log_tail()}")
            return probe()

        return wait_for(
            f"{what} ({self.name})",
            alive_probe,
            timeout,
            interval,
            retry_on=(OSError,),
            details=lambda: f"{self.name} log:\n{self.log_tail()}",
        )

    def stop(self, timeout: float = 15.0) -> str:
        """SIGTERM (if still running), wait, SIGKILL after ``timeout`` s; return everything it logged."""
        if not self._stopped:
            self._stopped = True
            if self.proc.poll() is None:
                self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.log()

    def rss(self) -> int:
        """Resident memory in bytes (``/proc/<pid>/statm``)."""
        return int(Path(f"/proc/{self.proc.pid}/statm").read_text().split()[1]) * PAGE

    def threads(self) -> int:
        """Thread count (``/proc/<pid>/status``)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
        raise AssertionError("no Threads: line")


def start_process(
    name: str,
    argv: Sequence[str],
    log_dir: Path,
    *,
    port: int | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Process:
    """:func:`launch` ``argv`` with its log in ``log_dir/<name>.log``; the caller waits for readiness."""
    log_path = log_dir / f"{name}.log"
    return Process(name, launch(argv, log_path, cwd=cwd, env=env), log_path, port)


def run_python(
    *args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run ``python <args>`` (this interpreter) to its end, stdin closed, output captured as text.

    ``env`` is the whole environment, as for :func:`launch` (``None``: the test's). ``timeout`` bounds
    the run: a hang fails the test instead of stalling the suite.
    """
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
