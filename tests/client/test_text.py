"""Issue 17.7 (service side): what the service says is untrusted text. Control characters, DEL,
C1 controls and bidi/format characters are shown escaped, never sent to the terminal as they are."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from facesync.text import printable
from tests.client.hostile import Peer, hostile
from tests.hardening.test_errors import one_error_line
from tests.sync.sync_helpers import Workspace, write_staff


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Staff", "Staff"),
        ("naïve café 東京 😀 e\u0301", "naïve café 東京 😀 e\u0301"),
        ("a\u00a0b\u3000c", "a\u00a0b\u3000c"),  # spaces that draw as spaces are kept
        ("\x1b]0;owned\x07", "\\x1b]0;owned\\x07"),
        ("ok\r\nfake: Apply complete", "ok\\r\\nfake: Apply complete"),
        ("tab\there", "tab\\there"),
        ("del\x7f c1\x85\x9b", "del\\x7f c1\\x85\\x9b"),
        ("invoice\u202egnp.exe", "invoice\\u202egnp.exe"),
        ("\u2066isolate\u2069 \u200bzero\u200dwidth \ufeffbom \u00adsoft", None),
        ("line\u2028para\u2029", "line\\u2028para\\u2029"),
        ("\ud800lone", "\\ud800lone"),
        ("tag\U000e0041", "tag\\U000e0041"),
    ],
)
def test_printable_escapes_what_does_not_draw(raw: str, shown: str | None):
    out = printable(raw)
    if shown is not None:
        assert out == shown
    assert out.isprintable() or all(c.isprintable() or c in "\u00a0\u3000" for c in out)
    assert printable(out) == out  # escaping is idempotent on its own output


def test_printable_of_every_bidi_control_is_visible():
    bidi = [chr(c) for c in [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]]
    for char in bidi:
        assert printable(f"a{char}b") == f"a\\u{ord(char):04x}b"


async def hostile_message(peer: Peer) -> None:
    error = {
        "error": {
            "code": "Bad\u202eArgument\x1b[2J",
            "message": "no\x1b]0;pwned\x07\r\nfake: Apply complete! 0 added\u202e",
        }
    }
    await peer.json(400, json.dumps(error).encode(), {"apim-request-id": "id\u202e\t1"})


def test_a_service_message_reaches_the_terminal_escaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    with hostile(hostile_message) as server:
        ws = Workspace(tmp_path, server.url)
        write_staff(ws)
        result = ws.run("plan", "--rate-limit", "0")
    line = one_error_line(result)
    assert "\x1b" not in result.stderr and "\r" not in result.stderr and "\u202e" not in result.stderr
    assert "fake: Apply complete" not in "".join(result.stderr.splitlines()[1:])  # not on a line of its own
    assert "Bad\\u202eArgument\\x1b[2J" in line
    assert "no\\x1b]0;pwned\\x07\\r\\nfake: Apply complete! 0 added\\u202e" in line
    assert "request id id\\u202e\\t1" in line
