"""A local emulator of the Azure Face API: collections, the PersonDirectory and recognition
(docs/emulator.md).

from facesync.emulator import EmulatorSettings, create_app
app = create_app(EmulatorSettings(data=":memory:"))

The names are loaded when first used: the recognition workers import modules of this package and
must not pay for the web app (starlette, httpx) they never serve.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from facesync.emulator.app import Emulator, create_app
    from facesync.emulator.settings import EmulatorSettings

__all__ = ["Emulator", "EmulatorSettings", "create_app"]


def __getattr__(name: str) -> Any:
    if name in ("Emulator", "create_app"):
        from facesync.emulator import app

        return getattr(app, name)
    if name == "EmulatorSettings":
        from facesync.emulator.settings import EmulatorSettings

        return EmulatorSettings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
