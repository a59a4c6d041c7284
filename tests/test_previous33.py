"""`audit --previous` signs only a link `verify --chain` can verify (issue 18, thirty-third
pass, a hunter's find): the previous report was parsed for its seq, digest and commit and
nothing else, so the CI key signed, exit 0, a report chained to one of a commit on
another branch, or to one it never signed, and `verify --chain` then always refused it.

Now the audit refuses, exit 2, one line naming the file: the previous report's commit not
in the repository or not an ancestor of the audited commit (the same `is_ancestor` as
`verify --chain`: a commit audited again follows itself); when it signs, a previous report
unsigned or not verified by the signing key or a `--previous-key`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from helpers_audit import (
    Cli,
    Out,
    add_run,
    assert_one_error_line,
    commit_all,
    copy_repo,
    git,
    m,
    new_repo,
    run_cli,
)


class Chain:
    """main: C0, C1, C2; the CI key `ci` and another key `other`; chain/ holds r0 (C0)
    and r1 (C1, chained to r0), both signed by `ci`."""

    def __init__(self, cli: Cli, root: Path) -> None:
        self.cli = cli
        self.root = root
        self.repo = new_repo(root / "repo")
        (self.repo / ".git" / "info" / "exclude").write_text("chain/\n")
        add_run(self.repo, "a", m(50))
        self.c0 = commit_all(self.repo, "C0", date="2026-11-20T10:00:00+00:00")
        add_run(self.repo, "b", m(51))
        self.c1 = commit_all(self.repo, "C1", date="2026-11-21T10:00:00+00:00")
        add_run(self.repo, "c", m(52))
        self.c2 = commit_all(self.repo, "C2", date="2026-11-22T10:00:00+00:00")
        self.ci = root / "ci"
        self.other = root / "other"
        for key in (self.ci, self.other):
            assert run_cli(["keygen", "--out", str(key)], root).code == 0
        self.chain = self.repo / "chain"
        self.chain.mkdir()
        self.r0 = self.audit(self.chain / "r0.json", "--rev", self.c0)
        self.r1 = self.audit(self.chain / "r1.json", "--rev", self.c1, "--previous", str(self.r0))

    def run(self, out: Path, *args: str, key: Path | None) -> Out:
        sign = ["--sign-key", str(key)] if key else []
        return self.cli(["audit", "--out", str(out), *args, *sign], self.repo)

    def audit(self, out: Path, *args: str, key: Path | None = None) -> Path:
        res = self.run(out, *args, key=key or self.ci)
        assert res.code == 0, res
        return out

    def verify(self, report: Path, *keys: Path) -> Out:
        pubs = [a for k in keys or (self.ci,) for a in ("--public-key", f"{k}.pub")]
        args = ["verify", str(report), *pubs, "--repo", ".", "--chain", str(self.chain)]
        return run_cli(args, self.repo)


@pytest.fixture
def chain(xcli: Cli, tmp_path: Path) -> Chain:
    return Chain(xcli, tmp_path)


# ----------------------------------------------------------------------------- ancestry


def test_a_previous_report_of_a_commit_on_another_line_is_refused(
    chain: Chain, tmp_path: Path
) -> None:
    """The hunter's repro: a branch off an older commit, chained to the head of main's
    chain. Old code: exit 0, a signed report `verify --chain` refuses ("not an ancestor")."""
    git(chain.repo, "switch", "-q", "-c", "side", chain.c0)
    add_run(chain.repo, "d", m(53))
    side = commit_all(chain.repo, "S", date="2026-11-23T10:00:00+00:00")
    out = tmp_path / "side.json"
    res = run_cli(
        ["audit", "--out", str(out), "--sign-key", str(chain.ci), "--previous", str(chain.r1)],
        chain.repo,
    )
    assert_one_error_line(
        res,
        2,
        str(chain.r1),
        f"commit {chain.c1[:12]} is not an ancestor of the audited commit {side[:12]}",
        "start a new chain",
    )
    assert not out.exists()
    # The same refusal without a key: the rule is the chain's, not the signature's.
    res = chain.run(out, "--previous", str(chain.r1), key=None)
    assert res.code == 2 and not out.exists(), res


def test_a_report_of_an_older_or_the_same_commit_is_a_link_as_verify_takes_it(
    chain: Chain, tmp_path: Path
) -> None:
    """What the audit accepts, `verify --chain` accepts: a descendant, and the same
    commit audited again (a commit is its own ancestor for both)."""
    r2 = chain.audit(chain.chain / "r2.json", "--previous", str(chain.r1))  # C2 after C1
    again = chain.audit(chain.chain / "r3.json", "--previous", str(r2))  # C2 again
    res = chain.verify(again)
    assert res.code == 0, res
    assert "ok   chain: r3.json follows r2.json" in res.out, res


def test_a_previous_report_of_a_commit_the_repository_lacks_is_refused(
    chain: Chain, tmp_path: Path
) -> None:
    """A report of a commit made in another clone, which this one never fetched."""
    elsewhere = copy_repo(chain.repo, tmp_path / "elsewhere")
    add_run(elsewhere, "e", m(54))
    theirs = commit_all(elsewhere, "E", date="2026-11-24T10:00:00+00:00")
    foreign = tmp_path / "foreign.json"
    res = run_cli(
        ["audit", "--out", str(foreign), "--sign-key", str(chain.ci)],
        elsewhere,
    )
    assert res.code == 0, res
    out = tmp_path / "next.json"
    res = run_cli(
        ["audit", "--out", str(out), "--sign-key", str(chain.ci), "--previous", str(foreign)],
        chain.repo,
    )
    assert_one_error_line(res, 2, str(foreign), f"commit {theirs[:12]} is not in this repository")
    assert not out.exists()


# ----------------------------------------------------------------------------- signatures


def test_a_signed_audit_refuses_an_unsigned_previous_report(chain: Chain, tmp_path: Path) -> None:
    unsigned = tmp_path / "unsigned.json"
    res = chain.run(unsigned, "--rev", chain.c1, key=None)
    assert res.code == 0, res
    out = tmp_path / "next.json"
    res = run_cli(
        ["audit", "--out", str(out), "--sign-key", str(chain.ci), "--previous", str(unsigned)],
        chain.repo,
    )
    assert_one_error_line(res, 2, str(unsigned), "previous report is UNSIGNED")
    assert not out.exists()
    # An unsigned audit may still follow it (such a chain verifies with --allow-unsigned).
    res = chain.run(out, "--previous", str(unsigned), key=None)
    assert res.code == 0, res


def test_a_previous_report_the_signing_key_does_not_verify_is_refused(
    chain: Chain, tmp_path: Path
) -> None:
    """Signed by another key: the link would not verify with the key signing now. Old
    code: exit 0. The key a report names is never taken: `--previous-key` is the
    operator's (a rotated CI key), and with it the chain verifies with both keys."""
    out = tmp_path / "next.json"
    args = ["audit", "--out", str(out), "--sign-key", str(chain.other)]
    res = run_cli([*args, "--previous", str(chain.r1)], chain.repo)
    assert_one_error_line(
        res, 2, str(chain.r1), "does not verify with the signing key", "start a new chain"
    )
    assert not out.exists()
    # A rotation: the old key named by the operator
    res = run_cli(
        [*args, "--previous", str(chain.r1), "--previous-key", f"{chain.ci}.pub"], chain.repo
    )
    assert res.code == 0, res
    (chain.chain / "r2.json").write_bytes(out.read_bytes())
    res = chain.verify(out, chain.ci, chain.other)
    assert res.code == 0, res


def test_a_previous_report_with_an_extra_signature_is_refused(chain: Chain, tmp_path: Path) -> None:
    """`verify --chain` needs every signature of a link to verify; so does the audit."""
    import json

    from helpers_audit import b64d, envelope_bytes, reseal, statement_of

    env = json.loads(chain.r1.read_bytes())
    other = json.loads(reseal(statement_of(chain.r1.read_bytes()), _private(chain.other)))
    doubled = tmp_path / "doubled.json"
    doubled.write_bytes(
        envelope_bytes(b64d(env["payload"]), env["signatures"] + other["signatures"])
    )
    out = tmp_path / "next.json"
    res = run_cli(
        ["audit", "--out", str(out), "--sign-key", str(chain.ci), "--previous", str(doubled)],
        chain.repo,
    )
    assert_one_error_line(res, 2, str(doubled), "signature 1 does not verify")
    assert not out.exists()


def _private(path: Path) -> Ed25519PrivateKey:
    from expflow_git.report.signing import load_private_key

    return load_private_key(path)


def test_previous_key_only_with_previous(chain: Chain, tmp_path: Path) -> None:
    res = run_cli(
        ["audit", "--out", str(tmp_path / "x.json"), "--previous-key", f"{chain.ci}.pub"],
        chain.repo,
    )
    assert res.code == 2 and "--previous-key applies only with --previous" in res.err, res
    assert not (tmp_path / "x.json").exists()


# ------------------------------------------------------------------------- after review
def test_an_unsigned_audit_with_a_previous_key_follows_an_unsigned_report(
    chain: Chain, tmp_path: Path
) -> None:
    """Nothing is signed, so the link needs no signature (it was refused as "a signed
    report chained to it would not verify": a review)."""
    unsigned = tmp_path / "unsigned.json"
    assert chain.run(unsigned, "--rev", chain.c1, key=None).code == 0
    out = tmp_path / "next.json"
    res = chain.run(out, "--previous", str(unsigned), "--previous-key", f"{chain.ci}.pub", key=None)
    assert res.code == 0 and out.exists(), res


@pytest.mark.parametrize("name", ["old.pub", "..ci.pub"])
def test_a_previous_key_the_repository_tracks_is_warned_of(
    chain: Chain, tmp_path: Path, name: str
) -> None:
    """As verify warns of a trusted key the verified repository holds (a review); `..ci.pub`
    is a file inside the work tree, not above it (a review)."""
    tracked = chain.repo / name
    tracked.write_bytes(Path(f"{chain.ci}.pub").read_bytes())
    git(chain.repo, "add", name)
    out = tmp_path / "next.json"
    res = chain.run(out, "--previous", str(chain.r1), "--previous-key", str(tracked), key=chain.ci)
    assert res.code == 0, res
    assert f"{name} is a file of the repository being audited" in res.err, res.err


def test_a_shallow_clone_says_so(chain: Chain, tmp_path: Path) -> None:
    """Behind a shallow clone's cut, an ancestor was "not in this repository", then, once
    fetched, "not an ancestor" (a review): the clone's depth is named instead."""
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{chain.repo}", str(shallow))
    out = tmp_path / "next.json"
    args = ["audit", "--out", str(out), "--sign-key", str(chain.ci), "--previous", str(chain.r1)]
    res = run_cli(args, shallow)
    assert_one_error_line(res, 2, str(chain.r1), "shallow clone")
    assert "fetch-depth: 0" in res.err and not out.exists()


def test_a_clone_deep_enough_to_hold_the_previous_commit_chains(
    chain: Chain, tmp_path: Path
) -> None:
    """Only a clone whose history does not show the ancestry is refused as shallow: a
    "yes" is sure in a shallow clone (the cut removes parents, never adds them), and
    `verify --chain` accepts it there (a review)."""
    deep = tmp_path / "deep"
    git(tmp_path, "clone", "-q", "--depth", "2", f"file://{chain.repo}", str(deep))  # C2, C1
    out = tmp_path / "next.json"
    args = ["audit", "--out", str(out), "--sign-key", str(chain.ci), "--previous", str(chain.r1)]
    res = run_cli(args, deep)
    assert res.code == 0 and out.exists(), res
