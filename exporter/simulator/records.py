"""What reached the simulated gateway: every request, the dangerous ones, the TEDAPI requests by
kind, login attempts and failed TLS handshakes.

Why a module of its own: these records are the simulator's evidence. Tests prove with them that the
exporter never sent anything outside its allow-list, never a call that would change a real system
and never ``force_sm_off``; keeping them apart from the code that chooses answers keeps that evidence
simple to trust. Thread-safe: connection threads write, the test reads (every read is a copy).
"""

from __future__ import annotations

import logging
import threading

from exporter.simulator.handler import LOGIN_PATH, MODEL_PATHS, RecordedRequest

logger = logging.getLogger(__name__)


class RequestLog:
    """The gateway's records (see the module docstring); :class:`SimulatedGateway` shows them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._dangerous: list[RecordedRequest] = []
        self._tedapi_requests: list[tuple[str, str]] = []
        self._login_count = 0
        self._handshake_failures: list[str] = []
        self.force_sm_off_seen = False

    # ---------------------------------------------------------------- writing
    def record(self, rec: RecordedRequest) -> None:
        """Keep ``rec`` as it arrives; a POST to the login path counts as a login attempt whatever
        answers it (faults included)."""
        with self._lock:
            self._requests.append(rec)
            if rec.method == "POST" and rec.path == LOGIN_PATH:
                self._login_count += 1

    def flag_dangerous(self, rec: RecordedRequest) -> None:
        """Record ``rec`` as a call that would change a real system."""
        logger.error("DANGEROUS call reached the simulated gateway: %s %s", rec.method, rec.path)
        with self._lock:
            self._dangerous.append(rec)

    def flag_force_sm_off(self, rec: RecordedRequest) -> None:
        """Record a login asking for ``force_sm_off``: dangerous, and remembered on its own."""
        self.force_sm_off_seen = True
        self.flag_dangerous(rec)
        logger.error("LOGIN WITH force_sm_off reached the simulated gateway (this stops real systems)")

    def tedapi_request(self, path: str, kind: str) -> None:
        """Record a TEDAPI request to ``path`` of ``kind`` (``tedapi.classify``'s reading)."""
        with self._lock:
            self._tedapi_requests.append((path, kind))

    def handshake_failed(self, why: str) -> None:
        """Record a failed or refused TLS handshake."""
        logger.debug("TLS handshake failed: %s", why)
        with self._lock:
            self._handshake_failures.append(why)

    def clear(self) -> None:
        """Forget the requests and TEDAPI requests (dangerous calls, logins and handshakes stay)."""
        with self._lock:
            self._requests.clear()
            self._tedapi_requests.clear()

    # ---------------------------------------------------------------- reading
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def dangerous_calls(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._dangerous)

    def tedapi_requests(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._tedapi_requests)

    def tedapi_count(self, kind: str) -> int:
        """How many TEDAPI requests of ``kind`` arrived (``dangerous`` counts every dangerous kind)."""
        return sum(1 for _, k in self.tedapi_requests() if k == kind or k.startswith(kind + ":"))

    def login_count(self) -> int:
        with self._lock:
            return self._login_count

    def handshake_failures(self) -> list[str]:
        with self._lock:
            return list(self._handshake_failures)

    def unexpected_requests(self, allowed: frozenset[tuple[str, str]] | None = None) -> list[RecordedRequest]:
        """Requests whose (method, path) is not in ``allowed`` (default: the login POST plus GET of
        ``MODEL_PATHS``)."""
        if allowed is None:
            allowed = frozenset({("POST", LOGIN_PATH)} | {("GET", p) for p in MODEL_PATHS})
        return [r for r in self.requests() if (r.method, r.path) not in allowed]

    def assert_safe(self) -> None:
        """Raise AssertionError if any dangerous call or force_sm_off login reached the gateway."""
        problems = [f"{r.method} {r.path}" for r in self.dangerous_calls()]
        if self.force_sm_off_seen:
            problems.append("login with force_sm_off")
        if problems:
            raise AssertionError("dangerous requests reached the simulated gateway: " + ", ".join(problems))
