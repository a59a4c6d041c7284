"""The remembered policy in .git/expflow (the hook's start-up without the YAML parser) is
read only from a file this user wrote (issue 18: a cache stands in for the work it
spares, so it must be local and trusted). A policy cache file another user could have
written is ignored with a warning: the policy is parsed from its YAML again."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import ExpRepo, result_doc, run_cli


def _cache_files(repo: ExpRepo) -> list[Path]:
    return sorted((repo.path / ".git" / "expflow").glob("policy-*.json"))


@pytest.fixture
def remembered(exp_repo: ExpRepo) -> tuple[ExpRepo, str, Path]:
    """A run committed, a result missing a required metric staged, and the policy
    remembered by a first run: (repo, the result's path, the cache file)."""
    exp_repo.add_experiment()
    exp_repo.commit("a record")
    metrics = result_doc()["metrics"]
    dropped = sorted(metrics)[0]
    res = exp_repo.res_path()
    exp_repo.write_json(res, result_doc(metrics={k: v for k, v in metrics.items() if k != dropped}))
    first = run_cli(["validate", res], cwd=exp_repo.path)
    assert first.code == 1 and "required-metric" in first.out, first
    (cache,) = _cache_files(exp_repo)
    return exp_repo, res, cache


def _sealed(entry: dict[str, Any]) -> str:
    """An edited entry with the digest of its policy made again (as a forger would): only
    the check a test is about refuses it."""
    entry["body"] = hashlib.sha256(json.dumps(entry["policy"]).encode()).hexdigest()
    return json.dumps(entry)


def _weaken(cache: Path) -> None:
    """What another user with write access could leave: the same digest, no required
    metrics."""
    entry = json.loads(cache.read_bytes())
    entry["policy"]["required_metrics"] = []
    cache.write_text(_sealed(entry))


@pytest.mark.parametrize("mode", [0o664, 0o646])
def test_policy_cache_others_may_write_is_ignored(
    remembered: tuple[ExpRepo, str, Path], mode: int
) -> None:
    repo, res, cache = remembered
    _weaken(cache)
    os.chmod(cache, mode)
    found = run_cli(["validate", res], cwd=repo.path)
    assert found.code == 1, found  # judged by expflow.yaml, not by the planted cache
    assert "required-metric" in found.out
    assert "expflow-git validate: warning: " in found.err
    assert "cache file ignored: writable by other users (group or world)" in found.err
    assert "Traceback" not in found.err
    # parsed again and remembered by this user: the next run is quiet and as strict
    again = run_cli(["validate", res], cwd=repo.path)
    assert again.code == 1 and "required-metric" in again.out
    assert "warning" not in again.err
    assert os.stat(cache).st_mode & 0o022 == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_policy_cache_of_another_owner_is_ignored(remembered: tuple[ExpRepo, str, Path]) -> None:
    repo, res, cache = remembered
    _weaken(cache)
    os.chown(cache, 4242, 4242)
    found = run_cli(["validate", res], cwd=repo.path)
    assert found.code == 1 and "required-metric" in found.out, found
    assert "cache file ignored: owned by another user (uid 4242)" in found.err


def test_policy_cache_symlink_is_not_followed(remembered: tuple[ExpRepo, str, Path]) -> None:
    repo, res, cache = remembered
    planted = repo.path / "planted.json"
    _weaken(cache)
    cache.rename(planted)
    cache.symlink_to(planted)
    found = run_cli(["validate", res], cwd=repo.path)
    assert found.code == 1 and "required-metric" in found.out, found
    assert "cache file ignored: a symbolic link" in found.err, found.err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_policy_cache_fifo_is_not_waited_on(remembered: tuple[ExpRepo, str, Path]) -> None:
    """A named pipe in the remembered policy's place used to block the hook's open."""
    repo, res, cache = remembered
    cache.unlink()
    os.mkfifo(cache, 0o600)
    found = run_cli(["validate", res], cwd=repo.path, timeout=120)
    assert found.code == 1 and "required-metric" in found.out, found
    assert "Traceback" not in found.err


def test_another_policy_renamed_onto_the_name_is_not_read(
    remembered: tuple[ExpRepo, str, Path],
) -> None:
    """The file held the policy alone, bound to it by its name: this user's own cached
    copy of a laxer policy (an older commit's, a branch's) renamed onto the strict one's
    name was read as it, and the hooks judged by the lax policy (an attacker's hunt)."""
    repo, res, cache = remembered
    strict = (repo.path / "expflow.yaml").read_text()
    line = "required_metrics: [seg_total, pde_mean, train_time_min]\n"
    assert line in strict
    lax = strict.replace(line, "required_metrics: []\n")
    (repo.path / "expflow.yaml").write_text(lax)
    assert run_cli(["validate", res], cwd=repo.path).code == 0  # the lax one, remembered
    (lax_cache,) = set(_cache_files(repo)) - {cache}
    (repo.path / "expflow.yaml").write_text(strict)
    lax_cache.replace(cache)
    found = run_cli(["validate", res], cwd=repo.path)
    assert found.code == 1 and "required-metric" in found.out, found


def test_another_builds_entry_renamed_onto_this_builds_name_is_not_read(
    remembered: tuple[ExpRepo, str, Path],
) -> None:
    """The build (version and code digest) was only in the file's name: an entry another
    build wrote, one that skipped a check this build makes, renamed onto this build's
    name was taken as checked by it (a hunt of the caches, thirtieth pass)."""
    repo, res, cache = remembered
    entry = json.loads(cache.read_bytes())
    assert entry["tool"].startswith("0.") and "+" in entry["tool"]  # this build's
    entry["tool"] = "0.0.1+0123456789abcdef"  # another build's, its own check skipped
    entry["policy"]["required_metrics"] = []
    cache.write_text(_sealed(entry))
    found = run_cli(["validate", res], cwd=repo.path)
    assert found.code == 1 and "required-metric" in found.out, found
    assert json.loads(cache.read_bytes())["tool"] != "0.0.1+0123456789abcdef"  # rewritten


def test_a_policy_cached_at_another_path_is_scanned_at_this_one(exp_repo: ExpRepo) -> None:
    """The PIN scan's verdict depends on the path (an unquoted value in a `.py` file is
    code, not a leak): bytes accepted as policy.py were read back from the cache as
    expflow.yaml, where `--no-cache` refuses them."""
    policy = (exp_repo.path / "expflow.yaml").read_text() + "# pin_hash: deadbeefcafe\n"
    (exp_repo.path / "expflow.yaml").write_text(policy)
    (exp_repo.path / "policy.py").write_text(policy)
    exp_repo.commit("a policy with a PIN-hash assignment in a comment")
    assert run_cli(["validate", "--policy", "policy.py"], cwd=exp_repo.path).code == 0
    found = run_cli(["validate"], cwd=exp_repo.path)
    assert found.code == 2, found
    assert "the policy must never hold a PIN or PIN hash" in found.err


def test_a_policy_at_a_path_that_is_not_utf8_is_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its entry was written with the raw byte, which JSON does not read: never a hit."""
    import expflow_git.policy.load as load
    from expflow_git.records.scaffold import COMPETITION_POLICY

    policy = COMPETITION_POLICY.encode()
    first = load.load_policy_bytes(policy, path="p\udcffx.yaml", cache_dir=tmp_path)

    def no_yaml(*_: object) -> None:
        raise AssertionError("parsed again: the remembered policy was not read")

    monkeypatch.setattr(load, "_load_yaml", no_yaml)
    again = load.load_policy_bytes(policy, path="p\udcffx.yaml", cache_dir=tmp_path)
    assert again == first


def test_a_policy_remembered_before_base_60_floats_were_refused_is_not_read(
    exp_repo: ExpRepo,
) -> None:
    """The base-60 refusal is made when the YAML is parsed; an entry an earlier version
    wrote for the same bytes (under the f3 name) was still read, and `validate` passed a
    policy CI refuses (a review, issue 18 twenty-fourth pass). The name's format tag
    changes with what the parse refuses."""
    from expflow_git import __version__

    policy = exp_repo.path / "expflow.yaml"
    decimal = policy.read_text()
    assert "threshold: 18.09" in decimal
    sixty = "%YAML 1.1\n---\n" + decimal.replace("threshold: 18.09", "threshold: 0:0:18.09")
    found = run_cli(["validate", "expflow.yaml"], cwd=exp_repo.path)
    assert found.code == 0, found
    (entry_file,) = _cache_files(exp_repo)
    entry = json.loads(entry_file.read_bytes())
    digest = hashlib.sha256(sixty.encode()).hexdigest()
    entry["sha256"] = digest  # what the earlier version remembered for these bytes
    where = entry_file.name.rsplit("-", 1)[1]
    old = entry_file.with_name(f"policy-{__version__}-f3-{digest}-{where}")
    old.write_text(json.dumps(entry))
    policy.write_text(sixty)
    found = run_cli(["validate", "expflow.yaml"], cwd=exp_repo.path)
    assert found.code == 2 and "base-60" in found.err, found


def test_a_policy_remembered_before_2_53_was_refused_is_not_read(exp_repo: ExpRepo) -> None:
    """A ladder step of 2**53 is refused since the report's canonical JSON cannot hold
    it; an entry written before (under the f4 name) still loaded it, and every audit
    died writing the report (a review, issue 18 twenty-fourth pass)."""
    from expflow_git import __version__

    policy = exp_repo.path / "expflow.yaml"
    text = policy.read_text()
    assert "ranking:\n" in text
    found = run_cli(["validate", "expflow.yaml"], cwd=exp_repo.path)
    assert found.code == 0, found
    (entry_file,) = _cache_files(exp_repo)
    entry = json.loads(entry_file.read_bytes())
    stepped = text.replace("ranking:\n", f"ranking:\n  ladder_step: {2**53}\n", 1)
    entry["policy"]["ranking"]["ladder_step"] = 2**53  # what the earlier version kept
    entry["sha256"] = hashlib.sha256(stepped.encode()).hexdigest()
    where = entry_file.name.rsplit("-", 1)[1]
    entry_file.with_name(f"policy-{__version__}-f4-{entry['sha256']}-{where}").write_text(
        _sealed(entry)
    )
    policy.write_text(stepped)
    found = run_cli(["validate", "expflow.yaml"], cwd=exp_repo.path)
    assert found.code == 2 and "ladder_step" in found.err and "below 2**53" in found.err, found
