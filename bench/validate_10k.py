"""Benchmark: validate a configuration of 10,000 persons × 5 images (50,000 image files).

    python bench/validate_10k.py [--persons N] [--faces-per-person K]

Generates everything in a temporary directory: one LargePersonGroup whose persons each name
a directory glob of K small, distinct PNGs (a fixed 40×40 image plus a text chunk that makes
each file unique and over 1 KB). Then times `facesync.config.load` cold (no image cache: every
image is read, sniffed and hashed) and warm (the stat-keyed cache under .facesync/ answers).
"""

from __future__ import annotations

import argparse
import io
import os
import struct
import tempfile
import time
import zlib
from pathlib import Path

from PIL import Image

from facesync.config import load


def _base_png() -> tuple[bytes, bytes]:
    buf = io.BytesIO()
    Image.new("RGB", (40, 40), (90, 120, 150)).save(buf, "PNG")
    data = buf.getvalue()
    iend = data.rindex(b"IEND") - 4
    return data[:iend], data[iend:]


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def generate(root: Path, persons: int, per_person: int) -> Path:
    head, tail = _base_png()
    padding = b"." * 1024
    lines = ["version: 1", "largePersonGroups:", "  bench:", "    name: Bench", "    persons:"]
    for p in range(persons):
        folder = root / "img" / f"p{p:05}"
        folder.mkdir(parents=True)
        for f in range(per_person):
            text = f"id\0{p}-{f}".encode() + padding
            (folder / f"{f}.png").write_bytes(head + _chunk(b"tEXt", text) + tail)
        lines.append(f"      person-{p:05}: {{faces: [img/p{p:05}/*.png]}}")
    config = root / "facesync.yaml"
    config.write_text("\n".join(lines) + "\n")
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=10_000)
    parser.add_argument("--faces-per-person", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="facesync-bench-") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        config = generate(root, args.persons, args.faces_per_person)
        print(
            f"generated {args.persons:,} persons × {args.faces_per_person} images "
            f"in {time.perf_counter() - start:.1f}s"
        )
        os.chdir(root)
        for label in ("cold (no cache)", "warm (stat-keyed cache)"):
            start = time.perf_counter()
            state, warnings = load(config)
            elapsed = time.perf_counter() - start
            faces = sum(len(p.faces) for c in state.collections for p in c.persons)
            print(f"{label:<24} {elapsed:6.2f}s  ({faces:,} faces, {len(warnings)} warnings)")


if __name__ == "__main__":
    main()
