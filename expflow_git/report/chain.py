"""`verify --chain DIR`: reports in order form one chain over time (docs/spec.md §6.4 item 6).

What a verified chain means (issue 14):
- every `*.json` in DIR is a report that verifies on its own, with the same trusted
  keys and options as REPORT (an unsigned link fails unless --allow-unsigned);
- taken in the order of their `chain.seq`, the first is a chain's first report (seq
  0, no previous) and each later one names the one before it (seq + 1, the SHA-256 of
  its payload, its commit, and that commit is an ancestor of its own);
- REPORT belongs to the chain: its payload is one of the links', or it follows the
  last link (the head) exactly as a link follows the one before it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from expflow_git.errors import ExpflowError, printable
from expflow_git.report.verify import (
    MAX_REPORT_BYTES,
    Line,
    Options,
    ReportError,
    check_signatures,
    parse_report,
    statement_commit,
    verify,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from expflow_git.gitstore import Git
    from expflow_git.report.trust import TrustedKey


# The checks that fail before the payload is verified (the envelope cannot be read, is
# not canonical, or a signature does not check out): such a link is never parsed.
_UNREAD = frozenset({"parse", "envelope", "signature"})


@dataclass(frozen=True)
class _Link:
    name: str
    digest: str  # SHA-256 of the payload, as a later report's `chain.prev` names it
    commit: str
    chain: dict[str, Any]


def verify_chain(
    directory: Path,
    *,
    report: bytes,
    options: Options,
    git: Git | None,
    held: Callable[[str], list[TrustedKey]] | None = None,
) -> list[Line]:
    """One line per link, REPORT's membership, and a summary; reports are taken in the
    order of their seq. `options` are REPORT's (its keys check every link, but those
    `held` names for a link's commit: keys from --trusted-ref, trust.ref_holds); `git`
    answers ancestry."""
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix == ".json")
    if not files:
        return [Line("chain", False, f"{printable(str(directory))}: no *.json reports")]
    # A link's repository binding is checked, but it is not audited again.
    link_options = dataclasses.replace(options, recompute=False)
    links, failed = [], []
    unread = False
    for path in files:
        name = printable(path.name)
        try:
            with path.open("rb") as fh:  # (read only up to the cap, as REPORT is)
                data = fh.read(MAX_REPORT_BYTES + 1)
        except OSError as exc:
            return [Line("chain", False, f"{name}: cannot read: {exc.strerror}")]
        if len(data) > MAX_REPORT_BYTES:
            return [
                Line(
                    "chain",
                    False,
                    f"{name}: over {MAX_REPORT_BYTES >> 20} MiB, larger than any report",
                )
            ]
        these, why = link_options, ""
        if held is not None:
            # The commit a link claims is read only from a payload one of the candidate
            # keys verified (§6.4 item 2): every link's was parsed first, an unsigned 80
            # MB one included (73 s, 9.5 GB; a hunter's find, issue 18 thirty-first pass).
            envelope, signed = check_signatures(data, source=name, options=link_options)
            commit = statement_commit(envelope, source=name) if envelope and signed else None
            if commit is not None and (dropped := held(commit)):
                trusted = [k for k in link_options.trusted if k not in dropped]
                these = dataclasses.replace(link_options, trusted=trusted)
                why = (
                    f"; keys read at --trusted-ref that came at or after its commit "
                    f"({printable(commit[:12])}) are not trusted for it"
                )
        bad = next((ln for ln in verify(data, source=name, options=these) if not ln.ok), None)
        if bad is not None:
            said = why if bad.check == "signature" else ""
            failed.append(Line("chain", False, f"{name}: {bad.check}: {bad.detail}{said}"))
            if bad.check in _UNREAD:
                # Its payload was not verified, so it is not parsed: its line says why,
                # and the chain is not followed through it.
                unread = True
                continue
        try:
            links.append(_link(name, data))
        except ReportError:
            return failed  # unreadable: its own line says why, and nothing links to it
    if unread:
        return failed
    # In chain order, whatever the file names (r10.json sorts before r2.json).
    links.sort(key=lambda link: link.chain["seq"])
    seqs = [link.chain["seq"] for link in links]
    if len(set(seqs)) != len(seqs):
        dup = next(a for a, b in itertools.pairwise(seqs) if a == b)  # (sorted: side by side)
        return [*failed, Line("chain", False, f"fork: two reports have seq {dup}")]
    first = links[0]
    if first.chain["seq"] != 0 or first.chain["prev"] is not None:
        # (seq 0 naming a previous report said "has seq 0, not 0": a hunter's find,
        # issue 18 thirty-ninth pass)
        why = (
            f"has seq {first.chain['seq']}, not 0"
            if first.chain["seq"] != 0
            else "(seq 0) names a previous report"
        )
        return [
            *failed,
            Line(
                "chain",
                False,
                f"{first.name}: the first report {why} (the chain's earlier reports are missing)",
            ),
        ]
    lines = failed
    for before, after in zip(links, links[1:], strict=False):
        problem = _follows(before, after, git)
        lines.append(
            Line(
                "chain",
                problem is None,
                f"{after.name}: {problem}" if problem else f"{after.name} follows {before.name}",
            )
        )
    lines.append(_membership(report, links, git, options))
    if all(line.ok for line in lines):
        lines.append(
            Line(
                "chain",
                True,
                f"{len(files)} report(s), seq {seqs[0]}..{seqs[-1]}, each one verified",
            )
        )
    return lines


def _link(name: str, data: bytes) -> _Link:
    envelope, statement = parse_report(data, source=name)
    predicate = statement["predicate"]
    return _Link(
        name,
        hashlib.sha256(envelope.payload).hexdigest(),
        predicate["repo"]["commit"],
        predicate["chain"],
    )


def _follows(before: _Link, after: _Link, git: Git | None) -> str | None:
    """Why `after` does not follow `before` directly, or None if it does."""
    prev = after.chain["prev"]
    if after.chain["seq"] != before.chain["seq"] + 1:
        return f"seq {after.chain['seq']} does not follow {before.chain['seq']}"
    if prev is None or prev["payloadSha256"] != before.digest:
        return f"does not link to {before.name} (payloadSha256 differs)"
    if prev["gitCommit"] != before.commit:
        return (
            f"names commit {prev['gitCommit'][:12]} as previous, "
            f"{before.name} is about {before.commit[:12]}"
        )
    if git is None:
        return "cannot check commit ancestry without a repository (--repo)"
    try:
        for link in (before, after):  # (git peels a tag's id: it names no commit here)
            git.commit_by_id(link.commit)
        if not git.is_ancestor(before.commit, after.commit):
            return f"commit {before.commit[:12]} is not an ancestor of {after.commit[:12]}"
    except ExpflowError as exc:
        return exc.message
    return None


def _membership(report: bytes, links: list[_Link], git: Git | None, options: Options) -> Line:
    """REPORT is one of the links, or follows the head of the chain; REPORT is read for it
    only once its signatures check out (its own lines say what failed)."""
    if not check_signatures(report, source="REPORT", options=options)[1]:
        return Line("chain", False, "REPORT is not verified, so it is not placed in the chain")
    try:
        own = _link("REPORT", report)
    except ReportError as exc:
        return Line("chain", False, f"REPORT cannot be read: {exc}")
    head = links[-1]
    same = next((link for link in links if link.digest == own.digest), None)
    if same is not None:
        where = "the chain's head" if same is head else f"seq {same.chain['seq']}"
        return Line("chain", True, f"REPORT is {same.name} ({where})")
    problem = _follows(head, own, git)
    if problem is None:
        return Line("chain", True, f"REPORT follows the chain's head {head.name}")
    return Line(
        "chain",
        False,
        f"REPORT is not in the chain and does not follow its head {head.name}: {problem}",
    )
