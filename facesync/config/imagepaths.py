"""Image paths named by the configuration: made absolute, expanded, and kept inside the root.

A face string is a path, a glob or a directory, relative to the YAML file that names it. On a
CI runner a pull request could otherwise make facesync read and upload any image the runner
can read (`/etc/...`, `../../`, a symlink out of the repository), so every file must resolve,
symlinks followed, inside the configuration's root unless the config allows otherwise.

Globs are matched here rather than by the `glob` module, whose `**` follows directory symlinks
into every cycle: two symlinks to `..` make it walk 2^40 paths. Here `**` enters each real
directory once (a symlinked directory already seen is skipped), and one run visits at most
MAX_ENTRIES_VISITED files and folders in all.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from facesync.config.images import IMAGE_SUFFIXES

MAX_ENTRIES_VISITED = 2_000_000
"""Files and folders that the globs and directories of one configuration may list, together: ten
times a million-face LargeFaceList's folder, and a few seconds of listing."""


class TooManyEntries(Exception):
    """The globs of this run listed more than MAX_ENTRIES_VISITED entries."""


class ImagePaths:
    """Resolves the image paths of one run against `root` (a folder)."""

    def __init__(self, root: Path, max_entries: int | None = None) -> None:
        self.root = os.path.realpath(root)
        self._root_prefix = self.root.rstrip(os.sep) + os.sep
        self._real_dirs: dict[str, str] = {}
        self.stats: dict[str, os.stat_result] = {}
        self.max_entries = MAX_ENTRIES_VISITED if max_entries is None else max_entries
        self.entries_left = self.max_entries

    @staticmethod
    def join(base_dir: str, name: str) -> str:
        """`name` made absolute against `base_dir` (the YAML file's folder); `~` expanded."""
        # Plain strings, not pathlib: with 50,000 images pathlib's overhead is most of the time.
        return os.path.normpath(os.path.join(base_dir, os.path.expanduser(name)))

    def expand(self, base_dir: str, pattern: str) -> tuple[list[str], bool, str | None]:
        """The files a face string names; whether it names one file directly (no glob, no
        directory); and a problem message when it names none."""
        if "\0" in pattern:
            return [], False, f"image path {pattern!r} holds a NUL character, which no file name can"
        full = self.join(base_dir, pattern)
        try:
            if glob.has_magic(pattern):
                found = self._glob(full)
                matches = [m for m in sorted(found) if not self._is_dir(m)]
                return matches, False, None if matches else f"glob '{pattern}' matches no file"
            if os.path.isdir(full):
                images = sorted(
                    e.path
                    for e in self._list(full)
                    if os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES and e.is_file()
                )
                if not images:
                    return [], False, f"directory '{pattern}' holds no image ({', '.join(IMAGE_SUFFIXES)})"
                return images, False, None
        except TooManyEntries:
            what = "glob" if glob.has_magic(pattern) else "directory"
            return [], False, (
                f"{what} '{pattern}' stopped after the configuration's globs and directories listed "
                f"{self.max_entries:,} files and folders: narrow it (a symlink to a big folder?)"
            )
        return [full], True, None

    # -- globs -------------------------------------------------------------------------------

    def _list(self, folder: str) -> list[os.DirEntry[str]]:
        """The entries of `folder` ([] when it cannot be listed), counted against the budget."""
        try:
            with os.scandir(folder) as listing:
                entries = []
                for entry in listing:
                    self.entries_left -= 1
                    if self.entries_left < 0:
                        raise TooManyEntries
                    entries.append(entry)
        except OSError:
            return []
        return entries

    def _glob(self, full: str) -> set[str]:
        """The paths matching the absolute pattern `full`, with `glob.glob(full, recursive=True)`'s
        rules (`*` skips hidden names; `**` spans folders, hidden ones excepted), bounded."""
        parts = full.split(os.sep)
        first = next(i for i, part in enumerate(parts) if glob.has_magic(part))
        start = os.sep.join(parts[:first]) or os.sep
        found: set[str] = set()
        if os.path.isdir(start):
            self._match(start, parts[first:], found)
        return found

    def _match(self, folder: str, parts: list[str], found: set[str]) -> None:
        part, rest = parts[0], parts[1:]
        if part == "**":
            for sub in self._folders_below(folder):
                if rest:
                    self._match(sub, rest, found)
                else:
                    found.update(e.path for e in self._list(sub) if not _hidden(e.name))
            return
        if not glob.has_magic(part):
            path = os.path.join(folder, part)
            if not rest:
                if os.path.lexists(path):
                    found.add(path)
            elif os.path.isdir(path):
                self._match(path, rest, found)
            return
        for entry in self._list(folder):
            if _hidden(entry.name) and not _hidden(part):
                continue
            if not fnmatch.fnmatchcase(entry.name, part):
                continue
            if not rest:
                found.add(entry.path)
            elif _is_folder(entry):
                self._match(entry.path, rest, found)

    def _folders_below(self, top: str) -> Iterator[str]:
        """`top` and every folder below it that is not hidden, each real folder once: a symlink to
        a folder already seen (`..`, a loop, a second link to one place) is not entered again."""
        seen: set[tuple[int, int]] = set()
        pending = [top]
        while pending:
            folder = pending.pop()
            try:
                st = os.stat(folder)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            yield folder
            below = (e.path for e in self._list(folder) if not _hidden(e.name) and _is_folder(e))
            pending.extend(sorted(below, reverse=True))

    def _is_dir(self, path: str) -> bool:
        # One lstat answers this, the root check and the image's stat (unless it is a link).
        try:
            st = os.lstat(path)
        except OSError:
            return False
        if stat.S_ISLNK(st.st_mode):
            return os.path.isdir(path)
        self.stats[path] = st
        return stat.S_ISDIR(st.st_mode)

    def _real_folder(self, folder: str) -> str:
        # Built from the parent's resolved path, so each folder costs one lstat, not one per
        # component as os.path.realpath would.
        real = self._real_dirs.get(folder)
        if real is None:
            parent, name = os.path.split(folder)
            if not name or parent == folder:
                real = os.path.realpath(folder)
            else:
                real = os.path.join(self._real_folder(parent), name)
                if os.path.islink(real):
                    real = os.path.realpath(real)
            self._real_dirs[folder] = real
        return real

    def real(self, file: str) -> str:
        """`file` (absolute, normalised) with every symlink resolved."""
        folder, name = os.path.split(file)
        real = os.path.join(self._real_folder(folder), name)
        if file in self.stats:
            return real  # not a link: _is_dir saw it
        try:
            st = os.lstat(real)
        except OSError:
            return real  # nothing there: the image check says so
        if stat.S_ISLNK(st.st_mode):
            return os.path.realpath(real)
        # Not a link, so this is also what os.stat would say: the image check reuses it.
        self.stats[file] = st
        return real

    def inside_root(self, file: str) -> bool:
        real = self.real(file)
        return real == self.root or real.startswith(self._root_prefix)

    def stat(self, file: str) -> os.stat_result:
        """os.stat(file), without a second system call when `inside_root` already made one."""
        st = self.stats.pop(file, None)
        return st if st is not None else os.stat(file)


def _hidden(name: str) -> bool:
    return name.startswith(".")


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # symlinks followed, as globs do
    except OSError:
        return False
