"""Per vendor: a pure payload builder (vendors/<vendor>/payload.py) and its client
(vendors/<vendor>/client.py); what they share is in base.py (payloads), client.py (clients) and
transport.py (HTTP). No Dagster and no sandbox here.

Adding a vendor: a package with a PayloadBuilder and a VendorClient subclass, one line in REGISTRY,
its sandbox twin, and its tests."""

from __future__ import annotations

from .base import PayloadBuilder
from .client import VendorClient
from .highlevel.client import HighLevelClient
from .highlevel.payload import HighLevel
from .kombo.client import KomboClient
from .kombo.payload import Kombo
from .stackone.client import StackOneClient
from .stackone.payload import StackOne
from .thought_industries.client import ThoughtIndustriesClient
from .thought_industries.payload import ThoughtIndustries

REGISTRY: dict[str, tuple[type[PayloadBuilder], type[VendorClient]]] = {
    HighLevel.name: (HighLevel, HighLevelClient),
    Kombo.name: (Kombo, KomboClient),
    StackOne.name: (StackOne, StackOneClient),
    ThoughtIndustries.name: (ThoughtIndustries, ThoughtIndustriesClient),
}
VENDOR_NAMES: tuple[str, ...] = tuple(REGISTRY)
BUILDERS: dict[str, type[PayloadBuilder]] = {name: builder for name, (builder, _) in REGISTRY.items()}
CLIENTS: dict[str, type[VendorClient]] = {name: client for name, (_, client) in REGISTRY.items()}
