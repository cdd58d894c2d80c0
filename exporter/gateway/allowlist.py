"""Every request this exporter may ever send, checked before any socket opens.

The gateway has endpoints that stop the system or change its mode, some of them plain GETs
(``/api/sitemaster/stop``, ``/api/config/completed``), and TEDAPI envelopes that write configuration
to the very path where reads go. So the rule is not "GET only" but an exact list: method + exact
path, and for a path where bodies differ, a vetting function of the source that owns it, which sees
the body before it is sent. The list is assembled once from the sources' own declarations
(:mod:`exporter.sources.registry`) and frozen; a test pins its contents.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from exporter.gateway.outcomes import ForbiddenRequest

LOGIN_PATH = "/api/login/Basic"

BodyVetter = Callable[[str, bytes], bool]  # (path, body) -> allowed


@dataclass(frozen=True, slots=True)
class Allowed:
    """One allowed (method, exact path); ``vet`` must accept the body when given (else the body must be empty).

    ``pattern`` (a regular expression matched against the whole path) replaces the exact path for
    the one family of paths that carries an identifier, TEDAPI's ``/tedapi/device/<DIN>/v1``; its
    ``path`` is then only the entry's name in the pinned list.
    """

    method: str
    path: str
    vet: BodyVetter | None = None
    pattern: str | None = None


# The only write-shaped request of the JSON API. Never with force_sm_off (it stopped the system on
# old firmware); the login code builds its body itself.
LOGIN = Allowed("POST", LOGIN_PATH, vet=lambda _path, body: b"force_sm_off" not in body)

# Known to change the system. Listed so tests can prove none of them is ever reachable.
FORBIDDEN_PATHS: frozenset[str] = frozenset(
    {
        "/api/sitemaster/stop",
        "/api/sitemaster/run",
        "/api/sitemaster/run_for_commissioning",
        "/api/config/completed",
        "/api/operation",  # POST changes the mode; GET is allowed
        "/api/v2/islanding/mode",
        "/api/logging",
        "/api/customer/registration/legal",
        "/api/system/networks/ping_test",
        "/api/logout",
    }
)


class AllowList:
    """A frozen set of :class:`Allowed` entries."""

    def __init__(self, entries: Iterable[Allowed]) -> None:
        table: dict[tuple[str, str], Allowed] = {}
        for e in entries:
            key = (e.method.upper(), e.path)
            if key in table and table[key] != e:
                raise ValueError(f"{key} declared twice with different body rules")
            table[key] = e
        self._entries: Mapping[tuple[str, str], Allowed] = MappingProxyType(table)
        self._patterns: tuple[tuple[str, re.Pattern[str], Allowed], ...] = tuple(
            (m, re.compile(e.pattern), e) for (m, _), e in table.items() if e.pattern is not None
        )

    @property
    def requests(self) -> frozenset[tuple[str, str]]:
        return frozenset(self._entries)

    def allows(self, method: str, path: str, body: bytes = b"") -> bool:
        entry = self._entries.get((method.upper(), path))
        if entry is not None and entry.pattern is not None:
            entry = None  # a pattern entry's name is not a path
        if entry is None:
            entry = next((e for m, rx, e in self._patterns if m == method.upper() and rx.fullmatch(path)), None)
        if entry is None:
            return False
        if entry.vet is None:
            return not body
        try:
            return bool(entry.vet(path, body))
        except Exception:  # a vetting bug refuses, never allows
            return False

    def check(self, method: str, path: str, body: bytes = b"") -> None:
        if not self.allows(method, path, body):
            raise ForbiddenRequest(f"{method} {path} is not on the allow-list (or its body is not)")
