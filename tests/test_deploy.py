"""Deployment files agree with each other and with the exporter.

Why: Docker, Kubernetes and systemd cannot run here, but most deployment bugs are inconsistencies —
a port named differently in the Service and the ServiceMonitor, a PrometheusRule that drifted from the
tested rules, a flag the CLI no longer has, a Grafana mount that misses the provider's path — and those
can be checked as data. The end-to-end test's config substitution is checked here too, so "the same
files as shipped" stays true.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import subprocess
import sys
import threading
import urllib.request
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.e2e_support import (
    ALERTMANAGER_YML,
    DEPLOY,
    GRAFANA,
    PROMETHEUS_YML,
    SHIPPED_ALERTMANAGER_ADDR,
    SHIPPED_EXPORTER_ADDR,
    SHIPPED_PROMETHEUS_ADDR,
    SHIPPED_WEBHOOK_ADDR,
    render_alertmanager_config,
    render_prometheus_config,
)
from tests.fleet_support import (
    CENTRAL_YML,
    HA_REPLICA_LABEL,
    SHARD_LABEL,
    SHARDED_YML,
    SHIPPED_REMOTE_WRITE_URL,
    SHIPPED_REPLICA_REPLACEMENT,
    render_central_config,
    render_shard_config,
    strip_shard_substitutions,
)
from tests.support.exporter import run_exporter
from tests.support.prereqs import require_binary

K8S = DEPLOY / "kubernetes"


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def yaml_file(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def cli_flags() -> set[str]:
    proc = run_exporter("--help")
    assert proc.returncode == 0, proc.stderr
    return set(re.findall(r"(--[a-z][a-z0-9.-]+)", proc.stdout))


def flags_in(args: list[str]) -> set[str]:
    return {a.split("=", 1)[0] for a in args if a.startswith("--")}


# --------------------------------------------------------------------------------------------------
# Kubernetes


def test_prometheusrule_is_generated_from_the_rules_file() -> None:
    gen = load_module(K8S / "generate_prometheusrule.py")
    committed = (K8S / "prometheusrule.yaml").read_text(encoding="utf-8")
    assert committed == gen.render(), "run `python deploy/kubernetes/generate_prometheusrule.py`"
    files = sorted((DEPLOY / "prometheus" / "rules").glob("*.yml"))
    assert len(files) >= 2 and DEPLOY / "prometheus" / "rules" / "powerwall.rules.yml" in files
    groups = [g for path in files for g in yaml_file(path)["groups"]]
    assert yaml.safe_load(committed)["spec"]["groups"] == groups
    names = [g["name"] for g in groups]
    assert len(names) == len(set(names)), "rule group names must be unique across the files"


def test_kubernetes_objects_fit_together() -> None:
    deployment = yaml_file(K8S / "deployment.yaml")
    service = yaml_file(K8S / "service.yaml")
    monitor = yaml_file(K8S / "servicemonitor.yaml")
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    labels = pod["metadata"]["labels"]

    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    port_names = {p["name"] for p in container["ports"]}
    assert service["spec"]["ports"][0]["targetPort"] in port_names
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    assert container["ports"][0]["containerPort"] == 9871
    # The ServiceMonitor's job label is the Service name; PowerwallExporterDown must match it.
    assert re.fullmatch(".*powerwall.*", service["metadata"]["name"])
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"

    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/healthz"
    ctx = container["securityContext"]
    assert ctx["readOnlyRootFilesystem"] and not ctx["allowPrivilegeEscalation"]
    assert ctx["capabilities"]["drop"] == ["ALL"]
    assert pod["spec"]["securityContext"]["runAsNonRoot"]
    assert flags_in(container["args"]) <= cli_flags()


# --------------------------------------------------------------------------------------------------
# Docker


def test_dockerfile_is_slim_non_root_with_healthcheck_and_demo_default() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert froms and all(f.startswith("python:") and f.endswith("-slim") for f in froms)
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and not users[-1].startswith(("root", "0"))
    assert re.search(r"^HEALTHCHECK .*127\.0\.0\.1:9871/healthz", text, re.M | re.S)
    assert '".[demo]"' in text and "powerwall-exporter[demo]" in text
    assert re.search(r'^CMD \["--demo"', text, re.M)
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", text, re.M).group(1))  # type: ignore[union-attr]
    assert flags_in(cmd) <= cli_flags()


def test_compose_stack_matches_the_shipped_configs() -> None:
    compose = yaml_file(DEPLOY / "docker-compose.yml")
    services = compose["services"]
    assert set(services) >= {"exporter", "prometheus", "alertmanager", "grafana", "webhook-logger"}
    # The addresses in prometheus.yml/alertmanager.yml are these service names.
    for addr in (SHIPPED_EXPORTER_ADDR, SHIPPED_ALERTMANAGER_ADDR, SHIPPED_WEBHOOK_ADDR):
        assert addr.split(":")[0] in services, addr
    assert SHIPPED_EXPORTER_ADDR in PROMETHEUS_YML.read_text()
    assert SHIPPED_WEBHOOK_ADDR in ALERTMANAGER_YML.read_text()
    # ... on the port the image's default command listens on.
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", (DEPLOY / "Dockerfile").read_text(), re.M).group(1))  # type: ignore[union-attr]
    (listen,) = [a.split("=", 1)[1] for a in cmd if a.startswith("--web.listen-address=")]
    assert listen.rsplit(":", 1)[1] == SHIPPED_EXPORTER_ADDR.split(":")[1], (listen, SHIPPED_EXPORTER_ADDR)
    # The exporter runs the image's default command (demo).
    assert "command" not in services["exporter"]
    assert services["exporter"]["build"]["dockerfile"] == "deploy/Dockerfile"

    def mounts(service: str) -> dict[str, str]:
        out = {}
        for v in services[service].get("volumes", []):
            src, dst = v.split(":")[:2]
            out[dst] = src
        return out

    prom = mounts("prometheus")
    assert prom["/etc/prometheus"] == "./prometheus"
    assert "--config.file=/etc/prometheus/prometheus.yml" in services["prometheus"]["command"]
    am = mounts("alertmanager")
    assert am["/etc/alertmanager"] == "./alertmanager"
    assert "--config.file=/etc/alertmanager/alertmanager.yml" in services["alertmanager"]["command"]

    graf = mounts("grafana")
    provider = yaml_file(GRAFANA / "provisioning" / "dashboards" / "powerwall.yaml")["providers"][0]
    assert graf[provider["options"]["path"]] == "../grafana/dashboards"
    assert graf["/etc/grafana/provisioning/datasources"] == "../grafana/provisioning/datasources"
    assert graf["/etc/grafana/provisioning/dashboards"] == "../grafana/provisioning/dashboards"
    datasource = yaml_file(GRAFANA / "provisioning" / "datasources" / "prometheus.yaml")["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090"
    scrape = yaml_file(PROMETHEUS_YML)["global"]["scrape_interval"]
    assert datasource["jsonData"]["timeInterval"] == scrape
    # Every port is published on localhost only.
    for name, svc in services.items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on all interfaces"


# --------------------------------------------------------------------------------------------------
# systemd


def unit_settings() -> dict[str, list[str]]:
    text = (DEPLOY / "systemd" / "powerwall-exporter.service").read_text(encoding="utf-8")
    text = text.replace("\\\n", " ")
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            key, value = line.split("=", 1)
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_systemd_unit_is_hardened() -> None:
    s = unit_settings()
    expected = {
        "DynamicUser": "yes",
        "ProtectSystem": "strict",
        "NoNewPrivileges": "yes",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "RestrictSUIDSGID": "yes",
        "LockPersonality": "yes",
        "CapabilityBoundingSet": "",
    }
    for key, value in expected.items():
        assert s.get(key) == [value], key
    assert s["RestrictAddressFamilies"] == ["AF_INET AF_INET6 AF_UNIX"]
    assert "powerwall-exporter" in s["StateDirectory"]
    exec_args = s["ExecStart"][0].split()
    assert flags_in(exec_args[1:]) <= cli_flags()
    assert "--config.file=%d/config.yaml" in exec_args


def test_systemd_security_rating() -> None:
    """systemd's own sandbox score (lower is better; 'OK' is below 4)."""
    systemd_analyze = require_binary("systemd-analyze", required_in_ci=False)
    proc = subprocess.run(
        [
            systemd_analyze,
            "security",
            "--offline=true",
            str(DEPLOY / "systemd" / "powerwall-exporter.service"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", proc.stdout)
    if m is None:
        pytest.skip(f"this systemd-analyze cannot rate unit files offline: {proc.stderr.strip()[:200]}")
    assert float(m.group(1)) <= 2.0, proc.stdout[-2000:]


# --------------------------------------------------------------------------------------------------
# The end-to-end test's view of the shipped configs


def strip_substituted(cfg: dict[str, Any]) -> dict[str, Any]:
    """Remove what render_prometheus_config may change, so the rest can be compared with the original."""
    out = copy.deepcopy(cfg)
    for key in ("scrape_interval", "evaluation_interval", "scrape_timeout"):
        out.get("global", {}).pop(key, None)
    out.pop("rule_files", None)
    for am in out.get("alerting", {}).get("alertmanagers", []):
        for sc in am.get("static_configs", []):
            sc.pop("targets")
    for job in out.get("scrape_configs", []):
        for key in ("scrape_interval", "scrape_timeout"):
            job.pop(key, None)
        for sc in job.get("static_configs", []):
            sc.pop("targets")
    return out


def test_e2e_prometheus_config_differs_only_in_addresses_and_intervals(tmp_path: Path) -> None:
    shipped = yaml_file(PROMETHEUS_YML)
    rendered_text = render_prometheus_config(
        exporter="127.0.0.1:1001", alertmanager="127.0.0.1:1002", prometheus="127.0.0.1:1003"
    )
    rendered = yaml.safe_load(rendered_text)
    assert strip_substituted(rendered) == strip_substituted(shipped)
    assert rendered["global"]["scrape_interval"] == "1s"
    jobs = {j["job_name"]: j["static_configs"][0]["targets"] for j in rendered["scrape_configs"]}
    assert jobs["powerwall"] == ["127.0.0.1:1001"]
    assert jobs["prometheus"] == ["127.0.0.1:1003"]
    assert [Path(p).resolve() for p in rendered["rule_files"]] == [
        (PROMETHEUS_YML.parent / p).resolve() for p in shipped["rule_files"]
    ]
    assert SHIPPED_PROMETHEUS_ADDR not in rendered_text and SHIPPED_EXPORTER_ADDR not in rendered_text

    promtool = require_binary("promtool")
    path = tmp_path / "prometheus.yml"
    path.write_text(rendered_text)
    proc = subprocess.run([promtool, "check", "config", str(path)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_e2e_alertmanager_config_differs_only_in_the_webhook_address(tmp_path: Path) -> None:
    rendered = render_alertmanager_config(webhook="127.0.0.1:1004")
    assert rendered == ALERTMANAGER_YML.read_text().replace(SHIPPED_WEBHOOK_ADDR, "127.0.0.1:1004")
    amtool = require_binary("amtool")
    path = tmp_path / "alertmanager.yml"
    path.write_text(rendered)
    proc = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --------------------------------------------------------------------------------------------------
# The fleet test's view of deploy/scaling/


def promtool_check_config(path: Path) -> None:
    promtool = require_binary("promtool")
    proc = subprocess.run([promtool, "check", "config", str(path)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("twin", [None, "twin"])
def test_fleet_shard_config_differs_only_in_the_documented_substitutions(tmp_path: Path, twin: str | None) -> None:
    shipped = yaml_file(SHARDED_YML)
    text = render_shard_config(
        1,
        replicas=2,
        replica_port_base=40120,
        remote_write_url="http://127.0.0.1:1005/api/v1/write",
        scrape_interval="2s",
        scrape_timeout="2s",
        ha_twin=twin,
    )
    rendered = yaml.safe_load(text)
    expected = strip_shard_substitutions(shipped)
    if twin is not None:
        assert rendered["global"]["external_labels"].pop(HA_REPLICA_LABEL) == twin
        assert "remote_write" not in rendered
        del expected["remote_write"]
    assert strip_shard_substitutions(rendered) == expected
    assert rendered["global"]["external_labels"][SHARD_LABEL] == "1"
    relabel = rendered["scrape_configs"][0]["relabel_configs"]
    assert [r["regex"] for r in relabel if r.get("action") == "keep"] == ["1"]
    assert [r["replacement"] for r in relabel if "replacement" in r] == ["127.0.0.1:4012${1}"]
    assert SHIPPED_REPLICA_REPLACEMENT not in text and SHIPPED_REMOTE_WRITE_URL not in text
    # promtool resolves file_sd paths next to the config, as the test writes it next to targets.yml.
    (tmp_path / "targets.yml").write_text(yaml.safe_dump([{"targets": ["site-a"]}]))
    (tmp_path / "prometheus.yml").write_text(text)
    promtool_check_config(tmp_path / "prometheus.yml")


def test_fleet_central_config_differs_only_in_the_documented_substitutions(tmp_path: Path) -> None:
    shipped = yaml_file(CENTRAL_YML)
    rendered = yaml.safe_load(
        render_central_config(alertmanager="127.0.0.1:1006", interval="1s", rules_dir=tmp_path / "rules", for_cap="4s")
    )
    assert rendered["global"].pop("evaluation_interval") == "1s"
    assert rendered["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:1006"]
    assert rendered["rule_files"] == [str(tmp_path / "rules" / "*.yml")]
    for cfg in (rendered, shipped):
        cfg["global"].pop("evaluation_interval", None)
        cfg.pop("rule_files")
        cfg["alerting"]["alertmanagers"][0]["static_configs"][0].pop("targets")
    assert rendered == shipped
    # The rule copies: every rules file, each alert's for: at most the cap, nothing else changed.
    shipped_rules = sorted((DEPLOY / "prometheus" / "rules").glob("*.yml"))
    assert sorted(p.name for p in (tmp_path / "rules").glob("*.yml")) == [p.name for p in shipped_rules]
    for path in shipped_rules:
        original, copied = yaml_file(path), yaml_file(tmp_path / "rules" / path.name)
        for group, group_copy in zip(original["groups"], copied["groups"], strict=True):
            assert group_copy.pop("interval", "1s") == "1s"
            group.pop("interval", None)
            for rule, rule_copy in zip(group["rules"], group_copy["rules"], strict=True):
                if "for" in rule:
                    assert rule_copy.pop("for") == "4s"
                    rule.pop("for")
            assert group == group_copy
    promtool_check_config(CENTRAL_YML)


# --------------------------------------------------------------------------------------------------
# The compose stack's example receiver


def test_webhook_logger_logs_each_alert(caplog: pytest.LogCaptureFixture) -> None:
    mod = load_module(DEPLOY / "webhook_logger.py")
    server = ThreadingHTTPServer(("127.0.0.1", 0), mod.Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        body = {
            "receiver": "home-owner",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": "PowerwallGridOutage", "severity": "critical", "gateway": "home"},
                    "annotations": {"summary": "Grid outage"},
                }
            ],
        }
        host, port = server.server_address[:2]
        req = urllib.request.Request(f"http://{host!s}:{port}/alerts", data=json.dumps(body).encode(), method="POST")
        with caplog.at_level("INFO", logger="webhook-logger"), urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 200
    finally:
        server.shutdown()
        server.server_close()
    assert any(
        "[FIRING] critical PowerwallGridOutage gateway=home: Grid outage" in r.getMessage() for r in caplog.records
    )
