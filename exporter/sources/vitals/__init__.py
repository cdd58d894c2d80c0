"""``GET /api/devices/vitals`` (protobuf, firmware < 23.44)."""
