"""The in-toto Statement of an audit (docs/spec.md §6.3): what it says. Subjects,
inputs with their Merkle root, the hash-chained entries, the policy that judged and a
`result` derived from the entries by rules.py, the function the verifier uses too, so
the two cannot drift. encode.py writes it as bytes; verify.py checks it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from expflow_git import TOOL_NAME, __version__
from expflow_git.audit.ladder import Ladder, Rung
from expflow_git.audit.pipeline import Audit, commit_time_utc
from expflow_git.checks import Outcome
from expflow_git.errors import Finding, clean, path_text
from expflow_git.gitstore import EMPTY_TREES
from expflow_git.policy.model import Severity
from expflow_git.report.canonical import canonical_json, json_number
from expflow_git.report.merkle import leaf_hash, merkle_root

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "urn:expflow-git:audit-report:v1"
ENTRY_DOMAIN = b"expflow-entry-v1\0"
GENESIS_DOMAIN = b"expflow-genesis-v1\0"

Json = dict[str, Any]


def genesis_hash(commit: str, policy_blob: str, root_hex: str) -> str:
    """The first entry's `prev`: SHA-256(domain || commit || policy blob || Merkle root), hex."""
    data = GENESIS_DOMAIN + commit.encode() + policy_blob.encode() + root_hex.encode()
    return hashlib.sha256(data).hexdigest()


def entry_hash(entry: Mapping[str, Any]) -> str:
    """SHA-256(domain || JCS(entry without "hash")), hex."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(ENTRY_DOMAIN + canonical_json(body)).hexdigest()


def iter_chain(bodies: Iterable[Json], genesis: str) -> Iterator[Json]:
    """Give each entry its `seq`, `prev` and `hash`, one at a time."""
    prev = genesis
    for seq, body in enumerate(bodies):
        entry = {"seq": seq, "prev": prev, **body}
        prev = entry["hash"] = entry_hash(entry)
        yield entry


def chain(bodies: Sequence[Json], genesis: str) -> list[Json]:
    """Give each entry its `seq`, `prev` and `hash`."""
    return list(iter_chain(bodies, genesis))


def inputs_root(leaves: Sequence[Mapping[str, str]]) -> str:
    return merkle_root([leaf_hash(leaf) for leaf in leaves]).hex()


def finding_entry(f: Finding) -> Json:
    entry: Json = {"type": "finding", "rule": f.rule, "path": path_text(f.path)}
    if f.pointer:
        entry["pointer"] = clean(f.pointer)
    if f.line is not None:
        entry["line"] = f.line
    if f.col is not None:
        entry["col"] = f.col
    entry["message"] = clean(f.message)
    return entry


def run_entries(audit: Audit, ladder: Ladder | None = None) -> Iterator[Json]:
    """The run entries as values (the report itself is encoded by encode.py's `_Chain.runs`);
    `ladder` is the audit's (`audit.ladder`)."""
    for ranked in audit.board.runs:
        v = ranked.verdict
        entry: Json = {
            "type": "run",
            "id": v.id,
            "study": v.study,
            "path": path_text(v.path),
            "metrics": {k: json_number(x) for k, x in sorted(v.metrics.items())},
        }
        if ladder is not None:
            entry["ladder"] = rung_json(ladder.rungs[v.id])
        if v.splits:
            entry["splits"] = {
                k: {name: json_number(x) for name, x in sorted(m.items())}
                for k, m in sorted(v.splits.items())
            }
        entry["checks"] = [outcome_json(o) for o in v.outcomes]
        entry["feasible"] = v.feasible
        entry["rank"] = ranked.rank
        yield entry


def outcome_json(o: Outcome) -> Json:
    """A check outcome as a run entry lists it; an advisory check says `severity: warning`
    (an error check says nothing: reports without warnings keep their bytes)."""
    out: Json = {
        "kind": o.kind.value,
        "name": o.name,
        "passed": o.passed,
        "detail": clean(o.detail),
    }
    if o.severity is Severity.WARNING:
        out["severity"] = o.severity.value
    return out


def rung_json(rung: Rung) -> Json:
    """A run entry's `ladder` member: its submission order and whether it moved the ladder."""
    return {"order": rung.order, "moved": rung.moved}


def ladder_result(ladder: Ladder | None) -> Json:
    """What `result` says of the ladder: nothing without one (reports keep their bytes)."""
    if ladder is None:
        return {}
    score = None if ladder.score is None else json_number(ladder.score)
    return {"best_ladder": ladder.best, "ladder": {"step": ladder.step, "score": score}}


def walk_entry(audit: Audit) -> Json | None:
    w = audit.walk
    wf = audit.check.policy.walk_forward
    if w is None or wf is None:
        return None
    return {
        "type": "walk-forward",
        "metric": w.metric,
        "split": w.split,
        "topN": wf.top_n,
        "minPearson": w.min_pearson,
        "status": w.status.value,
        "r": w.r,
        "n": w.n,
        "points": [[i, json_number(x), json_number(y)] for i, x, y in w.points],
        "reason": w.reason,
    }


def budget_entry(audit: Audit) -> Json | None:
    """The holdout budget's counts per study (audit/budget.py), when the policy sets one."""
    return None if audit.budget is None else audit.budget.entry()


def ranking_config(audit: Audit) -> Json:
    policy = audit.check.policy
    config: Json = {
        "sortBy": policy.ranking.sort_by,
        "descending": policy.ranking.descending,
        "tieBreak": [
            {"metric": t, "descending": policy.metrics[t].higher_is_better}
            for t in policy.ranking.tie_break
        ],
    }
    if policy.ranking.ladder_step is not None:
        config["ladderStep"] = policy.ranking.ladder_step
    return config


def policy_json(audit: Audit) -> Json:
    """Which policy judged: its path, blob and digest, the ranking it sets; with
    --policy-ref, the commit it was read at and what the audited commit's own policy
    would change (it takes effect only after merge)."""
    check = audit.check
    policy: Json = {
        "path": clean(check.policy.path),
        "gitBlob": check.policy_blob,
        "sha256": check.policy.sha256,
        "ranking": ranking_config(audit),
    }
    if check.policy_ref is not None and check.proposal is not None:
        policy["ref"] = check.policy_ref
        policy["proposed"] = check.proposal.as_json()
    return policy


def chain_link(previous: Mapping[str, Any] | None) -> Json:
    """`predicate.chain`: the first report, or the one after `previous`."""
    if previous is None:
        return {"seq": 0, "prev": None}
    return {
        "seq": previous["seq"] + 1,
        "prev": {"payloadSha256": previous["payloadSha256"], "gitCommit": previous["gitCommit"]},
    }


def scope_note(focus: str | None, since: str | None) -> str:
    """What a verdict covers, as every form shows it: one experiment or every run, and
    whether the history was checked (`--since`). A report of a tree alone, or of one
    run, reads like a full check otherwise (an attacker's hunt)."""
    runs = f"experiment {focus} only" if focus else "every run"
    if not since:
        history = "history not checked"
    elif since in EMPTY_TREES.values():
        history = "whole history checked"  # since before the first commit
    else:
        history = f"history checked since {since[:12]}"
    return f"{runs}; {history}"


def statement_value(
    audit: Audit,
    previous: Mapping[str, Any] | None,
    root: str,
    head: Json,
    result: Json,
    *,
    leaves: object,
    entries: object,
) -> Json:
    """The Statement of `audit`, with `leaves` and `entries` as its arrays (the encoder
    passes placeholders it splices the real arrays in for)."""
    check = audit.check
    repo: Json = {
        "commit": check.commit.sha,
        "tree": check.commit.tree,
        "parents": list(check.commit.parents),
    }
    if audit.since is not None:
        repo["since"] = audit.since
    return {
        "_type": STATEMENT_TYPE,
        "subject": [
            {"name": "commit", "digest": {"gitCommit": check.commit.sha}},
            {"name": "tree", "digest": {"gitTree": check.commit.tree}},
        ],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "tool": {"name": TOOL_NAME, "version": __version__},
            "repo": repo,
            "policy": policy_json(audit),
            "createdAt": commit_time_utc(check.commit),
            "inputs": {"count": len(check.inputs), "merkleRoot": root, "leaves": leaves},
            "entries": entries,
            "entriesHead": head,
            "result": result,
            "chain": chain_link(previous),
        },
    }
