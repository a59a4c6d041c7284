"""A PIN hash or a PIN's SHA-256 typed in an argument never reaches a terminal's table:
`masked_quoting` masked only a PIN's four digits typed there, so `diff b-DIGEST HEAD`
printed the digest in its table's line ("No metric changed between b-DIGEST and HEAD")
while its error line masked it (left by the thirty-sixth pass, mended in the
thirty-seventh)."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
from support import demo_repository, run_cli

from expflow_git.errors import masked_quoting
from expflow_git.pin.store import hash_pin

PIN = str(4000 + 821)  # never a literal in a file: the repository's own scan reads it


@pytest.fixture(scope="module")
def demo_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_repository(tmp_path_factory)


def test_diff_masks_a_pin_digest_named_in_a_revision(demo_repo: Path) -> None:
    digest = hashlib.sha256(PIN.encode()).hexdigest()
    subprocess.run(["git", "branch", f"b-{digest}", "HEAD"], cwd=demo_repo, check=True)
    res = run_cli(["diff", f"b-{digest}", "HEAD"], demo_repo)
    assert res.code == 0, res
    assert "metric changed between b-****" in res.out, res
    assert digest not in res.out + res.err, res
    for fmt in ("md", "json"):  # (a data format quotes the typed revision too)
        res = run_cli(["diff", f"b-{digest}", "HEAD", "--format", fmt], demo_repo)
        assert res.code == 0 and digest not in res.out + res.err, res
    res = run_cli(["diff", f"b-{digest}", "HEAD", "--format", "md"], demo_repo)
    assert r"b-\*\*\*\*" in res.out, res


def test_a_table_masks_a_pin_hash_an_argument_holds_and_keeps_other_lines() -> None:
    held = hash_pin(PIN)
    table = f"policy /x/{held}/expflow.yaml\nrun-1 0.93 {'ab' * 32}"
    shown = masked_quoting(table, ["--policy", f"/x/{held}/expflow.yaml"])
    assert held not in shown
    assert shown.splitlines()[1] == f"run-1 0.93 {'ab' * 32}"  # an ordinary SHA-256 stays
    assert masked_quoting(table, ["--policy", "/x/expflow.yaml"]) == table


def test_verify_names_the_policy_that_judged(demo_repo: Path, tmp_path: Path) -> None:
    """A report judged by `--policy lax.yaml` verified as "the policy match the commit",
    naming no policy: a verifier could not see another file than expflow.yaml judged."""
    lax = demo_repo / "lax.yaml"
    lax.write_text((demo_repo / "expflow.yaml").read_text())
    subprocess.run(["git", "add", "lax.yaml"], cwd=demo_repo, check=True)
    subprocess.run(
        ["git", "commit", "-qm", "a second policy", "--no-verify"], cwd=demo_repo, check=True
    )
    report = tmp_path / "r.json"
    res = run_cli(["audit", "--policy", "lax.yaml", "--out", str(report)], demo_repo)
    assert res.code == 0, res
    res = run_cli(["verify", str(report), "--allow-unsigned", "--repo", "."], demo_repo)
    assert res.code == 0, res
    assert "and the policy match the commit (policy lax.yaml, the commit's own)" in res.out
