"""Our own protobuf schemas and their generated modules (regenerate with ``python -m exporter.proto.regen``)."""
