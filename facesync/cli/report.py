"""What apply tells while it runs and when it ends, for one resource or several: a progress bar on
a terminal, a line per step in CI, one JSON object per line with --format json, `::error`
annotations with --format github, and the outcome of each member."""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Any

from facesync.cli.output import echo
from facesync.cli.run import label

if TYPE_CHECKING:
    from facesync.apply import ApplyEvent, ApplyResult
    from facesync.fleet import Fleet, Member
    from facesync.plan import Change

SUPERSEDED = "Nothing to apply: another apply made these changes while this one waited for the lock."


def where(change: Change) -> str:
    """The image and config line a change comes from, for messages about it."""
    from facesync.model import DesiredFace
    from facesync.plan import display_path

    parts = []
    if isinstance(change.desired, DesiredFace) and change.desired.image_path:
        parts.append(f"image {display_path(change.desired.image_path)}")
    if change.source is not None:
        parts.append(f"{change.source.file}:{change.source.line}")
    return f" ({', '.join(parts)})" if parts else ""


def _address(change: Change) -> str:
    from facesync.render.values import short_fingerprints
    from facesync.text import printable

    return printable(short_fingerprints(str(change.address)))


class Reporter:
    """Progress of one member: a bar on a terminal (one resource only), else a line per step."""

    def __init__(self, fmt: str, total: int, member: Member) -> None:
        self.name = member.name
        self.prefix = label(member.name)
        self.fmt = fmt
        self.total = total
        self.count = 0
        self.started = time.monotonic()
        self.progress: Any = None
        self.task: Any = None
        if fmt in ("text", "github") and sys.stdout.isatty() and member.name is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                TextColumn("Applying"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:.1f} changes/s"),
                TimeElapsedColumn(),
            )
            self.task = self.progress.add_task("apply", total=total, rate=0.0)
            self.progress.start()

    def event(self, event: ApplyEvent) -> None:
        from facesync.render.text import SYMBOLS
        from facesync.render.values import short_fingerprints
        from facesync.secrets import clean

        address = clean(short_fingerprints(str(event.address)))
        message = clean(event.message) if event.message else None
        if event.type == "change" or event.status in ("succeeded", "failed"):
            self.count += 1
        if self.fmt == "json":
            payload: dict[str, Any] = {
                "event": event.type,
                "status": event.status,
                "address": str(event.address),
            }
            if event.change is not None:
                payload["action"] = event.change.action.value
                data = event.change.to_dict()
                image = (data["after"] or {}).get("image")
                if image:
                    payload["image"] = image
                if "source" in data:
                    payload["source"] = data["source"]
            if event.message:
                payload["message"] = event.message
            if self.name is not None:
                payload["environment"] = self.name
            echo(json.dumps(payload, sort_keys=True))
            return
        if self.progress is not None:
            rate = self.count / max(1e-6, time.monotonic() - self.started)
            self.progress.update(self.task, completed=min(self.count, self.total), rate=rate)
            if event.status == "failed":
                origin = where(event.change) if event.change is not None else ""
                self.progress.console.print(f"failed {address}{origin}: {message}", markup=False)
            return
        symbol = SYMBOLS[event.change.action][0] if event.change is not None else "*"
        text = f"training {event.status}" if event.type == "training" else event.status
        line = f"{text:<18} {symbol} {address}"
        if message:
            line += f": {message}"
        # With --format markdown stdout is the comment: the steps are a log.
        echo(f"{self.prefix}{line}", err=self.fmt == "markdown")

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def outcome(result: ApplyResult) -> str:
    parts = [f"{len(result.done)} done", f"{len(result.failed)} failed", f"{len(result.skipped)} skipped"]
    text = "Apply complete: " if result.ok else "Apply finished with errors: "
    text += ", ".join(parts) + "."
    if result.trained:
        text += f" Trained: {', '.join(map(str, result.trained))}."
    if result.training_started:
        text += f" Training started (not waited for): {', '.join(map(str, result.training_started))}."
    return text


def _annotation(change: Change, message: str) -> str:
    """A GitHub Actions `::error` for a failed change, at its config line when it has one."""
    from facesync.render.github import annotation

    text = f"{_address(change)}{where(change)}: {message}"
    source = change.source
    if source is None:
        return annotation("error", text)
    return annotation("error", text, file=source.file, line=source.line, column=source.column)


def member_outcome(member: Member) -> tuple[str, dict[str, Any]]:
    """One member's last line, and its entry in the JSON summary."""
    entry: dict[str, Any] = {} if member.name is None else {"environment": member.name}
    if member.superseded:
        entry.update(ok=True, done=0, superseded=True)
        return SUPERSEDED, entry
    if member.result is not None:
        result = member.result
        entry.update(
            ok=result.ok,
            done=len(result.done),
            failed=len(result.failed),
            skipped=len(result.skipped),
            trained=[str(a) for a in result.trained],
            unconverged=[str(c.address) for c in result.unconverged],
            superseded=result.superseded,
        )
        return (SUPERSEDED if result.superseded else outcome(result)), entry
    if member.error is not None:
        entry.update(ok=False, error=str(member.error))
        return f"Error: {member.error}", entry
    if member.refused is not None:
        entry.update(ok=False, refused=str(member.refused))
        return f"Refused, not applied: {member.refused}", entry
    if member.stopped is not None:
        entry.update(ok=False, stopped=member.stopped)
        return member.stopped.capitalize() + ".", entry
    entry.update(ok=True, done=0)
    return "No changes.", entry


def report_outcomes(fleet: Fleet, fmt: str) -> None:
    """Failures (with annotations in github format), what did not converge, and each member's
    outcome; with --format json one summary object."""
    from facesync.text import printable

    entries: list[dict[str, Any]] = []
    for member in fleet.members:
        line, entry = member_outcome(member)
        entries.append(entry)
        prefix = label(member.name)
        if member.result is not None:
            for change, message in member.result.failed:
                echo(
                    f"Failed: {prefix}{_address(change)}{where(change)}: {printable(message)}", err=True
                )
                if fmt == "github":
                    echo(_annotation(change, printable(message)))
            for address, message in member.result.training_failed:
                echo(f"Failed: {prefix}training {address}: {printable(message)}", err=True)
                if fmt == "github":
                    from facesync.render.github import annotation

                    echo(annotation("error", f"training {address}: {printable(message)}"))
            for change in member.result.unconverged:
                echo(
                    f"Not converged: {prefix}{_address(change)} still needs {change.action.value} "
                    f"({printable(change.explanation)})",
                    err=True,
                )
        if fmt == "markdown":
            named = "" if member.name is None else f" `{member.name}`"
            echo(f"#### facesync apply{named}: {printable(line)}")
        elif fmt != "json":
            echo(f"{prefix}{printable(line)}")
    if fmt == "json":
        ok = all(e.get("ok") for e in entries)
        summary: dict[str, Any] = {"event": "summary", "ok": ok}
        if fleet.single:
            summary.update(entries[0])
            summary["message"] = member_outcome(fleet.members[0])[0]
        else:
            summary["environments"] = entries
        echo(json.dumps(summary, sort_keys=True))
