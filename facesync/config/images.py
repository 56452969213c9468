"""Image probing without decoding: format by magic bytes, dimensions from the header, SHA-256.

`ImageCache` remembers, per absolute path, size and mtime_ns, what a probe found, in
`<cache_dir>/cache/images.json`. A missing, corrupt or foreign cache is ignored and rewritten,
one that cannot be read or written is reported once (`localstate.report_unusable`); the cache
only saves work, it never changes a result.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from facesync.atomic import write_text_atomically
from facesync.fingerprint import image_digest
from facesync.localfiles import read_regular_file
from facesync.localstate import read_state_file, report_unusable
from facesync.model import DesiredFace

log = logging.getLogger(__name__)

MIN_IMAGE_BYTES = 1024
MAX_IMAGE_BYTES = 6 * 1024 * 1024
MIN_IMAGE_SIDE = 36
MAX_IMAGE_SIDE = 4096
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp")

CACHE_FORMAT = "facesync-image-cache/1"


class ImageError(Exception):
    """The file is not an image the Face API accepts; the message says why."""


def read_image(path: str | Path) -> bytes:
    """The bytes of the image file `path`: a regular file (never a FIFO or a device, which would
    block or never end) of at most MAX_IMAGE_BYTES, the most the Face API accepts. OSError else."""
    return read_regular_file(path, limit=MAX_IMAGE_BYTES)


class ImageChanged(Exception):
    """A face's image on disk is not the one the plan was made with."""


def read_planned_image(face: DesiredFace) -> bytes:
    """The bytes of a face's image file as the plan saw them (`read_image`): `ImageChanged` when
    the file changed since, so what is sent is always what was reviewed."""
    assert face.image_path is not None
    data = read_image(face.image_path)
    if face.image_sha256 and image_digest(data) != face.image_sha256:
        raise ImageChanged(f"{face.image_path} changed since the plan was made; plan again")
    return data


@dataclass(frozen=True, slots=True)
class ImageInfo:
    sha256: str
    format: str
    """JPEG, PNG, GIF or BMP."""
    width: int
    height: int
    size: int
    """Bytes."""


def sniff_format(head: bytes) -> str | None:
    """The image format named by the first bytes, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head.startswith(b"BM"):
        return "BMP"
    return None


def _png_size(data: bytes) -> tuple[int, int]:
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise ImageError("PNG without an IHDR header")
    return struct.unpack(">II", data[16:24])


def _gif_size(data: bytes) -> tuple[int, int]:
    if len(data) < 10:
        raise ImageError("truncated GIF header")
    return struct.unpack("<HH", data[6:10])


def _bmp_size(data: bytes) -> tuple[int, int]:
    if len(data) < 26:
        raise ImageError("truncated BMP header")
    (header_size,) = struct.unpack("<I", data[14:18])
    if header_size == 12:  # OS/2 BITMAPCOREHEADER
        width, height = struct.unpack("<HH", data[18:22])
    else:
        width, height = struct.unpack("<ii", data[18:26])
    return abs(width), abs(height)


# Start-of-frame markers: SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC).
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_JPEG_NO_LENGTH = {0x01, *range(0xD0, 0xDA)}  # TEM, RSTn, SOI, EOI


def _jpeg_size(data: bytes) -> tuple[int, int]:
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            raise ImageError("corrupt JPEG: marker expected")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _JPEG_NO_LENGTH:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker in _JPEG_SOF:
            if i + 9 > n:
                break
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        if marker == 0xDA:  # start of scan before any frame header
            break
        i += 2 + length
    raise ImageError("JPEG without a frame header")


_SIZE_READERS = {"PNG": _png_size, "GIF": _gif_size, "BMP": _bmp_size, "JPEG": _jpeg_size}


def probe_bytes(data: bytes) -> ImageInfo:
    """Identify `data` by content and read its dimensions from the header (nothing is decoded)."""
    fmt = sniff_format(data[:16])
    if fmt is None:
        raise ImageError("not a JPEG, PNG, GIF or BMP image (judged by its content)")
    try:
        width, height = _SIZE_READERS[fmt](data)
    except struct.error as exc:
        raise ImageError(f"truncated {fmt} header") from exc
    return ImageInfo(hashlib.sha256(data).hexdigest(), fmt, width, height, len(data))


class ImageCache:
    """Stat-keyed probe results: absolute path + size + mtime_ns → ImageInfo."""

    def __init__(self, file: Path | None) -> None:
        self.file = file
        self.entries: dict[str, list[object]] = {}
        self.dirty = False
        self.hashed = 0
        """How many files this run actually read and hashed (the cache missed)."""
        if file is not None:
            self._read()

    def _read(self) -> None:
        assert self.file is not None
        try:
            raw = json.loads(read_state_file(self.file))
        except FileNotFoundError:
            return
        except OSError as exc:
            report_unusable(self.file, exc)
            return
        except ValueError:
            return
        if isinstance(raw, dict) and raw.get("format") == CACHE_FORMAT:
            entries = raw.get("entries")
            if isinstance(entries, dict):
                self.entries = entries

    def probe(self, path: str | Path, st: os.stat_result) -> ImageInfo:
        """Probe `path` (absolute; its stat is `st`), reading it only when the cache has no fresh
        entry."""
        key = str(path)
        entry = self.entries.get(key)
        # Plain checks, not a `match` on the list: that is twenty times slower, per image.
        if (
            isinstance(entry, list)
            and len(entry) == 6
            and entry[0] == st.st_size
            and entry[1] == st.st_mtime_ns
        ):
            _, _, sha, fmt, width, height = entry
            if (
                isinstance(sha, str)
                and isinstance(fmt, str)
                and isinstance(width, int)
                and isinstance(height, int)
            ):
                log.debug("image cache hit: %s", key)
                return ImageInfo(sha, fmt, width, height, st.st_size)
        log.debug("image cache miss: %s", key)
        data = read_image(path)
        self.hashed += 1
        info = probe_bytes(data)
        self.entries[key] = [
            st.st_size, st.st_mtime_ns, info.sha256, info.format, info.width, info.height
        ]
        self.dirty = True
        return info

    def save(self) -> None:
        """Write the cache if anything changed; a failure is reported, never raised (the cache is
        optional)."""
        if self.file is None or not self.dirty:
            return
        payload = json.dumps({"format": CACHE_FORMAT, "entries": self.entries}, separators=(",", ":"))
        try:
            write_text_atomically(self.file, payload)
        except OSError as exc:
            report_unusable(self.file, exc)
        self.dirty = False
