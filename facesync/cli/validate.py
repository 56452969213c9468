"""`facesync validate` and `facesync schema` (filled in by the configuration work)."""
