"""Recognition for the emulator: detect, identify, verify, find similar and group.

The HTTP handlers live in `handlers`, which the app imports to register their routes; this
package's top level holds the engine and its state, which the handlers are given.
"""

from facesync.emulator.recognition.engines import MODES, EngineUnavailable, load_engine
from facesync.emulator.recognition.service import Recognition

__all__ = ["MODES", "EngineUnavailable", "Recognition", "load_engine"]
