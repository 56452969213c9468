"""Read the live service and diff it against the desired state: the one place both flows meet."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from facesync.cache import FaceCache
from facesync.client import FaceClient
from facesync.diff import diff
from facesync.journal import TrainingJournal
from facesync.live import read_live_state
from facesync.model import DesiredState, LiveState
from facesync.plan import Plan


def state_dir(config_path: Path) -> Path:
    """`.facesync/` beside the configuration (git-ignored): caches and the training journal."""
    base = config_path if config_path.is_dir() else config_path.parent
    return base / ".facesync"


def face_cache_path(config_path: Path) -> Path:
    return state_dir(config_path) / "cache" / "faces.json"


def journal_path(config_path: Path) -> Path:
    return state_dir(config_path) / "pending-training.json"


def check_targets(desired: DesiredState, targets: Collection[str]) -> list[str]:
    declared = {c.id for c in desired.collections}
    return sorted(t for t in targets if t not in declared)


@dataclass
class LocalState:
    """What facesync keeps beside the configuration: the face cache and the training journal."""

    cache: FaceCache
    journal: TrainingJournal

    @classmethod
    def open(cls, config_path: Path, endpoint: str, *, full_refresh: bool = False) -> LocalState:
        return cls(
            cache=FaceCache(face_cache_path(config_path), endpoint, load=not full_refresh),
            journal=TrainingJournal(journal_path(config_path), endpoint),
        )


async def build_plan(
    client: FaceClient,
    desired: DesiredState,
    *,
    state: LocalState | None = None,
    targets: Collection[str] = (),
) -> tuple[Plan, LiveState]:
    cache = state.cache if state is not None else None
    live = await read_live_state(client, desired, targets=targets, cache=cache)
    if cache is not None:
        cache.save()
    pending = (
        [(c.kind, c.id) for c in desired.collections if state.journal.pending(c.kind, c.id)]
        if state is not None
        else []
    )
    return diff(desired, live, targets=targets, pending_training=pending), live
