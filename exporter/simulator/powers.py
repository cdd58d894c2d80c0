"""The powers of one integration step: the sun through the clouds, the household's load, the grid
(up, or islanded by an outage), and what the battery does about them.

Why a module of its own: this is the site's behaviour, the part a dashboard or an alert rule is
tested against (sun up and down, evening peaks, a battery that fills and empties, the odd outage),
and it is tuned for other reasons than the bookkeeping that integrates it
(:mod:`exporter.simulator.energy`) or the clock that steps it (:mod:`exporter.simulator.model`).

Reproducibility: powers are held constant over a step of ``STEP_SECONDS`` simulated seconds, and
every step draws from the one random sequence in exactly the same way, so the state at simulated time
``t`` does not depend on how often or when the model was asked.

Signs follow the gateway: site + import, battery + discharge, solar + production, load >= 0.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from exporter.simulator.profile import SiteProfile

STEP_SECONDS = 10.0
CLOUDY_FACTOR = 0.35  # the cloudiness floor of the variable sky, held all day


@dataclass
class Powers:
    """Powers held constant over one integration step."""

    solar: float = 0.0
    load: float = 0.0
    battery: float = 0.0
    site: float = 0.0
    islanded: bool = False
    voltage_l1: float = 120.5
    voltage_l2: float = 120.5
    frequency: float = 60.0
    site_q: float = 0.0
    load_q: float = 0.0
    battery_q: float = 0.0
    solar_q: float = 0.0
    string_split: tuple[float, ...] = ()


@dataclass
class Surroundings:
    """What the site does not control, as slow random processes carried from step to step: the cloud
    cover, the household's load noise and appliance spikes, and random grid outages. ``rng`` is the
    site's one random sequence."""

    rng: random.Random
    cloud: float = 1.0
    load_noise: float = 0.0
    spike_left: float = 0.0  # simulated seconds of appliance spike remaining
    outage_left: float = 0.0  # simulated seconds of random outage remaining


def step_powers(
    site: SiteProfile,
    env: Surroundings,
    t: float,
    *,
    forced_outage: bool,
    strings_connected: tuple[bool, ...],
    stored_wh: float,
    full_wh: float,
    max_power_w: float,
) -> Powers:
    """Powers for the step starting at ``t``, with ``stored_wh`` of ``full_wh`` in the batteries.
    Draws from ``env.rng`` exactly the same way every step."""
    rng = env.rng
    hour = site.local_hour(t)
    # Weather: a slow random walk of cloudiness, plus per-step flicker.
    env.cloud = min(1.0, max(CLOUDY_FACTOR, env.cloud + rng.gauss(0.0, 0.02)))
    flicker = 1.0 + rng.gauss(0.0, 0.01)
    cloud = {"variable": env.cloud, "sunny": 1.0, "cloudy": CLOUDY_FACTOR}[site.sky]
    sun = math.sin(math.pi * (hour - 6.5) / 13.0) if 6.5 < hour < 19.5 else 0.0
    solar = 0.0
    if site.solar_peak_w > 0 and sun > 0:
        solar = site.solar_peak_w * 0.85 * (sun**1.4) * cloud * flicker
        solar = max(0.0, solar)
    # Load: base + morning and evening peaks + AR(1) noise + occasional appliance spikes.
    morning = 900.0 * math.exp(-(((hour - 7.5) / 1.0) ** 2))
    evening = 1600.0 * math.exp(-(((hour - 19.0) / 2.0) ** 2))
    env.load_noise = 0.9 * env.load_noise + rng.gauss(0.0, 40.0)
    if env.spike_left > 0:
        env.spike_left -= STEP_SECONDS
    elif rng.random() < 0.004:
        env.spike_left = rng.uniform(60.0, 900.0)  # kettle, oven, EV top-up
    spike = 2500.0 if env.spike_left > 0 else 0.0
    load = max(80.0, 350.0 + morning + evening + env.load_noise + spike)
    # Random outages (~ one per three simulated days, 5 to 60 minutes).
    outage_draw = rng.random()
    outage_len = rng.uniform(300.0, 3600.0)
    if env.outage_left > 0:
        env.outage_left -= STEP_SECONDS
    elif site.random_outages and outage_draw < STEP_SECONDS / (3 * 86400.0):
        env.outage_left = outage_len
    scheduled = any(start <= t < end for start, end in site.outage_windows)
    islanded = forced_outage or env.outage_left > 0 or scheduled
    v1 = site.nominal_voltage / 2 + rng.gauss(0.0, 0.6)
    v2 = site.nominal_voltage / 2 + rng.gauss(0.0, 0.6)
    freq = site.nominal_frequency + rng.gauss(0.0, 0.01)
    q_noise = [rng.gauss(0.0, 30.0) for _ in range(4)]
    split = tuple(max(0.0, rng.gauss(1.0, 0.03)) if on else 0.0 for on in strings_connected)

    reserve_wh = full_wh * site.backup_reserve_percent / 100.0
    h = STEP_SECONDS / 3600.0
    surplus = solar - load
    # The battery never tracks the load perfectly: a little grid exchange remains, as on real sites.
    tracking_error = rng.gauss(0.0, 15.0)
    if islanded:
        # No grid: the battery must balance the site; it may go below the reserve to empty.
        if surplus >= 0:
            room_w = max(0.0, (full_wh - stored_wh) / 0.95 / h)
            charge = min(surplus, max_power_w, room_w)
            solar -= surplus - charge  # curtail what cannot be stored
            battery = -charge
        else:
            avail_w = max(0.0, stored_wh / h)
            discharge = min(-surplus, max_power_w, avail_w)
            load = solar + discharge  # shed what cannot be supplied
            battery = discharge
        site_w = 0.0
    else:
        if surplus >= 0:
            room_w = max(0.0, (full_wh - stored_wh) / 0.95 / h)
            battery = -min(max(0.0, surplus + tracking_error), max_power_w, room_w)
        else:
            avail_w = max(0.0, (stored_wh - reserve_wh) / h)
            battery = min(max(0.0, -surplus + tracking_error), max_power_w, avail_w)
        site_w = load - solar - battery
    return Powers(
        solar=solar,
        load=load,
        battery=battery,
        site=site_w,
        islanded=islanded,
        voltage_l1=v1,
        voltage_l2=v2,
        frequency=freq,
        site_q=q_noise[0] - 150.0,
        load_q=q_noise[1] - 80.0,
        battery_q=q_noise[2],
        solar_q=q_noise[3] + 20.0,
        string_split=split,
    )
