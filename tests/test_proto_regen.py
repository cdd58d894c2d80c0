"""Every committed ``*_pb2.py`` is exactly what protoc makes of our ``.proto`` beside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.proto import regen


def test_every_schema_is_found() -> None:
    assert {p.name for p in regen.PROTOS} == {"tedapi.proto", "vitals.proto"}


@pytest.mark.parametrize("proto", regen.PROTOS, ids=lambda p: p.name)
def test_generated_code_is_current(proto: Path) -> None:
    pytest.importorskip("grpc_tools", reason="grpcio-tools (test extra) regenerates the protobuf module")
    assert regen.generate(proto) == regen.generated_path(proto).read_text(), "run: python -m exporter.proto.regen"


def test_decoder_uses_the_upb_backend() -> None:
    from google.protobuf.internal import api_implementation

    assert api_implementation.Type() == "upb"
