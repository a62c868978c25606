"""The sandbox as one ASGI application: four vendors under their prefixes, plus ``/_sandbox`` controls."""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from .accounts import VendorAccounts
from .config import SIMULATED_VENDORS, FaultConfig, SandboxConfig
from .core import SimulatedVendor
from .highlevel import HighLevel
from .kombo import Kombo
from .stackone import StackOne
from .thoughtindustries import THOUGHT_INDUSTRIES_INSTANCES, ThoughtIndustries

VENDOR_CLASSES: tuple[type[SimulatedVendor], ...] = (HighLevel, Kombo, StackOne, ThoughtIndustries)
assert tuple(cls.name for cls in VENDOR_CLASSES) == SIMULATED_VENDORS


def create_app(config: SandboxConfig | None = None) -> Starlette:
    config = config or SandboxConfig()
    vendors = {cls.name: VendorAccounts(cls, config) for cls in VENDOR_CLASSES}
    controls = _Controls(vendors)
    app = Starlette(routes=[
        Route("/_sandbox/state", controls.state, methods=["GET"]),
        Route("/_sandbox/reset", controls.reset, methods=["POST"]),
        Route("/_sandbox/faults", controls.get_faults, methods=["GET"]),
        Route("/_sandbox/faults", controls.set_faults, methods=["POST"]),
        *(Mount(vendor.prefix, app=vendor) for vendor in vendors.values()),
        # A Thought Industries instance is a site of its own; here a path stands for its host (see config.py).
        Mount(THOUGHT_INDUSTRIES_INSTANCES + "/{instance}", app=vendors[ThoughtIndustries.name]),
    ])
    app.state.vendors = vendors
    return app


class _Controls:
    def __init__(self, vendors: dict[str, VendorAccounts]) -> None:
        self.vendors = vendors

    async def state(self, request: Request) -> JSONResponse:
        return JSONResponse({"vendors": {name: vendor.snapshot() for name, vendor in self.vendors.items()}})

    async def reset(self, request: Request) -> JSONResponse:
        """Empties every vendor: courses, counters, limits, tokens, tasks, accounts opened since the start;
        faults back to the start config."""
        for vendor in self.vendors.values():
            vendor.reset()
        return JSONResponse({"reset": True})

    async def get_faults(self, request: Request) -> JSONResponse:
        return JSONResponse(self._faults())

    async def set_faults(self, request: Request) -> JSONResponse:
        """Body ``{"<vendor>": {fault settings}}``: each named vendor's faults are replaced (unnamed
        settings take their defaults) and its generator is re-seeded."""
        try:
            body: Any = json.loads(await request.body())
            if not isinstance(body, dict):
                raise ValueError('expected {"<vendor>": {fault settings}}')
            unknown = sorted(set(body) - set(self.vendors))
            if unknown:
                raise ValueError(f"unknown vendors: {', '.join(unknown)}; known: {', '.join(self.vendors)}")
            new = {name: FaultConfig.from_dict(settings) for name, settings in body.items()}
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        for name, faults in new.items():
            self.vendors[name].faults.configure(faults)
        return JSONResponse(self._faults())

    def _faults(self) -> dict[str, Any]:
        return {name: vendor.faults.config.to_dict() for name, vendor in self.vendors.items()}
