"""Hunt 39, the audit's local caches: a cache only ever saves work, it never changes a
verdict or a report (docs/spec.md §6.1), and `--no-cache` stays the ground truth."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from helpers_audit import Cli, add_run, commit_all, m, new_repo
from test_cache import audit


def _remembered_policy(repo: Path) -> Path:
    (entry,) = sorted((repo / ".git" / "expflow").glob("policy-*.json"))
    return entry


def test_a_bit_flipped_in_the_remembered_policy_is_not_believed(xcli: Cli, tmp_path: Path) -> None:
    """The remembered policy (`.git/expflow/policy-*.json`) had no digest of what it
    holds, unlike the audit's shards and folder entries: one bit flipped on disk in a
    threshold (`18.09` to `98.09`, still a valid policy) was believed in place of the
    committed policy, and the warm audit passed a run that `--no-cache` fails."""
    repo = new_repo(tmp_path / "repo")
    add_run(repo, "run-01", m(50, pde=25.0))  # over pde_mean's threshold 18.09
    commit_all(repo)
    cold = audit(xcli, repo, "--no-cache")
    assert cold.code == 1, cold.out
    assert audit(xcli, repo).report == cold.report  # remembers the policy
    entry = _remembered_policy(repo)
    data = bytearray(entry.read_bytes())
    at = data.index(b'"threshold": 18.09') + len(b'"threshold": ')
    data[at] ^= 0x08  # "1" -> "9": a single bit
    entry.write_bytes(bytes(data))
    assert b'"threshold": 98.09' in entry.read_bytes()
    warm = audit(xcli, repo)
    assert (warm.code, warm.out) == (cold.code, cold.out)
    assert warm.report == cold.report
    # Read as damaged, parsed from the YAML again and remembered whole.
    assert b'"threshold": 18.09' in entry.read_bytes()
    assert "warning" not in warm.err


def test_an_edit_with_its_digest_made_again_is_believed(xcli: Cli, tmp_path: Path) -> None:
    """As a shard whose digest was recomputed (decisions.md: only someone who can write
    into .git can, and `verify --recompute` never reads it): the entry's digest is that of
    the policy it holds as `json.dumps` writes it, which is how tests/
    test_policy_cache_trust.py seals the entries it plants."""
    repo = new_repo(tmp_path / "repo")
    add_run(repo, "run-01", m(50, pde=25.0))
    commit_all(repo)
    assert audit(xcli, repo).code == 1
    entry_file = _remembered_policy(repo)
    entry = json.loads(entry_file.read_bytes())
    entry["policy"]["metrics"]["pde_mean"]["threshold"] = 98.09
    entry["body"] = hashlib.sha256(json.dumps(entry["policy"]).encode()).hexdigest()
    entry_file.write_text(json.dumps(entry))
    assert audit(xcli, repo).code == 0
