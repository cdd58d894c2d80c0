"""The site-level answers every source speaks in: their shapes, the tables that map them, and the
one merge that picks, per shape, the answer of the source that ranks first.

Why its own layer below the sources: the JSON API serves these shapes as they are, TEDAPI rebuilds
them on a Powerwall 3 where the JSON API lacks them, and the accounting reads them; none of them
owns the shapes, so none imports another to use them.
"""
