"""YAML loading that remembers where every key and value was written.

PyYAML's loaders keep the last of two equal keys without a word; this loader reports the
second one instead. Values are plain Python data (dict, list, str, int, float, bool, None);
`Positions` maps each path (a tuple of keys and list indexes) to 1-based line and column.
Nothing is expanded here: a `${VAR}` is text (see `facesync.config.env`); the loader only notes
where string values hold one, for the configuration to warn about.

Hostile input is refused with one clear diagnostic: a file that is not a regular file (a FIFO
or a device would block or never end), a file larger than MAX_FILE_BYTES (checked before it is
read), bytes that are not UTF-8 (at their real line and column), aliases that expand beyond a
small budget (an "alias bomb" of a few hundred bytes would otherwise build gigabytes), nesting
deeper than MAX_DEPTH, and numbers too long to convert.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError

from facesync.config.errors import Diagnostic
from facesync.localfiles import FileTooLarge, NotRegularFile, read_regular_file

log = logging.getLogger(__name__)

UNREADABLE = "cannot read value"
"""How the diagnostic of a value the loader could not build starts: later checks of that value (it
became None) are noise beside it."""

# libyaml's composer when PyYAML was built with it: several times faster on big configs.
_COMPOSER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

YamlPath = tuple[Any, ...]
Pos = tuple[int, int]
KeyLabel = Callable[[YamlPath, Any], str]

# Aliases may repeat a mapping (`<<: *defaults` on each person), but not multiply it: past these
# budgets a document is refused rather than built.
MAX_ALIAS_USES = 10_000
MAX_ALIAS_NODES = 100_000
"""Nodes that alias expansion may add beyond the document's own nodes."""
MAX_DEPTH = 64
"""Nesting levels; a facesync config needs about eight."""
MAX_FILE_BYTES = 8 * 2**20
"""One YAML file: about 100,000 persons written one per line. Parsing costs about half a second and
70 MB of memory per MB of YAML, so the cap bounds both before the first byte is parsed."""

_MERGE_TAG = "tag:yaml.org,2002:merge"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_STR_TAG = "tag:yaml.org,2002:str"


@dataclass(slots=True)
class Positions:
    """Where each mapping key and each value of one YAML document starts."""

    values: dict[YamlPath, Pos] = field(default_factory=dict)
    keys: dict[YamlPath, Pos] = field(default_factory=dict)

    def value(self, path: YamlPath) -> Pos:
        """Start of the value at `path`, or of the nearest enclosing value that was recorded."""
        for i in range(len(path), -1, -1):
            pos = self.values.get(path[:i])
            if pos is not None:
                return pos
        return (1, 1)

    def key(self, path: YamlPath) -> Pos:
        """Start of the key that names `path` (falls back to the value's start)."""
        pos = self.keys.get(path)
        return pos if pos is not None else self.value(path)


@dataclass(slots=True)
class YamlDocument:
    file: str
    """The file as shown in messages (relative to the working directory when inside it)."""
    path: Path
    """Absolute path."""
    data: Any
    positions: Positions
    dollar_braces: list[YamlPath] = field(default_factory=list)
    """Paths of the string values that hold `${` (text, never expanded: see facesync.config.env)."""
    size: int = 0
    """Bytes read."""
    folder: str = ""
    """The file's folder as text (image paths are relative to it; text is what os.path wants)."""

    def __post_init__(self) -> None:
        self.folder = str(self.path.parent)


def display_path(path: Path) -> str:
    """`path` relative to the working directory when it lies inside it, else absolute."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


def _pos(node: Node) -> Pos:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _describe_key(path: YamlPath, key: Any) -> str:
    return f"key {key!r}"


class _Refused(Exception):
    """The document is refused as a whole (too big once expanded, too deep)."""

    def __init__(self, pos: Pos, message: str) -> None:
        super().__init__(message)
        self.pos = pos


class _DepthGuardedLoader(yaml.SafeLoader):
    """The pure-Python scanner, refusing nesting deeper than MAX_DEPTH as soon as it reads it.

    Used when the fast parser fails: parsers have depth limits of their own (PyYAML 6.0.4 stops at
    about 1,000 levels, with its own wording), and a document refused for its depth must get
    facesync's message at the level where it went too deep, whatever the parser's limit."""

    def _nesting(self) -> int:
        # Open block collections (indents below the current one) plus open flow collections.
        return len(self.indents) + self.flow_level

    def _guard(self) -> None:
        if self._nesting() > MAX_DEPTH:
            mark = self.get_mark()
            raise _Refused(
                (mark.line + 1, mark.column + 1),
                f"YAML nests deeper than {MAX_DEPTH} levels; refusing the document",
            )

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        self._guard()
        super().fetch_flow_collection_start(TokenClass)

    def add_indent(self, column: int) -> bool:
        self._guard()
        return bool(super().add_indent(column))


def _compose(text: str) -> Node | None:
    """The document's node tree; `_Refused` when it nests too deeply, YAMLError when it is not YAML."""
    try:
        node: Node | None = yaml.compose(text, Loader=_COMPOSER)
        return node
    except (yaml.YAMLError, RecursionError) as fast_failure:
        if _COMPOSER is yaml.SafeLoader and not isinstance(fast_failure, RecursionError):
            raise
        # Read it again with the guarded scanner: a depth facesync refuses is reported as such;
        # anything else is the parser's own error, as the fast parser would have said.
        try:
            guarded: Node | None = yaml.compose(text, Loader=_DepthGuardedLoader)
        except (yaml.YAMLError, RecursionError):
            raise fast_failure from None
        return guarded


class _Builder:
    def __init__(self, file: str, key_label: KeyLabel) -> None:
        self.file = file
        self.key_label = key_label
        self.positions = Positions()
        self.dollar_braces: list[YamlPath] = []
        self.diagnostics: list[Diagnostic] = []
        self.constructor = SafeConstructor()
        self._active: set[int] = set()
        self._seen: set[int] = set()
        self._alias_uses = 0
        self._alias_nodes = 0
        self._expanding = 0
        """Depth of alias expansion we are inside (0: building the document's own nodes)."""

    def error(self, pos: Pos, message: str) -> None:
        self.diagnostics.append(Diagnostic(self.file, pos[0], pos[1], message))

    def scalar(self, node: ScalarNode, path: YamlPath | None = None) -> Any:
        """The value of `node`; `path` is where it sits (None for a mapping key)."""
        if node.tag == _TIMESTAMP_TAG:
            return node.value  # a date-looking value stays text
        if node.tag == _STR_TAG:
            value: Any = node.value
        else:
            try:
                value = self.constructor.construct_object(node)
            except yaml.YAMLError as exc:
                self.error(_pos(node), f"{UNREADABLE}: {getattr(exc, 'problem', exc)}")
                return None
            except ValueError:
                # Python converts at most 4,300 decimal digits (sys.int_info.str_digits_check_threshold).
                digits = sum(c.isdigit() for c in node.value)
                self.error(_pos(node), f"{UNREADABLE}: a number of {digits:,} digits is too long")
                return None
        if path is not None and isinstance(value, str) and "${" in value:
            self.dollar_braces.append(path)
        return value

    def _count(self, node: Node) -> bool:
        """Account for building `node`; True when it is an alias of a mapping or sequence."""
        if self._expanding:
            self._alias_nodes += 1
            if self._alias_nodes > MAX_ALIAS_NODES:
                raise _Refused(
                    _pos(node),
                    f"YAML aliases expand to more than {MAX_ALIAS_NODES:,} values; "
                    "refusing to build the document (an alias bomb?)",
                )
        if isinstance(node, ScalarNode):
            return False
        if id(node) not in self._seen:
            self._seen.add(id(node))
            return False
        self._alias_uses += 1
        if self._alias_uses > MAX_ALIAS_USES:
            raise _Refused(
                _pos(node),
                f"more than {MAX_ALIAS_USES:,} uses of YAML aliases; refusing to build the document",
            )
        return True

    def build(self, node: Node, path: YamlPath) -> Any:
        if len(path) > MAX_DEPTH:
            raise _Refused(_pos(node), f"YAML nests deeper than {MAX_DEPTH} levels; refusing the document")
        self.positions.values[path] = _pos(node)
        alias = self._count(node)
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if id(node) in self._active:
            self.error(_pos(node), "recursive YAML alias")
            return None
        self._active.add(id(node))
        self._expanding += alias
        try:
            if isinstance(node, SequenceNode):
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            if isinstance(node, MappingNode):
                return self.mapping(node, path)
        finally:
            self._active.discard(id(node))
            self._expanding -= alias
        self.error(_pos(node), f"unsupported YAML node {node.tag}")  # pragma: no cover
        return None

    def mapping(self, node: MappingNode, path: YamlPath) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        first_seen: dict[Any, Pos] = {}
        merged: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                for source in sources:
                    if not isinstance(source, MappingNode):
                        self.error(_pos(source), "a '<<' merge needs a mapping")
                        continue
                    alias = self._count(source)
                    self._expanding += alias
                    try:
                        for k, v in self.mapping(source, path).items():
                            merged.setdefault(k, v)
                    finally:
                        self._expanding -= alias
                self.positions.values[path] = _pos(node)
                continue
            if not isinstance(key_node, ScalarNode):
                self.error(_pos(key_node), "a mapping key must be a plain value")
                continue
            key = self.scalar(key_node)
            if key in first_seen:
                line, column = first_seen[key]
                self.error(
                    _pos(key_node),
                    f"duplicate {self.key_label(path, key)} (first defined at line {line}, "
                    f"column {column}); YAML keeps only one of them",
                )
                continue
            first_seen[key] = _pos(key_node)
            self.positions.keys[(*path, key)] = _pos(key_node)
            result[key] = self.build(value_node, (*path, key))
        for k, v in merged.items():
            result.setdefault(k, v)
        return result


def _line_column(text: str, index: int) -> Pos:
    """1-based line and column of character `index` in `text`."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def load_yaml(
    path: Path, *, key_label: KeyLabel = _describe_key, limit: int = MAX_FILE_BYTES
) -> tuple[YamlDocument | None, list[Diagnostic]]:
    """Parse one YAML file. Returns the document (None when it cannot be parsed) and diagnostics.

    `limit`: the most bytes the file may hold (checked before it is read)."""
    file = display_path(path)
    try:
        data = read_regular_file(path, limit=limit)
    except FileTooLarge as exc:
        return None, [Diagnostic(file, 0, 0, too_large(exc.size, limit))]
    except NotRegularFile as exc:
        return None, [
            Diagnostic(file, 0, 0, f"cannot read file: {exc.strerror}: a configuration must be a plain file")
        ]
    except OSError as exc:
        return None, [Diagnostic(file, 0, 0, f"cannot read file: {exc.strerror or exc}")]
    log.debug("read %s (%d bytes)", file, len(data))
    # One command reads a file up to three times (its collections, its environments, its tests):
    # the same bytes are parsed once. Keyed by content, never by a timestamp a quick edit keeps.
    # The name shown (relative to the working directory) is part of the key: it is in the document.
    key = (str(path.resolve()), file, key_label, hashlib.sha256(data).digest())
    parsed = _PARSED.get(key)
    if parsed is None:
        doc, found = _parse(path, file, data, key_label)
        parsed = (doc, tuple(found))
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[key] = parsed
    doc, diagnostics = parsed
    return doc, list(diagnostics)


_PARSED: dict[tuple[str, str, KeyLabel, bytes], tuple[YamlDocument | None, tuple[Diagnostic, ...]]] = {}
"""Documents parsed in this process, by file and content (they are read, never changed)."""
_PARSED_MAX = 64


def _parse(
    path: Path, file: str, data: bytes, key_label: KeyLabel
) -> tuple[YamlDocument | None, list[Diagnostic]]:
    try:
        text = codecs.decode(data, "utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start].decode("utf-8", errors="replace").lstrip("\ufeff")
        line, column = _line_column(before, len(before))
        bad = data[exc.start : exc.end].hex(" ")
        return None, [
            Diagnostic(
                file,
                line,
                column,
                f"not valid UTF-8: byte(s) {bad} at byte offset {exc.start} (save the file as UTF-8)",
            )
        ]
    try:
        node = _compose(text)
    except _Refused as exc:
        return None, [Diagnostic(file, exc.pos[0], exc.pos[1], str(exc))]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        parts = [p for p in (exc.context, exc.problem) if p]
        return None, [Diagnostic(file, line, column, "YAML syntax error: " + ", ".join(parts))]
    except ReaderError as exc:
        line, column = _line_column(text, exc.position)
        # Our own words: the parser's differ between its C and Python readers and versions.
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        return None, [
            Diagnostic(file, line, column, f"YAML error: control characters are not allowed (U+{code:04X})")
        ]
    except yaml.YAMLError as exc:
        return None, [Diagnostic(file, 1, 1, f"YAML error: {exc}")]
    except RecursionError:
        return None, [Diagnostic(file, 1, 1, "YAML error: the document nests too deeply")]
    builder = _Builder(file, key_label)
    try:
        built = None if node is None else builder.build(node, ())
    except _Refused as exc:
        return None, [Diagnostic(file, exc.pos[0], exc.pos[1], str(exc))]
    except RecursionError:
        return None, [Diagnostic(file, 1, 1, "YAML error: the document nests too deeply")]
    document = YamlDocument(file, path.resolve(), built, builder.positions, builder.dollar_braces, len(data))
    return document, builder.diagnostics


def too_large(size: int, limit: int) -> str:
    """Why a file is refused for its size."""
    return (
        f"the file is {size / 2**20:.1f} MB ({size:,} bytes); a configuration file may be at most "
        f"{limit / 2**20:g} MB ({limit:,} bytes): refusing to read it"
    )
