"""Every file facesync writes is replaced whole, never left half-written, never written through a link.

A plan file, an import, a test report or a cache is written to a temporary file in the same folder
and renamed over its target, so a reader sees the old file or the new one, never a mix. The target
must not be a symbolic link: `plan.json -> ~/.bashrc`, committed by a pull request, would otherwise
make `plan --out plan.json` overwrite whatever the link points at. facesync refuses such a target
(`SymlinkTarget`) rather than replace the link: the link may be the user's own, and silently turning
it into a file would be a surprise of its own.

A special file — a device (`/dev/null`), a pipe — is written into, never replaced (`write_into`):
renaming over `/dev/null` as root would replace the device node itself. A FIFO that nothing reads
is an error at once, not a write that blocks for ever. A socket or a block device is refused.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path

from facesync.localfiles import describe_mode


class SymlinkTarget(OSError):
    """The file to write is a symbolic link; nothing was written."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            errno.ELOOP,
            "is a symbolic link; facesync does not write through links (remove it or write elsewhere)",
            str(path),
        )


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

    Raises `SymlinkTarget` when `path` is a symbolic link. An existing file keeps its permissions;
    a new one gets 0666 less the umask, as a plain write would. A device or a FIFO is written into
    (`write_into`). `durable` also fsyncs before the rename, for state that must survive the process
    being killed right after the call returns.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode: int | None = None
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        pass
    else:
        if stat.S_ISLNK(st.st_mode):
            raise SymlinkTarget(path)
        if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
            write_into(path, text)
            return
        if stat.S_ISREG(st.st_mode):
            mode = stat.S_IMODE(st.st_mode)
        elif not stat.S_ISDIR(st.st_mode):  # a directory: the rename below says so
            raise OSError(errno.EINVAL, f"is {describe_mode(st.st_mode)}, not a regular file", str(path))
    fd, tmp = _create_temporary(path.parent, path.stem)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            if mode is not None:
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


def write_into(path: Path, text: str) -> None:
    """Write `text` into the special file `path` (a device, a pipe; symlinks followed, so that
    `/dev/stdout` works), in place. Opening does not block: a FIFO that nothing reads is an OSError
    at once. The writes themselves block as usual, so a slow reader gets everything."""
    flags = (
        os.O_WRONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    )
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise OSError(errno.ENXIO, "is a FIFO (named pipe) that nothing reads", str(path)) from None
        raise
    try:
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        with os.fdopen(fd, "w", encoding="utf-8", closefd=False) as out:
            out.write(text)
    finally:
        os.close(fd)
