"""Only verified bytes are parsed (§6.4 item 2), with --chain and --trusted-ref too.

`verify --chain` parsed every link (its statement JSON and schema) even after its
signature check failed, and with --trusted-ref read every link's claimed commit before
any check; `verify --trusted-ref` parsed REPORT's claimed commit before its signature
was looked at. An 80 MB unsigned link cost 73 s and 9.5 GB (a hunter's find, issue 18
thirty-first pass). A spy on the statement parser counts what reaches it: the payload of
a link or report that does not verify never does.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from helpers_audit import (
    Cli,
    add_run,
    commit_all,
    envelope_bytes,
    git,
    m,
    new_repo,
    run_cli,
    write,
)

from expflow_git.report import verify as verify_mod
from expflow_git.report.dsse import Envelope


def _payload(report: Path) -> bytes:
    return base64.b64decode(json.loads(report.read_bytes())["payload"])


@pytest.fixture
def parsed() -> list[bytes]:
    """The payloads the statement parser is handed, in order, once `_spy` is installed
    (after the audits: `audit --previous` reads its previous report)."""
    return []


def _spy(monkeypatch: pytest.MonkeyPatch, parsed: list[bytes]) -> None:
    real = verify_mod._statement

    def spy(envelope: Envelope, source: str) -> dict[str, object]:
        parsed.append(envelope.payload)
        return real(envelope, source)

    monkeypatch.setattr(verify_mod, "_statement", spy)


class Setup:
    """main: C0, then C1 adding the CI key, then C2; reports of C0 (seq 0) and C2 (seq
    1), each signed by the CI key unless told."""

    def __init__(self, cli: Cli, root: Path) -> None:
        self.cli = cli
        self.repo = new_repo(root / "repo")
        (self.repo / ".git" / "info" / "exclude").write_text("chain/\n")
        add_run(self.repo, "a", m(50))
        self.c0 = commit_all(self.repo, "C0", date="2026-11-20T10:00:00+00:00")
        self.key = root / "ci"
        assert run_cli(["keygen", "--out", str(self.key)], self.repo).code == 0
        self.other = root / "other"
        assert run_cli(["keygen", "--out", str(self.other)], self.repo).code == 0
        self.pub = Path(f"{self.key}.pub")
        self.chain = self.repo / "chain"
        self.chain.mkdir()

    def trust_ci_at_base(self) -> None:
        """A branch `base` off C0 whose `.expflow/keys/` holds the CI key (for --trusted-ref)."""
        git(self.repo, "switch", "-q", "-c", "base")
        write(self.repo, ".expflow/keys/ci.pub", self.pub.read_bytes())
        commit_all(self.repo, "trust CI", date="2026-11-21T10:00:00+00:00")
        git(self.repo, "switch", "-q", "main")

    def audit(self, out: Path, *args: str, key: Path | None) -> Path:
        sign = ["--sign-key", str(key)] if key else []
        res = self.cli(["audit", "--out", str(out), *args, *sign], self.repo)
        assert res.code == 0, res
        return out


def test_an_unsigned_chain_link_is_not_parsed(
    xcli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parsed: list[bytes]
) -> None:
    s = Setup(xcli, tmp_path)
    r0 = s.audit(s.chain / "r0.json", key=s.key)
    add_run(s.repo, "b", m(60))
    commit_all(s.repo, "C1", date="2026-11-21T10:00:00+00:00")
    r1 = s.audit(s.chain / "r1.json", "--previous", str(r0), key=None)
    _spy(monkeypatch, parsed)
    args = ["verify", str(r0), "--public-key", str(s.pub), "--chain", str(s.chain)]
    res = xcli([*args, "--repo", "."], s.repo)
    assert res.code == 1, res.out
    assert "FAIL chain: r1.json: signature: report is UNSIGNED" in res.out, res.out
    assert res.out.rstrip().endswith("VERIFICATION FAILED")
    assert _payload(r0) in parsed  # the verified ones are read
    assert _payload(r1) not in parsed
    # accepted explicitly, it is read and the chain verifies
    parsed.clear()
    res = xcli([*args, "--repo", ".", "--allow-unsigned"], s.repo)
    assert res.code == 0, res.out
    assert _payload(r1) in parsed


def test_an_unsigned_report_is_not_placed_in_the_chain_unread(
    xcli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parsed: list[bytes]
) -> None:
    """REPORT itself was parsed to place it in the chain, its signature failed or not."""
    s = Setup(xcli, tmp_path)
    r0 = s.audit(s.chain / "r0.json", key=s.key)
    add_run(s.repo, "b", m(60))
    commit_all(s.repo, "C1", date="2026-11-21T10:00:00+00:00")
    head = s.audit(tmp_path / "head.json", "--previous", str(r0), key=None)
    _spy(monkeypatch, parsed)
    args = ["verify", str(head), "--public-key", str(s.pub), "--chain", str(s.chain)]
    res = xcli([*args, "--repo", "."], s.repo)
    assert res.code == 1, res.out
    assert "FAIL signature: report is UNSIGNED" in res.out, res.out
    assert "FAIL chain: REPORT is not verified, so it is not placed in the chain" in res.out
    assert _payload(r0) in parsed
    assert _payload(head) not in parsed


def test_a_wrongly_signed_link_under_a_trusted_ref_is_not_parsed(
    xcli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parsed: list[bytes]
) -> None:
    """With --trusted-ref every link's claimed commit was read before anything was
    checked; a link no candidate key verifies is now never parsed."""
    s = Setup(xcli, tmp_path)
    s.trust_ci_at_base()
    r0 = s.audit(s.chain / "r0.json", key=s.other)  # a key nobody trusts
    add_run(s.repo, "b", m(60))
    commit_all(s.repo, "C2", date="2026-11-22T10:00:00+00:00")
    other_pub = f"{s.other}.pub"  # (the audit refuses a link its own key cannot verify)
    head = s.audit(
        tmp_path / "head.json", "--previous", str(r0), "--previous-key", other_pub, key=s.key
    )
    _spy(monkeypatch, parsed)
    args = ["verify", str(head), "--trusted-ref", "base", "--chain", str(s.chain)]
    res = xcli([*args, "--repo", "."], s.repo)
    assert res.code == 1, res.out
    assert "FAIL chain: r0.json: signature: no signature from a trusted key" in res.out, res.out
    assert "are not trusted for it" not in res.out  # no commit of its was read
    assert "ok   signature: valid Ed25519 signature" in res.out
    assert _payload(head) in parsed
    assert _payload(r0) not in parsed


def test_an_unsigned_report_s_claimed_commit_is_not_parsed_under_a_trusted_ref(
    xcli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parsed: list[bytes]
) -> None:
    s = Setup(xcli, tmp_path)
    s.trust_ci_at_base()
    add_run(s.repo, "b", m(60))
    commit_all(s.repo, "C1", date="2026-11-22T10:00:00+00:00")
    unsigned = s.audit(tmp_path / "u.json", key=None)
    signed = s.audit(tmp_path / "s.json", key=s.key)
    _spy(monkeypatch, parsed)
    res = xcli(["verify", str(unsigned), "--trusted-ref", "base"], s.repo)
    assert res.code == 1, res.out
    assert "FAIL signature: report is UNSIGNED" in res.out, res.out
    assert parsed == []
    # a verified one is read (once its signature checks out), and verifies
    res = xcli(["verify", str(signed), "--trusted-ref", "base"], s.repo)
    assert res.code == 0, res.out
    assert _payload(signed) in parsed
    # and --allow-unsigned accepts the unsigned one: it is read then
    parsed.clear()
    res = xcli(["verify", str(unsigned), "--trusted-ref", "base", "--allow-unsigned"], s.repo)
    assert res.code == 0, res.out
    assert _payload(unsigned) in parsed


def test_a_ref_holding_an_unverified_report_s_commit_is_still_named_unparsed(
    xcli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parsed: list[bytes]
) -> None:
    """A ref that contains the commit is refused (exit 2) whether or not the report
    verifies; for one that does not, its claim is read from the statement's fixed end,
    never parsed. One whose end is not the tool's shape just fails its signature."""
    s = Setup(xcli, tmp_path)
    unsigned = s.audit(tmp_path / "u.json", key=None)
    untrusted = s.audit(tmp_path / "x.json", key=s.other)
    _spy(monkeypatch, parsed)
    for report in (unsigned, untrusted):
        res = xcli(["verify", str(report), "--trusted-ref", "HEAD"], s.repo)
        assert res.code == 2, res
        assert f"--trusted-ref HEAD contains the commit being verified ({s.c0[:12]})" in res.err
    assert parsed == []
    # a payload whose end is not a statement's: no claim, the signature fails (exit 1)
    odd = tmp_path / "odd.json"
    odd.write_bytes(envelope_bytes(_payload(unsigned) + b" ", []))
    res = xcli(["verify", str(odd), "--trusted-ref", "HEAD"], s.repo)
    assert res.code == 1, res
    assert "FAIL signature: report is UNSIGNED" in res.out, res.out
    assert parsed == []


def test_the_api_does_not_parse_a_report_that_does_not_verify(
    xcli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parsed: list[bytes]
) -> None:
    """`Repository.verify` read the report's claimed commit (a whole parse) before its
    signature was checked, though without a trusted ref nothing uses it."""
    from expflow_git import Repository
    from expflow_git.report import saved

    s = Setup(xcli, tmp_path)
    unsigned = s.audit(tmp_path / "unsigned.json", key=None)
    _spy(monkeypatch, parsed)
    claimed: list[bytes] = []
    real = saved.parse_report

    def parse_spy(data: bytes, source: str) -> object:
        claimed.append(data)
        return real(data, source=source)

    monkeypatch.setattr(saved, "parse_report", parse_spy)
    result = Repository(s.repo).verify(unsigned, public_keys=[str(s.pub)])
    assert not result.ok
    assert any("UNSIGNED" in line for line in result.lines), result.lines
    assert _payload(unsigned) not in parsed and claimed == []
