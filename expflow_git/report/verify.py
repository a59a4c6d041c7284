"""Verify a report (SPEC §6.4): envelope and signatures, then only the verified
bytes are parsed; the entry chain, Merkle root and result; the binding to a
repository; and a byte-for-byte recomputation of the entries.

Each check yields a line; a failed early check stops the ones that depend on it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from expflow_git.errors import ExpflowError, clean
from expflow_git.jsonstrict import JsonProblem, parse_json
from expflow_git.report.canonical import canonical_json
from expflow_git.report.dsse import PAYLOAD_TYPE, Envelope, decode_envelope, pae
from expflow_git.report.merkle import leaf_hash, merkle_root
from expflow_git.report.signing import keyid, verify_signature
from expflow_git.report.statement import (
    check_run_order,
    entry_hash,
    expected_best_any,
    genesis_hash,
    recompute_walk,
    sort_keys_of,
    summarize,
)
from expflow_git.schemas import Kind, schema_errors

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from expflow_git.gitstore import Git

MAX_REPORT_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class Line:
    """One verdict line: which check, whether it passed, and what it found."""

    check: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.check}: {self.detail}"


@dataclass(frozen=True)
class Options:
    public_keys: Sequence[Ed25519PublicKey] = ()
    allow_unsigned: bool = False
    repo: Git | None = None
    ref: str = "HEAD"
    recompute: bool = True


class ReportError(Exception):
    """The report cannot be read far enough for the remaining checks."""


def parse_report(data: bytes, *, source: str) -> tuple[Envelope, dict[str, Any]]:
    """Decode a report without judging signatures (for `report` rendering after verify)."""
    envelope = _decode(data, source)
    return envelope, _statement(envelope, source)


def _decode(data: bytes, source: str) -> Envelope:
    try:
        raw = parse_json(data, max_bytes=MAX_REPORT_BYTES)
    except JsonProblem as exc:
        where = f" at {exc.pointer}" if exc.pointer else ""
        raise ReportError(f"{source}: not a report envelope: {exc.message}{where}") from None
    try:
        return decode_envelope(raw, source=source)
    except ExpflowError as exc:
        raise ReportError(exc.message) from None


def _statement(envelope: Envelope, source: str) -> dict[str, Any]:
    try:
        statement = parse_json(envelope.payload, max_bytes=MAX_REPORT_BYTES)
    except JsonProblem as exc:
        raise ReportError(f"{source}: payload is not strict JSON: {exc.message}") from None
    for pointer, message in schema_errors(Kind.REPORT, statement):
        raise ReportError(f"payload {pointer or '/'}: {message}")
    if canonical_json(statement) != envelope.payload:
        raise ReportError("payload is not in RFC 8785 canonical form")
    return statement


def verify(data: bytes, *, source: str, options: Options) -> list[Line]:
    """Every check of SPEC §6.4 items 1–5 that applies; the report passes iff all lines are ok."""
    lines: list[Line] = []
    try:
        for line in _checks(data, source, options):
            lines.append(line)
            if not line.ok and line.check in _BLOCKING:
                break
    except ReportError as stop:
        lines.append(Line("parse", False, str(stop)))
    return lines


_BLOCKING = {"envelope", "signature", "statement"}


def _checks(data: bytes, source: str, options: Options) -> Iterator[Line]:
    envelope = _decode(data, source)
    yield _check_envelope(data, envelope)
    yield _check_signatures(envelope, options)
    try:
        statement = _statement(envelope, source)
    except ReportError as stop:
        yield Line("statement", False, str(stop))
        return
    predicate = statement["predicate"]
    subject_ok = (
        statement["subject"][0]["digest"]["gitCommit"] == predicate["repo"]["commit"]
        and statement["subject"][1]["digest"]["gitTree"] == predicate["repo"]["tree"]
    )
    yield Line(
        "statement",
        subject_ok,
        "in-toto Statement v1, predicate schema valid, subject matches the predicate"
        if subject_ok
        else "subject digest does not match predicate.repo (commit/tree)",
    )
    yield from _check_integrity(predicate)
    if options.repo is not None:
        yield from _check_repo(predicate, options)


def _canonical_b64(strings: list[str]) -> bool:
    """Every base64 string of the envelope in one canonical spelling: all standard and
    padded, or all URL-safe and either all padded or all unpadded.

    Accepting any spelling per string would let a byte of the file change while its
    meaning stays (a lone `+` in a signature re-spelled `-`), and SPEC §6.4 says any
    changed byte must fail.
    """
    urlsafe = any("-" in t or "_" in t for t in strings)
    if urlsafe and any("+" in t or "/" in t for t in strings):
        return False
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    padded = unpadded = False
    for text in strings:
        try:
            raw = (
                base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
                if urlsafe
                else base64.b64decode(text, validate=True)
            )
        except (binascii.Error, ValueError):
            return False
        canonical = encode(raw).decode()
        if text == canonical:
            padded = padded or canonical.endswith("=")
        elif urlsafe and text == canonical.rstrip("="):
            unpadded = True
        else:
            return False
    return not (padded and unpadded)


def _check_envelope(data: bytes, envelope: Envelope) -> Line:
    if envelope.payload_type != PAYLOAD_TYPE:
        return Line(
            "envelope",
            False,
            f"payloadType is {envelope.payload_type!r}, expected {PAYLOAD_TYPE!r}",
        )
    raw = parse_json(data, max_bytes=MAX_REPORT_BYTES)
    if canonical_json(raw) + b"\n" != data:
        return Line(
            "envelope",
            False,
            "envelope is not in canonical form (whitespace, key order, escapes or the "
            "final newline were changed)",
        )
    strings = [raw["payload"]] + [s["sig"] for s in raw["signatures"]]
    if not _canonical_b64(strings):
        return Line(
            "envelope", False, "base64 is not in canonical form (padding or alphabet was changed)"
        )
    return Line("envelope", True, f"DSSE envelope, payloadType {PAYLOAD_TYPE}")


def _check_signatures(envelope: Envelope, options: Options) -> Line:
    if not envelope.signatures:
        if options.allow_unsigned:
            return Line("signature", True, "UNSIGNED report, accepted by --allow-unsigned")
        return Line("signature", False, "report is UNSIGNED (pass --allow-unsigned to accept)")
    if not options.public_keys:
        if options.allow_unsigned:
            return Line(
                "signature",
                True,
                "signature NOT checked (no trusted key given); "
                "accepted as unsigned by --allow-unsigned",
            )
        return Line(
            "signature", False, "no trusted public key given (--public-key or --trusted-ref)"
        )
    message = pae(envelope.payload_type, envelope.payload)
    trusted = {keyid(k): k for k in options.public_keys}
    good = []
    for i, sig in enumerate(envelope.signatures):
        verified_by = [
            kid for kid, key in trusted.items() if verify_signature(key, sig.sig, message)
        ]
        if verified_by:
            if sig.keyid not in verified_by:
                return Line(
                    "signature",
                    False,
                    f"signature {i}: keyid {sig.keyid!r} does not "
                    f"match the key that made it ({verified_by[0]})",
                )
            good.append(verified_by[0])
        elif sig.keyid in trusted:
            return Line(
                "signature",
                False,
                f"signature {i} by trusted key {sig.keyid} is "
                "INVALID: the report was changed after signing",
            )
    if not good:
        return Line(
            "signature",
            False,
            "no signature from a trusted key "
            f"(signed by {', '.join(s.keyid for s in envelope.signatures)})",
        )
    return Line("signature", True, f"valid Ed25519 signature by trusted key {good[0]}")


def _check_integrity(predicate: Mapping[str, Any]) -> Iterator[Line]:
    repo, policy, inputs = predicate["repo"], predicate["policy"], predicate["inputs"]
    leaves = inputs["leaves"]
    paths = [leaf["path"].encode("utf-8", "surrogateescape") for leaf in leaves]
    root = merkle_root([leaf_hash(leaf) for leaf in leaves]).hex()
    if paths != sorted(set(paths)):
        yield Line("inputs", False, "input leaves are not sorted by path or not unique")
    elif inputs["count"] != len(leaves) or root != inputs["merkleRoot"]:
        yield Line(
            "inputs",
            False,
            f"Merkle root/count mismatch: leaves give {root[:16]}… "
            f"({len(leaves)}), report says {inputs['merkleRoot'][:16]}… ({inputs['count']})",
        )
    else:
        yield Line("inputs", True, f"{len(leaves)} input(s), Merkle root {root[:16]}…")

    entries = predicate["entries"]
    prev = genesis_hash(repo["commit"], policy["gitBlob"], inputs["merkleRoot"])
    broken = None
    for i, entry in enumerate(entries):
        if entry["seq"] != i:
            broken = f"entry {i}: seq is {entry['seq']}"
        elif entry["prev"] != prev:
            broken = f"entry {i}: prev does not link to the previous entry"
        elif entry["hash"] != entry_hash(entry):
            broken = f"entry {i}: hash does not match its content"
        if broken:
            break
        prev = entry["hash"]
    head = predicate["entriesHead"]
    if broken is None and (head["count"] != len(entries) or head["hash"] != prev):
        broken = "entriesHead does not match the last entry"
    yield Line("entries", broken is None, broken or f"{len(entries)} entries, chain intact")

    keys = sort_keys_of(policy["ranking"])
    result = predicate["result"]
    problems = check_run_order(entries, keys) + recompute_walk(entries)
    expected = summarize(entries, result.get("focus") if isinstance(result, dict) else None)
    expected["best_any"] = expected_best_any(entries, keys)
    if result != expected:
        differing = sorted(
            k for k in set(expected) | set(result) if expected.get(k) != result.get(k)
        )
        problems.append(f"result does not follow from the entries ({', '.join(differing)})")
    yield Line(
        "result",
        not problems,
        "; ".join(problems) or f"verdict {result['verdict'].upper()} follows from the entries",
    )


def _check_repo(predicate: Mapping[str, Any], options: Options) -> Iterator[Line]:
    git = options.repo
    assert git is not None
    repo = predicate["repo"]
    commit_sha = repo["commit"]
    try:
        commit = git.resolve_commit(commit_sha)
    except ExpflowError:
        yield Line("repo", False, f"commit {commit_sha} is not in this repository")
        return
    if commit.tree != repo["tree"]:
        yield Line(
            "repo",
            False,
            f"commit {commit_sha[:12]} has tree {commit.tree[:12]}, "
            f"report says {repo['tree'][:12]}",
        )
        return
    head = git.resolve_commit(options.ref)
    if not git.is_ancestor(commit.sha, head.sha):
        yield Line(
            "repo",
            False,
            f"commit {commit_sha[:12]} is not in the history of "
            f"{options.ref} (was history rewritten?)",
        )
        return
    yield Line(
        "repo",
        True,
        f"commit {commit_sha[:12]} exists, tree matches, in the history of {options.ref}",
    )
    yield _check_blobs(git, predicate)
    if options.recompute:
        yield _recompute(git, predicate)


def _check_blobs(git: Git, predicate: Mapping[str, Any]) -> Line:
    from expflow_git.gitstore import BlobReader
    from expflow_git.globs import matches_any
    from expflow_git.policy import load_policy_bytes

    policy_info = predicate["policy"]
    entries = {e.path: e for e in git.ls_tree(predicate["repo"]["commit"])}
    policy_entry = entries.get(policy_info["path"])
    if policy_entry is None or policy_entry.sha != policy_info["gitBlob"]:
        return Line("blobs", False, f"policy blob of {policy_info['path']} does not match")
    with BlobReader(git) as reader:
        data = reader.read(policy_entry.sha)
    if hashlib.sha256(data).hexdigest() != policy_info["sha256"]:
        return Line("blobs", False, "policy sha256 does not match")
    policy = load_policy_bytes(data, path=policy_info["path"])
    globs = policy.experiment_globs + policy.result_globs + policy.correction_globs
    at_commit = {
        clean(p): e.sha  # as the report spells a file name that is not UTF-8
        for p, e in entries.items()
        if e.type == "blob" and e.mode != "120000" and matches_any(p, globs)
    }
    leaves = {leaf["path"]: leaf["gitBlob"] for leaf in predicate["inputs"]["leaves"]}
    missing = sorted(set(at_commit) - set(leaves))
    extra = sorted(set(leaves) - set(at_commit))
    changed = sorted(p for p in set(leaves) & set(at_commit) if leaves[p] != at_commit[p])
    if missing or extra or changed:
        parts = [
            f"{what}: {', '.join(ps[:3])}{' …' if len(ps) > 3 else ''}"
            for what, ps in (
                ("left out", missing),
                ("not at the commit", extra),
                ("blob differs", changed),
            )
            if ps
        ]
        return Line("blobs", False, "; ".join(parts))
    return Line("blobs", True, f"all {len(leaves)} input blobs and the policy match the commit")


def _recompute(git: Git, predicate: Mapping[str, Any]) -> Line:
    from expflow_git.audit import run_audit
    from expflow_git.report.statement import build_statement

    result = predicate["result"]
    try:
        audit = run_audit(
            git,
            predicate["repo"]["commit"],
            policy_path=predicate["policy"]["path"],
            experiment=result.get("focus"),
            since=predicate["repo"].get("since"),
            use_cache=False,  # a poisoned cache must not make a forged report recompute
        )
    except ExpflowError as exc:
        return Line("recompute", False, f"re-running the audit failed: {exc.message}")
    fresh = build_statement(audit)["predicate"]
    same = all(
        canonical_json(fresh[k]) == canonical_json(predicate[k])
        for k in ("entries", "entriesHead", "inputs", "result")
    )
    return Line(
        "recompute",
        same,
        "re-running the audit gives byte-identical entries"
        if same
        else "re-running the audit at the commit gives different entries",
    )
