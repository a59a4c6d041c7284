"""The in-toto Statement of an audit (docs/spec.md §6.3): subjects, inputs with their
Merkle root, the hash-chained entries, and a `result` that is derived from the
entries by the same function the verifier uses — so the two cannot drift."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import tempfile
from binascii import hexlify
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, BinaryIO

from expflow_git import TOOL_NAME, __version__
from expflow_git.audit import Audit, InputLeaf, commit_time_utc, verdict_passes
from expflow_git.checks import Outcome
from expflow_git.errors import Finding, clean
from expflow_git.ranking import RankedRun, best_any, order_key, pearson
from expflow_git.report.canonical import canonical_json, jcs_numbers, jcs_string, json_number
from expflow_git.report.dsse import PAYLOAD_TYPE, Signature, pae
from expflow_git.report.merkle import MerkleTree, leaf_hash, leaf_hash_of_canonical, merkle_root
from expflow_git.report.signing import keyid, sign

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "urn:expflow-git:audit-report:v1"
ENTRY_DOMAIN = b"expflow-entry-v1\0"
GENESIS_DOMAIN = b"expflow-genesis-v1\0"

if TYPE_CHECKING:
    from expflow_git.report.signing import SigningKey

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


# What `result` needs of an entry (see _Tally.add): its type, and a run's id, rank and
# feasibility; the walk-forward entry whole.
Summary = Json
# An entry ready to be chained: given its (seq, prev), the canonical members that
# sort before "hash" and after it, and its summary.
Piece = Callable[[int, str], tuple[bytes, bytes, Summary]]


def _generic_piece(body: Json) -> Piece:
    def encode(seq: int, prev: str) -> tuple[bytes, bytes, Summary]:
        entry = {"seq": seq, "prev": prev, **body}
        before = canonical_json({k: v for k, v in entry.items() if k < "hash"})[1:-1]
        after = canonical_json({k: v for k, v in entry.items() if k > "hash"})[1:-1]
        return before, after, entry

    return encode


def _linked(pieces: Iterable[Piece], genesis: str) -> Iterator[tuple[bytes, Summary, str]]:
    """Each entry's canonical bytes with its hash, its summary and its hash.

    JCS writes members in key order, so the members before and after "hash" are
    encoded once and joined with and without the hash member.
    """
    prev = genesis
    for seq, piece in enumerate(pieces):
        before, after, summary = piece(seq, prev)
        bare = b"{" + b",".join(part for part in (before, after) if part) + b"}"
        prev = hashlib.sha256(ENTRY_DOMAIN + bare).hexdigest()
        member = b'"hash":"' + prev.encode() + b'"'
        yield b"{" + b",".join(p for p in (before, member, after) if p) + b"}", summary, prev


def chain(bodies: Sequence[Json], genesis: str) -> list[Json]:
    """Give each entry its `seq`, `prev` and `hash`."""
    return list(iter_chain(bodies, genesis))


def inputs_root(leaves: Sequence[Mapping[str, str]]) -> str:
    return merkle_root([leaf_hash(leaf) for leaf in leaves]).hex()


def finding_entry(f: Finding) -> Json:
    entry: Json = {"type": "finding", "rule": f.rule, "path": clean(f.path)}
    if f.pointer:
        entry["pointer"] = clean(f.pointer)
    if f.line is not None:
        entry["line"] = f.line
    if f.col is not None:
        entry["col"] = f.col
    entry["message"] = clean(f.message)
    return entry


def run_entries(audit: Audit) -> Iterator[Json]:
    """The run entries as values (the report itself is encoded by `_run_piece`)."""
    for ranked in audit.board.runs:
        v = ranked.verdict
        entry: Json = {
            "type": "run",
            "id": v.id,
            "study": v.study,
            "path": clean(v.path),
            "metrics": {k: json_number(x) for k, x in sorted(v.metrics.items())},
        }
        if v.splits:
            entry["splits"] = {
                k: {name: json_number(x) for name, x in sorted(m.items())}
                for k, m in sorted(v.splits.items())
            }
        entry["checks"] = [_outcome_json(o) for o in v.outcomes]
        entry["feasible"] = v.feasible
        entry["rank"] = ranked.rank
        yield entry


def _outcome_json(o: Outcome) -> Json:
    return {"kind": o.kind.value, "name": o.name, "passed": o.passed, "detail": clean(o.detail)}


# Encoded passed checks by identity (they are shared values: see checks.passed), and a
# feasible run's whole "checks" member by the identities of its checks; each kept with
# its outcome(s), so that no identity is reused while the bytes are known.
Known = dict[int | tuple[object, ...], tuple[Outcome | tuple[Outcome, ...], bytes]]


def _outcome_bytes(o: Outcome, known: Known) -> bytes:
    """A check's canonical bytes; a passed check is encoded once per report."""
    hit = known.get(id(o)) if o.passed else None
    if hit is not None:
        return hit[1]
    encoded = canonical_json(_outcome_json(o))
    if o.passed:
        known[id(o)] = (o, encoded)
    return encoded


def _run_piece(ranked: RankedRun, known: Known) -> Piece:
    """A run entry encoded straight to canonical bytes: the same bytes as
    `canonical_json` of its `run_entries` value, at a fraction of the cost."""
    v = ranked.verdict
    feasible = v.feasible
    # A feasible run's checks are all shared passed values (checks.passed): most runs of
    # a report have the same ones, encoded once.
    same = ("checks", *map(id, v.outcomes)) if feasible else None
    hit = known.get(same) if same is not None else None
    if hit is not None:
        before = hit[1]
    else:
        before = (
            b'"checks":['
            + b",".join(_outcome_bytes(o, known) for o in v.outcomes)
            + (b'],"feasible":true' if feasible else b'],"feasible":false')
        )
        if same is not None:
            known[same] = (v.outcomes, before)
    # The spellings a cache record kept: the metrics', then each split's in name order.
    spelled = v.spelled.split(";") if v.spelled is not None else None
    if spelled is not None and len(spelled) != 1 + len(v.splits):
        spelled = None
    head = (
        b'"id":'
        + jcs_string(v.id)
        + b',"metrics":'
        + jcs_numbers(v.metrics, spelled[0] if spelled else None)
        + b',"path":'
        + jcs_string(clean(v.path))
        + b',"prev":"'
    )
    rank = b"null" if ranked.rank is None else str(ranked.rank).encode()
    splits = b""
    if v.splits:
        names = sorted(v.splits)
        if all(name.isascii() for name in names):
            splits = b",".join(
                jcs_string(n) + b":" + jcs_numbers(v.splits[n], spelled[i] if spelled else None)
                for i, n in enumerate(names, 1)
            )
            splits = b',"splits":{' + splits + b"}"
        else:  # JCS orders keys by UTF-16 units: let the reference sort
            splits = b',"splits":' + canonical_json(
                {n: {k: json_number(x) for k, x in m.items()} for n, m in v.splits.items()}
            )
    tail = splits + b',"study":' + jcs_string(v.study) + b',"type":"run"'
    summary: Summary = {"type": "run", "id": v.id, "rank": ranked.rank, "feasible": feasible}

    def encode(seq: int, prev: str) -> tuple[bytes, bytes, Summary]:
        after = head + prev.encode() + b'","rank":' + rank + b',"seq":' + str(seq).encode() + tail
        return before, after, summary

    return encode


def leaf_bytes(leaf: InputLeaf) -> bytes:
    """An input leaf's canonical bytes (`canonical_json(leaf.as_json())`)."""
    path = leaf.path if leaf.path.isascii() else clean(leaf.path)
    return b'{"gitBlob":"%s","path":%s,"sha256":"%s"}' % (
        hexlify(leaf.digests[32:]),
        jcs_string(path),
        hexlify(leaf.digests[:32]),
    )


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


def ranking_config(audit: Audit) -> Json:
    policy = audit.check.policy
    return {
        "sortBy": policy.ranking.sort_by,
        "descending": policy.ranking.descending,
        "tieBreak": [
            {"metric": t, "descending": policy.metrics[t].higher_is_better}
            for t in policy.ranking.tie_break
        ],
    }


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


def sort_keys_of(config: Mapping[str, Any]) -> list[tuple[str, bool]]:
    return [(config["sortBy"], config["descending"])] + [
        (t["metric"], t["descending"]) for t in config["tieBreak"]
    ]


def summarize(entries: Sequence[Mapping[str, Any]], focus: str | None) -> Json:
    """The `result` the entries imply: verdict, counts, best runs, ranking, walk-forward."""
    ranking: list[Json] = []
    tally = _Tally(
        focus,
        lambda run_id, rank, feasible: ranking.append(
            {"id": run_id, "rank": rank, "feasible": feasible}
        ),
    )
    for entry in entries:
        tally.add(entry)
    return tally.result(ranking)


class _Tally:
    """What `result` says of a report's entries, gathered one entry at a time (the
    encoder's and the verifier's one way to it). Each run's ranking item goes to
    `ranking_item(id, rank, feasible)`: the encoder writes its canonical bytes, as
    100k dicts would be the largest thing built while a report is encoded."""

    def __init__(self, focus: str | None, ranking_item: Callable[[Any, Any, Any], object]):
        self.focus = focus
        self.ranking_item = ranking_item
        self.findings = self.runs = self.feasible = self.ranked = 0
        self.best_feasible: Any = None
        self.focus_feasible = False
        self.walk: Mapping[str, Any] | None = None

    def add(self, entry: Mapping[str, Any]) -> None:
        """One entry (or what the encoder keeps of it: type, and id/rank/feasible)."""
        kind = entry["type"]
        if kind == "finding":
            self.findings += 1
        elif kind == "run":
            run_id, rank, feasible = entry["id"], entry["rank"], entry["feasible"]
            self.ranking_item(run_id, rank, feasible)
            self.runs += 1
            self.feasible += 1 if feasible else 0
            if rank is not None:
                if not self.ranked:
                    self.best_feasible = run_id
                self.ranked += 1
            self.focus_feasible = self.focus_feasible or bool(run_id == self.focus and feasible)
        elif kind == "walk-forward" and self.walk is None:
            self.walk = entry

    def result(self, ranking: object) -> Json:
        walk = self.walk
        passed = verdict_passes(
            findings=self.findings,
            feasible_runs=self.feasible,
            focus_feasible=self.focus_feasible,
            walk_passed=None if walk is None else walk["status"] == "pass",
            focus=self.focus,
        )
        return {
            "verdict": "pass" if passed else "fail",
            "focus": self.focus,
            "counts": {
                "findings": self.findings,
                "runs": self.runs,
                "feasible": self.feasible,
                "ranked": self.ranked,
            },
            "ranking": ranking,
            "best_feasible": self.best_feasible,
            "walkForward": None
            if walk is None
            else {"status": walk["status"], "r": walk["r"], "n": walk["n"]},
        }


def expected_best_any(
    entries: Sequence[Mapping[str, Any]], keys: list[tuple[str, bool]]
) -> str | None:
    runs = [(e["id"], e["metrics"]) for e in entries if e["type"] == "run"]
    return best_any(runs, keys)


def check_run_order(
    entries: Sequence[Mapping[str, Any]], keys: list[tuple[str, bool]]
) -> list[str]:
    """Problems with the run entries' order, ranks and feasibility (empty when consistent)."""
    problems = []
    runs = [e for e in entries if e["type"] == "run"]
    for r in runs:
        if r["feasible"] != all(c["passed"] for c in r["checks"]):
            problems.append(f"run {r['id']!r}: 'feasible' contradicts its checks")
    want = sorted(runs, key=lambda r: order_key(r["metrics"], r["id"], r["feasible"], keys))
    if [r["id"] for r in want] != [r["id"] for r in runs]:
        problems.append("run entries are not in ranking order")
    next_rank = 1
    for r in runs:
        rankable = r["feasible"] and keys[0][0] in r["metrics"]
        expected = next_rank if rankable else None
        next_rank += 1 if rankable else 0
        if r["rank"] != expected:
            problems.append(f"run {r['id']!r}: rank {r['rank']} should be {expected}")
    return problems


def recompute_walk(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """Problems with the walk-forward entry (its points and r from the ranked runs)."""
    walks = [e for e in entries if e["type"] == "walk-forward"]
    if not walks:
        return []
    w = walks[0]
    ranked = [e for e in entries if e["type"] == "run" and e["rank"] is not None][: w["topN"]]
    points = [
        [e["id"], e["metrics"][w["metric"]], e["splits"][w["split"]][w["metric"]]]
        for e in ranked
        if w["metric"] in e["metrics"] and w["metric"] in e.get("splits", {}).get(w["split"], {})
    ]
    problems = []
    if points != w["points"] or w["n"] != len(points):
        problems.append("walk-forward points do not match the ranked runs")
    r = pearson([p[1] for p in points], [p[2] for p in points]) if len(points) >= 3 else None
    status = "insufficient" if r is None else ("pass" if r >= w["minPearson"] else "fail")
    if w["r"] != r or w["status"] != status:
        problems.append(f"walk-forward r/status should be {r}/{status}")
    return problems


_ENTRIES = "\x00expflow-entries\x00"  # placeholders the real arrays are spliced in for
_LEAVES = "\x00expflow-leaves\x00"
_RANKING = "\x00expflow-ranking\x00"
_PAE_ROOM = 64  # bytes kept free before the payload for DSSE's PAE header
_B64_CHUNK = 3 * 1024 * 1024  # a multiple of 3: chunked base64 equals the whole encoding


@dataclass
class Report:
    """A built report. The payload sits in one buffer after room for the PAE header,
    so it is signed and written without ever being copied (it can be 100+ MB)."""

    buffer: bytearray
    pae_start: int
    signatures: tuple[Signature, ...]

    @property
    def payload(self) -> memoryview:
        return memoryview(self.buffer)[_PAE_ROOM:]

    def payload_sha256(self) -> str:
        return hashlib.sha256(self.payload).hexdigest()

    def write(self, out: BinaryIO) -> None:
        """The report file: exactly `encode_envelope(...)`, streamed."""
        out.write(b'{"payload":"')
        payload = self.payload
        for i in range(0, len(payload), _B64_CHUNK):
            out.write(base64.b64encode(payload[i : i + _B64_CHUNK]))
        rest = canonical_json(
            {
                "payloadType": PAYLOAD_TYPE,
                "signatures": [
                    {"keyid": s.keyid, "sig": base64.b64encode(s.sig).decode()}
                    for s in self.signatures
                ],
            }
        )
        out.write(b'",' + rest[1:] + b"\n")

    def to_bytes(self) -> bytes:
        out = io.BytesIO()
        self.write(out)
        return out.getvalue()

    def statement(self) -> Json:
        """The Statement, parsed back (for small reports and tests)."""
        parsed: Json = json.loads(bytes(self.payload))
        return parsed


def _split(data: bytes, token: str) -> tuple[bytes, bytes]:
    mark = canonical_json([token])[1:-1]
    before, found, after = data.partition(mark)
    assert found, token
    return before, after


def _chain_link(previous: Mapping[str, Any] | None) -> Json:
    if previous is None:
        return {"seq": 0, "prev": None}
    return {
        "seq": previous["seq"] + 1,
        "prev": {"payloadSha256": previous["payloadSha256"], "gitCommit": previous["gitCommit"]},
    }


def _template(
    audit: Audit, previous: Mapping[str, Any] | None, root: str, head: Json, result: Json
) -> Json:
    """The Statement with placeholders where the entries and the input leaves go."""
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
            "inputs": {"count": len(check.inputs), "merkleRoot": root, "leaves": _LEAVES},
            "entries": _ENTRIES,
            "entriesHead": head,
            "result": result,
            "chain": _chain_link(previous),
        },
    }


def _pieces(audit: Audit) -> Iterator[Piece]:
    yield from (_generic_piece(finding_entry(f)) for f in audit.findings)
    # Declared corrections (issue 13), by path: visible in every report, never silent.
    yield from (_generic_piece(c.entry()) for c in audit.check.corrections)
    known: Known = {}
    yield from (_run_piece(ranked, known) for ranked in audit.board.runs)
    walk = walk_entry(audit)
    if walk is not None:
        yield _generic_piece(walk)


_SPOOL_IN_MEMORY = 16 * 1024 * 1024  # a larger payload is built in a temporary file


@dataclass
class Unsigned:
    """A report's payload, built and spooled (a temporary file once it is large) so the
    audit it came from can be dropped before the payload is read back and signed."""

    spool: IO[bytes]
    size: int

    def sign(self, key: SigningKey | None) -> Report:
        """The report, signed when `key` is given; the spool is closed. Ed25519 signs the
        payload in one piece, so it is read back into one buffer."""
        buffer = bytearray(_PAE_ROOM + self.size)
        with self.spool:
            self.spool.seek(0)
            view, pos = memoryview(buffer), _PAE_ROOM
            while chunk := self.spool.read(_B64_CHUNK):
                view[pos : pos + len(chunk)] = chunk
                pos += len(chunk)
            view.release()
        if pos != len(buffer):
            raise OSError(f"report spool: read {pos - _PAE_ROOM} of {self.size} bytes")
        header = pae(PAYLOAD_TYPE, b"")[:-2] + str(self.size).encode() + b" "
        start = _PAE_ROOM - len(header)
        buffer[start:_PAE_ROOM] = header
        signatures: tuple[Signature, ...] = ()
        if key is not None:
            sig = sign(key, memoryview(buffer)[start:])
            signatures = (Signature(keyid=keyid(key.public_key()), sig=sig),)
        return Report(buffer=buffer, pae_start=start, signatures=signatures)


def build_report(
    audit: Audit,
    *,
    previous: Mapping[str, Any] | None = None,
    key: SigningKey | None = None,
) -> Report:
    """The signed (when `key` is given) report for `audit`."""
    unsigned, _ = encode_report(audit, previous=previous)
    return unsigned.sign(key)


class _Batch:
    """Comma-separated items written to a spool a few thousand at a time (a spooled
    file's `write` is Python code: once per item, it was a fifth of the encoding)."""

    def __init__(self, spool: IO[bytes]) -> None:
        self.spool = spool
        self.items: list[bytes] = []
        self.first = True

    def add(self, item: bytes) -> None:
        self.items.append(item)
        if len(self.items) == 4096:
            self.flush()

    def flush(self) -> None:
        if self.items:
            self.spool.write(b"" if self.first else b",")
            self.spool.write(b",".join(self.items))
            self.first = False
            self.items.clear()


def encode_report(
    audit: Audit, *, previous: Mapping[str, Any] | None = None
) -> tuple[Unsigned, Json]:
    """The report's payload for `audit`, built in one pass, and its `result` (without
    the per-run `ranking`, which only the payload holds).

    `previous` is {"seq", "payloadSha256", "gitCommit"} of the report this one follows.
    """
    check = audit.check
    # The leaves go to their own spool while they are hashed: the Merkle root comes
    # first (the genesis hash needs it), their bytes last in the payload.
    leaves = tempfile.SpooledTemporaryFile(_SPOOL_IN_MEMORY)
    tree = MerkleTree()
    batch = _Batch(leaves)
    for leaf in check.inputs:
        encoded = leaf_bytes(leaf)
        batch.add(encoded)
        tree.add(leaf_hash_of_canonical(encoded))
    batch.flush()
    root = tree.root().hex()
    genesis = genesis_hash(check.commit.sha, check.policy_blob, root)
    # Keys before "entries" (chain, createdAt) do not depend on the entries: the
    # prefix can be written first and every entry appended as it is hashed.
    prefix, _ = _split(canonical_json(_template(audit, previous, root, {}, {})), _ENTRIES)
    out = tempfile.SpooledTemporaryFile(_SPOOL_IN_MEMORY)
    out.write(prefix + b"[")
    ranking = bytearray()
    tally = _Tally(audit.focus, lambda *item: ranking.extend(_ranking_item_bytes(*item)))
    count = 0
    last = genesis
    batch = _Batch(out)
    for encoded, summary, digest in _linked(_pieces(audit), genesis):
        batch.add(encoded)
        tally.add(summary)
        count += 1
        last = digest
    batch.flush()
    result = tally.result(_RANKING)
    result["best_any"] = audit.board.best_any
    head = {"count": count, "hash": last}
    full = canonical_json(_template(audit, previous, root, head, result))
    _, after_entries = _split(full, _ENTRIES)
    before_leaves, after_leaves = _split(after_entries, _LEAVES)
    out.write(b"]" + before_leaves + b"[")
    with leaves:
        leaves.seek(0)
        shutil.copyfileobj(leaves, out, _B64_CHUNK)
    before_ranking, after_ranking = _split(after_leaves, _RANKING)
    out.write(b"]" + before_ranking + b"[" + ranking[1:] + b"]" + after_ranking)
    del result["ranking"]  # only the payload holds it
    return Unsigned(spool=out, size=out.tell()), result


def _ranking_item_bytes(run_id: str, rank: int | None, feasible: bool) -> bytes:
    """`,` and a run's canonical {"feasible", "id", "rank"} item of `result.ranking`."""
    return b',{"feasible":%s,"id":%s,"rank":%s}' % (
        b"true" if feasible else b"false",
        jcs_string(run_id),
        b"null" if rank is None else str(rank).encode(),
    )


def build_statement(audit: Audit, *, previous: Mapping[str, Any] | None = None) -> Json:
    """The Statement for `audit` as a value (parsed back from the built payload)."""
    return build_report(audit, previous=previous).statement()
