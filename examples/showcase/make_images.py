"""Generate the showcase's images (random-block pictures; no real faces are needed).

Run from anywhere: `python examples/showcase/make_images.py`. The output is committed; each
seed gives the same bytes on every run, so regenerating changes nothing.
The group photo carries a `faces` annotation so the facesync emulator detects its two faces.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

from PIL import Image, PngImagePlugin

HERE = Path(__file__).resolve().parent


def block_image(seed: int, size: tuple[int, int], fmt: str, faces: str | None = None) -> bytes:
    rng = random.Random(seed)
    small = Image.new("RGB", (size[0] // 8, size[1] // 8))
    small.putdata(
        [
            (rng.randrange(256), rng.randrange(256), rng.randrange(256))
            for _ in range(small.width * small.height)
        ]
    )
    img = small.resize(size, Image.Resampling.NEAREST)
    buf = io.BytesIO()
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        if faces is not None:
            info.add_text("faces", faces)
        img.save(buf, "PNG", pnginfo=info)
    else:
        img.save(buf, "JPEG", quality=85)
    data = buf.getvalue()
    assert 1024 <= len(data) <= 24_000, (seed, len(data))
    return data


IMAGES: dict[str, tuple[int, tuple[int, int], str]] = {
    "images/staff/alice-smith/2023-badge.jpg": (101, (160, 200), "JPEG"),
    "images/staff/alice-smith/2024-badge.jpg": (102, (160, 200), "JPEG"),
    "images/staff/alice-smith/offsite.png": (103, (128, 128), "PNG"),
    "images/staff/bob-jones/badge.jpg": (111, (160, 200), "JPEG"),
    "images/staff/bob-jones/lobby-cam.png": (112, (192, 192), "PNG"),
    "images/staff/chen-wei/badge.jpg": (121, (160, 200), "JPEG"),
    "images/staff/chen-wei/2022.jpg": (122, (200, 200), "JPEG"),
    "images/contractors/dana-ruiz/badge.jpg": (131, (160, 200), "JPEG"),
    "images/contractors/erik-nilsen/badge.png": (141, (144, 176), "PNG"),
    "images/contractors/erik-nilsen/site-visit.jpg": (142, (256, 192), "JPEG"),
    "images/visitors/v-0001.jpg": (151, (128, 160), "JPEG"),
    "images/visitors/v-0002.jpg": (152, (128, 160), "JPEG"),
    "images/visitors/v-0003.png": (153, (128, 128), "PNG"),
    "images/vip/ambassador.jpg": (161, (200, 240), "JPEG"),
    "images/vip/keynote-speaker.png": (162, (160, 160), "PNG"),
    "images/lookalikes/double-1.jpg": (171, (128, 128), "JPEG"),
    "images/lookalikes/double-2.jpg": (172, (128, 128), "JPEG"),
    "images/watchlist/w-01.png": (181, (144, 144), "PNG"),
    "images/watchlist/w-02.png": (182, (144, 144), "PNG"),
    "images/watchlist/w-03.jpg": (183, (176, 176), "JPEG"),
}

GROUP_PHOTO = "images/team/kickoff-2024.png"
GROUP_FACES = "24,40,64,64;160,48,64,64"  # Alice left, Bob right (see facesync.yaml)


def main() -> None:
    for rel, (seed, size, fmt) in IMAGES.items():
        out = HERE / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(block_image(seed, size, fmt))
    out = HERE / GROUP_PHOTO
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(block_image(191, (256, 160), "PNG", faces=GROUP_FACES))


if __name__ == "__main__":
    main()
