"""The customer sessions the simulated gateway has issued, and whether a request carries one.

Why a module of its own: both API sides ask the same question (the JSON API for every ``/api/``
page, TEDAPI for ``GET /tedapi/din`` on the home LAN), and a token can arrive two ways, as a real
gateway accepts it: ``Authorization: Bearer <token>`` or the ``AuthCookie`` cookie.
"""

from __future__ import annotations

import contextlib
import http.cookies
import secrets
import threading
from typing import Any


class Sessions:
    """The valid login tokens (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: set[str] = set()

    def issue(self) -> str:
        """A new session token, valid until :meth:`clear`."""
        token = secrets.token_urlsafe(64)
        with self._lock:
            self._tokens.add(token)
        return token

    def clear(self) -> None:
        """Forget every session (as a gateway reboot does)."""
        with self._lock:
            self._tokens.clear()

    def authenticated(self, headers: Any) -> bool:
        """Whether ``headers`` (anything with ``get``, looked up as given) carry a valid token, as a
        Bearer token or the ``AuthCookie`` cookie."""
        tokens: list[str] = []
        auth = headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            tokens.append(auth[7:].strip())
        cookie_header = headers.get("Cookie")
        if cookie_header:
            jar = http.cookies.SimpleCookie()
            with contextlib.suppress(http.cookies.CookieError):
                jar.load(cookie_header)
            if "AuthCookie" in jar:
                tokens.append(jar["AuthCookie"].value)
        with self._lock:
            return any(t in self._tokens for t in tokens)
