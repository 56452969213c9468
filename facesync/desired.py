"""Deprecated: use `facesync.config.load` and `facesync.config.validate`.

Kept so that callers can move over; it only re-exports.
"""

from __future__ import annotations

from facesync.config import DEFAULT_CONFIG, ConfigError, ValidationResult
from facesync.config import load as load_desired_state
from facesync.config import validate as validate_config

__all__ = ["DEFAULT_CONFIG", "ConfigError", "ValidationResult", "load_desired_state", "validate_config"]
