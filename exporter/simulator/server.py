"""The simulated gateway: a threaded HTTPS server speaking the gateway's local API.

Why this exists: every test, the ``--demo`` mode and the benchmarks need a gateway that behaves like
the real one where it matters to a client (TLS with an un-verifiable self-signed certificate and SNI
checks, cookie/bearer sessions, 401/429/502 answers, protobuf vitals) and that can misbehave on demand
(``Faults``). It also *records* every request so tests can prove the exporter never sent anything
outside its allow-list, never a dangerous call, and never ``force_sm_off``.

Request handling order (documented because fault tests depend on it):

1. TLS: ``tls_fail`` closes the TCP connection before the handshake; a handshake whose SNI is set and
   is not ``teg``/``powerwall``/``powerpack`` is aborted (a bare IP sends no SNI and is fine).
2. The request is recorded (``requests``), then ``delay_seconds`` sleeps, then ``reset`` aborts.
3. Dangerous calls (``DANGEROUS_PATHS``, ``/api/meters/<x>/verify``, any non-GET other than the login
   POST) are recorded in ``dangerous_calls`` and answered 200 ``{}``, as a real gateway would obey them.
4. Forced answers: ``status``, ``html``, ``garbage``, ``giant``, ``gzip_bomb`` (login path included
   when the fault is global).
5. ``POST /api/login/Basic``: ``force_sm_off`` → flag + 400; ``login_status``; password check.
6. Other methods → 404. Paths outside ``/api/`` → 404. ``/api/*`` without a valid session → 401.
7. Content from the model (or the replay tree): unknown path → 404; ``sitemaster_stopped``,
   ``vitals_absent`` and ``extra_json`` are applied here. ``truncate_at`` / ``slow_drip`` shape how the
   body is sent.

Steps 1, 2 up to the delay, and the shaping of the body are the HTTP side's
(:mod:`exporter.simulator.handler`); from the ``reset`` fault on, :meth:`SimulatedGateway.answer`
decides, and hands steps 3-7 to :mod:`exporter.simulator.json_api`. TEDAPI paths (``/tedapi/...``,
and ``/`` while TEDAPI is on) skip steps 3-7 and go to :mod:`exporter.simulator.tedapi.wifi_serve`,
which reads each body with the simulator's own :func:`~exporter.simulator.tedapi.classify.classify`;
``POST /tedapi/v1r`` (signed TEDAPI on the home LAN) goes to :mod:`exporter.simulator.tedapi.v1r_serve`.

This module is the gateway itself: it owns the state those modules share (the site, faults, clock,
sessions, records, TLS identity), starts and stops the server, and routes each request. What is kept
apart: the records (:mod:`~exporter.simulator.records`), the certificate (:mod:`~exporter.simulator.tls`,
:mod:`~exporter.simulator.tmpdir`) and the sessions (:mod:`~exporter.simulator.sessions`).

The gateway has its own clock: ``clock`` (default ``time.time``) plus ``clock_offset_seconds``, shown in
the ``Date`` header of every answer and used to judge a v1r request's ``expires_at``.
"""

from __future__ import annotations

import logging
import random
import shutil
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from email.message import Message
from pathlib import Path
from types import TracebackType

from exporter.simulator import json_api
from exporter.simulator.certs import generate_certificate
from exporter.simulator.faults import Faults
from exporter.simulator.handler import (
    TEDAPI_V1R_PATH,
    HttpsServer,
    RecordedRequest,
    is_tedapi_path,
)
from exporter.simulator.model import SiteModel
from exporter.simulator.records import RequestLog
from exporter.simulator.replay import ReplayStore
from exporter.simulator.replies import Reply
from exporter.simulator.sessions import Sessions
from exporter.simulator.tedapi import v1r_serve, wifi_serve
from exporter.simulator.tedapi.v1r import DEFAULT_MAX_TTL_SECONDS
from exporter.simulator.tedapi.v1r_keys import KeyRing
from exporter.simulator.tls import GatewayTls
from exporter.simulator.tmpdir import NoWritableTempDirError, private_tmpdir

logger = logging.getLogger(__name__)

__all__ = ["NoWritableTempDirError", "SimulatedGateway", "private_tmpdir"]


class SimulatedGateway:
    """See the package docstring for the API and ``Faults`` for the misbehaviour switches."""

    def __init__(
        self,
        password: str = "sim-password",  # noqa: S107 - a simulator default, documented
        host: str = "127.0.0.1",
        port: int = 0,
        model: SiteModel | None = None,
        replay_dir: Path | None = None,
        vitals_file: Path | None = None,
        faults: Faults | None = None,
        gateway_password: str | None = None,
        tedapi_keys: Sequence[bytes] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``gateway_password`` switches TEDAPI on (user ``Tesla_Energy_Device``); ``tedapi_keys`` are the
        PEM public keys whose query signatures it accepts (none: every query is UNAUTHORIZED).
        ``clock`` is the gateway's own clock (Unix seconds; ``clock_offset_seconds`` is added to it).

        v1r (``POST /tedapi/v1r``, shared/docs/tedapi.md §6) is on where the site has it
        (``SiteModel.tedapi_v1r``; ``v1r_enabled`` switches it), with or without a gateway password; it
        accepts the RSA keys of ``v1r_keys`` (empty: every request faults UNKNOWN_KEY_ID)."""
        self.password = password
        self.gateway_password = gateway_password
        self.tedapi_keys: tuple[bytes, ...] = tuple(tedapi_keys)
        self.host = host
        self._requested_port = port
        self.model = model if model is not None else SiteModel()
        self.replay = ReplayStore(Path(replay_dir), vitals_file) if replay_dir is not None else None
        self.faults = faults if faults is not None else Faults()
        self.clock = clock
        self.clock_offset_seconds = 0.0
        self.v1r_keys = KeyRing()
        self.v1r_enabled = self.model.tedapi_v1r
        self.v1r_max_ttl_seconds = DEFAULT_MAX_TTL_SECONDS  # not in the docs: see tedapi.v1r
        self.v1r_log = v1r_serve.V1rLog()  # behind v1r_requests; v1r_serve writes it
        self.request_log = RequestLog()  # behind requests, dangerous_calls, tedapi_requests, ...
        self.sessions = Sessions()
        self._lock = threading.Lock()  # for _rng
        self._stopping = threading.Event()
        self._rng = random.Random(self.model.seed)
        bundle = generate_certificate()  # first: a missing cryptography then leaves no directory behind
        self._tmpdir = private_tmpdir("pwsim-")
        self._tls = GatewayTls(self._tmpdir, bundle)
        self._server: HttpsServer | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> SimulatedGateway:
        if self._server is not None:
            raise RuntimeError("already started")
        self._stopping.clear()
        self._server = HttpsServer(self, (self.host, self._requested_port))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="pwsim-accept", daemon=True
        )
        self._thread.start()
        logger.info("simulated gateway listening on %s (%s)", self.url, "replay" if self.replay else "model")
        return self

    def stop(self) -> None:
        """Stop serving, close every open connection, join all threads, remove the temp dir."""
        server, thread = self._server, self._thread
        self._stopping.set()
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(5)
        if server is not None:
            server.close_connections()
        self._server = self._thread = None
        shutil.rmtree(self._tmpdir, ignore_errors=True)

    def __enter__(self) -> SimulatedGateway:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def tmpdir(self) -> Path:
        """The gateway's private (0700) temp dir, removed by :meth:`stop`: for files that belong with
        it, like the demo's signed TEDAPI query file."""
        return self._tmpdir

    def now(self) -> float:
        """The gateway's clock: what its ``Date`` header says and what v1r expiry is judged by."""
        return self.clock() + self.clock_offset_seconds

    def wait(self, seconds: float) -> bool:
        """Sleep ``seconds`` (a delay fault); True, and at once, when the gateway stops meanwhile."""
        return self._stopping.wait(seconds)

    # ---------------------------------------------------------------- TLS
    @property
    def ssl_context(self) -> ssl.SSLContext:
        """The server-side TLS context new connections are wrapped in (a rotation replaces it)."""
        return self._tls.context

    def rotate_certificate(self) -> None:
        """New key and certificate for new connections (like after a firmware update). ``cert_path``
        then names a new file; the old file keeps the old certificate."""
        self._tls.install(generate_certificate())

    @property
    def cert_pem(self) -> bytes:
        return self._tls.bundle.cert_pem

    @property
    def cert_path(self) -> Path:
        return self._tls.cert_path

    @property
    def fingerprint_sha256(self) -> str:
        return self._tls.bundle.fingerprint_sha256

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context trusting exactly this certificate; connect with server_hostname="powerwall"."""
        return self._tls.client_context()

    # ---------------------------------------------------------------- records
    def record(self, rec: RecordedRequest) -> None:
        """Keep ``rec`` in ``requests`` as it arrives; a POST to the login path counts as a login
        attempt whatever answers it (faults included)."""
        self.request_log.record(rec)

    def flag_dangerous(self, rec: RecordedRequest) -> None:
        """Record ``rec`` as a call that would change a real system (``dangerous_calls``)."""
        self.request_log.flag_dangerous(rec)

    def handshake_failed(self, why: str) -> None:
        """Record a failed or refused TLS handshake (``handshake_failures``)."""
        self.request_log.handshake_failed(why)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Snapshot (a new list) of every request received, in arrival order."""
        return self.request_log.requests()

    def clear_requests(self) -> None:
        self.request_log.clear()
        self.v1r_log.clear()

    @property
    def tedapi_requests(self) -> list[tuple[str, str]]:
        """Every TEDAPI request as (path, kind), kind ``portal`` (GET /), ``din``, ``config``,
        ``firmware``, ``query:<Operation>``, ``dangerous:<why>`` or ``other``; whatever answered it."""
        return self.request_log.tedapi_requests()

    def tedapi_count(self, kind: str) -> int:
        """How many TEDAPI requests of ``kind`` arrived (``dangerous`` counts every dangerous kind)."""
        return self.request_log.tedapi_count(kind)

    @property
    def v1r_requests(self) -> list[v1r_serve.V1rRecord]:
        """Every request to ``/tedapi/v1r`` with the gateway's verdict (see ``v1r_serve.V1rRecord``)."""
        return self.v1r_log.records()

    def v1r_count(self, verdict: str | None = None) -> int:
        """How many v1r requests arrived (with ``verdict`` only: ``ok``, ``TIME_EXPIRED``, ...)."""
        return sum(1 for r in self.v1r_requests if verdict is None or r.verdict == verdict)

    @property
    def dangerous_calls(self) -> list[RecordedRequest]:
        return self.request_log.dangerous_calls()

    @property
    def open_connections(self) -> int:
        """Connections open now, as the gateway sees them: what a client holds on a real one."""
        return self._server.open_connections() if self._server is not None else 0

    @property
    def connections_accepted(self) -> int:
        """TCP connections accepted since start: each one a TLS handshake the gateway paid for."""
        return self._server.accepted if self._server is not None else 0

    @property
    def login_count(self) -> int:
        """POSTs to the login path received, successful or not (also those a fault answered)."""
        return self.request_log.login_count()

    @property
    def handshake_failures(self) -> list[str]:
        return self.request_log.handshake_failures()

    @property
    def force_sm_off_seen(self) -> bool:
        """Whether a login asked for ``force_sm_off`` (which stops a real system)."""
        return self.request_log.force_sm_off_seen

    @force_sm_off_seen.setter
    def force_sm_off_seen(self, seen: bool) -> None:
        self.request_log.force_sm_off_seen = seen

    def unexpected_requests(self, allowed: frozenset[tuple[str, str]] | None = None) -> list[RecordedRequest]:
        """Requests whose (method, path) is not in ``allowed`` (default: the login POST plus GET of
        ``MODEL_PATHS``)."""
        return self.request_log.unexpected_requests(allowed)

    def assert_safe(self) -> None:
        """Raise AssertionError if any dangerous call or force_sm_off login reached the simulator."""
        self.request_log.assert_safe()

    # ---------------------------------------------------------------- answering
    def answer(self, rec: RecordedRequest, headers: Message) -> Reply:
        """What the gateway answers ``rec``: steps 2 (the reset fault) to 7 of the module docstring,
        in that order (the handler has recorded it and applied ``delay_seconds``). ``headers`` are
        the request's own, looked up case-insensitively."""
        path = rec.path
        if self.faults.take("reset", path):
            return Reply(0, mode="reset")
        if path == TEDAPI_V1R_PATH:
            return v1r_serve.serve(self, rec)
        if is_tedapi_path(path) or (path == "/" and self.gateway_password is not None):
            return wifi_serve.serve(self, rec)
        return json_api.answer(self, rec, headers)

    # ---------------------------------------------------------------- sessions
    def invalidate_sessions(self) -> None:
        """Forget every session: the next authenticated request gets 401 (as after a gateway reboot)."""
        self.sessions.clear()

    def random_bytes(self, n: int) -> bytes:
        """``n`` bytes from the gateway's seeded generator (garbage faults): reproducible per seed."""
        with self._lock:
            return self._rng.randbytes(n)
