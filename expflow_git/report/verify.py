"""Verify a report (docs/spec.md §6.4): envelope and signatures, then only the verified
bytes are parsed; the entry chain, Merkle root and result; the binding to a
repository; and a byte-for-byte recomputation of the entries.

Each check yields a line; a failed early check stops the ones that depend on it.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from expflow_git.errors import ExpflowError, path_text, printable
from expflow_git.jsonstrict import JsonProblem, parse_json
from expflow_git.report.canonical import as_doubles, canonical_json
from expflow_git.report.dsse import PAYLOAD_TYPE, Envelope, decode_envelope, pae
from expflow_git.report.merkle import leaf_hash, merkle_root
from expflow_git.report.rules import (
    check_attempts,
    check_run_order,
    expected_best_any,
    recompute_ladder,
    recompute_walk,
    sort_keys_of,
    summarize,
)
from expflow_git.report.signing import keyid, verify_signature
from expflow_git.report.statement import entry_hash, genesis_hash, scope_note
from expflow_git.report.trust import TrustedKey, parse_utc
from expflow_git.report.trust import utc as trust_utc
from expflow_git.schemas import Kind, schema_errors

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from expflow_git.gitstore import Git, TreeEntry
    from expflow_git.policy.model import Policy

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
    """What the verifier brings: trusted keys (never from the report) and the repository."""

    trusted: Sequence[TrustedKey] = ()
    public_keys: Sequence[Ed25519PublicKey] = ()  # plain keys, trusted like --public-key
    allow_unsigned: bool = False
    repo: Git | None = None
    ref: str = "HEAD"
    recompute: bool = True
    # How an unsigned report is accepted, said when one is refused: `report` has no
    # --allow-unsigned, and its line told the user to pass it (an attacker's hunt, issue
    # 18 thirty-eighth pass).
    unsigned_hint: str = "pass --allow-unsigned to accept"

    def trusted_keys(self) -> list[TrustedKey]:
        return [*self.trusted, *(TrustedKey(k, keyid(k), "key") for k in self.public_keys)]


@dataclass(frozen=True)
class Verdict:
    """The lines of a verification and the signers it proved (empty unless verified)."""

    lines: list[Line]
    signers: tuple[TrustedKey, ...]

    @property
    def ok(self) -> bool:
        return bool(self.lines) and all(line.ok for line in self.lines)


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
    try:
        canonical = canonical_json(statement)
    except ValueError:
        # RFC 8785's numbers are doubles, and it spells a whole one from 2**53 up to
        # 1e21 as digits: a param of 1e16, a ladder step or released score past 2**53,
        # which the strict reader takes for integers (a signed PASS that verify
        # refused: a review). Such an integer is that double again; the schema keeps
        # every integer field below 2**53, and any other integer is out of range
        # (bigger ones would break the checks' arithmetic: issue 14, seq 10**20).
        statement = as_doubles(statement)
        try:
            canonical = canonical_json(statement)
        except ValueError:
            raise ReportError(
                f"payload {_big_integer(statement)}: integer out of range "
                "(RFC 8785 holds at most 2**53 - 1 in magnitude)"
            ) from None
    if canonical != envelope.payload:
        raise ReportError("payload is not in RFC 8785 canonical form")
    return statement


def _big_integer(value: Any) -> str:
    """The JSON pointer of the first integer beyond what RFC 8785 can hold."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        pointer, item = stack.pop()
        if isinstance(item, dict):
            stack += [
                (f"{pointer}/{k.replace('~', '~0').replace('/', '~1')}", v)
                for k, v in reversed(item.items())
            ]
        elif isinstance(item, list):
            stack += [(f"{pointer}/{i}", v) for i, v in reversed(list(enumerate(item)))]
        elif isinstance(item, int) and not isinstance(item, bool) and abs(item) >= 2**53:
            return printable(pointer)
    return "/"


def check_signatures(data: bytes, *, source: str, options: Options) -> tuple[Envelope | None, bool]:
    """The envelope of `data` (None if it cannot be decoded) and whether its payloadType
    and every signature check out with `options`' keys (an unsigned report only with
    allow_unsigned): what must hold before anything of the payload is read, such as the
    commit it claims (§6.4 item 2). Nothing of the payload is parsed."""
    envelope, line = signature_check(data, source=source, options=options)
    return envelope, line.ok


def signature_check(data: bytes, *, source: str, options: Options) -> tuple[Envelope | None, Line]:
    """As `check_signatures`, with the line that says why: the envelope's (`parse`,
    `envelope`) when it cannot be read or its payloadType is another, else the
    `signature` line `verify` prints. Nothing of the payload is parsed."""
    try:
        envelope = _decode(data, source)
    except ReportError as exc:
        return None, Line("parse", False, str(exc))
    if envelope.payload_type != PAYLOAD_TYPE:
        return envelope, Line(
            "envelope",
            False,
            f"payloadType is {printable(envelope.payload_type)!r}, expected {PAYLOAD_TYPE!r}",
        )
    return envelope, _check_signatures(envelope, options)[0]


def statement_commit(envelope: Envelope, *, source: str) -> str | None:
    """The commit (`predicate.repo.commit`) the statement of an envelope whose signatures
    were checked claims; None when the statement does not parse."""
    try:
        statement = _statement(envelope, source)
    except ReportError:
        return None
    commit = statement["predicate"]["repo"]["commit"]
    return commit if isinstance(commit, str) else None


def verify(data: bytes, *, source: str, options: Options) -> list[Line]:
    """Every check of docs/spec.md §6.4 items 1–5 that applies; passes iff all lines are ok."""
    return verify_report(data, source=source, options=options).lines


def verify_report(data: bytes, *, source: str, options: Options) -> Verdict:
    """As `verify`, with the signers it proved: the trusted keys every signature verified
    with, valid at the commit time. Nothing is proved (no signers) unless all lines pass."""
    lines: list[Line] = []
    signers: list[TrustedKey] = []
    try:
        for line in _checks(data, source, options, signers):
            lines.append(line)
            if not line.ok and line.check in _BLOCKING:
                break
    except ReportError as stop:
        lines.append(Line("parse", False, str(stop)))
    verdict = Verdict(lines, tuple(signers))
    return verdict if verdict.ok else Verdict(lines, ())


_BLOCKING = {"envelope", "signature", "statement", "validity"}


def _checks(
    data: bytes, source: str, options: Options, signers: list[TrustedKey]
) -> Iterator[Line]:
    envelope = _decode(data, source)
    yield _check_envelope(data, envelope)
    line, good = _check_signatures(envelope, options)
    yield line
    try:
        statement = _statement(envelope, source)
    except ReportError as stop:
        yield Line("statement", False, str(stop))
        return
    predicate = statement["predicate"]
    validity, valid = _check_validity(good, predicate["createdAt"])
    if validity is not None:
        yield validity
    signers += valid
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
    return Line("envelope", True, f"DSSE envelope, payloadType {PAYLOAD_TYPE}")


def _check_signatures(envelope: Envelope, options: Options) -> tuple[Line, list[list[TrustedKey]]]:
    """Every signature entry must verify with a trusted key and carry its keyid; the
    trusted keys that verified each entry, one list per entry.

    An entry no trusted key verifies fails the report rather than being skipped: the
    tool writes one signature, so such an entry can only be there to be shown to a
    reader as if someone had signed (issue 14).

    An entry is tried only with the trusted key its keyid names (the tool writes the
    key's `SHA256:` fingerprint, `signing.keyid`, as every trusted key's is computed):
    one whose keyid names none fails untried. Trying every trusted key, each check
    hashing the whole payload, took 64 s for a 70 MB report with one bogus signature
    and 1000 allowed_signers keys (a hunter's find, issue 18 thirty-third pass).
    """
    if not envelope.signatures:
        if options.allow_unsigned:
            return Line("signature", True, "UNSIGNED report, accepted by --allow-unsigned"), []
        return Line("signature", False, f"report is UNSIGNED ({options.unsigned_hint})"), []
    trusted = options.trusted_keys()
    if not trusted:
        if options.allow_unsigned:
            return Line(
                "signature",
                True,
                "signature NOT checked (no trusted key given); "
                "accepted as unsigned by --allow-unsigned",
            ), []
        return Line(
            "signature",
            False,
            "no trusted public key given (--public-key, --allowed-signers or --trusted-ref)",
        ), []
    message = pae(envelope.payload_type, envelope.payload)
    by_keyid: dict[str, list[TrustedKey]] = {}
    for key in trusted:
        by_keyid.setdefault(key.keyid, []).append(key)
    good: list[list[TrustedKey]] = []
    for i, sig in enumerate(envelope.signatures):
        hint = printable(sig.keyid)
        # (One key per keyid: a keyid is the SHA-256 of the key, so the keys listed
        # under it, from a file and an allowed_signers line, are the same key.)
        keys = by_keyid.get(sig.keyid)
        if keys is not None and verify_signature(keys[0].key, sig.sig, message):
            good.append(_shown_once(keys))
            continue
        if keys is not None:
            problem = (
                f"signature {i} by trusted key {hint} is INVALID: the report was changed "
                "after signing (or another key made it)"
            )
        elif len(envelope.signatures) == 1:
            problem = f"no signature from a trusted key (no trusted key with keyid {hint!r})"
        else:
            problem = (
                f"signature {i} does not verify with any trusted key (no trusted key with "
                f"keyid {hint!r}); every signature must"
            )
        return Line("signature", False, problem), []
    # The key, not who holds it: a principal is named only once its validity window is
    # checked against the commit time (the `validity` line, the verdict).
    keyids = ", ".join(dict.fromkeys(printable(k.keyid) for signers in good for k in signers))
    return Line("signature", True, f"valid Ed25519 signature by trusted key {keyids}"), good


def _shown_once(keys: list[TrustedKey]) -> list[TrustedKey]:
    """A key trusted both as a file and as a principal is shown once, by its principal."""
    named = {k.keyid for k in keys if k.principal}
    return [k for k in keys if k.principal or k.keyid not in named]


def _check_validity(
    signatures: Sequence[Sequence[TrustedKey]], created_at: str
) -> tuple[Line | None, list[TrustedKey]]:
    """Keys with a validity window (allowed_signers) must be valid at the commit time,
    for every signature: one signature by a valid key let a second one by a key out of
    its window through (a hunter's find, issue 18 twenty-fourth pass)."""
    keys = [k for sig in signatures for k in sig]
    if all(k.valid_after is None and k.valid_before is None for k in keys):
        return None, keys
    created_at = printable(created_at)
    when = parse_utc(created_at)
    if when is None:
        return Line("validity", False, f"createdAt '{printable(created_at)}' is not a time"), []
    valid = [k for k in keys if k.valid_at(when)]
    for i, sig in enumerate(signatures):
        if not any(k.valid_at(when) for k in sig):
            windows = "; ".join(f"{k.name()}: {k.window()}" for k in sig)
            which = (
                "no signing key" if len(signatures) == 1 else f"signature {i}: no key that made it"
            )
            detail = f"{which} is valid at the commit time {created_at} ({windows})"
            return Line("validity", False, detail), []
    names = ", ".join(dict.fromkeys(k.name() for k in valid))
    return Line("validity", True, f"{names} valid at the commit time {created_at}"), valid


def _check_integrity(predicate: Mapping[str, Any]) -> Iterator[Line]:
    repo, policy, inputs = predicate["repo"], predicate["policy"], predicate["inputs"]
    leaves = inputs["leaves"]
    paths = [leaf["path"].encode("utf-8", "surrogateescape") for leaf in leaves]
    root = merkle_root([leaf_hash(leaf) for leaf in leaves]).hex()
    # Strictly increasing (sorted and unique): one pass, not a sort of every path.
    if not all(a < b for a, b in itertools.pairwise(paths)):
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
    scope = scope_note(result.get("focus"), repo.get("since"))
    ladder_problems, ladder = recompute_ladder(entries, policy["ranking"])
    problems = check_run_order(entries, keys) + recompute_walk(entries) + ladder_problems
    problems += check_attempts(entries)
    expected = summarize(entries, result.get("focus"))
    expected["best_any"] = expected_best_any(entries, keys)
    expected.update(ladder)
    differing = _differing(result, expected)
    if differing:
        problems.append(f"result does not follow from the entries ({', '.join(differing)})")
    yield Line(
        "result",
        not problems,
        "; ".join(problems)
        or f"verdict {result['verdict'].upper()} ({scope}) follows from the entries",
    )


def _differing(result: Mapping[str, Any], expected: Mapping[str, Any]) -> list[str]:
    """The members of `result` whose JSON is not what the entries imply. Compared as
    canonical bytes, not as Python values: `true == 1` and `false == 0` there, so a
    result with `"rank": true` verified (a hunter's find, issue 18 twenty-fourth pass).
    What the entries imply may be no JSON value (a forged report's ladder: 1.7e308 released
    over a step of 1e308 is an infinity; two studies' 2**53 - 1 attempts): it differs from
    whatever the report says, where it was a traceback (a hunter's find, thirty-sixth pass)."""

    def differs(key: str) -> bool:
        said = _json_bytes(result[key])
        return said is None or said != _json_bytes(expected[key])

    return sorted(
        k for k in set(expected) | set(result) if k not in result or k not in expected or differs(k)
    )


def _json_bytes(value: Any) -> bytes | None:
    """`value`'s canonical bytes, or None where JSON holds no such value."""
    try:
        return canonical_json(value)
    except ValueError:  # (rfc8785's domain errors are ValueErrors)
        return None


def _check_repo(predicate: Mapping[str, Any], options: Options) -> Iterator[Line]:
    git = options.repo
    assert git is not None
    repo = predicate["repo"]
    commit_sha = repo["commit"]
    try:
        commit = git.commit_by_id(commit_sha)
    except ExpflowError as exc:
        yield Line("repo", False, exc.message)
        return
    if commit.tree != repo["tree"]:
        yield Line(
            "repo",
            False,
            f"commit {commit_sha[:12]} has tree {commit.tree[:12]}, "
            f"report says {repo['tree'][:12]}",
        )
        return
    from expflow_git.gitstore import EMPTY_TREES, NotACommit

    since = repo.get("since")
    if since is not None and since != EMPTY_TREES.get(len(commit_sha)):
        # A tag's id, which recompute would peel to the commit it tags and agree with.
        try:
            git.commit_by_id(since)
        except NotACommit as exc:
            yield Line("repo", False, f"since: {exc.message}")
            return
        except ExpflowError:  # not in this clone (one commit deep): recompute's to judge
            pass
    if list(commit.parents) != repo["parents"]:  # what the report binds (an attacker's hunt)
        yield Line(
            "repo",
            False,
            f"commit {commit_sha[:12]} has {len(commit.parents)} parent(s), "
            "the report names others",
        )
        return
    created = trust_utc(commit.time)
    if predicate["createdAt"] != created:
        yield Line(
            "repo",
            False,
            f"createdAt {printable(predicate['createdAt'])} is not the commit's time {created}",
        )
        return
    head = git.resolve_trusted(options.ref)
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
    yield _check_blobs(git, predicate, head.sha, options.ref)
    if options.recompute:
        yield _recompute(git, predicate)


def _check_blobs(git: Git, predicate: Mapping[str, Any], head: str, ref_name: str) -> Line:
    from expflow_git.globs import matches_any

    policy_info = predicate["policy"]
    entries = {e.path: e for e in git.ls_tree(predicate["repo"]["commit"])}
    name = _policy_file(git, predicate)
    if "ref" in policy_info:
        judged = _judged_at_ref(git, policy_info, head, ref_name, name)
        if isinstance(judged, Line):
            return judged
        here = entries.get(name)
        blob = (
            here.sha if here is not None and here.type == "blob" and here.mode != "120000" else None
        )
        if blob != policy_info["proposed"]["gitBlob"]:
            return Line("blobs", False, "the commit's own policy blob does not match the report")
    else:
        judged = _judged_blob(git, policy_info, entries.get(name), policy_info["path"])
        if isinstance(judged, Line):
            return judged
    policy = judged
    globs = policy.experiment_globs + policy.result_globs + policy.correction_globs
    at_commit = {
        path_text(p): e.sha  # as the report spells a file name (one to one)
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
    differs = _sha256_differs(git, predicate["inputs"]["leaves"])
    if isinstance(differs, Line):
        return differs
    if differs:
        return Line(
            "blobs",
            False,
            f"sha256 differs: {', '.join(differs[:3])}{' …' if len(differs) > 3 else ''}",
        )
    # Which policy judged, by its path too: a report judged by `--policy lax.yaml` said
    # only "the policy match the commit" (a hunter's note, thirty-seventh pass).
    path = policy_info["path"]  # (escaped where a line is printed)
    where = f"at {policy_info['ref'][:12]}" if "ref" in policy_info else "the commit's own"
    return Line(
        "blobs",
        True,
        f"all {len(leaves)} input blobs and the policy match the commit (policy {path}, {where})",
    )


def _sha256_differs(git: Git, leaves: list[dict[str, Any]]) -> list[str] | Line:
    """The paths whose leaf's `sha256` is not the SHA-256 of its blob, each blob read once
    from one `cat-file` stream and dropped once hashed. Matching git ids alone left the
    leaf's second digest unchecked under `--no-recompute`, while the line said every
    input matched (an attacker's hunt, issue 18 twenty-second pass)."""
    from expflow_git.gitblobs import BlobReader

    by_blob: dict[str, list[dict[str, Any]]] = {}
    for leaf in leaves:
        by_blob.setdefault(leaf["gitBlob"], []).append(leaf)
    differs = []
    try:
        with BlobReader(git) as reader:
            for sha, data in reader.read_many(by_blob):
                digest = hashlib.sha256(data).hexdigest()
                differs += [leaf["path"] for leaf in by_blob[sha] if leaf["sha256"] != digest]
    except ExpflowError as exc:
        return Line("blobs", False, f"an input blob cannot be read: {exc.message}")
    return sorted(differs)


def _judged_blob(
    git: Git, policy_info: Mapping[str, Any], entry: TreeEntry | None, where: str
) -> Policy | Line:
    """The policy the report says judged, read from the repository (never from the
    report), or the failed line when the repository holds no such blob there."""
    from expflow_git.gitblobs import BlobReader
    from expflow_git.policy.load import load_policy_bytes

    if entry is None or entry.sha != policy_info["gitBlob"] or entry.mode == "120000":
        return Line("blobs", False, f"policy blob of {where} does not match")
    with BlobReader(git) as reader:
        data = reader.read(entry.sha)
    if hashlib.sha256(data).hexdigest() != policy_info["sha256"]:
        return Line("blobs", False, "policy sha256 does not match")
    try:
        return load_policy_bytes(data, path=policy_info["path"])
    except ExpflowError as exc:
        return Line("blobs", False, f"the policy that judged is not valid: {exc.message}")


def _judged_at_ref(
    git: Git, policy_info: Mapping[str, Any], head: str, ref_name: str, name: str
) -> Policy | Line:
    """Under --policy-ref the policy must be one the repository's history holds: the
    recorded commit exists, is in the history of REF, and has the recorded blob at the
    recorded path (the file `name`, `_policy_file`). A report cannot name a policy of its
    own choosing."""
    ref = policy_info["ref"]
    try:
        commit = git.commit_by_id(ref)
    except ExpflowError as exc:
        return Line("blobs", False, f"policy ref: {exc.message}")
    if not git.is_ancestor(commit.sha, head):
        return Line("blobs", False, f"policy ref {ref[:12]} is not in the history of {ref_name}")
    path = policy_info["path"]
    parts = path.split("/")
    if "\0" in path or any(part in ("", ".", "..") for part in parts):
        # The report's own string, never a pathspec of its choosing (git refused `/x`
        # and `""` as usage, exit 2, and a NUL was a traceback).
        return Line("blobs", False, f"policy path '{printable(path)}' is not a file's path")
    found = [e for e in git.ls_tree(commit.sha, paths=[name]) if e.path == name]
    return _judged_blob(git, policy_info, found[0] if found else None, f"{path} at {ref[:12]}")


# How `errors.clean` spells a byte of a file name that is not UTF-8 (a surrogate escape).
_CLEANED_BYTE = re.compile(r"\\udc([89a-f][0-9a-f])")


def _policy_file(git: Git, predicate: Mapping[str, Any]) -> str:
    """The name of the file the report's policy `path` spells, one name for every check
    and the audit re-run. The report spells it as `errors.clean` does, a byte that is not
    UTF-8 as the text `\\udcXX`, and `verify --repo` looked that text up as the name:
    the audit's own report of a commit judged by `--policy $'pol\\xff.yaml'` failed its
    blobs and its recompute (an attacker's hunt, issue 18 forty-second pass). Such a
    text may also be a name of its own: the one that holds the recorded blob, where the
    policy was read (its ref, or the commit), is the policy; the text itself otherwise."""
    policy = predicate["policy"]
    text: str = policy["path"]
    undone = _CLEANED_BYTE.sub(lambda m: chr(0xDC00 + int(m[1], 16)), text)
    if undone == text:
        return text
    try:
        listed = git.ls_tree(policy.get("ref") or predicate["repo"]["commit"], paths=[undone])
    except ExpflowError:  # (no such commit: the checks that read it say so)
        return text
    held = any(e.path == undone and e.sha == policy["gitBlob"] for e in listed)
    return undone if held else text


def _recompute(git: Git, predicate: Mapping[str, Any]) -> Line:
    from expflow_git.audit.pipeline import run_audit
    from expflow_git.report.encode import build_statement

    result = predicate["result"]
    try:
        audit = run_audit(
            git,
            predicate["repo"]["commit"],
            policy_path=_policy_file(git, predicate),
            # The policy the report names, read again from the repository (_check_blobs
            # holds it to the recorded blob).
            policy_ref=predicate["policy"].get("ref"),
            experiment=result.get("focus"),
            since=predicate["repo"].get("since"),
            use_cache=False,  # a poisoned cache must not make a forged report recompute
        )
    except ExpflowError as exc:
        return Line("recompute", False, f"re-running the audit failed: {exc.message}")
    fresh = build_statement(audit)["predicate"]
    same = all(
        canonical_json(fresh[k]) == canonical_json(predicate[k])
        for k in ("entries", "entriesHead", "inputs", "result", "policy")
    )
    return Line(
        "recompute",
        same,
        "re-running the audit gives byte-identical entries"
        if same
        else "re-running the audit at the commit gives different entries",
    )
