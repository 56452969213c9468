"""The sync fixtures (an emulator over real HTTP, a config workspace), shared with tests/sync."""

from tests.sync.conftest import service, workspace

__all__ = ["service", "workspace"]
