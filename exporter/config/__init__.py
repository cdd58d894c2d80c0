"""Configuration: YAML in, validated frozen dataclasses out, or a ConfigError naming each bad key.

Validation happens once at start (and in ``--config.check``) so a typo fails loudly before the first
scrape, instead of surfacing as a mysterious ``powerwall_up 0`` hours later; every problem of a file
is reported at once. Secrets are wrapped in :class:`Secret` so no repr, log line or landing page can
print them by accident.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from exporter.config import values as v
from exporter.config.energy import DEFAULT_PERIOD, EnergyConfig, TariffConfig, TariffPeriod, add_years
from exporter.config.gateway import GatewayConfig, TLSConfig, gateway_config
from exporter.config.values import ConfigError, ConfigErrors, Problems, Secret

__all__ = [
    "DEFAULT_PERIOD",
    "Config",
    "ConfigError",
    "ConfigErrors",
    "EnergyConfig",
    "GatewayConfig",
    "Secret",
    "TLSConfig",
    "TariffConfig",
    "TariffPeriod",
    "add_years",
    "default_state_file",
    "load_config",
    "parse_config",
    "pin_warnings",
]


@dataclass(frozen=True, slots=True)
class Config:
    gateways: tuple[GatewayConfig, ...]
    # Where login sessions survive restarts; None disables persistence.
    state_file: Path | None = None
    max_concurrent_requests: int = 32

    def gateway(self, name: str) -> GatewayConfig | None:
        return next((g for g in self.gateways if g.name == name), None)


def default_state_file() -> Path:
    base = os.environ.get("STATE_DIRECTORY") or os.environ.get("XDG_STATE_HOME")
    root = Path(base) if base else Path.home() / ".local" / "state"
    return root / "powerwall-exporter" / "sessions.json"


# A check beyond syntax, run on each gateway that parsed (the sources' own: what a file holds, a key
# they will sign with). Injected by the caller, so this package reads syntax only and imports no source.
GatewayCheck = Callable[[GatewayConfig, str], list[ConfigError]]


def load_config(path: str | Path, check: GatewayCheck | None = None) -> Config:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("config.file", f"cannot read {p}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError("config.file", f"invalid YAML{where}") from None
    return parse_config(data if data is not None else {}, base_dir=p.parent, check=check)


def parse_config(data: Any, base_dir: Path | None = None, check: GatewayCheck | None = None) -> Config:
    """Validate a loaded config; raises :class:`ConfigError` (one problem) or :class:`ConfigErrors` (several).

    ``check`` runs on every gateway that parsed, so its problems are reported with the others'."""
    problems = Problems()
    empty: Mapping[str, Any] = {}
    root = problems.get(lambda: v.mapping(data, "config"), empty)
    problems.unknown(root, "", {"gateways", "state_file", "max_concurrent_requests"})
    raw_gateways = root.get("gateways")
    if not isinstance(raw_gateways, list) or not raw_gateways:
        problems.found.append(ConfigError("gateways", "must be a non-empty list of gateways"))
        raw_gateways = []
    parsed = [gateway_config(g, f"gateways[{i}]", base_dir, problems) for i, g in enumerate(raw_gateways)]
    if check is not None:
        for i, g in enumerate(parsed):
            if g is not None:
                problems.found.extend(check(g, f"gateways[{i}]"))
    seen: set[str] = set()
    for i, g in enumerate(parsed):
        if g is None:
            continue
        if g.name in seen:
            problems.found.append(ConfigError(f"gateways[{i}].name", f"duplicate gateway name {g.name!r}"))
        seen.add(g.name)
    state = problems.get(lambda: _state_file(root, base_dir), None)
    # Enough threads to fetch every endpoint of every gateway at once (a scrape then costs one
    # gateway round trip), bounded so a large fleet cannot spawn thousands of threads.
    default_mcr = min(512, max(16, 12 * len(parsed)))
    mcr = problems.get(
        lambda: v.number(root.get("max_concurrent_requests", default_mcr), "max_concurrent_requests", 1, 1024),
        float(default_mcr),
    )
    problems.raise_if_any()
    gateways = tuple(g for g in parsed if g is not None)
    return Config(gateways=gateways, state_file=state, max_concurrent_requests=int(mcr))


def pin_warnings(config: Config) -> list[str]:
    """What to warn about gateways without a certificate pin (start-up, --config.check and reload say it)."""
    out = []
    for g in config.gateways:
        if g.tls.insecure_skip_verify:
            out.append(f"gateway {g.name}: TLS verification is OFF (insecure_skip_verify); pin the certificate")
        elif g.tls.mode == "system":
            target = g.host if g.port == 443 else f"{g.host}:{g.port}"
            out.append(
                f"gateway {g.name}: no certificate pin; the gateway's self-signed certificate will fail system-CA "
                f"verification. Pin it: powerwall-exporter --tls.fetch-certificate {target}"
            )
    return out


def _state_file(root: Any, base_dir: Path | None) -> Path | None:
    if "state_file" not in root:
        return default_state_file()
    if root["state_file"] in (None, "", False):
        return None
    return v.file_path(root["state_file"], "state_file", base_dir)
