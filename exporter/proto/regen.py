"""Regenerate ``vitals_pb2.py`` from ``vitals.proto`` with grpcio-tools (a dev dependency).

The generated module is committed so the runtime needs only ``protobuf``; ``tests/test_proto_regen.py``
fails when the committed file no longer matches what this produces.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROTO = HERE / "vitals.proto"
GENERATED = HERE / "vitals_pb2.py"

log = logging.getLogger(__name__)


def generate() -> str:
    """Run protoc on the schema and return the generated Python source."""
    from grpc_tools import protoc  # imported lazily: a dev-only dependency

    with tempfile.TemporaryDirectory() as out:
        rc = protoc.main(["protoc", f"-I{HERE}", f"--python_out={out}", str(PROTO)])
        if rc != 0:
            raise RuntimeError(f"protoc failed with exit code {rc}")
        return (Path(out) / "vitals_pb2.py").read_text()


def main() -> int:
    logging.basicConfig(level=logging.INFO)
    GENERATED.write_text(generate())
    log.info("wrote %s", GENERATED)
    return 0


if __name__ == "__main__":
    sys.exit(main())
