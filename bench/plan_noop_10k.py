"""No-op plan of 10,000 persons × 5 faces in one LargePersonGroup: requests and wall time.

Compares the requests facesync makes with the minimum the Face API allows for a plan that must see
every person and face (one page per list, the person pages, the training status), cold (no local
face cache: one GET per face, since person lists carry no face userData) and warm.

    python bench/plan_noop_10k.py [--persons 10000] [--faces-per-person 5]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _emulator import emulator_process
from validate_10k import generate

from facesync.client import Endpoint
from facesync.config import load as load_config
from facesync.emulator.settings import EmulatorSettings
from facesync.emulator.store import Store
from facesync.fingerprint import encode_face_user_data
from facesync.model import CollectionKind
from facesync.sync import Sync, SyncOptions


def seed(db: Path, desired) -> None:
    """Write the live state straight into the emulator's SQLite file (HTTP would take minutes)."""
    settings = EmulatorSettings(data=str(db))
    store = Store(str(db), settings.limit)
    store.conn.execute("PRAGMA synchronous=OFF")
    (collection,) = desired.collections
    store.create_collection("lpg", collection.id, collection.name, None, collection.recognition_model)
    for person in collection.persons:
        pid = store.create_person("lpg", collection.id, person.name, None)
        for face in person.faces:
            store.add_face(
                "lpg", collection.id, pid, encode_face_user_data(face.fingerprint, None), (0, 0, 40, 40)
            )
    store.train("lpg", collection.id, 0.0, time.time() - 60)
    store.close()


async def plan_once(
    url: str, desired, config: Path, full_refresh: bool
) -> tuple[int, float, float, int]:
    """Requests, wall seconds, this process's CPU seconds (the emulator runs apart), changes."""
    started, cpu = time.perf_counter(), time.process_time()
    options = SyncOptions(rate_limit=None, parallelism=16, full_refresh=full_refresh)
    async with Sync(desired, Endpoint(url), options=options, state_root=config) as sync:
        plan = await sync.plan()
        return (
            sync.client.total_calls,
            time.perf_counter() - started,
            time.process_time() - cpu,
            len(plan.changes),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=10_000)
    parser.add_argument("--faces-per-person", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = generate(root / "config", args.persons, args.faces_per_person)
        started = time.perf_counter()
        desired, _ = load_config(config)
        load_seconds = time.perf_counter() - started
        faces = args.persons * args.faces_per_person
        seed(root / "emulator.sqlite", desired)
        # 4 collection lists (1 page each) + person pages (a short page ends the list) + training.
        minimum = len(CollectionKind) + (args.persons // 1000 + 1) + 1
        with emulator_process("--data", str(root / "emulator.sqlite")) as url:
            cold_calls, cold_seconds, _, cold_changes = asyncio.run(plan_once(url, desired, config, True))
            warm = [asyncio.run(plan_once(url, desired, config, False)) for _ in range(5)]
    warm_calls, _, _, warm_changes = warm[0]
    warm_seconds = sorted(w[1] for w in warm)[2]
    warm_cpu = sorted(w[2] for w in warm)[2]
    assert cold_changes == warm_changes == 0, "the seeded state should match the configuration"
    print(
        f"no-op plan: {args.persons:,} persons x {args.faces_per_person} faces "
        f"({faces:,} faces), one LargePersonGroup"
    )
    print(f"  config load (cold image cache):  {load_seconds:6.2f} s")
    print(f"  minimum requests the API allows: {minimum}")
    print(
        f"  warm face cache: {warm_calls:6,} requests ({warm_calls / minimum:.2f}x minimum), "
        f"{warm_seconds:6.2f} s (median of 5), {warm_cpu:.2f} s of this process's CPU"
    )
    print(
        f"  cold face cache: {cold_calls:6,} requests ({cold_calls / minimum:.1f}x minimum; "
        f"{faces:,} face GETs), {cold_seconds:6.2f} s"
    )
    print(
        f"  at the S0 limit of 10 calls/s the warm plan needs {math.ceil(warm_calls / 10)} s, "
        f"the cold one {cold_calls / 10 / 60:.0f} min"
    )


if __name__ == "__main__":
    main()
