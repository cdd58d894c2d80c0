"""Generates the Grafana dashboards in grafana/dashboards/*.json and their panel list, grafana/README.md.

Why a generator instead of hand-edited JSON: seven dashboards share the same template variables,
datasource references, selectors and panel defaults; writing them through one set of helpers keeps
every query filtered by ``job``/``gateway`` the same way and every panel carrying a unit, which a
hand-edited 3,000-line JSON file would not stay. The JSON output is committed (Grafana provisions
and imports it directly) and ``tests/test_dashboards.py`` fails when it is not what this package
produces, so edit here and run ``python grafana/build_dashboards.py``.

Layout: :mod:`~grafana.builder.kit` (panels, rows, layout, the dashboard shell),
:mod:`~grafana.builder.variables` (template variables), :mod:`~grafana.builder.queries` (PromQL
helpers), one module per dashboard named like its file (``energy_cost`` builds
``powerwall-energy-cost.json``), and :mod:`~grafana.builder.render`, which lists them and renders the
text of every file.

Conventions (see ../shared/docs/prometheus-notes.md and issue 4):
- a ``datasource`` template variable, never ``__inputs``/``${DS_PROMETHEUS}`` (those break file
  provisioning);
- ``job`` and ``gateway`` are multi-value variables matched with ``=~``; ``serial`` where it applies;
- energy comes from the joule counters: ``increase(...)/3.6e6`` gives kWh;
- ``$__rate_interval`` for rates, ``$__range`` for "in the selected time range" totals.
"""
