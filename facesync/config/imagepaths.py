"""Image paths named by the configuration: made absolute, expanded, and kept inside the root.

A face string is a path, a glob or a directory, relative to the YAML file that names it. On a
CI runner a pull request could otherwise make facesync read and upload any image the runner
can read (`/etc/...`, `../../`, a symlink out of the repository), so every file must resolve,
symlinks followed, inside the configuration's root unless the config allows otherwise.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

from facesync.config.images import IMAGE_SUFFIXES


class ImagePaths:
    """Resolves the image paths of one run against `root` (a folder)."""

    def __init__(self, root: Path) -> None:
        self.root = os.path.realpath(root)
        self._real_dirs: dict[str, str] = {}

    @staticmethod
    def join(base_dir: Path, name: str) -> str:
        """`name` made absolute against `base_dir` (the YAML file's folder); `~` expanded."""
        # Plain strings, not pathlib: with 50,000 images pathlib's overhead is most of the time.
        return os.path.normpath(os.path.join(base_dir, os.path.expanduser(name)))

    def expand(self, base_dir: Path, pattern: str) -> tuple[list[str], str | None]:
        """The files a face string names, and a problem message when it names none."""
        full = self.join(base_dir, pattern)
        if glob.has_magic(pattern):
            matches = sorted(m for m in glob.glob(full, recursive=True) if not os.path.isdir(m))
            return matches, None if matches else f"glob '{pattern}' matches no file"
        if os.path.isdir(full):
            with os.scandir(full) as entries:
                images = sorted(
                    e.path
                    for e in entries
                    if os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES and e.is_file()
                )
            if not images:
                return [], f"directory '{pattern}' holds no image ({', '.join(IMAGE_SUFFIXES)})"
            return images, None
        return [full], None

    def real(self, file: str) -> str:
        """`file` with every symlink resolved (folders resolved once per run)."""
        folder, name = os.path.split(file)
        real_folder = self._real_dirs.get(folder)
        if real_folder is None:
            real_folder = self._real_dirs[folder] = os.path.realpath(folder)
        real = os.path.join(real_folder, name)
        return os.path.realpath(real) if os.path.islink(real) else real

    def inside_root(self, file: str) -> bool:
        real = self.real(file)
        return real == self.root or real.startswith(self.root.rstrip(os.sep) + os.sep)
