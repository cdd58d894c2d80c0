"""``python -m exporter.simulator``: run a simulated gateway until Ctrl-C (manual tests, Docker demo)."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from exporter.simulator import SimulatedGateway, SiteModel

logger = logging.getLogger("exporter.simulator")


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
    parser.add_argument("--cert-out", type=Path, help="also write the server certificate (PEM) here")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    model = SiteModel(
        seed=args.seed,
        powerwalls=args.powerwalls,
        solar_powerwall=not args.no_solar_powerwall,
        time_scale=args.time_scale,
        random_outages=args.random_outages,
    )
    gw = SimulatedGateway(
        password=args.password,
        host=args.host,
        port=args.port,
        model=model,
        replay_dir=args.replay,
        vitals_file=args.vitals_file,
    )
    done = threading.Event()
    # Both signals just end the wait: no KeyboardInterrupt can land half-way through start-up logging.
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    with gw:
        if args.cert_out:
            args.cert_out.write_bytes(gw.cert_pem)
        logger.info("URL %s  password %r  cert %s", gw.url, args.password, args.cert_out or gw.cert_path)
        logger.info("certificate SHA-256 fingerprint %s (SANs: teg, powerwall, powerpack)", gw.fingerprint_sha256)
        while not done.wait(1.0):
            pass
        logger.info("stopping")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
