"""`verify --chain DIR`: reports in order form one chain over time (docs/spec.md §6.4 item 6)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from expflow_git.errors import ExpflowError
from expflow_git.report.verify import Line, ReportError, parse_report

if TYPE_CHECKING:
    from expflow_git.gitstore import Git


def verify_chain(directory: Path, *, git: Git | None) -> list[Line]:
    """One line per link, plus a summary; reports are taken in the order of their seq."""
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix == ".json")
    if not files:
        return [Line("chain", False, f"{directory}: no *.json reports")]
    lines = []
    links = []
    for path in files:
        try:
            envelope, statement = parse_report(path.read_bytes(), source=str(path))
        except ReportError as exc:
            return [Line("chain", False, str(exc))]
        predicate = statement["predicate"]
        links.append(
            (
                path.name,
                hashlib.sha256(envelope.payload).hexdigest(),
                predicate["repo"]["commit"],
                predicate["chain"],
            )
        )
    # In chain order, whatever the file names (r10.json sorts before r2.json).
    links.sort(key=lambda link: link[3]["seq"])
    seqs = [link[3]["seq"] for link in links]
    if len(set(seqs)) != len(seqs):
        dup = next(s for s in seqs if seqs.count(s) > 1)
        return [Line("chain", False, f"fork: two reports have seq {dup}")]
    for (name_a, digest_a, commit_a, chain_a), (name_b, _, commit_b, chain_b) in zip(
        links, links[1:], strict=False
    ):
        prev = chain_b["prev"]
        problem = None
        if chain_b["seq"] != chain_a["seq"] + 1:
            problem = f"seq {chain_b['seq']} does not follow {chain_a['seq']}"
        elif prev is None or prev["payloadSha256"] != digest_a:
            problem = f"does not link to {name_a} (payloadSha256 differs)"
        elif prev["gitCommit"] != commit_a:
            problem = (
                f"names commit {prev['gitCommit'][:12]} as previous, "
                f"{name_a} is about {commit_a[:12]}"
            )
        elif git is None:
            problem = "cannot check commit ancestry without a repository (--repo)"
        else:
            try:
                if not git.is_ancestor(commit_a, commit_b):
                    problem = f"commit {commit_a[:12]} is not an ancestor of {commit_b[:12]}"
            except ExpflowError as exc:
                problem = exc.message
        lines.append(
            Line(
                "chain",
                problem is None,
                f"{name_b}: {problem}" if problem else f"{name_b} follows {name_a}",
            )
        )
    if all(line.ok for line in lines):
        lines.append(Line("chain", True, f"{len(files)} report(s), seq {seqs[0]}..{seqs[-1]}"))
    return lines
