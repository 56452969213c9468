"""Which files make the configuration, and how several of them merge.

`-f FILE` reads that file. `-f DIR` reads the `*.yaml`/`*.yml` files directly in DIR that are
facesync configurations (see `is_facesync_config`) and skips the others (logged at INFO), so
that `-f .` at a repository root ignores `.pre-commit-config.yaml` and friends. Merging: each
collection (kind + id) and each top-level setting may be defined in one file only.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facesync.config.errors import Reporter
from facesync.config.loader import MAX_FILE_BYTES, YamlDocument, YamlPath, display_path, load_yaml
from facesync.config.rules import id_problem
from facesync.localfiles import read_regular_file
from facesync.model import DIRECTORY_ID, CollectionKind

log = logging.getLogger(__name__)

CONFIG_SUFFIXES = (".yaml", ".yml")
COLLECTION_KEYS: dict[str, CollectionKind] = {
    kind.config_key: kind for kind in CollectionKind if not kind.singleton
}
"""Top-level keys holding collections by id."""
SINGLETON_KEYS: dict[str, CollectionKind] = {
    kind.config_key: kind for kind in CollectionKind if kind.singleton
}
"""Top-level keys holding one collection (`personDirectory`): defined in one file only."""
SETTING_KEYS = ("service", "defaults", "prune", "allowImagesOutsideRoot", "environments")
"""Top-level settings that one file of a merged directory may set."""
FACESYNC_KEYS = frozenset(("version", "tests", *SETTING_KEYS, *COLLECTION_KEYS, *SINGLETON_KEYS))
MAX_TOTAL_BYTES = 4 * MAX_FILE_BYTES
"""The files of one configuration directory together, read one by one: the next file is refused
before it is read when it would take the total past this."""

# A file that does not parse is still ours when it plainly declares collections.
_COLLECTION_LINE = re.compile(
    rb"^(?:" + "|".join((*COLLECTION_KEYS, *SINGLETON_KEYS)).encode() + rb")\s*:", re.MULTILINE
)


@dataclass(slots=True)
class CollectionEntry:
    """One collection as written: its raw value, not yet checked against the schema."""

    kind: CollectionKind
    id: Any
    """As written; may be invalid (reported), its contents are checked all the same."""
    doc: YamlDocument
    path: YamlPath
    value: Any


def is_facesync_config(data: Any) -> bool:
    """Whether a YAML file of a directory is a facesync configuration.

    Its top level is a mapping that declares a collection (`personGroups`, ...), or that has
    `version` and either a facesync setting or no key facesync does not know. Other tools'
    files (`.pre-commit-config.yaml`, `docker-compose.yaml` with its own `version`) are not.
    """
    if not isinstance(data, dict):
        return False
    keys = set(data)
    if keys & {*COLLECTION_KEYS, *SINGLETON_KEYS}:
        return True
    return "version" in keys and (bool(keys & set(SETTING_KEYS)) or keys <= FACESYNC_KEYS)


def key_label(path: YamlPath, key: Any) -> str:
    """How a duplicate key is named in messages: a collection, a person, or a plain key."""
    if not path:
        return f"top-level key {key!r}"
    kind = COLLECTION_KEYS.get(path[0])
    if kind is not None and len(path) == 1:
        return f"{kind.value} {key!r}"
    if kind is not None and len(path) == 3 and path[2] == "persons":
        return f"person {key!r} in {kind.value} {path[1]!r}"
    if path[0] in SINGLETON_KEYS and path[1:] == ("persons",):
        return f"person {key!r} in {path[0]}"
    return f"key {key!r}"


def read_documents(path: Path, report: Reporter) -> list[YamlDocument]:
    """Parse the configuration at `path` (a file or a directory); problems go to `report`."""
    shown = display_path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        report.add(shown, (0, 0), "configuration file not found (use -f PATH)")
        return []
    except OSError as exc:
        report.add(shown, (0, 0), f"cannot read configuration: {exc.strerror or exc}")
        return []
    if not stat.S_ISDIR(st.st_mode):
        doc, diagnostics = load_yaml(path, key_label=key_label)
        report.extend(diagnostics)
        return [doc] if doc is not None else []
    return _read_directory(path, shown, report)


def _read_directory(path: Path, shown: str, report: Reporter) -> list[YamlDocument]:
    files: list[Path] = []
    for entry in sorted(p for p in path.iterdir() if p.suffix in CONFIG_SUFFIXES):
        if entry.is_file():
            files.append(entry)
        elif not entry.is_dir():
            # A FIFO or a device named *.yaml: never opened, it could block or never end.
            log.info("skipped %s: not a regular file", display_path(entry))
    if not files:
        report.add(shown, (0, 0), "directory holds no *.yaml or *.yml file")
        return []
    docs: list[YamlDocument] = []
    skipped: list[str] = []
    total = 0
    for file in files:
        room = MAX_TOTAL_BYTES - total
        if room < MAX_FILE_BYTES and _size(file) > room:
            report.add(
                display_path(file),
                (0, 0),
                f"the configuration's files would exceed {MAX_TOTAL_BYTES:,} bytes in all with this "
                f"one ({total:,} bytes read before it): refusing to read it",
            )
            break
        doc, diagnostics = load_yaml(file, key_label=key_label)
        total += doc.size if doc is not None else 0
        if doc is None and not _declares_collections(file):
            log.info("skipped %s: not valid YAML and declares no facesync collection", display_path(file))
            skipped.append(file.name)
            continue
        if doc is not None and not is_facesync_config(doc.data):
            log.info("skipped %s: not a facesync configuration", doc.file)
            skipped.append(file.name)
            continue
        report.extend(diagnostics)
        if doc is not None:
            docs.append(doc)
    if len(skipped) == len(files):
        report.add(
            shown,
            (0, 0),
            f"directory holds no facesync configuration (skipped {', '.join(skipped)}: a facesync "
            "file has a collection key such as 'personGroups', or 'version' and a setting)",
        )
    return docs


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # load_yaml reports it


def _declares_collections(path: Path) -> bool:
    try:
        head = read_regular_file(path, limit=1 << 20, head=True)
    except OSError:
        return True  # unreadable: keep the read error, it may well be ours
    return _COLLECTION_LINE.search(head) is not None


def merge(docs: list[YamlDocument], report: Reporter) -> list[CollectionEntry]:
    """Every collection of every document, each defined once; settings set in one file only.

    An invalid collection id is reported here, and its collection is still returned so that
    the mistakes inside it are found in the same run.
    """
    settings_at: dict[str, tuple[str, tuple[int, int]]] = {}
    collections_at: dict[tuple[CollectionKind, Any], tuple[str, tuple[int, int]]] = {}
    entries: list[CollectionEntry] = []
    for doc in docs:
        if not isinstance(doc.data, dict):
            continue
        for key in SETTING_KEYS:
            if key not in doc.data:
                continue
            pos = doc.positions.key((key,))
            if key in settings_at:
                file, (line, column) = settings_at[key]
                report.add(
                    doc.file,
                    pos,
                    f"'{key}' is already set in {file}:{line}:{column}; set it in one file only",
                )
            else:
                settings_at[key] = (doc.file, pos)
        for key, kind in COLLECTION_KEYS.items():
            collections = doc.data.get(key)
            if not isinstance(collections, dict):
                continue  # the schema check of the file reports it
            for cid, value in collections.items():
                path: YamlPath = (key, cid)
                pos = doc.positions.key(path)
                problem = id_problem(cid)
                if problem is not None:
                    report.add(doc.file, pos, problem)
                if (kind, cid) in collections_at:
                    file, (line, column) = collections_at[(kind, cid)]
                    report.add(
                        doc.file, pos, f"{kind.value} '{cid}' is already defined at {file}:{line}:{column}"
                    )
                    continue
                collections_at[(kind, cid)] = (doc.file, pos)
                entries.append(CollectionEntry(kind, cid, doc, path, value))
        for key, kind in SINGLETON_KEYS.items():
            if key not in doc.data:
                continue
            pos = doc.positions.key((key,))
            if (kind, DIRECTORY_ID) in collections_at:
                file, (line, column) = collections_at[(kind, DIRECTORY_ID)]
                report.add(doc.file, pos, f"'{key}' is already defined at {file}:{line}:{column}")
                continue
            collections_at[(kind, DIRECTORY_ID)] = (doc.file, pos)
            entries.append(CollectionEntry(kind, DIRECTORY_ID, doc, (key,), doc.data[key]))
    return entries
