"""The report (docs/spec.md §6.3): determinism, the Statement's binding to git, the Merkle
root and entry chain recomputed independently, signatures, key ids, UNSIGNED
everywhere, no private key in any output, and golden canonical bytes.

Golden file: tests/golden/report.json is the report of the tiny repository that
`build_golden_repo` makes, signed with tests/golden/signing-key.pem (a test-only
Ed25519 key derived from a fixed seed; it protects nothing). After an intended
format change, regenerate it and review the diff:

    UPDATE_GOLDEN=1 /tmp/venv/bin/python -m pytest tests/test_report.py -k golden -q
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from helpers_audit import (
    STUDY,
    Cli,
    add_run,
    b64d,
    clean_env,
    commit_all,
    experiment,
    git,
    m,
    new_repo,
    pae,
    run_cli,
    seed_repo,
    statement_of,
    write_json,
)

GOLDEN = Path(__file__).parent / "golden"
GOLDEN_KEY = GOLDEN / "signing-key.pem"
GOLDEN_PUB = GOLDEN / "signing-key.pem.pub"
GOLDEN_REPORT = GOLDEN / "report.json"


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed_repo(tmp_path_factory.mktemp("seed") / "repo")


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A key pair made by `keygen` (OpenSSH format)."""
    path = tmp_path_factory.mktemp("keys") / "key"
    res = run_cli(["keygen", "--out", str(path)], path.parent)
    assert res.code == 0, res
    return path


@pytest.fixture(scope="module")
def signed(seed: Path, key: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("out") / "report.json"
    res = run_cli(["audit", "--out", str(out), "--sign-key", str(key)], seed)
    assert res.code == 0, res
    return out.read_bytes()


def public_key(path: Path) -> Ed25519PublicKey:
    pub = serialization.load_ssh_public_key(path.read_bytes())
    assert isinstance(pub, Ed25519PublicKey)
    return pub


# ----------------------------------------------------------------------------- independent math


def jcs(value: Any) -> bytes:
    return bytes(rfc8785.dumps(value))


def mth(hashes: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1, the recursive definition, over already-hashed leaves."""
    n = len(hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + mth(hashes[:k]) + mth(hashes[k:])).digest()


def merkle_root(leaves: list[dict[str, str]]) -> str:
    return mth([hashlib.sha256(b"\x00" + jcs(leaf)).digest() for leaf in leaves]).hex()


def entry_hash(entry: dict[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(b"expflow-entry-v1\x00" + jcs(body)).hexdigest()


def genesis(commit: str, policy_blob: str, root: str) -> str:
    data = b"expflow-genesis-v1\x00" + commit.encode() + policy_blob.encode() + root.encode()
    return hashlib.sha256(data).hexdigest()


def test_independent_merkle_matches_known_shapes() -> None:
    """The test's own RFC 9162 code agrees with the product on 0..9 leaves (both ways round)."""
    from expflow_git.report.merkle import leaf_hash
    from expflow_git.report.merkle import merkle_root as product_root

    for n in range(10):
        leaves = [{"path": f"p{i}", "gitBlob": "0" * 40, "sha256": "1" * 64} for i in range(n)]
        assert merkle_root(leaves) == product_root([leaf_hash(x) for x in leaves]).hex()
    # RFC 9162: a single leaf is its own root; two leaves are one node
    one = hashlib.sha256(b"\x00" + jcs({"a": "b"})).digest()
    assert mth([one]) == one
    assert mth([one, one]) == hashlib.sha256(b"\x01" + one + one).digest()


# ----------------------------------------------------------------------------- the statement


def test_statement_is_bound_to_the_commit(seed: Path, signed: bytes) -> None:
    envelope = json.loads(signed)
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    payload = b64d(envelope["payload"])
    st = json.loads(payload)
    assert jcs(st) == payload, "payload is not RFC 8785 canonical JSON"
    assert jcs(envelope) + b"\n" == signed
    commit = git(seed, "rev-parse", "HEAD")
    tree = git(seed, "rev-parse", "HEAD^{tree}")
    assert st["_type"] == "https://in-toto.io/Statement/v1"
    assert st["subject"] == [
        {"name": "commit", "digest": {"gitCommit": commit}},
        {"name": "tree", "digest": {"gitTree": tree}},
    ]
    assert st["predicateType"].startswith("urn:expflow-git:")
    p = st["predicate"]
    assert p["tool"]["name"] == "expflow-git"
    assert p["repo"] == {"commit": commit, "tree": tree, "parents": []}
    policy_blob = git(seed, "rev-parse", "HEAD:expflow.yaml")
    policy_bytes = subprocess.run(
        ["git", "cat-file", "blob", policy_blob], cwd=seed, capture_output=True, check=True
    ).stdout
    assert p["policy"]["path"] == "expflow.yaml"
    assert p["policy"]["gitBlob"] == policy_blob
    assert p["policy"]["sha256"] == hashlib.sha256(policy_bytes).hexdigest()
    assert p["chain"] == {"seq": 0, "prev": None}


def test_inputs_are_every_document_with_an_independent_merkle_root(
    seed: Path, signed: bytes
) -> None:
    p = statement_of(signed)["predicate"]
    leaves = p["inputs"]["leaves"]
    listed = git(seed, "ls-tree", "-r", "--name-only", "HEAD", "experiments", "results")
    assert [leaf["path"] for leaf in leaves] == sorted(listed.splitlines())
    assert p["inputs"]["count"] == len(leaves) == 14
    for leaf in leaves:
        assert set(leaf) == {"path", "gitBlob", "sha256"}
        blob = git(seed, "rev-parse", f"HEAD:{leaf['path']}")
        data = (seed / leaf["path"]).read_bytes()
        assert leaf["gitBlob"] == blob
        assert leaf["sha256"] == hashlib.sha256(data).hexdigest()
    assert p["inputs"]["merkleRoot"] == merkle_root(leaves)


def test_entry_chain_recomputed_independently(signed: bytes) -> None:
    p = statement_of(signed)["predicate"]
    entries = p["entries"]
    prev = genesis(p["repo"]["commit"], p["policy"]["gitBlob"], p["inputs"]["merkleRoot"])
    for i, entry in enumerate(entries):
        assert entry["seq"] == i
        assert entry["prev"] == prev
        assert entry["hash"] == entry_hash(entry)
        prev = entry["hash"]
    assert p["entriesHead"] == {"count": len(entries), "hash": prev}
    # findings first, the attempts per study, one entry per run, the params that differ
    # between the top runs, then the walk-forward outcome
    kinds = [e["type"] for e in entries]
    assert kinds == ["attempts"] + ["run"] * 7 + ["params", "walk-forward"]
    result = p["result"]
    assert result["verdict"] == "pass"
    assert result["best_any"] == "exp-002" and result["best_feasible"] == "exp-001"
    assert [r["id"] for r in result["ranking"]] == [e["id"] for e in entries if e["type"] == "run"]


def test_findings_come_first_in_the_entries(xcli: Cli, tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    add_run(repo, "a", m(50))
    write_json(repo, f"experiments/{STUDY}/b.json", experiment("not-b"))
    commit_all(repo)
    res = xcli(["audit", "--format", "json"], repo)
    entries = statement_of(res.out)["predicate"]["entries"]
    assert [e["type"] for e in entries] == ["finding", "attempts", "run"]
    assert entries[0]["rule"] == "id-mismatch"


def test_signature_verifies_over_dsse_pae(signed: bytes, key: Path) -> None:
    envelope = json.loads(signed)
    payload = b64d(envelope["payload"])
    [sig] = envelope["signatures"]
    pub = public_key(Path(f"{key}.pub"))
    pub.verify(base64.b64decode(sig["sig"]), pae(envelope["payloadType"], payload))
    # the signature is over the PAE, not over the bare payload
    with pytest.raises(InvalidSignature):
        pub.verify(base64.b64decode(sig["sig"]), payload)


@pytest.mark.ssh_keygen
def test_keyid_is_the_ssh_keygen_fingerprint(signed: bytes, key: Path) -> None:
    out = subprocess.run(
        ["ssh-keygen", "-lf", f"{key}.pub"], capture_output=True, text=True, check=True
    ).stdout
    fingerprint = out.split()[1]
    assert fingerprint.startswith("SHA256:")
    assert json.loads(signed)["signatures"][0]["keyid"] == fingerprint


def test_keygen_writes_a_private_0600_key_and_a_public_key(tmp_path: Path) -> None:
    path = tmp_path / "k"
    res = run_cli(["keygen", "--out", str(path)], tmp_path)
    assert res.code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Path(f"{path}.pub").read_text().startswith("ssh-ed25519 ")
    private = path.read_text()
    assert "PRIVATE KEY" in private
    kid = re.search(r"SHA256:[A-Za-z0-9+/]{43}", res.out)
    assert kid is not None
    for line in private.splitlines()[1:-1]:
        assert line not in res.both
    again = run_cli(["keygen", "--out", str(path)], tmp_path)
    assert again.code == 2
    assert "already exists" in again.err
    assert path.read_text() == private  # never overwritten


# ----------------------------------------------------------------------------- determinism


def test_same_commit_policy_and_key_give_identical_bytes(
    seed: Path, key: Path, signed: bytes, tmp_path: Path
) -> None:
    again = tmp_path / "again.json"
    assert run_cli(["audit", "--out", str(again), "--sign-key", str(key)], seed).code == 0
    assert again.read_bytes() == signed
    # a clone elsewhere, with the key from the environment (as its PEM text)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(seed), str(clone)], env=clean_env(), check=True)
    priv = serialization.load_ssh_private_key(key.read_bytes(), password=None)
    pem = priv.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    res = run_cli(["audit", "--format", "json"], clone, env={"EXPFLOW_SIGNING_KEY": pem})
    assert res.code == 0
    assert res.out.encode() == signed


def test_unsigned_reports_are_deterministic_too(xcli: Cli, seed: Path) -> None:
    first = xcli(["audit", "--format", "json"], seed).out
    second = xcli(["audit", "--format", "json"], seed).out
    assert first == second
    assert json.loads(first)["signatures"] == []


def test_created_at_is_the_commit_time(xcli: Cli, tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    add_run(repo, "a", m(50))
    git(repo, "add", "-A")
    env = clean_env(
        {
            "GIT_AUTHOR_DATE": "2020-01-02T03:04:05+00:00",
            "GIT_COMMITTER_DATE": "2026-11-20T12:34:56+02:00",
        }
    )
    subprocess.run(["git", "commit", "-q", "-m", "x"], cwd=repo, env=env, check=True)
    st = statement_of(xcli(["audit", "--format", "json"], repo).out)
    assert st["predicate"]["createdAt"] == "2026-11-20T10:34:56Z"


def test_previous_links_reports_into_a_chain(
    xcli: Cli, seed: Path, key: Path, signed: bytes, tmp_path: Path
) -> None:
    first = tmp_path / "first.json"
    first.write_bytes(signed)
    res = xcli(["audit", "--format", "json", "--previous", str(first)], seed)
    chain = statement_of(res.out)["predicate"]["chain"]
    assert chain == {
        "seq": 1,
        "prev": {
            "payloadSha256": hashlib.sha256(b64d(json.loads(signed)["payload"])).hexdigest(),
            "gitCommit": git(seed, "rev-parse", "HEAD"),
        },
    }


def test_a_previous_report_at_the_last_safe_seq_is_one_error_line(
    xcli: Cli, seed: Path, tmp_path: Path
) -> None:
    """A previous report at seq 2**53 - 1 (valid, unsigned: anyone can hand one in) made
    the audit run whole, then stop on a traceback, exit 1: the next seq leaves the
    integers canonical JSON writes (an attacker's hunt, issue 18 twenty-second pass)."""
    from expflow_git.report.canonical import canonical_json

    envelope = json.loads(xcli(["audit", "--format", "json"], seed).out)
    statement = json.loads(b64d(envelope["payload"]))
    commit = statement["predicate"]["repo"]["commit"]
    previous = tmp_path / "previous.json"
    for seq, code in ((2**53 - 2, 0), (2**53 - 1, 2)):
        statement["predicate"]["chain"] = {
            "seq": seq,
            "prev": {"payloadSha256": "0" * 64, "gitCommit": commit},
        }
        envelope["payload"] = base64.b64encode(canonical_json(statement)).decode()
        previous.write_bytes(canonical_json(envelope) + b"\n")
        out = tmp_path / f"next-{seq}.json"
        res = run_cli(["audit", "--previous", str(previous), "--out", str(out)], seed)
        assert res.code == code and "Traceback" not in res.err, res
        assert out.exists() == (code == 0)
    assert res.err.strip().endswith("leaves no room for a next report"), res.err


# ----------------------------------------------------------------------------- signed / unsigned


def test_unsigned_report_says_so_everywhere(xcli: Cli, seed: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    for fmt in ("text", "md", "github"):
        res = xcli(["audit", "--format", fmt, "--out", str(out)], seed)
        assert res.code == 0
        assert "UNSIGNED" in res.out, fmt
        assert "UNSIGNED" in res.err, fmt
    assert json.loads(out.read_bytes())["signatures"] == []
    for fmt in ("text", "md"):
        shown = xcli(["report", str(out), "--format", fmt], seed)
        assert shown.code == 0, shown
        assert "UNSIGNED" in shown.out, fmt


def test_signed_report_names_its_key(xcli: Cli, seed: Path, key: Path) -> None:
    kid = json.loads(xcli(["audit", "--format", "json", "--sign-key", str(key)], seed).out)[
        "signatures"
    ][0]["keyid"]
    for fmt in ("text", "md", "github"):
        res = xcli(["audit", "--format", fmt, "--sign-key", str(key)], seed)
        assert "UNSIGNED" not in res.both, fmt
        assert (kid if fmt != "github" else "report signed") in res.out, fmt
    assert f"signed by {kid}" in res.err


def _secret_forms(key: Path) -> list[str]:
    """The private key as a file, as PEM, as its raw seed in hex and base64."""
    text = key.read_text()
    priv = serialization.load_ssh_private_key(key.read_bytes(), password=None)
    raw = priv.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    pem = priv.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    lines = [ln for ln in (text + pem).splitlines() if len(ln) > 16 and "-----" not in ln]
    return [*lines, raw.hex(), base64.b64encode(raw).decode().rstrip("=")]


def test_the_private_key_never_appears_in_any_output(
    xcli: Cli, seed: Path, key: Path, tmp_path: Path
) -> None:
    secrets = _secret_forms(key)
    assert len(secrets) >= 4
    out = tmp_path / "r.json"
    html = tmp_path / "r.html"
    seen: list[str] = []
    for fmt in ("text", "json", "md", "github"):
        res = xcli(["audit", "--format", fmt, "--sign-key", str(key), "--out", str(out)], seed)
        seen += [res.out, res.err]
    res = xcli(
        ["audit", "--format", "json", "--html", str(html)],
        seed,
        env={"EXPFLOW_SIGNING_KEY": key.read_text()},
    )
    assert res.code == 0 and json.loads(res.out)["signatures"], res.err
    seen += [res.out, res.err, out.read_text(), html.read_text()]
    seen.append(xcli(["verify", str(out), "--public-key", f"{key}.pub"], seed).out)
    seen.append(xcli(["report", str(out), "--public-key", f"{key}.pub"], seed).out)
    # a corrupt key must not be echoed in the error either
    broken = key.read_text().replace("\n", "\nX", 2)
    bad = xcli(["audit"], seed, env={"EXPFLOW_SIGNING_KEY": broken})
    assert bad.code == 2
    seen += [bad.out, bad.err]
    blob = "\n".join(seen)
    for secret in secrets:
        assert secret not in blob


@pytest.mark.parametrize("form", ["base64", "bag-attributes", "raw-hex"])
def test_a_signing_key_in_another_form_is_never_quoted(
    xcli: Cli, seed: Path, key: Path, form: str
) -> None:
    """$EXPFLOW_SIGNING_KEY not starting with `-----BEGIN` was taken for a path and
    quoted in "…: key file not found" / "File name too long": a base64-encoded secret, or
    openssl's "Bag Attributes" lines before the PEM, went whole into the CI log (an
    attacker's hunt)."""
    text = key.read_text()
    value = {
        "base64": base64.b64encode(text.encode()).decode(),
        "bag-attributes": "Bag Attributes\n    localKeyID: 01\n" + text,
        "raw-hex": _secret_forms(key)[-2],
    }[form]
    res = xcli(["audit"], seed, env={"EXPFLOW_SIGNING_KEY": value})
    assert res.code == 2 and res.out == "", res.both
    (line,) = res.err.splitlines()
    assert line.startswith("expflow-git: error: $EXPFLOW_SIGNING_KEY (taken for a key file's path)")
    for secret in [*_secret_forms(key), value[:40], value[-40:]]:
        assert secret not in res.err, secret


# ----------------------------------------------------------------------------- golden bytes


# Everything the golden repository holds is spelled out here, not taken from
# shared helpers, so that only a change of the report format can move its bytes.
GOLDEN_POLICY = """\
version: 1
paths:
  experiments: ["experiments/**/*.json"]
  results: ["results/**/*.json"]
metrics:
  seg_total: {group: Score, higher_is_better: true}
  seg1: {group: Score, higher_is_better: true}
  pde_mean: {group: PDE, higher_is_better: false, threshold: 18.09}
  train_time_min: {group: Time, higher_is_better: false, threshold: 60, min: 0}
required_metrics: [seg_total, pde_mean, train_time_min]
ranking:
  sort_by: seg_total
  tie_break: [pde_mean]
gates: []
rules:
  - {param: sub_step, op: gt, value: 0, required: true}
walk_forward: {metric: seg_total, split: holdout, top_n: 10, min_pearson: 0.3,
               max_evaluations_per_study: 10}
"""
# id: (seg_total, pde_mean, train_time_min, holdout seg_total)
GOLDEN_RUNS = {
    "g-001": (57.09, 15.0, 45.5, 55.2),
    "g-002": (61.4, 19.7, 52.0, 58.9),
    "g-003": (56.2, 17.5, 58.9, 54.1),
    "g-004": (53.9, 12.8, 30.2, 52.6),
}


def _golden_record(exp_id: str, study: str) -> dict[str, Any]:
    return {
        "schema": "expflow/experiment@1",
        "id": exp_id,
        "study": study,
        "title": f"golden run {exp_id}",
        "created_at": "2026-11-20T09:00:00Z",
        "tags": ["golden"],
        "status": "success",
        "seed": 1837261,
        "params": {"Args/--sub_step": 5, "lr": 0.001},
    }


def build_golden_repo(root: Path) -> Path:
    """A tiny fixed repository: four runs, a failed one, one finding, a walk-forward gate,
    fixed dates."""
    repo = new_repo(root, GOLDEN_POLICY)
    for exp_id, (seg, pde, minutes, holdout) in GOLDEN_RUNS.items():
        write_json(repo, f"experiments/{STUDY}/{exp_id}.json", _golden_record(exp_id, STUDY))
        write_json(
            repo,
            f"results/{STUDY}/{exp_id}.json",
            {
                "schema": "expflow/result@1",
                "experiment": exp_id,
                "recorded_at": "2026-11-20T10:00:00Z",
                "metrics": {"seg_total": seg, "pde_mean": pde, "train_time_min": minutes},
                "splits": {"holdout": {"seg_total": holdout}},
            },
        )
    write_json(repo, "experiments/other/stray.json", _golden_record("not-stray", "other"))
    # A failed run, left off the board with its reason (issue 16: every attempt counted).
    failed = _golden_record("g-005", STUDY) | {"status": "failed", "reason": "out of memory"}
    write_json(repo, f"experiments/{STUDY}/g-005.json", failed)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "golden", date="2026-11-20T10:00:00+00:00")
    return repo


def _golden_report(tmp_path: Path) -> tuple[Path, bytes, Any]:
    repo = build_golden_repo(tmp_path / "golden-repo")
    res = run_cli(["audit", "--format", "json", "--sign-key", str(GOLDEN_KEY)], repo)
    assert res.code == 1  # the stray record is a finding
    return repo, res.out.encode(), res


def test_golden_report_bytes(tmp_path: Path) -> None:
    repo, data, _ = _golden_report(tmp_path)
    assert git(repo, "rev-parse", "HEAD") == statement_of(data)["predicate"]["repo"]["commit"]
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN_REPORT.write_bytes(data)
    assert GOLDEN_REPORT.exists(), "run with UPDATE_GOLDEN=1 to create tests/golden/report.json"
    assert data == GOLDEN_REPORT.read_bytes(), (
        "the report's canonical bytes changed; if intended, regenerate with UPDATE_GOLDEN=1"
    )


def test_golden_report_verifies(tmp_path: Path) -> None:
    repo, _, _ = _golden_report(tmp_path)
    res = run_cli(
        ["verify", str(GOLDEN_REPORT), "--public-key", str(GOLDEN_PUB), "--repo", str(repo)],
        tmp_path,
    )
    assert res.code == 0, res.out
    assert "VERIFIED" in res.out
    st = statement_of(GOLDEN_REPORT.read_bytes())
    assert st["predicate"]["createdAt"] == "2026-11-20T10:00:00Z"
    assert st["predicate"]["result"]["best_any"] == "g-002"
    assert st["predicate"]["result"]["best_feasible"] == "g-001"
    # `ssh-keygen -lf tests/golden/signing-key.pem.pub`, recorded when the key was made
    [sig] = json.loads(GOLDEN_REPORT.read_bytes())["signatures"]
    assert sig["keyid"] == "SHA256:yY3o40Nyose+WnexVtxCxeccxNO1R+Vjgt9G2hxoW1M"
