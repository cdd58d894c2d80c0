"""Writes grafana/dashboards/*.json and grafana/README.md: ``python grafana/build_dashboards.py``.

The dashboards are built by the package grafana/builder/ (one module per dashboard, named like its
file); this script writes what :func:`grafana.builder.render.render` returns, only the files whose
text changed. tests/test_dashboards.py fails when a committed file differs from it.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

GRAFANA = Path(__file__).resolve().parent
log = logging.getLogger("build_dashboards")


def main() -> int:
    """Render every file and write those that changed under GRAFANA (dashboards/ is created if missing)."""
    from grafana.builder.render import render  # after __main__ below has made it importable

    (GRAFANA / "dashboards").mkdir(parents=True, exist_ok=True)
    for name, text in render().items():
        path = GRAFANA / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            log.info("wrote %s", path)
    return 0


if __name__ == "__main__":
    # Run as a script, Python puts grafana/ on the path, not the repository root grafana.builder is under.
    sys.path.insert(0, str(GRAFANA.parent))
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sys.exit(main())
