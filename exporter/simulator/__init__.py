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
The gateway reads every TEDAPI body with its own eyes (``tedapi.classify``: a wire walker by field
number, its own GraphQL reading and signature check), never with the exporter's code.
Site profiles: ``SiteModel()`` (Powerwall 2, fw 22.26, vitals), ``SiteModel.pw2_tedapi()`` (fw 25.10:
every JSON endpoint but vitals) and ``SiteModel.pw3()`` (leader + follower Powerwall 3, two DC
expansion packs on the leader, fw 26.18: only aggregates/soe/grid_status left, TEDAPI gzipped)::

    pem = write_query_file(tmp / "queries.json")          # our own texts, a throwaway signing key
    with SimulatedGateway(model=SiteModel.pw3(), gateway_password="gw-pass", tedapi_keys=[pem]) as gw:
        gw.model.gateway_din, gw.model.battery_dins        # /tedapi/din, and /tedapi/device/<DIN>/v1
        gw.faults.tedapi_status = 429                      # TEDAPI-only faults: faults.TEDAPI_FAULT_NAMES
        gw.tedapi_requests, gw.tedapi_count("query")       # (path, kind): see tedapi.classify

v1r, signed TEDAPI on the home LAN (shared/docs/tedapi.md §6; ``exporter.simulator.tedapi.v1r`` for the
rules, ``v1r_serve`` for the HTTP side) is on where the site has it (every Powerwall 3, a Powerwall 2 on
firmware 26.x: ``SiteModel.tedapi_v1r``), gateway password or not. The gateway judges each
``POST /tedapi/v1r`` with its own wire walker, its key ring and its own clock; ``GET /tedapi/din`` also
answers the JSON API's customer session there::

    with SimulatedGateway(model=SiteModel.pw3(), tedapi_keys=[pem], clock=lambda: t0) as gw:
        gw.v1r_keys.add(pub_pkcs1_der)                     # or state="pending" / "pending_timeout" / "removed"
        gw.clock_offset_seconds = 30.0                     # the Date header and expiry checks move with it
        gw.faults.v1r_fault = "BUSY"                       # v1r faults: faults.V1R_FAULT_NAMES
        gw.v1r_requests[-1].verdict                        # "ok", "TIME_EXPIRED", "UNKNOWN_KEY_ID", ...

Only the standard library, ``cryptography`` (optional extra ``demo``/``test``; imported when a
gateway is created) and the project's generated ``vitals_pb2``/``tedapi_pb2`` (to write answers,
never to judge a request) are used: nothing of the exporter itself, which
``tests/simulator/test_simulator_independent.py`` checks.
"""

from exporter.simulator.faults import FAULT_NAMES, TEDAPI_FAULT_NAMES, V1R_FAULT_NAMES, Faults
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
from exporter.simulator.server import SimulatedGateway
from exporter.simulator.snapshot import Snapshot
from exporter.simulator.tedapi.queries import write_query_file
from exporter.simulator.tedapi.v1r_keys import KeyRing, KeyState
from exporter.simulator.tedapi.v1r_serve import V1rRecord
from exporter.simulator.testclient import gunzip_size

__all__ = [
    "DANGEROUS_PATHS",
    "FAULT_NAMES",
    "LOGIN_PATH",
    "MODEL_PATHS",
    "PW3_JSON_PATHS",
    "SNI_NAMES",
    "TEDAPI_FAULT_NAMES",
    "V1R_FAULT_NAMES",
    "Faults",
    "KeyRing",
    "KeyState",
    "RecordedRequest",
    "SimulatedGateway",
    "SiteModel",
    "Snapshot",
    "V1rRecord",
    "gunzip_size",
    "is_dangerous",
    "parse_http",
    "write_query_file",
]
