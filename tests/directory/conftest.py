"""Fixtures for the PersonDirectory and DynamicPersonGroup tests."""

from tests.config.conftest import write_config

__all__ = ["write_config"]
