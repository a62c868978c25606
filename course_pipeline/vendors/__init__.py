"""One module per vendor: its payload builder and its client. No Dagster here.

Adding a vendor: a module with a Vendor subclass (payloads) and a VendorClient subclass (load), one
line in REGISTRY, and its tests."""

from __future__ import annotations

from .base import Vendor
from .highlevel import HighLevel, HighLevelClient
from .kombo import Kombo, KomboClient
from .stackone import StackOne, StackOneClient
from .sync import VendorClient
from .thoughtindustries import ThoughtIndustries, ThoughtIndustriesClient

REGISTRY: dict[str, tuple[type[Vendor], type[VendorClient]]] = {
    HighLevel.name: (HighLevel, HighLevelClient),
    Kombo.name: (Kombo, KomboClient),
    StackOne.name: (StackOne, StackOneClient),
    ThoughtIndustries.name: (ThoughtIndustries, ThoughtIndustriesClient),
}
VENDORS: dict[str, type[Vendor]] = {name: builder for name, (builder, _) in REGISTRY.items()}
CLIENTS: dict[str, type[VendorClient]] = {name: client for name, (_, client) in REGISTRY.items()}
