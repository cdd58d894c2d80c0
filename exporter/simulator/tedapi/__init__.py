"""TEDAPI on the simulated gateway: our reading of shared/docs/tedapi.md, apart from the exporter's.

Why a package of its own: everything here judges or answers what the exporter sends over TEDAPI, so
it must share no code with the exporter's TEDAPI source (a bug there would otherwise be mirrored
here and pass every test). ``tests/simulator/test_simulator_independent.py`` enforces that on the
imports.

Reading requests (nothing but the docs, the wire format and ``cryptography``):

* :mod:`.wire`: a protobuf wire walker and writer by field number (no schema library);
* :mod:`.schema`: the request messages of §2 as data (field numbers, wire types);
* :mod:`.classify`: what a WiFi body is (``config``, ``firmware``, ``query:<Operation>`` or
  ``dangerous:<why>``), with :mod:`.graphql` (the operation of a query text) and :mod:`.signature`
  (the signed bytes and the P-521 check);
* :mod:`.v1r`, :mod:`.v1r_keys`: the v1r judge (§6) and its key ring.

Answering (the generated protobuf classes may *write* answers here):

* :mod:`.answers`: config.json, getSystemInfo and the queries, built from the site model with
  :mod:`.controller`, :mod:`.components` and the shapes of :mod:`.signals`;
* :mod:`.wifi_serve`: the WiFi requests (``/tedapi/v1``, a follower's ``/tedapi/device/<DIN>/v1``,
  ``/tedapi/din``, the portal) around :mod:`.classify`;
* :mod:`.v1r_serve`: ``POST /tedapi/v1r`` around the judge;
* :mod:`.queries`: our own query texts, signed with a throwaway key, for tests and the demo.
"""
