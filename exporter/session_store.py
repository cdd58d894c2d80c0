"""Login sessions that survive restarts, so a restart (or a crash loop) does not log in again.

Every login counts against the gateway's rate limit and a crash-looping exporter that logs in on
each start can lock the owner out of their own app. The file holds bearer tokens, so it is written
0600, atomically, and never logged.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

# Printable ASCII without space, quote, comma, semicolon or backslash: safe in an Authorization
# header and a Cookie value. Real tokens are ~88 URL-safe base64 characters.
_TOKEN = re.compile(r"[!#-+\--:<-\[\]-~]{1,4096}")


def valid_token(token: str) -> bool:
    """True when ``token`` can be sent in a header as it is (and so may be used or stored)."""
    return _TOKEN.fullmatch(token) is not None


class SessionStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._warned = False

    def load(self, name: str, base_url: str) -> tuple[str, str | None] | None:
        """The saved (token, user_record) for this gateway, if it was saved for the same address."""
        entry = self._read().get(name)
        if not isinstance(entry, dict) or entry.get("address") != base_url:
            return None
        token = entry.get("token")
        record = entry.get("user_record")
        if not isinstance(token, str) or not valid_token(token):
            return None
        return token, record if isinstance(record, str) and valid_token(record) else None

    def save(self, name: str, base_url: str, token: str, user_record: str | None) -> None:
        with self._lock:
            data = self._read()
            data[name] = {"address": base_url, "token": token, "user_record": user_record, "saved_at": time.time()}
            self._write(data)

    def drop(self, name: str) -> None:
        with self._lock:
            data = self._read()
            if data.pop(name, None) is not None:
                self._write(data)

    def _read(self) -> dict[str, object]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable session state file %s: %s", self.path, exc.__class__.__name__)
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, object]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(prefix=".sessions-", dir=self.path.parent)
            try:
                os.fchmod(fd, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump(data, f)
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            # Persistence is an optimisation; failing to save must never fail a scrape.
            if not self._warned:
                log.warning("cannot write session state file %s: %s", self.path, exc.strerror or exc)
                self._warned = True
