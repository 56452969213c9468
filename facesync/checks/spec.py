"""The recognition test format and its loader.

Tests live in a `tests:` list of a config file or in `*.test.yaml` files (a mapping with one key,
`tests:`). Each test names a probe image and one expectation: identify, verify, findSimilar or
detect. Every problem is reported at its file:line:column; nothing here calls the service.

`check_tests` validates one `tests:` list at a YAML position; `facesync validate` and the loader
share it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from facesync.config.errors import Diagnostic, Reporter
from facesync.config.imagepaths import ImagePaths
from facesync.config.images import MAX_IMAGE_BYTES
from facesync.config.loader import YamlDocument, YamlPath, display_path, load_yaml
from facesync.config.models import SCHEMA_DRAFT
from facesync.config.schema import schema_check
from facesync.config.shape import Shape, Validator, after, field
from facesync.localfiles import regular_file_stat
from facesync.model import SourcePos

TEST_FILE_SUFFIXES = (".test.yaml", ".test.yml")
NOBODY = "nobody"
SCHEMA_ID = "https://facesync.dev/schemas/tests.schema.json"
EXPECTATIONS = ("identify", "verify", "findSimilar", "detect")

Kind = Literal["identify", "verify", "findSimilar", "detect"]


DIRECTORY_MODEL_HELP = (
    "For the personDirectory and its groups: the enrolled model to detect the probe with "
    "(default: the newest of personDirectory.recognitionModels)."
)


class IdentifySpec(Shape):
    """Identify the probe's face in a person group, a DynamicPersonGroup or the whole
    PersonDirectory: the best candidate, or nobody."""

    in_: str = field(
        alias="in",
        description="personGroup.ID, largePersonGroup.ID, dynamicPersonGroup.ID or personDirectory.",
    )
    expect: str = field(min_length=1, description=f"A person's name, or '{NOBODY}'.")
    min_confidence: float | None = field(
        None, alias="minConfidence", ge=0, le=1, description="Lowest confidence that passes."
    )
    recognition_model: str | None = field(None, alias="recognitionModel", description=DIRECTORY_MODEL_HELP)


class VerifySpec(Shape):
    """Verify the probe's face against one person of a group or of the PersonDirectory."""

    person: str = field(
        description='personGroup.ID/person["Name"] (or largePersonGroup), or personDirectory/person["Name"].'
    )
    expect: Literal["same", "different"] = "same"
    min_confidence: float | None = field(None, alias="minConfidence", ge=0, le=1)
    recognition_model: str | None = field(None, alias="recognitionModel", description=DIRECTORY_MODEL_HELP)


class FindSimilarSpec(Shape):
    """Find faces like the probe's in a (large) face list: the expected image among the first N."""

    in_: str = field(alias="in", description="faceList.ID or largeFaceList.ID.")
    expect: str = field(min_length=1, description="An image of that list, relative to this YAML file.")
    within: int = field(1, ge=1, le=1000, description="Rank the image must reach (1 = first).")
    mode: Literal["matchPerson", "matchFace"] = field(
        "matchPerson", description="matchPerson keeps only the same person; matchFace ranks all."
    )


class DetectSpec(Shape):
    """Count the faces the service detects in the probe."""

    faces: int = field(ge=0, le=100, description="How many faces the probe holds.")


class TestSpec(Shape):
    """One recognition test: a probe image and exactly one expectation."""

    __test__ = False  # not a pytest test class

    shape_title = "Recognition test"
    shape_schema_extra: ClassVar[dict[str, Any]] = {"oneOf": [{"required": [k]} for k in EXPECTATIONS]}

    name: str = field(min_length=1, description="Shown in reports; --filter matches it.")
    probe: str = field(min_length=1, description="Image file, relative to this YAML file.")
    face: int | None = field(
        None, ge=0, description="Which detected face to use (0 = the largest) when there are several."
    )
    target_face: tuple[int, int, int, int] | None = field(
        None, alias="targetFace", description="Face rectangle [left, top, width, height] to use."
    )
    identify: IdentifySpec | None = None
    verify: VerifySpec | None = None
    find_similar: FindSimilarSpec | None = field(None, alias="findSimilar")
    detect: DetectSpec | None = None

    @after()
    def _one_expectation(self) -> TestSpec:
        given = [k for k in EXPECTATIONS if self.expectation(k) is not None]
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            raise ValueError(f"a test needs exactly one of {', '.join(EXPECTATIONS)} (found {found})")
        if self.face is not None and self.target_face is not None:
            raise ValueError("give either face or targetFace, not both")
        if self.detect is not None and (self.face is not None or self.target_face is not None):
            raise ValueError("a detect test counts every face: face and targetFace do not apply")
        return self

    def expectation(self, kind: str) -> Shape | None:
        value: Shape | None = {
            "identify": self.identify,
            "verify": self.verify,
            "findSimilar": self.find_similar,
            "detect": self.detect,
        }[kind]
        return value

    @property
    def kind(self) -> Kind:
        for k in EXPECTATIONS:
            if self.expectation(k) is not None:
                return k  # type: ignore[return-value]
        raise AssertionError("validated: one expectation")  # pragma: no cover


class TestFileModel(Shape):
    """A `*.test.yaml` file: recognition tests kept beside the configuration."""

    __test__ = False  # not a pytest test class

    shape_title = "facesync recognition tests"

    tests: list[TestSpec] = field(description="Recognition tests run by `facesync test`.")


@dataclass(frozen=True, slots=True)
class ProbeTest:
    spec: TestSpec
    pos: SourcePos
    """Where the test starts (its `- name:` entry)."""
    probe_path: str
    """Absolute path of the probe image."""
    base_dir: str
    """The directory of the YAML file: findSimilar's `expect` is relative to it."""

    @property
    def name(self) -> str:
        return self.spec.name


_TEST = Validator(TestSpec)


@dataclass(frozen=True, slots=True)
class ProbeRoot:
    """Where probe images may be: inside `paths.root` (symlinks followed), unless the configuration
    says `allowImagesOutsideRoot: true`. A pull request must not make `facesync test` upload
    `/etc/passwd` or `../elsewhere` to the Face resource, any more than a config image."""

    paths: ImagePaths
    allow_outside: bool = False

    def problem(self, written: str, probe: str) -> str | None:
        """Why the probe `probe` (absolute; written as `written`) may not be read, or None."""
        if "\0" in probe:
            return f"probe {written!r} holds a NUL character, which no file name can"
        if not self.allow_outside and not self.paths.inside_root(probe):
            where = display_path(Path(self.paths.root))
            return (
                f"probe '{written}' resolves outside the configuration root '{where}': keep probes "
                "inside it, pass --root, or set 'allowImagesOutsideRoot: true'"
            )
        try:
            st = regular_file_stat(probe)
        except FileNotFoundError:
            return f"probe '{written}' does not exist"
        except OSError as exc:
            return f"cannot read probe '{written}': {exc.strerror or exc}"
        if st.st_size > MAX_IMAGE_BYTES:
            return (
                f"probe '{written}' is {st.st_size / 2**20:.1f} MB; the Face API accepts at most "
                f"6 MB ({MAX_IMAGE_BYTES:,} bytes)"
            )
        return None


def check_tests(
    data: Any, doc: YamlDocument, path: YamlPath, report: Reporter, root: ProbeRoot | None = None
) -> list[ProbeTest]:
    """Validate the `tests:` list found at `path` in `doc`; problems go to `report` at their
    positions. Returns the valid tests (one bad test does not hide the others' problems).
    `root`: where probes may be (default: the folder of `doc`)."""
    if root is None:
        root = ProbeRoot(ImagePaths(doc.path.parent))
    if not isinstance(data, list):
        report.add(doc.file, doc.positions.value(path), "'tests' must be a list of tests")
        return []
    tests: list[ProbeTest] = []
    names: dict[str, tuple[int, int]] = {}
    base = str(doc.path.parent)
    for i, item in enumerate(data):
        item_path = (*path, i)
        name = item.get("name") if isinstance(item, dict) else None
        if isinstance(name, str):
            name_pos = doc.positions.value((*item_path, "name"))
            if name in names:
                line, column = names[name]
                report.add(
                    doc.file, name_pos, f"test {name!r} is already defined at line {line}, column {column}"
                )
            names.setdefault(name, name_pos)
        spec = schema_check(_TEST, item, doc, item_path, report)
        if spec is None:
            continue
        pos = doc.positions.value(item_path)
        probe = ImagePaths.join(base, spec.probe)
        problem = root.problem(spec.probe, probe)
        if problem is not None:
            report.add(doc.file, doc.positions.value((*item_path, "probe")), problem)
            continue
        tests.append(ProbeTest(spec, SourcePos(doc.file, *pos), probe, base))
    return tests


def is_test_file(path: Path) -> bool:
    return path.name.endswith(TEST_FILE_SUFFIXES)


def _test_files(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.is_file() and is_test_file(p)))
        else:
            files.append(path)
    return files


def load_tests(
    config_path: Path, paths: Sequence[Path] = (), *, root: Path | None = None
) -> tuple[list[ProbeTest], list[Diagnostic]]:
    """Every test: the `tests:` lists of the configuration's files, then the test files.

    `paths` (files, or directories whose `*.test.yaml` files are read) replaces the default, the
    `*.test.yaml` files beside the configuration. Probes must lie inside `root` (default: the
    configuration's folder, as for its images) unless the configuration allows images outside it.
    """
    from facesync.config.sources import read_documents

    report = Reporter()
    tests: list[ProbeTest] = []
    config_docs = read_documents(config_path, report)
    folder = config_path if config_path.is_dir() else config_path.parent
    probes = ProbeRoot(
        ImagePaths(root if root is not None else folder),
        any(isinstance(d.data, dict) and d.data.get("allowImagesOutsideRoot") is True for d in config_docs),
    )
    for config_doc in config_docs:
        if isinstance(config_doc.data, dict) and "tests" in config_doc.data:
            tests.extend(check_tests(config_doc.data["tests"], config_doc, ("tests",), report, probes))
    for file in _test_files(paths or [folder]):
        doc, diagnostics = load_yaml(file)
        report.extend(diagnostics)
        if doc is None:
            continue
        if not isinstance(doc.data, dict):
            report.add(doc.file, (1, 1), "a test file is a mapping with one key, 'tests'")
            continue
        for key in doc.data:
            if key != "tests":
                report.add(
                    doc.file,
                    doc.positions.key((key,)),
                    f"unknown key {key!r}: a test file holds only 'tests'",
                )
        if "tests" not in doc.data:
            report.add(doc.file, (1, 1), "a test file is a mapping with one key, 'tests'")
            continue
        tests.extend(check_tests(doc.data["tests"], doc, ("tests",), report, probes))
    seen: dict[str, SourcePos] = {}
    for test in tests:
        first = seen.setdefault(test.name, test.pos)
        if first is not test.pos and first.file != test.pos.file:
            where = (test.pos.line, test.pos.column)
            report.add(test.pos.file, where, f"test {test.name!r} is already defined at {first}")
    return tests, sorted(report.diagnostics)


def json_schema() -> dict[str, Any]:
    schema = Validator(TestFileModel).json_schema()
    schema["$schema"] = SCHEMA_DRAFT
    schema["$id"] = SCHEMA_ID
    return schema


def json_schema_text() -> str:
    """The JSON Schema as committed in `schemas/tests.schema.json`."""
    return json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
