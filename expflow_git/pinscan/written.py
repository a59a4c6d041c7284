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
    pointer, in_key = _pointer_at(data, first.line, first.col)
    if in_key:
        # The flagged text is in the field's own name (`--param pin:NNNN=1`): the pointer
        # names it, so its last segment is shown with every run of four digits masked, as
        # the scan read the key beside its quotes (the finding's own masking reads a
        # pointer without them; a review, issue 18 twenty-fourth pass).
        head, _, last = pointer.rpartition("/")
        pointer = f"{head}/{re.sub(r'[0-9]{4,}', '****', last)}"
    return replace(first, pointer=pointer)


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


def _pointer_at(data: bytes, line: int | None, col: int | None = None) -> tuple[str, bool]:
    """The JSON pointer of the field on `line` (1-based) of a document as `dump` writes
    it (one field a line, two spaces of indent a level), and whether `col` (1-based)
    falls in that field's key, quotes included; ("", False) when it cannot be told."""
    if line is None:
        return "", False
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
                return "", False
        else:
            key = str(counters[-1])
            counters[-1] += 1
        path.append(pointer_token(key))
        if number == line:
            key_end = len(m.group(1)) + len(m.group(2) or "") + 2  # its closing quote
            in_key = m.group(2) is not None and col is not None and col <= key_end
            return "/" + "/".join(path), in_key
        if m.group(3) in ("{", "["):
            counters.append(0)
    return "", False
