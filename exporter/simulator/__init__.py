"""A simulated Tesla Energy Gateway for the demo mode, the tests and the benchmarks.

Why: nobody can run tests against a real Powerwall (and must not: some of its endpoints stop the
system), yet the exporter's value lies in how it copes with the gateway's TLS, sessions, rate limits
and failures. This package answers like the gateway does, from a deterministic time-varying site
model or from captured responses, can misbehave on demand, and records what it was asked.

    from exporter.simulator import SimulatedGateway, SiteModel, Faults

    with SimulatedGateway(password="sim-password",
                          model=SiteModel(seed=1, powerwalls=2, solar_powerwall=True, time_scale=60)) as gw:
        gw.url, gw.cert_path, gw.fingerprint_sha256      # connect with server_hostname="powerwall"
        gw.faults.status = 503                            # see exporter.simulator.faults
        gw.requests, gw.dangerous_calls, gw.login_count   # what reached it

Only the standard library, ``cryptography`` (optional extra ``demo``/``test``; imported when a
gateway is created) and the project's ``vitals_pb2`` are used.
"""

from exporter.simulator.faults import FAULT_NAMES, Faults
from exporter.simulator.handler import (
    DANGEROUS_PATHS,
    LOGIN_PATH,
    MODEL_PATHS,
    SNI_NAMES,
    RecordedRequest,
    is_dangerous,
)
from exporter.simulator.model import SiteModel
from exporter.simulator.replay import parse_http
from exporter.simulator.server import SimulatedGateway, gunzip_size
from exporter.simulator.snapshot import Snapshot

__all__ = [
    "DANGEROUS_PATHS",
    "FAULT_NAMES",
    "LOGIN_PATH",
    "MODEL_PATHS",
    "SNI_NAMES",
    "Faults",
    "RecordedRequest",
    "SimulatedGateway",
    "SiteModel",
    "Snapshot",
    "gunzip_size",
    "is_dangerous",
    "parse_http",
]
