"""Recognition for the emulator: detect, identify, verify, find similar and group.

The HTTP handlers live in `handlers` (imported by the app's router on demand); this package's
top level never imports the app, so the app can hold a `Recognition` without a cycle.
"""

from facesync.emulator.recognition.engines import MODES, EngineUnavailable, load_engine
from facesync.emulator.recognition.service import Recognition

__all__ = ["MODES", "EngineUnavailable", "Recognition", "load_engine"]
