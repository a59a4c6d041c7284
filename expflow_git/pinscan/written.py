"""The one rule for every document the tool writes (a record, a result, a correction):
its bytes pass the repository's own PIN scan before they are written (docs/spec.md §5;
docs/threat-model.md: the PIN and PIN hashes never reach the repository's files).

`new --param cmd='train --pin NNNN'`, an MLflow tag `pin=NNNN`, or a `--reason` quoting a
command line were written as given, and the scan (the no-pin-hash hook, the audit) then
flagged the tool's own files (a hunter's report, issue 18 twenty-fourth pass). Called
only on the write paths, never by `validate`: the hooks' speed is unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace

from expflow_git.errors import ExitCode, ExpflowError, Finding
from expflow_git.jsonstrict import pointer_token

# One line of `documents.dump`'s output: two spaces of indent a level, a key or not.
_LINE_RE = re.compile(r'( *)(?:"((?:[^"\\]|\\.)*)": )?(.*?),?$')


def leak_in(rel: str, data: bytes) -> Finding | None:
    """The first finding of the PIN scan (its rules as the hook reads a file at `rel`,
    no `allow` glob and no pragma: the tool's own documents are never exempt) in `data`,
    named by the field's JSON pointer; None, as nearly always, when it finds nothing.
    A value ending `# expflow: allow-pin-hash` (`new --param`, a tracker's run name) was
    written with its PIN or hash, the pragma exempting its own line (a review, issue 18
    twenty-fourth pass)."""
    from expflow_git.pinscan.scanner import scan_bytes

    found = scan_bytes(rel, data, pragma=False)
    if not found:
        return None
    first = found[0]
    if first.pointer:
        return first
    pointer, key = _pointer_at(data, first.line, first.col)
    if key is not None:
        # The flagged text is in the field's own name (`--param pin:NNNN=1`, a column or
        # a param named by a PIN's digest): the pointer names it, so its last segment is
        # shown masked as the scan flags it in this document. Every run of four or more
        # digits masked was not that: a digest keeps its hex letters between them, and
        # the finding's own masking then saw no digest (a hunter's report, issue 18
        # thirty-first pass).
        head, _, _ = pointer.rpartition("/")
        pointer = f"{head}/{pointer_token(_masked_key(data, *key))}"
    return replace(first, pointer=pointer)


# A key holding more flagged spans than this is shown as `****` whole (_masked_key).
MOST_SPANS_SHOWN = 64


def _masked_key(data: bytes, line: str, start: int, end: int) -> str:
    """The key held at `line[start:end]` (between its quotes, as `dump` writes it) of the
    document `data`, as a refusal's pointer shows it: every span the PIN scan flags in
    the document (`scanner.flagged`: read as text and as code, as written and with its
    escapes decoded) masked whole where the line holds it, a PIN's digest of any
    spelling the scan knows as one `****`, then every run of four digits or more that is
    left; the key whole (`****`) if a flagged span is still in what is left (one the
    scan read only with the key's escapes decoded)."""
    from expflow_git.pinscan.scanner import flagged

    spans = {span for span in flagged(data.decode("utf-8", "replace")) if span}
    if len(spans) > MOST_SPANS_SHOWN:
        # Each span is looked for along the line: a key of thousands (a CSV column
        # named by `pin=NNNN` 30,000 times) took seconds where the scan took less than
        # one (a review). Such a key is shown masked whole.
        return "****"
    hidden = [False] * len(line)
    for span in spans:
        at = line.find(span)
        while at != -1:
            hidden[at : at + len(span)] = [True] * len(span)
            at = line.find(span, at + 1)
    shown, i = [], start
    while i < end:
        if hidden[i]:
            shown.append("****")
            while i < end and hidden[i]:
                i += 1
        else:
            shown.append(line[i])
            i += 1
    held = "".join(shown)
    try:
        key = json.loads(f'"{held}"')
    except ValueError:  # (a mask across an escape: the key as the document spells it)
        key = held
    # And, as before, a run of four digits or more left (`pin:NNNN-…`, a PIN the scan
    # reads only beside other text): more is masked, never less.
    text = re.sub(r"[0-9]{4,}", "****", key if isinstance(key, str) else held)
    as_held = json.dumps(text, ensure_ascii=False)
    if any(span in text or span in as_held for span in spans):
        return "****"
    return text


def refusal(rel: str, data: bytes, given: Mapping[str, str] | None = None) -> str | None:
    """`leak_in` as the one line a refused write says (the PIN masked, as every finding
    masks it), or None. `given`: the option that gave the fields below a pointer
    (`{"/params": "--param"}`), named first when the finding is there."""
    found = leak_in(rel, data)
    if found is None:
        return None
    option = next(
        (o for p, o in (given or {}).items() if (found.pointer + "/").startswith(p + "/")), None
    )
    head = f"{option}: " if option else ""
    return f"{head}{found}; the PIN scan refuses it, nothing written"


def refuse(
    rel: str,
    data: bytes,
    code: ExitCode = ExitCode.USAGE,
    *,
    given: Mapping[str, str] | None = None,
) -> None:
    """`refusal` raised: ExpflowError (`code`: 2 for what a user gave, 1 for what the
    work tree holds) when the scan flags `data`, as it would flag the file `rel` once
    written. Records, results and corrections are all refused here."""
    refused = refusal(rel, data, given)
    if refused is not None:
        raise ExpflowError(refused, code=code)


def _pointer_at(
    data: bytes, line: int | None, col: int | None = None
) -> tuple[str, tuple[str, int, int] | None]:
    """The JSON pointer of the field on `line` (1-based) of a document as `dump` writes
    it (one field a line, two spaces of indent a level), and, when `col` (1-based) falls
    in that field's key, quotes included, the line and the offsets of the key between
    its quotes; ("", None) when it cannot be told."""
    if line is None:
        return "", None
    path: list[str] = []
    counters: list[int] = [0]
    for number, text in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        m = _LINE_RE.fullmatch(text)
        if m is None or number == 1:
            continue
        depth = len(m.group(1)) // 2
        if depth < 1 or m.group(3) in ("}", "]"):
            continue
        del path[depth - 1 :]
        del counters[depth:]
        if m.group(2) is not None:
            try:
                key = json.loads(f'"{m.group(2)}"')
            except ValueError:
                return "", None
        else:
            key = str(counters[-1])
            counters[-1] += 1
        path.append(pointer_token(key))
        if number == line:
            key_end = len(m.group(1)) + len(m.group(2) or "") + 2  # its closing quote
            in_key = m.group(2) is not None and col is not None and col <= key_end
            held = (text, m.start(2), m.end(2)) if in_key else None
            return "/" + "/".join(path), held
        if m.group(3) in ("{", "["):
            counters.append(0)
    return "", None
