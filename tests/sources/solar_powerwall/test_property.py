"""Property test: no ``/api/solar_powerwall`` body, however odd, makes decoding or flattening raise,
and what remains is the PVAC's and the PVS's series, nothing else.

The body comes from a device on the LAN; the decoder must skip what it cannot use, never raise.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.devices.bounds import DeviceBudget
from exporter.devices.flatten import flatten_devices
from exporter.metrics.metricset import MetricSet
from exporter.sources.solar_powerwall.decode import decode_solar_powerwall
from tests.render import render
from tests.support.series import assert_only_kept_devices

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
def test_solar_powerwall_never_raises_and_keeps_only_its_two_devices(data: Any) -> None:
    devices = decode_solar_powerwall(data)
    # The body names no device: at most the PVAC and the PVS, each only when it has something to say.
    assert [d.family for d in devices] in (["PVAC", "PVS"], ["PVAC"], ["PVS"], [])
    assert all((d.signals or d.alerts) and not (d.din or d.serial or d.part_number) for d in devices)
    if not isinstance(data, dict):
        assert devices == []
    ms = MetricSet(base_labels={"gateway": "home"})
    budget = DeviceBudget()
    flatten_devices(devices, ms, SOLAR_POWERWALL, anonymous=True, bound=budget)
    assert_only_kept_devices(devices, ms, budget)
    assert "powerwall_device_info" not in ms.names()  # no DIN, nothing for an info series to describe
    render(ms)
