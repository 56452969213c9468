"""Diff time when every person of a 10,000-person group was renamed (by hand, or by a new naming
scheme in the configuration), beside the same diff with nothing renamed.

Recognising a rename pairs each missing configured person with the live person that holds exactly
its faces; this shows that the pairing is indexed by face (about linear), not tried person by
person (10,000 × 10,000 comparisons).

    python bench/diff_renames_10k.py [--persons 10000] [--faces-per-person 5]
"""

from __future__ import annotations

import argparse
import hashlib
import time

from facesync.diff import diff
from facesync.fingerprint import encode_face_user_data, face_fingerprint
from facesync.livestate import LiveCollection, LiveFace, LivePerson, LiveState
from facesync.model import CollectionKind, DesiredCollection, DesiredFace, DesiredPerson, DesiredState


def fingerprint(name: str) -> str:
    return face_fingerprint(hashlib.sha256(name.encode()).hexdigest(), None, "detection_03")


def states(persons: int, faces: int, renamed: bool) -> tuple[DesiredState, LiveState]:
    desired = DesiredCollection(
        CollectionKind.LARGE_PERSON_GROUP,
        "staff",
        "Staff",
        persons=tuple(
            DesiredPerson(
                f"{'New' if renamed else 'Person'} {i}",
                faces=tuple(DesiredFace(fingerprint(f"{i}-{k}")) for k in range(faces)),
            )
            for i in range(persons)
        ),
    )
    live = LiveCollection(
        CollectionKind.LARGE_PERSON_GROUP,
        "staff",
        "Staff",
        persons=tuple(
            LivePerson(
                f"p-{i}",
                f"Person {i}",
                faces=tuple(
                    LiveFace(f"f-{i}-{k}", encode_face_user_data(fp, None), fp)
                    for k in range(faces)
                    for fp in [fingerprint(f"{i}-{k}")]
                ),
            )
            for i in range(persons)
        ),
    )
    return DesiredState(collections=(desired,)), LiveState(collections=(live,))


def timed(persons: int, faces: int, renamed: bool) -> tuple[float, int]:
    desired, live = states(persons, faces, renamed)
    start = time.perf_counter()
    plan = diff(desired, live)
    return time.perf_counter() - start, len(plan.changes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=10_000)
    parser.add_argument("--faces-per-person", type=int, default=5)
    args = parser.parse_args()
    same, _ = timed(args.persons, args.faces_per_person, renamed=False)
    renamed, changes = timed(args.persons, args.faces_per_person, renamed=True)
    print(f"{args.persons:,} persons × {args.faces_per_person} faces")
    print(f"  nothing renamed: {same:.2f} s")
    print(f"  every person renamed: {renamed:.2f} s ({changes:,} renames), {renamed / same:.1f}× the first")


if __name__ == "__main__":
    main()
