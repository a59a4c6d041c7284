"""Issue 14, Verification items 1 and 3–6, through the real CLI: chains whose links are
all verified and that contain REPORT, signers shown only as verified, grafts ignored,
integers bounded (and a fuzzer that never finds a traceback), and what a trusted ref
must be.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from helpers_audit import (
    POLICY,
    WALK,
    Cli,
    add_run,
    b64d,
    commit_all,
    envelope_bytes,
    git,
    m,
    new_repo,
    reseal,
    run_cli,
    statement_of,
    write,
)
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from expflow_git.report import saved
from expflow_git.report.signing import keyid


def _key(name: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(name.encode()).digest())


def _write_key(key: Ed25519PrivateKey, path: Path) -> tuple[Path, Path]:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pub = path.with_name(path.name + ".pub")
    pub.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
        + b"\n"
    )
    return path, pub


def _kid(key: Ed25519PrivateKey) -> str:
    return keyid(key.public_key())


class Repo:
    """Two commits on main (C0, C1) and a CI key; reports are written under `reports/`."""

    def __init__(self, root: Path) -> None:
        self.path = new_repo(root / "repo")
        (self.path / ".git" / "info" / "exclude").write_text("reports/\n")
        add_run(self.path, "exp-001", m(50))
        self.c0 = commit_all(self.path, "c0", date="2026-11-20T10:00:00+00:00")
        add_run(self.path, "exp-002", m(51))
        self.c1 = commit_all(self.path, "c1", date="2026-11-21T10:00:00+00:00")
        self.ci = _key("ci")
        self.ci_key, self.ci_pub = _write_key(self.ci, root / "ci")
        self.reports = self.path / "reports"
        self.reports.mkdir()

    def audit(self, cli: Cli, out: str, rev: str, *args: str, sign: bool = True) -> Path:
        target = self.reports / out
        sign_args = ["--sign-key", str(self.ci_key)] if sign else []
        res = cli(["audit", "--rev", rev, "--out", str(target), *sign_args, *args], self.path)
        assert res.code == 0, res
        return target


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path)


def _lines(out: str) -> list[str]:
    return out.splitlines()


# =========================================================================== 1. chains


def test_a_chain_whose_second_link_is_unsigned_fails(xcli: Cli, repo: Repo) -> None:
    """Old code: VERIFIED, the links' signatures were never looked at."""
    r0 = repo.audit(xcli, "r0.json", repo.c0)
    repo.audit(xcli, "r1.json", repo.c1, "--previous", str(r0), sign=False)
    args = ["verify", str(r0), "--public-key", str(repo.ci_pub), "--chain", "reports"]
    res = run_cli([*args, "--repo", "."], repo.path)
    assert res.code == 1, res.out
    assert "FAIL chain: r1.json: signature: report is UNSIGNED" in res.out
    assert res.out.rstrip().endswith("VERIFICATION FAILED")
    # with --allow-unsigned the unsigned link is accepted, explicitly
    res = run_cli([*args, "--repo", ".", "--allow-unsigned"], repo.path)
    assert res.code == 0, res.out


def test_a_chain_link_signed_by_an_untrusted_key_fails(xcli: Cli, repo: Repo) -> None:
    r0 = repo.audit(xcli, "r0.json", repo.c0)
    _, _ = _write_key(_key("intruder"), repo.path.parent / "intruder")
    res = xcli(
        [
            "audit",
            "--rev",
            repo.c1,
            "--previous",
            str(r0),
            "--out",
            str(repo.reports / "r1.json"),
            "--sign-key",
            str(repo.path.parent / "intruder"),
            # (the audit refuses a link its key cannot verify, unless told the key that can)
            "--previous-key",
            str(repo.ci_pub),
        ],
        repo.path,
    )
    assert res.code == 0
    r1 = repo.reports / "r1.json"
    res = run_cli(
        ["verify", str(r0), "--public-key", str(repo.ci_pub), "--chain", "reports", "--repo", "."],
        repo.path,
    )
    assert res.code == 1, res.out
    assert "FAIL chain: r1.json: signature: no signature from a trusted key" in res.out
    assert r1.exists()


def test_report_must_be_in_or_follow_the_chain(xcli: Cli, repo: Repo, tmp_path: Path) -> None:
    """Old code: any REPORT was VERIFIED next to any valid chain."""
    r0 = repo.audit(xcli, "r0.json", repo.c0)
    r1 = repo.audit(xcli, "r1.json", repo.c1, "--previous", str(r0))
    base = ["--public-key", str(repo.ci_pub), "--chain", "reports", "--repo", "."]
    # a member: the head, or an earlier link
    res = run_cli(["verify", str(r1), *base], repo.path)
    assert res.code == 0, res.out
    assert "ok   chain: REPORT is r1.json (the chain's head)" in res.out
    assert "ok   chain: 2 report(s), seq 0..1, each one verified" in res.out
    res = run_cli(["verify", str(r0), *base], repo.path)
    assert res.code == 0 and "ok   chain: REPORT is r0.json (seq 0)" in res.out
    # a report that follows the head
    add_run(repo.path, "exp-003", m(52))
    c2 = commit_all(repo.path, "c2", date="2026-11-22T10:00:00+00:00")
    outside = tmp_path / "r2.json"
    res = xcli(
        ["audit", "--previous", str(r1), "--out", str(outside), "--sign-key", str(repo.ci_key)],
        repo.path,
    )
    assert res.code == 0
    res = run_cli(["verify", str(outside), *base], repo.path)
    assert res.code == 0, res.out
    assert "ok   chain: REPORT follows the chain's head r1.json" in res.out
    # a report outside the chain: about the same commit, but not chained
    stranger = tmp_path / "stranger.json"
    res = xcli(["audit", "--out", str(stranger), "--sign-key", str(repo.ci_key)], repo.path)
    assert res.code == 0
    res = run_cli(["verify", str(stranger), *base], repo.path)
    assert res.code == 1, res.out
    assert "FAIL chain: REPORT is not in the chain and does not follow its head r1.json" in res.out
    assert c2


def test_a_chain_must_start_at_its_first_report(xcli: Cli, repo: Repo) -> None:
    r0 = repo.audit(xcli, "r0.json", repo.c0)
    r1 = repo.audit(xcli, "r1.json", repo.c1, "--previous", str(r0))
    r0.rename(repo.path / "r0.json")
    res = run_cli(
        ["verify", str(r1), "--public-key", str(repo.ci_pub), "--chain", "reports", "--repo", "."],
        repo.path,
    )
    assert res.code == 1
    assert "FAIL chain: r1.json: the first report has seq 1, not 0" in res.out


# =========================================================================== 3. signers


def _forged(report: bytes) -> bytes:
    """The report with an appended signature entry claiming a release key."""
    env = json.loads(report)
    fake = reseal(statement_of(report), _key("forger"))
    forged = {"keyid": "SHA256:FORGED-RELEASE-KEY", "sig": json.loads(fake)["signatures"][0]["sig"]}
    return envelope_bytes(b64d(env["payload"]), [*env["signatures"], forged])


@pytest.mark.parametrize("fmt", ["text", "md", "html"])
def test_report_never_names_an_unverified_signer(
    xcli: Cli, repo: Repo, tmp_path: Path, fmt: str
) -> None:
    """Old code: "signed by SHA256:… , SHA256:FORGED-RELEASE-KEY" in every form."""
    r0 = repo.audit(xcli, "r0.json", repo.c0)
    forged = tmp_path / "forged.json"
    forged.write_bytes(_forged(r0.read_bytes()))
    html = tmp_path / "card.html"
    args = ["--html", str(html)] if fmt == "html" else ["--format", fmt]
    res = run_cli(["report", str(forged), *args], repo.path)
    assert res.code == 0, res
    shown = html.read_text() if fmt == "html" else res.out
    assert "FORGED" not in shown and "signed by" not in shown
    assert "signature not verified" in shown
    assert "signature not verified" in res.err
    # with the trusted key, the forged entry fails the report: nothing is rendered
    res = run_cli(["report", str(forged), "--public-key", str(repo.ci_pub), *args], repo.path)
    assert res.code == 1
    assert "not rendered" in res.err and res.out == ""
    # the genuine report, checked with its key, names the verified signer only
    res = run_cli(["report", str(r0), "--public-key", str(repo.ci_pub), *args], repo.path)
    assert res.code == 0, res
    shown = html.read_text() if fmt == "html" else res.out
    assert f"signed by {_kid(repo.ci)}" in shown


def test_report_shows_the_bytes_it_verified(
    xcli: Cli, repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`report` read the file once to verify and again to render: a file swapped in
    between showed "signed by" beside content no signature covers."""
    r0 = repo.audit(xcli, "r0.json", repo.c0)
    genuine = r0.read_bytes()
    statement = statement_of(genuine)
    statement["predicate"]["result"]["best_feasible"] = "exp-FORGED"
    envelope = json.loads(genuine)
    envelope["payload"] = json.loads(reseal(statement, None))["payload"]
    swapped = envelope_bytes(b64d(envelope["payload"]), envelope["signatures"])
    reads: list[str] = []
    real_read = saved.read_bytes

    def read_then_swap(path: str) -> bytes:
        if Path(path).name != r0.name:
            return real_read(path)
        reads.append(path)
        return genuine if len(reads) == 1 else swapped

    monkeypatch.setattr(saved, "read_bytes", read_then_swap)
    res = xcli(["report", str(r0), "--public-key", str(repo.ci_pub)], repo.path)
    assert res.code == 0, res
    assert len(reads) == 1
    assert "exp-FORGED" not in res.out
    assert f"signed by {_kid(repo.ci)}" in res.out


# =========================================================================== 4. grafts


def test_a_graft_does_not_put_a_side_commit_in_the_history(
    xcli: Cli, repo: Repo, tmp_path: Path
) -> None:
    """Old code: `.git/info/grafts` made the side commit "in the history of HEAD"."""
    git(repo.path, "switch", "-q", "-c", "side")
    add_run(repo.path, "exp-side", m(99))
    side = commit_all(repo.path, "side", date="2026-11-22T10:00:00+00:00")
    report = tmp_path / "side.json"
    res = xcli(["audit", "--out", str(report), "--sign-key", str(repo.ci_key)], repo.path)
    assert res.code == 0
    git(repo.path, "switch", "-q", "main")
    head = git(repo.path, "rev-parse", "HEAD")
    args = ["verify", str(report), "--public-key", str(repo.ci_pub), "--repo", "."]
    res = run_cli(args, repo.path)
    assert res.code == 1 and "not in the history of HEAD" in res.out
    (repo.path / ".git" / "info" / "grafts").write_text(f"{head} {repo.c0} {side}\n")
    assert git(repo.path, "merge-base", "--is-ancestor", side, head, check=False) == ""
    res = run_cli(args, repo.path)
    assert res.code == 1, res.out
    assert f"FAIL repo: commit {side[:12]} is not in the history of HEAD" in res.out
    res = run_cli(args, repo.path, env={"GIT_GRAFT_FILE": str(repo.path / ".git/info/grafts")})
    assert res.code == 1, res.out


# =========================================================================== 5. integers


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        (
            b'"chain":{"prev":null,"seq":0}',
            b'"chain":{"prev":null,"seq":100000000000000000001}',
            # an integer field: the schema's bound (below 2**53) says it first
            "payload /predicate/chain/seq: ",
        ),
        (
            b'"seg_total":50,',
            # (10**20 + 1: no double holds it; 10**20 itself would read as the double)
            b'"seg_total":-100000000000000000001,',
            # entry 0: the study's attempts
            "payload /predicate/entries/1/metrics/seg_total: integer out of range",
        ),
    ],
)
def test_a_huge_integer_is_a_failed_line_not_a_traceback(
    repo: Repo, xcli: Cli, tmp_path: Path, old: bytes, new: bytes, says: str
) -> None:
    r0 = repo.audit(xcli, "r0.json", repo.c0)
    payload = b64d(json.loads(r0.read_bytes())["payload"])
    assert old in payload
    changed = payload.replace(old, new, 1)
    from helpers_audit import PAYLOAD_TYPE, b64e, pae

    sig = repo.ci.sign(pae(PAYLOAD_TYPE, changed))
    bad = tmp_path / "bad.json"
    bad.write_bytes(envelope_bytes(changed, [{"keyid": _kid(repo.ci), "sig": b64e(sig)}]))
    res = run_cli(["verify", str(bad), "--public-key", str(repo.ci_pub)], repo.path)
    assert res.code == 1, res
    assert "Traceback" not in res.err and res.err == ""
    assert f"FAIL statement: {says}" in res.out, res.out
    res = run_cli(["report", str(bad)], repo.path)
    assert res.code == 1 and "Traceback" not in res.err


def test_a_double_spelled_as_digits_in_an_integer_field_is_refused_by_the_schema(
    repo: Repo, tmp_path: Path, xcli: Cli
) -> None:
    """Digits past 2**53 that a double holds read back as that double (RFC 8785 spells a
    whole double so); an integer field (`seq`, a count, a rank) must not take one, or the
    checks' arithmetic would run on 1e20: the schema bounds every integer field below
    2**53, so such a report is a failed line."""
    r0 = repo.audit(xcli, "r0.json", repo.c0)
    payload = b64d(json.loads(r0.read_bytes())["payload"])
    old = b'"chain":{"prev":null,"seq":0}'
    assert old in payload
    changed = payload.replace(old, b'"chain":{"prev":null,"seq":100000000000000000000}', 1)
    from helpers_audit import PAYLOAD_TYPE, b64e, pae

    sig = repo.ci.sign(pae(PAYLOAD_TYPE, changed))
    bad = tmp_path / "bad.json"
    bad.write_bytes(envelope_bytes(changed, [{"keyid": _kid(repo.ci), "sig": b64e(sig)}]))
    res = run_cli(["verify", str(bad), "--public-key", str(repo.ci_pub)], repo.path)
    assert res.code == 1 and res.err == "", res
    assert "FAIL statement: payload /predicate/chain/seq: " in res.out, res.out
    assert "maximum of 9007199254740991" in res.out, res.out


def _mutate(value: Any, draw: st.DrawFn) -> Any:
    """One random change somewhere in a JSON value: mostly a leaf given another value of
    its type (the schema then holds and the later checks see it), sometimes a member
    deleted, duplicated or replaced by any JSON."""
    descend = ["descend"] * 8
    if isinstance(value, dict) and value:
        key = draw(st.sampled_from(sorted(value)))
        out = dict(value)
        action = draw(st.sampled_from([*descend, "delete", "replace"]))
        if action == "delete":
            del out[key]
        elif action == "replace":
            out[key] = draw(_JSON)
        else:
            out[key] = _mutate(value[key], draw)
        return out
    if isinstance(value, list) and value:
        i = draw(st.integers(0, len(value) - 1))
        out_list = list(value)
        action = draw(st.sampled_from([*descend, "delete", "dup"]))
        if action == "delete":
            del out_list[i]
        elif action == "dup":
            out_list.insert(i, value[i])
        else:
            out_list[i] = _mutate(value[i], draw)
        return out_list
    return draw(_JSON if draw(st.integers(0, 4)) == 0 else _same_type(value))


def _same_type(value: Any) -> st.SearchStrategy[Any]:
    """A value of the same JSON type: it keeps the schema happy more often, so the
    checks after it (entries, ranking, walk-forward) get the odd values."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.integers(-(2**60), 2**60) | st.sampled_from([0, 1, -1, value + 1, 2**53])
    if isinstance(value, float):
        return st.floats(allow_nan=False, allow_infinity=False)
    if isinstance(value, str):
        return st.text(max_size=12) | st.sampled_from(["run", "finding", "gate", "pass", "lt"])
    return _JSON


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(["run", "finding", "walk-forward", "pass", "fail", "threshold", "gate"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)


Fuzz = tuple[dict[str, Any], Ed25519PrivateKey, Path]


@pytest.fixture(scope="module")
def fuzz_base(tmp_path_factory: pytest.TempPathFactory) -> Fuzz:
    root = tmp_path_factory.mktemp("fuzz")
    path = new_repo(root / "repo", policy=_WALK_POLICY)
    add_run(path, "exp-001", m(50), splits={"holdout": m(40)})
    add_run(path, "exp-002", m(51, minutes=70), splits={"holdout": m(41)})
    add_run(path, "exp-003", m(52), splits={"holdout": m(42)})
    write(path, "results/pdebench-task1/orphan.json", "{}")
    commit_all(path)
    res = run_cli(["audit", "--format", "json"], path)
    assert res.code == 1, res  # a finding (the orphan) keeps every entry type in the report
    return statement_of(res.out), _key("fuzz"), path


_WALK_POLICY = POLICY + WALK


@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_fuzz_mutated_reports_never_crash_the_verifier(
    fuzz_base: Fuzz, data: st.DataObject
) -> None:
    """Random changes of a valid statement, re-signed with the trusted key (so every check
    after the signature runs): the verifier answers with lines, never an exception."""
    from expflow_git.gitstore import Git
    from expflow_git.report.trust import TrustedKey
    from expflow_git.report.verify import Options, verify

    statement, key, path = fuzz_base
    mutated = _mutate(statement, data.draw)
    try:
        report = reseal(mutated, key)
    except ValueError:  # RFC 8785 cannot spell it (an integer past 2**53): sign it raw
        from helpers_audit import PAYLOAD_TYPE, b64e, pae

        payload = json.dumps(mutated, sort_keys=True, separators=(",", ":")).encode()
        sig = b64e(key.sign(pae(PAYLOAD_TYPE, payload)))
        report = envelope_bytes(payload, [{"keyid": keyid(key.public_key()), "sig": sig}])
    trusted = TrustedKey(key.public_key(), keyid(key.public_key()), "test")
    repo = Git.discover(path) if data.draw(st.booleans(), label="--repo") else None
    lines = verify(report, source="r.json", options=Options(trusted=[trusted], repo=repo))
    # (A mutation may verify: re-signed, a changed createdAt or tool version is vouched
    # for by the key, and only --repo can tell.) What matters: lines, not an exception.
    assert lines and all(str(line).startswith(("ok   ", "FAIL ")) for line in lines)
    event(next((f"failed at {ln.check}" for ln in lines if not ln.ok), "verified"))


@settings(max_examples=8, deadline=None)
@given(cut=st.integers(0, 400), junk=st.binary(min_size=1, max_size=3))
def test_fuzz_bytes_through_the_cli(
    fuzz_base: Fuzz,
    tmp_path_factory: pytest.TempPathFactory,
    cut: int,
    junk: bytes,
) -> None:
    """A few byte-level mutations through the real CLI: exit 1 or 2, never a traceback."""
    statement, key, _ = fuzz_base
    report = reseal(statement, key)
    i = min(cut * len(report) // 400, len(report) - 1)
    changed = report[:i] + junk + report[i + 1 :]
    path = tmp_path_factory.mktemp("bytes") / "r.json"
    path.write_bytes(changed)
    res = run_cli(["verify", str(path), "--allow-unsigned"], path.parent)
    assert res.code in (1, 2), res
    assert "Traceback" not in res.err


# =========================================================================== 6. trusted ref


def test_an_empty_commit_on_top_of_a_planted_key_gives_no_trust(
    xcli: Cli, repo: Repo, tmp_path: Path
) -> None:
    """Old code: --trusted-ref refused only the verified commit itself; one empty commit
    on top of the commit that adds evil.pub made that key trusted."""
    evil, evil_pub = _write_key(_key("evil"), tmp_path / "evil")
    write(repo.path, ".expflow/keys/evil.pub", evil_pub.read_bytes())
    planted = commit_all(repo.path, "add a key", date="2026-11-22T10:00:00+00:00")
    report = tmp_path / "r.json"
    res = xcli(["audit", "--out", str(report), "--sign-key", str(evil)], repo.path)
    assert res.code == 0
    git(repo.path, "commit", "-q", "--allow-empty", "-m", "empty", date="2026-11-23T10:00:00+00:00")
    res = run_cli(["verify", str(report), "--trusted-ref", "HEAD"], repo.path)
    assert res.code == 2, res
    assert f"--trusted-ref HEAD contains the commit being verified ({planted[:12]})" in res.err
    assert "VERIFIED" not in res.out


def test_trusted_ref_keys_say_where_they_come_from(xcli: Cli, repo: Repo, tmp_path: Path) -> None:
    """The base branch (without the change) trusts its keys, and verify names the ref,
    the commit it read and the commit that added each key."""
    git(repo.path, "switch", "-q", "-c", "base", repo.c0)
    write(repo.path, ".expflow/keys/ci.pub", repo.ci_pub.read_bytes())
    added = commit_all(repo.path, "trust CI", date="2026-11-22T10:00:00+00:00")
    git(repo.path, "commit", "-q", "--allow-empty", "-m", "later", date="2026-11-23T10:00:00+00:00")
    tip = git(repo.path, "rev-parse", "HEAD")
    git(repo.path, "switch", "-q", "main")
    report = repo.audit(xcli, "r1.json", repo.c1)
    res = run_cli(["verify", str(report), "--trusted-ref", "base", "--repo", "."], repo.path)
    assert res.code == 0, res
    assert _lines(res.out)[0] == (
        f"ok   key: {_kid(repo.ci)} from base:.expflow/keys/ci.pub "
        f"(read at {tip[:12]}, added in {added[:12]})"
    )


def test_a_tag_named_as_the_trusted_branch_is_refused(
    xcli: Cli, repo: Repo, tmp_path: Path
) -> None:
    """Anyone who can push a tag pushed `origin/main` at an orphan commit holding only
    their key: git takes `refs/tags/NAME` first, so `--trusted-ref origin/main` trusted
    it and a report they signed VERIFIED (an attacker's hunt, issue 18 seventeenth
    pass). A name two refs answer to is refused, for `--policy-ref` and `--since` too."""
    git(repo.path, "switch", "-q", "-c", "base", repo.c0)
    write(repo.path, ".expflow/keys/ci.pub", repo.ci_pub.read_bytes())
    commit_all(repo.path, "trust CI", date="2026-11-22T10:00:00+00:00")
    git(repo.path, "update-ref", "refs/remotes/origin/main", "HEAD")
    evil, evil_pub = _write_key(_key("evil"), tmp_path / "evil")
    git(repo.path, "switch", "-q", "--orphan", "evil")
    git(repo.path, "rm", "-rqf", "--ignore-unmatch", ".")
    write(repo.path, ".expflow/keys/evil.pub", evil_pub.read_bytes())
    commit_all(repo.path, "only my key", date="2026-11-23T10:00:00+00:00")
    git(repo.path, "tag", "origin/main")
    git(repo.path, "switch", "-q", "main")
    report = tmp_path / "r.json"
    signed = ["--out", str(report), "--sign-key", str(evil)]
    res = xcli(["audit", "--rev", repo.c1, *signed], repo.path)
    assert res.code == 0, res
    ambiguous = "'origin/main' names 2 refs (refs/remotes/origin/main, refs/tags/origin/main)"
    res = run_cli(["verify", str(report), "--trusted-ref", "origin/main"], repo.path)
    assert res.code == 2 and ambiguous in res.err and "VERIFIED" not in res.out, res
    res = run_cli(["verify", str(report), "--trusted-ref", "refs/remotes/origin/main"], repo.path)
    assert res.code == 1 and "VERIFIED" not in res.out, res  # evil's key is not there
    for args in (["--policy-ref", "origin/main"], ["--since", "origin/main"]):
        res = run_cli(["audit", "--rev", repo.c1, *args], repo.path)
        assert res.code == 2 and ambiguous in res.err, (args, res)
    # A full name is the ref git reads first, whatever tag shadows it (the review).
    git(repo.path, "tag", "refs/remotes/origin/main", "evil")
    full = ["verify", str(report), "--trusted-ref", "refs/remotes/origin/main"]
    res = run_cli(full, repo.path)
    assert res.code == 1 and "VERIFIED" not in res.out, res  # read, and evil's key not there
    # A tag named as an abbreviated commit id: git takes the tag, silently (the review).
    short = repo.c0[:9]
    git(repo.path, "tag", short, "evil")
    res = run_cli(["verify", str(report), "--trusted-ref", short], repo.path)
    assert res.code == 2 and f"'{short}' is a ref's name and may be a commit's" in res.err, res


# =========================================================================== 3. the action


def test_the_action_names_only_the_signer_it_verified(tmp_path: Path) -> None:
    """The action's summary names the key it signed with, as verified with that key's
    public half; with the key unusable for verification it says so instead."""
    from test_action import run_action

    from expflow_git.demo import build_repo
    from expflow_git.report.signing import keygen

    repo = tmp_path / "repo"
    repo.mkdir()
    build_repo(repo)
    key = tmp_path / "k"
    kid = keygen(str(key))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    code, _, _, summary = run_action(
        repo, run_dir, signing_key=key.read_text(), report_path=str(tmp_path / "r.json")
    )
    assert code == 0
    assert f"report: **signed by {kid}**" in summary
    assert summary.count("signed by") == 1


def test_a_key_file_the_verified_repository_tracks_is_warned_of(xcli: Cli, repo: Repo) -> None:
    """`verify --public-key K --repo .` with K (or --allowed-signers F) a file the
    repository under verification tracks: a pull request's commit can replace it with
    its own key, and the report it signed was VERIFIED without a word (an attacker's
    hunt; keys never come from the data verified). It is warned of; a key kept outside
    the repository, or untracked in it, is not."""
    report = repo.audit(xcli, "r1.json", repo.c1)
    inside = repo.path / "keys" / "ci.pub"
    inside.parent.mkdir()
    inside.write_bytes(repo.ci_pub.read_bytes())
    signers = repo.path / "allowed_signers"
    signers.write_text(f'ci namespaces="expflow-git" {repo.ci_pub.read_text().strip()}\n')
    args = ["verify", str(report), "--repo", "."]
    for extra in (["--public-key", str(inside)], ["--allowed-signers", "allowed_signers"]):
        res = run_cli([*args, *extra], repo.path)  # untracked: the user's own file
        assert res.code == 0 and "repository being verified" not in res.err, res
    git(repo.path, "add", "keys/ci.pub", "allowed_signers")
    for extra, name in (
        (["--public-key", str(inside)], str(inside)),
        (["--allowed-signers", "allowed_signers"], "allowed_signers"),
    ):
        res = run_cli([*args, *extra], repo.path)
        assert res.code == 0, res
        (line,) = [ln for ln in res.err.splitlines() if "repository being verified" in ln]
        assert line.startswith(f"expflow-git verify: warning: {name} is a file of the ")
    res = run_cli([*args, "--public-key", str(repo.ci_pub)], repo.path)
    assert res.code == 0 and "repository being verified" not in res.err, res
    # No repository verified (no --repo): nothing to warn of, even when --trusted-ref
    # reads keys from the repository around (review: it warned falsely there).
    res = run_cli(
        ["verify", str(report), "--public-key", str(inside), "--trusted-ref", "HEAD"], repo.path
    )
    assert "repository being verified" not in res.err, res
