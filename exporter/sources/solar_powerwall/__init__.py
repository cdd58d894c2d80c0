"""``GET /api/solar_powerwall``: Powerwall+ strings and inverter state once vitals are gone."""
