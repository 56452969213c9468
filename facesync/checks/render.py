"""Test runs and audit reports as text, JSON, JUnit XML, GitHub annotations and Markdown."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

from facesync.config.errors import Diagnostic
from facesync.render.github import annotation

if TYPE_CHECKING:
    from facesync.checks.audit import AuditReport
    from facesync.checks.runner import TestResult, TestRun

TEST_MARKER = "<!-- facesync-test -->"
AUDIT_MARKER = "<!-- facesync-audit -->"
_LABEL = {"passed": "PASS", "failed": "FAIL", "error": "ERROR"}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _calls(calls: dict[str, int]) -> str:
    return ", ".join(f"{n} {op}" for op, n in sorted(calls.items()))


def test_summary(run: TestRun) -> str:
    return (
        f"{_plural(len(run.results), 'test')}: {run.count('passed')} passed, {run.count('failed')} failed, "
        f"{_plural(run.count('error'), 'error')}; {_plural(run.transactions, 'transaction')}"
        + (f" ({_calls(run.calls)})" if run.calls else "")
    )


def _github_annotation(d: Diagnostic, title: str | None = None) -> str:
    return annotation(d.severity, d.message, file=d.file, line=d.line, column=d.column, title=title)


# -- tests ------------------------------------------------------------------------------------


def render_tests_text(run: TestRun) -> str:
    lines: list[str] = []
    for r in run.results:
        lines.append(f"{_LABEL[r.outcome]:<5} {r.name}  ({r.pos.file}:{r.pos.line})")
        if not r.passed:
            lines.append(f"      {'expected:':<9} {r.expected}")
            label = "got:" if r.outcome == "failed" else "error:"
            lines.append(f"      {label:<9} {r.actual}")
    lines.append(test_summary(run))
    return "\n".join(lines) + "\n"


def _result_dict(r: TestResult) -> dict[str, Any]:
    return {
        "name": r.name,
        "kind": r.kind,
        "outcome": r.outcome,
        "expected": r.expected,
        "actual": r.actual,
        "file": r.pos.file,
        "line": r.pos.line,
        "column": r.pos.column,
    }


def render_tests_json(run: TestRun) -> str:
    body = {
        "tests": [_result_dict(r) for r in run.results],
        "summary": {
            "total": len(run.results),
            "passed": run.count("passed"),
            "failed": run.count("failed"),
            "errors": run.count("error"),
        },
        "transactions": run.transactions,
        "calls": dict(sorted(run.calls.items())),
    }
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def render_tests_junit(run: TestRun, suite: str = "facesync test") -> str:
    """JUnit XML as CI test reports read it: one testsuite, a testcase per test, `failure` for a
    failed expectation and `error` for a test that could not be judged."""
    counts = {
        "tests": str(len(run.results)),
        "failures": str(run.count("failed")),
        "errors": str(run.count("error")),
        "skipped": "0",
    }
    root = ET.Element("testsuites", {"name": suite, **counts})
    suite_el = ET.SubElement(root, "testsuite", {"name": suite, **counts})
    props = ET.SubElement(suite_el, "properties")
    ET.SubElement(props, "property", {"name": "transactions", "value": str(run.transactions)})
    for r in run.results:
        case = ET.SubElement(
            suite_el,
            "testcase",
            {"name": r.name, "classname": r.pos.file, "file": r.pos.file, "line": str(r.pos.line)},
        )
        if r.outcome != "passed":
            tag = "failure" if r.outcome == "failed" else "error"
            element = ET.SubElement(
                case, tag, {"message": f"expected {r.expected}; got {r.actual}", "type": r.kind}
            )
            element.text = f"{r.pos.file}:{r.pos.line}: expected {r.expected}\ngot {r.actual}\n"
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def render_tests_github(run: TestRun) -> str:
    """Workflow commands: an error annotation at each failed or erroring test, then the summary."""
    lines = []
    for r in run.results:
        if r.passed:
            continue
        verb = "got" if r.outcome == "failed" else "error"
        d = Diagnostic(r.pos.file, r.pos.line, r.pos.column, f"expected {r.expected}; {verb}: {r.actual}")
        lines.append(_github_annotation(d, title=f"facesync test: {r.name}"))
    lines.append(test_summary(run))
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_tests_markdown(run: TestRun, title: str = "facesync test") -> str:
    ok = run.ok
    lines = [
        TEST_MARKER,
        f"### {title}: {'all passed' if ok else 'failures'} {'✅' if ok else '❌'}",
        "",
        test_summary(run) + ".",
        "",
        "| | test | expected | got | where |",
        "|---|---|---|---|---|",
    ]
    icons = {"passed": "✅", "failed": "❌", "error": "⚠️"}
    for r in run.results:
        lines.append(
            f"| {icons[r.outcome]} | {_cell(r.name)} | {_cell(r.expected)} | {_cell(r.actual)} "
            f"| `{r.pos.file}:{r.pos.line}` |"
        )
    return "\n".join(lines) + "\n"


TEST_RENDERERS = {
    "text": render_tests_text,
    "json": render_tests_json,
    "junit": render_tests_junit,
    "github": render_tests_github,
    "markdown": render_tests_markdown,
}


# -- audit ------------------------------------------------------------------------------------


def audit_summary(report: AuditReport) -> str:
    errors, warnings = report.count("error"), report.count("warning")
    return (
        f"Audit: {_plural(report.images, 'image')} of {_plural(report.persons, 'person')} reviewed; "
        f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}; "
        f"{_plural(report.transactions, 'transaction')}"
        + (f" ({_calls(report.calls)})" if report.calls else "")
    )


def render_audit_text(report: AuditReport) -> str:
    lines = [str(f.diagnostic) + f" [{f.check}]" for f in report.findings]
    lines.append(audit_summary(report))
    return "\n".join(lines) + "\n"


def render_audit_json(report: AuditReport) -> str:
    body = {
        "findings": [
            {**f.diagnostic.to_dict(), "check": f.check, "image": f.image, "collection": f.collection}
            for f in report.findings
        ],
        "images": report.images,
        "persons": report.persons,
        "transactions": report.transactions,
        "calls": dict(sorted(report.calls.items())),
    }
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def render_audit_github(report: AuditReport) -> str:
    lines = [_github_annotation(f.diagnostic, title=f"facesync audit: {f.check}") for f in report.findings]
    lines.append(audit_summary(report))
    return "\n".join(lines) + "\n"


def render_audit_markdown(report: AuditReport, title: str = "facesync audit") -> str:
    errors = report.count("error")
    lines = [
        AUDIT_MARKER,
        f"### {title}: " + ("no errors ✅" if not errors else f"{_plural(errors, 'error')} ❌"),
        "",
        audit_summary(report) + ".",
        "",
    ]
    if report.findings:
        lines += ["| | check | finding | where |", "|---|---|---|---|"]
        for f in report.findings:
            icon = "❌" if f.diagnostic.is_error else "⚠️"
            d = f.diagnostic
            lines.append(f"| {icon} | {f.check} | {_cell(d.message)} | `{d.location}` |")
    return "\n".join(lines) + "\n"


AUDIT_RENDERERS = {
    "text": render_audit_text,
    "json": render_audit_json,
    "github": render_audit_github,
    "markdown": render_audit_markdown,
}

