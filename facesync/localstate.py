"""Where facesync keeps what it remembers beside a configuration: one folder for every cache.

`.facesync/` in the configuration's folder (git-ignored) holds the image cache
(`cache/images.json`), the face cache (`cache/faces.json`) and the training journal
(`pending-training.json`). Nothing in it is needed for correctness. Its files are read with
`read_state_file`: a pull request can commit a `.facesync/` too, and a symlink to `/dev/zero` or a
FIFO there must cost nothing.
"""

from __future__ import annotations

from pathlib import Path

from facesync.localfiles import read_regular_file

STATE_DIR_NAME = ".facesync"
MAX_STATE_FILE_BYTES = 256 * 2**20
"""A cache or journal file: about two million faces' or images' entries. A bigger one, or one that
is not a regular file, is not one facesync wrote: it is ignored like a corrupt one."""


def read_state_file(path: Path) -> bytes:
    """The bytes of a file under `.facesync/`; OSError when it is missing, not a regular file, or
    bigger than MAX_STATE_FILE_BYTES (never blocks, never reads without end)."""
    return read_regular_file(path, limit=MAX_STATE_FILE_BYTES)


def config_root(config: Path) -> Path:
    """The folder of a configuration file, or the configuration folder itself: image paths and
    `local:` endpoints in the configuration are relative to it, and images must stay inside it."""
    return config if config.is_dir() else config.parent


def state_dir(config: Path) -> Path:
    return config_root(config) / STATE_DIR_NAME
