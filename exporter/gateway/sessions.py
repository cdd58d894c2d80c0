"""Login sessions that survive restarts, so a restart (or a crash loop) does not log in again.

Every login counts against the gateway's rate limit and a crash-looping exporter that logs in on
each start can lock the owner out of their own app. The file holds bearer tokens in plain text, so
it is written 0600, atomically (temporary file, fsync, rename), and its contents are never logged.

The path is configuration, not something we own, so it is opened defensively: a FIFO there would
block ``open()`` forever and a symlink could point anywhere, so anything but a regular file (or an
unreadable or oversized one) is refused with one warning and the store carries on without
persistence. Several processes may share one file (e.g. shards, or a restart overlapping the old
process): every change takes an exclusive ``flock`` on ``<path>.lock``, re-reads the file under it
and changes only its own gateway's entry, so no process loses another's session. Readers need no
lock because the file is only ever replaced whole. Only tokens :func:`valid_token` accepts are
written or returned, because the client puts them verbatim into request headers.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import re
import stat
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

MAX_STATE_BYTES = 1 << 20
"""Larger state files are ignored: a few gateways' sessions take a few KB."""

LOCK_TIMEOUT_SECONDS = 2.0
"""How long a change waits for another process's lock before giving up (saving is optional)."""

# Printable ASCII without space, quote, comma, semicolon or backslash: safe in an Authorization
# header and a Cookie value (RFC 6265 cookie-octet). Real tokens are ~88 URL-safe base64 characters.
_TOKEN = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]{1,4096}")


def valid_token(token: str) -> bool:
    """True for a token safe to send in a header or cookie: 1..4096 printable ASCII characters
    without spaces, CR/LF, ``"``, ``;``, ``,`` or ``\\`` (anything else could split or extend the header)."""
    return isinstance(token, str) and _TOKEN.fullmatch(token) is not None


_Data = dict[str, object]


class SessionStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")
        self._lock = threading.Lock()
        self._disabled = False
        self._warned = False

    def load(self, name: str, base_url: str) -> tuple[str, str | None] | None:
        """The saved (token, user_record) for this gateway, if it was saved for the same address."""
        data = self._read()
        entry = data.get(name) if data is not None else None
        if not isinstance(entry, dict) or entry.get("address") != base_url:
            return None
        token = entry.get("token")
        record = entry.get("user_record")
        if not isinstance(token, str) or not valid_token(token):
            if token:
                log.warning("ignoring the saved session of gateway %s in %s: malformed token", name, self.path)
            return None
        return token, record if isinstance(record, str) and valid_token(record) else None

    def save(self, name: str, base_url: str, token: str, user_record: str | None) -> None:
        if not valid_token(token):
            log.warning("not saving the session of gateway %s: the gateway sent a malformed token", name)
            return
        record = user_record if user_record is not None and valid_token(user_record) else None
        entry = {"address": base_url, "token": token, "user_record": record, "saved_at": time.time()}

        def change(data: _Data) -> bool:
            data[name] = entry
            return True

        self._update(change)

    def drop(self, name: str, token: str | None = None) -> None:
        """Forget ``name``'s session; with ``token``, only if that is still the saved one.

        Pass the token that expired: another process may have saved a fresh session meanwhile.
        """

        def change(data: _Data) -> bool:
            entry = data.get(name)
            if entry is None or (token is not None and isinstance(entry, dict) and entry.get("token") != token):
                return False
            del data[name]
            return True

        self._update(change)

    # ---- file handling ------------------------------------------------------------------------
    def _disable(self, why: str) -> None:
        if not self._disabled:
            self._disabled = True
            log.warning("session state file %s %s; carrying on without saved sessions", self.path, why)

    def _read(self) -> _Data | None:
        """The file's contents ({} when absent or unusable), or None once the store is disabled."""
        if self._disabled:
            return None
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            self._disable("is a symbolic link" if exc.errno == errno.ELOOP else f"cannot be opened ({exc.strerror})")
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                self._disable("is not a regular file")
                return None
            chunks: list[bytes] = []
            size = 0
            while size <= MAX_STATE_BYTES:
                chunk = os.read(fd, MAX_STATE_BYTES + 1 - size)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        except OSError as exc:
            log.warning("ignoring unreadable session state file %s: %s", self.path, exc.strerror or exc)
            return {}
        finally:
            os.close(fd)
        if size > MAX_STATE_BYTES:
            log.warning("ignoring session state file %s: larger than %d bytes", self.path, MAX_STATE_BYTES)
            return {}
        try:
            data = json.loads(b"".join(chunks).decode("utf-8"))
        except ValueError as exc:
            log.warning("ignoring unreadable session state file %s: %s", self.path, exc.__class__.__name__)
            return {}
        return data if isinstance(data, dict) else {}

    def _update(self, change: Callable[[_Data], bool]) -> None:
        """Read-modify-write under this process's lock and the cross-process ``flock``."""
        if self._disabled:
            return
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                lock_fd = self._acquire()
            except OSError as exc:
                self._warn_once(f"cannot lock {self.lock_path}: {exc.strerror or exc}")
                return
            if lock_fd is None:
                self._warn_once(f"{self.lock_path} stayed locked for {LOCK_TIMEOUT_SECONDS:.0f} s; session not saved")
                return
            try:
                data = self._read()  # again, under the lock: another process may have written
                if data is not None and change(data):
                    self._write(data)
            finally:
                os.close(lock_fd)  # releases the flock

    def _acquire(self) -> int | None:
        """An fd holding an exclusive flock on the lock file, or None on timeout."""
        flags = os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(self.lock_path, flags, 0o600)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(errno.EINVAL, "lock file is not a regular file")
            deadline = time.monotonic() + LOCK_TIMEOUT_SECONDS
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return fd
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        os.close(fd)
                        return None
                    time.sleep(0.01)
        except BaseException:
            os.close(fd)
            raise

    def _write(self, data: _Data) -> None:
        try:
            fd, tmp = tempfile.mkstemp(prefix=".sessions-", dir=self.path.parent)
            try:
                os.fchmod(fd, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump(data, f)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            # Persistence is an optimisation; failing to save must never fail a scrape.
            self._warn_once(f"cannot write session state file {self.path}: {exc.strerror or exc}")

    def _warn_once(self, message: str) -> None:
        if not self._warned:
            log.warning("%s", message)
            self._warned = True
