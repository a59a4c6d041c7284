"""`expflow-git validate` through the real CLI, in real repositories.

The corpus below holds distinct bad inputs (records, results, policies). Each
one is written into a fresh repository, staged as pre-commit would, and run
through `python -m expflow_git validate FILE` as a subprocess. Every case
asserts the documented exit code (1 bad data, 2 broken policy), that the
offending file is named, the JSON pointer where one applies, one-line
messages, and no traceback.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import (
    SEED_METRICS,
    ExpRepo,
    assert_clean_output,
    experiment_doc,
    result_doc,
    run_cli,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from support import LIST_MODULES, run_cli_code

from expflow_git.errors import Finding
from expflow_git.policy.load import load_policy_bytes
from expflow_git.policy.model import Policy
from expflow_git.schemas import Kind

pytestmark = pytest.mark.usefixtures("isolated_env")

EXP = "experiments/pdebench-task1/exp-001.json"
RES = "results/pdebench-task1/exp-001.json"
POLICY = "expflow.yaml"


def _j(doc: object) -> bytes:
    return (json.dumps(doc, indent=2) + "\n").encode()


def _metrics(**changes: object) -> bytes:
    """A result for exp-001 whose metrics are the seed's with `changes` (None deletes)."""
    metrics = {**SEED_METRICS, **changes}
    return _j(result_doc(metrics={k: v for k, v in metrics.items() if v is not None}))


def _raw_result(metrics_json: str) -> bytes:
    """A result whose metrics object is spliced in as raw JSON text (for non-JSON literals)."""
    return (
        '{"schema": "expflow/result@1", "experiment": "exp-001", '
        '"recorded_at": "2026-11-20T11:02:00Z", "metrics": ' + metrics_json + "}\n"
    ).encode()


def _template_policy() -> str:
    from expflow_git.records.scaffold import COMPETITION_POLICY

    return COMPETITION_POLICY


@functools.cache
def _policy_object() -> Policy:
    return load_policy_bytes(_template_policy().encode())


def _policy(old: str, new: str) -> bytes:
    text = _template_policy()
    assert old in text, old
    return text.replace(old, new, 1).encode()


def _alias_bomb() -> bytes:
    """Nine levels of nine-fold aliases: 9**9 (~387 million) strings if expanded."""
    lines = ['lol0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        refs = ", ".join([f"*l{i - 1}"] * 9)
        lines.append(f"lol{i}: &l{i} [{refs}]")
    return (_template_policy() + "\n".join(lines) + "\n").encode()


PIN_SHA = hashlib.sha256(b"4821").hexdigest()


@dataclass(frozen=True)
class Bad:
    """One bad input: files to write (on top of a valid, staged exp-001 record), what to check."""

    id: str
    files: dict[str, bytes]
    target: str  # the file passed to `validate` and expected in the output
    code: int
    needles: tuple[str, ...]  # substrings the output must contain
    pointer: str | None = None  # `file#pointer` expected in the output
    drop: tuple[str, ...] = field(default=())  # files of the base repo to remove first


CORPUS: list[Bad] = [
    # ---- strict JSON (docs/spec.md §2.3) --------------------------------------------------------
    Bad(
        "duplicate-key",
        {RES: _raw_result('{"seg_total": 1, "seg_total": 2, "pde_mean": 1, "train_time_min": 1}')},
        RES,
        1,
        ("duplicate key", '"seg_total"'),
        "/metrics",
    ),
    Bad(
        "nan",
        {RES: _raw_result('{"seg_total": NaN, "pde_mean": 1, "train_time_min": 1}')},
        RES,
        1,
        ("NaN",),
        "/metrics/seg_total",
    ),
    Bad(
        "infinity",
        {RES: _raw_result('{"seg_total": Infinity, "pde_mean": 1, "train_time_min": 1}')},
        RES,
        1,
        ("Infinity",),
        "/metrics/seg_total",
    ),
    Bad(
        "minus-infinity",
        {RES: _raw_result('{"seg_total": 1, "pde_mean": -Infinity, "train_time_min": 1}')},
        RES,
        1,
        ("-Infinity",),
        "/metrics/pde_mean",
    ),
    Bad(
        "overflow-1e999",
        {RES: _raw_result('{"seg_total": 1e999, "pde_mean": 1, "train_time_min": 1}')},
        RES,
        1,
        ("1e999", "infinity"),
        "/metrics/seg_total",
    ),
    Bad("bom", {RES: b"\xef\xbb\xbf" + _metrics()}, RES, 1, ("byte-order mark",)),
    Bad(
        "invalid-utf8",
        {EXP: _j(experiment_doc()).replace(b"FNO baseline", b"FNO \xff\xfe base")},
        EXP,
        1,
        ("invalid UTF-8",),
    ),
    Bad("top-level-array", {RES: b"[" + _metrics() + b"]"}, RES, 1, ("top level", "array")),
    Bad(
        "nesting-5000",
        {
            EXP: _j(experiment_doc(params={})).replace(
                b'"params": {}', b'"params": {"x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
            )
        },
        EXP,
        1,
        ("nested deeper",),
    ),
    Bad(
        "over-1-MiB",
        {
            EXP: _j(
                experiment_doc(
                    title="x" * 999, params={f"p{i:06d}": "y" * 1100 for i in range(1000)}
                )
            )
        },
        EXP,
        1,
        ("bytes", "cap"),
    ),
    Bad(
        "syntax-trailing-comma",
        {RES: b'{"schema": "expflow/result@1",}\n'},
        RES,
        1,
        ("invalid JSON",),
    ),
    # ---- schema and registry (docs/spec.md §2.1, §2.2) ------------------------------------------
    Bad(
        "boolean-metric", {RES: _metrics(seg_total=True)}, RES, 1, ("number",), "/metrics/seg_total"
    ),
    Bad(
        "string-metric", {RES: _metrics(pde_mean="15.0")}, RES, 1, ("number",), "/metrics/pde_mean"
    ),
    Bad(
        "unknown-metric",
        {RES: _metrics(seg_totl=1.0)},
        RES,
        1,
        ("unknown-metric", "seg_totl", "did you mean 'seg_total'"),
        "/metrics/seg_totl",
    ),
    Bad(
        "unknown-split-metric",
        {RES: _j(result_doc(splits={"holdout": {"pde_meen": 1.0}}))},
        RES,
        1,
        ("unknown-metric", "did you mean 'pde_mean'"),
        "/splits/holdout/pde_meen",
    ),
    Bad(
        "metric-below-min",
        {RES: _metrics(train_time_min=-0.5)},
        RES,
        1,
        ("metric-out-of-range", "below its min"),
        "/metrics/train_time_min",
    ),
    Bad(
        "missing-required-metric",
        {RES: _metrics(train_time_min=None)},
        RES,
        1,
        ("required metric", "train_time_min"),
        "/metrics",
    ),
    Bad(
        "result-stem-mismatch",
        {"results/pdebench-task1/exp-002.json": _metrics()},
        "results/pdebench-task1/exp-002.json",
        1,
        ("id-mismatch", "exp-001"),
        "/experiment",
    ),
    Bad(
        "id-not-file-stem",
        {"experiments/pdebench-task1/exp-9.json": _j(experiment_doc())},
        "experiments/pdebench-task1/exp-9.json",
        1,
        ("id-mismatch", "exp-001", "exp-9"),
        "/id",
    ),
    Bad(
        "bad-id-pattern",
        {"experiments/pdebench-task1/-exp 1.json": _j(experiment_doc("-exp 1"))},
        "experiments/pdebench-task1/-exp 1.json",
        1,
        ("does not match",),
        "/id",
    ),
    Bad(
        "bad-status",
        {EXP: _j(experiment_doc(status="done"))},
        EXP,
        1,
        ('"done" is not one of ["pending","running","success","failed","skipped"]',),
        "/status",
    ),
    Bad(
        "non-scalar-param",
        {EXP: _j(experiment_doc(params={"layers": [64, 64]}))},
        EXP,
        1,
        ('[64,64] is not of type "boolean" or "null" or "number" or "string"',),
        "/params/layers",
    ),
    Bad(
        "seed-out-of-range",
        {EXP: _j(experiment_doc(seed=2**31 - 1))},
        EXP,
        1,
        ("2147483647",),
        "/seed",
    ),
    Bad("seed-negative", {EXP: _j(experiment_doc(seed=-1))}, EXP, 1, ("-1",), "/seed"),
    Bad("seed-float", {EXP: _j(experiment_doc(seed=1.5))}, EXP, 1, ("integer",), "/seed"),
    Bad(
        "bad-timestamp",
        {EXP: _j(experiment_doc(created_at="20 Nov 2026"))},
        EXP,
        1,
        ("does not match",),
        "/created_at",
    ),
    Bad(
        "missing-study",
        {EXP: _j({k: v for k, v in experiment_doc().items() if k != "study"})},
        EXP,
        1,
        ('"study" is a required property',),
    ),
    Bad("unknown-record-key", {EXP: _j(experiment_doc(sttus="success"))}, EXP, 1, ("sttus",)),
    Bad(
        "wrong-schema-tag",
        {RES: _j(result_doc(schema="expflow/result@2"))},
        RES,
        1,
        ("expflow/result@1",),
        "/schema",
    ),
    # ---- references (docs/spec.md §2.2) ---------------------------------------------------------
    Bad(
        "result-without-record",
        {"results/pdebench-task1/exp-404.json": _j(result_doc("exp-404"))},
        "results/pdebench-task1/exp-404.json",
        1,
        ("result-without-record", "exp-404"),
        "/experiment",
    ),
    Bad(
        "result-for-failed-run",
        {EXP: _j(experiment_doc(status="failed")), RES: _metrics()},
        RES,
        1,
        ("result-for-unsuccessful-run", "'failed'"),
        "/experiment",
    ),
    Bad(
        "result-for-pending-run",
        {EXP: _j(experiment_doc(status="pending")), RES: _metrics()},
        RES,
        1,
        ("result-for-unsuccessful-run", "'pending'"),
        "/experiment",
    ),
    Bad(
        "duplicate-id-across-studies",
        {"experiments/other-study/exp-001.json": _j(experiment_doc(study="other-study"))},
        "experiments/other-study/exp-001.json",
        1,
        ("duplicate-id", EXP),
        "/id",
    ),
    # ---- the policy (docs/spec.md §3): exit 2 ---------------------------------------------------
    Bad(
        "policy-unknown-key",
        {POLICY: _policy("required_metrics:", "requird_metrics:")},
        POLICY,
        2,
        ("unknown key 'requird_metrics'", "did you mean 'required_metrics'"),
    ),
    Bad(
        "policy-unknown-metric-key",
        {POLICY: _policy("seg1: {group: Score,", "seg1: {grup: Score,")},
        POLICY,
        2,
        ("/metrics/seg1", "unknown key 'grup'", "did you mean 'group'"),
    ),
    Bad(
        "policy-malformed-gate",
        {POLICY: _policy("gates: []", 'gates: ["train_time_min:le"]')},
        POLICY,
        2,
        ("/gates/0", "malformed"),
    ),
    Bad(
        "policy-gate-unknown-op",
        {POLICY: _policy("gates: []", 'gates: ["train_time_min:lte:60"]')},
        POLICY,
        2,
        ("/gates/0", "unknown operator 'lte'"),
    ),
    Bad(
        "policy-gate-nan",
        {POLICY: _policy("gates: []", 'gates: ["train_time_min:le:nan"]')},
        POLICY,
        2,
        ("/gates/0", "'nan'"),
    ),
    Bad(
        "policy-gate-inf",
        {POLICY: _policy("gates: []", 'gates: ["pde_mean:lt:inf"]')},
        POLICY,
        2,
        ("/gates/0", "'inf'"),
    ),
    Bad(
        "policy-gate-unknown-metric",
        {POLICY: _policy("gates: []", 'gates: ["train_tim_min:le:60"]')},
        POLICY,
        2,
        ("/gates/0", "unknown metric 'train_tim_min'", "did you mean 'train_time_min'"),
    ),
    Bad("policy-alias-bomb", {POLICY: _alias_bomb()}, POLICY, 2, ("alias",)),
    Bad(
        "policy-pin-hash",
        {POLICY: _template_policy().encode() + f"# {PIN_SHA}\n".encode()},
        POLICY,
        2,
        ("pin-sha256", "PIN"),
    ),
    Bad(
        "policy-pin-assignment",
        {POLICY: _policy("protect:", "pin_hash: 'abcdef'\nprotect:")},
        POLICY,
        2,
        ("pin-assignment",),
    ),
    Bad(
        "policy-duplicate-yaml-key",
        {POLICY: _policy("gates: []", "gates: []\ngates: []")},
        POLICY,
        2,
        ("duplicate key", "gates"),
    ),
    Bad(
        "policy-version-2", {POLICY: _policy("version: 1", "version: 2")}, POLICY, 2, ("/version",)
    ),
    Bad(
        "policy-threshold-nan",
        {POLICY: _policy("threshold: 18.09", "threshold: .nan")},
        POLICY,
        2,
        ("/metrics/pde_mean/threshold", "finite"),
    ),
    Bad(
        "policy-invalid-yaml",
        {POLICY: _template_policy().encode() + b"gates: [\n"},
        POLICY,
        2,
        ("invalid YAML",),
    ),
    Bad(
        "policy-deep-yaml",
        {POLICY: b"version: 1\nx: " + b"[" * 5000 + b"]" * 5000 + b"\n"},
        POLICY,
        2,
        ("expflow.yaml",),
    ),
    Bad(
        "policy-missing-higher-is-better",
        {
            POLICY: _policy(
                "seg1: {group: Score, higher_is_better: true, type: scalar}",
                "seg1: {group: Score, type: scalar}",
            )
        },
        POLICY,
        2,
        ("/metrics/seg1", "higher_is_better"),
    ),
    Bad(
        "policy-sort-by-unknown",
        {POLICY: _policy("sort_by: seg_total", "sort_by: seg_totl")},
        POLICY,
        2,
        ("/ranking/sort_by", "did you mean 'seg_total'"),
    ),
    Bad(
        "policy-rule-bad-op",
        {POLICY: _policy("op: gt, value: 0", "op: gte, value: 0")},
        POLICY,
        2,
        ("/rules/0/op",),
    ),
    Bad(
        "policy-yaml-date",
        {POLICY: _policy("protect:", "title: 2026-11-20\nprotect:")},
        POLICY,
        2,
        ("/title",),
    ),
    Bad("policy-empty", {POLICY: b""}, POLICY, 2, ("empty",)),
    Bad("policy-missing", {}, POLICY, 2, ("no policy file",), drop=(POLICY,)),
]


def test_corpus_is_big_and_distinct() -> None:
    assert len({c.id for c in CORPUS}) == len(CORPUS) >= 25
    assert len({(tuple(sorted(c.files.items())), c.drop) for c in CORPUS}) == len(CORPUS)


@pytest.fixture
def staged_record(exp_repo: ExpRepo) -> ExpRepo:
    """A repo whose valid exp-001 record is staged (not committed)."""
    exp_repo.add_experiment()
    exp_repo.stage()
    return exp_repo


@pytest.mark.parametrize("case", CORPUS, ids=[c.id for c in CORPUS])
def test_bad_input_is_refused(staged_record: ExpRepo, case: Bad) -> None:
    repo = staged_record
    for rel in case.drop:
        (repo.path / rel).unlink()
    for rel, data in case.files.items():
        repo.write(rel, data)
    repo.git("add", "-A")
    if case.target == RES and RES not in case.files:
        repo.add_result()
    code, out, err = run_cli(["validate", case.target], cwd=repo.path)
    both = out + err
    assert code == case.code, both
    assert_clean_output(out, err)
    assert case.target in both
    for needle in case.needles:
        assert needle in both, (needle, both)
    if case.pointer is not None:
        assert f"{case.target}#{case.pointer}:" in both, both
    # One line per message: every line names the file (or is the summary / error line).
    for line in both.splitlines():
        assert line.startswith((case.target, "expflow-git")), line
        assert len(line) < 600, line
    if case.code == 1:
        # Findings on stdout, the count on stderr (docs/spec.md §4: results out, diagnostics err).
        assert case.target in out
        assert "problem(s)" in err
    else:
        assert err.startswith("expflow-git: error: "), err
        assert err.count("\n") == 1, err
        assert out == ""
    assert PIN_SHA[:12] not in both and PIN_SHA[-12:] not in both  # secrets never echoed


def test_finding_is_one_line_with_location(staged_record: ExpRepo) -> None:
    staged_record.write(RES, _raw_result('{"seg_total": NaN, "pde_mean": 1, "train_time_min": 1}'))
    code, out, err = run_cli(["validate", RES], cwd=staged_record.path)
    assert code == 1
    assert out == f"{RES}#/metrics/seg_total: invalid-json: NaN is not a JSON number\n"
    assert err == "expflow-git validate: 1 problem(s) in 1 file(s)\n"


# --------------------------------------------------------------------------- passing cases
def test_seed_example_validates(exp_repo: ExpRepo) -> None:
    exp_repo.add_experiment()
    exp_repo.add_result()
    exp_repo.stage()
    code, out, err = run_cli(["validate", EXP, RES], cwd=exp_repo.path)
    assert (code, out) == (0, ""), out + err
    assert "2 document(s) OK" in err


def test_validate_before_anything_is_added(exp_repo: ExpRepo) -> None:
    """An empty index (right after `init` and `new`): `validate expflow.yaml` read the empty
    listing as malformed ("git ls-files: unexpected output", exit 2; a hunt)."""
    assert exp_repo.git("ls-files") == ""
    exp_repo.add_experiment()
    code, out, err = run_cli(["validate", "expflow.yaml", EXP], cwd=exp_repo.path)
    assert (code, out) == (0, ""), out + err
    assert "Traceback" not in err and "unexpected output" not in err


def test_validate_without_paths_checks_every_tracked_document(exp_repo: ExpRepo, cli) -> None:
    exp_repo.add_experiment()
    exp_repo.add_result()
    exp_repo.add_experiment("exp-002")
    exp_repo.add_result("exp-002", metrics={"seg_total": 1.0})  # lacks required metrics
    exp_repo.stage()
    res = cli(["validate"], cwd=exp_repo.path)
    assert res.code == 1
    assert "results/pdebench-task1/exp-002.json#/metrics: required-metric" in res.out
    assert "exp-001.json" not in res.out
    exp_repo.add_result("exp-002")
    exp_repo.stage()
    res = cli(["validate"], cwd=exp_repo.path)
    assert res.code == 0, res.both
    assert "4 document(s) OK" in res.err


def test_non_document_paths_are_ignored(exp_repo: ExpRepo, cli) -> None:
    exp_repo.write("README.md", "# hi\n")
    exp_repo.write("data/other.json", "not json at all")  # outside the policy's globs
    res = cli(["validate", "README.md", "data/other.json"], cwd=exp_repo.path)
    assert res.code == 0, res.both
    assert "0 document(s) OK" in res.err


def test_directory_argument_expands(exp_repo: ExpRepo, cli) -> None:
    exp_repo.add_experiment()
    exp_repo.write(RES, _metrics(seg_totl=3.0))
    exp_repo.stage()
    res = cli(["validate", "results"], cwd=exp_repo.path)
    assert res.code == 1
    assert f"{RES}#/metrics/seg_totl: unknown-metric" in res.out


@pytest.mark.parametrize("staged", [False, True], ids=["disk", "staged"])
def test_a_file_named_twice_is_one_document(exp_repo: ExpRepo, cli, staged: bool) -> None:
    """`f ./f $PWD/f results` names one bad result: one finding, counted once."""
    exp_repo.add_experiment()
    exp_repo.write(RES, _metrics(seg_totl=3.0))
    exp_repo.stage()
    names = [RES, f"./{RES}", str(exp_repo.path / RES), "results", "results/"]
    res = cli(["validate", *(["--staged", "--"] if staged else []), *names], cwd=exp_repo.path)
    assert res.code == 1, res.both
    assert res.out.count(f"{RES}#/metrics/seg_totl") == 1, res.out
    assert "1 problem(s) in 1 file(s)" in res.err


def test_validate_from_subdirectory_names_root_relative_paths(exp_repo: ExpRepo, cli) -> None:
    exp_repo.add_experiment()
    exp_repo.write(RES, _metrics(seg_totl=3.0))
    exp_repo.stage()
    res = cli(["validate", "exp-001.json"], cwd=exp_repo.path / "results" / "pdebench-task1")
    assert res.code == 1
    assert f"{RES}#/metrics/seg_totl" in res.out


def test_result_record_lookup_uses_the_index_not_the_working_tree(exp_repo: ExpRepo, cli) -> None:
    """A record only on disk (untracked) does not back a result: it would not be committed."""
    exp_repo.add_experiment()
    exp_repo.add_result()
    exp_repo.stage(RES)
    res = cli(["validate", RES], cwd=exp_repo.path)
    assert res.code == 1
    assert "result-without-record" in res.out
    exp_repo.stage(EXP)
    res = cli(["validate", RES], cwd=exp_repo.path)
    assert res.code == 0, res.both


def test_staged_record_status_is_what_counts(exp_repo: ExpRepo, cli) -> None:
    """The record's staged content decides; an unstaged edit to `success` does not."""
    exp_repo.add_experiment(status="failed")
    exp_repo.stage(EXP)
    exp_repo.add_experiment(status="success")  # on disk only
    exp_repo.add_result()
    exp_repo.stage(RES)
    res = cli(["validate", RES], cwd=exp_repo.path)
    assert res.code == 1
    assert "'failed'" in res.out


def test_changed_policy_rechecks_every_document(committed_repo: ExpRepo, cli) -> None:
    repo = committed_repo
    repo.add_experiment()
    repo.add_result()
    repo.commit("seed example")
    assert cli(["validate", POLICY], cwd=repo.path).code == 0
    # Drop pde_mean from the registry: the committed result now uses an unknown metric.
    text = (repo.path / POLICY).read_text()
    text = text.replace(
        "  pde_mean: {group: PDE, higher_is_better: false, type: scalar, threshold: 18.09}\n", ""
    )
    text = text.replace(
        "required_metrics: [seg_total, pde_mean, train_time_min]",
        "required_metrics: [seg_total, train_time_min]",
    )
    text = text.replace("tie_break: [pde_mean]", "tie_break: []")
    repo.write(POLICY, text)
    repo.stage(POLICY)
    res = cli(["validate", POLICY], cwd=repo.path)
    assert res.code == 1, res.both
    assert f"{RES}#/metrics/pde_mean: unknown-metric" in res.out


# A policy in one line of flow YAML, under which the seed run is valid: a symbolic link
# whose target is this text is, read as a blob, a working policy.
FLOW_POLICY = (
    "{version: 1, metrics: {"
    + ", ".join(f"{m}: {{group: G, type: scalar, higher_is_better: true}}" for m in SEED_METRICS)
    + "}, ranking: {sort_by: seg_total}}"
)


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "--staged"],
        ["validate", "--staged", "--", POLICY],
        ["validate", "--staged", "--", RES],
    ],
    ids=["whole", "policy", "result"],
)
@pytest.mark.parametrize("entry", ["link", "submodule"])
def test_a_policy_that_is_no_file_in_the_index_is_refused(
    exp_repo: ExpRepo, args: list[str], entry: str
) -> None:
    """`cat-file :0:expflow.yaml` read a symbolic link's target text as the staged policy:
    one line of flow YAML made a working one (exit 0), where the audit and `protect`
    read no policy there. The policy's index entry must be a regular file (exit 2)."""
    exp_repo.add_experiment()
    exp_repo.add_result()
    exp_repo.commit("a run")
    (exp_repo.path / POLICY).unlink()
    if entry == "link":
        (exp_repo.path / POLICY).symlink_to(FLOW_POLICY)
        exp_repo.stage(POLICY)
    else:
        exp_repo.git("rm", "-q", "--cached", POLICY)
        exp_repo.git("update-index", "--add", "--cacheinfo", f"160000,{exp_repo.head()},{POLICY}")
    res = run_cli(args, cwd=exp_repo.path)
    assert res.code == 2, res
    what = "a symbolic link" if entry == "link" else "a submodule"
    assert res.err.splitlines() == [
        f"expflow-git: error: {POLICY}: the index holds {what} here, not a policy file; "
        "the policy must be a regular file (the audit reads no policy in its place)"
    ]
    assert res.out == ""


def test_protect_refuses_a_first_commit_whose_policy_is_a_link(exp_repo: ExpRepo) -> None:
    """Before the first commit `protect` has no change against HEAD to see the link by:
    it read the link's target text as the policy and passed (exit 0)."""
    (exp_repo.path / POLICY).unlink()
    (exp_repo.path / POLICY).symlink_to(FLOW_POLICY)
    exp_repo.add_experiment()
    exp_repo.git("add", "-A")
    res = run_cli(["protect"], cwd=exp_repo.path)
    assert res.code == 2, res
    assert res.err.startswith(f"expflow-git: error: {POLICY}: the index holds a symbolic link")
    assert len(res.err.splitlines()) == 1


def test_policy_option_and_env(exp_repo: ExpRepo, cli) -> None:
    (exp_repo.path / POLICY).rename(exp_repo.path / "conf.yaml")
    exp_repo.add_experiment()
    exp_repo.stage()
    res = cli(["validate", EXP], cwd=exp_repo.path)
    assert res.code == 2 and "expflow.yaml" in res.err
    assert cli(["validate", "--policy", "conf.yaml", EXP], cwd=exp_repo.path).code == 0
    assert cli(["validate", EXP], cwd=exp_repo.path, env={"EXPFLOW_POLICY": "conf.yaml"}).code == 0


def test_several_bad_files_each_reported(exp_repo: ExpRepo, cli) -> None:
    exp_repo.add_experiment()
    exp_repo.write(RES, _metrics(seg_totl=1.0))
    bad_exp = "experiments/pdebench-task1/exp-002.json"
    exp_repo.write_json(bad_exp, experiment_doc("exp-002", status="done"))
    exp_repo.stage()
    res = cli(["validate", RES, bad_exp], cwd=exp_repo.path)
    assert res.code == 1
    assert f"{RES}#/metrics/seg_totl" in res.out
    assert f"{bad_exp}#/status" in res.out
    assert "2 problem(s) in 2 file(s)" in res.err


@pytest.mark.parametrize("target", ["elsewhere.json", "nowhere.json"], ids=["file", "dangling"])
def test_symlinked_document_is_refused(exp_repo: ExpRepo, cli, target: str) -> None:
    exp_repo.write("elsewhere.json", _j(experiment_doc()))
    (exp_repo.path / "experiments" / "pdebench-task1").mkdir(parents=True)
    (exp_repo.path / EXP).symlink_to(exp_repo.path / target)
    res = cli(["validate", EXP], cwd=exp_repo.path)
    assert res.code == 1
    assert f"{EXP}: not-a-regular-file: is a symbolic link" in res.out


def _compact(doc: object) -> str:
    return json.dumps(doc, separators=(",", ":"))


def _problems(out: str, path: str) -> list[str]:
    return sorted(line for line in out.splitlines() if line.startswith(path))


@pytest.mark.parametrize(
    "args",
    [["--staged", "--", RES], ["--", RES], ["--staged", "--", RES, EXP]],
    ids=["staged", "on-disk", "record-given-too"],
)
def test_a_record_that_is_a_link_in_the_index_backs_no_result(
    exp_repo: ExpRepo, cli, args: list[str]
) -> None:
    """A symbolic link committed at the record's path whose target text is a valid record
    (`git commit --no-verify`): the index holds the target's name, no document. Checked
    alone, the result was read as backed by it (`1 document(s) OK`), where the whole
    index and the audit said result-without-record (a hunter's find). Looked up, a link
    is no record: the result checked alone is told what the whole index tells it."""
    (exp_repo.path / EXP).parent.mkdir(parents=True)
    (exp_repo.path / EXP).symlink_to(_compact(experiment_doc()))
    exp_repo.commit("a link at the record's path")
    exp_repo.write(RES, _metrics())
    exp_repo.stage(RES)
    whole = cli(["validate", "--staged"], cwd=exp_repo.path)
    assert whole.code == 1
    assert f"{EXP}: not-a-regular-file: is a symbolic link" in whole.out
    expected = _problems(whole.out, RES)
    assert expected == [
        f"{RES}#/experiment: result-without-record: no experiment record with id 'exp-001'"
    ]
    res = cli(["validate", *args], cwd=exp_repo.path)
    assert res.code == 1, res.both
    assert _problems(res.out, RES) == expected
    assert_clean_output(res.out, res.err)


@pytest.mark.parametrize("linked", ["deleting-correction", "record"])
def test_a_link_in_the_index_is_no_correction_nor_record_a_correction_leans_on(
    exp_repo: ExpRepo, cli, linked: str
) -> None:
    """A correction that keeps a result must name a run with a record, or one another
    correction deletes. A link whose target text was a deleting correction, or a valid
    record, vouched for it, in the whole index as in the correction checked alone; the
    audit reads neither as a document."""
    keep = "corrections/keep/exp-001.json"
    doc = {
        "schema": "expflow/correction@1",
        "experiment": "exp-001",
        "supersedes": "a" * 40,
        "blob": "b" * 40,
        "reason": "re-ran with the fixed loader",
        "author": {"name": "Ada Lovelace", "email": "ada@example.org"},
        "time": "2026-11-21T10:00:00Z",
    }
    if linked == "record":
        link, target = EXP, experiment_doc()
    else:
        link, target = "corrections/gone/exp-001.json", {**doc, "blob": None}
    (exp_repo.path / link).parent.mkdir(parents=True)
    (exp_repo.path / link).symlink_to(_compact(target))
    exp_repo.commit("a link")
    exp_repo.write_json(keep, doc)
    exp_repo.stage(keep)
    expected = [
        f"{keep}#/experiment: correction-unknown-experiment: "
        "names experiment 'exp-001', which has no record here"
    ]
    for args in (["--staged"], ["--staged", "--", keep], ["--", keep]):
        res = cli(["validate", *args], cwd=exp_repo.path)
        assert res.code == 1, (args, res.both)
        assert _problems(res.out, keep) == expected, args


def test_a_link_in_the_index_gone_from_disk_is_refused_not_read(exp_repo: ExpRepo, cli) -> None:
    """A document given that the disk no longer has is checked as the index holds it: a
    link there is refused as a link, not read as its target's text."""
    (exp_repo.path / EXP).parent.mkdir(parents=True)
    (exp_repo.path / EXP).symlink_to(_compact(experiment_doc()))
    exp_repo.commit("a link at the record's path")
    (exp_repo.path / EXP).unlink()
    res = cli(["validate", "--", EXP], cwd=exp_repo.path)
    assert res.code == 1, res.both
    assert f"{EXP}: not-a-regular-file: is a symbolic link" in res.out


def test_a_record_that_is_a_link_backs_no_result_outside_git(tmp_path: Path, cli) -> None:
    """Outside git, a record looked up on disk is not read through a link either: the
    result checked alone is told what a check of the folder tells it."""
    assert cli(["init", "--template", "competition"], cwd=tmp_path).code == 0
    (tmp_path / "elsewhere.json").write_bytes(_j(experiment_doc()))
    (tmp_path / EXP).parent.mkdir(parents=True)
    (tmp_path / EXP).symlink_to(tmp_path / "elsewhere.json")
    (tmp_path / RES).parent.mkdir(parents=True)
    (tmp_path / RES).write_bytes(_metrics())
    whole = cli(["validate"], cwd=tmp_path)
    assert whole.code == 1
    expected = _problems(whole.out, RES)
    assert len(expected) == 1 and "result-without-record" in expected[0]
    res = cli(["validate", RES], cwd=tmp_path)
    assert res.code == 1, res.both
    assert _problems(res.out, RES) == expected


def test_tracked_document_that_is_now_a_directory_is_a_finding(exp_repo: ExpRepo, cli) -> None:
    exp_repo.write(EXP, _j(experiment_doc()))
    exp_repo.stage(EXP)
    (exp_repo.path / EXP).unlink()
    (exp_repo.path / EXP).mkdir()
    res = cli(["validate"], cwd=exp_repo.path)  # every tracked document, read from disk
    assert res.code == 1
    assert f"{EXP}: not-a-regular-file: is not a regular file" in res.out
    assert_clean_output(res.out, res.err)


def test_huge_document_is_refused_unread(
    exp_repo: ExpRepo, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 3 GiB file (sparse: it takes no disk) named like a record is refused by its
    size, as the strict reader would, and is never read into memory."""
    from expflow_git.hooks import validate as validate_module

    (exp_repo.path / EXP).parent.mkdir(parents=True)
    with open(exp_repo.path / EXP, "wb") as fh:
        fh.truncate(3 * 1024**3)
    res = cli(["validate", EXP], cwd=exp_repo.path)
    assert res.code == 1
    expected = f"{EXP}: invalid-json: document is {3 * 1024**3} bytes, over the 1048576-byte cap"
    assert expected in res.out

    def no_read(fd: int, size: int) -> bytes:
        raise AssertionError("the file was read")

    monkeypatch.setattr(validate_module, "_read_all", no_read)
    from expflow_git.hooks.lookup import Lookup, Source

    ws = validate_module.Workspace(exp_repo.path, exp_repo.path / "expflow.yaml", None)
    folder = Lookup(Source.FOLDER, ws.root, ws.load_policy(), list)
    found = validate_module._read_for_check(ws, EXP, folder)
    assert isinstance(found, Finding) and f"{found.path}: {found.rule}: {found.message}" == expected


def test_fifo_named_as_a_document_is_refused_without_blocking(exp_repo: ExpRepo, cli) -> None:
    (exp_repo.path / EXP).parent.mkdir(parents=True)
    os.mkfifo(exp_repo.path / EXP)  # nothing ever writes to it: a blocking open would hang
    res = cli(["validate", EXP], cwd=exp_repo.path)
    assert res.code == 1
    assert f"{EXP}: not-a-regular-file: is not a regular file" in res.out


@pytest.mark.nonroot
def test_unreadable_document_is_a_finding(exp_repo: ExpRepo, cli) -> None:
    exp_repo.write(EXP, _j(experiment_doc()))
    (exp_repo.path / EXP).chmod(0)
    res = cli(["validate", EXP], cwd=exp_repo.path)
    assert res.code == 1
    assert f"{EXP}: not-a-regular-file: cannot read: Permission denied" in res.out


def test_usage_errors_exit_2(exp_repo: ExpRepo) -> None:
    code, out, err = run_cli(["validate", "--no-such-option"], cwd=exp_repo.path)
    assert code == 2
    assert_clean_output(out, err)
    code, out, err = run_cli(["no-such-command"], cwd=exp_repo.path)
    assert code == 2
    assert_clean_output(out, err)


def test_version_and_help(tmp_path: Path) -> None:
    from expflow_git import __version__

    code, out, _ = run_cli(["--version"], cwd=tmp_path)
    assert code == 0 and __version__ in out
    code, out, _ = run_cli(["--help"], cwd=tmp_path)
    assert code == 0
    for command in ("init", "new", "result", "validate", "scan", "protect"):
        assert command in out


@pytest.mark.parametrize("args", [[], ["pin"], ["import"]])
def test_a_group_without_its_command_prints_its_help(tmp_path: Path, args: list[str]) -> None:
    """Click 8.2's error whose message is the help went through the one-line usage
    errors: one line with `\\x0a` and `keygen`'s `PATH mode 0600` masked as `****` (a
    user's hunt, issue 18 twenty-third pass). The help as `--help` prints it, on stderr
    (stdout is for results), exit 2."""
    code, out, err = run_cli(args, cwd=tmp_path)
    helped = run_cli([*args, "--help"], cwd=tmp_path)
    assert (code, out) == (2, "") and helped.code == 0
    assert err == helped.out and err.startswith("Usage: expflow-git") and "\\x0a" not in err
    assert ("PATH mode 0600" in err) == (args == [])


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["rank", "--top", "0"], "expflow-git rank: error: Invalid value for '--top': "),
        (["rank", "--format", "xml"], "expflow-git rank: error: Invalid value for '--format': "),
        (["rank", "--bogus"], "expflow-git rank: error: No such option '--bogus'"),
        (["new", "--seed", str(2**31 - 1)], "expflow-git new: error: Invalid value for '--seed'"),
        (["verify", "/"], "expflow-git verify: error: Invalid value for 'REPORT'"),
        (["pin", "bogus"], "expflow-git pin: error: No such command 'bogus'"),
        (["bogus"], "expflow-git: error: No such command 'bogus'"),
        # an option without its value: click raises it without the command's context
        # (said of `expflow-git`, with its help; a review)
        (["rank", "--top"], "expflow-git rank: error: Option '--top' requires an argument"),
        (["pin", "check", "--pin"], "expflow-git pin check: error: Option '--pin' requires"),
    ],
)
def test_a_usage_error_is_one_line(tmp_path: Path, cli, args: list[str], expected: str) -> None:
    """Click printed four lines (usage, `Try … --help`, a blank, `Error: …`); the README
    says errors are one line on stderr (a user's hunt, issue 18 twenty-third pass)."""
    res = cli(args, cwd=tmp_path)
    assert res.code == 2 and res.out == "", res
    assert res.err.startswith(expected) and len(res.err.splitlines()) == 1, res
    command = expected.split(":")[0]
    assert res.err.endswith(f" (see '{command} --help')\n"), res


def test_the_help_says_what_the_spec_says(tmp_path: Path, cli) -> None:
    """`scan --help` left out private keys, which the scan finds, and `install-hooks
    --help` said "(never overwrites)" of a command that updates a hook an earlier
    expflow-git installed and nobody edited (a user's hunt, issue 18 twenty-third pass)."""
    scan = " ".join(cli(["scan", "--help"], cwd=tmp_path).out.split())
    assert "Find leaked PINs, PIN hashes and private keys" in scan
    hooks = " ".join(cli(["install-hooks", "--help"], cwd=tmp_path).out.split())
    assert "(never overwrites)" not in hooks
    assert "kept, never overwritten; one an earlier expflow-git installed and nobody " in hooks
    assert "edited is updated." in hooks


def test_validate_outside_a_repository(tmp_path: Path, cli) -> None:
    """Without git, files are read from disk and the record is looked up on disk."""
    assert cli(["init", "--template", "competition"], cwd=tmp_path).code == 0
    (tmp_path / "experiments" / "pdebench-task1").mkdir(parents=True)
    (tmp_path / EXP).write_bytes(_j(experiment_doc()))
    (tmp_path / "results" / "pdebench-task1").mkdir(parents=True)
    (tmp_path / RES).write_bytes(_metrics())
    res = cli(["validate", RES], cwd=tmp_path)
    assert res.code == 0, res.both
    (tmp_path / RES).write_bytes(_metrics(seg_totl=1.0))
    res = cli(["validate", RES], cwd=tmp_path)
    assert res.code == 1 and "seg_totl" in res.out


def test_metric_name_with_newline_is_reported_on_one_line(staged_record: ExpRepo) -> None:
    staged_record.write(
        RES, _raw_result('{"seg_total": 1, "pde_mean": 1, "train_time_min": 1, "seg_totl\\n": 2}')
    )
    code, out, err = run_cli(["validate", RES], cwd=staged_record.path)
    assert code == 1
    assert len(out.splitlines()) == 1, out


@pytest.mark.parametrize("field_", ["study", "tags"])
def test_trailing_newline_in_identifiers_is_refused(staged_record: ExpRepo, field_: str) -> None:
    value = "pdebench-task1\n" if field_ == "study" else ["task1\n"]
    staged_record.write(EXP, _j(experiment_doc(**{field_: value})))
    code, out, err = run_cli(["validate", EXP], cwd=staged_record.path)
    assert code == 1, out + err
    assert f"{EXP}#/{field_}" in out


_SURROGATE_BUG = (
    "BUG: parse_json accepts lone-surrogate escapes ('\\ud800'); jsonschema-rs "
    "(schemas.is_valid) raises UnicodeEncodeError on them in enum/pattern-checked strings and "
    "keys, and a raw one in a finding's pointer makes click.echo raise it: a traceback"
)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b'"x": 1', b'"x\\ud800": [1]'),
        (b'"success"', b'"succ\\udc00ss"'),
        (b'"pdebench-task1"', b'"pdebench\\ud83d"'),
    ],
    ids=["param-key", "status", "study"],
)
def test_lone_surrogate_gives_a_clean_error(staged_record: ExpRepo, old: bytes, new: bytes) -> None:
    doc = _j(experiment_doc(params={"x": 1}))
    assert old in doc
    staged_record.write(EXP, doc.replace(old, new))
    code, out, err = run_cli(["validate", EXP], cwd=staged_record.path)
    assert_clean_output(out, err)
    assert code == 1, out + err
    assert EXP in out


def test_param_key_with_newline_is_reported_on_one_line(staged_record: ExpRepo) -> None:
    doc = _j(experiment_doc(params={"x": 1})).replace(b'"x": 1', b'"a\\nb: fake": [1]')
    staged_record.write(EXP, doc)
    code, out, err = run_cli(["validate", EXP], cwd=staged_record.path)
    assert code == 1
    assert len(out.splitlines()) == 1, out


# --------------------------------------------------------------------------- properties
_FIELDS = {
    Kind.EXPERIMENT: [
        "schema",
        "id",
        "study",
        "title",
        "created_at",
        "tags",
        "status",
        "seed",
        "params",
        "provenance",
        "reason",
        "extra",
    ],
    Kind.RESULT: [
        "schema",
        "experiment",
        "recorded_at",
        "metrics",
        "splits",
        "provenance",
        "extra",
    ],
}
_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["exp-001", "success", "failed", "seg_total", "pde_mean"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(max_size=8) | st.sampled_from(["seg_total", "train_time_min"]),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([Kind.EXPERIMENT, Kind.RESULT]), st.data())
def test_document_checks_never_crash(kind: Kind, data: st.DataObject) -> None:
    """Any JSON document, shaped like a record or a result or not, gives findings or a value."""
    from expflow_git.checks import check_document

    base = experiment_doc() if kind is Kind.EXPERIMENT else result_doc()
    changes = data.draw(st.dictionaries(st.sampled_from(_FIELDS[kind]), _values, max_size=3))
    drop = data.draw(st.sets(st.sampled_from(sorted(base)), max_size=2))
    doc = {k: v for k, v in {**base, **changes}.items() if k not in drop}
    path = EXP if kind is Kind.EXPERIMENT else RES
    value, findings = check_document(kind, path, json.dumps(doc).encode(), _policy_object())
    assert (value is None) == bool(findings)
    for finding in findings:
        assert finding.path == path and finding.rule and finding.message


# The one-file hook path imports none of this (issue 6): the report and signing code,
# GitPython, the YAML parser (the policy a hook checked once is remembered in
# .git/expflow), python-jsonschema (jsonschema-rs judges and explains documents), and
# click (issue 18: the hook's plain command lines are read by cli/plain.py).
HOOK_NEVER_IMPORTS = (
    "click",
    "cryptography",
    "git",
    "rfc8785",
    "ruamel",
    "jsonschema",
    "referencing",
    "expflow_git.report",
    "expflow_git.audit.pipeline",
    "expflow_git.render",
)


@pytest.mark.parametrize(
    "form",
    [[], ["--"], ["--staged"], ["--policy", "expflow.yaml", "--"], ["--policy=expflow.yaml"]],
)
def test_one_file_hook_imports_only_what_it_needs(exp_repo: ExpRepo, form: list[str]) -> None:
    exp = exp_repo.add_experiment()
    res = exp_repo.add_result()
    exp_repo.commit("a run")
    broken = exp_repo.add_experiment("exp-002", status="done")  # breaks the schema
    exp_repo.stage(broken)  # --staged reads it from the index
    warm = run_cli(["validate", res], cwd=exp_repo.path)  # remembers the checked policy
    assert warm[0] == 0, warm
    for path, expected in ((exp, 0), (res, 0), (broken, 1)):
        args = ["validate", *form, path]
        code, out, err = run_cli_code(LIST_MODULES, args, exp_repo.path)
        assert code == expected, err
        assert (f"{broken}#/status: schema: " in out) is (path == broken), out
        loaded = set(out.split())
        assert "expflow_git.hooks.validate" in loaded  # the listing is real
        leaked = sorted(
            m for m in loaded for top in HOOK_NEVER_IMPORTS if m == top or m.startswith(top + ".")
        )
        assert leaked == [], leaked


def _refuse_listing(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Directories called `name` cannot be listed (as root, chmod would not stop it:
    refuse it where os.walk asks)."""
    real_scandir = os.scandir

    def refusing_scandir(path: str = ".") -> object:
        if str(path).endswith(name):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", refusing_scandir)


@pytest.mark.parametrize("command", ["validate", "scan"])
def test_a_directory_that_cannot_be_listed_is_an_error_not_a_pass(
    exp_repo: ExpRepo, cli, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    exp_repo.add_experiment()
    _refuse_listing(monkeypatch, "pdebench-task1")
    res = cli([command, "experiments"], cwd=exp_repo.path)
    assert res.code == 2, res
    assert res.err.strip().endswith("pdebench-task1: cannot list: Permission denied"), res.err
    assert "OK" not in res.err and "clean" not in res.err


def test_a_directory_a_document_glob_matches_is_walked(exp_repo: ExpRepo, cli) -> None:
    policy = exp_repo.path / "expflow.yaml"
    text = policy.read_text()
    assert 'results: ["results/**/*.json"]' in text
    policy.write_text(text.replace('results: ["results/**/*.json"]', 'results: ["results/**"]'))
    exp_repo.add_experiment()
    res_path = exp_repo.add_result(metrics={"seg_totl": 1})  # an unknown metric
    res = cli(["validate", "results/pdebench-task1"], cwd=exp_repo.path)
    assert res.code == 1, res
    assert f"{res_path}#/metrics/seg_totl: unknown-metric:" in res.out, res.out
    assert "not-a-regular-file" not in res.out


def test_an_unreadable_folder_elsewhere_does_not_stop_a_check_outside_git(
    exp_repo: ExpRepo, cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plain = tmp_path / "plain"  # no repository: the tree itself is listed for other ids
    plain.mkdir()
    (plain / "expflow.yaml").write_bytes((exp_repo.path / "expflow.yaml").read_bytes())
    (plain / "notes" / "private").mkdir(parents=True)
    exp = plain / EXP
    exp.parent.mkdir(parents=True)
    exp.write_bytes(_j(experiment_doc()))
    _refuse_listing(monkeypatch, "private")
    res = cli(["validate", EXP], cwd=plain, env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert res.code == 0, res
    assert "1 document(s) OK" in res.err


def test_empty_and_number_spelled_keys_keep_their_place_in_the_pointer(
    staged_record: ExpRepo,
) -> None:
    """jsonschema-rs drops an empty key from an error's path and turns "01" into 1; the
    pointers (which go into signed reports) are the document's own: `/splits//0`."""
    doc = result_doc(splits={"": {"0": None}})
    staged_record.write(RES, _j(doc))
    code, out, err = run_cli(["validate", RES], cwd=staged_record.path)
    assert code == 1, err
    assert out.splitlines() == [
        f'{RES}#/splits: schema: property name "" does not match '
        '"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"',
        f'{RES}#/splits/: schema: property name "0" does not match '
        '"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$"',
        f'{RES}#/splits//0: schema: null is not of type "number"',
    ]
    staged_record.write(RES, _j(result_doc(splits={"01": {"q": None}, "1": {"q": "z"}})))
    code, out, err = run_cli(["validate", RES], cwd=staged_record.path)
    assert code == 1, err
    assert out.splitlines() == [
        f'{RES}#/splits/01/q: schema: null is not of type "number"',
        f'{RES}#/splits/1/q: schema: "z" is not of type "number"',
    ]


def test_a_staged_validate_of_a_folder_reads_the_index_under_it(exp_repo: ExpRepo, cli) -> None:
    """`validate --staged FOLDER` walked the folder on disk: a result staged with an
    unknown metric and then deleted from the disk was not checked ("0 document(s) OK",
    a review), while `validate --staged` alone refused it. A folder (or a path the disk
    no longer has) stands for the index's entries below it, as for `scan --staged`."""
    exp_repo.add_experiment("exp-001")
    bad = exp_repo.add_result("exp-001")
    text = (exp_repo.path / bad).read_text().replace('"seg_total"', '"seg_totl"')
    exp_repo.write(bad, text)
    exp_repo.git("add", "-A")
    (exp_repo.path / bad).unlink()
    for folder in ("results", "results/pdebench-task1"):
        res = cli(["validate", "--staged", folder], cwd=exp_repo.path)
        assert res.code == 1 and f"{bad}#/metrics/seg_totl: unknown-metric" in res.out, res.both
    shutil.rmtree(exp_repo.path / "results")
    res = cli(["validate", "--staged", "results"], cwd=exp_repo.path)
    assert res.code == 1 and f"{bad}#/metrics/seg_totl: unknown-metric" in res.out, res.both
