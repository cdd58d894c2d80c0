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

TEDAPI (shared/docs/tedapi.md; ``exporter.simulator.tedapi``) is on when a gateway password is given.
Site profiles: ``SiteModel()`` (Powerwall 2, fw 22.26, vitals), ``SiteModel.pw2_tedapi()`` (fw 25.10:
every JSON endpoint but vitals) and ``SiteModel.pw3()`` (leader + follower Powerwall 3, two DC
expansion packs on the leader, fw 26.18: only aggregates/soe/grid_status left, TEDAPI gzipped)::

    pem = write_query_file(tmp / "queries.json")          # our own texts, a throwaway signing key
    with SimulatedGateway(model=SiteModel.pw3(), gateway_password="gw-pass", tedapi_keys=[pem]) as gw:
        gw.model.gateway_din, gw.model.battery_dins        # /tedapi/din, and /tedapi/device/<DIN>/v1
        gw.faults.tedapi_status = 429                      # TEDAPI-only faults: faults.TEDAPI_FAULT_NAMES
        gw.tedapi_requests, gw.tedapi_count("query")       # (path, kind) as envelope.describe says

Only the standard library, ``cryptography`` (optional extra ``demo``/``test``; imported when a
gateway is created) and the project's ``vitals_pb2`` are used.
"""

from exporter.simulator.faults import FAULT_NAMES, TEDAPI_FAULT_NAMES, Faults
from exporter.simulator.handler import (
    DANGEROUS_PATHS,
    LOGIN_PATH,
    MODEL_PATHS,
    PW3_JSON_PATHS,
    SNI_NAMES,
    RecordedRequest,
    is_dangerous,
)
from exporter.simulator.model import SiteModel
from exporter.simulator.replay import parse_http
from exporter.simulator.server import SimulatedGateway, gunzip_size
from exporter.simulator.snapshot import Snapshot
from exporter.simulator.tedapi_queries import write_query_file

__all__ = [
    "DANGEROUS_PATHS",
    "FAULT_NAMES",
    "LOGIN_PATH",
    "MODEL_PATHS",
    "PW3_JSON_PATHS",
    "SNI_NAMES",
    "TEDAPI_FAULT_NAMES",
    "Faults",
    "RecordedRequest",
    "SimulatedGateway",
    "SiteModel",
    "Snapshot",
    "gunzip_size",
    "is_dangerous",
    "parse_http",
    "write_query_file",
]
