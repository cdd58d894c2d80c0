"""TEDAPI answers (already-decoded JSON) → :class:`~exporter.devices.model.Device` records: the entry points.

Why a module of its own: the TEDAPI source asks for the devices of two answers, and it should not
need to know how the mapping is cut into modules. These are the functions it calls:

* :func:`controller_devices` — the DeviceControllerQuery (:mod:`.controller`, with the
  ``components.msa`` attachment);
* :func:`blocks` — the battery blocks of ``config.json`` (:mod:`.blocks`), and for each Powerwall 3
  among them :func:`components_devices` — its ComponentsQuery / PW3Query (:mod:`.components`).

Every record is built under the rules of :mod:`.records`.
"""

from __future__ import annotations

from exporter.sources.tedapi.blocks import Block, blocks
from exporter.sources.tedapi.components import components_devices
from exporter.sources.tedapi.controller import controller_devices

__all__ = ["Block", "blocks", "components_devices", "controller_devices"]
