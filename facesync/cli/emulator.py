"""`facesync emulator` (filled in by the emulator work)."""
