"""Data sources: each declares its requests, decodes its answers and maps them to metrics."""
