"""Which repository files are shipped as assets, and where they land in the written tree.

This is the one table both sides read: ``setup.py`` copies these files into the wheel at build time
(``exporter/assets/data/<destination>/``), and a source checkout (an editable install, where nothing
was copied) reads them from their canonical repository paths. It imports nothing but the standard
library because ``setup.py`` loads it by file path, before the package is importable.
"""

from __future__ import annotations

from pathlib import Path

# (glob relative to the repository root, destination directory in the written tree).
# The destinations keep the deploy/ layout where files refer to each other: prometheus.yml loads
# ``rules/*.yml`` relative to itself, so it sits next to prometheus/rules/.
SOURCES: tuple[tuple[str, str], ...] = (
    ("grafana/dashboards/*.json", "dashboards"),
    ("deploy/prometheus/rules/*.yml", "prometheus/rules"),
    ("deploy/prometheus/prometheus.yml", "prometheus"),
    ("deploy/alertmanager/alertmanager.yml", "alertmanager"),
    ("config.example.yaml", "examples"),
    ("deploy/systemd/powerwall-exporter.service", "systemd"),
)

# Inside the package: exporter/assets/data/ holds the tree in a built wheel (never in the repository).
DATA_DIR = "data"


def expand(root: Path) -> list[tuple[Path, str]]:
    """Every shipped file under ``root`` as (source path, destination path with ``/``), sorted.

    A pattern that matches nothing raises: a wheel silently missing its dashboards is worse than a
    failed build.
    """
    out: list[tuple[Path, str]] = []
    for pattern, dest in SOURCES:
        matches = sorted(p for p in root.glob(pattern) if p.is_file())
        if not matches:
            raise FileNotFoundError(f"{root / pattern}: no file matches; the assets cannot be packaged")
        out += [(p, f"{dest}/{p.name}") for p in matches]
    return out
