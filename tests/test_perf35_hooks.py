"""A big commit's hooks (issue 18, thirty-fifth pass): `validate --staged` and `scan --staged`
hash thousands of files on disk to know each is its staged blob, with OpenSSL's hash past
gitstore.BULK_BLOBS (CPython's own below it: a few files do not repay its loading), and
`Lookup.named` sorts an id's files by kind once for every kind. Neither may change what a
hook says: the same findings, from the same (staged) bytes, either way."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from conftest import ExpRepo, experiment_doc, result_doc
from support import in_process_cli, record_calls

from expflow_git import gitstore
from expflow_git.hooks.lookup import Lookup, Source
from expflow_git.policy.load import load_policy_bytes
from expflow_git.records.scaffold import COMPETITION_POLICY
from expflow_git.schemas import Kind

RUNS = 12


@pytest.fixture
def sweep(committed_repo: ExpRepo) -> tuple[ExpRepo, list[str]]:
    """RUNS records committed, their results staged; then, unstaged on disk: one committed
    record made invalid, one staged result made invalid. One staged result is invalid as
    staged (an unknown metric)."""
    repo = committed_repo
    ids = [f"run-{n:03d}" for n in range(RUNS)]
    for exp_id in ids:
        repo.write_json(repo.exp_path(exp_id), experiment_doc(exp_id))
    repo.commit("launch the sweep")
    results = [repo.add_result(exp_id) for exp_id in ids]
    repo.write_json(results[5], result_doc(ids[5], metrics={"no_such_metric": 1.0}))
    repo.stage(*results)
    repo.write_json(repo.exp_path(ids[3]), experiment_doc(ids[3], status="queued?"))
    repo.write_json(results[7], result_doc(ids[7], metrics={"seg_total": "high"}))
    return repo, results


@pytest.mark.parametrize("command", ["validate", "scan"])
def test_bulk_hashing_says_what_the_built_in_hash_says(
    sweep: tuple[ExpRepo, list[str]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    """With the bulk threshold below the commit (OpenSSL's hash) and above it (CPython's),
    the hook gives the same exit code and output: the staged bytes are judged, an
    unstaged edit of a staged result or of a committed record is not, and the staged
    result with an unknown metric is refused."""
    repo, results = sweep
    cli = in_process_cli(monkeypatch, capsys)
    said = {}
    for threshold in (1_000_000, 3):
        monkeypatch.setattr(gitstore, "BULK_BLOBS", threshold)
        bulk = record_calls(monkeypatch, gitstore, "bulk_hash")
        said[threshold] = cli([command, "--staged", "--", *results], cwd=repo.path)
        assert bool(bulk) is (threshold == 3)
    assert said[3] == said[1_000_000]
    if command == "validate":
        code, out, err = said[3]
        err += out
        assert code == 1
        assert "no_such_metric" in err and results[5] in err
        assert results[7] not in err and "run-003" not in err  # (unstaged edits)
        assert "1 problem(s) in 1 file(s)" in err


def test_named_sorts_an_ids_files_by_kind_once_for_every_kind() -> None:
    """An id with records in two folders, a result, a correction and a file that is no
    document: each kind's answer is its files, sorted, asked in any order and again;
    an id with one file keeps the fast answer (empty for the file asking about itself)."""
    policy = load_policy_bytes(COMPETITION_POLICY.encode())
    listing = [
        "results/s/r1.json",
        "experiments/b/r1.json",
        "notes/r1.json",
        "corrections/r1.json",
        "experiments/a/r1.json",
        "experiments/a/r2.json",
    ]
    expected = {
        kind: sorted(p for p in listing if p.endswith("/r1.json") and policy.kind_of(p) is kind)
        for kind in (Kind.EXPERIMENT, Kind.RESULT, Kind.CORRECTION)
    }
    assert expected[Kind.EXPERIMENT] == ["experiments/a/r1.json", "experiments/b/r1.json"]
    assert expected[Kind.CORRECTION] == ["corrections/r1.json"]
    for order in itertools.permutations(expected):
        lookup = Lookup(Source.FOLDER, Path("."), policy, lambda: listing)
        for kind in [*order, *order]:
            assert list(lookup.named(kind, "r1")) == expected[kind]
            assert list(lookup.named(kind, "r1", asking=expected[kind][0])) == expected[kind]
    lookup = Lookup(Source.FOLDER, Path("."), policy, lambda: listing)
    assert list(lookup.named(Kind.EXPERIMENT, "r2")) == ["experiments/a/r2.json"]
    assert not lookup.named(Kind.EXPERIMENT, "r2", asking="experiments/a/r2.json")
    assert not lookup.named(Kind.RESULT, "r2")
    assert not lookup.named(Kind.RESULT, "r3")


def test_a_staged_record_edited_on_disk_is_judged_as_staged_in_bulk(
    committed_repo: ExpRepo,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Records staged, then one made valid on disk while its staged blob is invalid: the
    bulk hash sees the disk is not the blob, and the staged (invalid) one is refused."""
    repo = committed_repo
    paths = [repo.add_experiment(f"run-{n:03d}") for n in range(RUNS)]
    repo.write_json(paths[4], experiment_doc("run-004", seed="not a number"))
    repo.stage(*paths)
    repo.write_json(paths[4], experiment_doc("run-004"))
    monkeypatch.setattr(gitstore, "BULK_BLOBS", 3)
    bulk = record_calls(monkeypatch, gitstore, "bulk_hash")
    code, out, err = in_process_cli(monkeypatch, capsys)(
        ["validate", "--staged", "--", *paths], cwd=repo.path
    )
    assert bulk
    assert code == 1
    assert paths[4] in out and "/seed" in out
    assert json.loads((repo.path / paths[4]).read_text())["seed"] == 1837261  # (untouched)
