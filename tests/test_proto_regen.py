"""The committed vitals_pb2.py is exactly what protoc makes of our vitals.proto."""

from __future__ import annotations

import pytest

from exporter.proto import regen


def test_generated_code_is_current() -> None:
    pytest.importorskip("grpc_tools", reason="grpcio-tools (test extra) regenerates the protobuf module")
    assert regen.generate() == regen.GENERATED.read_text(), "run: python -m exporter.proto.regen"


def test_decoder_uses_the_upb_backend() -> None:
    from google.protobuf.internal import api_implementation

    assert api_implementation.Type() == "upb"
