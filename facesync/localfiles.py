"""Reading local files that anyone could have put there: regular files only, never blocking, bounded.

A configuration, an image or a cache file reached through a pull request may be a symlink to
`/dev/zero` (which never ends), a FIFO (whose open blocks until a writer comes), or simply huge.
Every file facesync reads goes through `read_regular_file`: the type is checked before the open
(which itself cannot block) and again on the open descriptor (the path may have changed in
between), and no more than `limit` bytes are ever read.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
_OPEN_FLAGS |= getattr(os, "O_CLOEXEC", 0)
_CHUNK = 1 << 20


class NotRegularFile(OSError):
    """The path names a directory, FIFO, device or socket; `strerror` says which."""


class FileTooLarge(OSError):
    """The file holds more than the caller's limit."""

    def __init__(self, path: str | Path, size: int, limit: int) -> None:
        super().__init__(errno.EFBIG, f"{size:,} bytes, more than the {limit:,} allowed", str(path))
        self.size = size
        self.limit = limit


def describe_mode(mode: int) -> str:
    """What a non-regular file is, in a few words."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _not_regular(path: str | Path, mode: int) -> NotRegularFile:
    return NotRegularFile(errno.EINVAL, f"{describe_mode(mode)}, not a regular file", str(path))


def regular_file_stat(path: str | Path) -> os.stat_result:
    """os.stat(path) (symlinks followed), which must be a regular file: `NotRegularFile` otherwise,
    and an OSError (not a ValueError) for a path holding a NUL character."""
    try:
        st = os.stat(path)
    except ValueError:
        raise OSError(errno.EINVAL, "the path holds a NUL character", str(path)) from None
    if not stat.S_ISREG(st.st_mode):
        raise _not_regular(path, st.st_mode)
    return st


def read_regular_file(path: str | Path, *, limit: int, head: bool = False) -> bytes:
    """The bytes of `path`, a regular file (symlinks followed) of at most `limit` bytes; with
    `head`, its first `limit` bytes whatever its size.

    Raises `NotRegularFile`, `FileTooLarge`, or another OSError (missing, unreadable).
    """
    st = regular_file_stat(path)
    if st.st_size > limit and not head:
        raise FileTooLarge(path, st.st_size, limit)
    fd = os.open(path, _OPEN_FLAGS)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _not_regular(path, mode)
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:  # it grew after the stat
                if head:
                    return b"".join(chunks)[:limit]
                raise FileTooLarge(path, total, limit)
        return b"".join(chunks)
    finally:
        os.close(fd)
