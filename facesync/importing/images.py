"""Local images indexed by the fingerprints a face made from them could carry.

A fingerprint covers the image bytes, the targetFace and the detection model. The bytes are hashed
here; the detection model is tried in turn (every model the API offers); the targetFace cannot be
guessed, so only faces added without one are found.

Only regular files of at most 6 MB (the most the Face API takes) are read: a symlink to
`/dev/zero` or a FIFO among the images is skipped with a warning, never opened. Folder symlinks
are not followed, so a link to `..` cannot make the walk loop.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from facesync.config.images import IMAGE_SUFFIXES, MAX_IMAGE_BYTES, ImageCache, ImageError
from facesync.fingerprint import face_fingerprint
from facesync.localfiles import FileTooLarge, regular_file_stat
from facesync.model import DETECTION_MODELS

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LocalImage:
    path: Path
    """Absolute."""
    detection_model: str


@dataclass
class ImageIndex:
    by_fingerprint: dict[str, LocalImage]
    files: int = 0
    skipped: int = 0

    def find(self, fingerprint: str | None) -> LocalImage | None:
        return self.by_fingerprint.get(fingerprint) if fingerprint else None


def _image_files(root: Path) -> Iterable[Path]:
    for directory, subdirs, files in os.walk(root):  # folder symlinks are not followed
        # facesync's own cache and hidden directories hold no images of the user's.
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in sorted(files):
            if name.lower().endswith(IMAGE_SUFFIXES):
                yield Path(directory, name)


def index_images(roots: Iterable[Path], cache: ImageCache | None = None) -> ImageIndex:
    """Hash every image under `roots` (recursively). Of two identical files the first path in
    sorted order wins, so the output does not depend on the file system's listing order."""
    cache = cache or ImageCache(None)
    index = ImageIndex({})
    for root in roots:
        for path in _image_files(root.resolve()):
            try:
                st = regular_file_stat(path)
                if st.st_size > MAX_IMAGE_BYTES:
                    raise FileTooLarge(path, st.st_size, MAX_IMAGE_BYTES)
                info = cache.probe(path, st)
            except OSError as exc:
                log.warning("skipping %s: %s", path, exc.strerror or exc)
                index.skipped += 1
                continue
            except ImageError as exc:
                log.warning("skipping %s: %s", path, exc)
                index.skipped += 1
                continue
            index.files += 1
            for model in DETECTION_MODELS:
                index.by_fingerprint.setdefault(
                    face_fingerprint(info.sha256, None, model), LocalImage(path, model)
                )
    return index
