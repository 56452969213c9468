"""A workspace of config, images, probes and tests (deterministic identities), run through the CLI."""

from __future__ import annotations

import textwrap

from click.testing import Result

from tests.sync.sync_helpers import Workspace

STAFF = """
version: 1
defaults: {recognitionModel: recognition_04, detectionModel: detection_03}
personGroups:
  staff:
    name: Staff
    persons:
      Alice Smith: {faces: [images/alice/1.png, images/alice/2.png]}
      Bob Jones: {faces: [images/bob/1.png]}
faceLists:
  vip:
    name: VIP
    faces: [images/vip/ambassador.png, images/vip/consul.png]
"""

PASSING = """
tests:
  - name: front door knows Alice
    probe: probes/alice-door.png
    identify: {in: personGroup.staff, expect: Alice Smith, minConfidence: 0.7}
  - name: strangers are nobody
    probe: probes/visitor.png
    identify: {in: personGroup.staff, expect: nobody}
  - name: badge matches
    probe: probes/bob-badge.png
    verify: {person: 'personGroup.staff/person["Bob Jones"]', expect: same}
  - name: alice is not bob
    probe: probes/alice-door.png
    verify: {person: 'personGroup.staff/person["Bob Jones"]', expect: different}
  - name: lookalike search
    probe: probes/guest.png
    findSimilar: {in: faceList.vip, expect: images/vip/ambassador.png, within: 1}
  - name: group photo has 3 faces
    probe: probes/team.png
    detect: {faces: 3}
  - name: bob in the group photo
    probe: probes/team.png
    face: 1
    identify: {in: personGroup.staff, expect: Bob Jones}
  - name: alice by targetFace
    probe: probes/team.png
    targetFace: [10, 10, 120, 120]
    identify: {in: personGroup.staff, expect: Alice Smith}
"""


class Checks(Workspace):
    def staff(self) -> None:
        self.image("images/alice/1.png", 1, identity="alice")
        self.image("images/alice/2.png", 2, identity="alice")
        self.image("images/bob/1.png", 3, identity="bob")
        self.image("images/vip/ambassador.png", 4, identity="ambassador")
        self.image("images/vip/consul.png", 5, identity="consul")
        self.image("probes/alice-door.png", 11, identity="alice")
        self.image("probes/visitor.png", 12, identity="stranger")
        self.image("probes/bob-badge.png", 13, identity="bob")
        self.image("probes/guest.png", 14, identity="ambassador")
        self.image(
            "probes/team.png",
            15,
            size=(400, 300),
            faces=[(10, 10, 120, 120), (200, 20, 100, 100), (150, 200, 60, 60)],
            identity=["alice", "bob", "stranger"],
        )
        self.config(STAFF)

    def tests_file(self, text: str, name: str = "recognition.test.yaml") -> None:
        (self.root / name).write_text(textwrap.dedent(text).lstrip())

    def applied(self) -> None:
        self.staff()
        result = self.run("apply", "--auto-approve", "--rate-limit", "0")
        assert result.exit_code == 0, result.output + result.stderr

    def test(self, *args: str) -> Result:
        return self.run("test", "--rate-limit", "0", *args)
