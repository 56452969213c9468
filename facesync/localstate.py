"""Where facesync keeps what it remembers beside a configuration: one folder for every cache.

`.facesync/` in the configuration's folder (git-ignored) holds the image cache
(`cache/images.json`), the face cache (`cache/faces.json`), the training journal
(`pending-training.json`) and the directory operations an apply left running
(`pending-operations.json`). Nothing in it is needed for correctness, so a folder facesync cannot
use — a file named `.facesync` in the way, a read-only checkout, a container running as another
user — costs a warning, not the run: whoever reads or writes there calls `report_unusable`, which
logs once per place and cause, naming both, and the caller keeps what it would have written in
memory. Its files are read with `read_state_file`: a pull request can commit a `.facesync/` too,
and a symlink to `/dev/zero` or a FIFO there must cost nothing but that warning.
"""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

from facesync.localfiles import read_regular_file

log = logging.getLogger(__name__)

STATE_DIR_NAME = ".facesync"
MAX_STATE_FILE_BYTES = 256 * 2**20
"""A cache or journal file: about two million faces' or images' entries. A bigger one, or one that
is not a regular file, is not one facesync wrote: it is ignored like a corrupt one."""


def read_state_file(path: Path) -> bytes:
    """The bytes of a file under `.facesync/`; OSError when it is missing, not a regular file, or
    bigger than MAX_STATE_FILE_BYTES (never blocks, never reads without end)."""
    return read_regular_file(path, limit=MAX_STATE_FILE_BYTES)


_reported: set[tuple[str, str]] = set()


def config_root(config: Path) -> Path:
    """The folder of a configuration file, or the configuration folder itself: image paths and
    `local:` endpoints in the configuration are relative to it, and images must stay inside it."""
    return config if config.is_dir() else config.parent


def state_dir(config: Path) -> Path:
    return config_root(config) / STATE_DIR_NAME


def new_run() -> None:
    """Forget which places were reported: each command warns once for itself, also when several
    run in one process (tests, a program embedding the CLI)."""
    _reported.clear()


def _shown(path: Path) -> str:
    """Relative to the working directory when inside it ("." would say nothing), else absolute.
    Symlinks are not resolved: a warning about a link names the link, not what it points at."""
    try:
        absolute = Path(os.path.abspath(path))
        relative = absolute.relative_to(Path(os.path.abspath(Path.cwd())))
    except (OSError, ValueError):
        return str(path)
    return str(relative) if relative != Path(".") else str(absolute)


def _owner_hint(folder: Path) -> str:
    """` (owned by uid 0, facesync runs as uid 1000)` where that explains a refusal (POSIX)."""
    geteuid = getattr(os, "geteuid", None)
    if geteuid is None:
        return ""
    try:
        owner = folder.stat().st_uid
    except OSError:
        return ""
    me = geteuid()
    return f" (owned by uid {owner}, facesync runs as uid {me})" if owner != me else ""


def diagnose(path: Path, error: OSError) -> tuple[Path, str]:
    """The place at fault and the cause in words, for a failed read or write of `path`.

    The error alone says little ("Not a directory" for `.facesync/cache/faces.json`): the first
    ancestor that exists is the one in the way, as a file, or as a folder this user cannot write.
    """
    for ancestor in [path, *path.parents]:
        try:
            is_dir = ancestor.is_dir()
            exists = is_dir or ancestor.exists() or ancestor.is_symlink()
        except OSError:
            continue
        if not exists:
            continue
        if ancestor != path and not is_dir:
            return ancestor, f"{_shown(ancestor)} is a file, not a folder"
        if is_dir and error.errno == errno.EROFS:
            return ancestor, f"{_shown(ancestor)} is on a read-only file system"
        if is_dir and error.errno in (errno.EACCES, errno.EPERM):
            return ancestor, f"{_shown(ancestor)} is not writable{_owner_hint(ancestor)}"
        break
    return path, f"{_shown(path)}: {error.strerror or error}"


def report_unusable(path: Path, error: OSError) -> None:
    """Warn that `path` (a file under `.facesync/`) could not be read or written, once per place
    and cause for this run (the image cache, the face cache and the journal share one folder)."""
    where, cause = diagnose(path, error)
    key = (str(where.absolute()), cause)
    if key in _reported:
        log.debug("%s unusable again (%s): %s", path, cause, error)
        return
    _reported.add(key)
    log.warning(
        "local cache unusable: %s (%s); going on without it, in memory for this run only",
        cause,
        _shown(path),
    )


def report_journal_unusable(path: Path, error: OSError, collection: str) -> None:
    """The training journal could not record `collection`: said for each collection, since that
    is what an interruption now would lose (see `facesync.journal`)."""
    _, cause = diagnose(path, error)
    log.warning(
        "training journal unusable: %s (%s); apply goes on, but if it is interrupted before %s "
        "is trained, the next plan will not know to train it",
        cause,
        _shown(path),
        collection,
    )
