"""The tests' own library: what many test modules need, written once (not tests, not fixtures)."""
