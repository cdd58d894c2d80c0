"""One device model for per-device data from every source, and the one rule table that maps it."""
