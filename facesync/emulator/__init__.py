"""A local emulator of the Azure Face API: collections, the PersonDirectory and recognition
(docs/emulator.md).

from facesync.emulator import EmulatorSettings, create_app
app = create_app(EmulatorSettings(data=":memory:"))
"""

from facesync.emulator.app import Emulator, create_app
from facesync.emulator.settings import EmulatorSettings

__all__ = ["Emulator", "EmulatorSettings", "create_app"]
