"""Test images made with Pillow, following the emulator's documented face-detection rules.

The emulator (docs/emulator.md) detects faces deterministically:
- an image that carries a `faces` annotation (PNG text chunk `faces`, or a line `faces=...` in a
  JPEG/GIF comment) has exactly the rectangles listed there (`l,t,w,h;l,t,w,h`, empty = no face);
- otherwise a near-uniform image has no face, and any other image has one face: the centred
  square whose side is half the shorter image side.

`identity=` names the person of each face for the emulator's deterministic recognition engine:
labels align with `faces` (or name the single centred face); equal labels are the same person.
"""

from __future__ import annotations

import io
import random
from collections.abc import Sequence

from PIL import Image, PngImagePlugin

Rect = tuple[int, int, int, int]


def _annotation(faces: Sequence[Rect]) -> str:
    return ";".join(",".join(str(v) for v in rect) for rect in faces)


def face_image(
    seed: int = 0,
    size: tuple[int, int] = (128, 128),
    fmt: str = "PNG",
    faces: Sequence[Rect] | None = None,
    uniform: bool = False,
    identity: Sequence[str] | str | None = None,
) -> bytes:
    """Image bytes in `fmt` (PNG, JPEG, GIF, BMP); each seed gives different bytes.

    `faces=None` leaves detection to the content rule (one centred face unless `uniform`);
    a list annotates the image with exactly those face rectangles. `identity` (a label, or one per
    face in `faces` order) is written beside it as the `identity` annotation.
    """
    labels = [identity] if isinstance(identity, str) else list(identity or [])
    width, height = size
    if uniform:
        img = Image.new("RGB", size, (128, 128, 128))
    else:
        rng = random.Random(seed)
        # Coarse random blocks scaled up: varied enough to be "a face", compressible enough
        # that photo-sized JPEGs stay small.
        small = Image.new("RGB", (max(1, width // 4), max(1, height // 4)))
        small.putdata(
            [
                (rng.randrange(256), rng.randrange(256), rng.randrange(256))
                for _ in range(small.width * small.height)
            ]
        )
        img = small.resize(size, Image.Resampling.NEAREST)
    buf = io.BytesIO()
    fmt = fmt.upper()
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        if faces is not None:
            info.add_text("faces", _annotation(faces))
        if labels:
            info.add_text("identity", ";".join(labels))
        if uniform:
            # A flat PNG compresses below the service's 1 KB minimum; pad it with a text chunk.
            info.add_text("padding", "." * 1024)
        img.save(buf, "PNG", pnginfo=info)
    elif fmt in ("JPEG", "JPG", "GIF"):
        # Flat images compress below the service's 1 KB minimum; a trailing comment line pads them.
        lines = (
            ([f"faces={_annotation(faces)}"] if faces is not None else [])
            + ([f"identity={';'.join(labels)}"] if labels else [])
            + (["." * 1024] if uniform else [])
        )
        kwargs = {"comment": "\n".join(lines).encode()} if lines else {}
        if fmt == "GIF":
            img.save(buf, "GIF", **kwargs)
        else:
            img.save(buf, "JPEG", quality=90, **kwargs)
    elif fmt == "BMP":
        if faces is not None or labels:
            raise ValueError("BMP carries no annotation; use PNG, JPEG or GIF for explicit faces")
        img.save(buf, "BMP")
    else:
        raise ValueError(f"unsupported format {fmt}")
    data = buf.getvalue()
    if len(data) < 1024:
        raise ValueError(f"image is {len(data)} bytes; the service needs at least 1 KB: use a larger size")
    return data
