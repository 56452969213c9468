"""No-op plan of the PersonDirectory against the same persons in a LargePersonGroup: requests and time.

The API lists a directory person's faces one recognition model at a time, so a plan that must see
every face (a hand-added face in any model is drift) asks each person once per model, where a
person group's pages carry every person's face ids. This prints what that costs, warm (the local
face cache holds every face's userData) and cold, side by side with the group.

    python bench/directory_plan.py [--persons 1000] [--faces-per-person 2]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _emulator import emulator_process
from plan_noop_10k import seed as seed_group
from validate_10k import generate

from facesync.client import Endpoint
from facesync.config import load as load_config
from facesync.emulator.directory.store import Directory
from facesync.emulator.settings import EmulatorSettings
from facesync.emulator.store import Store
from facesync.fingerprint import encode_face_user_data
from facesync.sync import Sync, SyncOptions

PREVIEW = "v1.2-preview.1"
MODEL = "recognition_04"


def directory_config(group_config: Path) -> Path:
    """The generated LargePersonGroup's persons, as directory persons."""
    lines = group_config.read_text().splitlines()
    persons = [line[2:] for line in lines if line.startswith("      person-")]
    text = "\n".join(
        [
            "version: 1",
            f"service: {{apiVersion: {PREVIEW}}}",
            "personDirectory:",
            f"  recognitionModels: [{MODEL}]",
            "  persons:",
            *persons,
        ]
    )
    path = group_config.parent / "directory.yaml"
    path.write_text(text + "\n")
    return path


def seed_directory(db: Path, desired) -> None:
    settings = EmulatorSettings(data=str(db))
    store = Store(str(db), settings.limit)
    store.conn.execute("PRAGMA synchronous=OFF")
    directory = Directory(store)
    (collection,) = desired.collections
    now = time.time() - 60
    for person in collection.persons:
        pid, _ = directory.create_person(person.name, None, now, 0.0)
        for face in person.faces:
            user_data = encode_face_user_data(face.fingerprint, None)
            directory.add_face(pid, MODEL, user_data, (0, 0, 40, 40), "deterministic", b"\0" * 16, now, 0.0)
    store.close()


async def plan_once(url: str, desired, config: Path, version: str, full: bool) -> tuple[int, float, int]:
    started = time.perf_counter()
    options = SyncOptions(api_version=version, rate_limit=None, parallelism=16, full_refresh=full)
    async with Sync(desired, Endpoint(url), options=options, state_root=config) as sync:
        plan = await sync.plan()
        return sync.client.total_calls, time.perf_counter() - started, len(plan.changes)


def measure(root: Path, config: Path, version: str, seed) -> tuple[tuple[int, float], tuple[int, float]]:
    desired, _ = load_config(config)
    db = root / f"{config.stem}.sqlite"
    seed(db, desired)
    with emulator_process("--data", str(db)) as url:
        cold_calls, cold_s, cold_changes = asyncio.run(plan_once(url, desired, config, version, True))
        warm_calls, warm_s, warm_changes = asyncio.run(plan_once(url, desired, config, version, False))
    assert cold_changes == warm_changes == 0, "the seeded state should match the configuration"
    return (warm_calls, warm_s), (cold_calls, cold_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1000)
    parser.add_argument("--faces-per-person", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        group_config = generate(root / "config", args.persons, args.faces_per_person)
        rows = {
            "LargePersonGroup": measure(root, group_config, "v1.0", seed_group),
            "PersonDirectory": measure(root, directory_config(group_config), PREVIEW, seed_directory),
        }
    faces = args.persons * args.faces_per_person
    print(f"no-op plan: {args.persons:,} persons x {args.faces_per_person} faces ({faces:,} faces)")
    (group_warm, group_cold) = rows["LargePersonGroup"]
    for name, ((warm_calls, warm_s), (cold_calls, cold_s)) in rows.items():
        print(
            f"  {name:<17} warm: {warm_calls:6,} requests ({warm_calls / group_warm[0]:5.1f}x the group), "
            f"{warm_s:6.2f} s; cold: {cold_calls:6,} requests ({cold_calls / group_cold[0]:4.2f}x), "
            f"{cold_s:6.2f} s"
        )
    print(
        "  the directory asks each person once per recognition model; at S0's 10 calls/s its warm plan needs "
        f"{rows['PersonDirectory'][0][0] / 10:.0f} s, the group's {group_warm[0] / 10:.0f} s"
    )


if __name__ == "__main__":
    main()
