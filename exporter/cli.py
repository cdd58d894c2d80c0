"""Command line, with the flag names every Prometheus exporter uses."""

from __future__ import annotations

import argparse
import atexit
import importlib
import logging
import signal
import stat
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from exporter import __version__, gcpolicy
from exporter.config import Config, ConfigError, load_config, parse_config, pin_warnings
from exporter.sources.registry import check_config, check_gateway
from exporter.web.http_parse import Limits
from exporter.web.webconfig import load_web_config

if TYPE_CHECKING:
    from exporter.simulator import SimulatedGateway, SiteModel

log = logging.getLogger("exporter")

DEFAULT_LISTEN = ":9871"  # registered for a Tesla Powerwall exporter in Prometheus' default port allocations
DEMO_PASSWORD = "demo-password"  # noqa: S105 - the in-process simulator's own password, not a secret
DEMO_GATEWAY_PASSWORD = "DEMOGATEWAY"  # noqa: S105 - the simulator's TEDAPI password, not a secret
# --demo.site: the simulated site profiles (exporter.simulator.SiteModel). "default" is a Powerwall 2
# on old firmware (JSON API with vitals); the others need TEDAPI and show the per-device series it gives.
# Subcommands beside the exporter's flags: the first argument names the module whose main() runs.
SUBCOMMANDS = {"assets": "exporter.assets.command", "tedapi": "exporter.sources.tedapi.command"}
DEMO_SITES = ("default", "pw2-tedapi", "pw3", "pw3-v1r")
MAX_REQUESTS_BOUND = 4096  # --web.max-requests: each is a thread at most; more is a typo, not a fleet


def _max_requests(text: str) -> int:
    """``--web.max-requests``: a whole number from 1 to :data:`MAX_REQUESTS_BOUND`."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= n <= MAX_REQUESTS_BOUND:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_REQUESTS_BOUND}, not {n}")
    return n


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="powerwall-exporter",
        description="Prometheus exporter for the Tesla Energy Gateway (Powerwall) local API. Read-only.",
        epilog="powerwall-exporter assets write DIR [--force]: write the shipped Grafana dashboards, "
        "Prometheus rules, example configs and systemd unit into DIR. "
        "powerwall-exporter tedapi keygen DIR: make the RSA client key a Powerwall 3 owner registers for "
        "TEDAPI over the home LAN (v1r).",
    )
    p.add_argument("--config.file", dest="config_file", help="YAML configuration (see config.example.yaml)")
    p.add_argument("--config.check", dest="config_check", action="store_true", help="validate the config and exit")
    p.add_argument("--web.listen-address", dest="listen", default=DEFAULT_LISTEN, help="default %(default)s")
    p.add_argument("--web.telemetry-path", dest="telemetry_path", default="/metrics", help="default %(default)s")
    p.add_argument("--web.config.file", dest="web_config", help="exporter-toolkit web config (TLS, basic auth)")
    p.add_argument(
        "--web.max-requests",
        dest="max_requests",
        type=_max_requests,
        default=Limits.workers,
        metavar="N",
        help="requests served at once, each on a worker thread started on demand (a /probe holds one while its "
        "gateway answers); more wait, up to 128, then get a 503. A fleet replica whose sites may drop off "
        "together needs more (see deploy/scaling/README.md); default %(default)s",
    )
    p.add_argument("--log.level", dest="log_level", default="info", choices=["debug", "info", "warn", "error"])
    p.add_argument("--log.format", dest="log_format", default="logfmt", choices=["logfmt", "json"])
    p.add_argument(
        "--demo",
        action="store_true",
        help="serve a simulated gateway in-process and export it (try the exporter without a Powerwall)",
    )
    p.add_argument(
        "--demo.site",
        dest="demo_site",
        default="default",
        choices=DEMO_SITES,
        help="the --demo site: default (Powerwall 2, firmware before 23.44), pw2-tedapi (Powerwall 2 on "
        "firmware 25.10 through TEDAPI), pw3 (two Powerwall 3 with DC expansion packs, through TEDAPI over "
        "WiFi) or pw3-v1r (one Powerwall 3 with two DC expansions, through signed TEDAPI on the LAN, no gateway "
        "password); default %(default)s",
    )
    p.add_argument(
        "--tls.fetch-certificate",
        dest="fetch_cert",
        metavar="HOST[:PORT]",
        help="print a gateway's certificate and SHA-256 fingerprint for pinning, then exit",
    )
    p.add_argument("--tls.server-name", dest="server_name", default="powerwall", help="SNI for --tls.fetch-certificate")
    p.add_argument("--version", action="version", version=f"powerwall-exporter {__version__}")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] and argv[0] in SUBCOMMANDS:  # a subcommand beside the exporter's flags
        return _subcommand(SUBCOMMANDS[argv[0]], argv[1:])
    args = build_parser().parse_args(argv)
    from exporter.logsetup import setup_logging

    setup_logging(args.log_level, args.log_format)
    if hasattr(signal, "SIGHUP"):  # not on Windows; installed first so a SIGHUP during start-up is survived too
        signal.signal(signal.SIGHUP, _hangup)
    if args.fetch_cert:
        return _fetch_certificate(args.fetch_cert, args.server_name)
    refused = _refused_combination(args)
    if refused:
        log.error("%s", refused)
        return 2
    try:
        web = load_web_config(args.web_config)
        config = load_config(args.config_file, check=check_gateway) if args.config_file else None
    except ConfigError as exc:
        for problem in exc.problems:  # one line per problem, each naming its key
            log.error("invalid configuration: %s", problem)
        return 2
    if args.config_check:
        if config is None:
            log.error("--config.check needs --config.file")
            return 2
        _warn_about_pins(config)
        _warn_about_tedapi(config)
        _warn_about_v1r_key_files(config)
        log.info("configuration OK: %d gateway(s)", len(config.gateways))
        return 0

    simulator = None
    if config is None:
        simulator, config = _start_demo(args.demo_site)
    _warn_about_pins(config)
    _warn_about_v1r_key_files(config)

    from exporter.reload import Reloader
    from exporter.scrape.collector import PowerwallCollector
    from exporter.web.server import ExporterApp, ExporterServer

    collector = PowerwallCollector(config)
    reloader = Reloader(collector, None if simulator is not None else args.config_file)
    try:
        simulated = frozenset(g.name for g in config.gateways) if simulator is not None else frozenset()
        app = ExporterApp(collector, args.telemetry_path, web, reloader, simulated=simulated)
        server = ExporterServer(app, args.listen, web, Limits(workers=args.max_requests))
    except (OSError, ValueError) as exc:
        log.error("cannot listen on %s: %s", args.listen, exc)
        return 1
    scheme = "https" if web.tls else "http"
    host = server.host
    shown = "localhost" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    log.info(
        "powerwall-exporter %s listening on %s; open %s://%s:%d/ (metrics at %s)",
        __version__,
        args.listen,
        scheme,
        shown,
        server.port,
        args.telemetry_path,
    )
    stop = threading.Event()

    def _signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received signal %d, shutting down", signum)
        stop.set()

    def _reload(_signum: int, _frame: FrameType | None) -> None:
        # On a thread: a signal handler must not block on file reads or the reload lock.
        threading.Thread(target=reloader.reload_logged, args=("SIGHUP",), name="reload", daemon=True).start()

    signal.signal(signal.SIGTERM, _signal)
    signal.signal(signal.SIGINT, _signal)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, _reload)
    gcpolicy.apply()
    server.start()
    try:
        stop.wait()
    finally:
        server.stop()
        collector.close()
        if simulator is not None:
            simulator.stop()
    return 0


def _subcommand(module: str, argv: list[str]) -> int:
    """Run a subcommand's ``main`` (imported only when asked for: the exporter's start does not pay)."""
    from exporter.logsetup import setup_logging

    setup_logging("info", "logfmt")
    run: Callable[[list[str]], int] = importlib.import_module(module).main
    return run(argv)


def _hangup(_signum: int, _frame: FrameType | None) -> None:
    """SIGHUP's default action kills the process, and people (and tools) send it expecting a reload.

    Before the server runs there is nothing to reload into yet: say so and carry on starting.
    """
    log.info("received SIGHUP during start-up: ignoring it (send it again once the exporter serves to reload)")


def _warn_about_pins(config: Config) -> None:
    for warning in pin_warnings(config):
        log.warning("%s", warning)


def _warn_about_tedapi(config: Config) -> None:
    """What --config.check can tell about TEDAPI before any request: where the signed queries come from
    (a named queries_file is checked with the config), and each v1r key by its fingerprint.

    The fingerprint is what owners compare with the registration tool's output: a key that was never
    registered, or another key than the registered one, is v1r's most common support thread, and this
    is the one place to see which key the exporter will sign with. Only the fingerprint (a hash of the
    public half) is logged, never anything of the key file.
    """
    from exporter.sources.tedapi import queries, v1r_key

    for g in config.gateways:
        t = g.tedapi
        if t is None:
            continue
        if t.queries_file is None:
            report = queries.inspect(None)
            if report.queries is None:
                log.warning("gateway %s: TEDAPI would be off: %s", g.name, report.off_reason)
            else:
                log.info("gateway %s: TEDAPI queries from %s", g.name, report.queries.origin)
        if not t.v1r:
            continue
        assert t.v1r_key_file is not None
        log.info(
            "gateway %s: v1r key %s (register this key; compare with the registration tool's output)",
            g.name,
            v1r_key.load(t.v1r_key_file).fingerprint,  # checked with the config: it loads
        )
        if not t.wifi:
            log.info(
                "gateway %s: TEDAPI over v1r only: follower Powerwall 3 units cannot be read over v1r (the leader "
                "answers for them); add tedapi.gateway_password and tedapi.address (WiFi) to read them",
                g.name,
            )


def _warn_about_v1r_key_files(config: Config) -> None:
    """Warn (at --config.check and at start-up) about a v1r key file the group or others can read.

    The key is the only credential v1r asks for: whoever can read it can sign requests to the gateway
    as this registered client, and the exporter's allow-list does not bind them. A warning, not an
    error: the owner may have reasons (a group-readable secrets mount), but should know.
    """
    from exporter.sources.tedapi import v1r_key

    for g in config.gateways:
        path = g.tedapi.v1r_key_file if g.tedapi is not None else None
        if path is None or not v1r_key.loose_permissions(path):
            continue
        try:
            mode = f" (mode {stat.S_IMODE(path.stat().st_mode):04o})"
        except OSError:
            mode = ""
        log.warning(
            "gateway %s: the v1r key file %s is readable by group or others%s: anyone who can read it can sign "
            "requests to the gateway as this registered client; chmod 600 %s",
            g.name,
            path,
            mode,
            path,
        )


def _refused_combination(args: argparse.Namespace) -> str | None:
    """One line saying what to do instead, for invocations that cannot mean what the user wants."""
    if args.demo and args.config_file:
        return "--demo serves a built-in simulated gateway and cannot be combined with --config.file; use one"
    if args.demo and args.config_check:
        return "--config.check checks a --config.file; the demo has no file to check"
    if args.demo_site != "default" and not args.demo:
        return "--demo.site chooses the site of --demo; add --demo (or drop --demo.site)"
    if not args.demo and not args.config_file:
        return (
            "no --config.file given. Try it with a simulated gateway: powerwall-exporter --demo; "
            "for your gateway write a config (see config.example.yaml) and run "
            "powerwall-exporter --config.file FILE"
        )
    return None


def _demo_model(site: str) -> SiteModel:
    from exporter.simulator import SiteModel

    if site == "pw3":
        return SiteModel.pw3(seed=1, time_scale=60.0)
    if site == "pw3-v1r":
        return SiteModel.pw3(seed=1, time_scale=60.0, powerwalls=1, expansions=(2,))
    if site == "pw2-tedapi":
        return SiteModel.pw2_tedapi(seed=1, powerwalls=2, solar_powerwall=True, time_scale=60.0)
    return SiteModel(seed=1, powerwalls=2, solar_powerwall=True, time_scale=60.0)


def _start_demo(site: str = "default") -> tuple[SimulatedGateway, Config]:
    tedapi, v1r = site != "default", site == "pw3-v1r"
    try:
        from exporter.simulator import SimulatedGateway, write_query_file
        from exporter.simulator.server import NoWritableTempDirError

        gw = SimulatedGateway(
            password=DEMO_PASSWORD,
            model=_demo_model(site),
            gateway_password=DEMO_GATEWAY_PASSWORD if tedapi and not v1r else None,
        )
    except ImportError:  # cryptography (the demo extra) missing, at import or when making the certificate
        log.error(
            "the demo needs the 'demo' extra (cryptography): pip install -e '.[demo]' in a clone of the repository,"
            " or add 'powerwall-exporter[demo]' to the wheel's pip install (README, \"Without a clone\")"
        )
        raise SystemExit(2) from None
    except NoWritableTempDirError as exc:  # a read-only container without a tmpfs on /tmp
        log.error("cannot start the demo: %s", exc)
        raise SystemExit(2) from None
    # Its temp dir holds a private key: removed on every way out, also those that skip main's finally.
    atexit.register(gw.stop)
    gw.start()
    log.info("demo: simulated %s gateway at %s (one simulated hour per real minute)", site, gw.url)
    gateway: dict[str, object] = {
        "name": "demo",
        "address": gw.url,
        "password": DEMO_PASSWORD,
        "tls": {"ca_file": str(gw.cert_path), "server_name": "powerwall"},
        "min_interval_seconds": 1,
    }
    if tedapi:
        # Tesla's signed query texts are not ours to ship: the demo signs its own with a throwaway key
        # that only this simulated gateway (and this exporter, through query_public_key_file) trusts.
        queries = gw.tmpdir / "tedapi-queries.json"
        public_key = gw.tmpdir / "tedapi-query-key.pem"
        pem = write_query_file(queries)
        public_key.write_bytes(pem)
        gw.tedapi_keys = (pem,)
        tedapi_block: dict[str, object] = {
            "queries_file": str(queries),
            "query_public_key_file": str(public_key),
            "min_interval_seconds": 5,
        }
        if v1r:
            tedapi_block["v1r_key_file"] = str(_demo_v1r_key(gw))
        else:
            tedapi_block["gateway_password"] = DEMO_GATEWAY_PASSWORD
        gateway["tedapi"] = tedapi_block
    # Through the same validation as a user's config file.
    config = check_config(parse_config({"gateways": [gateway], "state_file": ""}))
    return gw, config


def _demo_v1r_key(gw: SimulatedGateway) -> Path:
    """A throwaway v1r client key in the demo's temp dir, registered and verified on its simulated gateway.

    2048 bits, not the 4096 of a real key: the demo starts in a moment, and the gateway checks either alike.
    """
    from exporter.sources.tedapi import v1r_key

    pair = v1r_key.generate(gw.tmpdir / "v1r-key", bits=2048)
    gw.v1r_keys.add(pair.public_der, state="verified")
    log.info("demo: v1r client key %s, registered and verified on the simulated gateway", pair.fingerprint)
    return pair.private_path


def _fetch_certificate(target: str, server_name: str) -> int:
    from exporter.gateway.tls import fetch_certificate

    host, _, port = target.removeprefix("https://").partition(":")
    try:
        pem, fingerprint = fetch_certificate(host, int(port or 443), server_name)
    except (OSError, ValueError) as exc:
        log.error("cannot fetch the certificate from %s: %s", target, exc)
        return 1
    sys.stdout.write(pem)
    sys.stdout.write(f"# fingerprint_sha256: {fingerprint}\n")
    return 0
