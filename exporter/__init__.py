"""Prometheus exporter for the Tesla Energy Gateway (Powerwall) local HTTPS API."""

__version__ = "0.1.0"
