"""``powerwall-exporter assets write DIR [--force]``: put the shipped assets on disk.

Contract: writes the tree documented in :mod:`exporter.assets` under DIR (created if missing).
Existing files are never overwritten without ``--force``; without it, every conflict is reported on
its own line and *nothing* is written, so a refused run leaves DIR as it was. Exit status 0 on
success, 1 when refused or a write failed, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from exporter.assets import Asset, AssetsMissingError, assets

log = logging.getLogger("exporter.assets")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="powerwall-exporter assets",
        description="The Grafana dashboards, Prometheus rules, example configs and systemd unit in the package.",
    )
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    w = sub.add_parser(
        "write",
        help="write them into DIR",
        description="Write dashboards/, prometheus/ (prometheus.yml, rules/), alertmanager/, examples/ and "
        "systemd/ into DIR. Refuses to overwrite existing files unless --force.",
    )
    w.add_argument("dir", metavar="DIR", type=Path)
    w.add_argument("--force", action="store_true", help="overwrite files that already exist")
    sub.add_parser("list", help="print the relative path of every shipped file")
    return p


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        shipped = assets()
    except AssetsMissingError as exc:
        log.error("%s", exc)
        return 1
    if args.action == "list":
        sys.stdout.writelines(f"{a.path}\n" for a in shipped)  # the command's output, not a log line
        return 0
    return write(shipped, args.dir, force=args.force)


def write(shipped: list[Asset], root: Path, *, force: bool) -> int:
    """Write every asset below ``root``; checks every destination before writing any."""
    problems: list[str] = []
    if root.exists() and not root.is_dir():
        problems.append(f"{root}: exists and is not a directory")
    for a in shipped:
        dest = root / a.path
        for parent in list(reversed(dest.relative_to(root).parents))[1:]:
            p = root / parent
            if p.exists() and not p.is_dir():
                problems.append(f"{p}: exists and is not a directory")
        if dest.is_symlink() or dest.exists():
            if dest.is_dir() and not dest.is_symlink():
                problems.append(f"{dest}: is a directory")
            elif not force:
                problems.append(f"{dest}: already exists (use --force to overwrite)")
    if problems:
        for line in dict.fromkeys(problems):  # one line per problem, each once
            log.error("%s", line)
        log.error("nothing written")
        return 1
    for a in shipped:
        dest = root / a.path
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            _replace(dest, a.read_bytes())
        except OSError as exc:
            log.error("%s: cannot write: %s", dest, exc.strerror or exc)
            return 1
    log.info("wrote %d files to %s", len(shipped), root)
    return 0


def _replace(dest: Path, data: bytes) -> None:
    """Temporary file + rename, so an overwritten symlink is replaced, never written through."""
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # as open() would have made it; mkstemp makes 0600
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
