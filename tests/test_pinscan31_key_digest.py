"""A refusal names a field whose NAME the PIN scan flags with what it flags masked whole:
a param or split column named by a PIN's SHA-256 was shown as
`#/params/a388f562e286fdf****f****f4d…` (every run of four digits masked, the hex letters
left), and matching that against the 10,000 PINs' digests left one (a hunter's report,
issue 18 thirty-first pass). The line still names the file, the field and the rule."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from conftest import ExpRepo
from support import CliCall, run_cli

from expflow_git.documents import dump
from expflow_git.pinscan.written import leak_in, refusal

PIN = str(4000 + 821)  # never a literal in a file: the repository's own scan reads it
DIGEST = hashlib.sha256(PIN.encode()).hexdigest()

# Every spelling of the digest the scan flags in a key.
SPELLINGS = [DIGEST, DIGEST.upper(), f"sha256:{DIGEST}", f"SHA256:{DIGEST.upper()}"]


def assert_hidden(text: str) -> None:
    """No 8 hex characters of the digest in `text` (any case), nor the PIN."""
    folded = text.lower()
    pieces = [DIGEST[i : i + 8] for i in range(len(DIGEST) - 7)]
    shown = [p for p in pieces if p in folded]
    assert not shown, (shown, text)
    assert PIN not in text, text


@pytest.mark.parametrize("key", SPELLINGS, ids=["lower", "upper", "prefixed", "PREFIXED"])
def test_new_refuses_a_param_named_by_a_digest_without_showing_it(
    exp_repo: ExpRepo, cli: CliCall, key: str
) -> None:
    res = cli(["new", "exp-001", "--study", "pdebench-task1", "--param", f"{key}=1"], exp_repo.path)
    assert res.code == 2, res
    line = res.err.strip()
    assert res.err.count("\n") == 1, res.err
    assert "--param: experiments/pdebench-task1/exp-001.json" in line, line
    assert "#/params/" in line and ": pin-sha256: " in line, line
    assert "the PIN scan refuses it, nothing written" in line, line
    assert_hidden(res.out + res.err)
    assert not (exp_repo.path / "experiments" / "pdebench-task1").exists()


def test_new_as_a_process_says_the_same(exp_repo: ExpRepo) -> None:
    res = run_cli(["new", "zz1", "--study", "s", "--param", f"{DIGEST}=1"], exp_repo.path)
    assert res.code == 2, res
    assert "experiments/s/zz1.json" in res.err and "#/params/****: pin-sha256" in res.err
    assert "Traceback" not in res.err
    assert_hidden(res.out + res.err)


def test_an_import_of_a_digest_column_and_split_column_hides_it(
    exp_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    path = tmp_path / "h.csv"
    path.write_text(
        f"run,seg_total,pde_mean,train_time_min,{DIGEST}\nb2,57,15,45,y\n", encoding="utf-8"
    )
    args = ["import", "csv", str(path), "--id-column", "run", "--study", "hx"]
    res = cli([*args, "--dry-run"], exp_repo.path)
    assert res.code == 1, res
    line = next(x for x in res.out.splitlines() if "pin-sha256" in x)
    assert "experiments/hx/b2.json" in line and "#/params/****: pin-sha256: " in line, line
    assert_hidden(res.out + res.err)
    split = tmp_path / "s.csv"
    split.write_text(
        f"run,seg_total,pde_mean,train_time_min,{DIGEST.upper()}/seg_total\nb2,57,15,45,50\n",
        encoding="utf-8",
    )
    res = cli(["import", "csv", str(split), "--id-column", "run", "--study", "hx"], exp_repo.path)
    assert res.code == 1, res
    line = next(x for x in res.out.splitlines() if "pin-sha256" in x)
    assert "results/hx/b2.json" in line and "#/splits/****: pin-sha256: " in line, line
    assert_hidden(res.out + res.err)
    assert not (exp_repo.path / "experiments" / "hx").exists()


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        (DIGEST, "/params/****"),
        (DIGEST.upper(), "/params/****"),
        (f"sha256:{DIGEST}", "/params/sha256:****"),
        (f"run {DIGEST} x", "/params/run **** x"),
        (f"pin:{PIN}", "/params/pin:****"),
        (f"pin:{PIN}-{DIGEST}", "/params/pin:****-****"),
        (f'a"b {DIGEST}', '/params/a"b ****'),
        (f"a/{DIGEST}", "/params/a~1****"),
    ],
    ids=["lower", "upper", "prefixed", "words", "pin", "pin-digest", "quote", "slash"],
)
def test_leak_in_masks_what_the_scan_flags_in_a_key_whole(key: str, shown: str) -> None:
    rel = "experiments/s/e.json"
    data = dump({"id": "e", "params": {"lr": 0.1, key: 1}})
    found = leak_in(rel, data)
    assert found is not None and found.pointer == shown, found
    said = refusal(rel, data, {"/params": "--param"})
    assert said is not None and said.startswith(f"--param: {rel}:"), said
    assert f"#{shown}: " in said, said
    assert_hidden(said)
    assert not re.search(r"[0-9a-fA-F]{8}", said.split("#", 1)[1]), said


def test_a_key_of_many_flagged_spans_is_masked_whole() -> None:
    """Each flagged span was looked for along the key's line: a key of thousands took
    seconds (a review). Past MOST_SPANS_SHOWN distinct spans the key is `****` whole."""
    from expflow_git.pinscan.written import MOST_SPANS_SHOWN

    rel = "experiments/s/e.json"
    many = " ".join(f"pin={1000 + i} q{i}" for i in range(MOST_SPANS_SHOWN + 1))
    found = leak_in(rel, dump({"id": "e", "params": {many: 1}}))
    assert found is not None and found.pointer == "/params/****", found
    few = " ".join(f"pin={1000 + i} q{i}" for i in range(3))
    found = leak_in(rel, dump({"id": "e", "params": {few: 1}}))
    assert found is not None and found.pointer == "/params/pin=**** q0 pin=**** q1 pin=**** q2"
