"""The gateway's JSON endpoints (aggregates, state of energy, grid status, ...)."""
