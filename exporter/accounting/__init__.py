"""Derived series: energy flows, tariff cost, outage history, battery health inputs."""
