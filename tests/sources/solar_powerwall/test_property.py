"""Property test: no ``/api/solar_powerwall`` body, however odd, makes decoding or flattening raise.

The body comes from a device on the LAN; the decoder must skip what it cannot use, never raise.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.devices.flatten import flatten_devices
from exporter.metrics.metricset import MetricSet
from exporter.sources.solar_powerwall.decode import decode_solar_powerwall
from tests.render import render

SOLAR_POWERWALL = "/api/solar_powerwall"  # the endpoint label of the generic-name budget

SETTINGS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=30,
)


@SETTINGS
@given(
    st.one_of(
        _json,
        st.fixed_dictionaries(
            {},
            optional={
                "pvac_status": st.one_of(
                    _json,
                    st.fixed_dictionaries(
                        {},
                        optional={
                            "string_vitals": st.lists(
                                st.dictionaries(
                                    st.sampled_from(
                                        ["string_id", "connected", "measured_voltage", "current", "measured_power"]
                                    ),
                                    _json,
                                ),
                                max_size=5,
                            )
                        },
                    ),
                ),
                "pvs_status": _json,
                "pvac_alerts": st.dictionaries(st.text(max_size=10), _json, max_size=5),
                "pvs_alerts": _json,
            },
        ),
    )
)
def test_solar_powerwall_never_raises(data: Any) -> None:
    ms = MetricSet(base_labels={"gateway": "home"})
    flatten_devices(decode_solar_powerwall(data), ms, SOLAR_POWERWALL, anonymous=True)
    render(ms)
