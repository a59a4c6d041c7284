"""Options that were silently ignored (issue 18 twenty-ninth pass, a hunter's find):
`verify R --ref nope` without `--repo` printed VERIFIED, exit 0 (`--ref` and
`--recompute` only say how the binding to a repository is checked); and an empty
string given for a path was taken for no option at all: `audit --out ''` and `report R
--html ''` exited 0 writing nothing, `verify --allowed-signers ''` and `--trusted-ref ''`
said no trusted key was given, `report ''` said `: cannot read: Is a directory`. Each is
a usage error now, exit 2, one line naming the option; so is `--recompute` or
`--no-recompute` without `--repo` (a warning and exit 0 at first)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import assert_clean_output
from helpers_audit import run_cli, seed_repo
from support import CliResult


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seed repository, a key pair `../k` and the report `../r.json` it signed."""
    root = tmp_path_factory.mktemp("ignored")
    repo = seed_repo(root / "repo")
    assert run_cli(["keygen", "--out", str(root / "k")], root).code == 0
    res = run_cli(["audit", "--sign-key", str(root / "k"), "--out", str(root / "r.json")], repo)
    assert res.code == 0, res
    res = run_cli(["verify", "../r.json", "--public-key", "../k.pub"], repo)
    assert res.code == 0, res  # the report verifies: what follows is the option's doing
    return repo


def usage_error(res: CliResult, command: str, *needles: str) -> None:
    """One usage error line, click's form, naming the option; exit 2."""
    assert_clean_output(res.out, res.err)
    assert res.code == 2, res
    err = res.err
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1, err
    assert lines[0].startswith(f"expflow-git {command}: error: "), err
    assert lines[0].endswith(f"(see 'expflow-git {command} --help')"), err
    for needle in needles:
        assert needle in lines[0], (needle, err)


@pytest.mark.parametrize(
    "extra",
    [
        ["--ref", "nope"],
        ["--ref", "HEAD"],  # the default, typed: still no repository to check it in
        ["--ref", "nope", "--no-recompute"],
    ],
)
def test_ref_without_repo_is_a_usage_error(signed: Path, extra: list[str]) -> None:
    res = run_cli(["verify", "../r.json", "--public-key", "../k.pub", *extra], signed)
    usage_error(res, "verify", "--ref applies only with --repo")


@pytest.mark.parametrize("name", ["--recompute", "--no-recompute"])
def test_recompute_without_repo_is_a_usage_error(signed: Path, name: str) -> None:
    """A usage error as `--ref` is (it was a warning with exit 0: nothing was re-run)."""
    res = run_cli(["verify", "../r.json", "--public-key", "../k.pub", name], signed)
    usage_error(res, "verify", f"{name} applies only with --repo: without it no audit")


def test_repository_options_with_repo_still_apply(signed: Path) -> None:
    args = ["verify", "../r.json", "--public-key", "../k.pub", "--repo", "."]
    assert run_cli([*args, "--no-recompute"], signed).code == 0
    res = run_cli([*args, "--ref", "nope"], signed)
    assert res.code != 0 and "VERIFIED" not in res.out, res


@pytest.mark.parametrize(
    ("args", "command", "name"),
    [
        (["audit", "--out", ""], "audit", "'--out'"),
        (["audit", "--html", ""], "audit", "'--html'"),
        (["audit", "--sign-key", ""], "audit", "'--sign-key'"),
        (["report", "../r.json", "--html", ""], "report", "'--html'"),
        (["report", ""], "report", "'REPORT'"),
        (["report", "../r.json", "--allowed-signers", ""], "report", "'--allowed-signers'"),
        (["report", "../r.json", "--public-key", ""], "report", "'--public-key'"),
        (["verify", "", "--public-key", "../k.pub"], "verify", "'REPORT'"),
        (["verify", "../r.json", "--allowed-signers", ""], "verify", "'--allowed-signers'"),
        (["verify", "../r.json", "--public-key", ""], "verify", "'--public-key'"),
        (["verify", "../r.json", "--trusted-ref", ""], "verify", "'--trusted-ref'"),
        (
            ["verify", "../r.json", "--public-key", "../k.pub", "--repo", ".", "--ref", ""],
            "verify",
            "'--ref'",
        ),
        (["keygen", "--out", ""], "keygen", "'--out'"),
        # A PATH given empty (`validate "$FILES"`) checked nothing, or the whole index,
        # and passed (a review, thirtieth pass); the plain hook form as click's.
        (["validate", ""], "validate", "'[PATHS]...'"),
        (["validate", "--staged", ""], "validate", "'[PATHS]...'"),
        (["validate", "--staged", "--", "expflow.yaml", ""], "validate", "'[PATHS]...'"),
        (["scan", ""], "scan", "'[PATHS]...'"),
        (["scan", "--staged", "--", ""], "scan", "'[PATHS]...'"),
    ],
    ids=lambda v: " ".join(a or "''" for a in v) if isinstance(v, list) else None,
)
def test_an_empty_string_is_no_path(signed: Path, args: list[str], command: str, name: str) -> None:
    before = sorted(p.name for p in signed.parent.iterdir())
    res = run_cli(args, signed)
    usage_error(res, command, f"Invalid value for {name}:", "not an empty string")
    assert sorted(p.name for p in signed.parent.iterdir()) == before
