"""The values a million runs share (documents.py): one read-only empty mapping for a
record without params and a result without splits, so no caller can change every
run's at once, and every output still renders them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers_audit import add_run, commit_all, m, new_repo, write_json
from helpers_audit import experiment as record_doc

from expflow_git.documents import Experiment, Result


def test_empty_params_and_splits_are_shared_and_read_only() -> None:
    a = Experiment.from_json("experiments/s/a.json", {**record_doc("a"), "params": {}})
    b = Experiment.from_json("experiments/s/b.json", {**record_doc("b"), "params": {}})
    assert a.params is b.params and dict(a.params) == {}
    with pytest.raises(TypeError):
        a.params["lr"] = 1  # type: ignore[index]
    r = Result.from_json("results/s/a.json", {"experiment": "a", "metrics": {"x": 1.0}})
    assert dict(r.splits) == {}
    with pytest.raises(TypeError):
        r.splits["holdout"] = {}  # type: ignore[index]


def test_a_record_without_params_renders_in_every_json_output(tmp_path: Path, xcli: Any) -> None:
    repo = new_repo(tmp_path / "repo")
    add_run(repo, "with", m(50))
    write_json(repo, "experiments/pdebench-task1/bare.json", {**record_doc("bare"), "params": {}})
    write_json(
        repo,
        "results/pdebench-task1/bare.json",
        {"schema": "expflow/result@1", "experiment": "bare", "metrics": m(51)},
    )
    commit_all(repo)
    listed = xcli(["list", "--format", "json"], repo)
    assert listed.code == 0, listed.err
    runs = {r["id"]: r for r in json.loads(listed.out)["runs"]}
    assert runs["bare"]["params"] == {} and runs["bare"]["splits"] == {}
    ranked = xcli(["rank", "--format", "json", "--gate", "seg_total:ge:0"], repo)
    assert json.loads(ranked.out)["ranking"]
