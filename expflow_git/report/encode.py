"""The report's bytes (docs/spec.md §6.3): the Statement (statement.py) encoded to
canonical JSON in one streaming pass. Each entry is chained and hashed as it is written,
the run entries are encoded straight to bytes, and the large arrays are spliced into the
template's canonical bytes where its placeholders are; the payload is spooled, then
read back into one buffer to be signed and written without a copy."""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
import operator
import os
import shutil
import struct
import tempfile
from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, BinaryIO

from expflow_git.audit.ladder import Rung
from expflow_git.audit.pipeline import Audit
from expflow_git.audit.ranking import RankedRun
from expflow_git.checks import Outcome, RunVerdict
from expflow_git.errors import clean, path_text
from expflow_git.policy.model import Severity
from expflow_git.report.canonical import (
    as_doubles,
    canonical_json,
    holds_digits_16,
    jcs_numbers,
    jcs_string,
    json_number,
)
from expflow_git.report.dsse import PAYLOAD_TYPE, Signature, pae
from expflow_git.report.inputs import SPOOL_IN_MEMORY, Batch, encode_leaves
from expflow_git.report.rules import Tally
from expflow_git.report.statement import (
    ENTRY_DOMAIN,
    Json,
    budget_entry,
    finding_entry,
    genesis_hash,
    ladder_result,
    rung_json,
    statement_value,
    walk_entry,
)
from expflow_git.workers import SpoolJob, worker_count

if TYPE_CHECKING:
    from expflow_git.report.signing import SigningKey


class _Chain:
    """The entries array as it is written: each entry's canonical bytes, with the hash
    of its members and its predecessor's hash, added to `batch`; what `result` says of
    them gathered by `tally`.

    JCS writes members in key order, so an entry's members before and after "hash" are
    encoded once and joined with and without the hash member. (Every entry has members
    after "hash": "prev", "seq", "type".)
    """

    def __init__(self, batch: Batch, tally: Tally, genesis: str) -> None:
        self.batch = batch
        self.tally = tally
        self.prev = genesis
        self.count = 0

    def _link(self, before: bytes, after: bytes) -> None:
        if before:
            self.prev = hashlib.sha256(
                ENTRY_DOMAIN + b"{" + before + b"," + after + b"}"
            ).hexdigest()
            self.batch.add(b'{%s,"hash":"%s",%s}' % (before, self.prev.encode(), after))
        else:
            self.prev = hashlib.sha256(ENTRY_DOMAIN + b"{" + after + b"}").hexdigest()
            self.batch.add(b'{"hash":"%s",%s}' % (self.prev.encode(), after))
        self.count += 1

    def entry(self, body: Json) -> None:
        """An entry given as a value (a finding, a correction, the attempts, ...)."""
        entry = {"seq": self.count, "prev": self.prev, **body}
        before = canonical_json({k: v for k, v in entry.items() if k < "hash"})[1:-1]
        after = canonical_json({k: v for k, v in entry.items() if k > "hash"})[1:-1]
        self._link(before, after)
        self.tally.add(entry)

    def runs(self, board: Iterable[tuple[RankedRun, RunParts]]) -> None:
        """The run entries, given their parts (run_parts), in the board's order: the
        same bytes as `entry` of their `run_entries` values, written in one loop (the
        chain is the parent's critical path: ~20 µs a run as values, ~4 as parts)."""
        sha256, add, add_run = hashlib.sha256, self.batch.add, self.tally.add_run
        prev, seq = self.prev, self.count
        for ranked, (before, head, tail) in board:
            rank = ranked.rank
            after = b'%s%s","rank":%s,"seq":%d%s' % (
                head,
                prev.encode(),
                b"null" if rank is None else b"%d" % rank,
                seq,
                tail,
            )
            prev = sha256(ENTRY_DOMAIN + b"{" + before + b"," + after + b"}").hexdigest()
            add(b'{%s,"hash":"%s",%s}' % (before, prev.encode(), after))
            v = ranked.verdict
            add_run(v.id, rank, v.feasible)
            seq += 1
        self.prev, self.count = prev, seq


# Encoded passed checks by identity (they are shared values: see checks.passed), and a
# feasible run's whole "checks" member by the identity of its tuple of checks; each kept
# with its outcome(s), so that no identity is reused while the bytes are known.
Known = dict[int, tuple[Outcome | tuple[Outcome, ...], bytes]]


def _outcome_bytes(o: Outcome, known: Known) -> bytes:
    """A check's canonical bytes; a passed check is encoded once per report."""
    hit = known.get(id(o)) if o.passed else None
    if hit is not None:
        return hit[1]
    encoded = outcome_bytes(o)
    if o.passed:
        known[id(o)] = (o, encoded)
    return encoded


def outcome_bytes(o: Outcome) -> bytes:
    """`canonical_json(outcome_json(o))`, written directly: a failed check's detail is
    its own (a value, a bound), so each one is encoded (JCS orders these ASCII keys as
    written here; a test holds the two together)."""
    severity = b',"severity":"warning"' if o.severity is Severity.WARNING else b""
    return b'{"detail":%s,"kind":%s,"name":%s,"passed":%s%s}' % (
        jcs_string(clean(o.detail)),
        jcs_string(o.kind.value),
        jcs_string(o.name),
        b"true" if o.passed else b"false",
        severity,
    )


_PASSED = operator.attrgetter("passed")
# Fewer runs than this are all encoded in the audit's own process: a fork costs more.
RUNS_PER_CHILD = 10_000
_PARTS_BATCH = 4096  # run entries' parts written at once by the child
# A batch of parts as the child writes it: the number of runs and of bytes, then each
# part's length (three a run, as array("Q") bytes), then the parts' bytes one after
# another. Plain bytes, not a pickle: the file is this user's, and a pickle would run
# whatever another of this user's processes wrote into it.
_BATCH_HEAD = struct.Struct("<QQ")


@functools.lru_cache(maxsize=4096)
def _study_bytes(study: str) -> bytes:
    """A study's canonical string: a report's runs share a few studies."""
    return jcs_string(study)


# A run entry's bytes that depend on its verdict alone: its members before "hash", and
# those after "hash" up to its "prev" and from its "study" on (run_parts).
RunParts = tuple[bytes, bytes, bytes]


def run_parts(
    v: RunVerdict, known: Known, spelled_run: str | None = None, rung: Rung | None = None
) -> RunParts:
    """A run entry's parts, encoded straight to canonical bytes: with its prev, rank and
    seq (_run_piece), the same bytes as `canonical_json` of its `run_entries` value, at a
    fraction of the cost. `spelled_run`: the result's number spellings, as the audit's
    cache kept them; `rung`: the run on the ladder, when there is one."""
    feasible = v.feasible
    # A run whose checks all passed holds only shared values (checks.passed), and most
    # runs of a report hold the same tuple of them (checks._shared): its "checks" member
    # is encoded once, by the tuple's identity. (A feasible run may have failed a
    # warning: its own outcomes, not worth keeping.)
    outcomes = v.outcomes
    same = feasible and all(map(_PASSED, outcomes))
    hit = known.get(id(outcomes)) if same else None
    if hit is not None:
        before = hit[1]
    else:
        before = b'"checks":[%s],"feasible":%s' % (
            b",".join([_outcome_bytes(o, known) for o in outcomes]),
            b"true" if feasible else b"false",
        )
        if same:
            known[id(outcomes)] = (outcomes, before)
    # The spellings a cache record kept: the metrics', then each split's in name order.
    spelled = spelled_run.split(";") if spelled_run is not None else None
    if spelled is not None and len(spelled) != 1 + len(v.splits):
        spelled = None
    ladder = b"" if rung is None else b',"ladder":' + canonical_json(rung_json(rung))
    path = path_text(v.path)
    head = b'"id":%s%s,"metrics":%s,"path":%s,"prev":"' % (
        jcs_string(v.id),
        ladder,
        jcs_numbers(v.metrics, spelled[0] if spelled else None),
        jcs_string(path),
    )
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
    tail = b'%s,"study":%s,"type":"run"' % (splits, _study_bytes(v.study))
    return before, head, tail


class _BoardParts:
    """Every run entry's parts (run_parts), in the board's order. With enough runs (and
    where this process may fork: workers.worker_count) the later half is encoded by a
    forked child while this process encodes the earlier half and chains the entries
    (issue 18: about 5 µs a run, a third of the encoding); a child that fails has its
    half encoded here, so the report never depends on whether it ran."""

    def __init__(self, audit: Audit) -> None:
        self.runs = audit.board.runs
        self.spellings = audit.check.spellings
        self.rungs = audit.ladder.rungs if audit.ladder is not None else None
        self.half = len(self.runs)
        self.job: SpoolJob | None = None
        if worker_count(len(self.runs), RUNS_PER_CHILD) > 1:
            self.half = len(self.runs) // 2
            self.job = SpoolJob(self._write_later_half)

    def parts(self, ranked: RankedRun, known: Known) -> RunParts:
        v = ranked.verdict
        rung = None if self.rungs is None else self.rungs[v.id]
        return run_parts(v, known, self.spellings.get(v.path), rung)

    def _write_later_half(self, spool: IO[bytes]) -> bytes:
        """In the child: the later half's parts, a batch at a time (_BATCH_HEAD)."""
        known: Known = {}
        later = self.runs[self.half :]
        for at in range(0, len(later), _PARTS_BATCH):
            batch = [self.parts(ranked, known) for ranked in later[at : at + _PARTS_BATCH]]
            pieces = [piece for parts in batch for piece in parts]
            data = b"".join(pieces)
            spool.write(_BATCH_HEAD.pack(len(batch), len(data)))
            spool.write(array("Q", map(len, pieces)).tobytes())
            spool.write(data)
        return b"%d" % len(later)

    def __iter__(self) -> Iterator[tuple[RankedRun, RunParts]]:
        known: Known = {}
        runs, half = self.runs, self.half
        yield from ((ranked, self.parts(ranked, known)) for ranked in runs[:half])
        job, self.job = self.job, None
        done = job.answer() if job is not None else None
        later = runs[half:]
        at = 0
        if done is not None:
            answer, spool = done
            with spool:
                end = os.fstat(spool.fileno()).st_size
                # A child that answers another count: none of its file is read.
                counted = answer == b"%d" % len(later)
                while counted and at < len(later):
                    batch = _read_batch(spool, len(later) - at, end)
                    if batch is None:  # (a file the child did not write whole)
                        break
                    yield from zip(later[at : at + len(batch)], batch, strict=True)
                    at += len(batch)
        yield from ((ranked, self.parts(ranked, known)) for ranked in later[at:])

    def close(self) -> None:
        if self.job is not None:
            self.job.close()
            self.job = None


def _read_batch(spool: IO[bytes], most: int, end: int) -> list[RunParts] | None:
    """One batch of parts as `_write_later_half` wrote it (of at most `most` runs, in a
    file of `end` bytes), or None where the file does not hold one whole."""
    head = spool.read(_BATCH_HEAD.size)
    if len(head) != _BATCH_HEAD.size:
        return None
    count, size = _BATCH_HEAD.unpack(head)
    if not 0 < count <= most or size > end - spool.tell():
        return None
    lengths = array("Q")
    raw = spool.read(3 * count * lengths.itemsize)
    if len(raw) != 3 * count * lengths.itemsize:
        return None
    lengths.frombytes(raw)
    if sum(lengths) != size:
        return None
    data = spool.read(size)
    if len(data) != size:
        return None
    batch: list[RunParts] = []
    at = 0
    for i in range(0, 3 * count, 3):
        a = at + lengths[i]
        b = a + lengths[i + 1]
        c = b + lengths[i + 2]
        batch.append((data[at:a], data[a:b], data[b:c]))
        at = c
    return batch


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
        payload = bytes(self.payload)
        parsed: Json = json.loads(payload)
        # A whole double past 2**53 (a param of 1e16) is spelled as digits: a double again.
        return as_doubles(parsed) if holds_digits_16(payload) else parsed


def _split(data: bytes, token: str) -> tuple[bytes, bytes]:
    """`data` before and after the placeholder `token` (which the template always holds)."""
    mark = canonical_json([token])[1:-1]
    before, found, after = data.partition(mark)
    if not found:
        raise ValueError(f"report template: placeholder {token!r} is missing")
    return before, after


def _template(
    audit: Audit, previous: Mapping[str, Any] | None, root: str, head: Json, result: Json
) -> Json:
    """The Statement with placeholders where the entries and the input leaves go."""
    return statement_value(audit, previous, root, head, result, leaves=_LEAVES, entries=_ENTRIES)


def _entries(chain: _Chain, audit: Audit, board: _BoardParts) -> None:
    for f in audit.findings:
        chain.entry(finding_entry(f))
    # Declared corrections (issue 13), by path: visible in every report, never silent.
    for c in audit.check.corrections:
        chain.entry(c.entry())
    # Every attempt counted (issue 16): each study's records by status, the runs left out.
    for a in audit.attempts:
        chain.entry(a.entry())
    chain.runs(board)
    if audit.top_params is not None:  # the params that differ between the top runs
        chain.entry(audit.top_params.entry())
    walk = walk_entry(audit)
    if walk is not None:
        chain.entry(walk)
    budget = budget_entry(audit)
    if budget is not None:
        chain.entry(budget)


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
            from expflow_git.report.signing import keyid, sign  # (cryptography: only to sign)

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


def encode_report(
    audit: Audit, *, previous: Mapping[str, Any] | None = None
) -> tuple[Unsigned, Json]:
    """The report's payload for `audit`, built in one pass, and its `result` (without
    the per-run `ranking`, which only the payload holds).

    `previous` is {"seq", "payloadSha256", "gitCommit"} of the report this one follows.
    """
    board = _BoardParts(audit)  # (a child begins the later runs' entries at once)
    try:
        return _encode(audit, previous, board)
    finally:
        board.close()


def _encode(
    audit: Audit, previous: Mapping[str, Any] | None, board: _BoardParts
) -> tuple[Unsigned, Json]:
    check = audit.check
    # The leaves' bytes and Merkle root first (the genesis hash needs the root), their
    # bytes last in the payload; begun in a child while the audit ranked (inputs.py).
    inputs = audit.leaves.result() if audit.leaves is not None else encode_leaves(check.inputs)
    root = inputs.root.hex()
    genesis = genesis_hash(check.commit.sha, check.policy_blob, root)
    # Keys before "entries" (chain, createdAt) do not depend on the entries: the
    # prefix can be written first and every entry appended as it is hashed.
    prefix, _ = _split(canonical_json(_template(audit, previous, root, {}, {})), _ENTRIES)
    out = tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY)
    out.write(prefix + b"[")
    ranking = bytearray()
    tally = Tally(audit.focus, lambda *item: ranking.extend(_ranking_item_bytes(*item)))
    batch = Batch(out)
    chain = _Chain(batch, tally, genesis)
    _entries(chain, audit, board)
    batch.flush()
    result = tally.result(_RANKING)
    result["best_any"] = audit.board.best_any
    result.update(ladder_result(audit.ladder))
    head = {"count": chain.count, "hash": chain.prev}
    full = canonical_json(_template(audit, previous, root, head, result))
    _, after_entries = _split(full, _ENTRIES)
    before_leaves, after_leaves = _split(after_entries, _LEAVES)
    out.write(b"]" + before_leaves + b"[")
    with inputs.spool as leaves:
        leaves.seek(0)
        shutil.copyfileobj(leaves, out, _B64_CHUNK)
    before_ranking, after_ranking = _split(after_leaves, _RANKING)
    # (Written in place: the ranking is ~50 bytes a run, and a copy of it, or two, was
    # the encoding's peak at a million runs.)
    out.write(b"]" + before_ranking + b"[")
    with memoryview(ranking) as items:
        out.write(items[1:])
    out.write(b"]" + after_ranking)
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
