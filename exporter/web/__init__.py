"""The exporter's HTTP side: server, web config (TLS, basic auth), exposition encoders."""
