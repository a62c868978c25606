"""One module per vendor: its payload builder (and, with the load stage, its client). No Dagster here.

Adding a vendor: a module with a Vendor subclass, one line in VENDORS, and its tests."""

from __future__ import annotations

from .base import Vendor
from .highlevel import HighLevel
from .kombo import Kombo
from .stackone import StackOne
from .thoughtindustries import ThoughtIndustries

VENDORS: dict[str, type[Vendor]] = {
    HighLevel.name: HighLevel,
    Kombo.name: Kombo,
    StackOne.name: StackOne,
    ThoughtIndustries.name: ThoughtIndustries,
}
