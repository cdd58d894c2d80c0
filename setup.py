"""Build step that puts the dashboards, rules and example configs into the wheel.

Why a setup.py at all: ``[tool.setuptools.package-data]`` only reaches files inside the package,
and the canonical copies of these files live where their users expect them (grafana/dashboards/,
deploy/prometheus/rules/, ...), where docker-compose, the e2e test and promtool read them. The
alternatives were worse:

- symlinks in exporter/assets/ pointing at them dangle wherever only exporter/ is copied (the
  Docker build context) and become plain text files in a checkout without symlink support;
- moving the canonical files into the package and leaving symlinks at the old paths has the same
  checkout problem, and breaks bind mounts of those paths on some Docker setups;
- a second committed copy drifts.

So ``build_py`` copies the files listed in exporter/assets/manifest.py into the build tree at
``exporter/assets/data/`` (never into the source tree). A missing file fails the build. An editable
install skips the copy; exporter/assets reads the repository files directly then. MANIFEST.in puts
the same files into an sdist, so a wheel built from the sdist carries them too.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


def _manifest() -> ModuleType:
    # By file path: the package itself is not importable while it is being built.
    spec = importlib.util.spec_from_file_location("_assets_manifest", ROOT / "exporter" / "assets" / "manifest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildPyWithAssets(build_py):
    """``build_py`` plus the assets, copied into ``<build_lib>/exporter/assets/data/``."""

    def _asset_targets(self) -> list[tuple[Path, Path]]:
        manifest = _manifest()
        data = Path(self.build_lib) / "exporter" / "assets" / manifest.DATA_DIR
        return [(src, data / dest) for src, dest in manifest.expand(ROOT)]

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # the package reads the checkout's files itself
        for src, dest in self._asset_targets():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs: list[str] = super().get_outputs(include_bytecode)
        if not getattr(self, "editable_mode", False):
            outputs += [str(dest) for _, dest in self._asset_targets()]
        return outputs


setup(cmdclass={"build_py": BuildPyWithAssets})
