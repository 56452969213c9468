"""Configuration: YAML with positions, the pydantic format, image checks and validation rules.

The public entry point is `facesync.desired.load_desired_state`; this package holds its parts.
"""

from facesync.config.errors import ConfigError, Diagnostic, Severity

__all__ = ["ConfigError", "Diagnostic", "Severity"]
