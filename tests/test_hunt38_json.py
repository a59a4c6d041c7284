"""The strict JSON reader and schema validation under an attacker's hunt (issue 18,
thirty-eighth pass). docs/spec.md §4: bad input is one line and an exit code, "never a
traceback"."""

from __future__ import annotations

import json
from pathlib import Path

from helpers_audit import (
    POLICY,
    STUDY,
    commit_all,
    experiment,
    git,
    m,
    new_repo,
    result,
    run_cli,
    write,
)


def test_a_param_nested_past_the_parsers_depth_stays_text(tmp_path: Path) -> None:
    """`new --param k=[[[…` (a few thousand brackets) was a RecursionError traceback out
    of `json.loads` in `records.writer.parse_scalar`, exit 1; a value that is no JSON
    scalar is kept as the string given (`k=[[1]]` is the text "[[1]]")."""
    root = new_repo(tmp_path / "repo")
    deep = "[" * 5000
    res = run_cli(["new", "e1", "--study", "s", "--param", f"k={deep}"], root)
    assert res.code == 0, res.err[-2000:]
    assert "Traceback" not in res.err
    record = json.loads((root / "experiments/s/e1.json").read_bytes())
    assert record["params"] == {"k": deep}


# A rule bound past 2**53: the rules compare a param with it as the decimals they are
# written as (docs/spec.md §2.3), so `1e23` meets it and 99999999999999991611392 (the
# integer the double 1e23 is) does not.
BIG_RULE = "  - {param: batch, op: ge, value: 100000000000000000000000}\n"


def _frozen_run(tmp_path: Path, batch: str) -> tuple[Path, str]:
    """A repository whose run e1 (record and result committed) has the param `batch`
    spelled `batch`; the commit's id."""
    root = new_repo(tmp_path / "repo", POLICY + BIG_RULE)
    record = json.dumps(experiment("e1"), indent=2).replace('"lr": 0.001', f'"batch": {batch}')
    write(root, f"experiments/{STUDY}/e1.json", record)
    write(root, f"results/{STUDY}/e1.json", json.dumps(result("e1", m(50.0)), indent=2))
    return root, commit_all(root, "run e1")


def _rewrite(root: Path, old: str, new: str) -> None:
    path = root / f"experiments/{STUDY}/e1.json"
    text = path.read_text()
    assert f'"batch": {old}' in text
    path.write_text(text.replace(f'"batch": {old}', f'"batch": {new}'))


def test_a_frozen_param_rewritten_to_another_decimal_of_one_double_is_a_change(
    tmp_path: Path,
) -> None:
    """A finished run's param rewritten from 99999999999999991611392 to `1e23` was no
    change to `protect` nor to `audit --since` (identity._norm compared Python numbers,
    and that int equals the double 1e23), yet the rule `batch ge 10**23` the run failed
    then passed: a rewritten record accepted and the verdict FAIL turned PASS. §2.3:
    "Numbers compare as the decimals they are written as"; §2.1: once a run's result is
    committed its `params` are write-once (`record-rewritten`)."""
    root, base = _frozen_run(tmp_path, "99999999999999991611392")
    before = run_cli(["audit", "--no-cache"], root)
    assert before.code == 1 and "batch = 99999999999999991611392 not >=" in before.out
    _rewrite(root, "99999999999999991611392", "1e23")
    git(root, "add", "-A")
    hook = run_cli(["protect"], root)
    assert hook.code == 1 and "record-rewritten" in hook.out + hook.err, hook
    commit_all(root, "rewrite")
    audit = run_cli(["audit", "--no-cache", "--since", base], root)
    assert audit.code == 1, audit.out
    assert "record-rewritten" in audit.out


def test_a_frozen_param_spelled_as_the_same_decimal_is_no_change(tmp_path: Path) -> None:
    """`1e23` and `100000000000000000000000` are one decimal (§2.3: "equal to rules,
    filters and the policy diff"), as `5` and `5.0` are (no `record-rewritten`)."""
    root, base = _frozen_run(tmp_path, "1e23")
    _rewrite(root, "1e23", "100000000000000000000000")
    git(root, "add", "-A")
    hook = run_cli(["protect"], root)
    assert hook.code == 0, hook
    commit_all(root, "respell")
    audit = run_cli(["audit", "--no-cache", "--since", base], root)
    assert "record-rewritten" not in audit.out, audit.out
    assert audit.code == 0, audit.out


def _notebook_with(cells: str, tail: str) -> str:
    """A notebook whose top level ends in `tail` (a repeated key), cells given raw."""
    return '{"cells": [' + cells + '], "metadata": {}, "nbformat": 4, "nbformat_minor": 5' + tail


def test_a_notebook_key_given_twice_hides_no_cell_from_the_scan(tmp_path: Path) -> None:
    """A notebook is scanned decoded, each cell's source as Python (docs/spec.md §5), but
    json.loads keeps the last of a repeated key: `"cells": [...], …, "cells": []` (or a
    cell's `"source": [...], "source": []`) hid every earlier cell, so a PIN assignment
    written as a cell's JSON string (`"EXPFLOW_PIN = \\"4821\\"\\n"`, which the raw scan
    does not read) passed `scan` clean while the committed file held it."""
    root = new_repo(tmp_path / "repo")
    pin = str(4000 + 821)
    line = json.dumps(f'EXPFLOW_PIN = "{pin}"\n')
    head = '{"cell_type": "code", "metadata": {}, "outputs": [], "source": [' + line + "]"
    cell, twice = head + "}", head + ', "source": []}'
    write(root, "a.ipynb", _notebook_with(cell, ', "cells": []}\n'))
    write(root, "b.ipynb", _notebook_with(twice, "}\n"))
    write(root, "c.ipynb", _notebook_with(cell, "}\n"))  # the control: found before too
    res = run_cli(["scan", "a.ipynb", "b.ipynb", "c.ipynb"], root)
    assert res.code == 1, res
    found = sorted(row.split(":")[0] for row in res.out.splitlines() if "pin-assignment" in row)
    assert found == ["a.ipynb", "b.ipynb", "c.ipynb"], res.out
    assert pin not in res.out + res.err


def test_a_cell_source_with_a_non_string_beside_its_lines_hides_none_of_them(
    tmp_path: Path,
) -> None:
    """A source list holding one non-string (`0`, `null`), given once or as a key's second
    value, was dropped whole, the PIN assignment among its lines with it (a review of
    the fix above)."""
    root = new_repo(tmp_path / "repo")
    pin = str(4000 + 821)
    line = json.dumps(f'EXPFLOW_PIN = "{pin}"\n')
    for tail in ("0]", "null]"):
        cell = '{"cell_type": "code", "metadata": {}, "outputs": [], "source": [' + line
        for shape in (cell + ", " + tail + "}", cell + '], "source": [' + tail + "}"):
            write(root, "a.ipynb", _notebook_with(shape, "}\n"))
            res = run_cli(["scan", "a.ipynb"], root)
            assert res.code == 1 and "pin-assignment" in res.out, (shape, res)
