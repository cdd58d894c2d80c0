"""TEDAPI: per-device data on firmware >= 23.44 and on Powerwall 3 (shared/docs/tedapi.md)."""
