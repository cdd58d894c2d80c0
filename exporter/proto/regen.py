"""Regenerate every ``<name>_pb2.py`` from its ``<name>.proto`` with grpcio-tools (a dev dependency).

The generated modules are committed so the runtime needs only ``protobuf``; ``tests/test_proto_regen.py``
fails when a committed file no longer matches what this produces.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROTOS: tuple[Path, ...] = tuple(sorted(HERE.glob("*.proto")))

log = logging.getLogger(__name__)


def generated_path(proto: Path) -> Path:
    return proto.with_name(proto.stem + "_pb2.py")


def generate(proto: Path) -> str:
    """Run protoc on one schema and return the generated Python source."""
    from grpc_tools import protoc  # imported lazily: a dev-only dependency

    with tempfile.TemporaryDirectory() as out:
        rc = protoc.main(["protoc", f"-I{HERE}", f"--python_out={out}", str(proto)])
        if rc != 0:
            raise RuntimeError(f"protoc failed on {proto.name} with exit code {rc}")
        return (Path(out) / generated_path(proto).name).read_text()


def main() -> int:
    logging.basicConfig(level=logging.INFO)
    for proto in PROTOS:
        generated_path(proto).write_text(generate(proto))
        log.info("wrote %s", generated_path(proto))
    return 0


if __name__ == "__main__":
    sys.exit(main())
