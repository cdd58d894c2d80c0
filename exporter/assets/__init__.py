"""Dashboards, rules, example configs and the systemd unit, for people who installed with pip.

A pip user has no clone of the repository, so the files the README points at (Grafana dashboards,
Prometheus rules, example configs, the systemd unit) travel inside the wheel and
``powerwall-exporter assets write DIR`` puts them on disk. Written tree (the contract)::

    DIR/dashboards/*.json                        Grafana dashboards (grafana/dashboards/)
    DIR/prometheus/prometheus.yml                example Prometheus config; loads rules/*.yml beside it
    DIR/prometheus/rules/*.yml                   alert and recording rules (deploy/prometheus/rules/)
    DIR/alertmanager/alertmanager.yml            example Alertmanager config
    DIR/examples/config.example.yaml             the exporter's example config, every key commented
    DIR/systemd/powerwall-exporter.service       the hardened systemd unit

Files are read with ``importlib.resources`` so this works from any installed form (a wheel unpacked
into site-packages, a zip, ``pip install --target``). In a source checkout (an editable install) the
build never copied anything, so the canonical repository files are read instead: there is only ever
one committed copy of each file.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from exporter.assets.manifest import DATA_DIR, expand


class AssetsMissingError(RuntimeError):
    """This installation carries no assets (a build that skipped them, or a broken checkout)."""


@dataclass(frozen=True, slots=True)
class Asset:
    path: str  # relative, with "/", e.g. "prometheus/rules/powerwall.rules.yml"
    source: Traversable

    def read_bytes(self) -> bytes:
        return self.source.read_bytes()


def _walk(node: Traversable, prefix: str) -> list[Asset]:
    out: list[Asset] = []
    for child in node.iterdir():
        rel = f"{prefix}{child.name}"
        if child.is_dir():
            out += _walk(child, rel + "/")
        elif child.is_file() and not child.name.endswith((".pyc", ".py")):
            out.append(Asset(rel, child))
    return out


def assets() -> list[Asset]:
    """Every shipped file, sorted by path: from the installed package, else from the checkout."""
    data = resources.files(__name__) / DATA_DIR
    if data.is_dir():
        found = _walk(data, "")
    else:
        repo = Path(__file__).resolve().parents[2]
        if not (repo / "pyproject.toml").is_file():
            raise AssetsMissingError(
                f"this installation has no {__name__}/{DATA_DIR}/ and is not a source checkout; reinstall the package"
            )
        try:
            found = [Asset(dest, src) for src, dest in expand(repo)]
        except FileNotFoundError as exc:
            raise AssetsMissingError(str(exc)) from None
    if not found:
        raise AssetsMissingError(f"{__name__}/{DATA_DIR}/ is empty; reinstall the package")
    return sorted(found, key=lambda a: a.path)
