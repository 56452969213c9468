"""Recognition for the emulator: detect, identify, verify, find similar and group.

This package holds the engines and what recognition remembers; the HTTP handlers of these
calls are in `facesync.emulator.handlers.recognition`.
"""

from facesync.emulator.recognition.engines import MODES, EngineUnavailable, load_engine
from facesync.emulator.recognition.service import Recognition

__all__ = ["MODES", "EngineUnavailable", "Recognition", "load_engine"]
