"""Per-device detail from the gateway's ``GET /api/devices/vitals`` (protobuf, firmware < 23.44).

Vitals are the only local source of per-Powerwall inverter, pod and thermal data, per-string PV data
and the raw CT readings; the JSON endpoints only carry site aggregates. The package is split so the
hostile-input boundary and the naming policy each live in one place:

* :mod:`exporter.vitals.decode` -- bytes → frozen :class:`~exporter.vitals.decode.Device` records;
  every malformed body becomes :class:`~exporter.vitals.decode.VitalsDecodeError`, nothing else.
* :mod:`exporter.vitals.rules` -- the mapping table (vital → metric, unit scale, labels) and the
  generic ``powerwall_vital_*`` rule for every vital the table does not name.
* :mod:`exporter.vitals.flatten` -- applies the table to decoded devices
  (:func:`~exporter.vitals.flatten.flatten_vitals`) and to ``/api/solar_powerwall`` JSON
  (:func:`~exporter.vitals.flatten.flatten_solar_powerwall`, the Powerwall+ fallback once vitals
  are gone), adding samples to a :class:`~exporter.metricset.MetricSet`.
* ``vitals.proto`` / ``vitals_pb2.py`` -- the wire schema (regenerate with
  ``python -m exporter.vitals.regen``).

Usage by the collector::

    ms = MetricSet(base_labels={"gateway": "home"})
    flatten_vitals(decode_vitals(payload), ms)
"""
