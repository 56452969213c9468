"""Image paths named by the configuration: made absolute, expanded, and kept inside the root.

A face string is a path, a glob or a directory, relative to the YAML file that names it. On a
CI runner a pull request could otherwise make facesync read and upload any image the runner
can read (`/etc/...`, `../../`, a symlink out of the repository), so every file must resolve,
symlinks followed, inside the configuration's root unless the config allows otherwise.
"""

from __future__ import annotations

import glob
import os
import stat
from pathlib import Path

from facesync.config.images import IMAGE_SUFFIXES


class ImagePaths:
    """Resolves the image paths of one run against `root` (a folder)."""

    def __init__(self, root: Path) -> None:
        self.root = os.path.realpath(root)
        self._root_prefix = self.root.rstrip(os.sep) + os.sep
        self._real_dirs: dict[str, str] = {}
        self.stats: dict[str, os.stat_result] = {}

    @staticmethod
    def join(base_dir: str, name: str) -> str:
        """`name` made absolute against `base_dir` (the YAML file's folder); `~` expanded."""
        # Plain strings, not pathlib: with 50,000 images pathlib's overhead is most of the time.
        return os.path.normpath(os.path.join(base_dir, os.path.expanduser(name)))

    def expand(self, base_dir: str, pattern: str) -> tuple[list[str], bool, str | None]:
        """The files a face string names; whether it names one file directly (no glob, no
        directory); and a problem message when it names none."""
        full = self.join(base_dir, pattern)
        if glob.has_magic(pattern):
            matches = [m for m in sorted(glob.glob(full, recursive=True)) if not self._is_dir(m)]
            return matches, False, None if matches else f"glob '{pattern}' matches no file"
        if os.path.isdir(full):
            with os.scandir(full) as entries:
                images = sorted(
                    e.path
                    for e in entries
                    if os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES and e.is_file()
                )
            if not images:
                return [], False, f"directory '{pattern}' holds no image ({', '.join(IMAGE_SUFFIXES)})"
            return images, False, None
        return [full], True, None

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
