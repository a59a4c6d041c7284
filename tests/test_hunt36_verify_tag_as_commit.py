"""A report naming an annotated tag's object id as its commit (or as its --policy-ref
commit): `Git.resolve_commit` peels tags, so `verify --repo --no-recompute` said
"commit … exists, tree matches" and VERIFIED a subject whose gitCommit is no commit (a
hunter's find, issue 18 thirty-sixth pass)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from helpers_audit import Cli, commit_all, git, reseal, statement_of
from support import CliResult
from test_ladder import _rechain, ladder_repo

from expflow_git.report.signing import load_private_key


def _forged(st: dict, tmp_path: Path) -> Path:
    _rechain(st)
    forged = tmp_path / "forged.json"
    forged.write_bytes(reseal(st, None))
    return forged


def _verified_unsigned(xcli: Cli, tmp_path: Path, st: dict, repo: Path) -> CliResult:
    """`verify --repo --no-recompute` of `st`, re-chained and unsigned."""
    forged = _forged(st, tmp_path)
    args = ["verify", str(forged), "--allow-unsigned", "--repo", str(repo), "--no-recompute"]
    return xcli(args, tmp_path)


def test_a_tag_object_is_not_the_reports_commit(xcli: Cli, tmp_path: Path) -> None:
    r = ladder_repo(tmp_path / "repo", [0, 1])
    res = xcli(["audit", "--format", "json"], r)
    st = statement_of(res.out)
    git(r, "tag", "-a", "-m", "a tag", "v1")
    tag = git(r, "rev-parse", "refs/tags/v1")
    assert tag != st["predicate"]["repo"]["commit"]
    st["predicate"]["repo"]["commit"] = st["subject"][0]["digest"]["gitCommit"] = tag
    res = _verified_unsigned(xcli, tmp_path, st, r)
    assert res.code == 1, res.out
    assert "FAIL repo" in res.out and "is a tag, not a commit" in res.out, res.out


def test_a_tag_object_is_not_the_policy_ref(xcli: Cli, tmp_path: Path) -> None:
    r = ladder_repo(tmp_path / "repo", [0, 1])
    res = xcli(["audit", "--format", "json", "--policy-ref", "HEAD"], r)
    assert res.code == 0, res
    st = statement_of(res.out)
    git(r, "tag", "-a", "-m", "a tag", "v1")
    st["predicate"]["policy"]["ref"] = git(r, "rev-parse", "refs/tags/v1")
    res = _verified_unsigned(xcli, tmp_path, st, r)
    assert res.code == 1, res.out
    assert "FAIL blobs" in res.out and "is a tag, not a commit" in res.out, res.out


def test_a_chain_link_naming_a_tag_is_held_to_the_key_age_rule(xcli: Cli, tmp_path: Path) -> None:
    """`verify --chain --trusted-ref`: a key added at commit C may not vouch for a link
    about C (trust.ref_holds). A link naming an annotated tag of C instead was verified by
    that key, as `added_in == C` was compared with the tag's id and `is_ancestor(C, tag)`
    peeled it. `audit --previous` now refuses such a link, so the key's holder signs
    REPORT's link to it by hand."""
    r = ladder_repo(tmp_path / "repo", [0, 1])
    git(r, "branch", "old")
    key = tmp_path / "k"
    assert xcli(["keygen", "--out", str(key)], tmp_path).code == 0
    private = load_private_key(key)
    (r / ".expflow" / "keys").mkdir(parents=True)
    (r / ".expflow" / "keys" / "k.pub").write_bytes(key.with_suffix(".pub").read_bytes())
    git(r, "add", ".expflow")
    c1 = commit_all(r, "the key K, added")
    git(r, "tag", "-a", "-m", "a tag", "v1")
    tag = git(r, "rev-parse", "refs/tags/v1")
    git(r, "checkout", "-q", "-b", "side")
    (r / "note.txt").write_text("x\n")
    side = commit_all(r, "a change the trusted ref lacks")
    git(r, "checkout", "-q", "main")
    chain = tmp_path / "chain"
    chain.mkdir()
    link = chain / "link0.json"
    assert xcli(["audit", "--rev", c1, "--sign-key", str(key), "--out", str(link)], r).code == 0
    report = tmp_path / "report.json"
    args = ["audit", "--rev", side, "--sign-key", str(key), "--previous", str(link)]
    assert xcli([*args, "--out", str(report)], r).code == 0
    # The link now names the tag; REPORT's link to it follows, both signed by K.
    st = statement_of(link.read_bytes())
    st["predicate"]["repo"]["commit"] = st["subject"][0]["digest"]["gitCommit"] = tag
    _rechain(st)
    link.write_bytes(reseal(st, private))
    payload = base64.b64decode(json.loads(link.read_bytes())["payload"])
    own = statement_of(report.read_bytes())
    own["predicate"]["chain"]["prev"] = {
        "payloadSha256": hashlib.sha256(payload).hexdigest(),
        "gitCommit": tag,
    }
    report.write_bytes(reseal(own, private))
    res = xcli(["verify", str(report), "--trusted-ref", "main", "--chain", str(chain)], r)
    assert res.code == 1, res.out
    assert "FAIL chain: link0.json: signature" in res.out, res.out
    # ... nor does the link's ancestry peel the tag, where a key given by hand signs it
    # (`old` holds no key: held() drops none; a review).
    given = ["--public-key", str(key.with_suffix(".pub")), "--trusted-ref", "old"]
    res = xcli(["verify", str(report), *given, "--chain", str(chain)], r)
    assert res.code == 1, res.out
    assert "is a tag, not a commit" in res.out and "ok chain" not in res.out, res.out
    # ... and `audit --previous` refuses to link to it, saying why.
    again = xcli([*args, "--out", str(tmp_path / "again.json")], r)
    assert again.code == 2, again.both
    assert f"the previous report's commit {tag[:12]} is a tag, not a commit" in again.err
    assert "fetch" not in again.err


def test_a_tag_object_is_not_the_reports_since(xcli: Cli, tmp_path: Path) -> None:
    """`repo.since` is a commit by its id too: recompute would peel a tag's id to the
    commit it tags and agree (a review)."""
    r = ladder_repo(tmp_path / "repo", [0, 1])
    base = git(r, "rev-parse", "HEAD")
    (r / "note.txt").write_text("x\n")
    commit_all(r, "a later commit")
    res = xcli(["audit", "--format", "json", "--since", base], r)
    st = statement_of(res.out)
    assert st["predicate"]["repo"]["since"] == base
    git(r, "tag", "-a", "-m", "a tag", "v1", base)
    st["predicate"]["repo"]["since"] = git(r, "rev-parse", "refs/tags/v1")
    forged = _forged(st, tmp_path)
    for recompute in ("--recompute", "--no-recompute"):
        args = ["verify", str(forged), "--allow-unsigned", "--repo", str(r), recompute]
        res = xcli(args, tmp_path)
        assert res.code == 1, res.out
        assert "FAIL repo: since: " in res.out and "is a tag, not a commit" in res.out, res.out


def test_a_since_the_clone_lacks_is_left_to_recompute(xcli: Cli, tmp_path: Path) -> None:
    """Only a tag's id is refused as `since`: a clone one commit deep lacks the base of an
    `audit --since`, and `--no-recompute` verified such a report, as before (a review)."""
    r = ladder_repo(tmp_path / "repo", [0, 1])
    base = git(r, "rev-parse", "HEAD")
    (r / "note.txt").write_text("x\n")
    commit_all(r, "a later commit")
    res = xcli(["audit", "--format", "json", "--since", base], r)
    forged = _forged(statement_of(res.out), tmp_path)  # (the same statement, unsigned)
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{r}", str(shallow))
    args = ["verify", str(forged), "--allow-unsigned", "--repo", str(shallow), "--no-recompute"]
    res = xcli(args, tmp_path)
    assert res.code == 0 and "VERIFIED" in res.out, res.out
