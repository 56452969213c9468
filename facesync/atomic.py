"""Every file facesync writes is replaced whole, never left half-written, never written through a link.

A plan file, an import, a test report or a cache is written to a temporary file in the same folder
and renamed over its target, so a reader sees the old file or the new one, never a mix. The target
must not be a symbolic link: `plan.json -> ~/.bashrc`, committed by a pull request, would otherwise
make `plan --out plan.json` overwrite whatever the link points at. facesync refuses such a target
(`SymlinkTarget`) rather than replace the link: the link may be the user's own, and silently turning
it into a file would be a surprise of its own.

A character device (`/dev/null`, `/dev/full`) is written in place: renaming over it would replace
the device node itself (as root, `--out /dev/null` would turn /dev/null into a file). A FIFO, a
socket or a block device is refused: writing to a FIFO no one reads would block for ever.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

from facesync.localfiles import describe_mode

_DEFAULT_MODE = 0o644


class SymlinkTarget(OSError):
    """The file to write is a symbolic link; nothing was written."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            errno.ELOOP,
            "is a symbolic link; facesync does not write through links (remove it or write elsewhere)",
            str(path),
        )


def write_text_atomically(path: Path, text: str, *, durable: bool = False) -> None:
    """Write to a temporary file in the same directory, then rename it over `path`.

    Raises `SymlinkTarget` when `path` is a symbolic link. An existing file keeps its permissions;
    a new one gets 0644. `durable` also fsyncs before the rename, for state that must survive the
    process being killed right after the call returns.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _DEFAULT_MODE
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        pass
    else:
        if stat.S_ISLNK(st.st_mode):
            raise SymlinkTarget(path)
        if stat.S_ISCHR(st.st_mode):
            _write_to_device(path, text)
            return
        if stat.S_ISREG(st.st_mode):
            mode = stat.S_IMODE(st.st_mode)
        elif not stat.S_ISDIR(st.st_mode):  # a directory: the rename below says so
            raise OSError(errno.EINVAL, f"is {describe_mode(st.st_mode)}, not a regular file", str(path))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            os.fchmod(out.fileno(), mode)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        # rename() replaces the name itself: had a link appeared since the check, the link would be
        # replaced, and what it pointed at left alone.
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _write_to_device(path: Path, text: str) -> None:
    flags = (
        os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    )
    fd = os.open(path, flags)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
