"""`verify R --recompute` (or `--no-recompute`) without `--repo` re-runs nothing: there is
no repository to re-run the audit in. It was a warning with exit 0, so a CI step that
forgot `--repo` passed believing the entries recomputed (issue 18 twenty-ninth pass, a
review). A usage error now, exit 2, as `--ref` without `--repo` is."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import assert_clean_output
from helpers_audit import run_cli, seed_repo

VERIFY = ["verify", "../r.json", "--public-key", "../k.pub"]


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seed repository, a key pair `../k` and the report `../r.json` it signed."""
    root = tmp_path_factory.mktemp("recompute")
    repo = seed_repo(root / "repo")
    assert run_cli(["keygen", "--out", str(root / "k")], root).code == 0
    res = run_cli(["audit", "--sign-key", str(root / "k"), "--out", str(root / "r.json")], repo)
    assert res.code == 0, res
    res = run_cli(VERIFY, repo)
    assert res.code == 0 and "VERIFIED" in res.out, res  # the option is what fails below
    return repo


@pytest.mark.parametrize("name", ["--recompute", "--no-recompute"])
def test_recompute_without_repo_is_a_usage_error(signed: Path, name: str) -> None:
    res = run_cli([*VERIFY, name], signed)
    assert_clean_output(res.out, res.err)
    assert (res.code, res.out) == (2, ""), res
    assert res.err.splitlines() == [
        f"expflow-git verify: error: {name} applies only with --repo: without it no "
        "audit is re-run (see 'expflow-git verify --help')"
    ], res.err


def test_ref_is_said_first(signed: Path) -> None:
    res = run_cli([*VERIFY, "--recompute", "--ref", "HEAD"], signed)
    assert res.code == 2 and "--ref applies only with --repo" in res.err, res


@pytest.mark.parametrize("name", ["--recompute", "--no-recompute"])
def test_recompute_with_repo_applies(signed: Path, name: str) -> None:
    res = run_cli([*VERIFY, "--repo", ".", name], signed)
    assert res.code == 0 and "VERIFIED" in res.out, res
    assert ("recompute" in res.out) is (name == "--recompute"), res.out
