"""The source-neutral gateway transport: allow-list, HTTP, auth, back-off, cache, sessions, TLS."""
