"""The installer-fleet design's shipped files (deploy/scaling/) pointed at loopback, for tests/test_fleet_e2e.py.

Why here: the fleet test must run the *shipped* ``prometheus-sharded.yml`` and ``prometheus-central.yml``,
so every change made to them lives in this one place, each named in :data:`SUBSTITUTIONS` and in
deploy/scaling/README.md ("How the fleet test uses these files"); ``tests/test_deploy.py`` checks that a
rendered copy differs from the shipped file in nothing else.
"""

from __future__ import annotations

import copy
import socket
from pathlib import Path
from typing import Any

import yaml

from tests.e2e_support import DEPLOY, RULES_DIR, SHIPPED_ALERTMANAGER_ADDR, _shortened_rules

SCALING = DEPLOY / "scaling"
SHARDED_YML = SCALING / "prometheus-sharded.yml"
CENTRAL_YML = SCALING / "prometheus-central.yml"

# What the shipped files say, and the test replaces (KeyError/AssertionError below if they change).
SHIPPED_REPLICA_REPLACEMENT = "powerwall-exporter-${1}.powerwall-exporter:9871"
SHIPPED_REMOTE_WRITE_URL = "https://mimir.example.internal/api/v1/push"
SHARD_LABEL = "prometheus_shard"
HA_REPLICA_LABEL = "__replica__"  # Mimir's and Cortex's HA tracker default

# Every change the fleet test makes to the shipped files, in one place (the README repeats it).
SUBSTITUTIONS = {
    "prometheus-sharded.yml": [
        "global scrape_interval and scrape_timeout -> the test's (seconds instead of 30 s / 10 s)",
        "external_labels.prometheus_shard and the keep rule's regex -> this server's shard number",
        "the exporter-replica hashmod's modulus -> the replica count the fleet was split into "
        "(`exporter.shard --replicas`), as the README tells installers to do when they change it",
        "the replica address replacement powerwall-exporter-${1}.powerwall-exporter:9871 -> "
        "127.0.0.1:<P0 // 10>${1}: replica i listens on port P0 + i with P0 % 10 == 0, so the shipped "
        "rule (the hashmod result appended to a fixed prefix) is kept",
        "remote_write url -> the central Prometheus' /api/v1/write",
        "the HA twin of shard 0 only: external label __replica__ added and remote_write removed "
        "(see render_shard_config)",
    ],
    "prometheus-central.yml": [
        "global evaluation_interval -> the test's",
        "rule_files -> copies of deploy/prometheus/rules/*.yml with every group's interval set to the "
        "test's and every alert's for: capped (tests/e2e_support.py, _shortened_rules)",
        "the Alertmanager address alertmanager:9093 -> the test's loopback address",
    ],
}


def _load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return doc


def _relabel(
    job: dict[str, Any], *, action: str, target: str | None = None, source: str | None = None
) -> dict[str, Any]:
    """The one relabel rule of ``job`` with this action and target (or source) label."""
    found = [
        r
        for r in job["relabel_configs"]
        if r.get("action", "replace") == action
        and (target is None or r.get("target_label") == target)
        and (source is None or r.get("source_labels") == [source])
    ]
    if len(found) != 1:
        raise AssertionError(f"{SHARDED_YML}: expected one {action} rule for {target or source}, found {len(found)}")
    rule: dict[str, Any] = found[0]
    return rule


def shipped_shard_count() -> int:
    """How many Prometheus shards the shipped example is written for (its first hashmod's modulus)."""
    job = _load(SHARDED_YML)["scrape_configs"][0]
    return int(_relabel(job, action="hashmod", target="__tmp_prometheus_shard")["modulus"])


def render_shard_config(
    shard: int,
    *,
    replicas: int,
    replica_port_base: int,
    remote_write_url: str,
    scrape_interval: str,
    scrape_timeout: str,
    ha_twin: str | None = None,
) -> str:
    """The shipped prometheus-sharded.yml for shard ``shard``, with exactly the :data:`SUBSTITUTIONS`.

    ``ha_twin`` makes the config of the second member of an HA pair: the external label
    ``__replica__`` names it (Mimir's HA tracker pairs members by it) and ``remote_write`` goes.
    Why no remote_write: both members send identical series, which Mimir or Cortex deduplicate, but
    the plain Prometheus standing in for the store here cannot: it rejects a batch holding a sample
    older than the series' last one and rolls the whole batch back, so two writers would lose each
    other's data. Why the label: Prometheus derives each target's scrape phase from the host name and
    the external labels, so without it a twin on the same host would scrape in lockstep with its
    partner, which a pair on two hosts never does.

    The caller writes the file next to ``targets.yml``, so its relative ``file_sd`` path stays.
    """
    if replica_port_base % 10 != 0 or not 1 <= replicas <= 10:
        raise ValueError("replica ports are P0 + i with P0 % 10 == 0 and at most 10 replicas")
    cfg = _load(SHARDED_YML)
    glob = cfg["global"]
    glob["scrape_interval"] = scrape_interval
    glob["scrape_timeout"] = scrape_timeout
    assert SHARD_LABEL in glob["external_labels"], f"{SHARDED_YML} has no {SHARD_LABEL} external label"
    glob["external_labels"][SHARD_LABEL] = str(shard)
    (job,) = cfg["scrape_configs"]
    _relabel(job, action="keep", source="__tmp_prometheus_shard")["regex"] = str(shard)
    _relabel(job, action="hashmod", target="__tmp_exporter_replica")["modulus"] = replicas
    route = _relabel(job, action="replace", target="__address__", source="__tmp_exporter_replica")
    if route["replacement"] != SHIPPED_REPLICA_REPLACEMENT:
        raise AssertionError(f"{SHARDED_YML}: replica address is no longer {SHIPPED_REPLICA_REPLACEMENT!r}")
    route["replacement"] = f"127.0.0.1:{replica_port_base // 10}${{1}}"
    (rw,) = cfg["remote_write"]
    if rw["url"] != SHIPPED_REMOTE_WRITE_URL:
        raise AssertionError(f"{SHARDED_YML}: remote_write url is no longer {SHIPPED_REMOTE_WRITE_URL!r}")
    rw["url"] = remote_write_url
    if ha_twin is not None:
        glob["external_labels"][HA_REPLICA_LABEL] = ha_twin
        del cfg["remote_write"]
    return str(yaml.safe_dump(cfg, sort_keys=False))


def render_central_config(*, alertmanager: str, interval: str, rules_dir: Path, for_cap: str) -> str:
    """The shipped prometheus-central.yml with exactly the :data:`SUBSTITUTIONS` (rule copies in ``rules_dir``)."""
    cfg = _load(CENTRAL_YML)
    cfg["global"]["evaluation_interval"] = interval
    shipped_rules = [(CENTRAL_YML.parent / p).resolve() for p in cfg["rule_files"]]
    if shipped_rules != [(RULES_DIR / "*.yml").resolve()]:
        raise AssertionError(f"{CENTRAL_YML}: rule_files no longer load deploy/prometheus/rules/*.yml")
    cfg["rule_files"] = [str(_shortened_rules(p, rules_dir, interval, for_cap=for_cap)) for p in shipped_rules]
    for am in cfg["alerting"]["alertmanagers"]:
        for sc in am["static_configs"]:
            sc["targets"] = [{SHIPPED_ALERTMANAGER_ADDR: alertmanager}[t] for t in sc["targets"]]
    return str(yaml.safe_dump(cfg, sort_keys=False))


def strip_shard_substitutions(cfg: dict[str, Any]) -> dict[str, Any]:
    """``cfg`` without what :func:`render_shard_config` may change, to compare the rest with the shipped file."""
    out = copy.deepcopy(cfg)
    for key in ("scrape_interval", "scrape_timeout"):
        out["global"].pop(key, None)
    out["global"]["external_labels"].pop(SHARD_LABEL, None)
    for job in out["scrape_configs"]:
        for rule in job["relabel_configs"]:
            if rule.get("action") == "keep" and rule.get("source_labels") == ["__tmp_prometheus_shard"]:
                rule.pop("regex")
            if rule.get("target_label") == "__tmp_exporter_replica":
                rule.pop("modulus")
            if rule.get("source_labels") == ["__tmp_exporter_replica"]:
                rule.pop("replacement")
    for rw in out.get("remote_write", []):
        rw.pop("url")
    return out


def free_port_decade(ports: int) -> int:
    """A loopback port P0 with P0 % 10 == 0 such that P0 .. P0 + ports - 1 are all free now.

    Why a decade: the shipped rule builds a replica's address by appending the replica number to a
    fixed text, so replica i must listen on a port whose last digit is i. Free when this returns, not
    reserved (as :func:`tests.support.net.free_port`).
    """
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1]) // 10 * 10
        if base < 1024 or base + ports > 65535:
            continue
        socks: list[socket.socket] = []
        try:
            for i in range(ports):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", base + i))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError(f"no {ports} free consecutive loopback ports starting at a multiple of 10")
