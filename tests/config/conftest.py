"""Helpers for configuration tests: write a config and its images into a temp directory."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.imagegen import face_image

WriteConfig = Callable[..., Path]


@pytest.fixture
def write_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WriteConfig:
    """`write_config(yaml_text, images={"a.png": seed_or_bytes}, name="facesync.yaml")`."""
    monkeypatch.chdir(tmp_path)

    def write(text: str, images: dict[str, int | bytes] | None = None, name: str = "facesync.yaml") -> Path:
        for rel, content in (images or {}).items():
            target = tmp_path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content if isinstance(content, bytes) else face_image(content))
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write
