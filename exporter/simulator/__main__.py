"""``python -m exporter.simulator``: run a simulated gateway until Ctrl-C (manual tests, Docker demo)."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from exporter.simulator import SimulatedGateway, SiteModel
from exporter.simulator.tedapi.v1r_keys import pkcs1_der_from_file

logger = logging.getLogger("exporter.simulator")
PROFILES = ("default", "pw2-tedapi", "pw3")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exporter.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8443, help="port (0 = any free port; default 8443)")
    parser.add_argument("--password", default="sim-password", help="customer password (default sim-password)")
    parser.add_argument("--replay", type=Path, help="serve captured responses from DIR/api/... instead of the model")
    parser.add_argument("--vitals-file", type=Path, help="in replay mode, bytes for /api/devices/vitals")
    parser.add_argument("--time-scale", type=float, default=1.0, help="simulated seconds per real second")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--powerwalls", type=int, default=2)
    parser.add_argument("--no-solar-powerwall", action="store_true", help="no PVAC/PVS (plain Powerwall 2)")
    parser.add_argument("--random-outages", action="store_true", help="occasional simulated grid outages")
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        default="default",
        help="site: default (Powerwall 2, fw 22.26, vitals), pw2-tedapi (Powerwall 2, fw 25.10, no vitals), "
        "pw3 (Powerwall 3 leader + follower, two expansion packs, fw 26.18, most JSON endpoints 404)",
    )
    parser.add_argument(
        "--gateway-password",
        help="switch TEDAPI on with this gateway password (user Tesla_Energy_Device); it is never logged",
    )
    parser.add_argument(
        "--tedapi-queries-out",
        type=Path,
        help="write a query file signed with a throwaway key the simulator accepts (for tedapi.queries_file)",
    )
    parser.add_argument(
        "--v1r-key",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="register this RSA client key as verified for signed TEDAPI on the LAN (POST /tedapi/v1r; "
        "Powerwall 3, or firmware 26.x): PKCS#1 DER, or a PEM public or private key (only its public half "
        "is kept); repeatable",
    )
    parser.add_argument(
        "--clock-offset",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="the gateway's clock runs this far ahead of this host's (negative: behind); shown in the Date "
        "header and used to judge v1r expiry",
    )
    parser.add_argument("--cert-out", type=Path, help="also write the server certificate (PEM) here")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    common = {"seed": args.seed, "time_scale": args.time_scale, "random_outages": args.random_outages}
    if args.profile == "pw3":
        model = SiteModel.pw3(**common)
    else:
        factory = SiteModel.pw2_tedapi if args.profile == "pw2-tedapi" else SiteModel
        model = factory(powerwalls=args.powerwalls, solar_powerwall=not args.no_solar_powerwall, **common)
    keys: list[bytes] = []
    if args.tedapi_queries_out:
        from exporter.simulator.tedapi.queries import write_query_file

        keys.append(write_query_file(args.tedapi_queries_out))
        logger.info("signed TEDAPI query file written to %s", args.tedapi_queries_out)
    gw = SimulatedGateway(
        gateway_password=args.gateway_password,
        tedapi_keys=keys,
        password=args.password,
        host=args.host,
        port=args.port,
        model=model,
        replay_dir=args.replay,
        vitals_file=args.vitals_file,
    )
    gw.clock_offset_seconds = args.clock_offset
    for path in args.v1r_key:
        fingerprint = gw.v1r_keys.add(pkcs1_der_from_file(path))
        logger.info("v1r key %s registered as verified (SHA-256 %s)", path, fingerprint)
    done = threading.Event()
    # Both signals just end the wait: no KeyboardInterrupt can land half-way through start-up logging.
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    with gw:
        if args.cert_out:
            args.cert_out.write_bytes(gw.cert_pem)
        logger.info("URL %s  password %r  cert %s", gw.url, args.password, args.cert_out or gw.cert_path)
        if args.gateway_password is not None:
            logger.info("TEDAPI on (%s site, DIN %s)", model.generation, model.gateway_din)
        if gw.v1r_enabled:
            logger.info("v1r on: POST /tedapi/v1r, %d key(s) registered", len(gw.v1r_keys))
        logger.info("certificate SHA-256 fingerprint %s (SANs: teg, powerwall, powerpack)", gw.fingerprint_sha256)
        while not done.wait(1.0):
            pass
        logger.info("stopping")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
