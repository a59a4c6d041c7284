"""Security review 2 (scan and policy), through the real CLI:

1. the number and length of a policy's globs are bounded (a policy of 60,000 globs
   made validate and audit take minutes): beyond the bound, exit 2 naming the file
   and the JSON pointer; within it, even risky globs over 1,000 files finish;
2. a PIN hash stored as a symbolic link's target is found by `scan` (work tree and
   --staged), `audit` and `audit --since`, and the link is never followed;
3. scanner evasions: YAML anchors and tags before a PIN, `--pin \\` continued on the next
   line, a hash split by an escaped line break, JSON `\\u` escapes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import pytest
from conftest import ExpRepo, assert_clean_output, run_cli

pytestmark = pytest.mark.usefixtures("isolated_env")

PIN_SHA = hashlib.sha256(b"1234").hexdigest()  # starts with "0": `\u0030` spells it
RANDOM_SHA = hashlib.sha256(b"not a pin at all").hexdigest()


def _policy_with_result_globs(repo: ExpRepo, globs: list[str]) -> None:
    policy = (repo.path / "expflow.yaml").read_text()
    line = "  results: " + json.dumps(globs)
    new, count = re.subn(r"(?m)^  results: .*$", lambda _: line, policy)
    assert count == 1
    repo.write("expflow.yaml", new)


# =========================================================================== 1. glob bounds
def test_the_reviewers_policy_of_60000_globs_is_refused(committed_repo: ExpRepo) -> None:
    repo = committed_repo
    base = repo.head()
    _policy_with_result_globs(repo, ["results/**/*.json"] + [f"**/q{i}*z*" for i in range(60_000)])
    assert (repo.path / "expflow.yaml").stat().st_size < 1024 * 1024  # under the size cap
    for i in range(50):
        repo.write(f"data/f{i}.txt", "x\n")
    repo.commit("many globs")
    for args in (["validate"], ["audit"], ["audit", "--since", base, "--policy-ref", "HEAD"]):
        code, out, err = run_cli(args, repo.path)
        assert code == 2, (args, out, err)
        assert_clean_output(out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert "expflow.yaml: /paths/results: " in lines[0]
        assert "more items than the maximum of 256" in lines[0]
        assert len(lines[0]) < 300  # the 60,000 globs are not echoed


def test_257_globs_are_refused_and_256_accepted(exp_repo: ExpRepo) -> None:
    _policy_with_result_globs(exp_repo, ["results/**/*.json"] + [f"r{i}/*" for i in range(256)])
    code, out, err = run_cli(["validate"], exp_repo.path)
    assert code == 2 and "/paths/results: " in err, (out, err)
    _policy_with_result_globs(exp_repo, ["results/**/*.json"] + [f"r{i}/*" for i in range(255)])
    code, out, err = run_cli(["validate"], exp_repo.path)
    assert code == 0, (out, err)


def test_a_long_glob_and_a_long_allow_list_are_refused(exp_repo: ExpRepo) -> None:
    long = "results/" + "a" * 1017  # 1,025 characters
    _policy_with_result_globs(exp_repo, ["results/**/*.json", long])
    code, out, err = run_cli(["validate"], exp_repo.path)
    assert code == 2, (out, err)
    assert "expflow.yaml: /paths/results/1: " in err
    assert "longer than the maximum length of 1024" in err
    assert long not in err
    _policy_with_result_globs(exp_repo, ["results/**/*.json"])
    policy = (exp_repo.path / "expflow.yaml").read_text()
    exp_repo.write(
        "expflow.yaml",
        policy + "scan:\n  allow: " + json.dumps([f"a{i}/**" for i in range(257)]) + "\n",
    )
    code, out, err = run_cli(["scan"], exp_repo.path)  # scan warns and scans everything
    assert "/scan/allow: " in err, (out, err)
    code, out, err = run_cli(["validate"], exp_repo.path)
    assert code == 2 and "expflow.yaml: /scan/allow: " in err, (out, err)


def test_many_allowed_risky_globs_over_1000_files_finish(committed_repo: ExpRepo) -> None:
    repo = committed_repo
    base = repo.head()
    risky = [f"**/q{i}*z*" for i in range(255)]  # none is `regex_is_safe`: the matcher's path
    _policy_with_result_globs(repo, ["results/**/*.json", *risky])
    policy = (repo.path / "expflow.yaml").read_text()
    repo.write(
        "expflow.yaml",
        policy + "scan:\n  allow: " + json.dumps([f"**/a{i}*b*" for i in range(256)]) + "\n",
    )
    for i in range(1000):
        repo.write(f"data/d{i % 10}/file{i}.txt", f"{i}\n")
    repo.add_experiment()
    repo.add_result()
    repo.commit("runs")
    code, out, err = run_cli(["validate"], repo.path)
    assert code == 0, (out, err)
    code, out, err = run_cli(["audit", "--since", base, "--policy-ref", "HEAD"], repo.path)
    assert code == 0, (out, err)
    assert "exp-001" in out


# =========================================================================== 2. symbolic links
@pytest.fixture
def linked(committed_repo: ExpRepo) -> tuple[ExpRepo, str]:
    """A committed symbolic link whose target is a PIN's SHA-256; returns (repo, base)."""
    base = committed_repo.head()
    os.symlink(PIN_SHA, committed_repo.path / "leaklink")
    return committed_repo, base


def test_scan_reads_a_staged_and_a_checked_out_link_target(linked: tuple[ExpRepo, str]) -> None:
    repo, _ = linked
    repo.stage("leaklink")
    for args in (["scan", "--staged", "leaklink"], ["scan", "leaklink"], ["scan"]):
        code, out, err = run_cli(args, repo.path)
        assert code == 1, (args, out, err)
        assert out.startswith("leaklink:1:1: pin-sha256: "), (args, out)
        assert PIN_SHA[:16] not in out + err


def test_audit_and_audit_since_find_a_link_target(linked: tuple[ExpRepo, str]) -> None:
    repo, base = linked
    repo.commit("link")
    code, out, err = run_cli(["audit"], repo.path)
    assert code == 1, (out, err)
    assert "leaklink:1:1: pin-sha256: " in out
    repo.git("rm", "-q", "leaklink")
    repo.commit("gone again")
    code, out, err = run_cli(["audit"], repo.path)
    assert "leaklink" not in out, out
    code, out, err = run_cli(["audit", "--since", base], repo.path)
    assert code == 1, (out, err)
    assert "leaklink:1:1: pin-sha256: " in out and "it stays in the history" in out


def test_a_link_is_never_followed(committed_repo: ExpRepo, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text(f"{PIN_SHA}\n")
    os.symlink(outside, committed_repo.path / "pointer")
    os.symlink("pin.hash", committed_repo.path / "named")  # the target's name is no file name
    committed_repo.commit("links")
    for args in (["scan"], ["scan", "pointer", "named"]):
        code, out, err = run_cli(args, committed_repo.path)
        assert code == 0, (args, out, err)
    code, out, err = run_cli(["audit"], committed_repo.path)  # fails: no runs, no findings
    assert "findings" not in out and "pointer" not in out and "named" not in out, out


def test_a_link_named_pin_hash_is_reported(committed_repo: ExpRepo) -> None:
    os.symlink("elsewhere", committed_repo.path / "pin.hash")
    code, out, err = run_cli(["scan", "pin.hash"], committed_repo.path)
    assert code == 1 and out.startswith("pin.hash:1:1: pin-hash-file: "), (out, err)


# =========================================================================== 3. evasions
EVASIONS = [
    ("anchor.yaml", "pin: &p 1234\n", "pin-value", 1, 9),
    ("child-anchor.yaml", "pin:\n  value: &v 1234\n", "pin-value", 2, 13),
    ("flow-anchor.yaml", "pin: {value: &v 1234}\n", "pin-value", 1, 17),
    ("tag.yaml", "pin: !!str 1234\n", "pin-value", 1, 12),
    ("child-tag.yaml", "pin:\n  value: !!int 1234\n", "pin-value", 2, 16),
    ("both.yaml", 'pin: !!str &a "1234"\n', "pin-value", 1, 16),
    ("Makefile", "rm:\n\texpflow-git rm e1 --pin \\\n\t\t1234\n", "pin-value", 3, 3),
    ("rm.sh", "expflow-git rm e1 --pin \\\n1234\n", "pin-value", 2, 1),
    ("split.yaml", f'h: "{PIN_SHA[:32]}\\\n  {PIN_SHA[32:]}"\n', "pin-sha256", 1, 5),
    ("split.toml", f'h = """{PIN_SHA[:32]}\\\r\n{PIN_SHA[32:]}"""\n', "pin-sha256", 1, 8),
    ("escaped.json", '{"h":"\\u0030' + PIN_SHA[1:] + '"}\n', "pin-sha256", 1, 7),
    ("escaped-pin.json", '{"pin":{"value":"\\u0031234"}}\n', "pin-value", 1, 18),
    ("late.json", '{"a": "\\u00e9\\u0041",\n "pin": "12\\u00334"}\n', "pin-value", 2, 10),
    # Escapes other than `\u00XX`, and TOML's blank-padded continuations (an attacker's
    # hunt: each value, as its loader reads it, is the hash or the PIN; all were clean).
    ("x.yaml", 'h: "\\x30' + PIN_SHA[1:] + '"\n', "pin-sha256", 1, 5),
    ("x-pin.yaml", 'pin: "\\x31\\x32\\x33\\x34"\n', "pin-value", 1, 7),
    ("U.toml", 'h = "\\U00000030' + PIN_SHA[1:] + '"\n', "pin-sha256", 1, 6),
    ("after-U.yaml", 'a: "\\U00000041\\x42"\npin: "12\\x334"\n', "pin-value", 2, 7),
    ("blank.toml", f'h = """{PIN_SHA[:32]}\\\n\n  {PIN_SHA[32:]}"""\n', "pin-sha256", 1, 8),
    ("trail.toml", f'h = """{PIN_SHA[:32]}\\  \n  {PIN_SHA[32:]}"""\n', "pin-sha256", 1, 8),
]


@pytest.mark.parametrize(
    ("rel", "content", "rule", "line", "col"), EVASIONS, ids=[e[0] for e in EVASIONS]
)
def test_each_evasion_is_found(
    exp_repo: ExpRepo, cli, rel: str, content: str, rule: str, line: int, col: int
) -> None:
    exp_repo.write(rel, content)
    res = cli(["scan", rel], cwd=exp_repo.path)
    assert res.code == 1, res.both
    assert res.out.splitlines() == [res.out.splitlines()[0]], res.out  # one finding
    assert res.out.startswith(f"{rel}:{line}:{col}: {rule}: "), res.out
    assert PIN_SHA[40:56] not in res.both


LOOKALIKES = [
    ("anchor.yaml", "pin: &p abcd\nvalue: &v 1234\n"),
    ("alias-only.yaml", "pin: &p\n"),
    ("tag.yaml", "pin: !!str 12345\n"),
    ("flag.sh", 'expflow-git rm e1 --pin \\\n  "$PIN"\n'),
    ("split.yaml", f'h: "{RANDOM_SHA[:32]}\\\n  {RANDOM_SHA[32:]}"\n'),
    ("long.yaml", f'h: "a{PIN_SHA[:32]}\\\n  {PIN_SHA[32:]}"\n'),
    ("escaped.json", '{"h":"\\u0030' + RANDOM_SHA[1:] + '"}\n'),
    ("quote.json", '{"pin":"\\u00221234"}\n'),
    ("code.py", 'x = "\\u0041\\u0042"\n'),
    ("x.yaml", 'h: "\\x30' + RANDOM_SHA[1:] + '"\n'),
    ("quote-x.yaml", 'pin: "\\x221234"\n'),
    ("no-break.toml", f'h = """{PIN_SHA[:32]}\\  x\n  {PIN_SHA[32:]}"""\n'),
]


@pytest.mark.parametrize(("rel", "content"), LOOKALIKES, ids=[e[0] for e in LOOKALIKES])
def test_lookalikes_stay_clean(exp_repo: ExpRepo, cli, rel: str, content: str) -> None:
    exp_repo.write(rel, content)
    res = cli(["scan", rel], cwd=exp_repo.path)
    assert res.code == 0, res.both
    assert res.out == ""
