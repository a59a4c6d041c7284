"""Review of the forty-second pass's verdict commits (issue 18): the strict reader's own
integer digit limit (721d253) and the small items (734c06d). Each test failed on the
code it was written against."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers_audit import (
    POLICY,
    STUDY,
    add_run,
    clean_env,
    commit_all,
    experiment,
    m,
    new_repo,
    run_cli,
    statement_of,
    write,
)

from expflow_git.checks import quoted_value


def _repo_with_param(root: Path, rule: str, values: dict[str, str]) -> Path:
    """A run per (id, JSON literal): each record's params hold `x` as written."""
    repo = new_repo(root, POLICY + f"  - {rule}\n")
    for exp_id, literal in values.items():
        add_run(repo, exp_id, m(50))
        text = json.dumps(experiment(exp_id), indent=2)
        changed = text.replace('"lr": 0.001', f'"lr": 0.001, "x": {literal}')
        assert changed != text
        write(repo, f"experiments/{STUDY}/{exp_id}.json", changed + "\n")
    commit_all(repo)
    return repo


def test_a_negative_zero_is_quoted_as_written_after_a_zero() -> None:
    """`quoted_value`'s cache is keyed by the value, and `-0.0 == 0.0` with one type and
    one hash: the second was quoted as the first (the detail before it was `{value!r}`)."""
    assert quoted_value(0.0) == "0.0"
    assert quoted_value(-0.0) == "-0.0"
    assert quoted_value(0.0) == "0.0"


def test_a_runs_failed_rule_names_its_own_negative_zero(tmp_path: Path) -> None:
    """`show r-01` (x = -0.0) said `x = 0.0 not > 0`: r-00's 0.0, checked first."""
    repo = _repo_with_param(
        tmp_path / "repo", "{param: x, op: gt, value: 0}", {"r-00": "0.0", "r-01": "-0.0"}
    )
    shown = run_cli(["show", "r-01"], repo)
    assert "x:gt:0 (x = -0.0 not > 0)" in shown.out, shown.out
    out = tmp_path / "report.json"
    assert run_cli(["audit", "--no-cache", "--out", str(out)], repo).code == 1
    audited = json.dumps(statement_of(out.read_bytes()), ensure_ascii=False)
    assert "x = -0.0 not > 0" in audited and "x = 0.0 not > 0" in audited


def test_the_cli_runs_where_python_has_no_int_digit_limit(tmp_path: Path) -> None:
    """Python 3.10.0 to 3.10.6 (`requires-python = ">=3.10"`) have no
    `sys.set_int_max_str_digits`: the CLI called it unguarded as it started, so every
    command stopped with an AttributeError traceback (the function removed here, as
    those versions lack it)."""
    code = (
        "import sys\n"
        "del sys.set_int_max_str_digits\n"
        "from expflow_git.cli.main import main\n"
        "sys.argv = ['expflow-git', '--version']\n"
        "sys.exit(main())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stderr


def test_the_api_gives_a_verdict_under_a_lower_int_limit(tmp_path: Path) -> None:
    """spec §2.3: `PYTHONINTMAXSTRDIGITS` never changes a verdict. The reader now reads a
    1,000-digit integer under the lowest limit (640), which it refused before; but only
    the CLI raises the interpreter's limit, so the API's `audit` and `rank` of that
    record stopped with Python's raw "Exceeds the limit (640 digits)" ValueError (the
    blob cache's save, then the report's writing) where they gave a verdict before."""
    import expflow_git

    repo = _repo_with_param(tmp_path / "repo", "{param: x, op: le, value: 5}", {"r-00": "7" * 1000})
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(640)
    try:
        lower = expflow_git.Repository(str(repo)).audit()
        expflow_git.Repository(str(repo)).rank()
    finally:
        sys.set_int_max_str_digits(limit)
    default = expflow_git.Repository(str(repo)).audit()
    assert (lower.verdict, lower.rows, lower.findings) == (
        default.verdict,
        default.rows,
        default.findings,
    )
