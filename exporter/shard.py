"""Split a fleet configuration over exporter replicas, the same way Prometheus' ``hashmod`` does.

Installers with hundreds of sites run several exporter replicas, each holding the credentials of a
share of the gateways, and let Prometheus route each ``/probe?target=NAME`` scrape to the replica
that holds NAME with a ``hashmod`` relabel rule. That only works if the split here and the rule in
Prometheus agree, so this uses Prometheus' exact hash: the last 8 bytes of MD5(name), big-endian,
modulo the replica count (``deploy/scaling/prometheus-sharded.yml``; a test checks the agreement
with ``promtool check service-discovery``).

    python -m exporter.shard --config.file fleet.yaml --replicas 3 --out-dir ./replicas

Every replica must get at least one gateway: the exporter refuses a config without one, so a split
that leaves a replica empty (few gateways, many replicas) is refused, naming a replica count that works,
and nothing is written.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
from pathlib import Path
from typing import Any

import yaml

from exporter.config import ConfigError

log = logging.getLogger(__name__)


def hashmod(value: str, modulus: int) -> int:
    """Prometheus relabel ``action: hashmod`` for one source label value."""
    digest = hashlib.md5(value.encode("utf-8")).digest()  # noqa: S324 - not security: Prometheus' own hash
    return int.from_bytes(digest[8:], "big") % modulus


def split(fleet: dict[str, Any], replicas: int) -> list[dict[str, Any]]:
    """One config per replica: the fleet's top-level settings plus that replica's gateways."""
    gateways = fleet.get("gateways")
    if not isinstance(gateways, list) or not gateways:
        raise ConfigError("gateways", "must be a non-empty list of gateways")
    names: set[str] = set()
    out: list[dict[str, Any]] = [
        {**{k: v for k, v in fleet.items() if k != "gateways"}, "gateways": []} for _ in range(replicas)
    ]
    for i, g in enumerate(gateways):
        name = g.get("name") if isinstance(g, dict) else None
        if not isinstance(name, str) or not name:
            raise ConfigError(f"gateways[{i}].name", "required")
        if name in names:
            raise ConfigError(f"gateways[{i}].name", f"duplicate gateway name {name!r}")
        names.add(name)
        out[hashmod(name, replicas)]["gateways"].append(g)
    return out


def empty_replicas(parts: list[dict[str, Any]]) -> list[int]:
    return [i for i, part in enumerate(parts) if not part["gateways"]]


def largest_full_split(fleet: dict[str, Any], replicas: int) -> int:
    """The largest replica count up to ``replicas`` that leaves no replica without a gateway (1 always does)."""
    return next(r for r in range(replicas, 0, -1) if not empty_replicas(split(fleet, r)))


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    # No abbreviations: the dropped --config must fail, not silently match --config.file.
    p = argparse.ArgumentParser(
        prog="python -m exporter.shard", description=__doc__.split("\n\n")[0], allow_abbrev=False
    )
    # The flag name every other command of this project uses.
    p.add_argument("--config.file", dest="config_file", required=True, help="fleet config with every gateway")
    p.add_argument("--replicas", type=int, required=True, help="number of exporter replicas")
    p.add_argument("--out-dir", required=True, help="writes exporter-<i>.yaml and targets.yml here")
    args = p.parse_args(argv)
    if args.replicas < 1:
        log.error("--replicas must be at least 1")
        return 2
    try:
        fleet = yaml.safe_load(Path(args.config_file).read_text(encoding="utf-8"))
        if not isinstance(fleet, dict):
            raise ConfigError("config", "must be a mapping")
        parts = split(fleet, args.replicas)
    except (OSError, yaml.YAMLError, ConfigError) as exc:
        log.error("cannot split %s: %s", args.config_file, exc)
        return 2
    empty = empty_replicas(parts)
    if empty:
        log.error(
            "cannot split %s: replica(s) %s of %d would hold no gateway, and the exporter refuses a config "
            "without one; use --replicas %d (the most that leaves none empty); nothing written",
            args.config_file,
            ", ".join(map(str, empty)),
            args.replicas,
            largest_full_split(fleet, args.replicas),
        )
        return 2
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for i, part in enumerate(parts):
        path = out / f"exporter-{i}.yaml"
        path.write_text(yaml.safe_dump(part, sort_keys=False), encoding="utf-8")
        path.chmod(0o600)  # holds passwords or their ${ENV} references
        log.info("%s: %d gateway(s)", path, len(part["gateways"]))
    targets = [{"targets": sorted(g["name"] for part in parts for g in part["gateways"])}]
    (out / "targets.yml").write_text(yaml.safe_dump(targets, sort_keys=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
