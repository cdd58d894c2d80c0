"""``/api/solar_powerwall``: the Powerwall+ PV data of firmware without vitals, as device records."""
