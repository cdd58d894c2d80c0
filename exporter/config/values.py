"""The building blocks of config validation: errors that name their key, secrets, value checks.

Validation reports every problem of a file at once (:class:`Problems`), each naming its key path
(``gateways[0].tls.ca_file``), so three typos cost one round of editing, not three.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NUMBER_TEXT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


# The syntax of a DIN (device identification number: part number, "--", serial), the one rule the
# config, the TEDAPI addressing and its vetter share.
DIN_RE = re.compile(r"^[0-9]{7}-[0-9]{2}-[A-Z0-9]--[A-Za-z0-9]{4,32}\Z")


class ConfigError(ValueError):
    """A configuration problem, always naming the offending key path (e.g. ``gateways[0].password``)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.problems: tuple[ConfigError, ...] = (self,)


class ConfigErrors(ConfigError):
    """Several problems of one file; ``str()`` is one line per problem, ``problems`` the list."""

    def __init__(self, problems: Iterable[ConfigError]) -> None:
        found = tuple(problems)
        ValueError.__init__(self, "\n".join(str(p) for p in found))
        self.key = found[0].key
        self.problems = found


class Problems:
    """Collects the problems of one validation run, so each independent part is checked."""

    def __init__(self) -> None:
        self.found: list[ConfigError] = []

    def get(self, check: Callable[[], T], default: T) -> T:
        """``check()``, or ``default`` with its problem recorded."""
        try:
            return check()
        except ConfigError as exc:
            self.found.extend(exc.problems)
            return default

    def unknown(self, m: Mapping[str, Any], key: str, allowed: Iterable[str]) -> None:
        """Record every key of ``m`` that is not allowed (a typo never silently does nothing)."""
        allowed = set(allowed)
        for k in m:
            if k not in allowed:
                where = f"{key}.{k}" if key else str(k)
                self.found.append(ConfigError(where, f"unknown key (allowed: {', '.join(sorted(allowed))})"))

    def raise_if_any(self) -> None:
        if len(self.found) == 1:
            raise self.found[0]
        if self.found:
            raise ConfigErrors(self.found)


class Secret:
    """A string that never shows itself in repr/str/format, only through :meth:`reveal`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def mapping(raw: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise ConfigError(key, "must be a mapping")
    return raw


def reject_unknown(m: Mapping[str, Any], key: str, allowed: set[str]) -> None:
    """Raise for every key of ``m`` that is not allowed (the same rule and message as :meth:`Problems.unknown`)."""
    problems = Problems()
    problems.unknown(m, key, allowed)
    problems.raise_if_any()


def number(raw: Any, key: str, lo: float, hi: float) -> float:
    if isinstance(raw, str) and _NUMBER_TEXT.match(raw.strip()):
        # YAML 1.1 reads 1e9 (no dot) as a string; say so instead of a puzzling "must be a number".
        raise ConfigError(key, f"must be a number; YAML read {raw!r} as text (write 1.0e+9 or digits)")
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ConfigError(key, "must be a number")
    if not lo <= raw <= hi:
        raise ConfigError(key, f"must be between {lo} and {hi}")
    return float(raw)


def file_path(raw: Any, key: str, base_dir: Path | None) -> Path:
    if not isinstance(raw, str) or not raw:
        raise ConfigError(key, "must be a file path")
    p = Path(os.path.expanduser(expand(raw, key)))
    if not p.is_absolute() and base_dir is not None:
        p = base_dir / p
    return p


def expand(value: str, key: str) -> str:
    """``${ENV_VAR}`` references replaced by the environment's values."""

    def repl(m: re.Match[str]) -> str:
        var = m.group(1)
        if var not in os.environ:
            raise ConfigError(key, f"environment variable {var} is not set")
        return os.environ[var]

    return _ENV_RE.sub(repl, value)


def secret(g: Mapping[str, Any], key: str, name: str, base_dir: Path | None, what: str) -> Secret:
    """A secret given inline (``${ENV}`` expanded) or as ``<name>_file``, never both; never empty."""
    has_pw, has_file = name in g, f"{name}_file" in g
    if has_pw and has_file:
        raise ConfigError(f"{key}.{name}", f"set either {name} or {name}_file, not both")
    if has_file:
        path = file_path(g[f"{name}_file"], f"{key}.{name}_file", base_dir)
        try:
            value = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc.__class__.__name__
            raise ConfigError(f"{key}.{name}_file", f"cannot read {path}: {why}") from None
        if not value:
            raise ConfigError(f"{key}.{name}_file", f"{path} is empty")
        return Secret(value)
    raw = g.get(name)
    if raw is None or raw == "":
        raise ConfigError(f"{key}.{name}", f"required: {what} ({name}, {name}_file or ${{ENV_VAR}})")
    if not isinstance(raw, str | int):
        raise ConfigError(f"{key}.{name}", "must be a string")
    value = expand(str(raw), f"{key}.{name}")
    if not value:
        raise ConfigError(f"{key}.{name}", "expands to an empty string")
    return Secret(value)
