"""GitHub Actions workflow commands (`::error file=…,line=…,col=…,title=…::message`): how CI
logs put a message on the line of a file in the pull request's diff."""

from __future__ import annotations


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(
    severity: str, message: str, *, file: str = "", line: int = 0, column: int = 0, title: str | None = None
) -> str:
    """One annotation; `severity` is error, warning or notice. Without a file, the run's log."""
    props = [f"file={_escape_property(file)}"] if file else []
    if file and line > 0:
        props += [f"line={line}", f"col={column}"] if column > 0 else [f"line={line}"]
    if title:
        props.append(f"title={_escape_property(title)}")
    head = f"::{severity} {','.join(props)}" if props else f"::{severity}"
    return f"{head}::{_escape_data(message)}"
