"""A policy path not written plainly (issue 18, twenty-ninth pass).

`policy_in_commit` only dropped a leading `./`: `EXPFLOW_POLICY=.//expflow.yaml audit`
said `/expflow.yaml: no policy file at HEAD`, naming a path nobody gave, and
`results/../expflow.yaml` exited 2. The path is normalised now; a relative one is taken
from the repository root (from any folder), and one outside the repository is refused
in one line naming it as given.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from conftest import CliCall, ExpRepo

from expflow_git.errors import ExpflowError
from expflow_git.policy.model import policy_in_commit

PLAIN_SPELLINGS = [
    ".//expflow.yaml",
    "results/../expflow.yaml",
    "./././expflow.yaml",
    "a//../expflow.yaml",
]


@pytest.fixture
def repo(exp_repo: ExpRepo) -> ExpRepo:
    exp_repo.add_experiment("exp-001")
    exp_repo.add_result("exp-001")
    exp_repo.commit("one run")
    (exp_repo.path / "sub").mkdir()
    return exp_repo


@pytest.mark.parametrize("given", PLAIN_SPELLINGS)
def test_policy_in_commit_normalises(given: str, tmp_path: Path) -> None:
    assert policy_in_commit(given, tmp_path) == "expflow.yaml"
    assert policy_in_commit(str(tmp_path / "x" / ".." / "expflow.yaml"), tmp_path) == "expflow.yaml"


@pytest.mark.parametrize(
    "given", ["../expflow.yaml", "a/../../expflow.yaml", "/elsewhere/p.yaml", "."]
)
def test_policy_in_commit_refuses_a_path_outside(given: str, tmp_path: Path) -> None:
    with pytest.raises(ExpflowError) as caught:
        policy_in_commit(given, tmp_path / "repo")
    assert caught.value.message.startswith(f"policy {given}: ")
    assert "\n" not in caught.value.message


@pytest.mark.parametrize("given", PLAIN_SPELLINGS)
def test_a_spelling_of_the_default_policy_is_the_default(
    repo: ExpRepo, cli: CliCall, given: str
) -> None:
    plain = cli(["audit", "--no-cache"], repo.path)
    assert plain.code == 0, plain.out + plain.err
    for args in (["audit", "--no-cache"], ["rank"], ["diff", "HEAD", "HEAD"]):
        by_env = cli(args, repo.path, env={"EXPFLOW_POLICY": given})
        assert by_env.code == 0 and "no policy file" not in by_env.err, (args, by_env)
        by_option = cli([*args, "--policy", given], repo.path / "sub")
        assert by_option.code == 0 and "no policy file" not in by_option.err, (args, by_option)
    listed = cli(["list", "--rev", "HEAD", "--policy", given, "--format", "json"], repo.path)
    assert listed.code == 0, listed.err
    assert [r["id"] for r in json.loads(listed.out)["runs"]] == ["exp-001"]


def test_the_report_names_the_committed_path(repo: ExpRepo, cli: CliCall, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    done = cli(
        ["audit", "--no-cache", "--out", str(out)],
        repo.path,
        env={"EXPFLOW_POLICY": ".//expflow.yaml"},
    )
    assert done.code == 0, done.err
    envelope = json.loads(out.read_bytes())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert statement["predicate"]["policy"]["path"] == "expflow.yaml"


def test_a_relative_path_is_from_the_root_in_a_subfolder(repo: ExpRepo, cli: CliCall) -> None:
    res = cli(["audit", "--no-cache", "--policy", "expflow.yaml"], repo.path / "sub")
    assert res.code == 0, res.err


@pytest.mark.parametrize("given", ["../expflow.yaml", "sub/../../expflow.yaml"])
def test_a_path_leaving_the_repository_is_refused_in_one_line(
    repo: ExpRepo, cli: CliCall, given: str
) -> None:
    for args in (["audit", "--no-cache"], ["rank"], ["list", "--rev", "HEAD"]):
        res = cli([*args, "--policy", given], repo.path / "sub")
        assert res.code == 2, (args, res)
        assert res.err.splitlines() == [
            f"expflow-git: error: policy {given}: outside the repository "
            "(a relative path is taken from its root)"
        ], res.err
        assert "Traceback" not in res.err


def test_an_absolute_path_outside_is_refused_naming_it(
    repo: ExpRepo, cli: CliCall, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere.yaml"
    outside.write_bytes((repo.path / "expflow.yaml").read_bytes())
    res = cli(["audit", "--no-cache"], repo.path, env={"EXPFLOW_POLICY": str(outside)})
    assert res.code == 2
    assert res.err.splitlines() == [
        f"expflow-git: error: policy {outside}: outside the repository, where no commit holds it"
    ], res.err


def test_an_absolute_path_follows_no_link_below_the_root(tmp_path: Path) -> None:
    """`resolve()` followed the work tree's links: a pull request's `expflow.yaml ->
    examples/lax.yaml` made `--policy /abs/repo/expflow.yaml` read the base's lax file
    (an attacker's hunt, thirtieth pass). A link above the root still reaches it."""
    root = tmp_path / "repo"
    (root / "examples").mkdir(parents=True)
    (root / "examples" / "lax.yaml").write_text("x: 1\n")
    (root / "expflow.yaml").symlink_to("examples/lax.yaml")
    assert policy_in_commit(str(root / "expflow.yaml"), root) == "expflow.yaml"
    (root / "sub").symlink_to(".")  # a link below the root to the root itself
    assert policy_in_commit(str(root / "sub" / "expflow.yaml"), root) == "sub/expflow.yaml"
    (tmp_path / "alias").symlink_to(root)  # the runner's own link to the checkout
    assert policy_in_commit(str(tmp_path / "alias" / "expflow.yaml"), root) == "expflow.yaml"
    with pytest.raises(ExpflowError, match="root folder"):
        policy_in_commit(str(root), root)
    # `..` after a link below the root: the OS opens a file outside, not the commit's.
    (tmp_path / "elsewhere" / "d").mkdir(parents=True)
    (root / "out").symlink_to(tmp_path / "elsewhere" / "d")
    with pytest.raises(ExpflowError, match="outside the repository"):
        policy_in_commit(str(root / "out" / ".." / "expflow.yaml"), root)
    assert policy_in_commit(f"{root}/examples/../expflow.yaml", root) == "expflow.yaml"


def test_a_pull_requests_link_does_not_choose_the_base_policy(repo: ExpRepo, cli: CliCall) -> None:
    """The action with `policy: ${{ github.workspace }}/expflow.yaml`: the pull request
    links the policy to a lax file the base holds and commits a leaked PIN hash."""
    import hashlib

    strict = (repo.path / "expflow.yaml").read_text()
    repo.write("examples/expflow.yaml", strict + "scan: {allow: ['**']}\n")
    base = repo.commit("an example policy")
    (repo.path / "expflow.yaml").unlink()
    (repo.path / "expflow.yaml").symlink_to("examples/expflow.yaml")
    digest = hashlib.sha256(str(4000 + 821).encode()).hexdigest()
    repo.write(".env", f"EXPFLOW_PIN_HASH={digest}\n")
    repo.commit("the pull request")
    args = ["audit", "--no-cache", "--since", base, "--policy-ref", base]
    res = cli([*args, "--policy", str(repo.path / "expflow.yaml")], repo.path)
    assert res.code != 0, res.out + res.err
    assert "examples/expflow.yaml" not in res.out + res.err
