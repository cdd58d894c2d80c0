"""TEDAPI on the simulated gateway: our reading of shared/docs/tedapi.md, apart from the exporter's.

Why a package of its own: everything here judges or answers what the exporter sends over TEDAPI, so
it must share no code with ``exporter.sources.tedapi`` (a bug there would otherwise be mirrored here
and pass every test). ``tests/simulator/test_simulator_independent.py`` enforces that on the imports.

* :mod:`.wire`: a protobuf wire walker and writer by field number (no schema library);
* :mod:`.answers`: the WiFi answers (config.json, getSystemInfo, queries) built from the site model,
  with :mod:`.controller`, :mod:`.components` and the answer shapes of :mod:`.signals`;
* :mod:`.queries`: our own query texts, signed with a throwaway key, for tests and the demo;
* :mod:`.v1r`, :mod:`.v1r_keys`, :mod:`.v1r_serve`: signed TEDAPI on the home LAN (§6).
"""
