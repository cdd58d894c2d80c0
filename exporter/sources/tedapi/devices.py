"""TEDAPI answers (already-decoded JSON) → :class:`~exporter.devices.model.Device` records: the entry points.

Why a module of its own: the TEDAPI source asks for the devices of two answers, and it should not
need to know how the mapping is cut into modules. These are the functions it calls.
"""

from __future__ import annotations

from exporter.sources.tedapi.controller import Block, blocks, components_devices, controller_devices

__all__ = ["Block", "blocks", "components_devices", "controller_devices"]
