"""Diagnostics: what validation found, and where."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Literal

from facesync.model import DesiredState

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True, order=True)
class Diagnostic:
    """One finding, at a 1-based line and column of a file (0 when it concerns the whole file).

    Diagnostics sort by file, line and column.
    """

    file: str
    line: int
    column: int
    message: str
    severity: Severity = "error"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    @property
    def location(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"

    def __str__(self) -> str:
        return f"{self.location}: {self.severity}: {self.message}"

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class _Findings:
    """Errors and warnings among `diagnostics`."""

    diagnostics: list[Diagnostic]

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]


class ConfigError(_Findings, Exception):
    """The configuration is invalid. Carries every diagnostic found (errors and warnings)."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics)
        errors = self.errors
        first = str(errors[0]) if errors else "invalid configuration"
        more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
        super().__init__(first + more)


class Reporter:
    """Collects the diagnostics of one run."""

    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []

    def add(self, file: str, pos: tuple[int, int], message: str, severity: Severity = "error") -> None:
        self.diagnostics.append(Diagnostic(file, pos[0], pos[1], message, severity))

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics.extend(diagnostics)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.diagnostics)


@dataclass(frozen=True)
class ValidationResult(_Findings):
    """What `facesync.config.validate` found: the state when valid, and every diagnostic."""

    state: DesiredState | None
    """None when there are errors."""
    diagnostics: list[Diagnostic]
    """Errors and warnings, sorted by file, line and column."""
    images_hashed: int = 0
    """Images read and hashed in this run (the others came from the stat-keyed cache)."""

    @property
    def ok(self) -> bool:
        return not self.errors
