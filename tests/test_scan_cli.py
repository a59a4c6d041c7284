"""`expflow-git scan` (the no-pin-hash hook) through the CLI: every docs/spec.md §5 rule, masking,
the pragma, the policy allow-list, binary files."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess

import pytest
from conftest import ExpRepo, assert_clean_output, run_cli

pytestmark = pytest.mark.usefixtures("isolated_env")

PIN_SHA = hashlib.sha256(b"2580").hexdigest()
NOT_A_PIN_SHA = hashlib.sha256(b"just some file contents").hexdigest()
SHA_MESSAGE = "leaked SHA-256 of a 4-digit PIN (64 hex chars, masked: ****)"


def own_format_hash() -> str:
    from expflow_git.pin.store import hash_pin

    return hash_pin("2580")


def assert_masked(output: str, *secrets: str) -> None:
    """No secret, and no 8-character piece of one, appears in the output."""
    for secret in secrets:
        for i in range(0, len(secret) - 7):
            assert secret[i : i + 8] not in output, (secret[i : i + 8], output)


# (file, content, rule, line, col, secret that must not be echoed)
POSITIVES = [
    ("ops/pin.hash", "whatever\n", "pin-hash-file", 1, 1, None),
    ("config/PIN.HASH", "", "pin-hash-file", 1, 1, None),
    (".env", f"EXPFLOW_PIN_HASH={PIN_SHA[:20]}xyz\n", "pin-assignment", 1, 18, PIN_SHA[:20]),
    (".env.local", "A=1\nEXPFLOW_PIN=2580\n", "pin-assignment", 2, 13, None),
    (
        "deploy.sh",
        "#!/bin/sh\nexport EXPFLOW_PIN_HASH='s3cr3t-v4lue'\n",
        "pin-assignment",
        2,
        26,
        "s3cr3t-v4lue",
    ),
    ("conf.yaml", 'auth:\n  pin_hash: "q9w8e7r6t5y4"\n', "pin-assignment", 2, 14, "q9w8e7r6t5y4"),
    ("conf.json", '{\n  "pinHash": "zx81zx81zx81"\n}\n', "pin-assignment", 2, 15, "zx81zx81zx81"),
    ("conf.toml", '[auth]\npin.hash = "t0mlt0mlt0ml"\n', "pin-assignment", 2, 13, "t0mlt0mlt0ml"),
    ("notes.md", f"the hash is {PIN_SHA} ok\n", "pin-sha256", 1, 13, PIN_SHA),
    ("notes.txt", f"x\ny\n  HASH={PIN_SHA.upper()}\n", "pin-sha256", 3, 8, PIN_SHA.upper()),
    ("data.csv", f"a,b\n1,0x{PIN_SHA}\n", "pin-sha256", 2, 5, PIN_SHA),
    ("backup.cfg", "stored = {own}\n", "pin-hash-format", 1, 10, "OWN"),
    ("settings.yaml", "user:\n  pin: 2580\n", "pin-value", 2, 8, None),
    ("settings.json", '{"pin": "2580"}\n', "pin-value", 1, 10, None),
]


@pytest.mark.parametrize(
    ("rel", "content", "rule", "line", "col", "secret"),
    POSITIVES,
    ids=[f"{p[2]}:{p[0]}" for p in POSITIVES],
)
def test_each_rule_is_found(
    exp_repo: ExpRepo,
    cli,
    rel: str,
    content: str,
    rule: str,
    line: int,
    col: int,
    secret: str | None,
) -> None:
    own = own_format_hash()
    content = content.replace("{own}", own)
    secret = own if secret == "OWN" else secret
    exp_repo.write(rel, content)
    res = cli(["scan", rel], cwd=exp_repo.path)
    assert res.code == 1, res.both
    assert res.out.startswith(f"{rel}:{line}:{col}: {rule}: "), res.out
    assert len(res.out.splitlines()) == 1
    assert "leaked" in res.err
    if secret:
        assert_masked(res.both, secret)


def test_all_rules_through_the_real_cli_mask_every_token(exp_repo: ExpRepo) -> None:
    own = own_format_hash()
    files = {
        "a.env": f"EXPFLOW_PIN_HASH={PIN_SHA}\n",
        "b.md": f"{PIN_SHA.upper()}\n",
        "c.cfg": f"x: {own}\n",
        "d.yaml": "pin: '2580'\n",
        "e.sh": "pinHash=hunter2hunter2\n",
    }
    for rel, text in files.items():
        exp_repo.write(rel, text)
    code, out, err = run_cli(["scan", *files], cwd=exp_repo.path)
    assert code == 1
    assert_clean_output(out, err)
    for rel in files:
        assert f"{rel}:1:" in out
    assert len(out.splitlines()) == len(files)
    assert_masked(out + err, PIN_SHA, PIN_SHA.upper(), own, "hunter2hunter2")
    assert "2580" not in out + err


@pytest.mark.parametrize(
    "content",
    [
        f"sha256: {NOT_A_PIN_SHA}\n",
        f"{NOT_A_PIN_SHA.upper()}\n",
        f"commit {hashlib.sha1(b'x').hexdigest()}\n",
        f"long {PIN_SHA}0\n",  # 65 hex digits is not a SHA-256 token
        f"word{PIN_SHA}\n",  # not bounded by a non-word character
        "EXPFLOW_PIN_HASH=\n",
        'pin_hash: ""\n',
        "pin_hash: null\n",
        "EXPFLOW_PIN=${{ secrets.EXPFLOW_PIN }}\n",
        "EXPFLOW_PIN_HASH=$EXPFLOW_PIN_HASH\n",
        "pin: 12345\n",
        "pin: 12\n",
        "spin: 1234\n",
        "the pin is required\n",
        "expflow$scrypt$ but no hash\n",
    ],
)
def test_harmless_content_is_not_flagged(exp_repo: ExpRepo, cli, content: str) -> None:
    exp_repo.write("file.txt", content)
    res = cli(["scan", "file.txt"], cwd=exp_repo.path)
    assert res.code == 0, res.both
    assert res.out == ""
    assert "1 file(s) clean" in res.err


def test_random_sha256_values_are_not_flagged(exp_repo: ExpRepo, cli) -> None:
    lines = [hashlib.sha256(f"blob {i}".encode()).hexdigest() for i in range(500)]
    exp_repo.write("hashes.txt", "\n".join(lines) + "\n")
    res = cli(["scan", "hashes.txt"], cwd=exp_repo.path)
    assert res.code == 0, res.out


def test_every_pin_sha256_is_flagged(exp_repo: ExpRepo, cli) -> None:
    lines = [hashlib.sha256(f"{n:04d}".encode()).hexdigest() for n in range(0, 10_000, 97)]
    exp_repo.write("hashes.txt", "\n".join(lines) + "\n")
    res = cli(["scan", "hashes.txt"], cwd=exp_repo.path)
    assert res.code == 1
    assert len(res.out.splitlines()) == len(lines)


def test_pragma_exempts_its_line_only(exp_repo: ExpRepo, cli) -> None:
    exp_repo.write(
        "fixture.py",
        f'KNOWN = "{PIN_SHA}"  # expflow: allow-pin-hash\nOTHER = "{PIN_SHA}"\n',
    )
    res = cli(["scan", "fixture.py"], cwd=exp_repo.path)
    assert res.code == 1
    assert res.out.startswith("fixture.py:2:10: pin-sha256")
    assert len(res.out.splitlines()) == 1
    exp_repo.write("fixture.py", f'KNOWN = "{PIN_SHA}"  # expflow: allow-pin-hash\n')
    assert cli(["scan", "fixture.py"], cwd=exp_repo.path).code == 0


def test_policy_scan_allow_exempts_files(exp_repo: ExpRepo, cli) -> None:
    exp_repo.write("tests/fixtures/hashes.json", json.dumps({"h": PIN_SHA}) + "\n")
    exp_repo.write("elsewhere/hashes.json", json.dumps({"h": PIN_SHA}) + "\n")
    args = ["scan", "tests/fixtures/hashes.json", "elsewhere/hashes.json"]
    res = cli(args, cwd=exp_repo.path)
    assert res.code == 1 and len(res.out.splitlines()) == 2
    policy = exp_repo.path / "expflow.yaml"
    policy.write_text(policy.read_text() + 'scan:\n  allow: ["tests/fixtures/**"]\n')
    res = cli(args, cwd=exp_repo.path)
    assert res.code == 1
    assert res.out.startswith("elsewhere/hashes.json:1:")
    assert "tests/fixtures" not in res.out


def test_a_staged_scan_allow_takes_effect_once_committed(exp_repo: ExpRepo, cli) -> None:
    """`scan.allow: ["**"]` staged with a PIN hash exempted it in the same commit (an
    attacker's hunt), where CI, judging by the base's policy, refuses it. The hook
    honours only the entries HEAD's policy has; committed first, the entry works."""
    exp_repo.commit("base")
    policy = exp_repo.path / "expflow.yaml"
    policy.write_text(policy.read_text() + 'scan:\n  allow: ["tests/fixtures/**"]\n')
    exp_repo.write("tests/fixtures/hashes.json", json.dumps({"h": PIN_SHA}) + "\n")
    exp_repo.git("add", "-A")
    args = ["scan", "--staged", "--", "expflow.yaml", "tests/fixtures/hashes.json"]
    res = cli(args, cwd=exp_repo.path)
    assert res.code == 1 and res.out.startswith("tests/fixtures/hashes.json:1:"), res.out
    assert "scan.allow 'tests/fixtures/**' takes effect once committed" in res.err
    exp_repo.git("rm", "-q", "--cached", "tests/fixtures/hashes.json")
    exp_repo.commit("the allow-list first")
    exp_repo.git("add", "-A")
    res = cli(args, cwd=exp_repo.path)
    assert res.code == 0 and "takes effect" not in res.err, res.both


def test_a_staged_scan_allow_on_an_orphan_branch_takes_effect_once_committed(
    exp_repo: ExpRepo, cli
) -> None:
    """On an orphan branch HEAD is unborn, and the staged allow-list was taken whole as
    a repository's first commit's: `allow: ["**"]` let a PIN hash be committed (a user's
    hunt, issue 18 twenty-third pass). Only a repository without any commit may use
    its own staged policy."""
    policy = exp_repo.path / "expflow.yaml"
    args = ["scan", "--staged", "--", "expflow.yaml", "leak.txt"]
    policy.write_text(policy.read_text() + 'scan:\n  allow: ["**"]\n')
    exp_repo.write("leak.txt", f"x {PIN_SHA}\n")
    exp_repo.git("add", "-A")
    res = cli(args, cwd=exp_repo.path)  # the repository's first commit: its own policy
    assert res.code == 0 and "takes effect" not in res.err, res.both
    exp_repo.git("rm", "-q", "-f", "leak.txt")
    exp_repo.commit("base")
    exp_repo.git("checkout", "-q", "--orphan", "orph")
    exp_repo.write("leak.txt", f"x {PIN_SHA}\n")
    exp_repo.git("add", "-A")
    res = cli(args, cwd=exp_repo.path)
    assert res.code == 1 and res.out.startswith("leak.txt:1:3: pin-sha256"), res.both
    assert "scan.allow '**' takes effect once committed" in res.err


# A policy in one line of flow YAML that allows every path: a symbolic link's target text.
ALLOW_ALL = (
    "{version: 1, metrics: {m: {group: G, type: scalar, higher_is_better: true}}, "
    'ranking: {sort_by: m}, scan: {allow: ["**"]}}'
)


def test_a_staged_policy_that_is_a_link_allows_nothing(exp_repo: ExpRepo, cli) -> None:
    """The staged policy was read with `cat-file :0:expflow.yaml`, a symbolic link's
    target text with it: a link whose target is one line of flow YAML with
    `scan: {allow: ["**"]}`, staged in a repository's first commit (its own policy
    judges it) under a regular file on disk, let a PIN hash by. A link in the index is
    no policy (the audit reads none there): the scan warns and exempts nothing."""
    policy = exp_repo.path / "expflow.yaml"
    text = policy.read_text()
    policy.unlink()
    policy.symlink_to(ALLOW_ALL)
    exp_repo.write("leak.txt", f"x {PIN_SHA}\n")
    exp_repo.git("add", "-A")
    policy.unlink()
    policy.write_text(text)  # on disk, not staged: the plain hooks stash nothing
    res = cli(["scan", "--staged", "--", "expflow.yaml", "leak.txt"], cwd=exp_repo.path)
    assert res.code == 1 and res.out.startswith("leak.txt:1:3: pin-sha256"), res.both
    assert "warning: policy not used for the scan allow-list: expflow.yaml: the index " in res.err
    assert "holds a symbolic link here" in res.err


def test_a_policy_that_is_a_link_at_head_allows_nothing(exp_repo: ExpRepo, cli) -> None:
    """HEAD's allow-list was read as `HEAD:expflow.yaml`, a symbolic link's target text
    with it: a link committed past the hooks (`--no-verify`) whose target is one line of
    flow YAML with `scan: {allow: ["**"]}`, then a regular policy saying the same staged
    with a PIN hash, let the hash by. A link at HEAD is no policy (the audit reads none
    there): the staged entries take effect once committed."""
    policy = exp_repo.path / "expflow.yaml"
    text = policy.read_text()
    policy.unlink()
    policy.symlink_to(ALLOW_ALL)
    exp_repo.commit("a link in the policy's place")
    policy.unlink()
    policy.write_text(text + 'scan:\n  allow: ["**"]\n')
    exp_repo.write("leak.txt", f"x {PIN_SHA}\n")
    exp_repo.git("add", "-A")
    res = cli(["scan", "--staged", "--", "expflow.yaml", "leak.txt"], cwd=exp_repo.path)
    assert res.code == 1 and res.out.startswith("leak.txt:1:3: pin-sha256"), res.both
    assert "scan.allow '**' takes effect once committed" in res.err


def test_a_staged_scan_refuses_a_path_the_index_lacks(exp_repo: ExpRepo, cli) -> None:
    """`scan --staged -- u.txt` of a file never staged said "0 file(s) clean" (exit 0),
    whatever it held, where `validate --staged` refuses a document not staged (a user's
    hunt, issue 18 twenty-third pass): --staged scans the index, and a path it lacks
    (a file, nothing, a folder with nothing staged below) is named, exit 1."""
    exp_repo.write("u.txt", f"x {PIN_SHA}\n")
    exp_repo.write("clean.txt", "nothing secret\n")
    exp_repo.write("untracked/a.txt", "nothing secret\n")
    exp_repo.git("add", "clean.txt")
    args = ["scan", "--staged", "--", "u.txt", "clean.txt", "gone.txt", "untracked"]
    res = cli(args, cwd=exp_repo.path)
    assert res.code == 1, res.both
    assert res.out.splitlines() == [
        "untracked: not-a-regular-file: not staged",
        "u.txt: not-a-regular-file: not staged",
        "gone.txt: not-a-regular-file: not staged",
    ], res.out
    assert "3 path(s) not staged" in res.err and "leaked" not in res.err
    exp_repo.git("add", "u.txt")
    res = cli(["scan", "--staged", "--", "u.txt", "clean.txt"], cwd=exp_repo.path)
    assert res.code == 1 and res.out.startswith("u.txt:1:3: pin-sha256"), res.both
    assert "not staged" not in res.both
    res = cli(["scan", "--", "untracked", "clean.txt"], cwd=exp_repo.path)  # from disk
    assert res.code == 0 and "2 file(s) clean" in res.err, res.both


def test_a_scan_from_disk_refuses_a_path_that_is_no_file(exp_repo: ExpRepo, cli) -> None:
    """`scan .env.typo` said "0 file(s) clean", exit 0, though nothing was scanned (a hunt,
    issue 18 twenty-eighth pass); `validate` names such a path. A named path that is not
    there, or no regular file (a FIFO), is `not-a-regular-file`, exit 1; a tracked file
    deleted from the disk is still nothing to scan when no path is named."""
    import os

    exp_repo.write("clean.txt", "nothing secret\n")
    exp_repo.write("gone.txt", "nothing secret\n")
    exp_repo.git("add", "clean.txt", "gone.txt")
    os.mkfifo(exp_repo.path / "pipe")
    (exp_repo.path / "gone.txt").unlink()
    res = cli(["scan", "--", "clean.txt", ".env.typo", "pipe"], cwd=exp_repo.path)
    assert res.code == 1, res.both
    assert res.out.splitlines() == [
        ".env.typo: not-a-regular-file: no such file",
        "pipe: not-a-regular-file: is not a regular file",
    ], res.out
    assert "2 path(s) named are no file to scan" in res.err and "leaked" not in res.err
    assert "not staged" not in res.err
    res = cli(["scan"], cwd=exp_repo.path)
    assert res.code == 0 and "file(s) clean" in res.err, res.both


def test_a_staged_scan_of_a_folder_above_works(exp_repo: ExpRepo, cli) -> None:
    """`scan --staged ..` from a folder of the repository: a folder given was asked of
    the index, and `..` made `git ls-files` fail, exit 2 (a review)."""
    exp_repo.write("docs/notes.md", f"{PIN_SHA}\n")
    exp_repo.git("add", "-A")
    res = cli(["scan", "--staged", ".."], cwd=exp_repo.path / "docs")
    assert res.code == 1 and "docs/notes.md:1:1: pin-sha256" in res.out, res.both


def test_a_staged_scan_of_a_folder_reads_the_index_under_it(exp_repo: ExpRepo, cli) -> None:
    """`scan --staged FOLDER` walked the folder on disk: a file staged and then deleted
    from the work tree, and a folder the work tree no longer has at all, were reported
    clean while the index held a PIN hash (left by the twentieth pass). The index's
    entries under the folder are read now; an untracked file there is not staged."""
    exp_repo.write("docs/notes.md", f"{PIN_SHA}\n")
    exp_repo.write("docs/deep/more.md", f"x {PIN_SHA}\n")
    exp_repo.write("gone/a.txt", f"{PIN_SHA}\n")
    exp_repo.git("add", "-A")
    (exp_repo.path / "docs/notes.md").unlink()
    exp_repo.write("docs/untracked.md", f"{PIN_SHA}\n")
    shutil.rmtree(exp_repo.path / "gone")
    res = cli(["scan", "--staged", "--", "docs", "gone"], cwd=exp_repo.path)
    assert res.code == 1, res.both
    found = [line.split(": ")[0] for line in res.out.splitlines()]
    assert found == ["docs/deep/more.md:1:3", "docs/notes.md:1:1", "gone/a.txt:1:1"], res.out


def test_broken_policy_does_not_disable_the_scan(exp_repo: ExpRepo, cli) -> None:
    (exp_repo.path / "expflow.yaml").write_text("version: 2\nscan: {allow: ['**']}\n")
    exp_repo.write("notes.md", f"{PIN_SHA}\n")
    res = cli(["scan", "notes.md"], cwd=exp_repo.path)
    assert res.code == 1
    assert "notes.md:1:1: pin-sha256" in res.out
    assert "warning" in res.err


def test_a_file_over_8_mib_is_scanned_in_the_hook_and_the_history(exp_repo: ExpRepo, cli) -> None:
    """Over 8 MiB a file was skipped whole ("skipped, larger than …", exit 0), by the
    hook, the audit and the history alike: a PIN hash in a big log was committed, and
    deleted again it passed `audit --since` (an attacker's hunt)."""
    base = exp_repo.commit("base")
    filler = ("x" * 99 + "\n").encode() * 90_000  # 9 MB
    exp_repo.write("logs/train.log", filler + f"pin_hash: {PIN_SHA}\n".encode() + filler)
    res = cli(["scan", "logs/train.log"], cwd=exp_repo.path)
    assert res.code == 1 and "logs/train.log:90001:11: pin-sha256" in res.out, res.out
    assert "skipped" not in res.err and PIN_SHA not in res.both
    exp_repo.commit("a big log")
    (exp_repo.path / "logs/train.log").unlink()
    exp_repo.commit("and gone")
    res = cli(["audit", "--since", base], cwd=exp_repo.path)
    assert res.code == 1, res.out
    assert "logs/train.log:90001:11: pin-sha256" in res.out and "stays in the history" in res.out


def test_binary_files_are_read_for_their_ascii_tokens_only(exp_repo: ExpRepo, cli) -> None:
    exp_repo.write("model.bin", b"\x00\x01\x02" + PIN_SHA.encode() + b"\x00pin: 1234\n")
    res = cli(["scan", "model.bin"], cwd=exp_repo.path)
    assert res.code == 1 and res.out == "model.bin:1:4: pin-sha256: " + SHA_MESSAGE + "\n"
    exp_repo.write("model.bin", b"\x00\x01\x02pin: 1234\n")  # `pin` keys are not read there
    res = cli(["scan", "model.bin"], cwd=exp_repo.path)
    assert res.code == 0, res.out
    # ...but a binary *named* pin.hash is still a leak.
    exp_repo.write("pin.hash", b"\x00\x01")
    res = cli(["scan", "pin.hash"], cwd=exp_repo.path)
    assert res.code == 1 and res.out.startswith("pin.hash:1:1: pin-hash-file")


def test_utf16_and_latin1_text_is_still_scanned(exp_repo: ExpRepo, cli) -> None:
    exp_repo.write("ps.txt", ("\ufeff" + f"EXPFLOW_PIN_HASH={PIN_SHA}\r\n").encode("utf-16-le"))
    exp_repo.write("legacy.txt", b"caf\xe9 " + PIN_SHA.encode() + b"\n")
    res = cli(["scan", "ps.txt", "legacy.txt"], cwd=exp_repo.path)
    assert res.code == 1
    assert "ps.txt:1:" in res.out and "legacy.txt:1:6: pin-sha256" in res.out


def test_scan_without_paths_checks_tracked_files_only(exp_repo: ExpRepo, cli) -> None:
    exp_repo.write("tracked.md", f"{PIN_SHA}\n")
    exp_repo.write("untracked.md", f"{PIN_SHA}\n")
    exp_repo.stage("tracked.md", "expflow.yaml")
    res = cli(["scan"], cwd=exp_repo.path)
    assert res.code == 1
    assert "tracked.md:1:1" in res.out and "untracked.md" not in res.out


def test_scan_directory_and_clean_repo(exp_repo: ExpRepo, cli) -> None:
    exp_repo.add_experiment()
    exp_repo.add_result()
    exp_repo.stage()
    res = cli(["scan"], cwd=exp_repo.path)
    assert res.code == 0, res.out
    assert "file(s) clean" in res.err
    exp_repo.write("experiments/pdebench-task1/notes.txt", f"{PIN_SHA}\n")
    res = cli(["scan", "experiments"], cwd=exp_repo.path)
    assert res.code == 1
    assert "experiments/pdebench-task1/notes.txt:1:1" in res.out


def test_scan_works_outside_a_repository(tmp_path, cli) -> None:
    (tmp_path / "a.txt").write_text(f"{PIN_SHA}\n")
    res = cli(["scan", "a.txt"], cwd=tmp_path)
    assert res.code == 1 and "a.txt:1:1: pin-sha256" in res.out


def test_many_staged_paths_missing_from_disk_fit_one_listing(exp_repo: ExpRepo, cli) -> None:
    """`protect` asks the index about every staged file the work tree lacks, and named
    each to `git ls-files`: 20,000 long paths overflowed the command line ("Argument list
    too long", exit 2, every commit blocked; a review). More than a few paths list the
    whole index once. The one leak among them is still found."""
    exp_repo.commit("base")

    def git_in(text: str, *args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=exp_repo.path, input=text, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    clean = git_in("a\n", "hash-object", "-w", "--stdin")
    leak = git_in(f"{PIN_SHA}\n", "hash-object", "-w", "--stdin")
    lines = [f"100644 {clean} 0\tn/{i // 1000}/{'x' * 100}{i}.txt\n" for i in range(20000)]
    lines.append(f"100644 {leak} 0\tn/leak.txt\n")
    git_in("".join(lines), "update-index", "--index-info")
    res = cli(["protect"], cwd=exp_repo.path)
    assert res.code == 1 and "n/leak.txt:1:1: pin-sha256" in res.out, res.both
    res = cli(["scan", "--staged", "n"], cwd=exp_repo.path)
    assert res.code == 1 and "n/leak.txt:1:1: pin-sha256" in res.out, res.both
