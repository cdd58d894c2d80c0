"""Template variables: the drop-downs at the top of each dashboard that every query filters by.

Why shared: ``job`` and ``gateway`` (and ``serial``, ``currency``, ``pod`` where they apply) must be
defined identically on every dashboard, so links between dashboards carry the selection over
(``includeVars``) and every query can match them with ``=~``.
"""

from __future__ import annotations

from grafana.builder.kit import DS, JSON


def query_var(name: str, label: str, query: str, *, all_value: str = ".*") -> JSON:
    """A multi-value Prometheus label variable, matched with =~ in every query."""
    return {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DS,
        "definition": query,
        "query": {"qryType": 1, "query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        # Start on "All" so a fresh import shows every gateway instead of the first one found.
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "hide": 0,
        "includeAll": True,
        "allValue": all_value,
        "multi": True,
        "options": [],
        "refresh": 2,
        "regex": "",
        "sort": 1,
    }


def textbox_var(name: str, label: str, default: str, description: str) -> JSON:
    """A value the user types in (the Energy dashboard's prices), for what no metric knows."""
    return {
        "type": "textbox",
        "name": name,
        "label": label,
        "description": description,
        "query": default,
        "current": {"selected": False, "text": default, "value": default},
        "options": [{"selected": True, "text": default, "value": default}],
        "hide": 0,
    }


JOB_VAR = query_var("job", "Job", "label_values(powerwall_up, job)")
GATEWAY_VAR = query_var("gateway", "Gateway", 'label_values(powerwall_up{job=~"$job"}, gateway)')
# Powerwall serials of both generations: a Powerwall 2's thermal controller (TETHC) carries its package
# serial, a Powerwall 3 (TEDAPI, device PW3) its own; battery blocks use the same serials.
SERIAL_VAR = query_var(
    "serial",
    "Powerwall serial",
    'label_values(powerwall_device_info{job=~"$job", gateway=~"$gateway", device=~"TETHC|PW3"}, serial)',
)

CURRENCY_VAR = query_var(
    "currency",
    "Currency",
    'label_values(powerwall_grid_import_cost_total{job=~"$job", gateway=~"$gateway"}, currency)',
)
POD_VAR = query_var(
    "pod",
    "Battery pod serial",
    'label_values(powerwall_pod_full_pack_energy_joules{job=~"$job", gateway=~"$gateway"}, serial)',
)
