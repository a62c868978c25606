"""Vendor settings from the environment, defaulting to the local sandbox so a fresh checkout runs."""

from __future__ import annotations

import os

from ..sandbox.config import SANDBOX_TOKENS
from . import VENDORS
from .base import Vendor


def highlevel_location_id() -> str:
    return os.environ.get("HIGHLEVEL_LOCATION_ID", SANDBOX_TOKENS["highlevel_location_id"])


def vendor_from_env(name: str) -> Vendor:
    if name == "highlevel":
        return VENDORS[name](location_id=highlevel_location_id())
    return VENDORS[name]()
