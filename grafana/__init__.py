"""Grafana dashboards, their provisioning files, and the package that generates the dashboards.

Why a package marker in an asset directory: it makes the builder importable as ``grafana.builder``
under one name everywhere (the entry point ``build_dashboards.py``, the tests, mypy). Nothing is
imported from here at run time, and the wheel does not carry it (setuptools packages ``exporter*``
only; the dashboards reach the wheel through exporter/assets/manifest.py).
"""
