"""apply on a terminal: the plan is shown and approved before any lock is taken (a prompt never
holds the lock), then planned again under the lock; a plan that changed meanwhile is refused."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from facesync.lock import LOCK_ID
from tests.sync.sync_helpers import Service, Workspace, write_staff


class Prompted:
    """`facesync apply` with a terminal for its stdin, stopped at the approval prompt."""

    def __init__(self, ws: Workspace) -> None:
        self.master, slave = os.openpty()
        self.out = ws.root / "apply.out"
        with self.out.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "facesync", "apply", "--lock-poll", "0.05"],
                env={**os.environ, "FACESYNC_ENDPOINT": ws.endpoint, "NO_COLOR": "1"},
                cwd=ws.root,
                stdin=slave,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        os.close(slave)
        deadline = time.monotonic() + 120
        while "Do you want to apply these changes?" not in self.text:
            assert self.proc.poll() is None, self.text
            assert time.monotonic() < deadline, self.text
            time.sleep(0.05)

    @property
    def text(self) -> str:
        return Path(self.out).read_text()

    def answer(self, words: str) -> int:
        os.write(self.master, f"{words}\n".encode())
        code = self.proc.wait(timeout=120)
        os.close(self.master)
        return code


def _lock_exists(service: Service) -> bool:
    return service.api.get(f"/facelists/{LOCK_ID}").status_code == 200


def test_an_approved_plan_is_applied_and_the_prompt_held_no_lock(workspace: Workspace, service: Service):
    write_staff(workspace)
    prompted = Prompted(workspace)
    assert not _lock_exists(service)  # a person reading the plan blocks nobody
    assert prompted.answer("yes") == 0, prompted.text
    assert "Apply complete" in prompted.text
    assert workspace.run("plan", "--detailed-exitcode").exit_code == 0


def test_a_plan_that_changed_while_the_person_read_it_is_refused(workspace: Workspace, service: Service):
    write_staff(workspace)
    prompted = Prompted(workspace)
    # Someone creates the group the plan was going to create, in the meantime.
    service.api.put("/persongroups/staff", json={"name": "By hand", "recognitionModel": "recognition_04"})
    code = prompted.answer("yes")
    assert code == 3, prompted.text
    assert "changed while this apply waited for the lock" in prompted.text
    assert service.api.get("/persongroups/staff/persons").json() == []  # nothing was applied
    assert not _lock_exists(service)


def test_anything_but_yes_cancels(workspace: Workspace, service: Service):
    write_staff(workspace)
    prompted = Prompted(workspace)
    assert prompted.answer("no") == 1
    assert "apply cancelled; nothing was changed" in prompted.text
    assert service.writes() == 0  # the plan's image checks (detect) write nothing
