"""powerwall-exporter.json: the exporter's own health, for when a panel elsewhere shows no data.

Is the exporter up, does each gateway endpoint answer and how fast, logins, rate limits, counter dips,
TEDAPI's two paths (v1r and WiFi) with the key and clock the alert runbooks point at, and the process.
"""

from __future__ import annotations

from grafana.builder.kit import (
    BLUE,
    GREEN,
    JSON,
    ORANGE,
    RED,
    UP_DOWN,
    YES_NO,
    Row,
    dashboard,
    stat,
    table,
    target,
    thresholds,
    timeline,
    ts,
    value_map,
)
from grafana.builder.queries import (
    SJ,
    S,
    zero_if_absent,
)
from grafana.builder.variables import GATEWAY_VAR, JOB_VAR

CLOCK_OFFSET_LIMIT_S = 10  # PowerwallTedapiClockOffset fires beyond this many seconds


def tedapi_paths() -> Row:
    """The exporter-health row for TEDAPI's two paths: v1r (signed, home LAN) and WiFi (gateway access point).

    Which path served each Powerwall unit, the v1r key faults and whether the key is accepted, and the
    clock offset v1r signatures depend on: what the PowerwallTedapiV1rKeyNotAccepted and
    PowerwallTedapiClockOffset runbooks send the owner to look at.
    """
    # One row per unit, the path as its value: 1 = v1r, 2 = wifi (info series carry the path as a label).
    path = (
        f'max by (gateway, unit) (powerwall_tedapi_path_info{{{S}, path="v1r"}} '
        f'or 2 * powerwall_tedapi_path_info{{{S}, path="wifi"}})'
    )
    limit = CLOCK_OFFSET_LIMIT_S
    return Row(
        "TEDAPI paths: home LAN (v1r) and WiFi",
        [
            timeline(
                "TEDAPI path per Powerwall",
                "Which path served each Powerwall unit's last TEDAPI answer (unit = its DIN): v1r, signed requests "
                "over the home LAN, or WiFi, the gateway's own access point. Followers are always read over WiFi "
                "(v1r answers for the leader only); with both paths configured the leader falls back to WiFi after "
                "3 failed LAN requests in a row (key faults do not count) and returns when a LAN probe answers "
                "(the first after 8 minutes, then up to 2 hours apart). No value: no TEDAPI answer (no tedapi: "
                "block, or v1r only with a refused key).",
                [target(path, "{{gateway}} {{unit}}")],
                value_map(("1", "v1r (home LAN)", GREEN), ("2", "WiFi", BLUE)),
                h=8,
            ),
            timeline(
                "v1r key accepted",
                "Whether the gateway accepted the v1r client key in its last answer (Refused: the last answer was "
                "a key fault, see v1r faults; the PowerwallTedapiV1rKeyNotAccepted alert after 15 minutes). No "
                "value: v1r not configured or not asked yet.",
                [target(f"powerwall_tedapi_v1r_key_accepted{{{S}}}", "{{gateway}}")],
                value_map(("1", "Accepted", GREEN), ("0", "Refused", RED)),
                h=8,
            ),
            ts(
                "v1r faults",
                "Faults the gateway answered to v1r requests per interval, by Tesla's fault name. Key faults "
                "(unknown_key_id, authorization_not_verified, inactive_key, invalid_signature, wrong_personalization, "
                "insufficient_privileges, not_provisioned_with_identity) need the owner: register or verify the key "
                "(runbook PowerwallTedapiV1rKeyNotAccepted); busy and timeout are transient; time_expired and "
                "time_to_live_too_long point at the clock (Gateway clock offset).",
                [
                    target(
                        "sum by (gateway, fault) "
                        f"(increase(powerwall_tedapi_v1r_faults_total{{{S}}}[$__rate_interval]))",
                        "{{gateway}} {{fault}}",
                    )
                ],
                "short",
                w=12,
                decimals=0,
                minv=0,
            ),
            ts(
                "Gateway clock offset",
                "The gateway's clock minus the exporter host's, from the Date header of the gateway's v1r answers "
                "(whole seconds: ±1 to 2 s is noise). Positive: the host's clock is behind. v1r signatures expire "
                f"on the gateway's clock; beyond ±{limit} s (dashed) the PowerwallTedapiClockOffset alert fires "
                "after 10 minutes: fix the host's time synchronisation (NTP).",
                [target(f"powerwall_tedapi_clock_offset_seconds{{{S}}}", "{{gateway}}")],
                "s",
                w=12,
                steps=thresholds((None, RED), (-limit, "transparent"), (limit, RED)),
                custom={"thresholdsStyle": {"mode": "dashed"}},
            ),
        ],
    )


def build() -> JSON:
    status = Row(
        "Status",
        [
            stat(
                "Exporter",
                "Whether Prometheus can scrape the exporter.",
                [target(f"up{{{SJ}}}", "{{instance}}")],
                "none",
                mappings=UP_DOWN,
                options={"colorMode": "background", "graphMode": "none"},
            ),
            stat(
                "Gateway",
                "Whether the exporter reached and logged in to each gateway in its last scrape.",
                [target(f"powerwall_up{{{S}}}", "{{gateway}}")],
                "none",
                mappings=UP_DOWN,
                options={"colorMode": "background", "graphMode": "none"},
            ),
            stat(
                "Vitals supported",
                "Whether the gateway serves device vitals (removed in firmware 23.44).",
                [target(f"powerwall_vitals_supported{{{S}}}", "{{gateway}}")],
                "none",
                mappings=YES_NO,
                options={"graphMode": "none"},
            ),
            stat(
                "TEDAPI",
                "Whether TEDAPI (firmware 23.44 and later, every Powerwall 3) is configured with usable signed "
                "queries (1), or configured without (0; the PowerwallTedapiQueriesMissing alert); no value: no "
                "tedapi: block. Its requests appear as tedapi:* in Endpoint success (PowerwallTedapiFailing).",
                [
                    target(f"powerwall_tedapi_enabled{{{S}}}", "{{gateway}}"),
                    target(
                        f'min by (gateway) (powerwall_scrape_endpoint_success{{{S}, endpoint=~"tedapi:.*"}})',
                        "{{gateway}} all requests OK",
                    ),
                ],
                "none",
                mappings=YES_NO,
                options={"graphMode": "none"},
            ),
            stat(
                "Rate-limit cooldown",
                "Time the exporter still waits before asking a gateway that answered 429 again.",
                [target(f"powerwall_gateway_cooldown_seconds{{{S}}}", "{{gateway}}")],
                "s",
                steps=thresholds((None, GREEN), (1, ORANGE)),
            ),
            stat(
                "429 answers",
                "Rate-limit answers from the gateway in the selected range.",
                [
                    target(
                        zero_if_absent(
                            "sum by (gateway) "
                            f'(increase(powerwall_gateway_requests_total{{{S}, code="429"}}[$__range]))'
                        ),
                        "{{gateway}}",
                        instant=True,
                    )
                ],
                "short",
                decimals=0,
                steps=thresholds((None, GREEN), (1, ORANGE)),
                options={"graphMode": "none"},
            ),
            stat(
                "Counter dips",
                "Small backwards steps of the gateway's lifetime energy counters that the exporter held back.",
                [
                    target(
                        zero_if_absent(f"sum by (gateway) (increase(powerwall_monotonic_dips_total{{{S}}}[$__range]))"),
                        "{{gateway}}",
                        instant=True,
                    )
                ],
                "short",
                decimals=0,
                options={"graphMode": "none"},
            ),
            stat(
                "Flow intervals skipped",
                "Intervals the energy-flow counters left out because a meter counter dipped or reset, or "
                "readings were too far apart (gap). A few per day are harmless; many mean flows are undercounted.",
                [
                    target(
                        zero_if_absent(
                            "sum by (gateway) "
                            f"(increase(powerwall_energy_flow_skipped_intervals_total{{{S}}}[$__range]))"
                        ),
                        "{{gateway}}",
                        instant=True,
                    )
                ],
                "short",
                decimals=0,
                options={"graphMode": "none"},
            ),
            stat(
                "Vitals decode errors",
                "Device vitals answers the exporter could not decode in the selected range.",
                [
                    target(
                        zero_if_absent(
                            "sum by (gateway) (increase(powerwall_scrape_endpoint_errors_total"
                            f'{{{S}, endpoint="/api/devices/vitals", reason="decode"}}[$__range]))'
                        ),
                        "{{gateway}}",
                        instant=True,
                    )
                ],
                "short",
                decimals=0,
                steps=thresholds((None, GREEN), (1, ORANGE)),
                options={"graphMode": "none"},
            ),
            stat(
                "Samples per scrape",
                "Series the exporter exposes per scrape.",
                [target(f"scrape_samples_scraped{{{SJ}}}", "{{instance}}")],
                "short",
            ),
            table(
                "Versions",
                "Exporter version and each gateway's firmware.",
                [
                    target(f"powerwall_exporter_build_info{{{SJ}}}", "", instant=True, table=True),
                    target(f"powerwall_info{{{S}}}", "", instant=True, table=True),
                ],
                ["Value"],
                w=21,
                h=6,
            ),
        ],
    )
    endpoints = Row(
        "Gateway endpoints",
        [
            timeline(
                "Endpoint success",
                "Whether each gateway endpoint answered in each scrape.",
                [target(f"powerwall_scrape_endpoint_success{{{S}}}", "{{gateway}} {{endpoint}}")],
                value_map(("1", "OK", GREEN), ("0", "Failed", RED)),
                w=24,
                h=9,
            ),
            ts(
                "Endpoint latency",
                "Time each gateway endpoint took to answer.",
                [target(f"powerwall_scrape_endpoint_duration_seconds{{{S}}}", "{{gateway}} {{endpoint}}")],
                "s",
                w=12,
            ),
            ts(
                "Scrape duration",
                "Time a whole scrape took, in the exporter and as Prometheus saw it.",
                [
                    target(f"powerwall_scrape_duration_seconds{{{S}}}", "{{gateway}} exporter"),
                    target(f"scrape_duration_seconds{{{SJ}}}", "{{instance}} Prometheus scrape"),
                ],
                "s",
                w=12,
            ),
            ts(
                "Gateway requests by outcome",
                "Requests per second to each gateway: answered (with the HTTP status) or the transport "
                "failure (timeout, connection, tls, ...).",
                [
                    target(
                        "sum by (gateway, outcome, code) "
                        f"(rate(powerwall_gateway_requests_total{{{S}}}[$__rate_interval]))",
                        "{{gateway}} {{outcome}} {{code}}",
                    )
                ],
                "reqps",
                w=8,
            ),
            ts(
                "Logins",
                "Logins per interval by result (success, bad_credentials, rate_limited, error). One login "
                "should last for many scrapes.",
                [
                    target(
                        f"sum by (gateway, result) (increase(powerwall_login_attempts_total{{{S}}}[$__rate_interval]))",
                        "{{gateway}} {{result}}",
                    )
                ],
                "short",
                w=8,
            ),
            ts(
                "Endpoint errors",
                "Failed gateway requests per interval, by endpoint and reason.",
                [
                    target(
                        "sum by (gateway, endpoint, reason) "
                        f"(increase(powerwall_scrape_endpoint_errors_total{{{S}}}[$__rate_interval]))",
                        "{{gateway}} {{endpoint}} {{reason}}",
                    )
                ],
                "short",
                w=8,
            ),
        ],
    )
    tedapi = tedapi_paths()
    process = Row(
        "Exporter process",
        [
            ts(
                "Memory",
                "Resident memory of the exporter process.",
                [target(f"process_resident_memory_bytes{{{SJ}}}", "{{instance}}")],
                "bytes",
                w=12,
            ),
            ts(
                "CPU",
                "CPU used by the exporter process.",
                [target(f"rate(process_cpu_seconds_total{{{SJ}}}[$__rate_interval])", "{{instance}}")],
                "percentunit",
                w=12,
            ),
        ],
    )
    return dashboard(
        "powerwall-exporter",
        "Powerwall / Exporter health",
        "Is the exporter up, does each gateway endpoint answer, how fast, logins and rate limits.",
        [JOB_VAR, GATEWAY_VAR],
        [status, endpoints, tedapi, process],
        time_from="now-6h",
    )
