"""Where facesync keeps what it remembers beside a configuration: one folder for every cache.

`.facesync/` in the configuration's folder (git-ignored) holds the image cache
(`cache/images.json`), the face cache (`cache/faces.json`), the training journal
(`pending-training.json`) and the directory operations an apply left running
(`pending-operations.json`). Nothing in it is needed for correctness.
"""

from __future__ import annotations

from pathlib import Path

STATE_DIR_NAME = ".facesync"


def config_root(config: Path) -> Path:
    """The folder of a configuration file, or the configuration folder itself: image paths and
    `local:` endpoints in the configuration are relative to it, and images must stay inside it."""
    return config if config.is_dir() else config.parent


def state_dir(config: Path) -> Path:
    return config_root(config) / STATE_DIR_NAME
