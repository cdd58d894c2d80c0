"""A scrape, from Prometheus' request to the metric set: the gateway set, each gateway's scraper, the
requests of one scrape, the worker pools that run them, and the exporter's own series about it all."""
