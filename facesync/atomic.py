"""Files facesync keeps beside the configuration are replaced whole, never left half-written."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def _create_temporary(folder: Path, stem: str) -> tuple[int, str]:
    """A new file beside the target, created with mode 0666 less the umask: what a plain write
    gives (tempfile.mkstemp's 0600 would make the result private to its owner)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        name = str(folder / f".{stem}-{secrets.token_hex(6)}.tmp")
        try:
            return os.open(name, flags, 0o666), name
        except FileExistsError:
            continue


def write_text_atomically(path: Path, text: str, *, durable: bool = False) -> None:
    """Write to a temporary file in the same directory, then rename it over `path`.

    `durable` also fsyncs before the rename, for state that must survive the process being killed
    right after the call returns.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temporary(path.parent, path.stem)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
